//! A token source that callers share: one cache per (token endpoint, client_id, scope, audience) in
//! the process, refreshed before expiry, with single-flight fetching and bounded retries.

use crate::config::{AuthMethod, ClientCredentials, Endpoint};
use crate::error::ClientError;
use crate::token::{Token, read_answer};
use portcullis_core::Stopwatch;
use portcullis_core::{Clock, SystemClock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

/// The part of the settings that names one cached token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    endpoint: Endpoint,
    client_id: String,
    /// SHA-256 of the secret: a source with another secret must not be handed this one's token.
    secret_digest: Vec<u8>,
    scope: Option<String>,
    audience: Vec<String>,
    resource: Vec<String>,
    /// A DPoP source's tokens are bound to its own key, so never shared with another source.
    dpop: Option<u64>,
}

type Flight = Arc<tokio::sync::OnceCell<Result<Arc<Token>, ClientError>>>;

struct Shared {
    credentials: ClientCredentials,
    clock: Arc<dyn Clock>,
    /// Built once; an error here is reported by every request (see [`crate::http_client`]).
    http: Result<reqwest::Client, ClientError>,
    token: RwLock<Option<Arc<Token>>>,
    flight: Mutex<Option<Flight>>,
    token_url: tokio::sync::OnceCell<String>,
    requests: std::sync::atomic::AtomicU64,
    /// The DPoP key, when the credentials ask for DPoP (an error if none could be made).
    dpop: Option<Result<crate::DpopKey, ClientError>>,
}

impl Shared {
    fn new(credentials: ClientCredentials, clock: Arc<dyn Clock>) -> Shared {
        let http = crate::error::http_client(credentials.timeout);
        Shared::with_http(credentials, clock, http)
    }

