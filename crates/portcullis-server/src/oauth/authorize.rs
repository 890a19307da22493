//! The authorization endpoint's decision (RFC 6749 §4.1, OpenID Connect Core §3.1.2): from a
//! checked [`AuthorizationRequest`], the browser's session and what the user just did on one of our
//! pages, the next [`Step`]. `http/authorize.rs` reads the request and renders the step.
//!
//! Each POST from a page carries the original request as hidden fields and is checked again from
//! the start, so no half-finished state is kept on the server.

use super::Issuer;
use super::authorization_request::{AuthorizationRequest, AuthorizationResponse, AuthorizeError};
use crate::crypto::{random_token, token_hash};
use crate::store::sign_in::CodeRow;
use crate::throttle::Reserved;
use portcullis_core::{ErrorCode, FormParams, Scope, Secret};
use std::net::IpAddr;

/// How long after the sign-in that showed it a consent form still counts as part of that sign-in.
const CONSENT_FORM_LIFETIME: i64 = 600;

/// What the user did on one of our pages. The caller has checked the form's CSRF token.
#[derive(Debug)]
pub enum Action {
    /// Signed in on the login page.
    Login {
        /// As typed.
        username: String,
        /// As typed.
        password: Secret,
    },
    /// Allowed on the consent page, which carries the time of the sign-in that showed it.
    Allow {
        /// `login_time`, as sent.
        login_time: Option<String>,
    },
    /// Declined on the consent page.
    Deny,
}

impl Action {
    /// The action of a form POSTed from our pages; none for anything else.
    pub fn from_form(form: &FormParams) -> Option<Self> {
        let get = |name| form.get(name).ok().flatten();
        match get("action")? {
            "login" => Some(Action::Login {
                username: get("username").unwrap_or_default().to_owned(),
                password: Secret::new(get("password").unwrap_or_default()),
            }),
            "allow" => Some(Action::Allow {
                login_time: get("login_time").map(str::to_owned),
            }),
            "deny" => Some(Action::Deny),
            _ => None,
        }
    }
}

/// One visit to the authorization endpoint, as far as the protocol cares. `Debug` leaves out the
/// session cookie's value.
pub struct Visit<'a> {
    /// The checked request.
    pub request: &'a AuthorizationRequest,
    /// The value of the session cookie, if the browser sent one.
    pub session: Option<&'a str>,
    /// What the user did, if this is a POST from one of our pages.
    pub action: Option<Action>,
    /// The browser's address, as the throttles see it.
    pub ip: IpAddr,
}

impl std::fmt::Debug for Visit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Visit")
            .field("client_id", &self.request.client.id)
            .field("session", &self.session.map(|_| "[redacted]"))
            .field("action", &self.action)
            .field("ip", &self.ip)
            .finish()
    }
}

/// Why the login page is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginProblem {
    /// Too many failed attempts: try again in this many seconds.
    Locked {
        /// Seconds.
        retry_after: i64,
    },
    /// The username or the password is wrong (which, is not said).
    WrongCredentials,
    /// The password is right but the account is disabled.
    Disabled,
}

/// What the endpoint does next. `Debug` leaves out the code in `IssueCode`'s location.
pub enum Step {
    /// Show the login page.
    Login {
        /// Why it is shown again, if it is.
        problem: Option<LoginProblem>,
        /// The username to fill in.
        username: String,
    },
    /// Ask the user to consent.
    Consent {
        /// The user's name (or username) for the page.
        user_name: String,
        /// The time of the sign-in that shows this page, when it just happened.
        login_time: Option<i64>,
    },
    /// Send the browser back to the client with a code (RFC 6749 §4.1.2, RFC 9207 `iss`).
    IssueCode {
        /// `code`, `state` and `iss`, for the redirect URI.
        response: AuthorizationResponse,
    },
    /// Refuse, on a page or back at the client.
    Fail(AuthorizeError),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Login { problem, username } => f
                .debug_struct("Login")
                .field("problem", problem)
                .field("username", username)
                .finish(),
            Step::Consent {
                user_name,
                login_time,
            } => f
                .debug_struct("Consent")
                .field("user_name", user_name)
                .field("login_time", login_time)
                .finish(),
            Step::IssueCode { response } => f
                .debug_struct("IssueCode")
                .field("response", response)
                .finish(),
            Step::Fail(error) => f.debug_tuple("Fail").field(error).finish(),
        }
    }
}

