//! `[[users]]` and `[[clients]]`: the people and applications declared in the file, and the
//! secrets written there (literally or as `env:NAME`).

use super::{Config, ConfigError};
use crate::client::ClientMetadata;
use portcullis_core::{Algorithm, ApplicationType, GrantType, Secret, TokenEndpointAuthMethod};
use serde::Deserialize;

/// One `[[users]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredUser {
    /// The sign-in name.
    pub username: String,
    /// The password, as `env:VARIABLE` (a literal is accepted for development).
    #[serde(default)]
    pub password: Option<ConfigSecret>,
    /// An Argon2id PHC string instead of a password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// OIDC `email`.
    #[serde(default)]
    pub email: Option<String>,
    /// OIDC `email_verified`.
    #[serde(default)]
    pub email_verified: bool,
    /// OIDC `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// OIDC `given_name`.
    #[serde(default)]
    pub given_name: Option<String>,
    /// OIDC `family_name`.
    #[serde(default)]
    pub family_name: Option<String>,
}

impl DeclaredUser {
    /// The password, read from the environment when written as `env:NAME`.
    pub fn password(&self) -> Result<Option<Secret>, String> {
        resolve_env_secret(self.password.as_ref().map(ConfigSecret::expose))
    }
}

fn resolve_env_secret(raw: Option<&str>) -> Result<Option<Secret>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match raw.strip_prefix("env:") {
        Some(name) => match std::env::var(name) {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(_) => Err(format!("environment variable {name} is not set")),
        },
        None => Ok(Some(Secret::new(raw))),
    }
}

/// A secret written in the configuration (a client secret, a password, the master key): `Debug`
/// prints `[redacted]`, so a printed `Config` never shows one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ConfigSecret(String);

impl ConfigSecret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        ConfigSecret(value.into())
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConfigSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One `[[clients]]` table: RFC 7591 metadata plus the secret, written literally or as `env:VARIABLE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClient {
    /// The client identifier.
    pub client_id: portcullis_core::ClientId,
    /// The secret, or `env:NAME` to read it from the environment; absent for public clients.
    #[serde(default)]
    pub client_secret: Option<ConfigSecret>,
    /// A name to show people.
    #[serde(default)]
    pub client_name: Option<String>,
    /// Grants the client may use.
    #[serde(default)]
    pub grant_types: Option<Vec<GrantType>>,
    /// Registered redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Registered response types.
    #[serde(default)]
    pub response_types: Vec<String>,
    /// Scopes the client may ask for, space-separated.
    #[serde(default)]
    pub scope: String,
    /// Scopes granted when a request names none; defaults to `scope`.
    #[serde(default)]
    pub default_scope: Option<String>,
    /// Audiences the client may ask for.
    #[serde(default)]
    pub audience: Vec<String>,
    /// How the client authenticates at the token endpoint; absent accepts basic or post.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// Algorithm for this client's access tokens.
    #[serde(default)]
    pub access_token_signed_response_alg: Option<Algorithm>,
    /// Algorithm for this client's ID tokens.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<Algorithm>,
    /// `false` lets a confidential client skip PKCE (legacy apps only).
    #[serde(default)]
    pub require_pkce: Option<bool>,
    /// Skip the consent page for this client.
    #[serde(default)]
    pub first_party: bool,
    /// Where RP-initiated logout may redirect.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Refresh tokens for `openid` requests without `offline_access`.
    #[serde(default)]
    pub refresh_token_without_offline_access: bool,
    /// `web` or `native`; unset: native for public clients, web for confidential ones.
    #[serde(default)]
    pub application_type: Option<ApplicationType>,
    /// The public keys of a `private_key_jwt` client: a JSON string holding the JWK Set.
    #[serde(default, deserialize_with = "crate::client::jwks_text_or_object")]
    pub jwks: Option<portcullis_core::JwkSet>,
    /// Where a `private_key_jwt` client publishes its public keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Authorization requests from this client must be pushed first (RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Every token of this client must be bound to a DPoP key (RFC 9449).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

impl DeclaredClient {
    /// The metadata part, as the client registry stores it.
    pub fn metadata(&self) -> ClientMetadata {
        let defaults = ClientMetadata::default();
        ClientMetadata {
            client_name: self.client_name.clone(),
            grant_types: self.grant_types.clone().unwrap_or(defaults.grant_types),
            redirect_uris: self.redirect_uris.clone(),
            response_types: self.response_types.clone(),
            scope: self.scope.clone(),
            default_scope: self.default_scope.clone(),
            audience: self.audience.clone(),
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            access_token_signed_response_alg: self.access_token_signed_response_alg,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            require_pkce: self.require_pkce.unwrap_or(true),
            first_party: self.first_party,
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            refresh_token_without_offline_access: self.refresh_token_without_offline_access,
            application_type: self.application_type,
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
        }
    }

    /// The secret, read from the environment when written as `env:NAME`.
    pub fn secret(&self) -> Result<Option<Secret>, String> {
        resolve_env_secret(self.client_secret.as_ref().map(ConfigSecret::expose))
    }
}

impl Config {
    /// The key vault the master key settings describe (a pass-through one without a master key).
    pub fn key_vault(&self) -> Result<crate::keys::KeyVault, ConfigError> {
        let material = match (&self.master_key, &self.master_key_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "set master_key or master_key_file, not both".into(),
                ));
            }
            (Some(key), None) => Secret::new(key.expose()),
            (None, Some(path)) => {
                let key = crate::keys::KeyVault::read_master_key_file(path).map_err(|e| {
                    ConfigError(format!("key 'master_key_file' ({}): {e}", path.display()))
                })?;
                return crate::keys::KeyVault::from_master_key(&key).map_err(|e| {
                    ConfigError(format!("key 'master_key_file' ({}): {e}", path.display()))
                });
            }
            (None, None) => return Ok(crate::keys::KeyVault::none()),
        };
        crate::keys::KeyVault::from_master_key(&material)
            .map_err(|e| ConfigError(format!("key 'master_key': {e}")))
    }
}
