//! Finding the token endpoint from an issuer: RFC 8414 metadata, then OpenID Connect Discovery; the
//! issuer in the document must be the one configured, exactly (`portcullis_core::issuer`).

use crate::error::ClientError;
use portcullis_core::issuer::{check_issuer, metadata_urls};

/// The metadata document of `issuer`, from the first place that has one naming `issuer` exactly.
pub async fn metadata(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<serde_json::Value, ClientError> {
    let mut problems = Vec::new();
    let mut answered = false;
    for url in metadata_urls(issuer) {
        let doc: serde_json::Value = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(doc) => doc,
                Err(_) => {
                    answered = true;
                    problems.push(format!("{url}: not a JSON metadata document"));
                    continue;
                }
            },
            Ok(r) => {
                answered = true;
                problems.push(format!("{url}: HTTP {}", r.status()));
                continue;
            }
            Err(e) => {
                problems.push(format!("{url}: {}", crate::error::describe_error(&e)));
                continue;
            }
        };
        match check_issuer(issuer, doc["issuer"].as_str()) {
            Ok(()) => return Ok(doc),
            Err(mismatch) => {
                answered = true;
                problems.push(format!("{url}: {mismatch}"));
            }
        }
    }
    if answered {
        // The server was reached but has no metadata for this issuer: the issuer is wrong.
        return Err(ClientError::WrongIssuer(problems.join("; ")));
    }
    Err(ClientError::Discovery(problems.join("; ")))
}

/// The `token_endpoint` of `issuer`.
pub async fn token_endpoint(http: &reqwest::Client, issuer: &str) -> Result<String, ClientError> {
    let doc = metadata(http, issuer).await?;
    doc["token_endpoint"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Discovery(format!("{issuer} publishes no token_endpoint")))
}
