//! A public key from a JWK, ready to verify JWS signatures (RFC 7515, RFC 7518, RFC 8037). Each
//! key is used with the one algorithm its JWK names, never another; `none` and HMAC are not
//! algorithms here at all. Shared by the resource-server validator, the client's ID-token check
//! and `portcullis decode`.

use crate::jose::{Algorithm, Jwk};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// One public key, ready to verify.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    /// The only algorithm this key is used with.
    pub alg: Algorithm,
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    /// Uncompressed SEC1 point, or the raw Ed25519 key.
    Bytes(Vec<u8>),
    /// RSA modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl VerifyingKey {
    /// Reads a JWK; `None` for key types or algorithms we do not verify with.
    pub fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
        let decode = |v: &Option<String>| v.as_deref().and_then(|s| B64.decode(s).ok());
        let alg = jwk.alg.as_deref()?.parse::<Algorithm>().ok()?;
        let material = match (alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
            (Algorithm::ES256, "EC", Some("P-256")) => {
                let (x, y) = (decode(&jwk.x)?, decode(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Bytes(point)
            }
            (Algorithm::EdDSA, "OKP", Some("Ed25519")) => Material::Bytes(decode(&jwk.x)?),
            (Algorithm::RS256, "RSA", _) => Material::Rsa {
                n: decode(&jwk.n)?,
                e: decode(&jwk.e)?,
            },
            _ => return None,
        };
        Some(VerifyingKey { alg, material })
    }

    /// Checks `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match (&self.material, self.alg) {
            (Material::Bytes(key), Algorithm::ES256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::Bytes(key), Algorithm::EdDSA) => UnparsedPublicKey::new(&ED25519, key)
                .verify(message, signature)
                .is_ok(),
            (Material::Rsa { n, e }, Algorithm::RS256) => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            _ => false,
        }
    }
}
