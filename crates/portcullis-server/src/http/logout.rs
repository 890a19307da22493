//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the browser session, then go to
//! a `post_logout_redirect_uri` only if the client registered it exactly.
//!
//! Any web page can send a browser to `/logout`, so a request alone does not end the session
//! (§2: the OP should ask the user when it cannot tell the request came from the relying party).
//! It ends at once only with a valid `id_token_hint`: an ID token we signed for the session that is
//! signed in (its `sub` and `auth_time`; an ID token from an earlier session does not count).
//! Otherwise the user sees a confirmation page whose button POSTs the request back with
//! the CSRF token.

use super::AppState;
use crate::authorize::request::redirect_with;
use crate::bearer::verify_signed;
use crate::grant::user_tokens::token_hash;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use portcullis_core::FormParams;
use std::sync::Arc;

/// The parameters carried through the confirmation page.
const CARRIED: &[&str] = &[
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

/// The handler.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw = if method == Method::POST {
        axum::body::to_bytes(body, state.max_body_bytes)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default()
    } else {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    };
    let form = FormParams::parse(&raw).unwrap_or_default();
    let get = |n: &str| form.get(n).ok().flatten().map(str::to_owned);
    let snapshot = state.registry.snapshot();
    let now = state.clock.now();
    // A genuine ID token of ours names the client (its audience) and the user (its subject).
    let hint = get("id_token_hint").and_then(|t| {
        let claims = verify_signed(&t, &snapshot.keys, now, state.max_token_lifetime(), "JWT")?;
        if claims.get("iss").and_then(|i| i.as_str()) != Some(state.tokens.issuer.as_str()) {
            return None;
        }
        let aud = claims.get("aud").and_then(|a| a.as_str())?.to_owned();
        let sub = claims.get("sub").and_then(|s| s.as_str())?.to_owned();
        let auth_time = claims.get("auth_time").and_then(|t| t.as_i64())?;
        Some((aud, (sub, auth_time)))
    });
    let client_id = match (get("client_id"), &hint) {
        (Some(given), Some((aud, _))) if given != *aud => {
            return state.pages.error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The sign-out request names two different applications. You have not been signed out.",
            );
        }
        (Some(given), _) => Some(given),
        (None, hinted) => hinted.as_ref().map(|(aud, _)| aud.clone()),
    };
    let client = client_id.as_deref().and_then(|id| snapshot.client(id));
    let target = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            if !client.is_some_and(|c| c.metadata.post_logout_redirect_uris.contains(&uri)) {
                return state.pages.error(
                    StatusCode::BAD_REQUEST,
                    "Invalid redirect",
                    "The application asked to send you to an address it has not registered. You have not been signed out.",
                );
            }
            Some(uri)
        }
    };
    let session = state.cookies.session(&headers).map(token_hash);
    let signed_in = match &session {
        Some(hash) => match state.store.session(hash, now.0).await {
            Ok(found) => found,
            Err(error) => return unavailable(&state, &error),
        },
        None => None,
    };
    let confirmed = if get("action").as_deref() == Some("logout") && method == Method::POST {
        if !state.cookies.csrf_ok(&headers, get("csrf").as_deref()) {
            return state.pages.error(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form could not be verified. You have not been signed out.",
            );
        }
        true
    } else {
        match (&signed_in, &hint) {
            // Nobody is signed in: there is nothing to end, and nothing to ask.
            (None, _) => true,
            (Some(session), Some((_, for_session))) => session == for_session,
            (Some(_), None) => false,
        }
    };
    if !confirmed {
        let params: Vec<minijinja::Value> = CARRIED
            .iter()
            .filter_map(|name| get(name).map(|value| context! { name, value }))
            .collect();
        let (csrf, set) = crate::authorize::csrf_for(&state, &headers);
        let client_name = client.map(|c| {
            c.metadata
                .client_name
                .clone()
                .unwrap_or_else(|| c.id.to_string())
        });
        let mut response = state.pages.render(
            StatusCode::OK,
            "logout.html",
            context! { params, csrf, client_name },
        );
        if let Some(set) = set {
            response.headers_mut().append(header::SET_COOKIE, set);
        }
        return response;
    }
    if let Some(hash) = &session
        && let Err(error) = state.store.delete_session(hash).await
    {
        return unavailable(&state, &error);
    }
    let mut response = match target {
        Some(uri) => {
            let state_param = get("state");
            let params: Vec<(&str, &str)> =
                state_param.iter().map(|s| ("state", s.as_str())).collect();
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&redirect_with(&uri, &params)) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        None => state.pages.render(
            StatusCode::OK,
            "logged_out.html",
            context! { message => "You have been signed out." },
        ),
    };
    if let Some(clear) = state.cookies.set_session("", Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

fn unavailable(state: &AppState, error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "logout: cannot read or end the session");
    state.pages.internal_error()
}
