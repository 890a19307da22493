//! DPoP-bound tokens at the API (RFC 9449 §7): a token whose `cnf.jkt` binds it to a key is
//! accepted only as `Authorization: DPoP` with a proof by that key for this very request (method,
//! URL, and `ath`, the token's hash). Proof `jti`s are remembered in memory, per process, until the
//! proof is too old anyway, up to a fixed number: when the record is full of live proofs, new
//! proofs are refused rather than old ones forgotten. Several instances do not share the record,
//! so a proof taken from one could be replayed at another within its five minutes; nonces (an
//! HMAC of the time window under a secret) narrow what a proof made in advance can do, not that.

use crate::claims::AccessToken;
use crate::error::ValidationError;
use crate::validator::{Validator, ValidatorBuilder};
use axum::http::{HeaderMap, Method, Uri, header};
use portcullis_core::dpop::{Expected, NonceKey, check_proof};
use portcullis_core::hash::sha256;

/// The validator's DPoP settings.
#[derive(Default)]
pub(crate) struct DpopSettings {
    /// The key nonces are made with; none: nonces are not required.
    nonces: Option<NonceKey>,
    /// The API's public origin (`https://api.example.com`), for `htu`.
    public_url: Option<String>,
}

impl std::fmt::Debug for DpopSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopSettings")
            .field("nonces", &self.nonces.is_some())
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The most proofs remembered at once (a few megabytes).
const MAX_REMEMBERED: usize = 100_000;

/// What the validator keeps for DPoP: its settings and the proofs seen, each with the second it
/// may be forgotten.
pub(crate) struct DpopState {
    settings: DpopSettings,
    seen: std::sync::Mutex<std::collections::HashMap<[u8; 32], i64>>,
}

impl DpopState {
    pub(crate) fn new(settings: DpopSettings) -> Self {
        DpopState {
            settings,
            seen: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Records a proof; false if it was recorded already. Full of live proofs, it refuses.
    fn first_use(&self, key: [u8; 32], until: i64, now: i64) -> Result<bool, ValidationError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(&key).is_some_and(|&u| u > now) {
            return Ok(false);
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, u| *u > now);
            if seen.len() >= MAX_REMEMBERED {
                return Err(ValidationError::Unavailable(format!(
                    "more than {MAX_REMEMBERED} DPoP proofs within their lifetime; refusing new ones rather than forgetting old ones"
                )));
            }
        }
        seen.insert(key, until);
        Ok(true)
    }
}

impl ValidatorBuilder {
    /// Requires a server nonce in every DPoP proof (RFC 9449 §9), made and checked with `secret`:
    /// give every instance of the API the same secret (32 random bytes or more). A proof without
    /// a current nonce gets 401 `use_dpop_nonce` with the nonce in `DPoP-Nonce`.
    pub fn dpop_nonce_secret(mut self, secret: &[u8]) -> Self {
        self.dpop.nonces = Some(NonceKey::new(secret));
        self
    }

    /// The API's public origin, e.g. `https://api.example.com`, for checking a DPoP proof's
    /// `htu`. Needed to accept DPoP-bound tokens anywhere but on a loopback address, where the
    /// request's `Host` is taken (as `http`) for development: a `Host` header is the sender's to
    /// choose.
    pub fn public_url(mut self, url: &str) -> Self {
        self.dpop.public_url = Some(url.trim_end_matches('/').to_owned());
        self
    }
}

/// How the request presented its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// The access token of a request and its scheme: exactly one `Authorization` header, `Bearer` or
/// `DPoP` (RFC 6750 §2.1, RFC 9449 §7.1).
pub(crate) fn presented(headers: &HeaderMap) -> Result<(&str, Scheme), ValidationError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ValidationError::Missing);
    };
    if values.next().is_some() {
        return Err(ValidationError::Malformed);
    }
    let value = value.to_str().map_err(|_| ValidationError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(ValidationError::Malformed)?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(ValidationError::Missing);
    };
    let token = token.trim();
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err(ValidationError::Malformed);
    }
    Ok((token, scheme))
}

