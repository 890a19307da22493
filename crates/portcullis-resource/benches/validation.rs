//! `cargo bench -p portcullis-resource`: what validating a token costs, beside the bare signature
//! check of the same algorithm in the same run, and what a token seen before costs.
//!
//! A plain timing harness (no extra dependency): each figure is the mean of many iterations after a
//! warm-up, against a real Portcullis server started in-process on a temporary database.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// A benchmark measures wall time.
#![allow(clippy::disallowed_methods)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Algorithm, Clock, SystemClock};
use portcullis_resource::Validator;
use portcullis_resource::jwks::VerifyingKey;
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use portcullis_server::client_secret::SecretHasher;
use portcullis_server::{Config, Server};
use std::sync::Arc;
use std::time::{Duration, Instant};

const API: &str = "https://api.example.com";

fn mean<F: FnMut()>(mut f: F, budget: Duration) -> Duration {
    for _ in 0..200 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    start.elapsed() / n
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", dir.path().join("b.db").display()),
        ..Config::default()
    };
    let server = Server::build(config, Arc::new(SystemClock)).await.unwrap();
    let issuer = server.issuer().to_owned();
    let (store, registry) = (server.store(), server.registry());
    tokio::spawn(server.run_until(std::future::pending()));
    let hasher = SecretHasher::load(store.as_ref()).await.unwrap();
    let http = reqwest::Client::new();
    let jwks: portcullis_core::JwkSet = http
        .get(format!("{issuer}/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let budget = Duration::from_millis(
        std::env::var("BENCH_MILLIS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    println!("validation of a fresh token vs the bare signature check (mean per operation)");
    for alg in Algorithm::ALL {
        let saved = ClientAdmin::new(store.as_ref(), &hasher, SystemClock.now())
            .create(
                None,
                ClientMetadata {
                    scope: "read".into(),
                    audience: vec![API.into()],
                    access_token_signed_response_alg: Some(alg),
                    ..ClientMetadata::default()
                },
                SecretSource::Generate,
            )
            .await
            .unwrap();
        registry.refresh().await.unwrap();
        let body: serde_json::Value = http
            .post(format!("{issuer}/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", saved.client_id.as_str()),
                ("client_secret", saved.secret.as_ref().unwrap().expose()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signature = B64.decode(signature).unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        let jwk = jwks.keys.iter().find(|k| k.kid == header["kid"]).unwrap();
        let key = VerifyingKey::from_jwk(jwk).unwrap();
        let bare = mean(
            || assert!(key.verify(alg.into(), signing_input.as_bytes(), &signature)),
            budget,
        );

        let uncached = Validator::builder(&issuer, API).cache_capacity(0).build();
        uncached.validate(&token).await.unwrap();
        let handle = tokio::runtime::Handle::current();
        let full = tokio::task::block_in_place(|| {
            mean(
                || {
                    handle.block_on(uncached.validate(&token)).unwrap();
                },
                budget,
            )
        });
        let cached = Validator::builder(&issuer, API).build();
        cached.validate(&token).await.unwrap();
        let hit = tokio::task::block_in_place(|| {
            mean(
                || {
                    handle.block_on(cached.validate(&token)).unwrap();
                },
                budget,
            )
        });
        println!(
            "{alg:<6} bare verify {:>9.2?}  full validation {:>9.2?}  ratio {:.2}  cached {:>8.2?}",
            bare,
            full,
            full.as_secs_f64() / bare.as_secs_f64(),
            hit
        );
    }
}
