//! Local validation of JWT access tokens (RFC 9068, and the `typ: JWT` tokens of providers that
//! predate it, when allowed), or RFC 7662 introspection, behind one type.

use crate::claims::AccessToken;
use crate::error::ValidationError;
use crate::jwks::{KeyStore, Signature};
pub use crate::typ_policy::TypPolicy;
use crate::typ_policy::looks_like_an_id_token;
use portcullis_core::jws::{CompactJws, JwsError};
use portcullis_core::{Clock, JwsAlgorithm, Secret, SystemClock};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// How tokens are checked.
#[derive(Debug)]
enum Mode {
    /// Signature and claims, with keys from each trusted issuer's JWKS.
    Local(Vec<KeyStore>),
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
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// Validates bearer tokens for one API: from one issuer or several (multi-tenant), for one
/// audience or several.
#[derive(Debug, Clone)]
pub struct Validator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    issuers: Vec<String>,
    audiences: Vec<String>,
    algorithms: Vec<JwsAlgorithm>,
    typ: TypPolicy,
    leeway: i64,
    /// Seconds a fetched key set is trusted; also the longest a validated token is cached.
    max_key_age: i64,
    mode: Mode,
    http: crate::jwks::Http,
    pub(crate) clock: Arc<dyn Clock>,
    cache: Option<VerifiedTokens>,
    pub(crate) dpop: crate::dpop::DpopState,
}

/// Tokens that passed, by the SHA-256 of the token, each with the Unix second it stops being
/// good (its `exp`, or sooner for introspection answers). Bounded: when full, the cache evicts
/// the entries least likely to be asked again (quick_cache's CLOCK-Pro), one at a time; an entry
/// past its own expiry is a miss and is removed when next looked up.
type VerifiedTokens = quick_cache::sync::Cache<[u8; 32], (AccessToken, i64)>;

fn token_digest(token: &str) -> [u8; 32] {
    portcullis_core::hash::sha256(token.as_bytes())
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
    issuers: Vec<String>,
    audiences: Vec<String>,
    algorithms: Vec<JwsAlgorithm>,
    typ: TypPolicy,
    leeway: Duration,
    min_refetch: Duration,
    max_key_age: Duration,
    cache_capacity: usize,
    introspection: Option<(String, Secret, Duration)>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    http_client: Option<reqwest::Client>,
    pub(crate) dpop: crate::dpop::DpopSettings,
}

impl ValidatorBuilder {
    /// Only these algorithms are accepted (default: every [`JwsAlgorithm`]: RS256/384/512,
    /// PS256/384/512, ES256, ES384, EdDSA). `none` and HMAC never are: they are not values of the
    /// type. Takes [`JwsAlgorithm`]s or Portcullis's own [`portcullis_core::Algorithm`]s.
    pub fn algorithms<A: Copy + Into<JwsAlgorithm>>(mut self, algorithms: &[A]) -> Self {
        self.algorithms = algorithms.iter().map(|&a| a.into()).collect();
        self
    }

    /// Trusts tokens from another issuer too (a multi-tenant provider, or several providers),
    /// each with its own keys. A token's `iss` picks the issuer, exactly as written, before its
    /// signature is checked with that issuer's keys only.
    pub fn issuer(mut self, issuer: &str) -> Self {
        if !self.issuers.iter().any(|i| i == issuer) {
            self.issuers.push(issuer.to_owned());
        }
        self
    }

    /// Accepts tokens for another audience too: a token passes when its `aud` names any of them.
    pub fn audience(mut self, audience: &str) -> Self {
        if !self.audiences.iter().any(|a| a == audience) {
            self.audiences.push(audience.to_owned());
        }
        self
    }

