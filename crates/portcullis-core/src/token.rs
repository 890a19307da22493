//! The token endpoint's success response (RFC 6749 §5.1) and the claims of a JWT access token
//! (RFC 9068 §2.2).

use serde::{Deserialize, Serialize};

/// A successful token response (RFC 6749 §5.1). `Debug` redacts the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer` (RFC 6750), or `DPoP` for a token bound to a key (RFC 9449 §5).
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// The granted scope; sent whenever it is not empty, so the client never has to guess
    /// (OAuth 2.1 §3.2.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A refresh token (RFC 6749 §6), when the grant allows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An OpenID Connect ID token, when `openid` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// What was issued, in a Token Exchange answer (RFC 8693 §2.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

/// Shows the shape of the response, never a token.
///
/// ```
/// use portcullis_core::TokenResponse;
/// let response = TokenResponse {
///     access_token: "eyJ.secret.sig".into(),
///     token_type: "Bearer".into(),
///     expires_in: 900,
///     scope: Some("api".into()),
///     refresh_token: Some("refresh-secret".into()),
///     id_token: None,
///     issued_token_type: None,
/// };
/// let shown = format!("{response:?}");
/// assert!(shown.contains("Bearer") && shown.contains("api"));
/// assert!(!shown.contains("secret"));
/// ```
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |present: bool| if present { "[redacted]" } else { "None" };
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &hidden(self.refresh_token.is_some()))
            .field("id_token", &hidden(self.id_token.is_some()))
            .finish()
    }
}

/// The `aud` claim: one audience serialises as a string, several as an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Builds the claim from a list, choosing the compact form for one value.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Audience::One(list.remove(0))
        } else {
            Audience::Many(list)
        }
    }

    /// Whether `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Audience::One(a) => s.serialize_str(a),
            Audience::Many(list) => list.serialize(s),
        }
    }
}

/// The claims of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer identifier.
    pub iss: String,
    /// The resource owner, or the client itself for client_credentials (RFC 9068 §2.2).
    pub sub: String,
    /// The resource servers the token is meant for.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// A unique identifier of this token.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The granted scope, space-separated (RFC 9068 §2.2.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The key the token is bound to (RFC 9449 §6.1): only requests with a DPoP proof signed by
    /// that key may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Who acts for the subject (RFC 8693 §4.1): the actor's `sub` (and `client_id`), with the
    /// actors before it nested inside as `act`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 7800 §3.1, RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the public key.
    pub jkt: String,
}
