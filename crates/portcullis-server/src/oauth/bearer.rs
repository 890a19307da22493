//! Checking JWTs this server signed: access tokens presented to `/userinfo`, `/introspect` and
//! `/revoke`, and ID tokens given as `id_token_hint`. Only keys from our own key set, only the
//! algorithm each key is for, never `none`; the header's `typ` must be the one expected. What
//! passes is a [`VerifiedToken`], which only this module can make.

use crate::keys::KeySet;
use crate::registry::Snapshot;
use portcullis_core::jws::CompactJws;
use portcullis_core::{Scope, UnixTime};
use serde_json::{Map, Value};
use std::sync::Arc;

/// How many verified access tokens are remembered.
const VERIFIED_CAPACITY: usize = 4096;

/// Access tokens whose signature already checked out, so that a resource server introspecting
/// the same token again (or a client calling `/userinfo` again) costs no signature check, which is
/// most of the work (ECDSA and RSA verification). Bounded, least-recently-used entries go first.
///
/// An entry is keyed by the registry revision it was verified under and the token's SHA-256: any
/// change of keys (a new revision) makes every older entry miss, so a key taken out of the key set
/// stops verifying at once. Expiry and the deny list are checked on every use, cached or not.
pub struct VerifiedCache {
    cache: quick_cache::sync::Cache<(i64, [u8; 32]), Arc<VerifiedToken>>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache {
            cache: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
        }
    }
}

impl VerifiedCache {
    /// [`verify_access_token`] against `snapshot`'s keys, remembered.
    pub fn access_token(
        &self,
        token: &str,
        snapshot: &Snapshot,
        issuer: &str,
        now: UnixTime,
        max_token_lifetime: u64,
    ) -> Option<Arc<VerifiedToken>> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest.as_ref());
        let key = (snapshot.revision, hash);
        let verified = match self.cache.get(&key) {
            Some(hit) => hit,
            None => {
                let fresh = Arc::new(verify_access_token(
                    token,
                    &snapshot.keys,
                    issuer,
                    now,
                    max_token_lifetime,
                )?);
                self.cache.insert(key, fresh.clone());
                fresh
            }
        };
        // Checked on every use: a remembered token expires like any other.
        (verified.time("exp")? > now.0).then_some(verified)
    }
}

/// The claims of a JWT whose signature and `typ` checked out against our keys. The field is
/// private, so holding one is proof that the check ran.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    claims: Map<String, Value>,
}

impl VerifiedToken {
    /// Every claim, for answers that copy some of them.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// A string claim.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim (`exp`, `iat`, `auth_time`).
    pub fn time(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// `jti`, or empty when absent (none of ours lacks it).
    pub fn jti(&self) -> &str {
        self.text("jti").unwrap_or_default()
    }

    /// `sub`, or empty when absent.
    pub fn sub(&self) -> &str {
        self.text("sub").unwrap_or_default()
    }

    /// The scopes of `scope`; none when absent or malformed.
    pub fn scope(&self) -> Scope {
        self.text("scope")
            .and_then(|s| Scope::parse(s).ok())
            .unwrap_or_default()
    }

    /// `aud`, as one string or a list.
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Verifies signature and `typ`. Time-based claims are the caller's business.
pub fn verify_signed(
    token: &str,
    keys: &KeySet,
    now: UnixTime,
    max_token_lifetime: u64,
    typ: &str,
) -> Option<VerifiedToken> {
    let jws = CompactJws::parse(token).ok()?;
    if jws.header_str("typ")? != typ {
        return None;
    }
    let key = keys.verifier(jws.header_str("kid")?, now, max_token_lifetime)?;
    if jws.header_str("alg")? != key.alg().as_str() {
        return None;
    }
    if !key.verify(jws.signing_input, &jws.signature) {
        return None;
    }
    Some(VerifiedToken {
        claims: jws.claims().ok()?,
    })
}

/// An access token (RFC 9068) once its signature, issuer and expiry check out.
pub fn verify_access_token(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    now: UnixTime,
    max_token_lifetime: u64,
) -> Option<VerifiedToken> {
    let token = verify_signed(token, keys, now, max_token_lifetime, "at+jwt")?;
    let fresh = token.time("exp")? > now.0;
    let ours = token.text("iss")? == issuer;
    (fresh && ours).then_some(token)
}

/// Whether one of our tokens was issued to a client that is registered now, and already was when
/// the token was issued: deleting a client ends its tokens, and creating a client with the same id
/// again (`--client-id`, an import, a `[[clients]]` table at the next start) does not bring them
/// back. The client is the token's `client_id` (access tokens), else `azp`, else its one `aud` (ID
/// tokens).
pub fn issued_to_current_client(token: &VerifiedToken, snapshot: &Snapshot) -> bool {
    let id = token
        .text("client_id")
        .or_else(|| token.text("azp"))
        .or_else(|| token.text("aud"));
    match (id.and_then(|id| snapshot.client(id)), token.time("iat")) {
        (Some(client), Some(issued_at)) => issued_at >= client.created_at,
        _ => false,
    }
}
