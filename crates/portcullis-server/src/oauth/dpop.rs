//! DPoP at our own endpoints (RFC 9449): a proof is checked by core `dpop::check_proof`, its `jti`
//! is used once through the store (so a replay is refused by every instance), and its nonce, when
//! nonces are required, must be one we gave out. Nonces are an HMAC of the current five-minute
//! window under a key derived from the database's secret, so every instance gives out and
//! accepts the same ones with nothing stored: a nonce is valid in its window and the next.

use super::Issuer;
use portcullis_core::dpop::{Expected, NonceKey, check_proof};

/// Server nonces (RFC 9449 §8), and whether proofs must carry one.
#[derive(Debug)]
pub struct DpopNonces {
    key: NonceKey,
    /// Whether every proof must carry one.
    pub required: bool,
}

impl DpopNonces {
    /// Nonces under `key` (derived from the database's secret).
    pub fn new(key: &[u8], required: bool) -> Self {
        DpopNonces {
            key: NonceKey::new(key),
            required,
        }
    }

    /// The nonce to give out now.
    pub fn current(&self, now: i64) -> String {
        self.key.current(now)
    }

    /// Whether `nonce` is this window's or the last one's.
    pub fn is_valid(&self, nonce: &str, now: i64) -> bool {
        self.key.is_valid(nonce, now)
    }
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopError {
    /// `invalid_dpop_proof`, with what is wrong.
    Invalid(String),
    /// `use_dpop_nonce`: send the proof again with this nonce.
    UseNonce(String),
    /// The store could not record the `jti`: our fault.
    Store(String),
}

/// A proof that passed every check: the thumbprint of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// What a token or code is bound to.
    pub jkt: String,
}

/// Checks the `DPoP` header of a request to our endpoint at `path` with method `htm`; `None`
/// when the request has none. `access_token` is the token presented with it, at `/userinfo`.
pub async fn check(
    issuer: &Issuer,
    header: Option<&str>,
    htm: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<Proof>, DpopError> {
    let Some(proof) = header else {
        return Ok(None);
    };
    let now = issuer.clock.now().0;
    let htu = format!("{}{path}", issuer.issuer());
    let checked = check_proof(
        proof,
        &Expected {
            htm,
            htu: &htu,
            access_token,
            now,
        },
    )
    .map_err(|e| DpopError::Invalid(e.0))?;
    let nonces = &issuer.dpop_nonces;
    if nonces.required
        && !checked
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.is_valid(n, now))
    {
        return Err(DpopError::UseNonce(nonces.current(now)));
    }
    let key = crate::crypto::once_key("dpop", &checked.jkt, &checked.jti);
    let first = issuer
        .store
        .use_once(&key, checked.remember_until, now)
        .await
        .map_err(|e| DpopError::Store(e.to_string()))?;
    if !first {
        return Err(DpopError::Invalid(
            "this DPoP proof has been used already; make a new one (with a new jti) for each request"
                .into(),
        ));
    }
    Ok(Some(Proof { jkt: checked.jkt }))
}
