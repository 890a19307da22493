//! The one mapping from errors to HTTP answers, each status picked by one exhaustive `match`:
//! - the token, introspection and revocation endpoints' [`TokenError`] (RFC 6749 §5.2): 400 by
//!   default, 401 for `invalid_client`, JSON body, never cached; 413 for bodies over the limit;
//!   `server_error` with a fixed description and the request id, its cause logged;
//! - `/userinfo`'s [`BearerError`] (RFC 6750 §3): the status and the `WWW-Authenticate` challenge;
//! - the browser endpoints' [`PageError`] (`/authorize`, `/logout`): an HTML page, or for an
//!   authorization error the client may hear of, a redirect back to it (RFC 6749 §4.1.2.1).

use super::pages::{Pages, see_other};
use crate::oauth::authorization_request::{AuthorizeError, redirect_with};
use crate::oauth::error::{BearerError, TokenError};
use crate::oauth::logout::LogoutError;
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
        TokenError::Rejected { .. } => StatusCode::BAD_REQUEST,
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
            TokenError::Throttled { retry_after } => {
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
            _ => {}
        }
        response
    }
}

/// The status of each kind of bearer-token error (RFC 6750 §3.1).
pub fn bearer_status(error: &BearerError) -> StatusCode {
    match error {
        BearerError::Missing(_) | BearerError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        BearerError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        BearerError::InsufficientScope(_) => StatusCode::FORBIDDEN,
        BearerError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// RFC 6750 §3: a `WWW-Authenticate: Bearer` challenge naming the error (none when no token was
/// sent), and the same code and description as JSON.
impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let description = self.description();
        let challenge = match self.code() {
            Some(code) => format!(
                "Bearer realm=\"portcullis\", error=\"{}\", error_description=\"{}\"",
                code.as_str(),
                description.replace('"', "'")
            ),
            None => "Bearer realm=\"portcullis\"".to_owned(),
        };
        let code = self.code().map_or("invalid_request", |code| code.as_str());
        let body = serde_json::json!({ "error": code, "error_description": description });
        let mut response = json_body(bearer_status(&self), body.to_string().into_bytes());
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
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
            if let Some(s) = &state {
                params.push(("state", s));
            }
            params.push(("iss", issuer));
            see_other(&redirect_with(&redirect_uri, &params))
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
mod tests {
    use super::*;
    use portcullis_core::ErrorCode;

    /// An error, its status, its code, and the one extra header it must carry.
    type Row = (
        TokenError,
        u16,
        &'static str,
        Option<(&'static str, &'static str)>,
    );

    /// Every kind of error, with the status, code and extra header it must go out with.
    #[test]
    fn every_token_error_has_its_status_code_and_headers() {
        let table: [Row; 8] = [
            (
                TokenError::invalid_request("x"),
                400,
                "invalid_request",
                None,
            ),
            (
                TokenError::new(ErrorCode::InvalidGrant, "x"),
                400,
                "invalid_grant",
                None,
            ),
            (TokenError::client("x", false), 401, "invalid_client", None),
            (
                TokenError::client_authentication_failed(true),
                401,
                "invalid_client",
                Some((
                    "www-authenticate",
                    "Basic realm=\"portcullis\", charset=\"UTF-8\"",
                )),
            ),
            (
                TokenError::TooLarge {
                    description: "x".into(),
                },
                413,
                "invalid_request",
                None,
            ),
            (
                TokenError::throttled(7),
                429,
                "temporarily_unavailable",
                Some(("retry-after", "7")),
            ),
            (
                TokenError::new(ErrorCode::TemporarilyUnavailable, "x"),
                503,
                "temporarily_unavailable",
                None,
            ),
            (
                TokenError::server("driver said no"),
                500,
                "server_error",
                None,
            ),
        ];
        for (error, expected_status, expected_code, header) in table {
            let shown = format!("{error:?}");
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), expected_status, "{shown}");
            assert_eq!(response.headers()["cache-control"], "no-store", "{shown}");
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{shown}"
            );
            if let Some((name, value)) = header {
                assert_eq!(response.headers()[name], value, "{shown}");
            } else {
                assert!(response.headers().get("retry-after").is_none(), "{shown}");
                assert!(
                    response.headers().get("www-authenticate").is_none(),
                    "{shown}"
                );
            }
            let body = body_bytes(response);
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["error"], expected_code, "{shown}");
            assert!(
                !json["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("driver said no"),
                "a cause reached the wire: {json}"
            );
        }
    }

    #[test]
    fn every_bearer_error_has_its_status_and_challenge() {
        let table = [
            (
                BearerError::Missing("x".into()),
                401,
                "Bearer realm=\"portcullis\"",
            ),
            (
                BearerError::InvalidRequest("x".into()),
                400,
                "Bearer realm=\"portcullis\", error=\"invalid_request\", error_description=\"x\"",
            ),
            (
                BearerError::InvalidToken("x".into()),
                401,
                "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"x\"",
            ),
            (
                BearerError::InsufficientScope("x".into()),
                403,
                "Bearer realm=\"portcullis\", error=\"insufficient_scope\", error_description=\"x\"",
            ),
            (
                BearerError::Unavailable,
                503,
                "Bearer realm=\"portcullis\", error=\"temporarily_unavailable\", error_description=\"try again\"",
            ),
        ];
        for (error, expected_status, challenge) in table {
            let shown = format!("{error:?}");
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), expected_status, "{shown}");
            assert_eq!(response.headers()["www-authenticate"], challenge, "{shown}");
            assert_eq!(response.headers()["cache-control"], "no-store", "{shown}");
        }
    }

    /// Every page error, every authorization error and every logout refusal, with its status and,
    /// for a redirect, where it goes.
    #[test]
    fn every_page_error_has_its_status() {
        let pages = Pages::new().unwrap();
        let refused = || PageError::Refused {
            code: Some(ErrorCode::InvalidRequest),
            title: "t".into(),
            message: "m".into(),
        };
        let table = [
            (PageError::TooLarge, 413),
            (PageError::Unreadable("x".into()), 400),
            (PageError::FormExpired("x"), 403),
            (refused(), 400),
            (PageError::Internal, 500),
            (LogoutError::TwoClients.into(), 400),
            (LogoutError::UnregisteredRedirect.into(), 400),
            (LogoutError::FormExpired.into(), 403),
            (LogoutError::Internal.into(), 500),
        ];
        for (error, expected) in table {
            let shown = format!("{error:?}");
            let response = page_error(&pages, error);
            assert_eq!(response.status().as_u16(), expected, "{shown}");
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{shown}"
            );
        }
        let form = FormParams::default();
        let page = AuthorizeError::Page {
            code: ErrorCode::InvalidRequest,
            title: "t".into(),
            message: "m".into(),
        };
        let redirect = AuthorizeError::Redirect {
            redirect_uri: "https://app.test/cb?x=1".into(),
            state: Some("s".into()),
            code: ErrorCode::AccessDenied,
            description: "no".into(),
        };
        let issuer = "https://issuer.test";
        let shown = authorize_error(&pages, issuer, page, &form);
        assert_eq!(shown.status().as_u16(), 400);
        let internal = authorize_error(&pages, issuer, AuthorizeError::Internal, &form);
        assert_eq!(internal.status().as_u16(), 500);
        let back = authorize_error(&pages, issuer, redirect, &form);
        assert_eq!(back.status().as_u16(), 303);
        assert_eq!(
            back.headers()["location"],
            "https://app.test/cb?x=1&error=access_denied&error_description=no&state=s\
             &iss=https%3A%2F%2Fissuer.test"
        );
        assert_eq!(back.headers()["cache-control"], "no-store");
    }

    fn body_bytes(response: Response) -> Vec<u8> {
        use http_body_util::BodyExt;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes()
            .to_vec()
    }
}
