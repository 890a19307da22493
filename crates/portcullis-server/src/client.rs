//! A registered client: its RFC 7591 metadata, the rules that make metadata valid, and the parsed form
//! the token endpoint reads from memory.

use crate::store::ClientRow;
use portcullis_core::{
    Algorithm, ApplicationType, ClientId, GrantType, JwkSet, Scope, TokenEndpointAuthMethod,
    VerifyingKey,
};
use serde::{Deserialize, Serialize};

/// Client metadata, named as RFC 7591 §2 names it, plus `audience` (the audiences the client may ask
/// for, as Hydra names it), `default_scope` and `access_token_signed_response_alg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// A name to show people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Grants the client may use.
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs, compared as exact strings.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Response types for the authorization endpoint.
    #[serde(default)]
    pub response_types: Vec<String>,
    /// Every scope the client may be granted, space-separated.
    #[serde(default)]
    pub scope: String,
    /// The scope granted when a request names none; all of `scope` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scope: Option<String>,
    /// Audiences (resource indicators) the client may request.
    #[serde(default)]
    pub audience: Vec<String>,
    /// The one authentication method the client must use; unset accepts `client_secret_basic` and
    /// `client_secret_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// Algorithm for this client's access tokens; the server default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_signed_response_alg: Option<Algorithm>,
    /// Algorithm for ID tokens (OIDC Registration); default `tokens.id_token_signing_alg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<Algorithm>,
    /// PKCE is required unless this is `false`, which only a confidential client may set.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub require_pkce: bool,
    /// A client of the same organisation as the users: consent is not asked.
    #[serde(default, skip_serializing_if = "is_false")]
    pub first_party: bool,
    /// Where RP-initiated logout may send the browser afterwards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Issue refresh tokens for `openid` requests even without `offline_access`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub refresh_token_without_offline_access: bool,
    /// `web` or `native` (OpenID Connect Registration); unset means `native` for a public client
    /// and `web` for a confidential one. Only a native client's loopback redirect URIs match on
    /// any port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<ApplicationType>,
    /// The client's public keys, for `private_key_jwt` (RFC 7591 §2). Written in configuration
    /// as a JSON string holding the JWK Set, or as a table.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "jwks_text_or_object"
    )]
    pub jwks: Option<JwkSet>,
    /// Where the client publishes its public keys, for `private_key_jwt` (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Authorization requests must come through the pushed authorization request endpoint
    /// (RFC 9126 §6).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_pushed_authorization_requests: bool,
    /// Every token request must carry a DPoP proof, so every access token is bound to a key
    /// (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dpop_bound_access_tokens: bool,
}

