//! What a validated access token says.

use portcullis_core::Scope;
use serde_json::{Map, Value};

/// A validated access token: its standard claims and all the others.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccessToken {
    /// `sub`: the user, or the client for client_credentials tokens. Unique only within its
    /// issuer: with several trusted issuers, key users by (`issuer`, `subject`).
    pub subject: String,
    /// `iss`: the issuer that signed it.
    pub issuer: Option<String>,
    /// `client_id` (RFC 9068), or else `azp` (the authorized party of OpenID Connect, which
    /// Keycloak, Auth0 and Entra v2 put in their access tokens).
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
    /// # let claims = serde_json::json!({"sub": "s", "exp": 0, "scope": "read write"});
    /// # let token = AccessToken::from_claims(claims.as_object().unwrap().clone()).unwrap();
    /// assert!(token.has_scope("read"));
    /// assert!(!token.has_scope("admin"));
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }

    /// `scope` (RFC 9068 §2.2.3: a space-separated string; some providers send an array) and
    /// `scp` (Microsoft Entra, Okta: a string or an array) both count; a token with neither has no
    /// scope. A claim of another shape makes the token unreadable.
    ///
    /// This reads claims that were already checked; it checks nothing itself (tests of handlers
    /// use it to make a token). `None` when `sub` or `exp` is missing or a scope claim is
    /// malformed.
    pub fn from_claims(claims: Map<String, Value>) -> Option<AccessToken> {
        let mut names: Vec<&str> = Vec::new();
        for claim in ["scope", "scp"] {
            match claims.get(claim) {
                None => {}
                Some(Value::String(s)) => names.extend(s.split(' ').filter(|n| !n.is_empty())),
                Some(Value::Array(list)) => {
                    for item in list {
                        // Each element is one scope token: a space would be two.
                        names.push(item.as_str().filter(|n| !n.contains(' '))?);
                    }
                }
                Some(_) => return None,
            }
        }
        let scope = if names.is_empty() {
            Scope::default()
        } else {
            Scope::parse(&names.join(" ")).ok()?
        };
        Some(AccessToken {
            subject: claims.get("sub")?.as_str()?.to_owned(),
            issuer: claims.get("iss").and_then(Value::as_str).map(str::to_owned),
            client_id: claims
                .get("client_id")
                .or_else(|| claims.get("azp"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            scope,
            expires_at: claims.get("exp")?.as_i64()?,
            claims,
        })
    }
}
