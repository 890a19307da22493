//! The tokens a user grant yields, shared by the authorization code, device code and refresh token
//! grants: an access token, maybe a refresh token, and an ID token when `openid` was granted.

use super::access_token::{Claims, mint};
use crate::client::Client;
use crate::crypto::{random_token, token_hash};
use crate::keys::KeySet;
use crate::oauth::error::TokenError;
use crate::oauth::settings::{TokenSettings, UserTokenSettings};
use crate::store::sign_in::{GrantRow, IssuedAccessToken, IssuedTokens, RefreshRow, UserRow};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Algorithm, GrantType, Scope, TokenResponse, UnixTime};
use serde_json::{Map, Value, json};

/// What a user grant is about.
pub struct UserGrant<'a> {
    /// The client.
    pub client: &'a Client,
    /// The user.
    pub user: &'a UserRow,
    /// The scope of this token response.
    pub scope: &'a Scope,
    /// When the user authenticated.
    pub auth_time: i64,
    /// The OIDC nonce (only on the code exchange).
    pub nonce: Option<&'a str>,
    /// Absolute end of the grant; refresh tokens never outlive it.
    pub grant_expires_at: i64,
    /// The audiences asked for with `resource`/`audience` (none: every registered one).
    pub audiences: &'a [String],
    /// The DPoP key the access token is bound to, if the request had a proof.
    pub jkt: Option<&'a str>,
}

/// Minted tokens: the response for the client and what to store.
pub struct Minted {
    /// The token response.
    pub response: TokenResponse,
    /// The rows to write with the exchange.
    pub issued: IssuedTokens,
}

/// Whether this grant gets a refresh token: the client must be registered for the grant, and an
/// OpenID Connect request must include `offline_access` unless the client is set to get them anyway.
pub fn wants_refresh_token(client: &Client, scope: &Scope) -> bool {
    client
        .metadata
        .grant_types
        .contains(&GrantType::RefreshToken)
        && (!scope.contains("openid")
            || scope.contains("offline_access")
            || client.metadata.refresh_token_without_offline_access)
}

/// A new grant of `client` for a user who signed in at `auth_time`, starting now: what a code or
/// device code becomes when it is redeemed.
pub fn new_grant(
    issuer: &crate::oauth::Issuer,
    client: &Client,
    user_id: &str,
    scope: &str,
    auth_time: i64,
    jkt: Option<&str>,
) -> Result<GrantRow, TokenError> {
    let now = issuer.clock.now();
    Ok(GrantRow {
        grant_id: crate::crypto::random_id()?,
        client_id: client.id.to_string(),
        user_id: user_id.to_owned(),
        scope: scope.to_owned(),
        auth_time,
        created_at: now.0,
        expires_at: now.plus(issuer.user_tokens.refresh_absolute).0,
        revoked_at: None,
        // A public client's refresh tokens are bound to its DPoP key (RFC 9449 §5): it has no
        // credentials of its own to prove who refreshes.
        dpop_jkt: jkt
            .filter(|_| client.metadata.is_public())
            .map(str::to_owned),
    })
}

/// Mints the access token, the refresh token (when wanted) and the ID token (when `openid`).
pub fn mint_user_tokens(
    settings: &TokenSettings,
    user_settings: &UserTokenSettings,
    keys: &KeySet,
    now: UnixTime,
    grant: &UserGrant<'_>,
) -> Result<Minted, TokenError> {
    let audiences = super::audiences_for(&settings.issuer, grant.client, grant.audiences.to_vec())?;
    let access = mint(
        settings,
        keys,
        now,
        grant.client,
        Claims::new(&grant.user.user_id, grant.scope, audiences, grant.jkt),
    )?;
    let refresh_token = if wants_refresh_token(grant.client, grant.scope) {
        Some(random_token()?)
    } else {
        None
    };
    let refresh = refresh_token.as_ref().map(|t| RefreshRow {
        token_hash: token_hash(t),
        grant_id: String::new(),
        issued_at: now.0,
        idle_expires_at: now
            .plus(user_settings.refresh_idle)
            .0
            .min(grant.grant_expires_at),
        rotated_at: None,
        superseded_at: None,
        grace_used_at: None,
    });
    let id_token = if grant.scope.contains("openid") {
        Some(id_token(
            settings,
            user_settings,
            keys,
            now,
            grant,
            &access.jwt,
        )?)
    } else {
        None
    };
    Ok(Minted {
        response: TokenResponse {
            access_token: access.jwt,
            token_type: super::token_type(grant.jkt),
            expires_in: access.expires_in,
            scope: (!grant.scope.is_empty()).then(|| grant.scope.to_string()),
            refresh_token,
            id_token,
            issued_token_type: None,
        },
        issued: IssuedTokens {
            refresh,
            access: IssuedAccessToken {
                jti: access.jti,
                expires_at: access.expires_at,
            },
        },
    })
}

/// The user's claims for the granted scope (OpenID Connect Core §5.4), shared with `/userinfo`.
pub fn profile_claims(user: &UserRow, scope: &Scope, out: &mut Map<String, Value>) {
    if scope.contains("profile") {
        out.insert("preferred_username".into(), json!(user.username));
        for (name, value) in [
            ("name", &user.name),
            ("given_name", &user.given_name),
            ("family_name", &user.family_name),
        ] {
            if let Some(v) = value {
                out.insert(name.into(), json!(v));
            }
        }
    }
    if let Some(email) = user.email.as_ref().filter(|_| scope.contains("email")) {
        out.insert("email".into(), json!(email));
        out.insert("email_verified".into(), json!(user.email_verified));
    }
}

fn id_token(
    settings: &TokenSettings,
    user_settings: &UserTokenSettings,
    keys: &KeySet,
    now: UnixTime,
    grant: &UserGrant<'_>,
    access_token: &str,
) -> Result<String, TokenError> {
    let alg = grant
        .client
        .metadata
        .id_token_signed_response_alg
        .unwrap_or(user_settings.id_token_alg);
    let key = keys
        .signer(alg, now)
        .ok_or_else(|| TokenError::server(format!("no active signing key for {alg}")))?;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(settings.issuer));
    claims.insert("sub".into(), json!(grant.user.user_id));
    claims.insert("aud".into(), json!(grant.client.id.as_str()));
    claims.insert("azp".into(), json!(grant.client.id.as_str()));
    claims.insert(
        "exp".into(),
        json!(now.plus(user_settings.id_token_lifetime).0),
    );
    claims.insert("iat".into(), json!(now.0));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(nonce) = grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("at_hash".into(), json!(at_hash(alg, access_token)));
    profile_claims(grant.user, grant.scope, &mut claims);
    key.sign_id_token(&claims)
        .map_err(|e| TokenError::server(format!("signing failed: {e}")))
}

/// OpenID Connect Core §3.1.3.6: the left half of the hash of the access token, with the hash the
/// signing algorithm uses (SHA-512 for Ed25519).
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let algorithm = match alg {
        Algorithm::ES256 | Algorithm::RS256 => &digest::SHA256,
        Algorithm::EdDSA => &digest::SHA512,
    };
    let hash = digest::digest(algorithm, access_token.as_bytes());
    let bytes = hash.as_ref();
    B64.encode(&bytes[..bytes.len() / 2])
}
