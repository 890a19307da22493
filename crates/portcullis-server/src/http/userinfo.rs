//! `GET/POST /userinfo` (OpenID Connect Core §5.3) behind a bearer access token, with RFC 6750
//! error answers.

use super::AppState;
use super::error::json_body;
use crate::bearer::verify_access_token;
use crate::error::BearerError;
use crate::grant::user_tokens::profile_claims;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use portcullis_core::{FormParams, Scope};
use serde_json::{Map, json};
use std::sync::Arc;

/// The handler.
pub async fn userinfo(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, BearerError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let from_body = if method == Method::POST {
        let bytes = axum::body::to_bytes(body, state.max_body_bytes)
            .await
            .unwrap_or_default();
        FormParams::parse(&bytes)
            .ok()
            .and_then(|f| f.get("access_token").ok().flatten().map(str::to_owned))
    } else {
        None
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return Err(BearerError::InvalidRequest("send the token once".into()));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => {
            return Err(BearerError::Missing("a bearer token is required".into()));
        }
    };
    let now = state.clock.now();
    let snapshot = state.registry.snapshot();
    let invalid = |d: &str| Err(BearerError::InvalidToken(d.into()));
    let Some(claims) = verify_access_token(
        &token,
        &snapshot.keys,
        &state.tokens.issuer,
        now,
        state.max_token_lifetime(),
    ) else {
        return invalid("the access token is invalid or expired");
    };
    let scope = claims
        .get("scope")
        .and_then(|s| s.as_str())
        .and_then(|s| Scope::parse(s).ok())
        .unwrap_or_default();
    if !scope.contains("openid") {
        return Err(BearerError::InsufficientScope(
            "the openid scope is required".into(),
        ));
    }
    let jti = claims
        .get("jti")
        .and_then(|j| j.as_str())
        .unwrap_or_default();
    match state.store.access_token_revoked(jti).await {
        Ok(false) => {}
        Ok(true) => return invalid("the access token has been revoked"),
        Err(error) => {
            tracing::error!(%error, "userinfo: cannot check revocation");
            return Err(BearerError::Unavailable);
        }
    }
    let sub = claims
        .get("sub")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    let user = match state.store.user_by_id(sub).await {
        Ok(Some(user)) => user,
        Ok(None) => return invalid("the user no longer exists"),
        Err(error) => {
            tracing::error!(%error, "userinfo: cannot read the user");
            return Err(BearerError::Unavailable);
        }
    };
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.user_id));
    profile_claims(&user, &scope, &mut out);
    let mut response = json_body(
        StatusCode::OK,
        serde_json::Value::Object(out).to_string().into_bytes(),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
