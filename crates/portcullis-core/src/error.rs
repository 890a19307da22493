//! The error codes of RFC 6749 §5.2 and its extensions, and the JSON body that carries them.

use serde::{Deserialize, Serialize};

/// An OAuth 2.0 error code, in the order RFC 6749 §5.2 lists them, followed by the codes that later
/// RFCs add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed (RFC 6749 §5.2).
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// The grant (code, refresh token) is invalid, expired or revoked (RFC 6749 §5.2).
    InvalidGrant,
    /// The authenticated client may not use this grant type (RFC 6749 §5.2).
    UnauthorizedClient,
    /// The grant type is not supported by this server (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown, or exceeds what the client may ask for (RFC 6749 §5.2).
    InvalidScope,
    /// The requested resource or audience is invalid or not allowed (RFC 8707 §2).
    InvalidTarget,
    /// The user or the server refused the request (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// Only `response_type=code` is supported (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// `prompt=none` and nobody is signed in (OpenID Connect Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` and the user has not consented (OpenID Connect Core §3.1.2.6).
    ConsentRequired,
    /// The bearer token is missing its scope (RFC 6750 §3.1).
    InsufficientScope,
    /// The bearer token is expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken,
    /// The server met an unexpected condition (RFC 6749 §4.1.2.1); never caused by the request.
    ServerError,
    /// The server cannot handle the request now (RFC 6749 §4.1.2.1).
    TemporarilyUnavailable,
    /// The `request` parameter (a request object) is not supported (OpenID Connect Core
    /// §3.1.2.6).
    RequestNotSupported,
    /// The DPoP proof is missing, malformed or wrong (RFC 9449 §5.1).
    InvalidDpopProof,
    /// The DPoP proof must carry the nonce the server gives in `DPoP-Nonce` (RFC 9449 §8).
    UseDpopNonce,
    /// The user has not yet approved the device's request: poll again later (RFC 8628 §3.5).
    AuthorizationPending,
    /// Polling too often: wait 5 seconds longer between polls from now on (RFC 8628 §3.5).
    SlowDown,
    /// The device code has expired: start again (RFC 8628 §3.5).
    ExpiredToken,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    ///
    /// ```
    /// assert_eq!(portcullis_core::ErrorCode::InvalidTarget.as_str(), "invalid_target");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of an RFC 6749 §5.2 error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code, e.g. `invalid_client`.
    pub error: String,
    /// A human-readable explanation, restricted to the characters §5.2 allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// A page that explains the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl ErrorResponse {
    /// Builds a response, replacing any character that §5.2 forbids in `error_description`
    /// (anything outside printable ASCII, `"` and `\`) so the body is always valid.
    ///
    /// ```
    /// use portcullis_core::{ErrorCode, ErrorResponse};
    /// let e = ErrorResponse::new(ErrorCode::InvalidRequest, "bad \"quote\"");
    /// assert_eq!(e.error_description.as_deref(), Some("bad 'quote'"));
    /// ```
    pub fn new(code: ErrorCode, description: impl AsRef<str>) -> Self {
        ErrorResponse {
            error: code.as_str().to_owned(),
            error_description: Some(sanitize_description(description.as_ref())),
            error_uri: None,
        }
    }
}

/// Maps text onto the character set RFC 6749 §5.2 allows in `error_description`
/// (%x20-21 / %x23-5B / %x5D-7E).
pub fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}
