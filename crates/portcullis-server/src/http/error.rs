//! The one mapping from errors to HTTP answers. RFC 6749 §5.2: 400 by default, 401 for
//! `invalid_client`, JSON body, never cached; 413 for bodies over the limit; `server_error` with a
//! fixed description and the request id, its cause logged.

use crate::error::{BearerError, TokenError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::ErrorResponse;

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
