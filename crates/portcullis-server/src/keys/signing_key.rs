//! One asymmetric signing key, parsed once when it is loaded so signing a token costs one signature
//! and nothing else, plus its public half as a JWK.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Algorithm, Jwk};

/// Why a key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The stored private key does not parse for its algorithm.
    #[error("signing key {kid} ({alg}) is unreadable")]
    Unreadable {
        /// Key id.
        kid: String,
        /// Algorithm name as stored.
        alg: String,
    },
    /// The crypto library refused to generate or sign.
    #[error("cryptographic operation failed")]
    Crypto,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key ready to sign, with its algorithm, public JWK and the encoded JWS header that every
/// access token it signs starts with.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: Pair,
    jwk: Jwk,
    at_jwt_header: String,
    jwt_header: String,
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Makes a new private key for `alg`, as PKCS#8 DER.
pub fn generate_private_der(alg: Algorithm) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    let der = match alg {
        Algorithm::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Crypto)?
            .as_ref()
            .to_vec(),
        Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| KeyError::Crypto)?
            .as_ref()
            .to_vec(),
        Algorithm::RS256 => {
            let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Crypto)?;
            let der = pair.as_der().map_err(|_| KeyError::Crypto)?;
            der.as_ref().to_vec()
        }
    };
    Ok(der)
}

impl SigningKey {
    /// Parses a stored key. The key id is the RFC 7638 thumbprint of the public key, so the same
    /// private key always gets the same `kid`.
    pub fn from_der(alg: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let unreadable = || KeyError::Unreadable {
            kid: String::new(),
            alg: alg.to_string(),
        };
        let (pair, mut jwk) = match alg {
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| unreadable())?;
                // Uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(unreadable());
                }
                let jwk = base_jwk("EC", alg, Some("P-256"))
                    .with_x(&point[1..33])
                    .with_y(&point[33..65]);
                (Pair::Ecdsa(pair), jwk)
            }
            Algorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| unreadable())?;
                let public = pair.public_key();
                let mut jwk = base_jwk("RSA", alg, None);
                jwk.n = Some(B64.encode(public.modulus().big_endian_without_leading_zero()));
                jwk.e = Some(B64.encode(public.exponent().big_endian_without_leading_zero()));
                (Pair::Rsa(pair), jwk)
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| unreadable())?;
                let jwk = base_jwk("OKP", alg, Some("Ed25519")).with_x(pair.public_key().as_ref());
                (Pair::Ed25519(pair), jwk)
            }
        };
        let kid = thumbprint(&jwk);
        jwk.kid = kid.clone();
        let header = serde_json::json!({ "alg": alg.as_str(), "typ": "at+jwt", "kid": kid });
        let id_header = serde_json::json!({ "alg": alg.as_str(), "typ": "JWT", "kid": kid });
        let public = match &pair {
            Pair::Ecdsa(p) => p.public_key().as_ref().to_vec(),
            Pair::Rsa(p) => p.public_key().as_ref().to_vec(),
            Pair::Ed25519(p) => p.public_key().as_ref().to_vec(),
        };
        Ok(SigningKey {
            at_jwt_header: B64.encode(header.to_string()),
            jwt_header: B64.encode(id_header.to_string()),
            public,
            kid,
            alg,
            pair,
            jwk,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with, and only with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public key as published.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a JWT with `typ: at+jwt` (RFC 9068 §2.1).
    pub fn sign_access_token(&self, claims: &impl serde::Serialize) -> Result<String, KeyError> {
        self.sign_with_header(&self.at_jwt_header, claims)
    }

    /// Signs `claims` as a plain JWT (`typ: JWT`), as OpenID Connect ID tokens are.
    pub fn sign_id_token(&self, claims: &impl serde::Serialize) -> Result<String, KeyError> {
        self.sign_with_header(&self.jwt_header, claims)
    }

    /// Checks a signature made by this key over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
        };
        let result = match self.alg {
            Algorithm::ES256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public)
                .verify(message, signature),
            Algorithm::RS256 => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public)
                .verify(message, signature),
            Algorithm::EdDSA => {
                UnparsedPublicKey::new(&ED25519, &self.public).verify(message, signature)
            }
        };
        result.is_ok()
    }

    fn sign_with_header(
        &self,
        header: &str,
        claims: &impl serde::Serialize,
    ) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto)?;
        let mut token = String::with_capacity(header.len() + payload.len() * 2 + 400);
        token.push_str(header);
        token.push('.');
        B64.encode_string(&payload, &mut token);
        let signature = {
            let _span = crate::spans::sign(self.alg().as_str()).entered();
            self.sign(token.as_bytes())?
        };
        token.push('.');
        B64.encode_string(&signature, &mut token);
        Ok(token)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto),
            Pair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| KeyError::Crypto)?;
                Ok(signature)
            }
        }
    }
}

fn base_jwk(kty: &str, alg: Algorithm, crv: Option<&str>) -> Jwk {
    Jwk {
        kty: kty.to_owned(),
        kid: String::new(),
        use_: Some("sig".to_owned()),
        alg: Some(alg.as_str().to_owned()),
        crv: crv.map(str::to_owned),
        x: None,
        y: None,
        n: None,
        e: None,
    }
}

trait JwkExt {
    fn with_x(self, x: &[u8]) -> Self;
    fn with_y(self, y: &[u8]) -> Self;
}

impl JwkExt for Jwk {
    fn with_x(mut self, x: &[u8]) -> Self {
        self.x = Some(B64.encode(x));
        self
    }
    fn with_y(mut self, y: &[u8]) -> Self {
        self.y = Some(B64.encode(y));
        self
    }
}

/// RFC 7638; our own keys always have every member it needs.
fn thumbprint(jwk: &Jwk) -> String {
    jwk.thumbprint().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: String::new(),
            use_: None,
            alg: None,
            crv: None,
            x: None,
            y: None,
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            e: Some("AQAB".into()),
        };
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn every_algorithm_generates_loads_and_signs() {
        for alg in Algorithm::ALL {
            let der = generate_private_der(alg).unwrap();
            let key = SigningKey::from_der(alg, &der).unwrap();
            let again = SigningKey::from_der(alg, &der).unwrap();
            assert_eq!(key.kid(), again.kid(), "kid is stable for {alg}");
            let token = key.sign_access_token(&serde_json::json!({"a": 1})).unwrap();
            assert_eq!(token.split('.').count(), 3);
        }
    }

    #[test]
    fn a_key_of_another_algorithm_is_refused() {
        let der = generate_private_der(Algorithm::EdDSA).unwrap();
        assert!(SigningKey::from_der(Algorithm::ES256, &der).is_err());
    }
}
