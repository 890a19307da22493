//! The public keys of `private_key_jwt` clients that publish them at a `jwks_uri` (RFC 7591 §2):
//! fetched when first needed, kept for a while, and fetched again when an assertion names a key we
//! do not hold, at most once per interval per URL, so that a stream of assertions with made-up
//! `kid`s cannot turn the server into a client of someone else's server.

use portcullis_core::verifying_key::{candidates, keys_of};
use portcullis_core::{Clock, JwkSet, JwsAlgorithm, VerifyingKey};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long fetched keys are used before they are fetched again anyway.
const MAX_AGE: i64 = 300;
/// The least time between two fetches of one URL.
const MIN_REFETCH: i64 = 30;
/// The largest key set read.
const MAX_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
struct Fetched {
    keys: Arc<Vec<VerifyingKey>>,
    /// Unix seconds of the last attempt, successful or not.
    at: i64,
    /// Why the last attempt failed, if it did.
    failed: Option<String>,
}

/// The cache, shared by every request.
pub struct ClientKeys {
    http: Result<reqwest::Client, String>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Fetched>>,
    /// One fetch at a time per URL: concurrent requests for one URL wait for the first one's
    /// answer, and a slow host holds up only its own clients.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKeys")
    }
}

impl ClientKeys {
    /// A cache that fetches with a 5-second timeout and follows no redirects.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"));
        ClientKeys {
            http,
            clock,
            cache: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, uri: &str) -> Option<Fetched> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(uri).cloned()
    }

    fn turn(&self, uri: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(uri.to_owned()).or_default().clone()
    }

    /// The keys at `uri` that may have signed with `alg` under `kid`: from the cache when it has
    /// one that fits, else fetched (when the last fetch is old enough). The error, for the log, is
    /// why the keys could not be fetched: then no key fits, and the caller answers "try later"
    /// rather than blaming the client. Keys fetched before are kept while the host is down.
    pub async fn keys_for(
        &self,
        uri: &str,
        kid: Option<&str>,
        alg: JwsAlgorithm,
    ) -> Result<Arc<Vec<VerifyingKey>>, String> {
        let now = self.clock.now().0;
        let fits = |f: &Fetched| candidates(&f.keys, kid, alg).next().is_some();
        let usable = |f: &Fetched| now - f.at < MAX_AGE && fits(f);
        let recent = |f: &Fetched| now - f.at < MIN_REFETCH;
        let answer = |f: Fetched| match f.failed {
            Some(why) if !fits(&f) => Err(why),
            _ => Ok(f.keys),
        };
        if let Some(f) = self.cached(uri).filter(|f| usable(f) || recent(f)) {
            return answer(f);
        }
        let turn = self.turn(uri);
        let _turn = turn.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(f) = self.cached(uri).filter(|f| usable(f) || recent(f)) {
            return answer(f);
        }
        let fetched = self.fetch(uri).await;
        let previous = self.cached(uri).map(|f| f.keys).unwrap_or_default();
        let entry = match fetched {
            Ok(set) => Fetched {
                keys: Arc::new(keys_of(&set)),
                at: now,
                failed: None,
            },
            // Keep what we had: the client's keys did not change because its server is down.
            Err(why) => Fetched {
                keys: previous,
                at: now,
                failed: Some(why),
            },
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(uri.to_owned(), entry.clone());
        drop(cache);
        answer(entry)
    }

    async fn fetch(&self, uri: &str) -> Result<JwkSet, String> {
        let http = self.http.as_ref().map_err(Clone::clone)?;
        let mut response = http
            .get(uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch {uri}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{uri} answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("cannot read {uri}: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(format!("{uri} is larger than {MAX_BYTES} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("{uri} is not a JWK Set: {e}"))
    }
}
