//! `application/x-www-form-urlencoded` request bodies, read the way RFC 6749 §3.2 and OAuth 2.1 §3.1
//! require: an empty value counts as omitted, and a parameter sent twice is an error.

/// Fields beyond this many make a request malformed; no OAuth request needs more.
pub const MAX_FIELDS: usize = 64;

/// The longest parameter name accepted, in bytes after decoding. OAuth's longest is under 32.
pub const MAX_NAME_BYTES: usize = 256;

/// The longest parameter value accepted, in bytes after decoding. The longest values OAuth sends
/// are tokens and URIs; 8 KiB leaves room for large JWTs while keeping one field from filling the
/// whole body limit.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;

/// Why a form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A parameter that may appear once appeared more than once.
    #[error("parameter '{0}' is repeated")]
    Repeated(String),
    /// The body has more fields than [`MAX_FIELDS`].
    #[error("too many form fields")]
    TooManyFields,
    /// A parameter name is longer than [`MAX_NAME_BYTES`].
    #[error("a parameter name is too long")]
    NameTooLong,
    /// The value of the named parameter is longer than [`MAX_VALUE_BYTES`].
    #[error("parameter '{0}' is too long")]
    ValueTooLong(String),
}

/// The decoded parameters of a form body, in the order they were sent.
///
/// ```
/// use portcullis_core::FormParams;
/// let form = FormParams::parse(b"grant_type=client_credentials&scope=&scope=").unwrap();
/// assert_eq!(form.get("grant_type").unwrap(), Some("client_credentials"));
/// assert!(form.get("scope").is_err()); // repeated, even though both are empty
/// assert_eq!(form.get("missing").unwrap(), None);
/// ```
#[derive(Clone, Default)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

/// Parameters whose values are credentials: `Debug` shows them as `[redacted]`.
const SECRET_PARAMETERS: &[&str] = &[
    "code",
    "code_verifier",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "password",
    "token",
    "subject_token",
    "actor_token",
    "csrf",
    "access_token",
    "id_token_hint",
];

/// Names and values, with every credential's value redacted, so a form can be logged safely.
///
/// ```
/// use portcullis_core::FormParams;
/// let form = FormParams::parse(b"grant_type=authorization_code&code=abc&code_verifier=xyz").unwrap();
/// let shown = format!("{form:?}");
/// assert!(shown.contains("authorization_code") && !shown.contains("abc") && !shown.contains("xyz"));
/// let form = FormParams::parse(b"access_token=at1&id_token_hint=it2").unwrap();
/// let shown = format!("{form:?}");
/// assert!(!shown.contains("at1") && !shown.contains("it2"));
/// ```
impl std::fmt::Debug for FormParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.pairs.iter().map(|(name, value)| {
                let shown = if SECRET_PARAMETERS.contains(&name.as_str()) {
                    "[redacted]"
                } else {
                    value.as_str()
                };
                (name, shown)
            }))
            .finish()
    }
}

impl FormParams {
    /// Decodes a body, refusing more than [`MAX_FIELDS`] fields or a name or value over its limit.
    /// Invalid UTF-8 is replaced rather than rejected: such a value cannot match any stored
    /// identifier or secret, so it fails later with the precise error for its field.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut pairs = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if pairs.len() == MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(FormError::NameTooLong);
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(FormError::ValueTooLong(name.into_owned()));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(FormParams { pairs })
    }

    /// The value of a parameter that may appear at most once; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Result<Option<&str>, FormError> {
        let mut found = None;
        for (n, v) in &self.pairs {
            if n == name {
                if found.is_some() {
                    return Err(FormError::Repeated(name.to_owned()));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// Every non-empty value of a parameter that may repeat, such as RFC 8707 `resource`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every pair, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether a parameter is present at all, even empty.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }
}
