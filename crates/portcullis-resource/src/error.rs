//! Why a request was refused, and the RFC 6750 §3 answer for it.

use axum::http::StatusCode;

/// A bearer token that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// No `Authorization: Bearer` header.
    #[error("a bearer token is required")]
    Missing,
    /// The header is not a single well-formed bearer credential.
    #[error("malformed Authorization header")]
    Malformed,
    /// Not a JWT we can check, bad signature, wrong `typ`, `alg` not allowed or not the key's.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// `exp` has passed or `nbf` has not come.
    #[error("the token has expired or is not valid yet")]
    Expired,
    /// `iss` is not the configured issuer.
    #[error("the token is from another issuer")]
    WrongIssuer,
    /// `aud` does not include this API.
    #[error("the token is for another audience")]
    WrongAudience,
    /// Introspection said the token is not active (revoked, expired, unknown).
    #[error("the token is not active")]
    Inactive,
    /// The token lacks a required scope.
    #[error("the token lacks the scope '{0}'")]
    InsufficientScope(String),
    /// The issuer's keys or introspection endpoint could not be reached.
    #[error("the authorization server is unavailable: {0}")]
    Unavailable(String),
    /// A DPoP-bound token came without a valid proof by its key (RFC 9449 §7.1).
    #[error("{0}")]
    DpopProof(String),
    /// The DPoP proof lacks this API's current nonce (RFC 9449 §9); the value is the nonce to use.
    #[error("make the DPoP proof again with the nonce in DPoP-Nonce")]
    DpopNonce(String),
}

impl ValidationError {
    /// What a caller is told: the message, except that why the authorization server could not be
    /// reached (its URL, the HTTP library's error) stays in this API's log.
    pub fn public_description(&self) -> String {
        match self {
            ValidationError::Unavailable(_) => {
                "the token cannot be checked right now; try again later".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The RFC 6750 §3.1 error code, if any (a missing token gets none).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ValidationError::Missing => None,
            ValidationError::Malformed => Some("invalid_request"),
            ValidationError::InsufficientScope(_) => Some("insufficient_scope"),
            ValidationError::Unavailable(_) => None,
            ValidationError::DpopProof(_) => Some("invalid_dpop_proof"),
            ValidationError::DpopNonce(_) => Some("use_dpop_nonce"),
            _ => Some("invalid_token"),
        }
    }

    /// 401, 400, 403, or 503 when the server could not be asked.
    pub fn status(&self) -> StatusCode {
        match self {
            ValidationError::Malformed => StatusCode::BAD_REQUEST,
            ValidationError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ValidationError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3).
    ///
    /// ```
    /// use portcullis_resource::ValidationError;
    /// let e = ValidationError::InsufficientScope("read".into());
    /// assert_eq!(e.challenge("api"), r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scope 'read'", scope="read""#);
    /// ```
    pub fn challenge(&self, realm: &str) -> String {
        self.challenge_for(realm, false)
    }

    /// The challenge for a request that presented its token under the `DPoP` scheme
    /// (`dpop_scheme`) or as a bearer token: DPoP errors, and every error of a DPoP request,
    /// challenge with `DPoP` (RFC 9449 §7.1).
    pub fn challenge_for(&self, realm: &str, dpop_scheme: bool) -> String {
        let dpop = dpop_scheme
            || matches!(
                self,
                ValidationError::DpopProof(_) | ValidationError::DpopNonce(_)
            );
        let mut value = if dpop {
            format!(
                "DPoP realm=\"{}\", algs=\"{}\"",
                realm.replace('"', ""),
                dpop_algs()
            )
        } else {
            format!("Bearer realm=\"{}\"", realm.replace('"', ""))
        };
        if let Some(code) = self.code() {
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                self.public_description().replace(['"', '\\'], "'")
            ));
        }
        if let ValidationError::InsufficientScope(scope) = self {
            value.push_str(&format!(", scope=\"{}\"", scope.replace('"', "")));
        }
        value
    }
}

/// The algorithms a DPoP proof may use, as a challenge lists them.
pub(crate) fn dpop_algs() -> String {
    portcullis_core::dpop::ALGORITHMS
        .map(|a| a.as_str())
        .join(" ")
}
