//! The ceiling: a token endpoint that does only what any token endpoint must do for
//! `client_credentials` with `client_secret_post`, and nothing else. It parses the form, finds the
//! client in memory, checks the secret against its keyed hash in constant time, signs one ES256 JWT
//! with the claims Portcullis puts in its access tokens, and answers JSON. No logging, no metrics,
//! no throttle, no database.
//!
//! `bench/compare.sh` runs it and `portcullis serve` under the same load, one after the other, and
//! reports Portcullis's rate as a share of this one. Its one client comes from `BENCH_CLIENT_ID` and
//! `BENCH_CLIENT_SECRET`; it listens on `CEILING_LISTEN` (default 127.0.0.1:18090).
#![forbid(unsafe_code)]
// A benchmark yardstick has no injected clock to take time from.
#![allow(clippy::disallowed_methods)]

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::collections::HashMap;
use std::sync::Arc;

struct Ceiling {
    /// client_id -> HMAC-SHA-256 of its secret.
    clients: HashMap<String, Vec<u8>>,
    hmac_key: hmac::Key,
    signer: EcdsaKeyPair,
    /// The JWS header, base64url, encoded once.
    header: String,
    issuer: String,
    rng: SystemRandom,
}

fn main() {
    let id = std::env::var("BENCH_CLIENT_ID").unwrap_or_else(|_| "ceiling".into());
    let secret = std::env::var("BENCH_CLIENT_SECRET").unwrap_or_else(|_| "ceiling-secret".into());
    let listen = std::env::var("CEILING_LISTEN").unwrap_or_else(|_| "127.0.0.1:18090".into());
    let rng = SystemRandom::new();
    let mut key = [0u8; 32];
    if rng.fill(&mut key).is_err() {
        eprintln!("no randomness");
        std::process::exit(1);
    }
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let Ok(signer) = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING) else {
        eprintln!("cannot make a key");
        std::process::exit(1);
    };
    let tag = hmac::sign(&hmac_key, secret.as_bytes()).as_ref().to_vec();
    let header = B64.encode(br#"{"alg":"ES256","typ":"at+jwt","kid":"ceiling"}"#);
    let state = Arc::new(Ceiling {
        clients: HashMap::from([(id, tag)]),
        hmac_key,
        signer,
        header,
        issuer: format!("http://{listen}"),
        rng,
    });
    let app = Router::new().route("/token", post(token)).with_state(state);
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("no runtime");
        std::process::exit(1);
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {listen}: {e}");
                std::process::exit(1);
            }
        };
        println!("listening on {listen}");
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("serve: {e}");
        }
    });
}

async fn token(State(c): State<Arc<Ceiling>>, body: Bytes) -> Response {
    let (mut grant, mut id, mut secret) = (None, None, None);
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "grant_type" => grant = Some(value),
            "client_id" => id = Some(value),
            "client_secret" => secret = Some(value),
            _ => {}
        }
    }
    let stored = id.as_deref().and_then(|id| c.clients.get(id));
    let authenticated = match (stored, &secret) {
        (Some(tag), Some(secret)) => hmac::verify(&c.hmac_key, secret.as_bytes(), tag).is_ok(),
        _ => false,
    };
    if !authenticated {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if grant.as_deref() != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let client_id = id.unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut jti = [0u8; 16];
    if c.rng.fill(&mut jti).is_err() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    let jti: String = jti.iter().map(|b| format!("{b:02x}")).collect();
    let claims = serde_json::json!({
        "iss": c.issuer,
        "sub": client_id,
        "aud": c.issuer,
        "client_id": client_id,
        "iat": now,
        "exp": now + 900,
        "jti": jti,
    });
    let signing_input = format!("{}.{}", c.header, B64.encode(claims.to_string()));
    let Ok(signature) = c.signer.sign(&c.rng, signing_input.as_bytes()) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    let jwt = format!("{signing_input}.{}", B64.encode(signature.as_ref()));
    let body = serde_json::json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": 900,
    });
    json(StatusCode::OK, body.to_string())
}

fn error(status: StatusCode, code: &str) -> Response {
    json(status, format!(r#"{{"error":"{code}"}}"#))
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
