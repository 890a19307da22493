//! Reading a JWS in compact serialization (RFC 7515 §7.1): three base64url parts, a JSON header,
//! the signature bytes, and the exact bytes the signature covers. Parsing checks the shape only;
//! whether the signature verifies, and with which key, is the caller's business.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value};

/// Longest token worth parsing; anything longer is refused before any decoding.
pub const MAX_JWS_BYTES: usize = 16 * 1024;

/// Why a string is not a readable compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Longer than [`MAX_JWS_BYTES`].
    #[error("too long")]
    TooLong,
    /// Not three dot-separated parts.
    #[error("not a JWS compact serialization")]
    NotCompact,
    /// The header is not base64url of a JSON object.
    #[error("unreadable header")]
    Header,
    /// The signature is not base64url.
    #[error("unreadable signature")]
    Signature,
    /// The payload is not base64url of a JSON object.
    #[error("unreadable claims")]
    Claims,
    /// The header names critical extensions (`crit`), none of which we understand (RFC 7515
    /// §4.1.11: such a JWS must be refused).
    #[error("critical header extensions are not supported")]
    Critical,
}

/// A parsed compact JWS.
///
/// ```
/// use portcullis_core::jws::CompactJws;
/// // {"alg":"ES256","kid":"k1"} . {"sub":"a"} . (signature bytes)
/// let jws = CompactJws::parse("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.AAEC").unwrap();
/// assert_eq!(jws.header_str("alg"), Some("ES256"));
/// assert_eq!(jws.signature, vec![0, 1, 2]);
/// assert_eq!(jws.claims().unwrap()["sub"], "a");
/// assert!(CompactJws::parse("a.b").is_err());
/// // {"alg":"ES256","crit":["exp"],"exp":1}: an extension we would have to understand.
/// assert!(CompactJws::parse("eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0.e30.AAEC").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    /// The protected header.
    pub header: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
    payload: &'a str,
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes a token.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_JWS_BYTES {
            return Err(JwsError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::NotCompact);
        };
        let header: Map<String, Value> = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Header)?;
        if header.contains_key("crit") {
            return Err(JwsError::Critical);
        }
        let signature = B64.decode(s).map_err(|_| JwsError::Signature)?;
        Ok(CompactJws {
            header,
            signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
            signature,
            payload: p,
        })
    }

    /// A string member of the header.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// The payload as a JSON object. Only call this once the signature has verified.
    pub fn claims(&self) -> Result<Map<String, Value>, JwsError> {
        B64.decode(self.payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Claims)
    }
}
