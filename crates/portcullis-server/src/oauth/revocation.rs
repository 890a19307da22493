//! Token revocation (RFC 7009): a client revokes one of its own tokens. A refresh token takes its
//! whole grant with it; an access token goes on a deny list until it would have expired.
//!
//! §2.1: confidential clients authenticate; a public client (a single-page or native app ending
//! its session at logout) names itself with `client_id`, and may revoke only tokens issued to it.
//! A valid token issued to another client is refused with `unauthorized_client` and left alone.
//! Unknown, expired or already revoked tokens succeed and change nothing (§2.2).

use super::Issuer;
use super::bearer::verify_signed;
use super::error::TokenError;
use super::introspection::token_param;
use crate::client::Client;
use crate::crypto::token_hash;
use crate::registry::Snapshot;
use crate::store::sign_in::FoundRefresh;
use portcullis_core::{ErrorCode, FormParams};
use tracing::Instrument as _;

/// Revokes the token named in `form` on behalf of `client`.
pub async fn revoke(
    issuer: &Issuer,
    client: &Client,
    snapshot: &Snapshot,
    form: &FormParams,
) -> Result<(), TokenError> {
    let token = token_param(form)?;
    let now = issuer.clock.now();
    let storage = |e: crate::store::StoreError| TokenError::server(format!("storage: {e}"));
    let not_yours = || {
        TokenError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        )
    };
    if let Some(verified) = verify_signed(
        &token,
        &snapshot.keys,
        now,
        issuer.max_token_lifetime(),
        "at+jwt",
    ) {
        let own = verified.text("client_id") == Some(client.id.as_str());
        let exp = verified.time("exp").unwrap_or(0);
        if exp <= now.0 {
            // Expired: already invalid, nothing to do.
            return Ok(());
        }
        if !own {
            return Err(not_yours());
        }
        if let Some(jti) = verified.text("jti") {
            issuer
                .store
                .revoke_access_token(jti, exp)
                .instrument(crate::spans::db("revoke_access_token"))
                .await
                .map_err(storage)?;
            issuer.revoked().await;
            tracing::info!(client_id = %client.id, "access token revoked");
        }
        return Ok(());
    }
    let found = issuer
        .store
        .refresh_token(&token_hash(&token))
        .instrument(crate::spans::db("refresh_token"))
        .await
        .map_err(storage)?;
    // Any refresh token of a live grant, rotated or not, ends the grant when its client asks.
    let Some(FoundRefresh { grant, .. }) = found else {
        return Ok(());
    };
    if grant.revoked_at.is_some() || now.0 >= grant.expires_at {
        return Ok(());
    }
    if grant.client_id != client.id.as_str() {
        return Err(not_yours());
    }
    issuer
        .store
        .revoke_grant(&grant.grant_id, now.0)
        .instrument(crate::spans::db("revoke_grant"))
        .await
        .map_err(storage)?;
    issuer.revoked().await;
    tracing::info!(
        target: "portcullis::audit",
        event = "refresh_family_revoked",
        reason = "revocation",
        client_id = %client.id,
        "refresh token family revoked"
    );
    Ok(())
}
