//! `/health/live` and `/health/ready` for load balancers and orchestrators. Live means the process
//! answers; ready means it can also reach its database. Readiness follows the database both ways
//! without a restart: the pool drops dead connections and opens new ones on the next check.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How long a readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health/live`: always 200 while the process serves.
pub async fn live() -> Response {
    answer(StatusCode::OK, json!({"status": "live"}))
}

/// `GET /health/ready`: 200 when the database answers, 503 when it does not.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if database_ready(&state).await {
        answer(StatusCode::OK, json!({"status": "ready"}))
    } else {
        unready()
    }
}

/// Whether the database answers within the probe's timeout; also the `portcullis_ready` metric.
pub(crate) async fn database_ready(state: &AppState) -> bool {
    match tokio::time::timeout(READY_TIMEOUT, state.issuer.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: database unavailable");
            false
        }
        Err(_) => {
            tracing::warn!("not ready: database did not answer in time");
            false
        }
    }
}

fn unready() -> Response {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"status": "unready", "reason": "database unavailable"}),
    )
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
