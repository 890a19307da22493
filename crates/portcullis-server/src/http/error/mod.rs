//! The one mapping from errors to HTTP answers, each status picked by one exhaustive `match`:
//! - the token, introspection and revocation endpoints' [`TokenError`] (RFC 6749 §5.2): 400 by
//!   default, 401 for `invalid_client`, JSON body, never cached; 413 for bodies over the limit;
//!   `server_error` with a fixed description and the request id, its cause logged;
//! - `/userinfo`'s [`BearerError`] (RFC 6750 §3): the status and the `WWW-Authenticate` challenge;
//! - the browser endpoints' [`PageError`] (`/authorize`, `/logout`): an HTML page, or for an
//!   authorization error the client may hear of, a redirect back to it (RFC 6749 §4.1.2.1);
//! - a login page shown again ([`LoginProblem`]): 401, 429 (with `Retry-After`) or 403.

use super::pages::{Pages, authorization_response};
use crate::oauth::authorization_request::{AuthorizationResponse, AuthorizeError};
use crate::oauth::authorize::LoginProblem;
use crate::oauth::device::CodeProblem;
use crate::oauth::error::{BearerError, TokenError};
use crate::oauth::logout::LogoutError;
use crate::oauth::registration::RegistrationError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::{ErrorCode, ErrorResponse, FormParams};

/// Headers every token endpoint answer carries (RFC 6749 §5.1).
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON body with its content type.
pub fn json_body(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The status of each kind of token endpoint error (RFC 6749 §5.2: 400, and 401 for
/// `invalid_client`). One exhaustive `match`: a new variant does not compile until it has one.
pub fn status(error: &TokenError) -> StatusCode {
    match error {
        TokenError::Rejected { .. } | TokenError::DpopNonce { .. } => StatusCode::BAD_REQUEST,
        TokenError::Client { .. } => StatusCode::UNAUTHORIZED,
        TokenError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        TokenError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        TokenError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        TokenError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = status(&self);
        // Our own failures stay in the log: the wire gets a fixed sentence and the request id to
        // quote, never a driver's message.
        let description = match &self {
            TokenError::Internal { cause } => {
                tracing::error!(%cause, "request failed");
                match super::observe::current_request_id() {
                    Some(id) => format!(
                        "the server could not complete the request; quote request id {id} when reporting it"
                    ),
                    None => "the server could not complete the request".to_owned(),
                }
            }
            other => other.description(),
        };
        let body = ErrorResponse::new(self.code(), &description);
        let bytes =
            serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"server_error\"}".to_vec());
        let mut response = json_body(status, bytes);
        no_store(&mut response);
        match self {
            TokenError::Throttled { retry_after, .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            TokenError::Client {
                basic_used: true, ..
            } => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"portcullis\", charset=\"UTF-8\""),
                );
            }
            TokenError::DpopNonce { nonce } => dpop_nonce_header(&mut response, &nonce),
            _ => {}
        }
        response
    }
}

/// `DPoP-Nonce` (RFC 9449 §8): the nonce the next proof must carry.
pub fn dpop_nonce_header(response: &mut Response, nonce: &str) {
    if let Ok(value) = HeaderValue::from_str(nonce) {
        response.headers_mut().insert("dpop-nonce", value);
    }
}

/// The status of each kind of bearer-token error (RFC 6750 §3.1).
pub fn bearer_status(error: &BearerError) -> StatusCode {
    match error {
        BearerError::Missing(_)
        | BearerError::InvalidToken(_)
        | BearerError::DpopProof(_)
        | BearerError::DpopNonce(_) => StatusCode::UNAUTHORIZED,
        BearerError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        BearerError::InsufficientScope(_) => StatusCode::FORBIDDEN,
        BearerError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// RFC 6750 §3: a `WWW-Authenticate: Bearer` challenge naming the error (none when no token was
/// sent), and the same code and description as JSON.
impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        bearer_response(self, false)
    }
}

