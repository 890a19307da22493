//! Surviving real servers: odd answers, errors, retries, timeouts, concurrency, expiry.

use crate::fake::{Answer, json, start};
use portcullis_client::{ClientCredentials, ClientError, Endpoint, TokenSource};
use portcullis_core::{ManualClock, UnixTime};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn source(url: &str) -> (TokenSource, ManualClock) {
    let clock = ManualClock::new(UnixTime(1_000_000));
    let credentials = ClientCredentials::new(Endpoint::TokenUrl(url.into()), "id", "secret")
        .timeout(Duration::from_millis(500))
        .retries(3, Duration::from_secs(10));
    (
        TokenSource::with_clock(credentials, Arc::new(clock.clone())),
        clock,
    )
}

#[tokio::test]
async fn odd_but_usable_answers_are_accepted() {
    let fake = start(vec![json(
        200,
        r#"{"access_token":"t1","expires_in":"3600","scope":"a","vendor":"x"}"#,
    )])
    .await;
    let (s, _) = source(&fake.url);
    let t = s.token().await.unwrap();
    assert_eq!(t.access_token.expose(), "t1");
    assert_eq!(t.token_type, "Bearer", "missing token_type means Bearer");
    assert_eq!(t.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!(t.raw["vendor"], "x", "extra fields are kept");
    let fake = start(vec![json(
        200,
        r#"{"access_token":"t2","token_type":"bearer"}"#,
    )])
    .await;
    let (s, _) = source(&fake.url);
    let t = s.token().await.unwrap();
    assert_eq!((t.token_type.as_str(), t.expires_in), ("Bearer", None));
}

#[tokio::test]
async fn errors_are_typed() {
    let body = r#"{"error":"invalid_client","error_description":"client authentication failed","error_uri":"https://d"}"#;
    let fake = start(vec![json(401, body)]).await;
    let (s, _) = source(&fake.url);
    let ClientError::OAuth {
        error,
        description,
        uri,
        status,
        body: raw,
    } = s.token().await.unwrap_err()
    else {
        panic!()
    };
    assert_eq!((error.as_str(), status), ("invalid_client", 401));
    assert_eq!(description.as_deref(), Some("client authentication failed"));
    assert_eq!(uri.as_deref(), Some("https://d"));
    assert_eq!(raw, body);
    assert_eq!(fake.hits(), 1, "a 4xx is not retried");

    let html = Answer {
        content_type: "text/html",
        ..json(404, "<html><body>Not Found</body></html>")
    };
    let fake = start(vec![html]).await;
    let (s, _) = source(&fake.url);
    let e = s.token().await.unwrap_err().to_string();
    assert!(e.contains("HTML page") && e.contains("404"), "{e}");

    let fake = start(vec![json(200, "")]).await;
    let (s, _) = source(&fake.url);
    assert!(
        s.token()
            .await
            .unwrap_err()
            .to_string()
            .contains("empty body")
    );
    let fake = start(vec![json(200, r#"{"error":"invalid_scope"}"#)]).await;
    let (s, _) = source(&fake.url);
    assert!(
        matches!(s.token().await, Err(ClientError::OAuth { status: 200, .. })),
        "an error in a 200"
    );
}

#[tokio::test]
async fn server_errors_and_429_are_retried_with_backoff() {
    let fake = start(vec![
        json(500, "{}"),
        json(503, "oops"),
        json(200, r#"{"access_token":"t"}"#),
    ])
    .await;
    let (s, _) = source(&fake.url);
    assert_eq!(s.token().await.unwrap().access_token.expose(), "t");
    assert_eq!(fake.hits(), 3);

    let limited = Answer {
        retry_after: Some("1"),
        ..json(429, r#"{"error":"slow_down"}"#)
    };
    let fake = start(vec![limited, json(200, r#"{"access_token":"t"}"#)]).await;
    let (s, _) = source(&fake.url);
    let started = Instant::now();
    assert!(s.token().await.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After honoured"
    );

    let fake = start(vec![json(500, "{}")]).await;
    let (s, _) = source(&fake.url);
    assert!(s.token().await.is_err());
    assert_eq!(fake.hits(), 3, "bounded: three attempts");
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let slow = Answer {
        delay: Duration::from_secs(3),
        ..json(200, r#"{"access_token":"late"}"#)
    };
    let fake = start(vec![slow]).await;
    let (s, _) = source(&fake.url);
    let e = s.token().await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Network { reason, .. } if reason.contains("timed out")),
        "{e}"
    );
    assert_eq!(fake.hits(), 3);
}

#[tokio::test]
async fn a_thousand_callers_share_one_request_and_its_result() {
    let slowish = Answer {
        delay: Duration::from_millis(100),
        ..json(200, r#"{"access_token":"shared","expires_in":600}"#)
    };
    let fake = start(vec![slowish]).await;
    let (s, _) = source(&fake.url);
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.token().await.map(|t| t.access_token.expose().to_owned())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "shared");
    }
    assert_eq!(fake.hits(), 1);

    let failing = Answer {
        delay: Duration::from_millis(100),
        ..json(400, r#"{"error":"invalid_client"}"#)
    };
    let fake = start(vec![failing]).await;
    let (s, _) = source(&fake.url);
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.token().await.is_err() }));
    }
    for t in tasks {
        assert!(t.await.unwrap(), "everyone gets the error");
    }
    assert_eq!(fake.hits(), 1);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let fake = start(vec![json(200, r#"{"access_token":"t","expires_in":3600}"#)]).await;
    let (s, clock) = source(&fake.url);
    s.token().await.unwrap();
    s.token().await.unwrap();
    assert_eq!(fake.hits(), 1, "cached");
    clock.advance(3539);
    s.token().await.unwrap();
    assert_eq!(fake.hits(), 1, "fresh until 60 s before expiry");
    clock.advance(1);
    s.token().await.unwrap();
    assert_eq!(fake.hits(), 2, "refreshed 60 s early");

    let fake = start(vec![json(200, r#"{"access_token":"t","expires_in":100}"#)]).await;
    let (s, clock) = source(&fake.url);
    s.token().await.unwrap();
    clock.advance(89);
    s.token().await.unwrap();
    assert_eq!(fake.hits(), 1);
    clock.advance(1);
    s.token().await.unwrap();
    assert_eq!(fake.hits(), 2, "skew is 10 % of a short lifetime");
}

#[tokio::test]
async fn an_unreachable_server_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let (s, _) = source(&url);
    let e = s.token().await.unwrap_err().to_string();
    assert!(
        e.contains("cannot reach") && e.contains("connection refused"),
        "{e}"
    );
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    // Followed, the 307 would re-send the credentials to where it points (here the same endpoint,
    // whose next answer is a token).
    let fake = start(vec![
        Answer {
            location: Some("/token"),
            ..json(307, "")
        },
        json(200, r#"{"access_token":"t","token_type":"Bearer"}"#),
    ])
    .await;
    let (s, _) = source(&fake.url);
    let e = s.token().await.unwrap_err();
    assert!(
        matches!(e, ClientError::Unexpected { status: 307, .. }),
        "{e:?}"
    );
    assert_eq!(fake.hits(), 1, "the redirect was followed");
}
