//! The JOSE pieces Portcullis uses: signing algorithms (RFC 7518 §3), JSON Web Keys (RFC 7517) and the
//! JWS header (RFC 7515 §4).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A JWS signing algorithm Portcullis signs with. `none` and HMAC are deliberately absent: every token
/// is signed with an asymmetric key (RFC 8725 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256 (RFC 7518 §3.4); the default for access tokens.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key (RFC 7518 §3.3).
    RS256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in the order keys are listed.
    pub const ALL: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

    /// The `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            Algorithm::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a supported algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported signing algorithm '{0}' (expected ES256, RS256 or EdDSA)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Algorithm::ES256),
            "RS256" => Ok(Algorithm::RS256),
            "EdDSA" => Ok(Algorithm::EdDSA),
            other => Err(UnknownAlgorithm(other.to_owned())),
        }
    }
}

/// A JWS algorithm a verifier may accept (RFC 7518 §3.3–3.5, RFC 8037): the asymmetric ones that
/// identity providers sign with. `none` and the HMAC algorithms (`HS256`…) are not values of this
/// type, so no configuration can allow them: a verifier holding only public keys must never
/// treat one as an HMAC secret (RFC 8725 §2.1, §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// ECDSA with P-384 and SHA-384.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// Ed25519 under its fully-specified name (RFC 9864), which newer libraries write instead
    /// of `EdDSA`; the same keys and signatures.
    Ed25519,
}

impl JwsAlgorithm {
    /// Every algorithm a verifier may accept.
    pub const ALL: [JwsAlgorithm; 10] = [
        JwsAlgorithm::RS256,
        JwsAlgorithm::RS384,
        JwsAlgorithm::RS512,
        JwsAlgorithm::PS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::PS512,
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::EdDSA,
        JwsAlgorithm::Ed25519,
    ];

    /// The `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlgorithm::RS256 => "RS256",
            JwsAlgorithm::RS384 => "RS384",
            JwsAlgorithm::RS512 => "RS512",
            JwsAlgorithm::PS256 => "PS256",
            JwsAlgorithm::PS384 => "PS384",
            JwsAlgorithm::PS512 => "PS512",
            JwsAlgorithm::ES256 => "ES256",
            JwsAlgorithm::ES384 => "ES384",
            JwsAlgorithm::EdDSA => "EdDSA",
            JwsAlgorithm::Ed25519 => "Ed25519",
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwsAlgorithm {
    type Err = UnknownAlgorithm;
    /// Exactly the registered names (RFC 7518 §3.1 is case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JwsAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

impl From<Algorithm> for JwsAlgorithm {
    fn from(alg: Algorithm) -> Self {
        match alg {
            Algorithm::ES256 => JwsAlgorithm::ES256,
            Algorithm::RS256 => JwsAlgorithm::RS256,
            Algorithm::EdDSA => JwsAlgorithm::EdDSA,
        }
    }
}

/// A public JSON Web Key (RFC 7517 §4) as published in a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`, `RSA` or `OKP`.
    pub kty: String,
    /// Key id, the RFC 7638 thumbprint for keys Portcullis makes; empty when the key has none
    /// (other providers' JWKS may omit it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kid: String,
    /// Public key use: always `sig` here.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The one algorithm this key may be used with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Curve, for `EC` and `OKP` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (EC) or public key (OKP), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (EC), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Modulus (RSA), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// Exponent (RSA), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl Jwk {
    /// The RFC 7638 thumbprint: base64url of the SHA-256 of the key's required members, in
    /// lexicographic order with no whitespace. `None` for a key type other than `EC`, `RSA` and
    /// `OKP`, or one missing a required member.
    ///
    /// ```
    /// use portcullis_core::Jwk;
    /// // RFC 8037 appendix A.3.
    /// let jwk: Jwk = serde_json::from_str(
    ///     r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    /// ).unwrap();
    /// assert_eq!(jwk.thumbprint().unwrap(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    /// ```
    pub fn thumbprint(&self) -> Option<String> {
        use base64::Engine;
        // Every member is base64url or a registered name, so none needs JSON escaping; refuse
        // anything else rather than hash a string a second party would canonicalize differently.
        let plain = |v: &Option<String>| {
            v.as_deref()
                .filter(|v| {
                    !v.is_empty()
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
                .map(str::to_owned)
        };
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                plain(&self.crv)?,
                plain(&self.x)?,
                plain(&self.y)?
            ),
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                plain(&self.e)?,
                plain(&self.n)?
            ),
            "OKP" => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                plain(&self.crv)?,
                plain(&self.x)?
            ),
            _ => return None,
        };
        Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(crate::hash::sha256(canonical.as_bytes())),
        )
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}
