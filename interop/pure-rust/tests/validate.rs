//! A resource server with the pure-Rust backend validates an ES256 access token end to end: it
//! discovers an issuer over HTTP, fetches its JWKS and checks the signature with RustCrypto.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// The token is checked against the real time, so it is made with the real time.
#![allow(clippy::disallowed_methods)]

use axum::{Json, Router, routing::get};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use portcullis_core::verifying_key::Backend;
use portcullis_resource::Validator;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fixed test key: the test needs no random numbers.
fn signing_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn jwk() -> serde_json::Value {
    let point = signing_key().verifying_key().to_sec1_bytes();
    let (x, y) = point[1..].split_at(32);
    // No `alg`, as many providers publish their keys.
    json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
           "x": B64.encode(x), "y": B64.encode(y)})
}

fn token(issuer: &str, audience: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"});
    let claims = json!({"iss": issuer, "sub": "alice", "aud": audience, "client_id": "app",
                        "iat": now, "exp": now + 300, "jti": "t1", "scope": "read"});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: Signature = signing_key().sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

async fn issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metadata = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")});
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(|| async { Json(json!({"keys": [jwk()]})) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn validates_with_rustcrypto_and_a_pure_rust_tls_provider() {
    // Built alone (as `.ci/run` does), RustCrypto is the only backend.
    eprintln!("backends: {:?}", Backend::ALL);
    assert_eq!(Backend::ALL, &[Backend::RustCrypto]);

    let issuer = issuer().await;
    let audience = "https://api.example";

    // Without a TLS provider the validator says what is missing; it does not panic.
    let without = Validator::builder(&issuer, audience).build();
    let err = without
        .validate(&token(&issuer, audience))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CryptoProvider"), "{err}");

    rustls_rustcrypto::provider().install_default().unwrap();
    let validator = Validator::builder(&issuer, audience).build();
    let access = validator.validate(&token(&issuer, audience)).await.unwrap();
    assert_eq!(access.subject, "alice");

    let forged = {
        let mut t = token(&issuer, audience);
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    assert!(validator.validate(&forged).await.is_err());
    assert!(
        validator
            .validate(&token(&issuer, "https://other.example"))
            .await
            .is_err()
    );
}