/// The answer to a refused access token: the code and description as JSON, and a challenge
/// naming them. The challenge is `DPoP` (RFC 9449 §7.1) for a proof error, and for any error
/// of a request that presented its token as `Authorization: DPoP` (`dpop_scheme`); `Bearer`
/// (RFC 6750 §3) otherwise.
pub fn bearer_response(error: BearerError, dpop_scheme: bool) -> Response {
    let description = error.description();
    let dpop_error = matches!(error, BearerError::DpopProof(_) | BearerError::DpopNonce(_));
    let scheme = if dpop_error || dpop_scheme {
        format!(
            "DPoP algs=\"{}\"",
            portcullis_core::dpop::ALGORITHMS
                .map(|a| a.as_str())
                .join(" ")
        )
    } else {
        "Bearer realm=\"portcullis\"".to_owned()
    };
    let challenge = match error.code() {
        Some(code) => format!(
            "{scheme}, error=\"{}\", error_description=\"{}\"",
            code.as_str(),
            description.replace('"', "'")
        ),
        None => scheme,
    };
    let code = error.code().map_or("invalid_request", |code| code.as_str());
    let body = serde_json::json!({ "error": code, "error_description": description });
    let mut response = json_body(bearer_status(&error), body.to_string().into_bytes());
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let BearerError::DpopNonce(nonce) = &error {
        dpop_nonce_header(&mut response, nonce);
    }
    response
}

/// An error of a browser-facing endpoint, shown as an HTML page. The page shows the request id, so
/// a developer can find the log line that says why; the browser stays on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// The form is over the body limit: 413.
    TooLarge,
    /// The query or form cannot be read: 400.
    Unreadable(String),
    /// The form's CSRF token does not match its cookie: 403. The words say what did not happen.
    FormExpired(&'static str),
    /// A request the endpoint refuses: 400, naming the OAuth code when there is one.
    Refused {
        /// The OAuth error code, shown for the developer.
        code: Option<ErrorCode>,
        /// Heading.
        title: String,
        /// Explanation.
        message: String,
    },
    /// Our own failure, its cause logged: 500 with a fixed message.
    Internal,
}

/// The status of each kind of page error.
pub fn page_status(error: &PageError) -> StatusCode {
    match error {
        PageError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        PageError::Unreadable(_) | PageError::Refused { .. } => StatusCode::BAD_REQUEST,
        PageError::FormExpired(_) => StatusCode::FORBIDDEN,
        PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The page of a page error.
pub fn page_error(pages: &Pages, error: PageError) -> Response {
    let status = page_status(&error);
    let (code, title, message) = match error {
        PageError::TooLarge => (None, "Invalid request".into(), "The form is too large.".into()),
        PageError::Unreadable(why) => (
            None,
            "Invalid request".into(),
            format!("The request cannot be read: {why}."),
        ),
        PageError::FormExpired(what) => (
            None,
            "Form expired".into(),
            format!("This form could not be verified. {what}"),
        ),
        PageError::Refused {
            code,
            title,
            message,
        } => (code, title, message),
        PageError::Internal => (
            Some(ErrorCode::ServerError),
            "Something went wrong".into(),
            "The server could not finish this request. Please try again; if it keeps happening, quote the request id below.".into(),
        ),
    };
    pages.error_page(status, code.map(ErrorCode::as_str), &title, &message)
}

/// The page each refusal shows; each says the user is still signed in.
impl From<LogoutError> for PageError {
    fn from(error: LogoutError) -> Self {
        let refused = |title: &str, message: &str| PageError::Refused {
            code: None,
            title: title.to_owned(),
            message: message.to_owned(),
        };
        match error {
            LogoutError::TwoClients => refused(
                "Invalid request",
                "The sign-out request names two different applications. You have not been signed out.",
            ),
            LogoutError::UnregisteredRedirect => refused(
                "Invalid redirect",
                "The application asked to send you to an address it has not registered. You have not been signed out.",
            ),
            LogoutError::FormExpired => PageError::FormExpired("You have not been signed out."),
            LogoutError::Internal => PageError::Internal,
        }
    }
}

/// The status of a login page shown again.
pub fn login_status(problem: &LoginProblem) -> StatusCode {
    match problem {
        LoginProblem::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        LoginProblem::WrongCredentials => StatusCode::UNAUTHORIZED,
        LoginProblem::Disabled => StatusCode::FORBIDDEN,
    }
}

/// What the login page says when it is shown again.
pub fn login_words(problem: &LoginProblem) -> String {
    match problem {
        LoginProblem::Locked { retry_after } => {
            let minutes = (retry_after + 59) / 60;
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            format!("Too many failed attempts. Try again in {minutes} {unit}.")
        }
        LoginProblem::WrongCredentials => "Wrong username or password.".into(),
        LoginProblem::Disabled => "This account is disabled.".into(),
    }
}

/// The status of the device code page shown again.
pub fn code_status(problem: &CodeProblem) -> StatusCode {
    match problem {
        CodeProblem::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        CodeProblem::Unknown => StatusCode::BAD_REQUEST,
    }
}

/// What the device code page says when it is shown again.
pub fn code_words(problem: &CodeProblem) -> String {
    match problem {
        CodeProblem::Locked { retry_after } => {
            let minutes = (retry_after + 59) / 60;
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            format!("Too many wrong codes. Try again in {minutes} {unit}.")
        }
        CodeProblem::Unknown => "That code is not valid. Check the code on your device: it may \
             have expired, or been used already."
            .into(),
    }
}

/// The answer to a refused authorization request: a page when the redirect URI is not known
/// good, otherwise a 303 back to the client with `error`, `state` and `iss` (RFC 6749 §4.1.2.1,
/// RFC 9207). `form` is the request as sent, for the log line a developer searches for.
pub fn authorize_error(
    pages: &Pages,
    issuer: &str,
    error: AuthorizeError,
    form: &FormParams,
) -> Response {
    // A repeated parameter logs as absent.
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
            page_error(
                pages,
                PageError::Refused {
                    code: Some(code),
                    title,
                    message,
                },
            )
        }
        AuthorizeError::Internal => page_error(pages, PageError::Internal),
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            code,
            description,
            response_mode,
        } => {
            tracing::info!(
                error = code.as_str(),
                reason = %description,
                client_id = sent("client_id"),
                %redirect_uri,
                "authorization request refused; the error goes back to the client"
            );
            let mut params = vec![
                ("error", code.as_str().to_owned()),
                ("error_description", description),
            ];
            if let Some(s) = state {
                params.push(("state", s));
            }
            params.push(("iss", issuer.to_owned()));
            authorization_response(
                pages,
                &AuthorizationResponse {
                    redirect_uri,
                    response_mode,
                    params,
                },
            )
        }
    }
}

