//! `portcullis decode TOKEN|-`: the header and claims, when it expires, and whether the signature
//! verifies against the keys of a *trusted* issuer. The token's own `iss` is not trusted: any
//! server on the network can sign a token naming itself, and its own keys would verify it. The
//! trusted issuer is `--issuer`, else `ISSUER` (environment or `.env`), else the issuer the
//! server's configuration gives (`issuer`, `PORTCULLIS_ISSUER`, or its default from `listen`).

use crate::Usage;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_client::ClientError;
use portcullis_core::jws::CompactJws;
use portcullis_core::{Clock, SystemClock, UnixTime};
use serde_json::{Map, Value, json};
use std::io::Read;

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

fn header(token: &str) -> Option<Map<String, Value>> {
    serde_json::from_slice(&B64.decode(token.split('.').next()?).ok()?).ok()
}

/// Runs `portcullis decode`; succeeds only when the token's signature verifies against a trusted
/// issuer's keys and it has not expired.
pub async fn run(
    token: &str,
    issuer: Option<String>,
    configured: Option<String>,
) -> anyhow::Result<()> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        token.to_owned()
    };
    let token = token.trim();
    let (Some(h), Some(c)) = (header(token), claims(token)) else {
        return Err(crate::Usage::new(
            "not a JWT: expected three base64url parts separated by dots",
        )
        .into());
    };
    outln!(
        "{}",
        serde_json::to_string_pretty(&json!({ "header": h, "claims": c }))?
    );
    let now = SystemClock.now().0;
    let expired = match c.get("exp").and_then(Value::as_i64) {
        Some(exp) => {
            let when = UnixTime(exp).rfc3339();
            if now >= exp {
                eprintln!("expires:   {when} (expired)");
                true
            } else {
                eprintln!("expires:   {when} (in {} s)", exp - now);
                false
            }
        }
        None => {
            eprintln!("expires:   never (no exp claim)");
            false
        }
    };
    let named = c.get("iss").and_then(Value::as_str).unwrap_or_default();
    let trusted = issuer
        .or_else(|| super::token::env("ISSUER"))
        .or(configured);
    let Some(trusted) = trusted else {
        anyhow::bail!(
            "signature: not checked (no trusted issuer: pass --issuer or set ISSUER; the token names {named})"
        );
    };
    portcullis_core::issuer::valid_issuer(&trusted)
        .map_err(|why| Usage::new(format!("the trusted issuer must be an issuer URL: {why}")))?;
    match portcullis_core::issuer::check_issuer(&trusted, Some(named)) {
        Ok(()) => {}
        Err(portcullis_core::issuer::IssuerMismatch::TrailingSlash { .. }) => anyhow::bail!(
            "signature: not checked (issuer not trusted: the token names {named}, the trusted issuer is {trusted}; they differ only in the trailing '/', so give the issuer exactly as the token names it)"
        ),
        Err(_) => anyhow::bail!(
            "signature: not checked (issuer not trusted: the token names {named:?}, the trusted issuer is {trusted})"
        ),
    }
    // The same discovery, and so the same exit codes, as `token` and `login`.
    let http = portcullis_client::http_client(std::time::Duration::from_secs(30))?;
    let doc = portcullis_client::discovery::metadata(&http, &trusted).await?;
    let jwks_uri = doc["jwks_uri"]
        .as_str()
        .ok_or_else(|| ClientError::WrongIssuer(format!("{trusted} publishes no jwks_uri")))?;
    let unreachable = |e: reqwest::Error| ClientError::Network {
        url: jwks_uri.to_owned(),
        reason: portcullis_client::describe_error(&e),
    };
    let set: portcullis_core::JwkSet = http
        .get(jwks_uri)
        .send()
        .await
        .map_err(unreachable)?
        .json()
        .await
        .map_err(|_| ClientError::Unexpected {
            url: jwks_uri.to_owned(),
            status: 200,
            what: "not a JSON Web Key Set".into(),
            body: String::new(),
        })?;
    let kid = h.get("kid").and_then(Value::as_str);
    let alg = h.get("alg").and_then(Value::as_str).unwrap_or_default();
    let shown_kid = kid.unwrap_or("none");
    // `none` and HS* are not JwsAlgorithms: such a token never verifies here.
    let Ok(parsed_alg) = alg.parse::<portcullis_core::JwsAlgorithm>() else {
        anyhow::bail!(
            "signature: NOT valid: alg {alg:?} is not accepted (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA)"
        );
    };
    let keys = portcullis_core::verifying_key::keys_of(&set);
    let valid = CompactJws::parse(token).is_ok_and(|jws| {
        portcullis_core::verifying_key::verifies(
            &keys,
            kid,
            parsed_alg,
            jws.signing_input,
            &jws.signature,
        )
    });
    if !valid {
        anyhow::bail!(
            "signature: NOT valid against the keys at {jwks_uri} (kid {shown_kid}, alg {alg})"
        );
    }
    eprintln!("signature: valid ({alg}, kid {shown_kid}, keys of {trusted})");
    if expired {
        anyhow::bail!("the token has expired");
    }
    Ok(())
}
