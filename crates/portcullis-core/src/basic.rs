//! HTTP Basic client credentials as RFC 6749 §2.3.1 defines them: the client_id and the secret are
//! each `application/x-www-form-urlencoded` before they are joined with `:` and base64-encoded.
//! Many clients skip the inner encoding; for ids and secrets made only of unreserved characters (all
//! that Portcullis generates) both spellings are the same.

use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose::STANDARD};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an `Authorization: Basic` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    /// The header does not use the Basic scheme.
    #[error("the Authorization header must use the Basic scheme")]
    NotBasic,
    /// The credentials are not base64, not UTF-8, or have no `:`.
    #[error("the Basic credentials are malformed")]
    Malformed,
}

/// Builds the `Authorization` header value for a client.
///
/// ```
/// use portcullis_core::basic::{encode_basic, decode_basic};
/// let header = encode_basic("my client", "s3cr:t+%");
/// let (id, secret) = decode_basic(&header).unwrap();
/// assert_eq!((id.as_str(), secret.expose()), ("my client", "s3cr:t+%"));
/// ```
pub fn encode_basic(client_id: &str, client_secret: &str) -> String {
    let joined = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
    format!("Basic {}", STANDARD.encode(joined))
}

/// Reads an `Authorization` header value into a client_id and secret.
pub fn decode_basic(header: &str) -> Result<(String, Secret), BasicError> {
    let (scheme, rest) = header.trim().split_once(' ').ok_or(BasicError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicError::NotBasic);
    }
    let raw = LENIENT
        .decode(rest.trim())
        .map_err(|_| BasicError::Malformed)?;
    let text = String::from_utf8(raw).map_err(|_| BasicError::Malformed)?;
    let (id, secret) = text.split_once(':').ok_or(BasicError::Malformed)?;
    let id = form_decode(id).ok_or(BasicError::Malformed)?;
    let secret = form_decode(secret).ok_or(BasicError::Malformed)?;
    Ok((id, Secret::new(secret)))
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Decodes one form-urlencoded value: `+` is a space, `%XX` a byte; a `%` not followed by two hex
/// digits stays as it is. `None` when the result is not UTF-8.
pub fn form_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_rfc_encoding_and_plain_values() {
        // "a b:c+d%3A" with the id and secret form-encoded first: "a+b:c%2Bd%253A".
        let header = format!("Basic {}", STANDARD.encode("a+b:c%2Bd%253A"));
        let (id, secret) = decode_basic(&header).unwrap();
        assert_eq!(id, "a b");
        assert_eq!(secret.expose(), "c+d%3A");
        let plain = format!("basic {}", STANDARD.encode("client:secret-with_chars"));
        let (id, secret) = decode_basic(&plain).unwrap();
        assert_eq!(
            (id.as_str(), secret.expose()),
            ("client", "secret-with_chars")
        );
    }

    #[test]
    fn the_secret_may_contain_colons_and_padding_may_be_missing() {
        let header = format!("Basic {}", STANDARD.encode("id:a:b").trim_end_matches('='));
        let (_, secret) = decode_basic(&header).unwrap();
        assert_eq!(secret.expose(), "a:b");
    }

    #[test]
    fn rejects_other_schemes_and_garbage() {
        assert_eq!(
            decode_basic("Bearer abc").unwrap_err(),
            BasicError::NotBasic
        );
        assert!(decode_basic("Basic !!!").is_err());
        assert!(decode_basic(&format!("Basic {}", STANDARD.encode("no-colon"))).is_err());
        assert_eq!(form_decode("100%"), Some("100%".into()));
        assert_eq!(form_decode("%zz%4"), Some("%zz%4".into()));
    }
}
