//! Token Exchange (RFC 8693): a client trades a token it was given (the subject token) for one
//! meant for another audience, acting as the subject (impersonation) or, with an actor token, on
//! its behalf (delegation, with the `act` claim). Only Portcullis's own tokens are taken.
//!
//! The policy lives in the exchanging client's metadata: its `grant_types` must include the
//! grant; it may ask only for audiences in its own `audience` list; and the subject token must
//! have been issued to it, or be meant for one of its audiences. The new token never has more
//! scope than the subject token, nor outlives it. No client may exchange by default.

use super::access_token::{Claims, mint};
use super::require_grant;
use crate::client::Client;
use crate::oauth::Issuer;
use crate::oauth::bearer::{VerifiedToken, issued_to_current_client, verify_signed};
use crate::oauth::error::TokenError;
use crate::registry::Snapshot;
use portcullis_core::{ErrorCode, GrantType, Scope, Secret, TokenResponse, TokenTypeId};
use serde_json::{Value, json};

/// The parts of the request the exchange reads.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The subject token and its type.
    pub subject: (&'a Secret, TokenTypeId),
    /// The actor token and its type, for delegation.
    pub actor: Option<(&'a Secret, TokenTypeId)>,
    /// What is asked for.
    pub requested: Option<TokenTypeId>,
    /// The scope asked for.
    pub scope: Option<Scope>,
    /// The audiences asked for.
    pub audiences: &'a [String],
    /// The thumbprint of the request's DPoP key, if it had a proof.
    pub jkt: Option<&'a str>,
}

fn invalid(description: &str) -> TokenError {
    TokenError::invalid_request(description)
}

/// One of our tokens, checked as the type it claims to be: an access token (`at+jwt`), or for
/// `jwt` any JWT we signed (an access token or an ID token); ours, unexpired, not revoked.
fn verified(
    issuer: &Issuer,
    snapshot: &Snapshot,
    token: &Secret,
    kind: TokenTypeId,
    name: &str,
) -> Result<VerifiedToken, TokenError> {
    let now = issuer.clock.now();
    let lifetime = issuer.max_token_lifetime();
    let token = token.expose();
    let found = match kind {
        TokenTypeId::AccessToken => issuer
            .verify_access_token(token, snapshot)
            .map(|t| (*t).clone()),
        TokenTypeId::Jwt => ["at+jwt", "JWT"].iter().find_map(|typ| {
            verify_signed(token, &snapshot.keys, now, lifetime, typ).filter(|t| {
                t.text("iss") == Some(issuer.issuer())
                    && t.time("exp").is_some_and(|e| e > now.0)
                    && issued_to_current_client(t, snapshot)
            })
        }),
    };
    let found = found.ok_or_else(|| {
        invalid(&format!(
            "the {name} is not a valid, unexpired token of this issuer"
        ))
    })?;
    if snapshot.is_denied(found.jti()) {
        return Err(invalid(&format!("the {name} has been revoked")));
    }
    Ok(found)
}

/// Exchanges the subject token for a new access token.
pub fn exchange(
    issuer: &Issuer,
    snapshot: &Snapshot,
    client: &Client,
    request: Exchange<'_>,
) -> Result<TokenResponse, TokenError> {
    if client.metadata.is_public() {
        return Err(TokenError::new(
            ErrorCode::UnauthorizedClient,
            "a public client cannot exchange tokens",
        ));
    }
    require_grant(client, GrantType::TokenExchange)?;
    let subject = verified(
        issuer,
        snapshot,
        request.subject.0,
        request.subject.1,
        "subject_token",
    )?;
    // A token bound to a key goes on only with a proof by that key.
    if let Some(jkt) = subject
        .claims()
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
        && request.jkt != Some(jkt)
    {
        return Err(TokenError::new(
            ErrorCode::InvalidDpopProof,
            "the subject_token is bound to a DPoP key: send a proof made with that key",
        ));
    }
    let own = &client.metadata.audience;
    let issued_to_it = subject.text("client_id") == Some(client.id.as_str());
    let meant_for_it = subject
        .audiences()
        .iter()
        .any(|a| own.iter().any(|o| o == a));
    if !(issued_to_it || meant_for_it) {
        return Err(invalid(
            "the subject_token was neither issued to this client nor meant for one of its audiences",
        ));
    }
    // The new audiences: those asked for, each registered for the client; else all of them.
    if own.is_empty() {
        return Err(TokenError::new(
            ErrorCode::InvalidTarget,
            "this client has no audience to exchange tokens for (its audience metadata is empty)",
        ));
    }
    let audiences = if request.audiences.is_empty() {
        own.clone()
    } else {
        for aud in request.audiences {
            if !own.contains(aud) {
                return Err(TokenError::new(
                    ErrorCode::InvalidTarget,
                    format!("audience not allowed for this client: {aud}"),
                ));
            }
        }
        request.audiences.to_vec()
    };
    let granted = subject.scope();
    let scope = match request.scope {
        None => granted,
        Some(asked) if asked.is_subset_of(&granted) => asked,
        Some(_) => {
            return Err(TokenError::new(
                ErrorCode::InvalidScope,
                "an exchange may narrow the subject token's scope, not widen it",
            ));
        }
    };
    // Delegation: the actor now, the subject's earlier actors nested inside (RFC 8693 §4.1).
    let earlier = subject.claims().get("act").cloned();
    let act = match request.actor {
        None => earlier,
        Some((token, kind)) => {
            let actor = verified(issuer, snapshot, token, kind, "actor_token")?;
            let mut act = json!({ "sub": actor.sub() });
            if let Some(id) = actor.text("client_id") {
                act["client_id"] = json!(id);
            }
            if let Some(earlier) = earlier {
                act["act"] = earlier;
            }
            Some(act)
        }
    };
    let minted = mint(
        &issuer.tokens,
        &snapshot.keys,
        issuer.clock.now(),
        client,
        Claims {
            sub: subject.sub(),
            scope: &scope,
            audiences,
            jkt: request.jkt,
            act,
            not_after: subject.time("exp"),
        },
    )?;
    let issued = request.requested.unwrap_or(TokenTypeId::AccessToken);
    Ok(TokenResponse {
        access_token: minted.jwt,
        token_type: super::token_type(request.jkt),
        expires_in: minted.expires_in,
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        refresh_token: None,
        id_token: None,
        issued_token_type: Some(issued.as_str().to_owned()),
    })
}
