//! `portcullis decode TOKEN`: header and claims, and whether the signature verifies against the
//! issuer's published keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value, json};

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

fn header(token: &str) -> Option<Map<String, Value>> {
    serde_json::from_slice(&B64.decode(token.split('.').next()?).ok()?).ok()
}

/// Runs `portcullis decode`; fails when the signature does not verify.
pub async fn run(token: &str, issuer: Option<String>) -> anyhow::Result<()> {
    let token = token.trim();
    let (Some(h), Some(c)) = (header(token), claims(token)) else {
        anyhow::bail!("not a JWT: expected three base64url parts separated by dots");
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "header": h, "claims": c }))?
    );
    let issuer = issuer
        .or_else(|| c.get("iss").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("the token names no issuer; pass --issuer"))?;
    let http = reqwest::Client::new();
    let doc = portcullis_resource::jwks::discover(&http, issuer.trim_end_matches('/')).await?;
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("{issuer} publishes no jwks_uri"))?;
    let set: portcullis_core::JwkSet = http.get(jwks_uri).send().await?.json().await?;
    let kid = h.get("kid").and_then(Value::as_str).unwrap_or_default();
    let alg = h.get("alg").and_then(Value::as_str).unwrap_or_default();
    let key = set
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .and_then(portcullis_resource::jwks::VerifyingKey::from_jwk)
        .filter(|k| k.alg.as_str() == alg);
    let (signed, signature) = token.rsplit_once('.').unwrap_or_default();
    let valid = key.is_some_and(|k| {
        B64.decode(signature)
            .is_ok_and(|s| k.verify(signed.as_bytes(), &s))
    });
    if valid {
        eprintln!("signature: valid ({alg}, kid {kid}, keys from {jwks_uri})");
        Ok(())
    } else {
        anyhow::bail!("signature: NOT valid against the keys at {jwks_uri} (kid {kid}, alg {alg})")
    }
}
