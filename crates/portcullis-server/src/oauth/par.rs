//! Pushed authorization requests (RFC 9126): a client POSTs its authorization request, with its
//! credentials, straight to the server and gets a `request_uri` that lives 60 seconds; the browser
//! then carries only `client_id` and that `request_uri`. The parameters never pass through the
//! browser, so they can be neither read nor changed there. The pushed request is checked exactly
//! as one sent to `/authorize` would be, and gives at most one code.

use super::Issuer;
use super::authorization_request::{
    AuthorizationRequest, AuthorizeError, PROTOCOL_PARAMS, Pushed, REQUEST_URI_PREFIX,
};
use super::error::TokenError;
use crate::client::Client;
use crate::crypto::{random_token, token_hash};
use crate::registry::Snapshot;
use crate::store::PushedRequestRow;
use portcullis_core::{ErrorCode, FormParams};

/// How long a `request_uri` works until the browser first brings it (RFC 9126 §2.2 suggests a
/// short time; 60 seconds is what FAPI 2.0 allows at most).
pub const REQUEST_URI_LIFETIME: i64 = 60;

/// How long the sign-in that the first visit starts may take: the login and consent pages carry
/// the `request_uri`, and a person may need more than a minute for them.
pub const SIGN_IN_LIFETIME: i64 = 600;

/// The answer of the endpoint (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushedAuthorization {
    /// Where the request is kept; single-use.
    pub request_uri: String,
    /// Seconds it lives.
    pub expires_in: i64,
}

/// Checks and stores a request `client` pushed, with the `DPoP` header the push came with, if
/// any: its key binds the code as `dpop_jkt` would (RFC 9449 §10.1). The errors are the token
/// endpoint's kind: the answer goes to the client, never to a browser.
pub async fn push(
    issuer: &Issuer,
    client: &Client,
    snapshot: &Snapshot,
    form: &FormParams,
    dpop: Option<&str>,
) -> Result<PushedAuthorization, TokenError> {
    let proof = super::dpop::check(issuer, dpop, "POST", "/par", None).await?;
    if form.contains("request_uri") {
        return Err(TokenError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    if form.contains("request") {
        return Err(TokenError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported; push the parameters themselves",
        ));
    }
    match form.get("client_id") {
        Ok(None) => {}
        Ok(Some(id)) if id == client.id.as_str() => {}
        Ok(Some(_)) => {
            return Err(TokenError::invalid_request(
                "client_id differs from the client that authenticated",
            ));
        }
        Err(e) => return Err(TokenError::invalid_request(e.to_string())),
    }
    let mut stored = stored_params(client, form);
    if let Some(proof) = &proof {
        match form.get("dpop_jkt") {
            Ok(Some(jkt)) if jkt != proof.jkt => {
                return Err(TokenError::new(
                    ErrorCode::InvalidDpopProof,
                    "dpop_jkt differs from the key of the DPoP proof",
                ));
            }
            Ok(Some(_)) => {}
            _ => {
                stored.push('&');
                stored.push_str(
                    &form_urlencoded::Serializer::new(String::new())
                        .append_pair("dpop_jkt", &proof.jkt)
                        .finish(),
                );
            }
        }
    }
    let parsed = FormParams::parse(stored.as_bytes())
        .map_err(|e| TokenError::invalid_request(e.to_string()))?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token()?);
    let pushed = Pushed {
        request_hash: token_hash(&request_uri),
        request_uri: request_uri.clone(),
    };
    // Checked now, so the client hears of a bad request here rather than the user at /authorize.
    AuthorizationRequest::parse_with(&parsed, snapshot, false, Some(pushed.clone())).map_err(
        |e| match e {
            AuthorizeError::Page { code, message, .. } => TokenError::new(code, message),
            AuthorizeError::Redirect {
                code, description, ..
            } => TokenError::new(code, description),
            AuthorizeError::Internal => TokenError::server("could not check a pushed request"),
        },
    )?;
    let now = issuer.clock.now().0;
    issuer
        .store
        .push_request(&PushedRequestRow {
            request_hash: pushed.request_hash,
            client_id: client.id.to_string(),
            params: stored,
            expires_at: now + REQUEST_URI_LIFETIME,
            used_at: None,
            visited_at: None,
        })
        .await
        .map_err(|e| TokenError::server(format!("cannot store a pushed request: {e}")))?;
    Ok(PushedAuthorization {
        request_uri,
        expires_in: REQUEST_URI_LIFETIME,
    })
}

/// The request as stored: the authorization parameters we read (never the credentials, nor
/// anything else the client sent), with `client_id`.
fn stored_params(client: &Client, form: &FormParams) -> String {
    let mut stored = form_urlencoded::Serializer::new(String::new());
    stored.append_pair("client_id", client.id.as_str());
    for (name, value) in form.iter() {
        if name != "client_id" && PROTOCOL_PARAMS.contains(&name) {
            stored.append_pair(name, value);
        }
    }
    stored.finish()
}

/// The authorization request a visit to `/authorize` stands for: the pushed one its
/// `request_uri` names, or the parameters it carries itself.
pub async fn resolve(
    issuer: &Issuer,
    form: &FormParams,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let snapshot = issuer.registry.snapshot();
    let request_uri = match form.get("request_uri") {
        Ok(None) => return AuthorizationRequest::parse(form, &snapshot, issuer.par_required),
        Ok(Some(uri)) => uri,
        Err(_) => return Err(refused("request_uri is repeated.")),
    };
    let client_id = match form.get("client_id") {
        Ok(Some(id)) => id,
        _ => return Err(refused("The request has a request_uri but no client_id.")),
    };
    let request_hash = token_hash(request_uri);
    let row = if request_uri.starts_with(REQUEST_URI_PREFIX) {
        issuer
            .store
            .pushed_request(&request_hash, issuer.clock.now().0)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot read a pushed request");
                AuthorizeError::Internal
            })?
    } else {
        None
    };
    let row = match row {
        // The first visit: the sign-in it starts gets its own time, once.
        Some(r) if r.client_id == client_id && r.visited_at.is_none() => {
            let now = issuer.clock.now().0;
            let started = issuer
                .store
                .visit_pushed_request(&request_hash, now, now + SIGN_IN_LIFETIME)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "cannot record a visit to a pushed request");
                    AuthorizeError::Internal
                })?;
            started.then_some(r)
        }
        other => other,
    };
    let Some(row) = row.filter(|r| r.client_id == client_id) else {
        // The redirect URI is in the request we cannot find, so the answer is a page.
        return Err(AuthorizeError::Page {
            code: ErrorCode::InvalidRequest,
            title: "This sign-in link has expired".into(),
            message: "The request it carried was used already, has expired, or was never made. Go back to the application and start again.".into(),
        });
    };
    let pushed_form = FormParams::parse(row.params.as_bytes()).map_err(|error| {
        tracing::error!(%error, "a stored pushed request does not parse");
        AuthorizeError::Internal
    })?;
    AuthorizationRequest::parse_with(
        &pushed_form,
        &snapshot,
        issuer.par_required,
        Some(Pushed {
            request_uri: request_uri.to_owned(),
            request_hash,
        }),
    )
}

fn refused(message: &str) -> AuthorizeError {
    AuthorizeError::Page {
        code: ErrorCode::InvalidRequest,
        title: "Invalid request".into(),
        message: message.into(),
    }
}