/// Unknown paths: a JSON 404, so scripts that print the body see what happened.
pub async fn not_found() -> Response {
    json_body(
        StatusCode::NOT_FOUND,
        br#"{"error":"not_found","error_description":"no such endpoint"}"#.to_vec(),
    )
}

#[cfg(test)]
mod tests;

/// The status of each kind of registration error (RFC 7591 §3.2.2, RFC 7592 §3, RFC 6750 §3.1).
pub fn registration_status(error: &RegistrationError) -> StatusCode {
    match error {
        RegistrationError::InvalidRedirectUri(_)
        | RegistrationError::InvalidClientMetadata(_)
        | RegistrationError::UnapprovedSoftwareStatement => StatusCode::BAD_REQUEST,
        RegistrationError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        RegistrationError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        RegistrationError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        RegistrationError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A refused registration: the RFC 7591 §3.2.2 body, and for a bad token the RFC 6750 challenge.
impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        let status = registration_status(&self);
        let (code, description) = match &self {
            RegistrationError::InvalidRedirectUri(m) => ("invalid_redirect_uri", m.clone()),
            RegistrationError::InvalidClientMetadata(m) => ("invalid_client_metadata", m.clone()),
            RegistrationError::UnapprovedSoftwareStatement => (
                "unapproved_software_statement",
                "software statements are not accepted here; send the metadata itself".to_owned(),
            ),
            RegistrationError::InvalidToken(m) => ("invalid_token", (*m).to_owned()),
            RegistrationError::TooLarge { limit } => (
                "invalid_client_metadata",
                format!("the body is larger than {limit} bytes"),
            ),
            RegistrationError::Throttled { retry_after } => (
                "temporarily_unavailable",
                format!(
                    "too many registrations from this address; retry after {retry_after} seconds"
                ),
            ),
            RegistrationError::Internal(cause) => {
                tracing::error!(%cause, "registration failed");
                (
                    "server_error",
                    "the server could not complete the request".to_owned(),
                )
            }
        };
        let description = portcullis_core::error::sanitize_description(&description);
        let body = serde_json::json!({ "error": code, "error_description": description });
        let mut response = json_body(status, body.to_string().into_bytes());
        no_store(&mut response);
        match self {
            RegistrationError::InvalidToken(_) => {
                let challenge = format!(
                    "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{}\"",
                    description.replace('"', "'")
                );
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
            }
            RegistrationError::Throttled { retry_after } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            _ => {}
        }
        response
    }
}