/// The step, and a new browser session when the user just signed in.
#[derive(Debug)]
pub struct Outcome {
    /// What to do.
    pub step: Step,
    /// The value of a new session cookie to set.
    pub new_session: Option<Secret>,
}

/// A signed-in user, as far as this request knows.
struct SignedIn {
    user_id: String,
    auth_time: i64,
    fresh: bool,
}

/// Decides the next step of an authorization request.
pub async fn authorize(issuer: &Issuer, visit: Visit<'_>) -> Outcome {
    let mut new_session = None;
    match decide(issuer, visit, &mut new_session).await {
        Ok(step) => Outcome { step, new_session },
        Err(error) => Outcome {
            step: Step::Fail(error),
            new_session: None,
        },
    }
}

pub(crate) fn server_error(what: impl std::fmt::Display) -> AuthorizeError {
    tracing::error!(error = %what, "authorization endpoint failed");
    AuthorizeError::Internal
}

fn redirect_error(
    request: &AuthorizationRequest,
    code: ErrorCode,
    description: &str,
) -> AuthorizeError {
    // Only a user's own answer (Cancel) sends the browser to a self-registered client's redirect
    // URI with an error; `prompt=none` and the like get a page (RFC 9700 §4.11.2).
    if request.client.self_registered && code != ErrorCode::AccessDenied {
        return AuthorizeError::Page {
            code,
            title: "Sign-in not possible".into(),
            message: description.to_owned(),
        };
    }
    AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        code,
        description: description.to_owned(),
        response_mode: request.response_mode,
    }
}

async fn decide(
    issuer: &Issuer,
    visit: Visit<'_>,
    new_session: &mut Option<Secret>,
) -> Result<Step, AuthorizeError> {
    let Visit {
        request,
        session,
        action,
        ip,
    } = visit;
    let now = issuer.clock.now().0;
    let store = issuer.store.as_ref();
    let mut signed_in = match session {
        Some(value) => store
            .session(&token_hash(value), now)
            .await
            .map_err(server_error)?
            .map(|(user_id, auth_time)| SignedIn {
                user_id,
                auth_time,
                fresh: false,
            }),
        None => None,
    };
    let mut consented_now = false;
    let mut login_time_sent = None;
    match action {
        Some(Action::Login { username, password }) => {
            match sign_in(
                issuer,
                request.client.id.as_str(),
                &username,
                &password,
                ip,
                now,
            )
            .await?
            {
                Ok(user_id) => {
                    *new_session = Some(start_session(issuer, &user_id, now).await?);
                    signed_in = Some(SignedIn {
                        user_id,
                        auth_time: now,
                        fresh: true,
                    });
                }
                Err(problem) => {
                    return Ok(Step::Login {
                        problem: Some(problem),
                        username,
                    });
                }
            }
        }
        Some(Action::Deny) => {
            return Err(redirect_error(
                request,
                ErrorCode::AccessDenied,
                "the user declined the request",
            ));
        }
        Some(Action::Allow { login_time }) => {
            consented_now = signed_in.is_some();
            login_time_sent = Some(login_time);
        }
        None => {}
    }

    // A consent form shown right after a sign-in carries that sign-in's time: Allow then counts as
    // part of the same authentication, so prompt=login and max_age=0 (which a sign-in a few
    // seconds old no longer meets) do not send the user back to the login page forever.
    let signed_in_for_this_form = |s: &SignedIn| {
        login_time_sent
            .as_ref()
            .is_some_and(|sent| sent.as_deref() == Some(s.auth_time.to_string().as_str()))
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
        return Ok(Step::Login {
            problem: None,
            username: String::new(),
        });
    }
    let Some(user) = signed_in else {
        return Err(server_error("no session after sign-in"));
    };
    let client_id = request.client.id.as_str();
    let remembered = store
        .consent(&user.user_id, client_id)
        .await
        .map_err(server_error)?
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
            .map_err(server_error)?;
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
        let user_name = store
            .user_by_id(&user.user_id)
            .await
            .map_err(server_error)?
            .map(|u| u.name.unwrap_or(u.username))
            .unwrap_or_default();
        return Ok(Step::Consent {
            user_name,
            login_time: user.fresh.then_some(user.auth_time),
        });
    }

    // A pushed request gives one code (RFC 9126 §4: the request_uri is single-use).
    if let Some(pushed) = &request.pushed {
        let first = store
            .use_pushed_request(&pushed.request_hash, now)
            .await
            .map_err(server_error)?;
        if !first {
            return Err(redirect_error(
                request,
                ErrorCode::InvalidRequest,
                "the request_uri has been used already or has expired; push the request again",
            ));
        }
    }
    let code = random_token().map_err(server_error)?;
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
            expires_at: now + issuer.user_tokens.code_lifetime as i64,
            used_at: None,
            dpop_jkt: request.dpop_jkt.clone(),
        })
        .await
        .map_err(server_error)?;
    let mut params = vec![("code", code)];
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", issuer.issuer().to_owned()));
    Ok(Step::IssueCode {
        response: AuthorizationResponse {
            redirect_uri: request.redirect_uri.clone(),
            response_mode: request.response_mode,
            params,
        },
    })
}