/// `jwks` as RFC 7591 writes it (a JSON object) or as a string holding that JSON, which is how it
/// fits on one line of a TOML file or an environment variable.
pub(crate) fn jwks_text_or_object<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<JwkSet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Text(String),
        Set(serde_json::Value),
    }
    let value = match Option::<Given>::deserialize(d)? {
        None => return Ok(None),
        Some(Given::Set(value)) => value,
        Some(Given::Text(text)) => serde_json::from_str(&text)
            .map_err(|e| serde::de::Error::custom(format!("jwks is not JSON: {e}")))?,
    };
    public_jwk_set(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Reads a JWK Set of public keys, refusing one that holds a private or symmetric key: a client
/// that pasted its private key here has given it away, and should be told.
pub fn public_jwk_set(value: serde_json::Value) -> Result<JwkSet, String> {
    const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    let keys = value
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or("jwks is not a JWK Set (an object with a \"keys\" array)")?;
    for key in keys {
        if PRIVATE.iter().any(|m| key.get(m).is_some()) || key.get("kty") == Some(&"oct".into()) {
            return Err(
                "jwks holds a private or symmetric key: register only the public keys \
                 (portcullis client jwks --private-key FILE prints them)"
                    .into(),
            );
        }
    }
    serde_json::from_value(value).map_err(|e| format!("jwks is not a JWK Set: {e}"))
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}

fn default_grant_types() -> Vec<GrantType> {
    vec![GrantType::ClientCredentials]
}

impl Default for ClientMetadata {
    fn default() -> Self {
        ClientMetadata {
            client_name: None,
            grant_types: default_grant_types(),
            redirect_uris: Vec::new(),
            response_types: Vec::new(),
            scope: String::new(),
            default_scope: None,
            audience: Vec::new(),
            token_endpoint_auth_method: None,
            access_token_signed_response_alg: None,
            id_token_signed_response_alg: None,
            require_pkce: true,
            first_party: false,
            post_logout_redirect_uris: Vec::new(),
            refresh_token_without_offline_access: false,
            application_type: None,
            jwks: None,
            jwks_uri: None,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
        }
    }
}

impl ClientMetadata {
    /// Every field, the unset ones included (with what is in force, or `null` where the server's
    /// default applies), for `portcullis client show`.
    pub fn described(&self) -> serde_json::Value {
        serde_json::json!({
            "client_name": self.client_name,
            "grant_types": self.grant_types,
            "redirect_uris": self.redirect_uris,
            "response_types": self.response_types,
            "scope": self.scope,
            "default_scope": self.default_scope.as_deref().unwrap_or(&self.scope),
            "audience": self.audience,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "access_token_signed_response_alg": self.access_token_signed_response_alg,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "require_pkce": self.require_pkce,
            "first_party": self.first_party,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "refresh_token_without_offline_access": self.refresh_token_without_offline_access,
            "application_type": self.application_type().as_str(),
            "jwks": self.jwks,
            "jwks_uri": self.jwks_uri,
            "require_pushed_authorization_requests": self.require_pushed_authorization_requests,
            "dpop_bound_access_tokens": self.dpop_bound_access_tokens,
        })
    }
}

/// Metadata that breaks a rule; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMetadata(pub String);

impl ClientMetadata {
    /// Whether the client has no secret.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::None)
    }

    /// Whether the client authenticates with a secret: not when it is public or signs JWTs with
    /// its private key.
    pub fn has_secret(&self) -> bool {
        !matches!(
            self.token_endpoint_auth_method,
            Some(TokenEndpointAuthMethod::None | TokenEndpointAuthMethod::PrivateKeyJwt)
        )
    }

    /// The application type in force: the registered one, else `native` for a public client and
    /// `web` for a confidential one.
    pub fn application_type(&self) -> ApplicationType {
        self.application_type.unwrap_or(if self.is_public() {
            ApplicationType::Native
        } else {
            ApplicationType::Web
        })
    }

    /// Checks every rule; on success the scopes are known to parse.
    pub fn validate(&self) -> Result<(), InvalidMetadata> {
        let bad = |m: &str| Err(InvalidMetadata(m.to_owned()));
        if self.grant_types.is_empty() {
            return bad("grant_types must name at least one grant");
        }
        if self.is_public() && self.grant_types.contains(&GrantType::TokenExchange) {
            return bad(
                "a public client (token_endpoint_auth_method = none) cannot exchange tokens",
            );
        }
        if self.is_public() && self.grant_types.contains(&GrantType::ClientCredentials) {
            return bad(
                "a public client (token_endpoint_auth_method = none) cannot use client_credentials",
            );
        }
        if self
            .client_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > 200)
        {
            return bad("client_name is longer than 200 characters");
        }
        // Shown on pages and printed by the CLI: no control characters (terminal escapes) and no
        // bidirectional overrides (text that reads other than it is).
        if self.client_name.as_ref().is_some_and(|n| {
            n.chars().any(|c| {
                c.is_control()
                    || ('\u{202a}'..='\u{202e}').contains(&c)
                    || ('\u{2066}'..='\u{2069}').contains(&c)
            })
        }) {
            return bad("client_name contains control or bidirectional formatting characters");
        }
        let scope =
            Scope::parse(&self.scope).map_err(|e| InvalidMetadata(format!("scope: {e}")))?;
        if let Some(default) = &self.default_scope {
            let default = Scope::parse(default)
                .map_err(|e| InvalidMetadata(format!("default_scope: {e}")))?;
            if !default.is_subset_of(&scope) {
                return bad("default_scope must be a subset of scope");
            }
        }
        for aud in &self.audience {
            if aud.is_empty() || aud.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return bad("audience values must be non-empty and contain no spaces");
            }
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            // `scheme://…`, or a native app's private-use scheme named after a domain, which RFC
            // 8252 §7.1 writes with one slash (`com.example.app:/callback`).
            let private_use = uri
                .split_once(":/")
                .is_some_and(|(scheme, _)| scheme.contains('.') && !scheme.contains('/'));
            if uri.contains('#')
                || !(uri.contains("://") || private_use)
                || uri.chars().any(char::is_whitespace)
            {
                return bad("redirect URIs must be absolute URIs without a fragment");
            }
            // Schemes a browser runs or reads locally: a form_post page would post to them from
            // our origin, and a redirect to them does nothing an app needs.
            let scheme = uri
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if matches!(
                scheme.as_str(),
                "javascript" | "data" | "vbscript" | "file" | "blob"
            ) {
                return bad(
                    "redirect URIs cannot use the javascript, data, vbscript, file or blob scheme",
                );
            }
        }
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty()
        {
            return bad("a client using authorization_code needs at least one redirect_uri");
        }
        if self.is_public() && !self.require_pkce {
            return bad("a public client must use PKCE (require_pkce cannot be false)");
        }
        self.validate_keys()
    }

    /// `jwks` and `jwks_uri`: exactly one of them for `private_key_jwt`, neither otherwise.
    fn validate_keys(&self) -> Result<(), InvalidMetadata> {
        let bad = |m: &str| Err(InvalidMetadata(m.to_owned()));
        let signs = self.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::PrivateKeyJwt);
        match (&self.jwks, &self.jwks_uri) {
            (Some(_), Some(_)) => bad("give jwks or jwks_uri, not both (RFC 7591 §2)"),
            (None, None) if signs => {
                bad("a client using private_key_jwt needs its public keys: jwks or jwks_uri")
            }
            (Some(_), None) | (None, Some(_)) if !signs => bad(
                "jwks and jwks_uri are used only with token_endpoint_auth_method = private_key_jwt",
            ),
            (Some(set), None) => {
                let usable = portcullis_core::verifying_key::keys_of(set)
                    .iter()
                    .any(|k| {
                        portcullis_core::client_assertion::ALGORITHMS
                            .iter()
                            .any(|alg| k.admits(*alg))
                    });
                if !usable {
                    return bad(
                        "jwks holds no key for RS256, PS256, ES256 or EdDSA (RSA of 2048 bits or more, P-256 or Ed25519)",
                    );
                }
                if set.keys.iter().any(|k| k.kid.is_empty()) && set.keys.len() > 1 {
                    return bad("when jwks holds several keys, each needs a kid");
                }
                Ok(())
            }
            (None, Some(uri)) => check_jwks_uri(uri),
            (None, None) => Ok(()),
        }
    }
}

