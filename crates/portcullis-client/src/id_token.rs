//! Checking the ID token a sign-in returns (OpenID Connect Core §3.1.3.7): signed by a key the
//! issuer publishes, with the algorithm that key is for; `iss` the issuer exactly; `aud` naming
//! this client; not expired; and carrying the `nonce` this sign-in sent, when it sent one (the
//! device grant of RFC 8628 has no nonce).

use crate::error::ClientError;
use portcullis_core::jws::CompactJws;
use portcullis_core::verifying_key::{keys_of, verifies};
use portcullis_core::{Clock, JwkSet, JwsAlgorithm};
use serde_json::Value;

/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: i64 = 60;

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Expected<'a> {
    /// The issuer, exactly.
    pub issuer: &'a str,
    /// This client.
    pub client_id: &'a str,
    /// The nonce sent with the authorization request; `None` for a flow that sends none (the
    /// device grant, RFC 8628), whose ID token then has no nonce to compare.
    pub nonce: Option<&'a str>,
    /// Where the issuer's keys are.
    pub jwks_uri: Option<&'a str>,
}

impl<'a> Expected<'a> {
    /// An ID token from `issuer` (exactly), for `client_id`, carrying `nonce`, signed by a key
    /// published at `jwks_uri` (the issuer's metadata names it).
    pub fn new(issuer: &'a str, client_id: &'a str, nonce: &'a str, jwks_uri: &'a str) -> Self {
        Expected {
            issuer,
            client_id,
            nonce: Some(nonce),
            jwks_uri: Some(jwks_uri),
        }
    }

    /// The same checks for a flow that sends no nonce (the device grant, RFC 8628): every other
    /// claim is checked, and a `nonce` in the token is not compared with anything.
    pub fn without_nonce(issuer: &'a str, client_id: &'a str, jwks_uri: &'a str) -> Self {
        Expected {
            issuer,
            client_id,
            nonce: None,
            jwks_uri: Some(jwks_uri),
        }
    }
}

/// Checks `token` against `expected` (OpenID Connect Core §3.1.3.7): the signature with the
/// issuer's keys (as providers publish them: with or without `alg` and `kid`), `iss`, `aud`, `exp`
/// with a minute of leeway, and `nonce` when one is expected.
///
/// ```no_run
/// # async fn run(id_token: &str) -> Result<(), portcullis_client::ClientError> {
/// use portcullis_client::id_token::{Expected, check};
/// let http = reqwest::Client::new();
/// let expected = Expected::new(
///     "https://id.example.com",
///     "my-client",
///     "the-nonce-this-sign-in-sent",
///     "https://id.example.com/jwks.json",
/// );
/// check(&http, id_token, &expected, &portcullis_core::SystemClock).await?;
/// # Ok(()) }
/// ```
pub async fn check(
    http: &reqwest::Client,
    token: &str,
    expected: &Expected<'_>,
    clock: &dyn Clock,
) -> Result<(), ClientError> {
    let bad = |why: &str| ClientError::IdToken(why.to_owned());
    let jws = CompactJws::parse(token).map_err(|_| bad("not a compact JWS"))?;
    let alg: JwsAlgorithm = jws
        .header_str("alg")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| {
            bad("its alg is not one we accept (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA)")
        })?;
    let jwks_uri = expected
        .jwks_uri
        .ok_or_else(|| bad("the issuer publishes no jwks_uri to check it with"))?;
    let set: JwkSet = http
        .get(jwks_uri)
        .send()
        .await
        .map_err(|e| ClientError::Network {
            url: jwks_uri.to_owned(),
            reason: crate::error::describe_error(&e),
        })?
        .json()
        .await
        .map_err(|e| bad(&format!("{jwks_uri} is not a JWK set: {e}")))?;
    let signed = verifies(
        &keys_of(&set),
        jws.header_str("kid"),
        alg,
        jws.signing_input,
        &jws.signature,
    );
    if !signed {
        return Err(bad("the signature does not verify with the issuer's keys"));
    }
    let claims = jws.claims().map_err(|_| bad("unreadable claims"))?;
    if let Err(mismatch) = portcullis_core::issuer::check_issuer(
        expected.issuer,
        claims.get("iss").and_then(Value::as_str),
    ) {
        return Err(bad(&format!("iss: {mismatch}")));
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(a)) => a == expected.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expected.client_id)),
        _ => false,
    };
    if !for_us {
        return Err(bad("its aud does not name this client"));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("it has no exp"))?;
    if clock.now().0 >= exp.saturating_add(LEEWAY_SECS) {
        return Err(bad("it has expired"));
    }
    // Without a nonce sent (the device grant), there is nothing to compare: the token was
    // collected by this client itself, with a device code only it holds.
    if let Some(nonce) = expected.nonce {
        let nonce_ok = claims
            .get("nonce")
            .and_then(Value::as_str)
            .is_some_and(|n| {
                portcullis_core::secret::constant_time_eq(n.as_bytes(), nonce.as_bytes())
            });
        if !nonce_ok {
            return Err(bad("its nonce is not the one this sign-in sent"));
        }
    }
    Ok(())
}
