//! The request-id middleware, which also times every request and records it in the metrics, and
//! `GET /metrics`, which renders them.

use super::AppState;
use crate::metrics::{ENDPOINTS, endpoint_index};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};
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

/// The id of the request this task is serving, if it runs inside [`Observe`].
pub fn current_request_id() -> Option<String> {
    REQUEST.try_with(|request| request.id.clone()).ok()
}

/// Runs `f` on the request this task is serving, if it runs inside [`Observe`].
pub fn with_current_request<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    REQUEST.try_with(f).ok()
}

/// The one middleware around every route (`Router::layer(ObserveLayer)`): wraps each in [`Observe`].
#[derive(Clone)]
pub struct ObserveLayer(pub Arc<AppState>);

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.0.clone(),
        }
    }
}

/// A route wrapped in the one middleware, which gives its requests ids, log context, CORS,
/// timing and metrics (`observe`, below).
///
/// A hand-written service rather than axum's `from_fn`: that boxes a clone of the route as the
/// `Next` of every request, besides the future, and clones the state twice; here the readied
/// route itself goes into the one boxed future.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    state: Arc<AppState>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was made ready is the one to call (tower's contract); a clone stays.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(observe(state, request, ready).await) })
    }
}

/// Gives every request an id (kept from `X-Request-Id` when it is a plain token, else made here)
/// and keeps it, with the method and endpoint, where every log line of the request finds it;
/// applies CORS ([`super::cors`]); returns the id in the answer's `X-Request-Id`; and records the
/// endpoint, status and latency.
///
/// One middleware, not one per concern: each layer costs a boxed future per request, which perf
/// showed on the token endpoint.
///
/// With text logs the request is also a `tracing` span, which tracing's text format prints. JSON
/// lines read the task-local instead: a span costs an allocation, a registry entry and two
/// reference-count updates on every poll of the request, a per cent or two of the token
/// endpoint's time (bench/compare.sh).
async fn observe<S>(state: Arc<AppState>, request: Request, inner: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
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
    let answer = super::cors::cors(&state, request, inner);
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
