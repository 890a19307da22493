//! Traces over OTLP/HTTP (feature `otel`; `.ci/run` runs this with `--features otel`): a small
//! OTLP receiver in the test gets one span per request, carrying its request id, with children
//! for signing and for the database.

use crate::helpers::{ServerProcess, create_client, portcullis};
use axum::routing::post;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// Every span the receiver got: (traceId, spanId, parentSpanId, name, attributes as key → value).
type Spans = Vec<(String, String, String, String, Vec<(String, String)>)>;

async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let store = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| async move {
            store
                .lock()
                .unwrap()
                .push(serde_json::from_slice::<Value>(&body).unwrap());
            axum::Json(serde_json::json!({}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, bodies)
}

fn spans(bodies: &[Value]) -> Spans {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut out = Vec::new();
    for body in bodies {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let attributes = span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| (text(&a["key"]), text(&a["value"]["stringValue"])))
                        .collect();
                    out.push((
                        text(&span["traceId"]),
                        text(&span["spanId"]),
                        text(&span["parentSpanId"]),
                        text(&span["name"]),
                        attributes,
                    ));
                }
            }
        }
    }
    out
}

// Two threads: the receiver must answer while the test thread waits for the server to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_a_span_with_its_request_id_and_children_for_signing_and_the_database() {
    let (collector, bodies) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = portcullis(dir.path());
    command
        .env("PORTCULLIS_OTEL_ENDPOINT", &collector)
        .env("PORTCULLIS_LOG_FORMAT", "json");
    let mut server = ServerProcess::start(command, dir.path());
    let (id, secret) = create_client(dir.path(), &["--scope", "read"]);
    server.wait_for_token_status(&id, &secret, 200).await;

    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let answer = http
        .post(format!("{}/token", server.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let request_id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = answer.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let revoked = http
        .post(format!("{}/revoke", server.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // Stopping sends what is queued.
    assert!(server.terminate().success());

    let spans = spans(&bodies.lock().unwrap());
    let find = |name: &str, request: Option<&str>| {
        spans
            .iter()
            .find(|s| {
                s.3 == name
                    && request
                        .is_none_or(|id| s.4.iter().any(|(k, v)| k == "request_id" && v == id))
            })
            .unwrap_or_else(|| panic!("no span {name} ({request:?}) in {spans:#?}"))
    };
    let token_span = find("POST /token", Some(&request_id));
    let sign = spans
        .iter()
        .find(|s| s.3 == "sign" && s.2 == token_span.1)
        .unwrap_or_else(|| panic!("no sign span under {token_span:?}: {spans:#?}"));
    assert_eq!(sign.0, token_span.0, "one trace");
    let revoke_span = find("POST /revoke", None);
    assert!(
        spans
            .iter()
            .any(|s| s.3 == "revoke_access_token" && s.2 == revoke_span.1 && s.0 == revoke_span.0),
        "no database span under {revoke_span:?}: {spans:#?}"
    );
}
