//! Abuse resistance and observability: client-authentication throttling and its recovery,
//! `X-Forwarded-For` trust, header and time limits, metrics, request ids.

use crate::helpers::{TestApp, spawn_with};
use portcullis_server::config::Seconds;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

async fn attempt(
    app: &TestApp,
    id: &str,
    secret: &str,
    forwarded_for: Option<&str>,
) -> crate::helpers::Answer {
    let mut request = app.token_request().form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ]);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    app.send(request).await
}

#[tokio::test]
async fn a_brute_force_run_is_throttled_and_the_client_recovers_after_the_window() {
    let app = spawn_with(|c| {
        c.client_auth.max_failures_per_client = 5;
        c.client_auth.failure_window = Seconds(60);
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    let (other_id, other_secret) = app.service_client("read").await;
    // Mid-bucket, so the figures below do not depend on the second the test started at: failures
    // made exactly at a bucket's first second keep the count at the limit for one second more.
    let into_bucket = portcullis_core::Clock::now(&app.clock).0.rem_euclid(60);
    app.clock
        .advance(u64::try_from((90 - into_bucket).rem_euclid(60)).unwrap());
    for _ in 0..5 {
        attempt(&app, &id, "wrong-secret-wrong-secret-wrong-secret", None)
            .await
            .assert_error(401, "invalid_client");
    }
    let locked = attempt(&app, &id, "wrong-secret-wrong-secret-wrong-secret", None).await;
    locked.assert_error(429, "temporarily_unavailable");
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Even the right secret waits: otherwise the lock would not slow guessing.
    attempt(&app, &id, &secret, None)
        .await
        .assert_error(429, "temporarily_unavailable");
    // Other clients are served meanwhile.
    assert_eq!(
        attempt(&app, &other_id, &other_secret, None).await.status,
        200
    );
    // No longer than the window.
    app.clock.advance(61);
    assert_eq!(attempt(&app, &id, &secret, None).await.status, 200);
}

#[tokio::test]
async fn failures_are_counted_per_address_and_forwarded_for_only_from_trusted_proxies() {
    let app = spawn_with(|c| {
        c.client_auth.max_failures_per_ip = 3;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    // Guessing across many client ids from one address.
    for n in 0..3 {
        attempt(
            &app,
            &format!("guess-{n}"),
            "x".repeat(40).as_str(),
            Some("198.51.100.1"),
        )
        .await
        .assert_error(401, "invalid_client");
    }
    attempt(&app, &id, &secret, Some("198.51.100.1"))
        .await
        .assert_error(429, "temporarily_unavailable");
    // The same client from another address behind the proxy is fine.
    assert_eq!(
        attempt(&app, &id, &secret, Some("198.51.100.2"))
            .await
            .status,
        200
    );

    // Without trust, the header is ignored: every attempt counts against the peer itself.
    let untrusting = spawn_with(|c| c.client_auth.max_failures_per_ip = 3).await;
    let (id, secret) = untrusting.service_client("read").await;
    for n in 0..3 {
        let forged = format!("203.0.113.{n}");
        attempt(
            &untrusting,
            &format!("guess-{n}"),
            "x".repeat(40).as_str(),
            Some(&forged),
        )
        .await
        .assert_error(401, "invalid_client");
    }
    attempt(&untrusting, &id, &secret, Some("203.0.113.99"))
        .await
        .assert_error(429, "temporarily_unavailable");
}

fn host(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let app = spawn_with(|c| c.limits.max_header_bytes = 4096).await;
    let response = app
        .http
        .get(format!("{}/jwks.json", app.base))
        .header("x-padding", "a".repeat(8192))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let small = app
        .http
        .get(format!("{}/jwks.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
}

#[tokio::test]
async fn slow_clients_time_out_while_others_are_served() {
    let app = spawn_with(|c| {
        c.limits.header_timeout = Seconds(1);
        c.limits.request_timeout = Seconds(2);
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    let addr = host(&app);
    // Ten connections that dribble headers, ten that send half a body.
    let slow_headers: Vec<_> = (0..10)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(b"POST /token HTTP/1.1\r\nhost: x\r\n").unwrap();
            s
        })
        .collect();
    let slow_bodies: Vec<_> = (0..10)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(
                b"POST /token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type",
            )
            .unwrap();
            s
        })
        .collect();
    assert_eq!(app.client_credentials(&id, &secret).await.status, 200);
    let start = Instant::now();
    let outcomes = tokio::task::spawn_blocking(move || {
        let mut closed = 0;
        for mut s in slow_headers {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            // The server closes the connection (possibly after a 408): the read ends.
            if s.read_to_end(&mut buf).is_ok() {
                closed += 1;
            }
        }
        let mut timed_out = 0;
        for mut s in slow_bodies {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if text.starts_with("HTTP/1.1 408") {
                timed_out += 1;
            }
        }
        (closed, timed_out)
    })
    .await
    .unwrap();
    assert_eq!(outcomes, (10, 10));
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(app.client_credentials(&id, &secret).await.status, 200);
}

#[tokio::test]
async fn metrics_and_request_ids_follow_the_traffic() {
    let app = spawn_with(|_| {}).await;
    let (id, secret) = app.service_client("read").await;
    let ok = app.client_credentials(&id, &secret).await;
    assert_eq!(ok.status, 200);
    let generated = ok.header("x-request-id").unwrap().to_owned();
    assert_eq!(generated.len(), 24);
    let again = app.client_credentials(&id, &secret).await;
    assert_ne!(again.header("x-request-id").unwrap(), generated);
    attempt(&app, &id, "wrong-secret-wrong-secret-wrong-secret", None)
        .await
        .assert_error(401, "invalid_client");
    let echoed = app
        .http
        .get(format!("{}/jwks.json", app.base))
        .header("x-request-id", "trace-abc_123.4")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc_123.4");
    let replaced = app
        .http
        .get(format!("{}/jwks.json", app.base))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id\twith spaces");

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    for line in [
        "portcullis_http_requests_total{endpoint=\"/token\",status=\"200\"} 2",
        "portcullis_http_requests_total{endpoint=\"/token\",status=\"401\"} 1",
        "portcullis_http_requests_total{endpoint=\"/jwks.json\",status=\"200\"} 2",
        "portcullis_tokens_issued_total{grant=\"client_credentials\"} 2",
        "portcullis_client_authentication_failures_total 1",
        "portcullis_http_request_duration_seconds_count{endpoint=\"/token\"} 3",
        "portcullis_database_connections_max ",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let live = app
        .http
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = app
        .http
        .get(format!("{}/health/ready", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn cors_is_public_for_metadata_and_only_for_configured_origins_elsewhere() {
    let app =
        spawn_with(|c| c.cors.allowed_origins = vec!["https://spa.example".parse().unwrap()]).await;
    let (id, secret) = app.service_client("read").await;
    let jwks = app
        .http
        .get(format!("{}/jwks.json", app.base))
        .header("origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");

    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/token", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://spa.example").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    assert!(
        allowed.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // A browser client using DPoP sends the DPoP header and reads DPoP-Nonce (RFC 9449), at the
    // token endpoint and at /par.
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("dpop"),
        "{:?}",
        allowed.headers()
    );
    let par = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/par", app.base))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(par.status(), 204);
    assert_eq!(
        par.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    let token = app
        .http
        .post(format!("{}/token", app.base))
        .header("origin", "https://spa.example")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(
        token.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("dpop-nonce")
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let token = |origin: &'static str| {
        app.token_request()
            .header("origin", origin)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
    };
    let ok = token("https://spa.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    assert_eq!(ok.headers()["vary"], "Origin");
    let other = token("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // None by default.
    let closed = spawn_with(|_| {}).await;
    let answer = closed
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/token", closed.base))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
}
