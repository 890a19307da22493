//! `GET/POST /authorize`: the authorization endpoint with its sign-in and consent pages. Each POST
//! from a page carries the original request as hidden fields and is checked again from the start, so
//! no half-finished state is kept on the server.
//!
//! Long because: the whole code-flow decision (sign-in, consent, prompt and max_age) still lives in one
//! handler; issue 15's protocol layer splits it into steps.

pub mod request;
pub mod session;

use crate::grant::user_tokens::{random_token, token_hash};
use crate::http::AppState;
use crate::store::sign_in::CodeRow;
use crate::throttle::Reserved;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use portcullis_core::{ErrorCode, FormParams, Scope, Secret};
use request::{AuthorizationRequest, AuthorizeError, redirect_with};
use std::sync::Arc;

/// How long after the sign-in that showed it a consent form still counts as part of that sign-in.
const CONSENT_FORM_LIFETIME: i64 = 600;

/// A signed-in user, as far as this request knows.
struct SignedIn {
    user_id: String,
    auth_time: i64,
    fresh: bool,
}

/// The handler.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    crate::http::client_ip::ClientIp(peer): crate::http::client_ip::ClientIp,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw = if method == Method::POST {
        match axum::body::to_bytes(body, state.max_body_bytes).await {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => {
                return state.pages.error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Invalid request",
                    "The form is too large.",
                );
            }
        }
    } else {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    };
    let form = match FormParams::parse(&raw) {
        Ok(form) => form,
        Err(e) => {
            return state.pages.error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &format!("The request cannot be read: {e}."),
            );
        }
    };
    let snapshot = state.registry.snapshot();
    let request = match AuthorizationRequest::parse(&form, &snapshot) {
        Ok(r) => r,
        Err(e) => return error_response(&state, e, &form),
    };
    match flow(
        &state,
        peer,
        &headers,
        &form,
        method == Method::POST,
        &request,
    )
    .await
    {
        Ok(response) => response,
        Err(e) => error_response(&state, e, &form),
    }
}

