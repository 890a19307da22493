//! DPoP (RFC 9449) for clients: a key of the client's own signs a proof for each request, so a
//! token bound to it is worthless to anyone who copies it. A [`DpopKey`] remembers the nonce each
//! server gave it (`DPoP-Nonce`, RFC 9449 §8), and says when an answer asks to try again with one.

use crate::error::ClientError;
use crate::private_key::{PrivateKey, random_id};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A DPoP key and the nonces servers handed it. Cheap to clone; clones share the nonces.
#[derive(Clone)]
pub struct DpopKey {
    key: PrivateKey,
    thumbprint: String,
    nonces: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// The origin of a URL (`https://host:port`), which nonces are kept by.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => url.to_owned(),
    }
}

impl DpopKey {
    /// A new P-256 key, held only in memory.
    pub fn generate() -> Result<Self, ClientError> {
        Ok(Self::from_key(PrivateKey::generate_p256()?))
    }

    /// Proofs signed with `key`.
    pub fn from_key(key: PrivateKey) -> Self {
        let thumbprint = key.public_jwk().thumbprint().unwrap_or_default();
        DpopKey {
            key,
            thumbprint,
            nonces: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The RFC 7638 thumbprint of the public key: what a bound token's `cnf.jkt` names, and
    /// what `dpop_jkt` sends.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for `method` on `url` at `now` (Unix seconds), carrying the hash of
    /// `access_token` when one is sent with it, and the nonce `url`'s server last gave.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<String, ClientError> {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut claims = serde_json::json!({
            "jti": random_id()?,
            "htm": method,
            "htu": htu,
            "iat": now,
        });
        if let Some(token) = access_token {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
            claims["ath"] = B64.encode(digest.as_ref()).into();
        }
        if let Some(nonce) = self.nonce_for(url) {
            claims["nonce"] = nonce.into();
        }
        let mut jwk = self.key.public_jwk();
        jwk.kid = String::new();
        self.key.sign_jws(
            serde_json::json!({ "typ": "dpop+jwt", "jwk": jwk }),
            &claims,
        )
    }

    fn nonce_for(&self, url: &str) -> Option<String> {
        let nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces.get(&origin(url)).cloned()
    }

    /// Keeps the `DPoP-Nonce` of an answer from `url`'s server, for the next proof; true if the
    /// answer had one that differs from what we had.
    pub fn remember_nonce(&self, url: &str, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces.insert(origin(url), nonce.to_owned()) != Some(nonce.to_owned())
    }
}

/// Whether an API's 401 asks for a proof with its nonce (RFC 9449 §9).
pub fn is_nonce_challenge(status: u16, headers: &HeaderMap) -> bool {
    status == 401
        && headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce"))
}
