//! The refresh token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): every use returns a new
//! refresh token; a token used twice revokes its whole grant. With a grace period, a rotated token
//! may be exchanged once more within it (a lost response); the token that re-exchange replaces is
//! kept as superseded, and presenting it, or the old token a third time, revokes the grant.

use super::user_tokens::{UserGrant, mint_user_tokens};
use super::{invalid_grant, require_grant, store_error};
use crate::client::Client;
use crate::crypto::token_hash;
use crate::oauth::Issuer;
use crate::oauth::error::TokenError;
use crate::registry::Snapshot;
use crate::store::sign_in::FoundRefresh;
use portcullis_core::{ErrorCode, GrantType, Scope, TokenResponse};
use tracing::Instrument as _;

/// Exchanges a refresh token.
pub async fn exchange(
    issuer: &Issuer,
    snapshot: &Snapshot,
    client: &Client,
    refresh_token: &str,
    scope: Option<Scope>,
    audiences: &[String],
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    require_grant(client, GrantType::RefreshToken)?;
    let now = issuer.clock.now();
    let hash = token_hash(refresh_token);
    let store = issuer.store.as_ref();
    let FoundRefresh {
        refresh,
        grant,
        user,
    } = store
        .refresh_token(&hash)
        .instrument(crate::spans::db("refresh_token"))
        .await
        .map_err(store_error)?
        .ok_or_else(|| invalid_grant("the refresh token is not valid"))?;
    if grant.client_id != client.id.as_str() {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // Bound to a key, and no proof by it: a holder without the key. Refused without revoking
    // anything when the token is current (it cannot use it anyway). A token already rotated,
    // though, was used by someone: the same reuse as below, and the grant ends.
    if let Some(bound) = &grant.dpop_jkt
        && jkt != Some(bound.as_str())
    {
        if refresh.rotated_at.is_some() && grant.revoked_at.is_none() {
            return Err(revoke_family(issuer, client, &grant.grant_id, now.0).await);
        }
        return Err(TokenError::new(
            ErrorCode::InvalidDpopProof,
            "the refresh token is bound to a DPoP key: send a proof made with that key",
        ));
    }
    if grant.revoked_at.is_some() {
        return Err(invalid_grant("the refresh token has been revoked"));
    }
    if now.0 >= grant.expires_at || now.0 >= refresh.idle_expires_at {
        return Err(invalid_grant("the refresh token has expired"));
    }
    // A rotated token is a replay, except for one re-exchange within the grace period (a client
    // whose response was lost). A superseded token, or a second replay, revokes the whole grant:
    // the holder of the other token may be a thief, and only the grant's end stops both.
    let grace = match refresh.rotated_at {
        None => false,
        Some(at)
            if refresh.superseded_at.is_none()
                && refresh.grace_used_at.is_none()
                && issuer.user_tokens.refresh_grace > 0
                && now.0 <= at + issuer.user_tokens.refresh_grace as i64 =>
        {
            true
        }
        Some(_) => return Err(revoke_family(issuer, client, &grant.grant_id, now.0).await),
    };
    // A public client that starts using DPoP binds its grant's refresh tokens from then on
    // (RFC 9449 §5), once the token is known to be the current one.
    if let (None, Some(jkt)) = (&grant.dpop_jkt, jkt)
        && client.metadata.is_public()
        && !store
            .bind_grant_key(&grant.grant_id, jkt)
            .await
            .map_err(store_error)?
    {
        return Err(TokenError::new(
            ErrorCode::InvalidDpopProof,
            "the refresh token was bound to another DPoP key a moment ago",
        ));
    }
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
    let user = user
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| invalid_grant("the user no longer exists or is disabled"))?;
    let mut minted = mint_user_tokens(
        &issuer.tokens,
        &issuer.user_tokens,
        &snapshot.keys,
        now,
        &UserGrant {
            client,
            user: &user,
            scope: &scope,
            auth_time: grant.auth_time,
            nonce: None,
            grant_expires_at: grant.expires_at,
            audiences,
            jkt,
        },
    )?;
    // Rotation always issues a successor, whatever the narrowed scope says about offline_access.
    if minted.issued.refresh.is_none() {
        let replacement = mint_refresh_only(issuer, now.0, grant.expires_at)?;
        minted.response.refresh_token = Some(replacement.0);
        minted.issued.refresh = Some(replacement.1);
    }
    let rotated = store
        .rotate_refresh(&hash, now.0, &minted.issued, grace)
        .instrument(crate::spans::db("rotate_refresh"))
        .await
        .map_err(store_error)?;
    if !rotated {
        // Revoked while this exchange ran (by a reuse caught elsewhere, the user disabled): no
        // token, and no second revocation.
        if let Ok(Some(current)) = store.refresh_token(&hash).await
            && current.grant.revoked_at.is_some()
        {
            return Err(invalid_grant("the refresh token has been revoked"));
        }
        // Another exchange of the same token won a moment ago: the same token twice is a replay.
        return Err(revoke_family(issuer, client, &grant.grant_id, now.0).await);
    }
    Ok(minted.response)
}

/// Revokes the grant of a replayed refresh token and says so.
async fn revoke_family(issuer: &Issuer, client: &Client, grant_id: &str, now: i64) -> TokenError {
    if let Err(e) = issuer.store.revoke_grant(grant_id, now).await {
        return store_error(e);
    }
    issuer.revoked().await;
    tracing::warn!(
        target: "portcullis::audit",
        event = "refresh_family_revoked",
        reason = "reuse",
        client_id = %client.id,
        "refresh token reused; its grant is revoked"
    );
    invalid_grant("the refresh token was already used; the grant it belongs to is revoked")
}

fn mint_refresh_only(
    issuer: &Issuer,
    now: i64,
    grant_expires_at: i64,
) -> Result<(String, crate::store::sign_in::RefreshRow), TokenError> {
    let token = crate::crypto::random_token()?;
    let row = crate::store::sign_in::RefreshRow {
        token_hash: token_hash(&token),
        grant_id: String::new(),
        issued_at: now,
        idle_expires_at: (now + issuer.user_tokens.refresh_idle as i64).min(grant_expires_at),
        rotated_at: None,
        superseded_at: None,
        grace_used_at: None,
    };
    Ok((token, row))
}