fn error_response(state: &AppState, error: AuthorizeError, form: &FormParams) -> Response {
    // What the developer needs to find their request in the log: the client and redirect_uri
    // as sent (a repeated parameter logs as absent).
    let sent = |name| form.get(name).ok().flatten().unwrap_or("-");
    match error {
        AuthorizeError::Page {
            code,
            title,
            message,
        } => {
            // The page is for the user; the developer finds why in the log, by the request id
            // the page shows.
            tracing::info!(
                error = code.as_str(),
                reason = %message,
                client_id = sent("client_id"),
                redirect_uri = sent("redirect_uri"),
                "authorization request refused"
            );
            state.pages.error_with_code(
                StatusCode::BAD_REQUEST,
                Some(code.as_str()),
                &title,
                &message,
            )
        }
        AuthorizeError::Internal => state.pages.internal_error(),
        AuthorizeError::Redirect {
            redirect_uri,
            state: client_state,
            code,
            description,
        } => {
            tracing::info!(
                error = code.as_str(),
                reason = %description,
                client_id = sent("client_id"),
                %redirect_uri,
                "authorization request refused; the error goes back to the client"
            );
            let mut params = vec![
                ("error", code.as_str()),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = &client_state {
                params.push(("state", s));
            }
            params.push(("iss", &state.tokens.issuer));
            redirect(&redirect_with(&redirect_uri, &params))
        }
    }
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn server_error(state: &AppState, what: impl std::fmt::Display) -> AuthorizeError {
    tracing::error!(error = %what, "authorization endpoint failed");
    let _ = state;
    AuthorizeError::Internal
}

fn redirect_error(
    request: &AuthorizationRequest,
    code: ErrorCode,
    description: &str,
) -> AuthorizeError {
    AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        code,
        description: description.to_owned(),
    }
}

async fn flow(
    state: &AppState,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    form: &FormParams,
    is_post: bool,
    request: &AuthorizationRequest,
) -> Result<Response, AuthorizeError> {
    let now = state.clock.now().0;
    let store = state.store.as_ref();
    let mut set_cookies: Vec<HeaderValue> = Vec::new();
    let mut signed_in = match state.cookies.session(headers) {
        Some(value) => store
            .session(&token_hash(value), now)
            .await
            .map_err(|e| server_error(state, e))?
            .map(|(user_id, auth_time)| SignedIn {
                user_id,
                auth_time,
                fresh: false,
            }),
        None => None,
    };
    let action = if is_post {
        form.get("action").ok().flatten()
    } else {
        None
    };
    if action.is_some()
        && !state
            .cookies
            .csrf_ok(headers, form.get("csrf").ok().flatten())
    {
        return Ok(state.pages.error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form could not be verified. Go back to the application and start again.",
        ));
    }
    let mut consented_now = false;
    match action {
        Some("login") => {
            let username = form
                .get("username")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned();
            let password = Secret::new(form.get("password").ok().flatten().unwrap_or_default());
            // A lock this instance knows of answers at once; otherwise the attempt is counted
            // before the password is checked, so a burst of guesses gets no more checks than the
            // limit, and a success gives back only its own count.
            let throttle = &state.sign_in_throttle;
            let keys = state.sign_in_keys(&username, peer);
            let locked = match throttle.retry_after(&keys, now) {
                Some(wait) => {
                    if let Err(error) = throttle.refused(&keys, now).await {
                        tracing::warn!(%error, "could not count a refused sign-in");
                    }
                    Ok(Reserved::Wait(wait))
                }
                None => throttle.reserve(&keys, now).await,
            };
            let reservation = match locked {
                Ok(Reserved::Go(reservation)) => reservation,
                Ok(Reserved::Wait(wait)) => {
                    tracing::info!(
                        target: "portcullis::audit",
                        event = "sign_in_refused_locked",
                        client_id = %request.client.id,
                        ip = %peer,
                        retry_after = wait,
                        "sign-in refused: too many failed attempts"
                    );
                    let minutes = (wait + 59) / 60;
                    let unit = if minutes == 1 { "minute" } else { "minutes" };
                    let error = format!("Too many failed attempts. Try again in {minutes} {unit}.");
                    let mut page = login_page(
                        state,
                        headers,
                        request,
                        StatusCode::TOO_MANY_REQUESTS,
                        Some(&error),
                        &username,
                    );
                    page.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(wait.max(1)));
                    return Ok(page);
                }
                Err(e) => return Err(server_error(state, e)),
            };
            let user = store
                .user_by_username(&username)
                .await
                .map_err(|e| server_error(state, e))?;
            let ok = state
                .passwords
                .verify(&password, user.as_ref().map(|u| u.password_hash.as_str()))
                .await;
            let Some(user) = user.filter(|_| ok) else {
                if let Err(error) = throttle.reservation_failed(reservation, now).await {
                    tracing::warn!(%error, "could not lock after a failed sign-in");
                }
                state.metrics.sign_in_failed();
                tracing::info!(
                    target: "portcullis::audit",
                    event = "sign_in_failed",
                    client_id = %request.client.id,
                    ip = %peer,
                    "sign-in failed"
                );
                return Ok(login_page(
                    state,
                    headers,
                    request,
                    StatusCode::UNAUTHORIZED,
                    Some("Wrong username or password."),
                    &username,
                ));
            };
            if let Err(error) = throttle.release(reservation).await {
                tracing::warn!(%error, "could not give back a sign-in reservation");
            }
            if user.disabled_at.is_some() {
                // Said only to someone who knows the password.
                return Ok(login_page(
                    state,
                    headers,
                    request,
                    StatusCode::FORBIDDEN,
                    Some("This account is disabled."),
                    &username,
                ));
            }
            let value = random_token().map_err(|e| server_error(state, e))?;
            store
                .insert_session(
                    &token_hash(&value),
                    &user.user_id,
                    now,
                    now + state.session_lifetime as i64,
                )
                .await
                .map_err(|e| server_error(state, e))?;
            set_cookies.extend(state.cookies.set_session(&value, None));
            signed_in = Some(SignedIn {
                user_id: user.user_id,
                auth_time: now,
                fresh: true,
            });
        }
        Some("deny") => {
            return Err(redirect_error(
                request,
                ErrorCode::AccessDenied,
                "the user declined the request",
            ));
        }
        Some("allow") => consented_now = signed_in.is_some(),
        _ => {}
    }

    // A consent form shown right after a sign-in carries that sign-in's time: Allow then counts as
    // part of the same authentication, so prompt=login and max_age=0 (which a sign-in a few
    // seconds old no longer meets) do not send the user back to the login page forever.
    let signed_in_for_this_form = |s: &SignedIn| {
        action == Some("allow")
            && form.get("login_time").ok().flatten() == Some(s.auth_time.to_string().as_str())
            && (0..=CONSENT_FORM_LIFETIME).contains(&(now - s.auth_time))
    };
    let needs_login = match &signed_in {
        None => true,
        Some(s) if s.fresh || signed_in_for_this_form(s) => false,
        // max_age=0 asks for a sign-in now, as prompt=login does (OpenID Connect Core §3.1.2.1),
        // even when the session is less than a second old.
        Some(s) => {
            request.prompt.login
                || request
                    .max_age
                    .is_some_and(|m| m == 0 || now - s.auth_time > m)
        }
    };
    if needs_login {
        if request.prompt.none {
            return Err(redirect_error(
                request,
                ErrorCode::LoginRequired,
                "the user is not signed in",
            ));
        }
        return Ok(login_page(
            state,
            headers,
            request,
            StatusCode::OK,
            None,
            "",
        ));
    }
    let Some(user) = signed_in else {
        return Err(server_error(state, "no session after sign-in"));
    };
    let client_id = request.client.id.as_str();
    let remembered = store
        .consent(&user.user_id, client_id)
        .await
        .map_err(|e| server_error(state, e))?
        .and_then(|s| Scope::parse(&s).ok());
    if consented_now {
        let mut all: Vec<String> = remembered
            .iter()
            .flat_map(|s| s.iter().map(str::to_owned))
            .collect();
        all.extend(request.scope.iter().map(str::to_owned));
        all.sort();
        all.dedup();
        store
            .save_consent(&user.user_id, client_id, &all.join(" "), now)
            .await
            .map_err(|e| server_error(state, e))?;
    }
    let covered =
        remembered.is_some_and(|r| request.scope.is_subset_of(&r)) && !request.prompt.consent;
    if !(request.client.metadata.first_party || consented_now || covered) {
        if request.prompt.none {
            return Err(redirect_error(
                request,
                ErrorCode::ConsentRequired,
                "the user has not consented",
            ));
        }
        let login_time = user.fresh.then_some(user.auth_time);
        let mut response = consent_page(state, headers, request, &user.user_id, login_time).await?;
        append_cookies(&mut response, set_cookies);
        return Ok(response);
    }

    let code = random_token().map_err(|e| server_error(state, e))?;
    store
        .insert_code(&CodeRow {
            code_hash: token_hash(&code),
            client_id: client_id.to_owned(),
            user_id: user.user_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_sent: request.redirect_uri_sent,
            code_challenge: request.code_challenge.clone(),
            scope: request.scope.to_string(),
            nonce: request.nonce.clone(),
            auth_time: user.auth_time,
            expires_at: now + state.user_tokens.code_lifetime as i64,
            used_at: None,
        })
        .await
        .map_err(|e| server_error(state, e))?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s));
    }
    params.push(("iss", &state.tokens.issuer));
    let mut response = redirect(&redirect_with(&request.redirect_uri, &params));
    append_cookies(&mut response, set_cookies);
    Ok(response)
}

fn append_cookies(response: &mut Response, cookies: Vec<HeaderValue>) {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
}

/// The CSRF value for the next form: the existing cookie, or a new one to set.
pub fn csrf_for(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match state.cookies.csrf(headers) {
        Some(existing) => (existing.to_owned(), None),
        None => {
            let value = random_token().unwrap_or_default();
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
    status: StatusCode,
    error: Option<&str>,
    username: &str,
) -> Response {
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
    append_cookies(&mut response, set.into_iter().collect());
    response
}

/// Scope names in words for the consent page: the configured description, else ours for the
/// OpenID Connect scopes, else the name itself.
fn describe_scope(state: &AppState, scope: &str) -> String {
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

async fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    user_id: &str,
    login_time: Option<i64>,
) -> Result<Response, AuthorizeError> {
    let user = state
        .store
        .user_by_id(user_id)
        .await
        .map_err(|e| server_error(state, e))?;
    let user_name = user
        .map(|u| u.name.unwrap_or(u.username))
        .unwrap_or_default();
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
    append_cookies(&mut response, set.into_iter().collect());
    Ok(response)
}
