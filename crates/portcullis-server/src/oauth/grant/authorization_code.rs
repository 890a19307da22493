//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636): the code is checked against
//! everything it was bound to, then claimed in one conditional write. A code that comes back after
//! being used, with every binding right, revokes everything issued from it (RFC 9700 §4.5.3.1 /
//! OAuth 2.1 §4.1.3); a replay that fails a binding is only refused.

use super::user_tokens::{UserGrant, mint_user_tokens, new_grant};
use super::{invalid_grant, require_grant, store_error};
use crate::client::Client;
use crate::crypto::token_hash;
use crate::oauth::Issuer;
use crate::oauth::error::TokenError;
use crate::registry::Snapshot;
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::secret::constant_time_eq;
use portcullis_core::{GrantType, Scope, TokenResponse};
use tracing::Instrument as _;

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge, compared in constant time.
pub fn s256_matches(verifier: &str, challenge: &str) -> bool {
    let digest = digest::digest(&digest::SHA256, verifier.as_bytes());
    constant_time_eq(B64.encode(digest.as_ref()).as_bytes(), challenge.as_bytes())
}

/// What a token request presents with a code.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The code.
    pub code: &'a str,
    /// `redirect_uri`, if sent.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`, if sent.
    pub code_verifier: Option<&'a str>,
    /// The thumbprint of the DPoP proof's key, if a proof came with the request.
    pub jkt: Option<&'a str>,
}

/// Exchanges a code for tokens.
pub async fn exchange(
    issuer: &Issuer,
    snapshot: &Snapshot,
    client: &Client,
    presented: Presented<'_>,
    audiences: &[String],
) -> Result<TokenResponse, TokenError> {
    let Presented {
        code,
        redirect_uri,
        code_verifier,
        jkt,
    } = presented;
    require_grant(client, GrantType::AuthorizationCode)?;
    let now = issuer.clock.now();
    let hash = token_hash(code);
    let store = issuer.store.as_ref();
    let row = store
        .code(&hash)
        .instrument(crate::spans::db("code"))
        .await
        .map_err(store_error)?
        .ok_or_else(|| invalid_grant("the authorization code is not valid"))?;
    if row.client_id != client.id.as_str() {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    // Everything the code is bound to is checked before anything else happens, so a replay with a
    // made-up verifier or the wrong redirect_uri (which anyone who saw the code can send) changes
    // nothing. Only a replay that would otherwise have succeeded revokes what the code granted.
    match (row.redirect_uri_sent, redirect_uri) {
        (true, None) => return Err(invalid_grant("redirect_uri is missing")),
        (_, Some(given)) if given != row.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri differs from the one in the authorization request",
            ));
        }
        _ => {}
    }
    match (&row.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if s256_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
        // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    // A code bound to a DPoP key (dpop_jkt, RFC 9449 §10) is redeemed only with a proof by it.
    if let Some(bound) = &row.dpop_jkt
        && jkt != Some(bound.as_str())
    {
        return Err(TokenError::new(
            portcullis_core::ErrorCode::InvalidDpopProof,
            "the authorization code is bound to a DPoP key: send a proof made with that key",
        ));
    }
    if row.used_at.is_some() {
        store
            .revoke_grant_of_code(&hash, now.0)
            .await
            .map_err(store_error)?;
        issuer.revoked().await;
        tracing::warn!(
            target: "portcullis::audit",
            event = "code_reused",
            client_id = %client.id,
            "authorization code reused; its grant is revoked"
        );
        return Err(invalid_grant(
            "the authorization code was already used; tokens issued from it are revoked",
        ));
    }
    if now.0 >= row.expires_at {
        return Err(invalid_grant("the authorization code has expired"));
    }
    let user = store
        .user_by_id(&row.user_id)
        .await
        .map_err(store_error)?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| invalid_grant("the user no longer exists or is disabled"))?;
    let scope = Scope::parse(&row.scope).map_err(|e| TokenError::server(e.to_string()))?;
    let grant = new_grant(issuer, client, &row.user_id, &row.scope, row.auth_time, jkt)?;
    let minted = mint_user_tokens(
        &issuer.tokens,
        &issuer.user_tokens,
        &snapshot.keys,
        now,
        &UserGrant {
            client,
            user: &user,
            scope: &scope,
            auth_time: row.auth_time,
            nonce: row.nonce.as_deref(),
            grant_expires_at: grant.expires_at,
            audiences,
            jkt,
        },
    )?;
    let claimed = store
        .redeem_code(&hash, now.0, &grant, &minted.issued)
        .await
        .map_err(store_error)?;
    if !claimed {
        // Another request redeemed it a moment ago: the same code twice is treated as a replay.
        store
            .revoke_grant_of_code(&hash, now.0)
            .await
            .map_err(store_error)?;
        issuer.revoked().await;
        return Err(invalid_grant(
            "the authorization code was already used; tokens issued from it are revoked",
        ));
    }
    Ok(minted.response)
}
