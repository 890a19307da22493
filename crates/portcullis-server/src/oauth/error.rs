//! The token endpoint's error: one variant per kind of answer (rejected request, failed client
//! authentication, body too large, throttled, unavailable, our own failure). `http::error` turns
//! it into a response; nothing else picks status codes.

use portcullis_core::{ErrorCode, TokenRequestError};

/// An error answer of the token endpoint. Each variant is one kind of answer, so the HTTP layer
/// picks the status with one exhaustive `match` (`http::error::status`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// A §5.2 error the request caused (`invalid_request`, `invalid_grant`, `invalid_scope`, …):
    /// 400. Never `invalid_client` or `server_error`: those have their own variants.
    #[error("{code}: {description}")]
    Rejected {
        /// The §5.2 code.
        code: ErrorCode,
        /// What went wrong, in words a developer can act on; never contains a secret.
        description: String,
    },
    /// `invalid_client`: 401.
    #[error("invalid_client: {description}")]
    Client {
        /// What went wrong, as far as it can be said without telling whether the client exists.
        description: String,
        /// The client tried `Authorization: Basic`, so the 401 carries `WWW-Authenticate: Basic`.
        basic_used: bool,
    },
    /// The body was over the size limit: 413 with `invalid_request`.
    #[error("invalid_request: {description}")]
    TooLarge {
        /// The limit, in words.
        description: String,
    },
    /// Too many failed client authentications, or device authorizations from one address: 429
    /// with `temporarily_unavailable` and `Retry-After`. RFC 6749 has no code for it;
    /// `temporarily_unavailable` says "try later".
    #[error("temporarily_unavailable: retry after {retry_after} seconds")]
    Throttled {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// What there were too many of, in words.
        what: &'static str,
    },
    /// Something we depend on is away for now: 503 with `temporarily_unavailable`.
    #[error("temporarily_unavailable: {description}")]
    Unavailable {
        /// What is unavailable.
        description: String,
    },
    /// The DPoP proof lacks the server's current nonce (RFC 9449 §8): 400 with `use_dpop_nonce`
    /// and the nonce in `DPoP-Nonce`.
    #[error("use_dpop_nonce")]
    DpopNonce {
        /// The nonce to put in the next proof.
        nonce: String,
    },
    /// Our fault, never the request's: 500 with `server_error`. The cause is logged; the wire gets a
    /// fixed sentence and the request id.
    #[error("server_error: {cause}")]
    Internal {
        /// What failed, for the log only.
        cause: String,
    },
}