    fn with_http(
        credentials: ClientCredentials,
        clock: Arc<dyn Clock>,
        http: Result<reqwest::Client, ClientError>,
    ) -> Shared {
        let dpop = credentials.dpop.then(crate::DpopKey::generate);
        Shared {
            dpop,
            http,
            credentials,
            clock,
            token: RwLock::new(None),
            flight: Mutex::new(None),
            token_url: tokio::sync::OnceCell::new(),
            requests: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

fn registry() -> &'static Mutex<HashMap<CacheKey, Arc<Shared>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<CacheKey, Arc<Shared>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Gets and caches client credentials tokens. Cheap to clone; sources built from the same settings
/// share one cache.
#[derive(Clone)]
pub struct TokenSource {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.shared.credentials.endpoint)
            .field("client_id", &self.shared.credentials.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source with its own cache and clock, shared with no other source (for tests that move
    /// time).
    pub fn with_clock(credentials: ClientCredentials, clock: Arc<dyn Clock>) -> TokenSource {
        TokenSource {
            shared: Arc::new(Shared::new(credentials, clock)),
        }
    }

    /// A source that sends its requests with the caller's HTTP client: for a proxy, a private CA,
    /// client certificates or a tuned connection pool. It has a cache of its own. Each token
    /// request still has the credentials' timeout.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use portcullis_client::{ClientCredentials, Endpoint, TokenSource};
    /// let http = reqwest::Client::builder()
    ///     .proxy(reqwest::Proxy::https("http://proxy.internal:3128")?)
    ///     .build()?;
    /// let credentials = ClientCredentials::new(
    ///     Endpoint::Issuer("https://id.example.com".into()),
    ///     "my-client",
    ///     "my-secret",
    /// );
    /// let source = TokenSource::with_http_client(credentials, http);
    /// # Ok(()) }
    /// ```
    pub fn with_http_client(credentials: ClientCredentials, http: reqwest::Client) -> TokenSource {
        TokenSource {
            shared: Arc::new(Shared::with_http(
                credentials,
                Arc::new(SystemClock),
                Ok(http),
            )),
        }
    }

    /// A source for these credentials (sharing the cache of any other source with the same ones).
    pub fn new(credentials: ClientCredentials) -> TokenSource {
        let key = CacheKey {
            endpoint: credentials.endpoint.clone(),
            client_id: credentials.client_id.clone(),
            secret_digest: aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                match &credentials.private_key {
                    Some(key) => key.kid().as_bytes(),
                    None => credentials.client_secret.expose().as_bytes(),
                },
            )
            .as_ref()
            .to_vec(),
            scope: credentials.scope.clone(),
            audience: credentials.audience.clone(),
            resource: credentials.resource.clone(),
            dpop: credentials.dpop.then(|| {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            }),
        };
        let mut map = match registry().lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let shared = map
            .entry(key)
            .or_insert_with(|| Arc::new(Shared::new(credentials, Arc::new(SystemClock))))
            .clone();
        TokenSource { shared }
    }

    /// Now, by the source's clock (Unix seconds).
    pub(crate) fn now(&self) -> i64 {
        self.shared.clock.now().0
    }

    /// The DPoP key this source binds its tokens to, when its credentials ask for DPoP.
    pub fn dpop_key(&self) -> Option<&crate::DpopKey> {
        self.shared.dpop.as_ref().and_then(|k| k.as_ref().ok())
    }

    /// How many token requests this cache has sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token: the cached one while it is fresh, else one new request shared by every caller
    /// that asks meanwhile.
    pub async fn token(&self) -> Result<Arc<Token>, ClientError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let flight = {
            let mut slot = match self.shared.flight.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            slot.get_or_insert_with(|| Arc::new(tokio::sync::OnceCell::new()))
                .clone()
        };
        let result = flight
            .get_or_init(|| async {
                // A flight that started after the cache was refilled has nothing to do.
                if let Some(token) = self.fresh() {
                    return Ok(token);
                }
                let result = self.fetch().await.map(Arc::new);
                if let Ok(token) = &result
                    && let Ok(mut slot) = self.shared.token.write()
                {
                    *slot = Some(token.clone());
                }
                result
            })
            .await
            .clone();
        if let Ok(mut slot) = self.shared.flight.lock()
            && slot.as_ref().is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            *slot = None;
        }
        result
    }

    /// Forgets the cached token, so the next call fetches a new one (after an API said 401).
    pub fn invalidate(&self, stale: &Token) {
        if let Ok(mut slot) = self.shared.token.write()
            && slot
                .as_ref()
                .is_some_and(|t| t.access_token.ct_eq(&stale.access_token))
        {
            *slot = None;
        }
    }

    fn fresh(&self) -> Option<Arc<Token>> {
        let token = self.shared.token.read().ok()?.clone()?;
        let Some(lifetime) = token.expires_in else {
            return Some(token);
        };
        let skew = self.shared.credentials.skew.min(lifetime / 10).as_secs();
        let now = self.shared.clock.now();
        (now.plus(skew) < token.received_at.plus(lifetime.as_secs())).then_some(token)
    }

    async fn token_url(&self) -> Result<&String, ClientError> {
        self.shared
            .token_url
            .get_or_try_init(|| async {
                match &self.shared.credentials.endpoint {
                    Endpoint::TokenUrl(url) => Ok(url.clone()),
                    Endpoint::Issuer(issuer) => {
                        let http = self.shared.http.as_ref().map_err(Clone::clone)?;
                        crate::discovery::token_endpoint(http, issuer).await
                    }
                }
            })
            .await
    }

    async fn fetch(&self) -> Result<Token, ClientError> {
        self.request(&[("grant_type", "client_credentials")]).await
    }

    /// Trades `subject_token` (of type `subject_token_type`, an RFC 8693 token type URN) for a new
    /// token, with the source's credentials, scope and audiences (Token Exchange, RFC 8693);
    /// `actor` is the actor token and its type, for delegation. The answer is not cached.
    ///
    /// ```no_run
    /// # async fn run(source: portcullis_client::TokenSource, incoming: &str) -> Result<(), portcullis_client::ClientError> {
    /// let access = "urn:ietf:params:oauth:token-type:access_token";
    /// let downstream = source.exchange(incoming, access, None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn exchange(
        &self,
        subject_token: &str,
        subject_token_type: &str,
        actor: Option<(&str, &str)>,
    ) -> Result<Token, ClientError> {
        let mut grant = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject_token),
            ("subject_token_type", subject_token_type),
        ];
        if let Some((token, kind)) = actor {
            grant.push(("actor_token", token));
            grant.push(("actor_token_type", kind));
        }
        self.request(&grant).await
    }

    /// One token request of `grant` (its `grant_type` and parameters), with the source's scope,
    /// audiences, client authentication, DPoP proof and retries.
    async fn request(&self, grant: &[(&'static str, &str)]) -> Result<Token, ClientError> {
        let url = self.token_url().await?.clone();
        let c = &self.shared.credentials;
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        if let Some(scope) = &c.scope {
            form.push(("scope", scope));
        }
        let audience = c.audience.join(" ");
        if !audience.is_empty() {
            form.push(("audience", &audience));
        }
        for r in &c.resource {
            form.push(("resource", r));
        }
        if c.auth_method == AuthMethod::Post {
            form.push(("client_id", &c.client_id));
            form.push(("client_secret", c.client_secret.expose()));
        }
        let signing = match (&c.auth_method, &c.private_key) {
            (AuthMethod::PrivateKeyJwt, Some(key)) => Some(key),
            (AuthMethod::PrivateKeyJwt, None) => {
                return Err(ClientError::Config(vec![
                    "private_key_jwt needs a private key (ClientCredentials::with_private_key)"
                        .into(),
                ]));
            }
            _ => None,
        };
        if signing.is_some() {
            form.push(("client_id", &c.client_id));
            form.push((
                "client_assertion_type",
                portcullis_core::client_assertion::JWT_BEARER,
            ));
        }
        // The issuer identifier is the audience servers must accept; with only a token URL,
        // that URL (which Portcullis accepts too).
        let audience = match &c.endpoint {
            Endpoint::Issuer(issuer) => issuer.clone(),
            Endpoint::TokenUrl(url) => url.clone(),
        };
        let dpop = match &self.shared.dpop {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(e)) => return Err(e.clone()),
        };
        let mut nonce_retried = false;
        let started = Stopwatch::start();
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A new assertion for every attempt: each jti is accepted once.
            let assertion = match signing {
                Some(key) => Some(key.client_assertion(
                    &c.client_id,
                    &audience,
                    self.shared.clock.now().0,
                )?),
                None => None,
            };
            let mut form = form.clone();
            if let Some(assertion) = &assertion {
                form.push(("client_assertion", assertion));
            }
            let mut request = self
                .shared
                .http
                .as_ref()
                .map_err(Clone::clone)?
                .post(&url)
                .timeout(c.timeout)
                .form(&form)
                .header("accept", "application/json");
            if let Some(key) = dpop {
                let proof = key.proof("POST", &url, None, self.shared.clock.now().0)?;
                request = request.header("dpop", proof);
            }
            if c.auth_method == AuthMethod::Basic {
                request = request.header(
                    "authorization",
                    portcullis_core::basic::encode_basic(&c.client_id, c.client_secret.expose()),
                );
            }
            self.shared
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let outcome = request.send().await;
            let (retry_after, error) = match outcome {
                Err(e) => (
                    None,
                    ClientError::Network {
                        url: url.clone(),
                        reason: crate::error::describe_error(&e),
                    },
                ),
                Ok(response) => {
                    let status = response.status().as_u16();
                    if let Some(key) = dpop {
                        key.remember_nonce(&url, response.headers());
                    }
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body = match response.text().await {
                        Ok(b) => b,
                        Err(e) => {
                            let err = ClientError::Network {
                                url: url.clone(),
                                reason: crate::error::describe_error(&e),
                            };
                            if let Some(wait) = self.backoff(attempt, None, started) {
                                tokio::time::sleep(wait).await;
                                continue;
                            }
                            return Err(err);
                        }
                    };
                    let result =
                        read_answer(&url, status, &content_type, &body, self.shared.clock.now());
                    let retryable = status == 429 || status >= 500;
                    // The server wants its nonce in the proof (RFC 9449 §8): once, at once.
                    if dpop.is_some()
                        && !nonce_retried
                        && matches!(&result, Err(ClientError::OAuth { error, .. }) if error == "use_dpop_nonce")
                    {
                        nonce_retried = true;
                        attempt -= 1;
                        continue;
                    }
                    match result {
                        Ok(token) => return Ok(token),
                        Err(e) if !retryable => return Err(e),
                        Err(e) => (retry_after, e),
                    }
                }
            };
            match self.backoff(attempt, retry_after, started) {
                Some(wait) => {
                    tracing::debug!(attempt, ?wait, %error, "token request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(error),
            }
        }
    }

    /// Exponential backoff with full jitter, or the server's `Retry-After`; `None` when out of
    /// attempts or time.
    fn backoff(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        started: Stopwatch,
    ) -> Option<Duration> {
        let c = &self.shared.credentials;
        if attempt >= c.max_attempts {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| {
            let cap = Duration::from_millis(200).saturating_mul(1 << attempt.min(6));
            cap.mul_f64(jitter())
        });
        (started.elapsed() + wait <= c.retry_budget).then_some(wait)
    }
}

/// A number in [0.5, 1.0) from the standard library's random hasher keys (each `RandomState` has
/// new ones, so hashing a constant gives a new number each time).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    0.5 + (h.finish() % 1000) as f64 / 2000.0
}
