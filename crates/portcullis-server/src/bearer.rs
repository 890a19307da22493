//! Checking JWTs this server signed: access tokens presented to `/userinfo` and ID tokens given as
//! `id_token_hint`. Only keys from our own key set, only the algorithm each key is for, never
//! `none`; the header's `typ` must be the one expected.

use crate::keys::KeySet;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::UnixTime;
use serde_json::{Map, Value};

/// Longest token we bother to parse.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Verifies signature and `typ`, returning the claims. Time-based claims are the caller's business.
pub fn verify_signed(
    token: &str,
    keys: &KeySet,
    now: UnixTime,
    max_token_lifetime: u64,
    typ: &str,
) -> Option<Map<String, Value>> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Map<String, Value> = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
    if header.get("typ")?.as_str()? != typ {
        return None;
    }
    let kid = header.get("kid")?.as_str()?;
    let key = keys.verifier(kid, now, max_token_lifetime)?;
    if header.get("alg")?.as_str()? != key.alg().as_str() {
        return None;
    }
    let signature = B64.decode(signature).ok()?;
    let signed = &token[..token.len() - token.rsplit('.').next()?.len() - 1];
    if !key.verify(signed.as_bytes(), &signature) {
        return None;
    }
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

/// An access token's claims once its signature, issuer and expiry check out.
pub fn verify_access_token(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    now: UnixTime,
    max_token_lifetime: u64,
) -> Option<Map<String, Value>> {
    let claims = verify_signed(token, keys, now, max_token_lifetime, "at+jwt")?;
    let fresh = claims.get("exp")?.as_i64()? > now.0;
    let ours = claims.get("iss")?.as_str()? == issuer;
    (fresh && ours).then_some(claims)
}