/// A new browser session for a user who just signed in: the cookie's value.
pub(crate) async fn start_session(
    issuer: &Issuer,
    user_id: &str,
    now: i64,
) -> Result<Secret, AuthorizeError> {
    let value = random_token().map_err(server_error)?;
    issuer
        .store
        .insert_session(
            &token_hash(&value),
            user_id,
            now,
            now + issuer.session_lifetime as i64,
        )
        .await
        .map_err(server_error)?;
    Ok(Secret::new(value))
}

/// Checks a username and password under the sign-in throttle: the user's id, or why the login page
/// comes back. A lock this instance knows of answers at once; otherwise the attempt is counted
/// before the password is checked, so a burst of guesses gets no more checks than the limit, and
/// a success gives back only its own count.
pub(crate) async fn sign_in(
    issuer: &Issuer,
    client_id: &str,
    username: &str,
    password: &Secret,
    ip: IpAddr,
    now: i64,
) -> Result<Result<String, LoginProblem>, AuthorizeError> {
    let throttle = &issuer.sign_in_throttle;
    let keys = issuer.sign_in_keys(username, ip);
    let reservation = match throttle.admit(&keys, now).await.map_err(server_error)? {
        Reserved::Go(reservation) => reservation,
        Reserved::Wait(wait) => {
            tracing::info!(
                target: "portcullis::audit",
                event = "sign_in_refused_locked",
                client_id,
                %ip,
                retry_after = wait,
                "sign-in refused: too many failed attempts"
            );
            return Ok(Err(LoginProblem::Locked { retry_after: wait }));
        }
    };
    let store = issuer.store.as_ref();
    let user = store
        .user_by_username(username)
        .await
        .map_err(server_error)?;
    let ok = issuer
        .passwords
        .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await;
    let Some(user) = user.filter(|_| ok) else {
        if let Err(error) = throttle.reservation_failed(reservation, now).await {
            tracing::warn!(%error, "could not lock after a failed sign-in");
        }
        issuer.metrics.sign_in_failed();
        tracing::info!(
            target: "portcullis::audit",
            event = "sign_in_failed",
            client_id,
            %ip,
            "sign-in failed"
        );
        return Ok(Err(LoginProblem::WrongCredentials));
    };
    if let Err(error) = throttle.release(reservation).await {
        tracing::warn!(%error, "could not give back a sign-in reservation");
    }
    if user.disabled_at.is_some() {
        // Said only to someone who knows the password.
        return Ok(Err(LoginProblem::Disabled));
    }
    Ok(Ok(user.user_id))
}
