//! `cargo bench -p portcullis-client`: what a cache hit costs, and a thousand callers on a cold
//! cache (how many requests the server sees, and how long until all have their token).
//!
//! A plain timing harness against a small token endpoint started in-process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// A benchmark measures wall time.
#![allow(clippy::disallowed_methods)]

use axum::Router;
use axum::routing::post;
use portcullis_client::{ClientCredentials, Endpoint, TokenSource};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn endpoint() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/token",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                (
                    [("content-type", "application/json")],
                    r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/token"), hits)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (url, hits) = endpoint().await;
        let credentials = ClientCredentials::new(Endpoint::TokenUrl(url.clone()), "bench", "secret");
        let source = TokenSource::new(credentials);
        source.token().await.unwrap();
        // Cache hit: poll the future by hand so no runtime overhead is measured.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut hit = || {
            let mut f = std::pin::pin!(source.token());
            match f.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(r) => {
                    std::hint::black_box(r.unwrap());
                }
                std::task::Poll::Pending => panic!("a cache hit never waits"),
            }
        };
        for _ in 0..10_000 {
            hit();
        }
        let n = 2_000_000u32;
        let start = Instant::now();
        for _ in 0..n {
            hit();
        }
        println!("cache hit: {:.1} ns per token()", start.elapsed().as_nanos() as f64 / f64::from(n));

        for round in 0..3 {
            let credentials = ClientCredentials::new(Endpoint::TokenUrl(url.clone()), &format!("cold-{round}"), "secret");
            let source = TokenSource::new(credentials);
            let before = hits.load(Ordering::SeqCst);
            let start = Instant::now();
            let mut tasks = Vec::with_capacity(1000);
            for _ in 0..1000 {
                let s = source.clone();
                tasks.push(tokio::spawn(async move { s.token().await.is_ok() }));
            }
            let mut served = 0;
            for t in tasks {
                if t.await.unwrap() {
                    served += 1;
                }
            }
            println!(
                "1000 callers, cold cache: {} token request(s), {served} served, all done in {:.1?} (server answers in 20 ms)",
                hits.load(Ordering::SeqCst) - before,
                start.elapsed()
            );
        }
    });
}

use std::future::Future;
