//! `POST /par` (RFC 9126 §2): a client pushes its authorization request, authenticated as at the
//! token endpoint, and gets a `request_uri` for `/authorize`.

use super::AppState;
use super::error::{json_body, no_store};
use super::token::AuthenticatedForm;
use crate::oauth::error::TokenError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// The handler.
pub async fn par(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Result<Response, TokenError> {
    let AuthenticatedForm {
        form,
        client,
        snapshot,
        dpop,
        ..
    } = authenticated;
    let pushed =
        crate::oauth::par::push(&state.issuer, &client, &snapshot, &form, dpop.as_deref()).await?;
    let body = serde_json::to_vec(&pushed)
        .map_err(|e| TokenError::server(format!("cannot serialize the response: {e}")))?;
    let mut answer = json_body(StatusCode::CREATED, body);
    no_store(&mut answer);
    super::token::next_dpop_nonce(&state, &mut answer, dpop.is_some());
    Ok(answer)
}

/// Any other method: 405 (RFC 9126 §2.3), with the RFC 6749 §5.2 body.
pub async fn not_post() -> Response {
    let mut answer = json_body(
        StatusCode::METHOD_NOT_ALLOWED,
        br#"{"error":"invalid_request","error_description":"this endpoint accepts only POST"}"#
            .to_vec(),
    );
    answer.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("POST"),
    );
    no_store(&mut answer);
    answer
}
