//! `POST /revoke` (RFC 7009): 200 with no body once `oauth::revocation` has done its part.

use super::AppState;
use super::error::no_store;
use super::token::AuthenticatedForm;
use crate::oauth::error::TokenError;
use crate::oauth::revocation;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The handler.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Result<Response, TokenError> {
    let AuthenticatedForm {
        form,
        client,
        snapshot,
        ..
    } = authenticated;
    revocation::revoke(&state.issuer, &client, &snapshot, &form).await?;
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    Ok(response)
}
