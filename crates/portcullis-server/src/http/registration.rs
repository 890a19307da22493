//! `POST /register` (RFC 7591 §3) and `GET/PUT/DELETE /register/{client_id}` (RFC 7592), served
//! only with `[registration] enabled`: JSON in and out, the tokens as `Authorization: Bearer`.

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{json_body, no_store};
use crate::oauth::registration::{self, RegistrationError};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The token of `Authorization: Bearer TOKEN`, if that is what the header holds.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The body, up to `[limits] max_body_bytes`.
async fn read(state: &AppState, body: Body) -> Result<Bytes, RegistrationError> {
    axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| RegistrationError::TooLarge {
            limit: state.max_body_bytes,
        })
}

/// The body as a JSON object of metadata (RFC 7591 §3.1).
fn metadata(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Value, RegistrationError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(RegistrationError::InvalidClientMetadata(
            "send the metadata as application/json".into(),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| RegistrationError::InvalidClientMetadata(format!("the body is not JSON: {e}")))
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = json_body(status, body.to_string().into_bytes());
    no_store(&mut response);
    response
}

/// `POST /register`.
pub async fn register(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegistrationError> {
    let body = read(&state, body).await?;
    let metadata = metadata(&headers, &body)?;
    let registered = registration::register(&state.issuer, bearer(&headers), &metadata, ip).await?;
    Ok(json(StatusCode::CREATED, &registered.body))
}

/// `GET /register/{client_id}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegistrationError> {
    let registered = registration::read(&state.issuer, &client_id, bearer(&headers)).await?;
    Ok(json(StatusCode::OK, &registered.body))
}

/// `PUT /register/{client_id}`.
pub async fn update(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegistrationError> {
    let body = read(&state, body).await?;
    let metadata = metadata(&headers, &body)?;
    let token = bearer(&headers);
    let registered = registration::update(&state.issuer, &client_id, token, &metadata, ip).await?;
    Ok(json(StatusCode::OK, &registered.body))
}

/// `DELETE /register/{client_id}`: 204.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegistrationError> {
    registration::delete(&state.issuer, &client_id, bearer(&headers), ip).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    no_store(&mut response);
    Ok(response)
}

/// Any other method: 405 with the methods there are.
pub async fn not_allowed(allow: &'static str) -> Response {
    let mut response = json_body(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({
            "error": "invalid_request",
            "error_description": format!("this endpoint accepts {allow}"),
        })
        .to_string()
        .into_bytes(),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
