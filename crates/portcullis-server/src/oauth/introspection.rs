//! Token introspection (RFC 7662): an authenticated client learns whether a token is active.
//! Anything not valid, or not the caller's to see, is `{"active": false}` and nothing more (§2.2).

use super::Issuer;
use super::bearer::VerifiedToken;
use super::error::TokenError;
use crate::client::Client;
use crate::crypto::token_hash;
use crate::registry::Snapshot;
use crate::store::sign_in::FoundRefresh;
use portcullis_core::{ErrorCode, FormParams, TokenEndpointAuthMethod};
use serde_json::{Map, Value, json};

/// The answer to an introspection request from `client`, as the JSON object §2.2 describes.
pub async fn introspect(
    issuer: &Issuer,
    client: &Client,
    snapshot: &Snapshot,
    form: &FormParams,
) -> Result<Value, TokenError> {
    require_confidential(client)?;
    let token = token_param(form)?;
    // token_type_hint only orders the lookups (RFC 7662 §2.1); both kinds are always tried.
    let inactive = json!({ "active": false });
    let now = issuer.clock.now();
    let storage = |e: crate::store::StoreError| TokenError::server(format!("storage: {e}"));
    if let Some(verified) = issuer.verify_access_token(&token, snapshot) {
        if !may_see(client, &verified) {
            return Ok(inactive);
        }
        if snapshot.is_denied(verified.jti()) {
            return Ok(inactive);
        }
        let mut out = Map::new();
        out.insert("active".into(), json!(true));
        for name in [
            "scope",
            "client_id",
            "sub",
            "aud",
            "iss",
            "exp",
            "iat",
            "jti",
            "cnf",
        ] {
            if let Some(v) = verified.claims().get(name) {
                out.insert(name.into(), v.clone());
            }
        }
        // RFC 9449 §6.2: a bound token says so, and `cnf.jkt` names its key.
        let token_type = if out.contains_key("cnf") {
            "DPoP"
        } else {
            "Bearer"
        };
        out.insert("token_type".into(), json!(token_type));
        return Ok(Value::Object(out));
    }
    if token.contains('.') {
        return Ok(inactive);
    }
    let Some(FoundRefresh { refresh, grant, .. }) = issuer
        .store
        .refresh_token(&token_hash(&token))
        .await
        .map_err(storage)?
    else {
        return Ok(inactive);
    };
    let live = refresh.rotated_at.is_none()
        && grant.revoked_at.is_none()
        && now.0 < refresh.idle_expires_at
        && now.0 < grant.expires_at;
    if !live || grant.client_id != client.id.as_str() {
        return Ok(inactive);
    }
    Ok(json!({
        "active": true,
        "scope": grant.scope,
        "client_id": grant.client_id,
        "sub": grant.user_id,
        "iss": issuer.issuer(),
        "exp": refresh.idle_expires_at.min(grant.expires_at),
        "iat": refresh.issued_at,
        "token_type": "refresh_token",
    }))
}

/// A confidential client, as RFC 7662 §2.1 requires the caller to be authorized.
fn require_confidential(client: &Client) -> Result<(), TokenError> {
    if client.metadata.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::None) {
        return Err(TokenError::new(
            ErrorCode::InvalidClient,
            "a public client cannot use this endpoint",
        ));
    }
    Ok(())
}

/// The `token` parameter of an introspection or revocation request.
pub(super) fn token_param(form: &FormParams) -> Result<String, TokenError> {
    form.get("token")
        .map_err(|e| TokenError::invalid_request(e.to_string()))?
        .map(str::to_owned)
        .ok_or_else(|| TokenError::invalid_request("token is missing"))
}

/// A client may see its own tokens, and tokens meant for an audience it is registered for (a
/// resource server lists the audiences it serves in its `audience` metadata).
fn may_see(caller: &Client, token: &VerifiedToken) -> bool {
    if token.text("client_id") == Some(caller.id.as_str()) {
        return true;
    }
    token
        .audiences()
        .iter()
        .any(|a| *a == caller.id.as_str() || caller.metadata.audience.iter().any(|c| c == a))
}
