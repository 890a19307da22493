//! `POST /revoke` (RFC 7009): a client revokes one of its own tokens. A refresh token takes its
//! whole grant with it; an access token goes on a deny list until it would have expired.
//!
//! §2.1: confidential clients authenticate; a public client (a single-page or native app ending
//! its session at logout) names itself with `client_id`, and may revoke only tokens issued to it.
//! A valid token issued to another client is refused with `unauthorized_client` and left alone.
//! Unknown, expired or already revoked tokens get 200 and change nothing (§2.2).

use super::AppState;
use super::error::no_store;
use super::introspect::token_param;
use super::token::AuthenticatedForm;
use crate::bearer::verify_signed;
use crate::error::TokenError;
use crate::grant::user_tokens::token_hash;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::ErrorCode;
use serde_json::Value;
use std::sync::Arc;

/// The handler.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Response {
    match handle(&state, authenticated).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &AppState, authenticated: AuthenticatedForm) -> Result<(), TokenError> {
    let AuthenticatedForm {
        form,
        client,
        snapshot,
        ..
    } = authenticated;
    let token = token_param(&form)?;
    let now = state.clock.now();
    let storage = |e: crate::store::StoreError| TokenError::server(format!("storage: {e}"));
    let not_yours = || {
        TokenError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        )
    };
    if let Some(claims) = verify_signed(
        &token,
        &snapshot.keys,
        now,
        state.max_token_lifetime(),
        "at+jwt",
    ) {
        let own = claims.get("client_id").and_then(Value::as_str) == Some(client.id.as_str());
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now.0 {
            // Expired: already invalid, nothing to do.
            return Ok(());
        }
        if !own {
            return Err(not_yours());
        }
        if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
            state
                .store
                .revoke_access_token(jti, exp)
                .await
                .map_err(storage)?;
            tracing::info!(client_id = %client.id, "access token revoked");
        }
        return Ok(());
    }
    let found = state
        .store
        .refresh_token(&token_hash(&token))
        .await
        .map_err(storage)?;
    // Any refresh token of a live grant, rotated or not, ends the grant when its client asks.
    let Some((_, grant)) = found else {
        return Ok(());
    };
    if grant.revoked_at.is_some() || now.0 >= grant.expires_at {
        return Ok(());
    }
    if grant.client_id != client.id.as_str() {
        return Err(not_yours());
    }
    state
        .store
        .revoke_grant(&grant.grant_id, now.0)
        .await
        .map_err(storage)?;
    tracing::info!(
        target: "portcullis::audit",
        event = "refresh_family_revoked",
        reason = "revocation",
        client_id = %client.id,
        "refresh token family revoked"
    );
    Ok(())
}
