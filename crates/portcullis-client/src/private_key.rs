//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the client proves who it is with a
//! short JWT signed by its private key, instead of sending a secret. The server holds only the
//! public key, so nothing it stores or logs can be used to impersonate the client.

use crate::error::ClientError;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use portcullis_core::{Jwk, JwkSet};
use std::sync::Arc;

/// How long an assertion is valid: long enough for one request, far below the server's limit.
const ASSERTION_LIFETIME: i64 = 60;

enum Pair {
    Es256(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A client's private key, read from a PEM file: PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl
/// genpkey` writes) for P-256, RSA and Ed25519, SEC1 (`BEGIN EC PRIVATE KEY`) for P-256, or
/// PKCS#1 (`BEGIN RSA PRIVATE KEY`). P-256 keys sign ES256, RSA keys PS256 and Ed25519 keys
/// EdDSA. `Debug` shows only the algorithm and key id.
#[derive(Clone)]
pub struct PrivateKey {
    pair: Arc<Pair>,
    kid: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg())
            .field("kid", &self.kid)
            .finish()
    }
}

fn bad(why: impl Into<String>) -> ClientError {
    ClientError::Config(vec![why.into()])
}

impl PrivateKey {
    /// Reads a PEM file.
    pub fn from_pem_file(path: &std::path::Path) -> Result<Self, ClientError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            bad(format!(
                "cannot read the private key {}: {e}",
                path.display()
            ))
        })?;
        Self::from_pem(&text).map_err(|e| bad(format!("the private key {}: {e}", path.display())))
    }

    /// Reads PEM text.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let (label, der) = pem_block(text)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => {
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map(Pair::Es256)
                    .or_else(|_| RsaKeyPair::from_pkcs8(&der).map(Pair::Rsa))
                    .or_else(|_| {
                        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map(Pair::Ed25519)
                    })
                    .map_err(|_| {
                        "not a P-256, RSA (2048 bits or more) or Ed25519 PKCS#8 key".to_owned()
                    })?
            }
            "EC PRIVATE KEY" => EcdsaKeyPair::from_private_key_der(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .map(Pair::Es256)
            .map_err(|_| "not a P-256 key".to_owned())?,
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(Pair::Rsa)
                .map_err(|_| "not an RSA key of 2048 bits or more".to_owned())?,
            other => return Err(format!("a PEM '{other}' block is not a private key")),
        };
        if let Pair::Rsa(rsa) = &pair
            && rsa.public_modulus_len() < 256
        {
            return Err("an RSA key must have at least 2048 bits".into());
        }
        let mut key = PrivateKey {
            pair: Arc::new(pair),
            kid: String::new(),
        };
        key.kid = key.public_jwk().thumbprint().unwrap_or_default();
        Ok(key)
    }

    /// The JWS algorithm it signs with.
    pub fn alg(&self) -> &'static str {
        match *self.pair {
            Pair::Es256(_) => "ES256",
            Pair::Rsa(_) => "PS256",
            Pair::Ed25519(_) => "EdDSA",
        }
    }

    /// The key id: the RFC 7638 thumbprint of the public key, as [`public_jwk`](Self::public_jwk)
    /// carries it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, to register with the server.
    pub fn public_jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            kty: String::new(),
            kid: self.kid.clone(),
            use_: Some("sig".into()),
            alg: Some(self.alg().into()),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match &*self.pair {
            Pair::Es256(p) => {
                let point = p.public_key().as_ref();
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = Some(B64.encode(&point[1..33]));
                jwk.y = Some(B64.encode(&point[33..65]));
            }
            Pair::Rsa(p) => {
                let public = p.public_key();
                jwk.kty = "RSA".into();
                jwk.n = Some(B64.encode(public.modulus().big_endian_without_leading_zero()));
                jwk.e = Some(B64.encode(public.exponent().big_endian_without_leading_zero()));
            }
            Pair::Ed25519(p) => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(B64.encode(p.public_key().as_ref()));
            }
        }
        jwk
    }

    /// The public key as a JWK Set, what `portcullis client create --jwks-file` reads.
    pub fn public_jwk_set(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public_jwk()],
        }
    }

    /// Signs `claims` as a compact JWS under `header`, to which the key's `alg` is added.
    pub fn sign_jws(
        &self,
        mut header: serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, ClientError> {
        header["alg"] = self.alg().into();
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let failed = || bad("the private key could not sign");
        let signature = match &*self.pair {
            Pair::Es256(p) => p
                .sign(&rng, input.as_bytes())
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            Pair::Rsa(p) => {
                let mut out = vec![0; p.public_modulus_len()];
                p.sign(&signature::RSA_PSS_SHA256, &rng, input.as_bytes(), &mut out)
                    .map_err(|_| failed())?;
                out
            }
            Pair::Ed25519(p) => p.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", B64.encode(signature)))
    }

    /// A new P-256 key, held only in memory.
    pub fn generate_p256() -> Result<Self, ClientError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| bad("cannot generate a P-256 key"))?;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        Self::from_pem(&pem).map_err(bad)
    }

    /// A client assertion for `client_id` at the server whose issuer identifier (or token endpoint
    /// URL) is `audience`, valid for a minute, with a fresh `jti`.
    pub fn client_assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
    ) -> Result<String, ClientError> {
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": random_id()?,
        });
        self.sign_jws(serde_json::json!({"typ": "JWT", "kid": self.kid}), &claims)
    }
}

/// 128 random bits, base64url.
pub(crate) fn random_id() -> Result<String, ClientError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| bad("no randomness for a jti"))?;
    Ok(B64.encode(bytes))
}

/// The label and bytes of the first PEM block in `text`.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let start = text
        .find("-----BEGIN ")
        .ok_or("no PEM block (-----BEGIN …-----) found")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or("a PEM header is not closed")?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or("a PEM block has no END line")?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    if b64.contains(':') {
        return Err("encrypted PEM keys are not supported; decrypt it first (openssl pkey)".into());
    }
    let der = STANDARD
        .decode(b64)
        .map_err(|_| "the PEM block is not base64".to_owned())?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_what_its_public_jwk_verifies() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.alg(), "ES256");
        let jwt = key
            .client_assertion("app", "https://id.example", 1000)
            .unwrap();
        let jws = portcullis_core::jws::CompactJws::parse(&jwt).unwrap();
        assert_eq!(jws.header_str("kid"), Some(key.kid()));
        let public = portcullis_core::VerifyingKey::from_jwk(&key.public_jwk()).unwrap();
        assert!(public.verify(
            portcullis_core::JwsAlgorithm::ES256,
            jws.signing_input,
            &jws.signature
        ));
        assert!(!format!("{key:?}").contains(&STANDARD.encode(pkcs8.as_ref())[..20]));
        assert!(
            PrivateKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .is_err()
        );
    }
}