    /// Which `typ` headers are accepted (default [`TypPolicy::AtJwt`]).
    ///
    /// ```
    /// use portcullis_resource::{TypPolicy, Validator};
    ///
    /// // Two Entra tenants, `typ: JWT` tokens, two audiences (the API's, never a client's id).
    /// let validator = Validator::builder("https://login.microsoftonline.com/TENANT/v2.0", "api://orders")
    ///     .issuer("https://login.microsoftonline.com/OTHER-TENANT/v2.0")
    ///     .audience("api://orders-v2")
    ///     .typ(TypPolicy::AllowJwt)
    ///     .build();
    /// ```
    pub fn typ(mut self, policy: TypPolicy) -> Self {
        self.typ = policy;
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

    /// How many validated tokens to remember (default 10,000; 0 turns the cache off). Each is
    /// remembered until its own expiry; when the cache is full, the least likely to be asked
    /// again make room, one at a time.
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

    /// Fetch metadata and keys (and introspect) with this client instead of one the validator
    /// builds: for a proxy, a private CA, or a TLS provider of the application's choosing. The
    /// [`timeout`](Self::timeout) then does not apply; give the client one, and turn its redirects
    /// off (`reqwest::redirect::Policy::none()`), as the validator's own client does.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The validator.
    pub fn build(self) -> Validator {
        let http = match self.http_client {
            Some(client) => crate::jwks::Http::from_client(client),
            None => crate::jwks::Http::new(self.timeout),
        };
        // Exactly as given: tokens' `iss` and the metadata's `issuer` must be identical to it
        // (RFC 8414 §3.3), trailing `/` and all.
        let issuers = self.issuers;
        let mode = match self.introspection {
            None => Mode::Local(
                issuers
                    .iter()
                    .map(|issuer| {
                        KeyStore::with_http(
                            http.clone(),
                            issuer,
                            self.min_refetch,
                            self.max_key_age,
                            self.clock.clone(),
                        )
                    })
                    .collect(),
            ),
            Some((client_id, client_secret, ttl)) => Mode::Introspection {
                endpoint: tokio::sync::OnceCell::new(),
                client_id,
                client_secret,
                ttl,
            },
        };
        Validator {
            inner: Arc::new(Inner {
                issuers,
                audiences: self.audiences,
                algorithms: self.algorithms,
                typ: self.typ,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(0),
                max_key_age: i64::try_from(self.max_key_age.as_secs()).unwrap_or(i64::MAX),
                mode,
                http,
                clock: self.clock,
                cache: (self.cache_capacity > 0)
                    .then(|| quick_cache::sync::Cache::new(self.cache_capacity)),
                dpop: crate::dpop::DpopState::new(self.dpop),
            }),
        }
    }
}

impl Validator {
    /// A builder for tokens from `issuer` meant for `audience` ([`ValidatorBuilder::issuer`] and
    /// [`ValidatorBuilder::audience`] add more).
    pub fn builder(issuer: &str, audience: &str) -> ValidatorBuilder {
        ValidatorBuilder {
            issuers: vec![issuer.to_owned()],
            audiences: vec![audience.to_owned()],
            algorithms: JwsAlgorithm::ALL.to_vec(),
            typ: TypPolicy::AtJwt,
            leeway: Duration::from_secs(30),
            min_refetch: Duration::from_secs(5),
            max_key_age: Duration::from_secs(300),
            cache_capacity: 10_000,
            introspection: None,
            clock: Arc::new(SystemClock),
            timeout: Duration::from_secs(5),
            http_client: None,
            dpop: Default::default(),
        }
    }

    /// How many times a JWKS was fetched (of every issuer).
    pub fn jwks_fetches(&self) -> u64 {
        match &self.inner.mode {
            Mode::Local(keys) => keys.iter().map(KeyStore::fetch_count).sum(),
            Mode::Introspection { .. } => 0,
        }
    }

    /// Checks a bearer token; a token checked before (and not yet expired) is answered from a
    /// bounded cache. A token bound to a key (`cnf`, RFC 9449) is refused here: it is good only
    /// with a proof by that key, which [`Validator::validate_request`] checks.
    pub async fn validate(&self, token: &str) -> Result<AccessToken, ValidationError> {
        let checked = self.validate_token(token).await?;
        if checked.claims.contains_key("cnf") {
            return Err(ValidationError::Invalid(
                "the token is bound to a key: it needs a DPoP proof (Validator::validate_request)",
            ));
        }
        Ok(checked)
    }

