//! The refresh token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): every use returns a new
//! refresh token; a token used twice revokes its whole grant, unless the second use comes within
//! the configured grace period.

use super::user_tokens::{UserGrant, mint_user_tokens, token_hash};
use super::{invalid_grant, require_grant, store_error};
use crate::client::Client;
use crate::error::TokenError;
use crate::http::AppState;
use crate::registry::Snapshot;
use portcullis_core::{ErrorCode, GrantType, Scope, TokenResponse};

/// Exchanges a refresh token.
pub async fn exchange(
    state: &AppState,
    snapshot: &Snapshot,
    client: &Client,
    refresh_token: &str,
    scope: Option<Scope>,
) -> Result<TokenResponse, TokenError> {
    require_grant(client, GrantType::RefreshToken)?;
    let now = state.clock.now();
    let hash = token_hash(refresh_token);
    let store = state.store.as_ref();
    let (refresh, grant) = store
        .refresh_token(&hash)
        .await
        .map_err(store_error)?
        .ok_or_else(|| invalid_grant("the refresh token is not valid"))?;
    if grant.client_id != client.id.as_str() {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if grant.revoked_at.is_some() {
        return Err(invalid_grant("the refresh token has been revoked"));
    }
    if now.0 >= grant.expires_at || now.0 >= refresh.idle_expires_at {
        return Err(invalid_grant("the refresh token has expired"));
    }
    let within_grace = match refresh.rotated_at {
        None => false,
        Some(at)
            if state.user_tokens.refresh_grace > 0
                && now.0 <= at + state.user_tokens.refresh_grace as i64 =>
        {
            true
        }
        Some(_) => {
            store
                .revoke_grant(&grant.grant_id, now.0)
                .await
                .map_err(store_error)?;
            tracing::warn!(
                target: "portcullis::audit",
                event = "refresh_family_revoked",
                reason = "reuse",
                client_id = %client.id,
                "refresh token reused; its grant is revoked"
            );
            return Err(invalid_grant(
                "the refresh token was already used; the grant it belongs to is revoked",
            ));
        }
    };
    let granted = Scope::parse(&grant.scope).map_err(|e| TokenError::server(e.to_string()))?;
    let scope = match scope {
        None => granted,
        Some(asked) if asked.is_subset_of(&granted) => asked,
        Some(_) => {
            return Err(TokenError::new(
                ErrorCode::InvalidScope,
                "a refresh may narrow the scope of the grant, not widen it",
            ));
        }
    };
    let user = store
        .user_by_id(&grant.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| invalid_grant("the user no longer exists"))?;
    let mut minted = mint_user_tokens(
        &state.tokens,
        &state.user_tokens,
        &snapshot.keys,
        now,
        &UserGrant {
            client,
            user: &user,
            scope: &scope,
            auth_time: grant.auth_time,
            nonce: None,
            grant_expires_at: grant.expires_at,
        },
    )?;
    // Rotation always issues a successor, whatever the narrowed scope says about offline_access.
    if minted.issued.refresh.is_none() {
        let replacement = mint_refresh_only(state, now.0, grant.expires_at)?;
        minted.response.refresh_token = Some(replacement.0);
        minted.issued.refresh = Some(replacement.1);
    }
    let rotated = store
        .rotate_refresh(&hash, now.0, &minted.issued, within_grace)
        .await
        .map_err(store_error)?;
    if !rotated {
        store
            .revoke_grant(&grant.grant_id, now.0)
            .await
            .map_err(store_error)?;
        return Err(invalid_grant(
            "the refresh token was already used; the grant it belongs to is revoked",
        ));
    }
    Ok(minted.response)
}

fn mint_refresh_only(
    state: &AppState,
    now: i64,
    grant_expires_at: i64,
) -> Result<(String, crate::store::sign_in::RefreshRow), TokenError> {
    let token = super::user_tokens::random_token()?;
    let row = crate::store::sign_in::RefreshRow {
        token_hash: token_hash(&token),
        grant_id: String::new(),
        issued_at: now,
        idle_expires_at: (now + state.user_tokens.refresh_idle as i64).min(grant_expires_at),
        rotated_at: None,
    };
    Ok((token, row))
}