/// A `jwks_uri` must be `https`, or `http` on a loopback address for development, so that the
/// keys that authenticate a client cannot be swapped on the way.
fn check_jwks_uri(uri: &str) -> Result<(), InvalidMetadata> {
    let rest = uri.strip_prefix("https://").or_else(|| {
        let rest = uri.strip_prefix("http://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().map_or("", |h| h),
            None => authority.split(':').next().unwrap_or_default(),
        };
        matches!(host, "127.0.0.1" | "::1" | "localhost").then_some(rest)
    });
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !uri.contains('#')
                && !uri.contains('@')
                && !uri.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(InvalidMetadata(
            "jwks_uri must be an https URL (http only on 127.0.0.1, [::1] or localhost), without a fragment or user info".into(),
        )),
    }
}

/// A client as the token endpoint needs it: parsed once when the registry loads.
#[derive(Debug, Clone)]
pub struct Client {
    /// The identifier.
    pub id: ClientId,
    /// Its metadata.
    pub metadata: ClientMetadata,
    /// The keyed hash of its secret, if it has one.
    pub secret_hash: Option<Vec<u8>>,
    /// Every scope it may be granted.
    pub scope: Scope,
    /// What it gets when it asks for no scope.
    pub default_scope: Scope,
    /// The keys of its `jwks`, parsed once (a `jwks_uri` is fetched when needed).
    pub keys: Vec<VerifyingKey>,
    /// It registered itself (RFC 7591): nobody vouched for its redirect URIs, so the server does
    /// not send a browser to them without a user's say.
    pub self_registered: bool,
    /// When it was created (Unix seconds): its tokens are no older ([`crate::oauth::bearer`]).
    pub created_at: i64,
}

impl Client {
    /// Parses a stored row.
    pub fn from_row(row: &ClientRow) -> Result<Self, InvalidMetadata> {
        let id = ClientId::parse(&row.client_id).map_err(|e| InvalidMetadata(e.to_string()))?;
        let metadata: ClientMetadata = serde_json::from_str(&row.metadata)
            .map_err(|e| InvalidMetadata(format!("stored metadata: {e}")))?;
        metadata.validate()?;
        let scope = Scope::parse(&metadata.scope).map_err(|e| InvalidMetadata(e.to_string()))?;
        let default_scope = match &metadata.default_scope {
            Some(d) => Scope::parse(d).map_err(|e| InvalidMetadata(e.to_string()))?,
            None => scope.clone(),
        };
        let keys = metadata
            .jwks
            .as_ref()
            .map(portcullis_core::verifying_key::keys_of)
            .unwrap_or_default();
        Ok(Client {
            self_registered: row.registration_token_hash.is_some(),
            created_at: row.created_at,
            id,
            metadata,
            secret_hash: row.secret_hash.clone(),
            scope,
            default_scope,
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_names_every_field() {
        let full = ClientMetadata {
            client_name: Some("n".into()),
            default_scope: Some(String::new()),
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::ClientSecretPost),
            access_token_signed_response_alg: Some(Algorithm::ES256),
            id_token_signed_response_alg: Some(Algorithm::RS256),
            require_pkce: false,
            first_party: true,
            post_logout_redirect_uris: vec!["https://a.example/bye".into()],
            refresh_token_without_offline_access: true,
            application_type: Some(ApplicationType::Native),
            jwks_uri: Some("https://a.example/jwks".into()),
            require_pushed_authorization_requests: true,
            dpop_bound_access_tokens: true,
            ..ClientMetadata::default()
        };
        let stored = serde_json::to_value(&full).unwrap();
        let shown = ClientMetadata::default().described();
        for key in stored.as_object().unwrap().keys() {
            assert!(shown.get(key).is_some(), "client show leaves out {key}");
        }
    }
}
