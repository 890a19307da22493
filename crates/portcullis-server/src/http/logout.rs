//! `GET/POST /logout` (OpenID Connect RP-Initiated Logout 1.0): reads the request, checks the
//! confirmation form's CSRF token, and renders what `oauth::logout` decides: the confirmation
//! page, the signed-out page or a redirect, clearing the session cookie once the session is ended.

use super::AppState;
use super::error::page_error;
use super::pages::see_other;
use crate::oauth::logout::{CARRIED, Confirmation, LogoutStep};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
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
    let get = |n: &str| form.get(n).ok().flatten();
    let confirmation = if get("action") == Some("logout") && method == Method::POST {
        if state.cookies.csrf_ok(&headers, get("csrf")) {
            Confirmation::Confirmed
        } else {
            Confirmation::Expired
        }
    } else {
        Confirmation::None
    };
    let session = state.cookies.session(&headers);
    match crate::oauth::logout::logout(&state.issuer, &form, session, confirmation).await {
        LogoutStep::Confirm { client_name } => {
            let params: Vec<minijinja::Value> = CARRIED
                .iter()
                .filter_map(|name| get(name).map(|value| context! { name, value }))
                .collect();
            let (csrf, set) = super::authorize::csrf_for(&state, &headers);
            let mut response = state.pages.render(
                StatusCode::OK,
                "logout.html",
                context! { params, csrf, client_name },
            );
            if let Some(set) = set {
                response.headers_mut().append(header::SET_COOKIE, set);
            }
            response
        }
        LogoutStep::Done { location } => {
            let mut response = match location {
                Some(location) => see_other(&location),
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
        LogoutStep::Fail(error) => page_error(&state.pages, error.into()),
    }
}
