//! A token response read the way real servers send it: `expires_in` as a number, a string or not at
//! all; `token_type` in any case or missing (then Bearer); extra fields kept.

use crate::error::ClientError;
use portcullis_core::Secret;
use portcullis_core::UnixTime;
use serde_json::{Map, Value};
use std::time::Duration;

/// A token from the token endpoint.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Token {
    /// The access token (never printed by `Debug`).
    pub access_token: Secret,
    /// `token_type`, normalised: `Bearer` when missing or in another case.
    pub token_type: String,
    /// When it was received.
    pub received_at: UnixTime,
    /// Its lifetime, when the server said.
    pub expires_in: Option<Duration>,
    /// The granted scope, when the server said.
    pub scope: Option<String>,
    /// A refresh token, if one came.
    pub refresh_token: Option<Secret>,
    /// An ID token, if one came.
    pub id_token: Option<String>,
    /// Every field of the response.
    pub raw: Map<String, Value>,
}

impl Token {
    /// When it expires, if known.
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.expires_in.map(|d| self.received_at.plus(d.as_secs()))
    }

    /// Parses a successful answer's JSON.
    pub fn from_json(
        raw: Map<String, Value>,
        received_at: UnixTime,
        url: &str,
        status: u16,
        body: &str,
    ) -> Result<Token, ClientError> {
        let unexpected = |what: &str| ClientError::Unexpected {
            url: url.to_owned(),
            status,
            what: what.to_owned(),
            body: body.chars().take(200).collect(),
        };
        let access_token = match raw.get("access_token") {
            Some(Value::String(t)) if !t.is_empty() => Secret::new(t.clone()),
            _ => return Err(unexpected("JSON without an access_token")),
        };
        let expires_in = match raw.get("expires_in") {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|s| *s >= 0.0)
                .map(Duration::from_secs_f64),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s >= 0.0)
                .map(Duration::from_secs_f64),
            _ => None,
        };
        let token_type = match raw.get("token_type").and_then(Value::as_str) {
            None => "Bearer".to_owned(),
            Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
            Some(t) => t.to_owned(),
        };
        let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Token {
            access_token,
            token_type,
            received_at,
            expires_in,
            scope: text("scope"),
            refresh_token: text("refresh_token").map(Secret::new),
            id_token: text("id_token"),
            raw,
        })
    }
}

/// Reads an answer of the token endpoint into a token or a typed error.
pub fn read_answer(
    url: &str,
    status: u16,
    content_type: &str,
    body: &str,
    received_at: UnixTime,
) -> Result<Token, ClientError> {
    let snippet: String = body.chars().take(200).collect();
    let unexpected = |what: &str| ClientError::Unexpected {
        url: url.to_owned(),
        status,
        what: what.to_owned(),
        body: snippet.clone(),
    };
    if body.trim().is_empty() {
        return Err(unexpected("an empty body instead of a token response"));
    }
    let parsed: Option<Map<String, Value>> = serde_json::from_str(body).ok();
    let Some(json) = parsed else {
        let looks_html = content_type.contains("html") || body.trim_start().starts_with('<');
        return Err(unexpected(if looks_html {
            "an HTML page instead of a token response (is the URL the token endpoint?)"
        } else {
            "a body that is not JSON"
        }));
    };
    // Some servers answer errors with 200 (GitHub): an `error` field is an error whatever the status.
    if let Some(error) = json.get("error").and_then(Value::as_str) {
        let text = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_owned);
        return Err(ClientError::OAuth {
            error: error.to_owned(),
            description: text("error_description"),
            uri: text("error_uri"),
            status,
            body: body.to_owned(),
        });
    }
    if !(200..300).contains(&status) {
        return Err(unexpected("an error status without an OAuth error body"));
    }
    Token::from_json(json, received_at, url, status, body)
}
