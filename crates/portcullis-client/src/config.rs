//! Client credentials settings, from the environment (and a `.env` file) with the names the seed
//! scripts use, or from a builder.

use crate::error::ClientError;
use portcullis_core::Secret;
use std::time::Duration;

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// The token endpoint URL itself (`TOKEN_URL`).
    TokenUrl(String),
    /// The issuer, whose metadata names the token endpoint (`ISSUER`).
    Issuer(String),
}

/// How the client authenticates (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic, which every server must support.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the body, as the seed scripts do.
    Post,
    /// A JWT signed with the client's private key (`private_key_jwt`, RFC 7523): no secret is
    /// sent at all. Set by [`ClientCredentials::with_private_key`].
    PrivateKeyJwt,
}

/// Everything a client credentials token source needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientCredentials {
    /// The token endpoint or the issuer.
    pub endpoint: Endpoint,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; empty when the client signs with [`private_key`](Self::private_key).
    pub client_secret: Secret,
    /// The private key of a `private_key_jwt` client.
    pub private_key: Option<crate::PrivateKey>,
    /// Bind tokens to a key of this source's own with DPoP (RFC 9449).
    pub dpop: bool,
    /// Requested scope, space-separated.
    pub scope: Option<String>,
    /// Requested audiences (`audience`).
    pub audience: Vec<String>,
    /// RFC 8707 resource indicators (`resource`).
    pub resource: Vec<String>,
    /// Client authentication method.
    pub auth_method: AuthMethod,
    /// Refresh this long before expiry at most (the effective skew is the smaller of this and 10 % of
    /// the lifetime).
    pub skew: Duration,
    /// Timeout of each request.
    pub timeout: Duration,
    /// Most attempts of one token request (first try included).
    pub max_attempts: u32,
    /// Most time spent retrying one token request.
    pub retry_budget: Duration,
}

impl ClientCredentials {
    /// Settings with defaults: Basic authentication, 60 s skew, 10 s timeout, 4 attempts within 30 s.
    pub fn new(endpoint: Endpoint, client_id: &str, client_secret: &str) -> Self {
        ClientCredentials {
            endpoint,
            client_id: client_id.to_owned(),
            client_secret: Secret::new(client_secret),
            private_key: None,
            dpop: false,
            scope: None,
            audience: Vec::new(),
            resource: Vec::new(),
            auth_method: AuthMethod::default(),
            skew: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            max_attempts: 4,
            retry_budget: Duration::from_secs(30),
        }
    }

    /// Settings of a client that authenticates with its private key (`private_key_jwt`) rather
    /// than a secret.
    pub fn with_private_key(endpoint: Endpoint, client_id: &str, key: crate::PrivateKey) -> Self {
        let mut credentials = Self::new(endpoint, client_id, "");
        credentials.private_key = Some(key);
        credentials.auth_method = AuthMethod::PrivateKeyJwt;
        credentials
    }

    /// Reads `CLIENT_ID`, `CLIENT_SECRET` (or `CLIENT_PRIVATE_KEY_FILE`, a PEM file, for
    /// `private_key_jwt`), `TOKEN_URL` (or `ISSUER`), and optional `SCOPE`, `AUDIENCE`,
    /// `RESOURCE` (space-separated) and `TOKEN_AUTH_METHOD` (`basic` or `post`). A `.env` file in
    /// the working directory is read first; real environment variables win.
    ///
    /// ```no_run
    /// let credentials = portcullis_client::ClientCredentials::from_env().unwrap();
    /// ```
    pub fn from_env() -> Result<Self, ClientError> {
        Self::from_env_in(std::path::Path::new("."))
    }

    /// [`from_env`](Self::from_env) with the `.env` file looked for in `dir`.
    pub fn from_env_in(dir: &std::path::Path) -> Result<Self, ClientError> {
        let file = dotenvy::from_path_iter(dir.join(".env"))
            .map(|iter| iter.filter_map(Result::ok).collect::<Vec<_>>())
            .unwrap_or_default();
        Self::from_sources(|name| std::env::var(name).ok(), &file)
    }