impl TokenError {
    /// An error with the given code and description, as the variant that code calls for.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = description.into();
        match code {
            ErrorCode::InvalidClient => TokenError::Client {
                description,
                basic_used: false,
            },
            ErrorCode::ServerError => TokenError::Internal { cause: description },
            ErrorCode::TemporarilyUnavailable => TokenError::Unavailable { description },
            code => TokenError::Rejected { code, description },
        }
    }

    /// Too many failed client authentications from this client or address.
    pub fn throttled(retry_after: u64) -> Self {
        TokenError::Throttled {
            retry_after,
            what: "failed client authentications",
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` with a description.
    pub fn client(description: impl Into<String>, basic_used: bool) -> Self {
        TokenError::Client {
            description: description.into(),
            basic_used,
        }
    }

    /// `invalid_client`, with the one message that does not say whether the client exists.
    pub fn client_authentication_failed(basic_used: bool) -> Self {
        Self::client("client authentication failed", basic_used)
    }

    /// `server_error`: our fault, never the request's.
    pub fn server(cause: impl Into<String>) -> Self {
        TokenError::Internal {
            cause: cause.into(),
        }
    }

    /// The §5.2 code the answer carries.
    pub fn code(&self) -> ErrorCode {
        match self {
            TokenError::Rejected { code, .. } => *code,
            TokenError::Client { .. } => ErrorCode::InvalidClient,
            TokenError::TooLarge { .. } => ErrorCode::InvalidRequest,
            TokenError::Throttled { .. } | TokenError::Unavailable { .. } => {
                ErrorCode::TemporarilyUnavailable
            }
            TokenError::Internal { .. } => ErrorCode::ServerError,
            TokenError::DpopNonce { .. } => ErrorCode::UseDpopNonce,
        }
    }

    /// The description for the log. For `Internal` it is the cause, which never reaches the wire.
    pub fn description(&self) -> String {
        match self {
            TokenError::Rejected { description, .. }
            | TokenError::Client { description, .. }
            | TokenError::TooLarge { description }
            | TokenError::Unavailable { description } => description.clone(),
            TokenError::Throttled { retry_after, what } => {
                format!("too many {what}; retry after {retry_after} seconds")
            }
            TokenError::Internal { cause } => cause.clone(),
            TokenError::DpopNonce { .. } => {
                "make the DPoP proof again with the nonce in the DPoP-Nonce header".into()
            }
        }
    }
}

impl From<super::dpop::DpopError> for TokenError {
    fn from(e: super::dpop::DpopError) -> Self {
        match e {
            super::dpop::DpopError::Invalid(d) => TokenError::new(ErrorCode::InvalidDpopProof, d),
            super::dpop::DpopError::UseNonce(nonce) => TokenError::DpopNonce { nonce },
            super::dpop::DpopError::Store(cause) => {
                TokenError::server(format!("cannot record a DPoP proof: {cause}"))
            }
        }
    }
}

/// The system's random number generator failed: our fault, answered as `server_error`.
impl From<crate::crypto::RandomUnavailable> for TokenError {
    fn from(e: crate::crypto::RandomUnavailable) -> Self {
        TokenError::server(e.to_string())
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

/// An error answer of a resource endpoint behind a bearer token (`/userinfo`), in RFC 6750 §3's
/// terms. `http::error` gives each variant its status and `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No token at all: 401 with a bare `Bearer` challenge (§3.1: no error code).
    #[error("{0}")]
    Missing(String),
    /// The request is malformed (`invalid_request`): 400.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// The token is expired, revoked, malformed or not ours (`invalid_token`): 401.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The token lacks a scope the endpoint needs (`insufficient_scope`): 403.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// The database could not be asked: 503 with `temporarily_unavailable`. The cause is logged
    /// where it happened; the wire says only "try again".
    #[error("temporarily_unavailable")]
    Unavailable,
    /// A DPoP-bound token came with a missing or wrong proof (`invalid_dpop_proof`, RFC 9449
    /// §7.1): 401 with a `DPoP` challenge.
    #[error("invalid_dpop_proof: {0}")]
    DpopProof(String),
    /// The proof lacks our nonce (`use_dpop_nonce`, RFC 9449 §9): 401 with a `DPoP` challenge
    /// and the nonce in `DPoP-Nonce`.
    #[error("use_dpop_nonce")]
    DpopNonce(String),
}

impl BearerError {
    /// The RFC 6750 code, none for a missing token.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            BearerError::Missing(_) => None,
            BearerError::InvalidRequest(_) => Some(ErrorCode::InvalidRequest),
            BearerError::InvalidToken(_) => Some(ErrorCode::InvalidToken),
            BearerError::InsufficientScope(_) => Some(ErrorCode::InsufficientScope),
            BearerError::Unavailable => Some(ErrorCode::TemporarilyUnavailable),
            BearerError::DpopProof(_) => Some(ErrorCode::InvalidDpopProof),
            BearerError::DpopNonce(_) => Some(ErrorCode::UseDpopNonce),
        }
    }

    /// The description the answer carries.
    pub fn description(&self) -> &str {
        match self {
            BearerError::Missing(d)
            | BearerError::InvalidRequest(d)
            | BearerError::InvalidToken(d)
            | BearerError::InsufficientScope(d)
            | BearerError::DpopProof(d) => d,
            BearerError::Unavailable => "try again",
            BearerError::DpopNonce(_) => "make the DPoP proof again with the nonce in DPoP-Nonce",
        }
    }
}
