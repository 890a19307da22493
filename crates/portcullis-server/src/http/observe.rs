//! The request-id middleware, which also times every request and records it in the metrics, and
//! `GET /metrics`, which renders them.

use super::AppState;
use crate::metrics::{ENDPOINTS, endpoint_index};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tracing::Instrument;

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let body = state
        .issuer
        .metrics
        .render(Some(state.issuer.store.pool_stats()));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

tokio::task_local! {
    /// The id of the request being served, for answers that ask the caller to quote it.
    static REQUEST_ID: String;
}

/// The id of the request this task is serving, if it runs inside [`observe`].
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Gives every request an id (kept from `X-Request-Id` when it is a plain token, else made here),
/// runs it inside a span carrying that id so every log line names it, returns it in the answer's
/// `X-Request-Id`, and records the endpoint, status and latency.
pub async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = portcullis_core::Stopwatch::start();
    let endpoint = endpoint_index(request.uri().path());
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map_or_else(|| state.issuer.metrics.next_request_id(), str::to_owned);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        endpoint = ENDPOINTS.get(endpoint).copied().unwrap_or("other"),
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    state
        .issuer
        .metrics
        .record(endpoint, response.status(), micros);
    response
}
