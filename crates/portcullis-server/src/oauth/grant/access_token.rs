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

/// What an access token says beyond who it is for.
#[derive(Debug, Clone)]
pub struct Claims<'a> {
    /// The subject: the user, or the client itself.
    pub sub: &'a str,
    /// The granted scope.
    pub scope: &'a Scope,
    /// Its audiences.
    pub audiences: Vec<String>,
    /// The thumbprint of the DPoP key it is bound to (`cnf`, RFC 9449 §6.1), if any.
    pub jkt: Option<&'a str>,
    /// Who acts for the subject (`act`, RFC 8693 §4.1), if anyone.
    pub act: Option<serde_json::Value>,
    /// The latest `exp` it may have (an exchanged token never outlives its subject token).
    pub not_after: Option<i64>,
}

impl<'a> Claims<'a> {
    /// The claims of an ordinary grant.
    pub fn new(
        sub: &'a str,
        scope: &'a Scope,
        audiences: Vec<String>,
        jkt: Option<&'a str>,
    ) -> Self {
        Claims {
            sub,
            scope,
            audiences,
            jkt,
            act: None,
            not_after: None,
        }
    }
}

/// Signs an access token for `client`.
pub fn mint(
    settings: &TokenSettings,
    keys: &KeySet,
    now: UnixTime,
    client: &Client,
    claims: Claims<'_>,
) -> Result<MintedAccessToken, TokenError> {
    let Claims {
        sub,
        scope,
        audiences,
        jkt,
        act,
        not_after,
    } = claims;
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
        exp: not_after.map_or(now.plus(settings.access_token_lifetime).0, |limit| {
            limit.min(now.plus(settings.access_token_lifetime).0)
        }),
        iat: now.0,
        jti: jti.clone(),
        client_id: client.id.as_str().to_owned(),
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        cnf: jkt.map(|jkt| portcullis_core::Confirmation {
            jkt: jkt.to_owned(),
        }),
        act,
    };
    let jwt = key
        .sign_access_token(&claims)
        .map_err(|e| TokenError::server(format!("signing failed: {e}")))?;
    Ok(MintedAccessToken {
        jwt,
        expires_in: u64::try_from(claims.exp - now.0).unwrap_or(0),
        jti,
        expires_at: claims.exp,
    })
}
