//! Finding the token endpoint from an issuer: RFC 8414 metadata, then OpenID Connect Discovery; the
//! issuer in the document must match exactly.

use crate::error::ClientError;

/// The `token_endpoint` of `issuer`.
pub async fn token_endpoint(http: &reqwest::Client, issuer: &str) -> Result<String, ClientError> {
    let issuer = issuer.trim_end_matches('/');
    let mut problems = Vec::new();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let url = format!("{issuer}{path}");
        let doc: serde_json::Value = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(doc) => doc,
                Err(e) => {
                    problems.push(format!("{url}: {e}"));
                    continue;
                }
            },
            Ok(r) => {
                problems.push(format!("{url}: HTTP {}", r.status()));
                continue;
            }
            Err(e) => {
                problems.push(format!("{url}: {e}"));
                continue;
            }
        };
        if doc["issuer"].as_str() != Some(issuer) {
            problems.push(format!(
                "{url} names issuer {} instead of {issuer}",
                doc["issuer"]
            ));
            continue;
        }
        if let Some(endpoint) = doc["token_endpoint"].as_str() {
            return Ok(endpoint.to_owned());
        }
        problems.push(format!("{url} has no token_endpoint"));
    }
    Err(ClientError::Discovery(problems.join("; ")))
}
