//! The token endpoint's error: one RFC 6749 §5.2 code, a description safe to show the client, and
//! whether the client used HTTP Basic (which decides the `WWW-Authenticate` header). `http::error`
//! turns it into a response; nothing else picks status codes.

use portcullis_core::{ErrorCode, TokenRequestError};

/// An error answer of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct TokenError {
    /// The §5.2 code.
    pub code: ErrorCode,
    /// What went wrong, in words a developer can act on; never contains a secret.
    pub description: String,
    /// The client tried `Authorization: Basic`, so a 401 must carry `WWW-Authenticate: Basic`.
    pub basic_used: bool,
    /// The body was over the size limit (answered with 413).
    pub too_large: bool,
    /// Too many failed authentications: answered 429 with this `Retry-After` (seconds).
    pub retry_after: Option<u64>,
}

impl TokenError {
    /// An error with the given code and description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        TokenError {
            code,
            description: description.into(),
            basic_used: false,
            too_large: false,
            retry_after: None,
        }
    }

    /// Too many failed client authentications from this client or address: 429 with
    /// `Retry-After`. RFC 6749 has no code for it; `temporarily_unavailable` says "try later".
    pub fn throttled(retry_after: u64) -> Self {
        TokenError {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "too many failed client authentications; retry after {retry_after} seconds"
                ),
            )
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`, with the one message that does not say whether the client exists.
    pub fn client_authentication_failed(basic_used: bool) -> Self {
        TokenError {
            basic_used,
            ..Self::new(ErrorCode::InvalidClient, "client authentication failed")
        }
    }

    /// `server_error`: our fault, never the request's.
    pub fn server(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, description)
    }
}

impl From<TokenRequestError> for TokenError {
    fn from(e: TokenRequestError) -> Self {
        let code = match &e {
            TokenRequestError::Invalid(_) => ErrorCode::InvalidRequest,
            TokenRequestError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            TokenRequestError::Scope(_) => ErrorCode::InvalidScope,
            TokenRequestError::Target => ErrorCode::InvalidTarget,
        };
        TokenError::new(code, e.to_string())
    }
}
