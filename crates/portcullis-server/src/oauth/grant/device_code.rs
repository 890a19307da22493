//! The Device Authorization Grant's token request (RFC 8628 §3.4, §3.5): the device polls with its
//! device code until the person at `/device` has decided. Each poll is one conditional write that
//! records it and says whether it came too soon; the answers are exactly §3.5's:
//! `authorization_pending` while undecided, `slow_down` (and 5 seconds more from now on) for a poll
//! sooner than the interval, `access_denied` once denied, `expired_token` once expired. An
//! approved request gives the tokens of the code flow once, claimed in one conditional write.

use super::user_tokens::{UserGrant, mint_user_tokens, new_grant};
use super::{invalid_grant, require_grant, store_error};
use crate::client::Client;
use crate::crypto::token_hash;
use crate::oauth::Issuer;
use crate::oauth::error::TokenError;
use crate::registry::Snapshot;
use portcullis_core::{ErrorCode, GrantType, Scope, TokenResponse};

/// Answers one poll.
pub async fn poll(
    issuer: &Issuer,
    snapshot: &Snapshot,
    client: &Client,
    device_code: &str,
    audiences: &[String],
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    require_grant(client, GrantType::DeviceCode)?;
    let now = issuer.clock.now();
    let hash = token_hash(device_code);
    let store = issuer.store.as_ref();
    let row = store
        .poll_device_code(&hash, client.id.as_str(), now.0)
        .await
        .map_err(store_error)?
        .ok_or_else(|| invalid_grant("the device code is not valid for this client"))?;
    if row.used_at.is_some() {
        return Err(invalid_grant("the device code has been used already"));
    }
    if now.0 >= row.expires_at {
        return Err(TokenError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired: start again with a new device authorization request",
        ));
    }
    if row.denied_at.is_some() {
        return Err(TokenError::new(
            ErrorCode::AccessDenied,
            "the user denied the request",
        ));
    }
    let (Some(user_id), Some(auth_time), Some(_)) = (&row.user_id, row.auth_time, row.approved_at)
    else {
        return Err(if row.slowed == 1 {
            TokenError::new(
                ErrorCode::SlowDown,
                format!(
                    "polling too often: wait {} seconds between polls from now on",
                    row.poll_interval
                ),
            )
        } else {
            TokenError::new(
                ErrorCode::AuthorizationPending,
                "the user has not yet approved the request",
            )
        });
    };
    let user = store
        .user_by_id(user_id)
        .await
        .map_err(store_error)?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| invalid_grant("the user no longer exists or is disabled"))?;
    let scope = Scope::parse(&row.scope).map_err(|e| TokenError::server(e.to_string()))?;
    let grant = new_grant(issuer, client, user_id, &row.scope, auth_time, jkt)?;
    let minted = mint_user_tokens(
        &issuer.tokens,
        &issuer.user_tokens,
        &snapshot.keys,
        now,
        &UserGrant {
            client,
            user: &user,
            scope: &scope,
            auth_time,
            nonce: None,
            grant_expires_at: grant.expires_at,
            audiences,
            jkt,
        },
    )?;
    let claimed = store
        .redeem_device_code(&hash, now.0, &grant, &minted.issued)
        .await
        .map_err(store_error)?;
    if !claimed {
        return Err(invalid_grant("the device code has been used already"));
    }
    Ok(minted.response)
}
