//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the browser session, then go to
//! a `post_logout_redirect_uri` only if the client registered it exactly.

use super::AppState;
use crate::authorize::request::redirect_with;
use crate::authorize::session::{SESSION_COOKIE, cookie, set_cookie};
use crate::bearer::verify_signed;
use crate::grant::user_tokens::token_hash;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use portcullis_core::FormParams;
use std::sync::Arc;

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
    // The client is named by client_id or by the audience of a genuine ID token of ours.
    let hinted = get("id_token_hint").and_then(|t| {
        verify_signed(&t, &snapshot.keys, now, state.max_token_lifetime(), "JWT")
            .and_then(|c| c.get("aud").and_then(|a| a.as_str()).map(str::to_owned))
    });
    let client_id = get("client_id").or(hinted);
    let target = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let allowed = client_id
                .as_deref()
                .and_then(|id| snapshot.client(id))
                .is_some_and(|c| c.metadata.post_logout_redirect_uris.contains(&uri));
            if !allowed {
                return state.pages.error(
                    StatusCode::BAD_REQUEST,
                    "Invalid redirect",
                    "The application asked to send you to an address it has not registered. You have not been signed out.",
                );
            }
            Some(uri)
        }
    };
    let session = cookie(&headers, SESSION_COOKIE).map(token_hash);
    if let Some(Err(error)) = match &session {
        Some(hash) => Some(state.store.delete_session(hash).await),
        None => None,
    } {
        tracing::error!(%error, "logout: cannot delete the session");
        return state.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "You could not be signed out just now.",
        );
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
    if let Some(clear) = set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}
