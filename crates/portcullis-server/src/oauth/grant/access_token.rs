//! Minting RFC 9068 JWT access tokens from the in-memory key set.

use crate::client::Client;
use crate::crypto::random_bytes;
use crate::keys::KeySet;
use crate::oauth::error::TokenError;
use crate::oauth::settings::TokenSettings;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{AccessTokenClaims, Audience, Scope, UnixTime};

/// A signed access token and what the response reports about it.
#[derive(Debug)]
pub struct MintedAccessToken {
    /// The compact JWT.
    pub jwt: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: i64,
}

/// Signs an access token for `client`, with `sub` as the subject, bound to the DPoP key with
/// thumbprint `jkt` when there is one (`cnf`, RFC 9449 §6.1).
#[allow(clippy::too_many_arguments)]
pub fn mint(
    settings: &TokenSettings,
    keys: &KeySet,
    now: UnixTime,
    client: &Client,
    sub: &str,
    scope: &Scope,
    audiences: Vec<String>,
    jkt: Option<&str>,
) -> Result<MintedAccessToken, TokenError> {
    let alg = client
        .metadata
        .access_token_signed_response_alg
        .unwrap_or(settings.default_alg);
    let key = keys
        .signer(alg, now)
        .ok_or_else(|| TokenError::server(format!("no active signing key for {alg}")))?;
    let jti = B64.encode(random_bytes::<16>().map_err(|e| TokenError::server(e.to_string()))?);
    let claims = AccessTokenClaims {
        iss: settings.issuer.clone(),
        sub: sub.to_owned(),
        aud: Audience::from_list(audiences),
        exp: now.plus(settings.access_token_lifetime).0,
        iat: now.0,
        jti: jti.clone(),
        client_id: client.id.as_str().to_owned(),
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        cnf: jkt.map(|jkt| portcullis_core::Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let jwt = key
        .sign_access_token(&claims)
        .map_err(|e| TokenError::server(format!("signing failed: {e}")))?;
    Ok(MintedAccessToken {
        jwt,
        expires_in: settings.access_token_lifetime,
        jti,
        expires_at: claims.exp,
    })
}
