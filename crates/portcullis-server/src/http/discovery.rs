//! Authorization server metadata (RFC 8414, also served at the OpenID Connect Discovery path) and
//! the JWKS (RFC 7517) with every published key.

use super::AppState;
use super::error::json_body;
use crate::oauth::grant::access_token::TokenSettings;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use portcullis_core::{Algorithm, TokenRequest};
use serde_json::json;
use std::sync::Arc;

/// The metadata document, built once at start.
pub fn metadata_document(tokens: &TokenSettings) -> serde_json::Value {
    let issuer = &tokens.issuer;
    let algs: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "jwks_uri": format!("{issuer}/jwks.json"),
        "grant_types_supported": TokenRequest::SUPPORTED.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
            "preferred_username", "name", "given_name", "family_name", "email", "email_verified"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "access_token_signing_alg_values_supported": algs,
    })
}

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
