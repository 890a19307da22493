//! Issuer identifiers as a client or an API sees them: where a server's metadata is (RFC 8414 §3,
//! OpenID Connect Discovery §4), and the one rule for comparing issuers. The issuer a server
//! publishes, and the `iss` of its tokens, must be *identical* to the one configured (RFC 8414
//! §3.3), character for character. A trailing `/` is part of the identifier: some providers have
//! one (`https://tenant.auth0.com/`) and Portcullis never does, so it is neither added nor
//! removed; a mismatch that is only a trailing `/` gets a message that says so.

/// Why a published issuer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerMismatch {
    /// The document has no `issuer`.
    #[error("no issuer is named")]
    Missing,
    /// Only a trailing `/` differs.
    #[error(
        "the issuer named is {published}, not {configured}: they differ only in the trailing '/'; give the issuer exactly as the server names it (RFC 8414 §3.3)"
    )]
    TrailingSlash {
        /// What was configured.
        configured: String,
        /// What the server says.
        published: String,
    },
    /// Another issuer altogether.
    #[error("the issuer named is {published}, not {configured} (RFC 8414 §3.3)")]
    Other {
        /// What was configured.
        configured: String,
        /// What the server says.
        published: String,
    },
}

/// Checks that `issuer` can be an issuer identifier at all: an `https` (or, for development,
/// `http`) URL with a host and no query or fragment (RFC 8414 §2), so that a typo is a
/// configuration error before anything is asked of the network.
///
/// ```
/// use portcullis_core::issuer::valid_issuer;
/// assert!(valid_issuer("https://id.example.com").is_ok());
/// assert!(valid_issuer("https://tenant.auth0.com/").is_ok());
/// assert!(valid_issuer("127.0.0.1:8080").is_err());
/// assert!(valid_issuer("http://127.0.0.1:8080?x=1").is_err());
/// assert!(valid_issuer("https:///path").is_err());
/// ```
pub fn valid_issuer(issuer: &str) -> Result<(), String> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(|| format!("'{issuer}' is not an http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("'{issuer}' has no host"));
    }
    if issuer.contains(['?', '#']) {
        return Err(format!(
            "'{issuer}' has a query or fragment, which an issuer never has (RFC 8414 §2)"
        ));
    }
    if issuer.chars().any(char::is_whitespace) {
        return Err(format!("'{issuer}' contains a space"));
    }
    Ok(())
}

/// Checks the issuer a metadata document (or a token) names against the configured one.
///
/// ```
/// use portcullis_core::issuer::{IssuerMismatch, check_issuer};
/// assert!(check_issuer("https://id.example.com", Some("https://id.example.com")).is_ok());
/// assert!(matches!(
///     check_issuer("https://id.example.com/", Some("https://id.example.com")),
///     Err(IssuerMismatch::TrailingSlash { .. })
/// ));
/// assert!(check_issuer("https://id.example.com", Some("https://evil.example")).is_err());
/// ```
pub fn check_issuer(configured: &str, published: Option<&str>) -> Result<(), IssuerMismatch> {
    let Some(published) = published else {
        return Err(IssuerMismatch::Missing);
    };
    if published == configured {
        return Ok(());
    }
    let (configured, published) = (configured.to_owned(), published.to_owned());
    if configured.trim_end_matches('/') == published.trim_end_matches('/') {
        return Err(IssuerMismatch::TrailingSlash {
            configured,
            published,
        });
    }
    Err(IssuerMismatch::Other {
        configured,
        published,
    })
}

/// The metadata documents to try for `issuer`, in order: RFC 8414's, with the well-known segment
/// between the host and any path, then OpenID Connect Discovery's, appended to the issuer.
///
/// ```
/// use portcullis_core::issuer::metadata_urls;
/// assert_eq!(
///     metadata_urls("https://id.example.com"),
///     ["https://id.example.com/.well-known/oauth-authorization-server",
///      "https://id.example.com/.well-known/openid-configuration"]
/// );
/// assert_eq!(
///     metadata_urls("https://example.com/tenant/"),
///     ["https://example.com/.well-known/oauth-authorization-server/tenant",
///      "https://example.com/tenant/.well-known/openid-configuration"]
/// );
/// ```
pub fn metadata_urls(issuer: &str) -> [String; 2] {
    let base = issuer.trim_end_matches('/');
    let host_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let (origin, path) = base.split_at(host_end);
    [
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{base}/.well-known/openid-configuration"),
    ]
}