    /// [`Validator::validate`] without the refusal of bound tokens, for `validate_request`.
    pub(crate) async fn validate_token(&self, token: &str) -> Result<AccessToken, ValidationError> {
        let now = self.inner.clock.now().0;
        if let Some(hit) = self.cached(token, now) {
            return Ok(hit);
        }
        let (token_claims, keep_until) = match &self.inner.mode {
            Mode::Local(keys) => {
                let t = self.validate_locally(keys, token, now).await?;
                // Never past the key set's own trust: a token signed with a key the issuer has
                // since withdrawn must stop passing when the keys would be fetched again.
                let until = t.expires_at.min(now.saturating_add(self.inner.max_key_age));
                (t, until)
            }
            Mode::Introspection { .. } => self.introspect(token, now).await?,
        };
        self.remember(token, &token_claims, keep_until);
        Ok(token_claims)
    }

    fn cached(&self, token: &str, now: i64) -> Option<AccessToken> {
        let cache = self.inner.cache.as_ref()?;
        let key = token_digest(token);
        let (claims, until) = cache.get(&key)?;
        if now < until {
            Some(claims)
        } else {
            cache.remove(&key);
            None
        }
    }

    fn remember(&self, token: &str, claims: &AccessToken, until: i64) {
        if let Some(cache) = &self.inner.cache {
            cache.insert(token_digest(token), (claims.clone(), until));
        }
    }

    /// How many validated tokens the cache holds now (expired ones included until looked up).
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, |c| c.len())
    }

    async fn validate_locally(
        &self,
        keys: &[KeyStore],
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
            JwsError::Critical => invalid("critical header extensions are not supported"),
        })?;
        let typ = jws.header_str("typ");
        let at_jwt = typ.is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        let plain_jwt = typ.is_none_or(|t| t.eq_ignore_ascii_case("JWT"));
        match self.inner.typ {
            TypPolicy::AtJwt if !at_jwt => return Err(invalid("typ is not at+jwt (RFC 9068)")),
            TypPolicy::AllowJwt if !at_jwt && !plain_jwt => {
                return Err(invalid("typ is neither at+jwt nor JWT"));
            }
            _ => {}
        }
        let alg: JwsAlgorithm = jws
            .header_str("alg")
            .and_then(|a| a.parse().ok())
            .filter(|a| self.inner.algorithms.contains(a))
            .ok_or(invalid("alg is not allowed"))?;
        // With one trusted issuer, its keys; with several, the token's `iss` picks whose keys to
        // try (read before the signature is checked, and so checked again once it is).
        let keys = match keys {
            [only] => only,
            _ => {
                let claims = jws.claims().map_err(|_| invalid("unreadable claims"))?;
                let iss = claims.get("iss").and_then(Value::as_str);
                keys.iter()
                    .zip(&self.inner.issuers)
                    .find(|(_, issuer)| Some(issuer.as_str()) == iss)
                    .map(|(keys, _)| keys)
                    .ok_or(ValidationError::WrongIssuer)?
            }
        };
        match keys
            .verify(
                jws.header_str("kid"),
                alg,
                jws.signing_input,
                &jws.signature,
            )
            .await?
        {
            Signature::Verified => {}
            Signature::NoKey => return Err(invalid("no key fits its kid and alg")),
            Signature::Bad => return Err(invalid("bad signature")),
        }
        let claims = jws.claims().map_err(|_| invalid("unreadable claims"))?;
        if !at_jwt && looks_like_an_id_token(&claims) {
            return Err(invalid("an ID token is not an access token"));
        }
        self.check_claims(claims, now)
    }

    fn check_claims(
        &self,
        claims: Map<String, Value>,
        now: i64,
    ) -> Result<AccessToken, ValidationError> {
        let iss = claims.get("iss").and_then(Value::as_str);
        if !self.inner.issuers.iter().any(|i| Some(i.as_str()) == iss) {
            return Err(ValidationError::WrongIssuer);
        }
        let ours = |a: &str| self.inner.audiences.iter().any(|ours| ours == a);
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => ours(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(ours),
            _ => false,
        };
        if !audience_ok {
            return Err(ValidationError::WrongAudience);
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(ValidationError::Invalid("no exp"))?;
        if now >= exp.saturating_add(self.inner.leeway) {
            return Err(ValidationError::Expired);
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now.saturating_add(self.inner.leeway))
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
                // Introspection asks the first issuer: the one the builder was made with.
                let issuer = self.inner.issuers.first().map_or("", String::as_str);
                let doc = crate::jwks::discover(self.inner.http.client()?, issuer).await?;
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
