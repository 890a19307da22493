//! Errors a token request can end in, typed so that callers can tell "wrong secret" from "server
//! down" from "that URL is not a token endpoint".

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Settings are missing or malformed; every problem is listed.
    #[error("configuration: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The server answered with an RFC 6749 §5.2 error.
    #[error("the authorization server refused: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
        /// `error_uri`.
        uri: Option<String>,
        /// The HTTP status.
        status: u16,
        /// The raw body.
        body: String,
    },
    /// The answer is not a token response: an HTML page, an empty body, JSON without `access_token`.
    #[error("unexpected answer from {url} (HTTP {status}): {what}")]
    Unexpected {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What it was instead.
        what: String,
        /// The start of the body.
        body: String,
    },
    /// The server could not be reached (after retries).
    #[error("cannot reach {url}: {reason}")]
    Network {
        /// The URL asked.
        url: String,
        /// Why.
        reason: String,
    },
    /// Discovery failed: no metadata document could be fetched (the server was not reached).
    #[error("discovery: {0}")]
    Discovery(String),
    /// The issuer's server answered, but with no metadata naming that issuer exactly: the
    /// configured issuer is wrong (a typo, a trailing `/`, another server).
    #[error("no metadata for this issuer: {0}")]
    WrongIssuer(String),
    /// The browser came back with a redirect that is not this sign-in's (state, issuer, no code)
    /// or did not come back in time; or a device sign-in's code expired before it was approved.
    #[error("the sign-in did not complete: {0}")]
    SignIn(String),
    /// The ID token of a sign-in does not check out (signature, issuer, audience, expiry, nonce).
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
}

/// A reqwest error in words a person can act on: what happened, then its causes, never a bare
/// "builder error" or "error sending request".
pub fn describe_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the request timed out".into();
    }
    if e.is_connect() {
        // A TLS failure is a connect error too; say which, since the cure is different.
        let causes = chain(e);
        if let Some(tls) = causes.iter().find(|c| is_tls(c)) {
            return format!(
                "the TLS handshake failed: {tls} (to trust a private CA, point SSL_CERT_FILE at its PEM file)"
            );
        }
        return match causes.last() {
            Some(last) => format!("connection refused or host unreachable ({last})"),
            None => "connection refused or host unreachable".into(),
        };
    }
    let mut text = if e.is_builder() {
        "the request could not be built".to_owned()
    } else {
        e.to_string()
    };
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The messages of an error's causes, outermost first.
fn chain(e: &reqwest::Error) -> Vec<String> {
    let mut out = Vec::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push(c.to_string());
        cause = c.source();
    }
    out
}

fn is_tls(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("certificate") || m.contains("tls") || m.contains("handshake")
}

/// The HTTP client every request of this crate goes through: with `timeout`, and with redirects off
/// (a token endpoint that redirects gets its answer reported, and the credentials are never
/// re-sent to wherever it points). A client that cannot be built is an error, never replaced by a
/// default one without the timeout.
pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Config(vec![format!("cannot build the HTTP client: {e}")]))
}
