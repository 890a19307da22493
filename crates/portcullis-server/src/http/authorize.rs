//! `GET/POST /authorize`: reads the request from the query or the form, checks the CSRF token of
//! a POST from our pages, asks `oauth::authorize` for the next step, and renders it: the login or
//! consent page, or a redirect back to the client.

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{PageError, authorize_error, login_status, login_words, page_error};
use super::pages::authorization_response;
use crate::oauth::authorization_request::AuthorizationRequest;
use crate::oauth::authorize::{Action, LoginProblem, Step, Visit};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use minijinja::context;
use portcullis_core::FormParams;
use std::sync::Arc;

/// The handler.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let is_post = method == Method::POST;
    let form = match page_form(&state, is_post, &uri, body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let issuer = &state.issuer;
    let request = match crate::oauth::par::resolve(issuer, &form).await {
        Ok(r) => r,
        Err(e) => return authorize_error(&state.pages, issuer.issuer(), e, &form),
    };
    let sent_action = is_post && form.get("action").ok().flatten().is_some();
    if sent_action
        && !state
            .cookies
            .csrf_ok(&headers, form.get("csrf").ok().flatten())
    {
        return page_error(
            &state.pages,
            PageError::FormExpired("Go back to the application and start again."),
        );
    }
    let visit = Visit {
        request: &request,
        session: state.cookies.session(&headers),
        action: if is_post {
            Action::from_form(&form)
        } else {
            None
        },
        ip,
    };
    let outcome = crate::oauth::authorize::authorize(issuer, visit).await;
    let mut response = match outcome.step {
        Step::Login { problem, username } => {
            login_page(&state, &headers, &request, problem, &username)
        }
        Step::Consent {
            user_name,
            login_time,
        } => consent_page(&state, &headers, &request, &user_name, login_time),
        Step::IssueCode { response } => authorization_response(&state.pages, &response),
        Step::Fail(error) => return authorize_error(&state.pages, issuer.issuer(), error, &form),
    };
    if let Some(value) = outcome.new_session {
        append_cookies(
            &mut response,
            state.cookies.set_session(value.expose(), None),
        );
    }
    response
}

/// The parameters of a page request: the form of a POST, else the query. Too large or unreadable,
/// the error page to answer with.
pub(super) async fn page_form(
    state: &AppState,
    is_post: bool,
    uri: &Uri,
    body: Body,
) -> Result<FormParams, Response> {
    let raw = if is_post {
        match axum::body::to_bytes(body, state.max_body_bytes).await {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => return Err(page_error(&state.pages, PageError::TooLarge)),
        }
    } else {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    };
    FormParams::parse(&raw)
        .map_err(|e| page_error(&state.pages, PageError::Unreadable(e.to_string())))
}

pub(super) fn append_cookies(
    response: &mut Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
}

/// The CSRF value for the next form: the existing cookie, or a new one to set.
pub fn csrf_for(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match state.cookies.csrf(headers) {
        Some(existing) => (existing.to_owned(), None),
        None => {
            let value = crate::crypto::random_token().unwrap_or_default();
            let header = state.cookies.set_csrf(&value);
            (value, header)
        }
    }
}

fn hidden_params(request: &AuthorizationRequest) -> Vec<minijinja::Value> {
    request
        .params
        .iter()
        .map(|(name, value)| context! { name, value })
        .collect()
}

fn client_name(request: &AuthorizationRequest) -> String {
    request
        .client
        .metadata
        .client_name
        .clone()
        .unwrap_or_else(|| request.client.id.to_string())
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    problem: Option<LoginProblem>,
    username: &str,
) -> Response {
    let (status, error) = match &problem {
        None => (StatusCode::OK, None),
        Some(problem) => (login_status(problem), Some(login_words(problem))),
    };
    let (csrf, set) = csrf_for(state, headers);
    let mut response = state.pages.render(
        status,
        "login.html",
        context! {
            client_name => client_name(request),
            error,
            username,
            params => hidden_params(request),
            csrf,
        },
    );
    if let Some(LoginProblem::Locked { retry_after }) = problem {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    }
    append_cookies(&mut response, set);
    response
}

/// Scope names in words for the consent page: the configured description, else ours for the
/// OpenID Connect scopes, else the name itself.
pub(super) fn describe_scope(state: &AppState, scope: &str) -> String {
    if let Some(words) = state.scope_descriptions.get(scope) {
        return words.clone();
    }
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Stay connected when you are not using it".into(),
        other => format!("Access \u{201c}{other}\u{201d} on your behalf"),
    }
}

fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    user_name: &str,
    login_time: Option<i64>,
) -> Response {
    let scopes: Vec<minijinja::Value> = request
        .scope
        .iter()
        .map(|name| context! { name, description => describe_scope(state, name) })
        .collect();
    let (csrf, set) = csrf_for(state, headers);
    let mut response = state.pages.render(
        StatusCode::OK,
        "consent.html",
        context! {
            client_name => client_name(request),
            user_name,
            scopes,
            params => hidden_params(request),
            csrf,
            login_time,
        },
    );
    append_cookies(&mut response, set);
    response
}
