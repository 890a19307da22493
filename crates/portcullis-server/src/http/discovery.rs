//! Serves the authorization server metadata (`oauth::metadata`, RFC 8414, also at the OpenID Connect
//! Discovery path) and the JWKS (RFC 7517) with every published key.

use super::AppState;
use super::error::json_body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    let mut response = json_body(StatusCode::OK, state.metadata_json.to_vec());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /jwks.json`: every key that is pending, active, or retired but still verifying tokens.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let now = state.issuer.clock.now();
    let set = state
        .issuer
        .registry
        .snapshot()
        .keys
        .published(now, state.issuer.max_token_lifetime());
    let body = serde_json::to_vec(&set).unwrap_or_else(|_| b"{\"keys\":[]}".to_vec());
    let mut response = json_body(StatusCode::OK, body);
    // A cache must expire before a freshly rotated key starts signing.
    let max_age = (state.activation_delay / 2).min(300);
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
