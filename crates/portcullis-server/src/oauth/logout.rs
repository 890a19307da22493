//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the browser session, then go
//! to a `post_logout_redirect_uri` only if the client registered it exactly.
//!
//! Any web page can send a browser to `/logout`, so a request alone does not end the session
//! (§2: the OP should ask the user when it cannot tell the request came from the relying party).
//! It ends at once only with a valid `id_token_hint`: an ID token we signed for the session that is
//! signed in (its `sub` and `auth_time`; an ID token from an earlier session does not count).
//! Otherwise the user is asked, and the answer comes back as a confirmed request.

use super::Issuer;
use super::authorization_request::redirect_with;
use super::bearer::verify_signed;
use crate::crypto::token_hash;
use portcullis_core::FormParams;

/// The parameters carried through the confirmation page.
pub const CARRIED: &[&str] = &[
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

/// Whether the user confirmed on our page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Not a confirmation: a request from a relying party, or a link.
    None,
    /// The confirmation form, with a CSRF token that matches its cookie.
    Confirmed,
    /// The confirmation form, with a CSRF token that does not match.
    Expired,
}

/// Why a logout request is refused; the session is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutError {
    /// `client_id` and the hint's audience differ.
    TwoClients,
    /// `post_logout_redirect_uri` is not one the client registered.
    UnregisteredRedirect,
    /// The confirmation form's CSRF token does not match.
    FormExpired,
    /// The session could not be read or ended; the cause is logged.
    Internal,
}

/// What the endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutStep {
    /// Ask the user, naming the client when it is known.
    Confirm {
        /// The client's name, or its id.
        client_name: Option<String>,
    },
    /// The session is ended (or there was none): go to `location`, or say so.
    Done {
        /// The registered `post_logout_redirect_uri` with `state`.
        location: Option<String>,
    },
    /// Refused.
    Fail(LogoutError),
}

/// Decides a logout request and, when it is done, ends the session.
pub async fn logout(
    issuer: &Issuer,
    form: &FormParams,
    session: Option<&str>,
    confirmation: Confirmation,
) -> LogoutStep {
    match decide(issuer, form, session, confirmation).await {
        Ok(step) => step,
        Err(error) => LogoutStep::Fail(error),
    }
}

async fn decide(
    issuer: &Issuer,
    form: &FormParams,
    session: Option<&str>,
    confirmation: Confirmation,
) -> Result<LogoutStep, LogoutError> {
    let get = |n: &str| form.get(n).ok().flatten().map(str::to_owned);
    let snapshot = issuer.registry.snapshot();
    let now = issuer.clock.now();
    // A genuine ID token of ours names the client (its audience) and the user (its subject).
    let hint = get("id_token_hint").and_then(|t| {
        let token = verify_signed(&t, &snapshot.keys, now, issuer.max_token_lifetime(), "JWT")?;
        if token.text("iss") != Some(issuer.issuer()) {
            return None;
        }
        let aud = token.text("aud")?.to_owned();
        let sub = token.text("sub")?.to_owned();
        let auth_time = token.time("auth_time")?;
        Some((aud, (sub, auth_time)))
    });
    let client_id = match (get("client_id"), &hint) {
        (Some(given), Some((aud, _))) if given != *aud => return Err(LogoutError::TwoClients),
        (Some(given), _) => Some(given),
        (None, hinted) => hinted.as_ref().map(|(aud, _)| aud.clone()),
    };
    let client = client_id.as_deref().and_then(|id| snapshot.client(id));
    let target = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            if !client.is_some_and(|c| c.metadata.post_logout_redirect_uris.contains(&uri)) {
                return Err(LogoutError::UnregisteredRedirect);
            }
            // A self-registered client's URI is followed only for a logout it proves it asked
            // for, with an ID token it was issued: otherwise the server would be an open
            // redirector for anyone who registers a client.
            if client.is_some_and(|c| c.self_registered) && hint.is_none() {
                return Err(LogoutError::UnregisteredRedirect);
            }
            Some(uri)
        }
    };
    let session = session.map(token_hash);
    let signed_in = match &session {
        Some(hash) => issuer
            .store
            .session(hash, now.0)
            .await
            .map_err(unavailable)?,
        None => None,
    };
    let confirmed = match confirmation {
        Confirmation::Expired => return Err(LogoutError::FormExpired),
        Confirmation::Confirmed => true,
        Confirmation::None => match (&signed_in, &hint) {
            // Nobody is signed in: there is nothing to end, and nothing to ask.
            (None, _) => true,
            (Some(session), Some((_, for_session))) => session == for_session,
            (Some(_), None) => false,
        },
    };
    if !confirmed {
        let client_name = client.map(|c| {
            c.metadata
                .client_name
                .clone()
                .unwrap_or_else(|| c.id.to_string())
        });
        return Ok(LogoutStep::Confirm { client_name });
    }
    if let Some(hash) = &session {
        issuer
            .store
            .delete_session(hash)
            .await
            .map_err(unavailable)?;
    }
    let location = target.map(|uri| {
        let state = get("state");
        let params: Vec<(&str, &str)> = state.iter().map(|s| ("state", s.as_str())).collect();
        redirect_with(&uri, &params)
    });
    Ok(LogoutStep::Done { location })
}

fn unavailable(error: crate::store::StoreError) -> LogoutError {
    tracing::error!(%error, "logout: cannot read or end the session");
    LogoutError::Internal
}
