//! The issuer's keys: discovered through RFC 8414 metadata (then OpenID Connect Discovery), cached,
//! and fetched again when no key verifies a token (a `kid` we have not seen, or a provider that
//! rotated keys that have no `kid`), at most once per interval so that a stream of garbage tokens
//! cannot make us hammer the authorization server.

use crate::error::ValidationError;
use portcullis_core::Clock;
use portcullis_core::JwkSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use portcullis_core::JwsAlgorithm;
pub use portcullis_core::VerifyingKey;
use portcullis_core::verifying_key::candidates;

/// What checking a signature against the issuer's keys found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signature {
    /// A key of the issuer verifies it.
    Verified,
    /// No key of the issuer fits the token's `kid` and `alg`.
    NoKey,
    /// Keys fit, and none verifies it.
    Bad,
}

/// The keys, with when they were fetched.
#[derive(Debug, Default)]
struct Snapshot {
    keys: Vec<VerifyingKey>,
    /// Unix seconds of the last fetch attempt.
    fetched: Option<i64>,
}

/// The HTTP client for the issuer: with the timeout, and with redirects off (a metadata, key or
/// introspection URL that redirects is refused, not followed elsewhere with the API's
/// credentials). A client that could not be built is reported at every use, never replaced by a
/// default one without the timeout.
#[derive(Debug, Clone)]
pub(crate) struct Http(Result<reqwest::Client, String>);

impl Http {
    pub(crate) fn new(timeout: Duration) -> Self {
        // Without aws-lc-rs, reqwest has no TLS crypto of its own and would panic when built:
        // report it instead, at every use, with what to do.
        #[cfg(not(feature = "aws-lc-rs"))]
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Http(Err(NO_PROVIDER.to_owned()));
        }
        Http(
            reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}")),
        )
    }

    pub(crate) fn from_client(client: reqwest::Client) -> Self {
        Http(Ok(client))
    }

    pub(crate) fn client(&self) -> Result<&reqwest::Client, ValidationError> {
        self.0
            .as_ref()
            .map_err(|e| ValidationError::Unavailable(e.clone()))
    }
}

#[cfg(not(feature = "aws-lc-rs"))]
const NO_PROVIDER: &str = "no TLS crypto: with the `rust-crypto` feature alone, install a rustls \
CryptoProvider (for example rustls_rustcrypto::provider().install_default()) before building the \
validator, or give it an HTTP client with ValidatorBuilder::http_client";

/// Keys of one issuer.
pub struct KeyStore {
    http: Http,
    issuer: String,
    jwks_uri: tokio::sync::OnceCell<String>,
    current: RwLock<Arc<Snapshot>>,
    refetch: tokio::sync::Mutex<()>,
    min_refetch: i64,
    max_age: i64,
    clock: Arc<dyn Clock>,
    fetches: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Keys for `issuer`, fetched again at most once per `min_refetch` on an unknown `kid`, and
    /// when the set is older than `max_age` (so keys the issuer stopped publishing go away).
    pub fn new(
        http: reqwest::Client,
        issuer: &str,
        min_refetch: Duration,
        max_age: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_http(Http::from_client(http), issuer, min_refetch, max_age, clock)
    }

    pub(crate) fn with_http(
        http: Http,
        issuer: &str,
        min_refetch: Duration,
        max_age: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        KeyStore {
            http,
            issuer: issuer.to_owned(),
            jwks_uri: tokio::sync::OnceCell::new(),
            current: RwLock::new(Arc::new(Snapshot::default())),
            refetch: tokio::sync::Mutex::new(()),
            min_refetch: secs(min_refetch),
            max_age: secs(max_age),
            clock,
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many times the JWKS was fetched (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Checks `signature` over `message` (made with `alg`, naming `kid` if the token has one)
    /// against the issuer's keys, fetching them again when none verifies and the last fetch is
    /// old enough.
    pub async fn verify(
        &self,
        kid: Option<&str>,
        alg: JwsAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<Signature, ValidationError> {
        let check = |s: &Snapshot| {
            let mut fitting = candidates(&s.keys, kid, alg).peekable();
            if fitting.peek().is_none() {
                return Signature::NoKey;
            }
            if fitting.any(|k| k.verify(alg, message, signature)) {
                Signature::Verified
            } else {
                Signature::Bad
            }
        };
        let now = self.clock.now().0;
        let fresh_enough = |s: &Snapshot| s.fetched.is_some_and(|t| now - t < self.max_age);
        let seen = self.snapshot();
        let first = check(&seen);
        if first == Signature::Verified && fresh_enough(&seen) {
            return Ok(first);
        }
        // Fetched moments ago: no fetch would follow, so do not queue behind the lock (a flood of
        // garbage tokens must not hold up good ones).
        if fresh_enough(&seen) && seen.fetched.is_some_and(|t| now - t < self.min_refetch) {
            return Ok(first);
        }
        let _single = self.refetch.lock().await;
        // Someone else may have fetched while we waited.
        let seen = self.snapshot();
        if fresh_enough(&seen) {
            let again = check(&seen);
            if again == Signature::Verified
                || seen.fetched.is_some_and(|t| now - t < self.min_refetch)
            {
                return Ok(again);
            }
        }
        match self.fetch(now).await {
            Ok(fresh) => {
                let found = check(&fresh);
                self.store(fresh);
                Ok(found)
            }
            Err(e) => {
                // Remember the attempt so a dead server is not asked on every request either.
                self.store(Snapshot {
                    keys: seen.keys.clone(),
                    fetched: Some(now),
                });
                Err(e)
            }
        }
    }

    fn store(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut g) => *g = snapshot,
            Err(p) => *p.into_inner() = snapshot,
        }
    }

    async fn jwks_uri(&self) -> Result<&String, ValidationError> {
        self.jwks_uri
            .get_or_try_init(|| async {
                let doc = discover(self.http.client()?, &self.issuer).await?;
                doc.get("jwks_uri")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ValidationError::Unavailable("the metadata has no jwks_uri".into())
                    })
            })
            .await
    }

    async fn fetch(&self, now: i64) -> Result<Snapshot, ValidationError> {
        let uri = self.jwks_uri().await?.clone();
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let set: JwkSet = get_json(self.http.client()?, &uri).await?;
        // Keys for encryption, of types we do not verify with, or whose `alg` we do not accept
        // are left out; the others are kept with or without `alg` and `kid`.
        let keys = portcullis_core::verifying_key::keys_of(&set);
        Ok(Snapshot {
            keys,
            fetched: Some(now),
        })
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, ValidationError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| ValidationError::Unavailable(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Err(ValidationError::Unavailable(format!(
            "{url}: HTTP {}",
            response.status()
        )));
    }
    response
        .json()
        .await
        .map_err(|e| ValidationError::Unavailable(format!("{url}: {e}")))
}

/// RFC 8414 metadata, then OpenID Connect Discovery; the `issuer` in the document must be exactly
/// the one asked for (RFC 8414 §3.3, `portcullis_core::issuer`).
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ValidationError> {
    let mut last = None;
    for url in portcullis_core::issuer::metadata_urls(issuer) {
        match get_json::<serde_json::Map<String, serde_json::Value>>(http, &url).await {
            Ok(doc) => {
                match portcullis_core::issuer::check_issuer(
                    issuer,
                    doc.get("issuer").and_then(|v| v.as_str()),
                ) {
                    Ok(()) => return Ok(doc),
                    Err(mismatch) => {
                        last = Some(ValidationError::Unavailable(format!("{url}: {mismatch}")))
                    }
                }
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ValidationError::Unavailable("no metadata".into())))
}
