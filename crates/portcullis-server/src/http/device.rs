//! The Device Authorization Grant's HTTP side (RFC 8628): `POST /device_authorization`, answered
//! like the token endpoint, and the verification page `GET/POST /device`, where a person types
//! the code, signs in and approves. The page needs no JavaScript and fits a phone.

use super::AppState;
use super::authorize::{append_cookies, csrf_for, describe_scope, page_form};
use super::client_ip::ClientIp;
use super::error::{
    PageError, code_status, code_words, json_body, login_status, login_words, no_store, page_error,
};
use super::token::AuthenticatedForm;
use crate::oauth::authorize::LoginProblem;
use crate::oauth::device::{DeviceAction, DeviceRequest, DeviceStep, DeviceVisit};
use crate::oauth::error::TokenError;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use minijinja::context;
use std::sync::Arc;

/// `POST /device_authorization` (RFC 8628 §3.1): a client, authenticated as at the token
/// endpoint (a public client by its client_id), starts a device authorization.
pub async fn device_authorization(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Result<Response, TokenError> {
    let AuthenticatedForm {
        form, client, ip, ..
    } = authenticated;
    let answer = crate::oauth::device::authorize_device(&state.issuer, &client, &form, ip).await?;
    let body = serde_json::to_vec(&answer)
        .map_err(|e| TokenError::server(format!("cannot serialize the response: {e}")))?;
    let mut response = json_body(StatusCode::OK, body);
    no_store(&mut response);
    Ok(response)
}

/// `GET/POST /device`: the verification page (RFC 8628 §3.3).
pub async fn device(
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
    let action = if is_post {
        DeviceAction::from_form(&form)
    } else {
        None
    };
    if action.is_some()
        && !state
            .cookies
            .csrf_ok(&headers, form.get("csrf").ok().flatten())
    {
        return page_error(
            &state.pages,
            PageError::FormExpired("Open the address your device shows and enter the code again."),
        );
    }
    let visit = DeviceVisit {
        user_code: form.get("user_code").ok().flatten(),
        session: state.cookies.session(&headers),
        action,
        ip,
    };
    let outcome = crate::oauth::device::verify(&state.issuer, visit).await;
    let mut response = match outcome.step {
        DeviceStep::EnterCode { user_code, problem } => {
            let (status, error) = match &problem {
                None => (StatusCode::OK, None),
                Some(p) => (code_status(p), Some(code_words(p))),
            };
            let (csrf, set) = csrf_for(&state, &headers);
            let mut page =
                state
                    .pages
                    .render(status, "device.html", context! { user_code, error, csrf });
            if let Some(crate::oauth::device::CodeProblem::Locked { retry_after }) = problem {
                page.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            append_cookies(&mut page, set);
            page
        }
        DeviceStep::Login {
            request,
            problem,
            username,
        } => login_page(&state, &headers, &request, problem, &username),
        DeviceStep::Consent { request, user_name } => {
            let scopes: Vec<minijinja::Value> = request
                .scope
                .iter()
                .map(|name| context! { name, description => describe_scope(&state, name) })
                .collect();
            let (csrf, set) = csrf_for(&state, &headers);
            let mut page = state.pages.render(
                StatusCode::OK,
                "consent.html",
                context! {
                    client_name => client_name(&request),
                    user_name,
                    scopes,
                    params => params(&request),
                    csrf,
                    action => "/device",
                    user_code => request.user_code,
                },
            );
            append_cookies(&mut page, set);
            page
        }
        DeviceStep::Approved(request) => state.pages.render(
            StatusCode::OK,
            "device_done.html",
            context! {
                title => "Device connected",
                message => format!("{} now has the access you allowed.", client_name(&request)),
            },
        ),
        DeviceStep::Denied(request) => state.pages.render(
            StatusCode::OK,
            "device_done.html",
            context! {
                title => "Access denied",
                message => format!("{} was not given access.", client_name(&request)),
            },
        ),
        DeviceStep::Fail(_) => return page_error(&state.pages, PageError::Internal),
    };
    if let Some(value) = outcome.new_session {
        append_cookies(
            &mut response,
            state.cookies.set_session(value.expose(), None),
        );
    }
    response
}

fn client_name(request: &DeviceRequest) -> String {
    request
        .client
        .metadata
        .client_name
        .clone()
        .unwrap_or_else(|| request.client.id.to_string())
}

/// The one hidden field the login and consent forms carry: the user code.
fn params(request: &DeviceRequest) -> Vec<minijinja::Value> {
    vec![context! { name => "user_code", value => request.user_code }]
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &DeviceRequest,
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
            params => params(request),
            csrf,
            action => "/device",
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
