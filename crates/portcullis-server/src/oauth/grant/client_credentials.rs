//! The client credentials grant (RFC 6749 §4.4). It reads only the in-memory registry: no database
//! access on this path, which is what lets one instance issue tens of thousands of tokens a second.

use super::access_token::{Claims, mint};
use crate::client::Client;
use crate::keys::KeySet;
use crate::oauth::error::TokenError;
use crate::oauth::settings::TokenSettings;
use portcullis_core::{ErrorCode, GrantType, Scope, TokenResponse, UnixTime};

/// Issues a token to an authenticated client.
///
/// `scope` must be a subset of the client's registered scope (omitted: its default scope). The
/// audiences requested with `resource` or `audience` must each be registered for the client; when
/// none is requested the token carries every registered audience, or the issuer when there is none.
pub fn issue(
    settings: &TokenSettings,
    keys: &KeySet,
    now: UnixTime,
    client: &Client,
    scope: Option<Scope>,
    audiences: Vec<String>,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    // A public client proves nothing about itself, so it cannot act on its own behalf.
    if client.metadata.is_public() {
        return Err(TokenError::new(
            ErrorCode::UnauthorizedClient,
            "a public client cannot use the client_credentials grant",
        ));
    }
    super::require_grant(client, GrantType::ClientCredentials)?;
    let scope = match scope {
        None => client.default_scope.clone(),
        Some(asked) if asked.is_subset_of(&client.scope) => asked,
        Some(asked) => {
            let refused: Vec<&str> = asked.iter().filter(|s| !client.scope.contains(s)).collect();
            return Err(TokenError::new(
                ErrorCode::InvalidScope,
                format!("scope not allowed for this client: {}", refused.join(" ")),
            ));
        }
    };
    let audiences = super::audiences_for(&settings.issuer, client, audiences)?;
    let token = mint(
        settings,
        keys,
        now,
        client,
        Claims::new(client.id.as_str(), &scope, audiences, jkt),
    )?;
    Ok(TokenResponse {
        access_token: token.jwt,
        token_type: super::token_type(jkt),
        expires_in: token.expires_in,
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}
