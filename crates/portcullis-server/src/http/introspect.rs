//! `POST /introspect` (RFC 7662): an authenticated client learns whether a token is active. Anything
//! not valid, or not the caller's to see, is `{"active": false}` and nothing more (§2.2).

use super::AppState;
use super::error::{json_body, no_store};
use super::token::AuthenticatedForm;
use crate::bearer::verify_access_token;
use crate::client::Client;
use crate::error::TokenError;
use crate::grant::user_tokens::token_hash;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::{ErrorCode, TokenEndpointAuthMethod};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The handler.
pub async fn introspect(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Response {
    match handle(&state, authenticated).await {
        Ok(answer) => {
            let mut response = json_body(StatusCode::OK, answer.to_string().into_bytes());
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

/// A confidential client, as RFC 7662 §2.1 requires the caller to be authorized.
pub fn require_confidential(client: &Client) -> Result<(), TokenError> {
    if client.metadata.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::None) {
        return Err(TokenError::new(
            ErrorCode::InvalidClient,
            "a public client cannot use this endpoint",
        ));
    }
    Ok(())
}

/// The `token` parameter.
pub fn token_param(form: &portcullis_core::FormParams) -> Result<String, TokenError> {
    form.get("token")
        .map_err(|e| TokenError::invalid_request(e.to_string()))?
        .map(str::to_owned)
        .ok_or_else(|| TokenError::invalid_request("token is missing"))
}

async fn handle(state: &AppState, authenticated: AuthenticatedForm) -> Result<Value, TokenError> {
    let AuthenticatedForm {
        form,
        client,
        snapshot,
        ..
    } = authenticated;
    require_confidential(&client)?;
    let token = token_param(&form)?;
    // token_type_hint only orders the lookups (RFC 7662 §2.1); both kinds are always tried.
    let inactive = json!({ "active": false });
    let now = state.clock.now();
    let storage = |e: crate::store::StoreError| TokenError::server(format!("storage: {e}"));
    if let Some(claims) = verify_access_token(
        &token,
        &snapshot.keys,
        &state.tokens.issuer,
        now,
        state.max_token_lifetime(),
    ) {
        if !may_see(&client, &claims) {
            return Ok(inactive);
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if state
            .store
            .access_token_revoked(jti)
            .await
            .map_err(storage)?
        {
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
        ] {
            if let Some(v) = claims.get(name) {
                out.insert(name.into(), v.clone());
            }
        }
        out.insert("token_type".into(), json!("Bearer"));
        return Ok(Value::Object(out));
    }
    if token.contains('.') {
        return Ok(inactive);
    }
    let Some((refresh, grant)) = state
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
        "iss": state.tokens.issuer,
        "exp": refresh.idle_expires_at.min(grant.expires_at),
        "iat": refresh.issued_at,
        "token_type": "refresh_token",
    }))
}

/// A client may see its own tokens, and tokens meant for an audience it is registered for (a
/// resource server lists the audiences it serves in its `audience` metadata).
fn may_see(caller: &Client, claims: &Map<String, Value>) -> bool {
    if claims.get("client_id").and_then(Value::as_str) == Some(caller.id.as_str()) {
        return true;
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    audiences
        .iter()
        .any(|a| *a == caller.id.as_str() || caller.metadata.audience.iter().any(|c| c == a))
}
