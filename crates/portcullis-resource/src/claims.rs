//! What a validated access token says.

use portcullis_core::Scope;
use serde_json::{Map, Value};

/// A validated access token: its standard claims and all the others.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// `sub`: the user, or the client for client_credentials tokens.
    pub subject: String,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `scope`, parsed.
    pub scope: Scope,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
}

impl AccessToken {
    /// Whether the token carries `scope`.
    ///
    /// ```
    /// # use portcullis_resource::AccessToken;
    /// # let token = AccessToken { subject: "s".into(), client_id: None, scope: portcullis_core::Scope::parse("read write").unwrap(), expires_at: 0, claims: Default::default() };
    /// assert!(token.has_scope("read"));
    /// assert!(!token.has_scope("admin"));
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }

    pub(crate) fn from_claims(claims: Map<String, Value>) -> Option<AccessToken> {
        let scope = match claims.get("scope") {
            Some(Value::String(s)) => Scope::parse(s).ok()?,
            None => Scope::default(),
            Some(_) => return None,
        };
        Some(AccessToken {
            subject: claims.get("sub")?.as_str()?.to_owned(),
            client_id: claims
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            scope,
            expires_at: claims.get("exp")?.as_i64()?,
            claims,
        })
    }
}
