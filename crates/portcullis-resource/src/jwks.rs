//! The issuer's keys: discovered through RFC 8414 metadata (then OpenID Connect Discovery), cached,
//! and fetched again when a token names a `kid` we have not seen, at most once per interval so that
//! a stream of garbage tokens cannot make us hammer the authorization server.

use crate::error::ValidationError;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::Clock;
use portcullis_core::{Algorithm, Jwk, JwkSet};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// One public key, ready to verify.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    /// The only algorithm this key is used with.
    pub alg: Algorithm,
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    /// Uncompressed SEC1 point, or the raw Ed25519 key.
    Bytes(Vec<u8>),
    /// RSA modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl VerifyingKey {
    /// Reads a JWK; `None` for key types or algorithms we do not verify with.
    pub fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
        let decode = |v: &Option<String>| v.as_deref().and_then(|s| B64.decode(s).ok());
        let alg = jwk.alg.as_deref()?.parse::<Algorithm>().ok()?;
        let material = match (alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
            (Algorithm::ES256, "EC", Some("P-256")) => {
                let (x, y) = (decode(&jwk.x)?, decode(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Bytes(point)
            }
            (Algorithm::EdDSA, "OKP", Some("Ed25519")) => Material::Bytes(decode(&jwk.x)?),
            (Algorithm::RS256, "RSA", _) => Material::Rsa {
                n: decode(&jwk.n)?,
                e: decode(&jwk.e)?,
            },
            _ => return None,
        };
        Some(VerifyingKey { alg, material })
    }

    /// Checks `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match (&self.material, self.alg) {
            (Material::Bytes(key), Algorithm::ES256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::Bytes(key), Algorithm::EdDSA) => UnparsedPublicKey::new(&ED25519, key)
                .verify(message, signature)
                .is_ok(),
            (Material::Rsa { n, e }, Algorithm::RS256) => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            _ => false,
        }
    }
}

/// The keys by `kid`, with when they were fetched.
#[derive(Debug, Default)]
struct Snapshot {
    keys: HashMap<String, Arc<VerifyingKey>>,
    /// Unix seconds of the last fetch attempt.
    fetched: Option<i64>,
}

/// Keys of one issuer.
pub struct KeyStore {
    http: reqwest::Client,
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

    /// The key named `kid`, fetching the JWKS when it is not known and the last fetch is old
    /// enough.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, ValidationError> {
        let now = self.clock.now().0;
        let fresh_enough = |s: &Snapshot| s.fetched.is_some_and(|t| now - t < self.max_age);
        let seen = self.snapshot();
        if let Some(key) = seen.keys.get(kid).filter(|_| fresh_enough(&seen)) {
            return Ok(Some(key.clone()));
        }
        let _single = self.refetch.lock().await;
        // Someone else may have fetched while we waited.
        let seen = self.snapshot();
        if fresh_enough(&seen) {
            if let Some(key) = seen.keys.get(kid) {
                return Ok(Some(key.clone()));
            }
            if seen.fetched.is_some_and(|t| now - t < self.min_refetch) {
                return Ok(None);
            }
        }
        match self.fetch(now).await {
            Ok(fresh) => {
                let found = fresh.keys.get(kid).cloned();
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
                let doc = discover(&self.http, &self.issuer).await?;
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
        let set: JwkSet = get_json(&self.http, &uri).await?;
        let keys = set
            .keys
            .iter()
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|k| Some((k.kid.clone(), Arc::new(VerifyingKey::from_jwk(k)?))))
            .collect();
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
/// the one asked for (RFC 8414 §3.3).
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ValidationError> {
    let mut last = None;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        match get_json::<serde_json::Map<String, serde_json::Value>>(
            http,
            &format!("{issuer}{path}"),
        )
        .await
        {
            Ok(doc) if doc.get("issuer").and_then(|v| v.as_str()) == Some(issuer) => {
                return Ok(doc);
            }
            Ok(_) => {
                last = Some(ValidationError::Unavailable(
                    "the metadata names another issuer".into(),
                ))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ValidationError::Unavailable("no metadata".into())))
}