    /// Settings from an environment lookup and the pairs of a `.env` file; the environment wins.
    pub fn from_sources(
        env: impl Fn(&str) -> Option<String>,
        file: &[(String, String)],
    ) -> Result<Self, ClientError> {
        Self::from_vars(|name| {
            env(name).or_else(|| file.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        })
    }

    /// The same as [`from_env`](Self::from_env) over any lookup, for tests and other sources.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let id = get("CLIENT_ID");
        if id.is_none() {
            problems.push("CLIENT_ID is not set".to_owned());
        }
        let key_file = get("CLIENT_PRIVATE_KEY_FILE");
        let secret = match (get("CLIENT_SECRET"), &key_file) {
            (Some(_), Some(_)) => {
                problems.push("set CLIENT_SECRET or CLIENT_PRIVATE_KEY_FILE, not both".to_owned());
                None
            }
            (Some(secret), None) => Some(secret),
            (None, Some(_)) => Some(String::new()),
            (None, None) => {
                problems.push("CLIENT_SECRET (or CLIENT_PRIVATE_KEY_FILE) is not set".to_owned());
                None
            }
        };
        let private_key = match key_file
            .as_deref()
            .map(|f| crate::PrivateKey::from_pem_file(std::path::Path::new(f)))
        {
            Some(Ok(key)) => Some(key),
            Some(Err(ClientError::Config(mut why))) => {
                problems.append(&mut why);
                None
            }
            Some(Err(other)) => {
                problems.push(other.to_string());
                None
            }
            None => None,
        };
        let endpoint = match (get("TOKEN_URL"), get("ISSUER")) {
            (Some(url), _) => Some(Endpoint::TokenUrl(url)),
            (None, Some(issuer)) => Some(Endpoint::Issuer(issuer)),
            (None, None) => {
                problems.push("TOKEN_URL (or ISSUER) is not set".to_owned());
                None
            }
        };
        if let Some(v) = get("TOKEN_URL").filter(|v| !http_url(v)) {
            problems.push(format!("TOKEN_URL must be an http(s) URL, not '{v}'"));
        }
        if let Some(Err(why)) = get("ISSUER").map(|v| portcullis_core::issuer::valid_issuer(&v)) {
            problems.push(format!("ISSUER must be an issuer URL: {why}"));
        }
        let auth_method = match get("TOKEN_AUTH_METHOD").as_deref() {
            None | Some("basic") | Some("client_secret_basic") => AuthMethod::Basic,
            Some("post") | Some("client_secret_post") => AuthMethod::Post,
            Some("private_key_jwt") if key_file.is_some() => AuthMethod::PrivateKeyJwt,
            Some(other) => {
                problems.push(format!(
                    "TOKEN_AUTH_METHOD must be basic or post (or private_key_jwt with CLIENT_PRIVATE_KEY_FILE), not '{other}'"
                ));
                AuthMethod::Basic
            }
        };
        let (Some(id), Some(secret), Some(endpoint)) = (id, secret, endpoint) else {
            return Err(ClientError::Config(problems));
        };
        if !problems.is_empty() {
            return Err(ClientError::Config(problems));
        }
        let split = |v: Option<String>| -> Vec<String> {
            v.map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut credentials = ClientCredentials::new(endpoint, &id, &secret);
        credentials.scope = get("SCOPE");
        credentials.audience = split(get("AUDIENCE"));
        credentials.resource = split(get("RESOURCE"));
        credentials.auth_method = auth_method;
        if let Some(key) = private_key {
            credentials.private_key = Some(key);
            credentials.auth_method = AuthMethod::PrivateKeyJwt;
        }
        Ok(credentials)
    }

    /// Asks for `scope`.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.to_owned());
        self
    }

    /// Asks for an audience.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience.push(audience.to_owned());
        self
    }

    /// Asks for a resource (RFC 8707 `resource`, an absolute URI): the API the token is for.
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource.push(resource.to_owned());
        self
    }

    /// Uses this authentication method.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// Binds the tokens to a key of the source's own, made when the source is (DPoP, RFC 9449):
    /// each token request carries a proof, and [`crate::send_with_token`] and
    /// [`crate::BearerAuth`] send DPoP-bound tokens with a proof for each call.
    pub fn dpop(mut self, on: bool) -> Self {
        self.dpop = on;
        self
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the most attempts per token request and the time they may take.
    pub fn retries(mut self, max_attempts: u32, budget: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.retry_budget = budget;
        self
    }

    /// Sets the refresh skew.
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }
}

/// Whether `text` parses as an `http` or `https` URL with a host.
pub(crate) fn http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}
