//! `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): a client authenticates with
//! a JWT signed by its private key. The signature is checked against the client's registered
//! `jwks`, or the keys at its `jwks_uri`; the claims by `portcullis_core::client_assertion`; and
//! the `jti` is recorded in the store, so that an assertion is accepted once across every
//! instance.

use super::Issuer;
use super::error::TokenError;
use crate::client::Client;
use portcullis_core::client_assertion::{ALGORITHMS, check_claims};
use portcullis_core::jws::CompactJws;
use portcullis_core::verifying_key::verifies;
use portcullis_core::{JwsAlgorithm, TokenEndpointAuthMethod};
use std::sync::Arc;

/// The `iss` of an assertion, read before anything is verified, to find the client it claims
/// to come from when the request has no `client_id`.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    let jws = CompactJws::parse(assertion).ok()?;
    let claims = jws.claims().ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks `assertion` as the credentials of `client`, at any endpoint that authenticates clients.
/// Every failure is `invalid_client`; the ones found after the signature verified say what is
/// wrong, since only the key's holder can see them. The audience must be the issuer identifier
/// or the token endpoint's URL, whichever endpoint receives the assertion (OpenID Connect Core §9
/// names the token endpoint; RFC 7523 the server).
pub async fn verify(
    issuer: &Issuer,
    client: Option<&Arc<Client>>,
    assertion: &str,
) -> Result<Arc<Client>, TokenError> {
    let fail = || TokenError::client_authentication_failed(false);
    let said = |m: String| TokenError::client(m, false);
    let Some(client) = client.filter(|c| {
        c.metadata.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::PrivateKeyJwt)
    }) else {
        return Err(fail());
    };
    // Until the signature has verified, every failure reads the same as an unknown client, so
    // the answers do not tell which client_ids exist.
    let jws = CompactJws::parse(assertion).map_err(|_| fail())?;
    let alg = jws
        .header_str("alg")
        .and_then(|a| a.parse::<JwsAlgorithm>().ok())
        .filter(|a| ALGORITHMS.contains(a))
        .ok_or_else(fail)?;
    let kid = jws.header_str("kid");
    let keys = match &client.metadata.jwks_uri {
        None => Arc::new(client.keys.clone()),
        Some(uri) => issuer
            .client_keys
            .keys_for(uri, client.self_registered, kid, alg)
            .await
            .map_err(|error| {
                tracing::warn!(client_id = %client.id, %error, "cannot fetch a client's jwks_uri");
                TokenError::Unavailable {
                    description: "the client's jwks_uri could not be fetched".into(),
                }
            })?,
    };
    if !verifies(&keys, kid, alg, jws.signing_input, &jws.signature) {
        return Err(fail());
    }
    let claims = jws
        .claims()
        .map_err(|_| said("the client assertion's claims are unreadable".into()))?;
    let issuer_id = issuer.issuer();
    let token_endpoint = format!("{issuer_id}/token");
    let now = issuer.clock.now().0;
    let checked = check_claims(
        &claims,
        client.id.as_str(),
        &[issuer_id, &token_endpoint],
        now,
    )
    .map_err(|e| said(e.0))?;
    let key = crate::crypto::once_key("client_assertion", client.id.as_str(), &checked.jti);
    let first = issuer
        .store
        .use_once(&key, checked.remember_until, now)
        .await
        .map_err(|e| TokenError::server(format!("cannot record an assertion's jti: {e}")))?;
    if !first {
        return Err(said(
            "this client assertion has been used already; make a new one (with a new jti) for each request"
                .into(),
        ));
    }
    Ok(client.clone())
}
