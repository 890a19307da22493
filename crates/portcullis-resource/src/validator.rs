//! Local validation of RFC 9068 JWT access tokens, or RFC 7662 introspection, behind one type.

use crate::claims::AccessToken;
use crate::error::ValidationError;
use crate::jwks::KeyStore;
use portcullis_core::jws::{CompactJws, JwsError};
use portcullis_core::{Algorithm, Clock, Secret, SystemClock};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How tokens are checked.
#[derive(Debug)]
enum Mode {
    /// Signature and claims, with keys from the issuer's JWKS.
    Local(KeyStore),
    /// The issuer's introspection endpoint, authenticated as a client.
    Introspection {
        endpoint: tokio::sync::OnceCell<String>,
        client_id: String,
        client_secret: Secret,
        ttl: Duration,
    },
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Validates bearer tokens for one API (one issuer, one audience).
#[derive(Debug, Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: i64,
    mode: Mode,
    http: crate::jwks::Http,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, (AccessToken, i64)>>,
    cache_capacity: usize,
}

/// Builds a [`Validator`].
///
/// ```no_run
/// # async fn run() {
/// use portcullis_resource::Validator;
/// let validator = Validator::builder("https://id.example.com", "https://api.example.com").build();
/// let token = validator.validate("eyJ...").await;
/// # }
/// ```
pub struct ValidatorBuilder {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    min_refetch: Duration,
    max_key_age: Duration,
    cache_capacity: usize,
    introspection: Option<(String, Secret, Duration)>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

impl ValidatorBuilder {
    /// Only these algorithms are accepted (default: ES256, RS256, EdDSA). `none` and HMAC never are.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Least time between two JWKS fetches caused by unknown `kid`s (default 5 s).
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    /// How long a fetched JWKS is trusted before it is fetched again (default 5 min), so keys the
    /// issuer no longer publishes stop validating.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// How many validated tokens to remember (default 10,000; 0 turns the cache off).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Ask the issuer's introspection endpoint instead of validating locally, as this client;
    /// active answers are cached for at most `ttl` (and never past the token's `exp`).
    pub fn introspection(mut self, client_id: &str, client_secret: &str, ttl: Duration) -> Self {
        self.introspection = Some((client_id.to_owned(), Secret::new(client_secret), ttl));
        self
    }

    /// Where time comes from (tests move it).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Timeout of each request to the issuer (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The validator.
    pub fn build(self) -> Validator {
        let http = crate::jwks::Http::new(self.timeout);
        // Exactly as given: tokens' `iss` and the metadata's `issuer` must be identical to it
        // (RFC 8414 §3.3), trailing `/` and all.
        let issuer = self.issuer;
        let mode = match self.introspection {
            None => Mode::Local(KeyStore::with_http(
                http.clone(),
                &issuer,
                self.min_refetch,
                self.max_key_age,
                self.clock.clone(),
            )),
            Some((client_id, client_secret, ttl)) => Mode::Introspection {
                endpoint: tokio::sync::OnceCell::new(),
                client_id,
                client_secret,
                ttl,
            },
        };
        Validator {
            inner: Arc::new(Inner {
                issuer,
                audience: self.audience,
                algorithms: self.algorithms,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(0),
                mode,
                http,
                clock: self.clock,
                cache: Mutex::new(HashMap::new()),
                cache_capacity: self.cache_capacity,
            }),
        }
    }
}

impl Validator {
    /// A builder for tokens from `issuer` meant for `audience`.
    pub fn builder(issuer: &str, audience: &str) -> ValidatorBuilder {
        ValidatorBuilder {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(30),
            min_refetch: Duration::from_secs(5),
            max_key_age: Duration::from_secs(300),
            cache_capacity: 10_000,
            introspection: None,
            clock: Arc::new(SystemClock),
            timeout: Duration::from_secs(5),
        }
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        match &self.inner.mode {
            Mode::Local(keys) => keys.fetch_count(),
            Mode::Introspection { .. } => 0,
        }
    }

    /// Checks a token; a token checked before (and not yet expired) is answered from a bounded cache.
    pub async fn validate(&self, token: &str) -> Result<AccessToken, ValidationError> {
        let now = self.inner.clock.now().0;
        if let Some(hit) = self.cached(token, now) {
            return Ok(hit);
        }
        let (token_claims, keep_until) = match &self.inner.mode {
            Mode::Local(keys) => {
                let t = self.validate_locally(keys, token, now).await?;
                let until = t.expires_at;
                (t, until)
            }
            Mode::Introspection { .. } => self.introspect(token, now).await?,
        };
        self.remember(token, &token_claims, keep_until);
        Ok(token_claims)
    }

