//! The claims of a client assertion: a JWT a client signs with its private key to authenticate
//! (`private_key_jwt`, RFC 7523 §2.2 and §3, OpenID Connect Core §9). Checking the signature is
//! the caller's; this module decides whether verified claims authenticate a given client, so the
//! server and its tests share one set of rules.

use crate::jose::JwsAlgorithm;
use serde_json::{Map, Value};

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithms an assertion may be signed with. `none` and the HMAC algorithms are not
/// [`JwsAlgorithm`]s; `client_secret_jwt` is not offered, because the server keeps only a keyed
/// hash of each secret and so could not check an HMAC made with one.
pub const ALGORITHMS: [JwsAlgorithm; 5] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::PS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::EdDSA,
    JwsAlgorithm::Ed25519,
];

/// The furthest ahead of now an assertion's `exp` may be, in seconds: a long-lived assertion is a
/// credential that outlives its purpose.
pub const MAX_LIFETIME: i64 = 300;

/// How far apart the client's clock and ours may be, in seconds.
pub const LEEWAY: i64 = 30;

/// What a valid assertion yields: its `jti`, to be used once, and until when it must be
/// remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAssertion {
    /// The assertion's identifier.
    pub jti: String,
    /// Until when a replay would otherwise be accepted (`exp` plus the leeway).
    pub remember_until: i64,
}

/// Why the claims do not authenticate the client. The text is safe to send back: it says what is
/// wrong with the assertion, which only its maker can see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssertionError(pub String);

/// Checks the claims of an assertion whose signature has verified, for `client_id` at a server
/// that accepts the audiences `audiences` (its issuer identifier first, then its token endpoint
/// URL), at `now` (Unix seconds).
///
/// `iss` and `sub` must both be the client_id; every `aud` value must be one of `audiences` (an
/// assertion also meant for another server could be replayed here by it); `exp` is required and
/// at most [`MAX_LIFETIME`] ahead; `nbf` and `iat` must not be in the future; `jti` is required.
///
/// ```
/// use portcullis_core::client_assertion::check_claims;
/// let claims = serde_json::json!({
///     "iss": "app", "sub": "app", "aud": "https://id.example",
///     "exp": 1_000_060, "jti": "j1",
/// });
/// let checked = check_claims(claims.as_object().unwrap(), "app", &["https://id.example"], 1_000_000);
/// assert_eq!(checked.unwrap().jti, "j1");
/// let wrong = check_claims(claims.as_object().unwrap(), "other", &["https://id.example"], 1_000_000);
/// assert!(wrong.is_err());
/// ```
pub fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<CheckedAssertion, AssertionError> {
    let bad = |m: &str| Err(AssertionError(m.to_owned()));
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let time = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| AssertionError(format!("{name} must be a number of seconds"))),
    };
    if text("iss") != Some(client_id) {
        return bad("the assertion's iss must be the client_id");
    }
    if text("sub") != Some(client_id) {
        return bad("the assertion's sub must be the client_id");
    }
    let aud: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => match many.iter().map(Value::as_str).collect() {
            Some(all) => all,
            None => return bad("every aud value must be a string"),
        },
        _ => return bad("the assertion has no aud"),
    };
    let ours = |a: &&str| audiences.contains(a);
    if aud.is_empty() || !aud.iter().all(ours) {
        return Err(AssertionError(format!(
            "the assertion's aud must be this server's issuer identifier ({}) or token endpoint URL, and nothing else",
            audiences.first().copied().unwrap_or_default()
        )));
    }
    let Some(exp) = time("exp")? else {
        return bad("the assertion has no exp");
    };
    if exp <= now - LEEWAY {
        return bad("the assertion has expired");
    }
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(AssertionError(format!(
            "the assertion's exp is more than {MAX_LIFETIME} seconds ahead"
        )));
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + LEEWAY) {
        return bad("the assertion is not valid yet (nbf)");
    }
    if time("iat")?.is_some_and(|iat| iat > now + LEEWAY) {
        return bad("the assertion was issued in the future (iat)");
    }
    let jti = match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= 256 => jti.to_owned(),
        Some(_) => return bad("the assertion's jti must be 1 to 256 characters"),
        None => return bad("the assertion has no jti"),
    };
    Ok(CheckedAssertion {
        jti,
        remember_until: exp + LEEWAY,
    })
}