impl Validator {
    /// Checks the access token of a request: a bearer token as [`Validator::validate`] does, and
    /// a token bound to a DPoP key (`cnf.jkt`) only as `Authorization: DPoP` with a valid proof
    /// by that key for this method and URL. [`crate::BearerLayer`] calls this.
    pub async fn validate_request(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<AccessToken, ValidationError> {
        let (token, scheme) = presented(headers)?;
        let checked = self.validate_token(token).await?;
        let bound = match checked.claims.get("cnf") {
            None => None,
            Some(cnf) => match cnf.get("jkt").and_then(serde_json::Value::as_str) {
                Some(jkt) => Some(jkt),
                // Bound in a way this crate cannot check (mTLS `x5t#S256`, …): never as a bearer.
                None => {
                    return Err(ValidationError::Invalid(
                        "the token is bound to a key in a way this API cannot check",
                    ));
                }
            },
        };
        match (bound, scheme) {
            (None, Scheme::Bearer) => Ok(checked),
            (None, Scheme::Dpop) => Err(ValidationError::Invalid(
                "the token is not bound to a key; send it as Bearer",
            )),
            (Some(_), Scheme::Bearer) => Err(ValidationError::Invalid(
                "the token is bound to a DPoP key; send it as DPoP with a proof",
            )),
            (Some(jkt), Scheme::Dpop) => {
                self.check_dpop(method, uri, headers, token, jkt)?;
                Ok(checked)
            }
        }
    }

    fn check_dpop(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        token: &str,
        jkt: &str,
    ) -> Result<(), ValidationError> {
        let state = &self.inner.dpop;
        let proof_error = |m: &str| ValidationError::DpopProof(m.to_owned());
        let mut proofs = headers.get_all("dpop").iter();
        let proof = match (proofs.next(), proofs.next()) {
            (Some(p), None) => p
                .to_str()
                .map_err(|_| proof_error("the DPoP header is not a JWT"))?,
            (None, _) => {
                return Err(proof_error(
                    "a DPoP proof is required with a DPoP-bound token",
                ));
            }
            (Some(_), Some(_)) => return Err(proof_error("send one DPoP header, not several")),
        };
        let htu = request_url(state.settings.public_url.as_deref(), uri, headers)?;
        let now = self.inner.clock.now().0;
        let checked = check_proof(
            proof.trim(),
            &Expected {
                htm: method.as_str(),
                htu: &htu,
                access_token: Some(token),
                now,
            },
        )
        .map_err(|e| ValidationError::DpopProof(e.0))?;
        if checked.jkt != jkt {
            return Err(proof_error(
                "the DPoP proof is not made with the key the token is bound to",
            ));
        }
        if let Some(nonces) = &state.settings.nonces
            && !checked
                .nonce
                .as_deref()
                .is_some_and(|n| nonces.is_valid(n, now))
        {
            return Err(ValidationError::DpopNonce(nonces.current(now)));
        }
        let key = sha256(format!("{}\0{}", checked.jkt, checked.jti).as_bytes());
        if state.first_use(key, checked.remember_until, now)? {
            Ok(())
        } else {
            Err(proof_error(
                "this DPoP proof has been used already; make a new one for each request",
            ))
        }
    }
}

/// The URL the client addressed, without query: the configured public URL and the path. Without
/// one, only a loopback `Host` (development) is believed, as `http`: the host a request names is
/// the sender's to choose, and believing it would let a proof made for another API that trusts
/// the same issuer pass here.
fn request_url(
    public: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, ValidationError> {
    let path = uri.path();
    if let Some(base) = public {
        return Ok(format!("{base}{path}"));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let bare = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if matches!(bare, "localhost" | "127.0.0.1" | "[::1]") {
        return Ok(format!("http://{host}{path}"));
    }
    Err(ValidationError::Unavailable(
        "a DPoP-bound token arrived, and this API does not know its public URL: set \
         ValidatorBuilder::public_url"
            .into(),
    ))
}
