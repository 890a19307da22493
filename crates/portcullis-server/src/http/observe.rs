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
    let issuer = &state.issuer;
    let now = issuer.clock.now();
    let keys = issuer.registry.snapshot();
    let gauges = crate::metrics::Gauges {
        pool: Some(issuer.store.pool_stats()),
        signing_key_ages: portcullis_core::Algorithm::ALL
            .into_iter()
            .filter_map(|alg| {
                let key = keys.keys.active(alg, now)?;
                Some((alg.as_str(), now.0 - key.activates_at.0))
            })
            .collect(),
        locked_keys: issuer.sign_in_throttle.locked_keys(),
        ready: super::health::database_ready(&state).await,
    };
    let body = issuer.metrics.render(&gauges);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// What every log line written while serving a request says about it: the `span` object of a JSON
/// line (`portcullis`'s `json_lines`), read through [`with_current_request`].
#[derive(Debug)]
pub struct RequestContext {
    /// The request id, as returned in `X-Request-Id`.
    pub id: String,
    /// The HTTP method.
    pub method: axum::http::Method,
    /// The endpoint's path, or `other`.
    pub endpoint: &'static str,
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// The id of the request this task is serving, if it runs inside [`observe`].
pub fn current_request_id() -> Option<String> {
    REQUEST.try_with(|request| request.id.clone()).ok()
}

/// Runs `f` on the request this task is serving, if it runs inside [`observe`].
pub fn with_current_request<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    REQUEST.try_with(f).ok()
}

/// Gives every request an id (kept from `X-Request-Id` when it is a plain token, else made here)
/// and keeps it, with the method and endpoint, where every log line of the request finds it;
/// applies CORS ([`super::cors`]); returns the id in the answer's `X-Request-Id`; and records the
/// endpoint, status and latency.
///
/// One middleware, not one per concern: each `from_fn` layer clones and boxes the inner service
/// for every request, which perf showed on the token endpoint.
///
/// With text logs the request is also a `tracing` span, which tracing's text format prints. JSON
/// lines read the task-local instead: a span costs an allocation, a registry entry and two
/// reference-count updates on every poll of the request, a per cent or two of the token
/// endpoint's time (bench/compare.sh).
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
    let context = RequestContext {
        id,
        method: request.method().clone(),
        endpoint: ENDPOINTS.get(endpoint).copied().unwrap_or("other"),
    };
    let request_id = HeaderValue::from_str(&context.id).ok();
    let answer = super::cors::cors(&state, request, next);
    let mut response = if state.request_spans {
        // `otel.*` name and kind the span for OpenTelemetry (tracing-opentelemetry reads them).
        let span = if crate::spans::otel() {
            tracing::info_span!(
                "request",
                otel.name = format!("{} {}", context.method, context.endpoint),
                otel.kind = "server",
                request_id = %context.id,
                method = %context.method,
                endpoint = context.endpoint,
            )
        } else {
            tracing::info_span!(
                "request",
                request_id = %context.id,
                method = %context.method,
                endpoint = context.endpoint,
            )
        };
        REQUEST.scope(context, answer.instrument(span)).await
    } else {
        REQUEST.scope(context, answer).await
    };
    if let Some(value) = request_id {
        response.headers_mut().insert("x-request-id", value);
    }
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    state
        .issuer
        .metrics
        .record(endpoint, response.status(), micros);
    response
}
