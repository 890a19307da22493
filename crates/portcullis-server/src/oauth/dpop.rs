//! DPoP at our own endpoints (RFC 9449): a proof is checked by core `dpop::check_proof`, its `jti`
//! is used once through the store (so a replay is refused by every instance), and its nonce, when
//! nonces are required, must be one we gave out. Nonces are an HMAC of the current five-minute
//! window under a key derived from the database's secret, so every instance gives out and
//! accepts the same ones with nothing stored: a nonce is valid in its window and the next.

use super::Issuer;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::dpop::{Expected, check_proof};

/// How long one nonce is handed out; it is accepted for twice that.
const NONCE_WINDOW: i64 = 300;

/// Makes and checks server nonces (RFC 9449 §8).
pub struct DpopNonces {
    key: hmac::Key,
    /// Whether every proof must carry one.
    pub required: bool,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces under `key` (derived from the database's secret).
    pub fn new(key: &[u8], required: bool) -> Self {
        DpopNonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            required,
        }
    }

    fn for_window(&self, window: i64) -> String {
        let tag = hmac::sign(&self.key, &window.to_be_bytes());
        B64.encode(&tag.as_ref()[..18])
    }

    /// The nonce to give out now.
    pub fn current(&self, now: i64) -> String {
        self.for_window(now.div_euclid(NONCE_WINDOW))
    }

    /// Whether `nonce` is this window's or the last one's.
    pub fn is_valid(&self, nonce: &str, now: i64) -> bool {
        let window = now.div_euclid(NONCE_WINDOW);
        [window, window - 1].iter().any(|w| {
            portcullis_core::secret::constant_time_eq(
                self.for_window(*w).as_bytes(),
                nonce.as_bytes(),
            )
        })
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
    let digest = crate::crypto::token_hash(&format!("dpop\0{}\0{}", checked.jkt, checked.jti));
    let key: String = digest.iter().map(|b| format!("{b:02x}")).collect();
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