    fn cached(&self, token: &str, now: i64) -> Option<AccessToken> {
        let cache = self.inner.cache.lock().ok()?;
        let (claims, until) = cache.get(token)?;
        (now < *until).then(|| claims.clone())
    }

    fn remember(&self, token: &str, claims: &AccessToken, until: i64) {
        let capacity = self.inner.cache_capacity;
        if capacity == 0 {
            return;
        }
        if let Ok(mut cache) = self.inner.cache.lock() {
            if cache.len() >= capacity {
                let now = self.inner.clock.now().0;
                cache.retain(|_, (_, u)| *u > now);
                if cache.len() >= capacity {
                    cache.clear();
                }
            }
            cache.insert(token.to_owned(), (claims.clone(), until));
        }
    }

    async fn validate_locally(
        &self,
        keys: &KeyStore,
        token: &str,
        now: i64,
    ) -> Result<AccessToken, ValidationError> {
        let invalid = ValidationError::Invalid;
        let jws = CompactJws::parse(token).map_err(|e| match e {
            JwsError::TooLong => invalid("too long"),
            JwsError::NotCompact => invalid("not a JWS compact serialization"),
            JwsError::Header => invalid("unreadable header"),
            JwsError::Signature => invalid("unreadable signature"),
            JwsError::Claims => invalid("unreadable claims"),
        })?;
        let typ = jws.header_str("typ").unwrap_or_default();
        if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(invalid("typ is not at+jwt (RFC 9068)"));
        }
        let alg: Algorithm = jws
            .header_str("alg")
            .and_then(|a| a.parse().ok())
            .ok_or(invalid("alg is not allowed"))?;
        if !self.inner.algorithms.contains(&alg) {
            return Err(invalid("alg is not allowed"));
        }
        let kid = jws.header_str("kid").ok_or(invalid("no kid"))?;
        let key = keys.key(kid).await?.ok_or(invalid("unknown kid"))?;
        if key.alg != alg {
            return Err(invalid("alg is not the key's algorithm"));
        }
        if !key.verify(jws.signing_input, &jws.signature) {
            return Err(invalid("bad signature"));
        }
        let claims = jws.claims().map_err(|_| invalid("unreadable claims"))?;
        self.check_claims(claims, now)
    }

    fn check_claims(
        &self,
        claims: Map<String, Value>,
        now: i64,
    ) -> Result<AccessToken, ValidationError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.inner.issuer.as_str()) {
            return Err(ValidationError::WrongIssuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.inner.audience,
            Some(Value::Array(list)) => list
                .iter()
                .any(|a| a.as_str() == Some(&self.inner.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(ValidationError::WrongAudience);
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(ValidationError::Invalid("no exp"))?;
        if now >= exp + self.inner.leeway {
            return Err(ValidationError::Expired);
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now + self.inner.leeway)
        {
            return Err(ValidationError::Expired);
        }
        AccessToken::from_claims(claims).ok_or(ValidationError::Invalid("missing sub or bad scope"))
    }

    async fn introspect(
        &self,
        token: &str,
        now: i64,
    ) -> Result<(AccessToken, i64), ValidationError> {
        let Mode::Introspection {
            endpoint,
            client_id,
            client_secret,
            ttl,
        } = &self.inner.mode
        else {
            return Err(ValidationError::Inactive);
        };
        let url = endpoint
            .get_or_try_init(|| async {
                let doc =
                    crate::jwks::discover(self.inner.http.client()?, &self.inner.issuer).await?;
                doc.get("introspection_endpoint")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ValidationError::Unavailable("no introspection_endpoint".into()))
            })
            .await?;
        let response = self
            .inner
            .http
            .client()?
            .post(url)
            .basic_auth(
                portcullis_core::basic::form_encode(client_id),
                Some(portcullis_core::basic::form_encode(client_secret.expose())),
            )
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| ValidationError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ValidationError::Unavailable(format!(
                "introspection: HTTP {}",
                response.status()
            )));
        }
        let claims: Map<String, Value> = response
            .json()
            .await
            .map_err(|e| ValidationError::Unavailable(e.to_string()))?;
        if claims.get("active").and_then(Value::as_bool) != Some(true) {
            return Err(ValidationError::Inactive);
        }
        let token = self.check_claims(claims, now)?;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(0);
        let until = token.expires_at.min(now + ttl);
        Ok((token, until))
    }
}
