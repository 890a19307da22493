//! `POST /introspect` (RFC 7662): the answer of `oauth::introspection` as JSON, never stored.

use super::AppState;
use super::error::{json_body, no_store};
use super::token::AuthenticatedForm;
use crate::oauth::error::TokenError;
use crate::oauth::introspection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// The handler.
pub async fn introspect(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Result<Response, TokenError> {
    let AuthenticatedForm {
        form,
        client,
        snapshot,
        ..
    } = authenticated;
    let answer = introspection::introspect(&state.issuer, &client, &snapshot, &form).await?;
    let mut response = json_body(StatusCode::OK, answer.to_string().into_bytes());
    no_store(&mut response);
    Ok(response)
}
