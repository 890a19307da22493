//! Checking JWTs this server signed: access tokens presented to `/userinfo` and ID tokens given as
//! `id_token_hint`. Only keys from our own key set, only the algorithm each key is for, never
//! `none`; the header's `typ` must be the one expected.

use crate::keys::KeySet;
use portcullis_core::UnixTime;
use portcullis_core::jws::CompactJws;
use serde_json::{Map, Value};

/// Verifies signature and `typ`, returning the claims. Time-based claims are the caller's business.
pub fn verify_signed(
    token: &str,
    keys: &KeySet,
    now: UnixTime,
    max_token_lifetime: u64,
    typ: &str,
) -> Option<Map<String, Value>> {
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
    jws.claims().ok()
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
