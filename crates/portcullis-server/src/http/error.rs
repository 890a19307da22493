//! The one mapping from errors to HTTP answers. RFC 6749 §5.2: 400 by default, 401 for
//! `invalid_client`, JSON body, never cached; 413 for bodies over the limit; `server_error` with a
//! fixed description and the request id, its cause logged.

use crate::error::TokenError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::{ErrorCode, ErrorResponse};

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

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = if self.too_large {
            StatusCode::PAYLOAD_TOO_LARGE
        } else if self.retry_after.is_some() {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            match self.code {
                ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
                ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            }
        };
        // Our own failures stay in the log: the wire gets a fixed sentence and the request id to
        // quote, never a driver's message.
        let description = if self.code == ErrorCode::ServerError {
            tracing::error!(cause = %self.description, "request failed");
            match crate::metrics::current_request_id() {
                Some(id) => format!(
                    "the server could not complete the request; quote request id {id} when reporting it"
                ),
                None => "the server could not complete the request".to_owned(),
            }
        } else {
            self.description
        };
        let body = ErrorResponse::new(self.code, &description);
        let bytes =
            serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"server_error\"}".to_vec());
        let mut response = json_body(status, bytes);
        no_store(&mut response);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.basic_used && status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"portcullis\", charset=\"UTF-8\""),
            );
        }
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
