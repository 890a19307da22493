//! Clients that prove who they are (issue: private_key_jwt, PAR, form_post): keys, a JWKS server
//! for `jwks_uri`, and assertions made by hand so that each claim can be got wrong on purpose.

mod dpop;
mod dpop_refresh;
mod dpop_userinfo;
mod form_post;
mod par;
pub mod private_key_jwt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use portcullis_client::PrivateKey;
use portcullis_core::JwkSet;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der)
    )
}

pub fn es256_key() -> PrivateKey {
    PrivateKey::generate_p256().unwrap()
}

pub fn rsa_key() -> PrivateKey {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    PrivateKey::from_pem(&pem(pair.as_der().unwrap().as_ref())).unwrap()
}

pub fn ed25519_key() -> PrivateKey {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    PrivateKey::from_pem(&pem(doc.as_ref())).unwrap()
}

/// A unique jti.
pub fn jti() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "jti-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The claims of a good assertion of `client_id` for `aud` at `now`.
pub fn claims(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 60, "jti": jti(),
    })
}

/// Signs `claims` with `key`, naming its kid.
pub fn assertion(key: &PrivateKey, claims: &Value) -> String {
    key.sign_jws(json!({"typ": "JWT", "kid": key.kid()}), claims)
        .unwrap()
}

/// A token made with `alg: none`.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        B64.encode(claims.to_string())
    )
}

/// HS256 over the JWT with `secret` as the key: the old confusion attack, with the public key's
/// JSON as the "secret".
pub fn hs256(claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string()),
        B64.encode(claims.to_string())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", B64.encode(tag.as_ref()))
}

/// A client's `jwks_uri`: serves a JWK Set that the test can change, and counts fetches.
pub struct JwksServer {
    pub uri: String,
    pub keys: Arc<Mutex<JwkSet>>,
    pub fetches: Arc<AtomicU64>,
    _task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(keys: JwkSet) -> JwksServer {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let (k, f) = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (k, f) = (k.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let set = k.lock().unwrap().clone();
                    axum::Json(set)
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        JwksServer {
            uri,
            keys,
            fetches,
            _task: task,
        }
    }

    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}
