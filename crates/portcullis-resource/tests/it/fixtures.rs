//! Keys of ours and small providers serving their discovery document and JWKS on port 0, for
//! tokens shaped like other providers' (`providers.rs`).

use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Clock, SystemClock};
use serde_json::{Value, json};

/// A private key of ours, in one of the shapes providers use.
pub enum TestKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    P256(aws_lc_rs::signature::EcdsaKeyPair),
    P384(aws_lc_rs::signature::EcdsaKeyPair),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
}

impl TestKey {
    pub fn rsa() -> Self {
        TestKey::Rsa(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }
    pub fn p256() -> Self {
        TestKey::P256(
            aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .unwrap(),
        )
    }
    pub fn p384() -> Self {
        TestKey::P384(
            aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            )
            .unwrap(),
        )
    }
    pub fn ed25519() -> Self {
        TestKey::Ed25519(aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap())
    }

    /// The public JWK, with only the members every provider sends.
    pub fn jwk(&self) -> serde_json::Map<String, Value> {
        use aws_lc_rs::signature::KeyPair;
        let jwk = match self {
            TestKey::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
                })
            }
            TestKey::P256(pair) | TestKey::P384(pair) => {
                let point = pair.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                let crv = if size == 32 { "P-256" } else { "P-384" };
                json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": B64.encode(&point[1..=size]),
                    "y": B64.encode(&point[1 + size..]),
                })
            }
            TestKey::Ed25519(pair) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": B64.encode(pair.public_key().as_ref()),
            }),
        };
        match jwk {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// A compact JWS of `claims` with `header`, signed with `alg`.
    pub fn sign(&self, alg: &str, header: Value, claims: &Value) -> String {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut header = header;
        header["alg"] = json!(alg);
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = match self {
            TestKey::Rsa(pair) => {
                use aws_lc_rs::signature as s;
                let padding: &'static dyn s::RsaEncoding = match alg {
                    "RS256" => &s::RSA_PKCS1_SHA256,
                    "RS384" => &s::RSA_PKCS1_SHA384,
                    "RS512" => &s::RSA_PKCS1_SHA512,
                    "PS256" => &s::RSA_PSS_SHA256,
                    "PS384" => &s::RSA_PSS_SHA384,
                    "PS512" => &s::RSA_PSS_SHA512,
                    other => panic!("not an RSA alg: {other}"),
                };
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, input.as_bytes(), &mut out)
                    .unwrap();
                out
            }
            TestKey::P256(pair) | TestKey::P384(pair) => {
                pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
            }
            TestKey::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", B64.encode(signature))
    }
}

/// A provider's discovery document and JWKS, served on port 0 under `path` (`/realms/demo`,
/// `/` or `/{tenant}/v2.0`). Its issuer is `http://127.0.0.1:PORT{path}`.
pub struct Provider {
    pub issuer: String,
}

pub async fn provider(path: &str, issuer_suffix: &str, jwks: Value) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}{path}{issuer_suffix}");
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}{path}/keys"),
        "token_endpoint": format!("{base}{path}/token"),
    });
    let keys_path = format!("{path}/keys");
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (metadata, jwks, keys_path) = (metadata.clone(), jwks.clone(), keys_path.clone());
        async move {
            let path = uri.path();
            if path == keys_path {
                axum::Json(jwks).into_response()
            } else if path.ends_with("/.well-known/openid-configuration") {
                axum::Json(metadata).into_response()
            } else {
                axum::http::StatusCode::NOT_FOUND.into_response()
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { issuer }
}

pub fn now() -> i64 {
    SystemClock.now().0
}

pub fn with(mut jwk: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        jwk.extend(extra);
    }
    Value::Object(jwk)
}
