//! The RFC 7591 metadata of `client create` and `client update` as flags, and how they change a
//! client's metadata.

use clap::Args;
use portcullis_core::{Algorithm, ApplicationType, GrantType, TokenEndpointAuthMethod};
use portcullis_server::client::ClientMetadata;
use serde_json::json;

/// RFC 7591 metadata as flags.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// client_name: a name to show people.
    #[arg(long)]
    name: Option<String>,
    /// grant_types (repeatable; default client_credentials).
    #[arg(long = "grant-type", value_parser = parse_grant_type)]
    pub(super) grant_types: Vec<GrantType>,
    /// redirect_uris (repeatable; `--redirect-uri ''` clears them).
    #[arg(long = "redirect-uri")]
    pub(super) redirect_uris: Vec<String>,
    /// Remove every redirect URI (with `update`).
    #[arg(long)]
    clear_redirect_uris: bool,
    /// response_types (repeatable; `--response-type ''` clears them).
    #[arg(long = "response-type")]
    response_types: Vec<String>,
    /// Remove every response type (with `update`).
    #[arg(long)]
    clear_response_types: bool,
    /// scope: the scopes the client may ask for, space-separated.
    #[arg(long)]
    scope: Option<String>,
    /// Scopes granted when a request names none (default: all of --scope).
    #[arg(long)]
    default_scope: Option<String>,
    /// audience: an audience the client may ask for (repeatable; `--audience ''` clears them).
    #[arg(long = "audience")]
    audience: Vec<String>,
    /// Remove every audience (with `update`).
    #[arg(long)]
    clear_audience: bool,
    /// token_endpoint_auth_method: client_secret_basic, client_secret_post, private_key_jwt or
    /// none (default: either of the first two).
    #[arg(long, value_parser = parse_auth_method)]
    pub(super) auth_method: Option<TokenEndpointAuthMethod>,
    /// jwks_uri: where a private_key_jwt client publishes its public keys (https).
    #[arg(long, value_name = "URL", conflicts_with = "jwks_file")]
    jwks_uri: Option<String>,
    /// jwks: a file holding the JWK Set of a private_key_jwt client's public keys
    /// (`portcullis client jwks --private-key FILE` writes one).
    #[arg(long, value_name = "FILE")]
    jwks_file: Option<std::path::PathBuf>,
    /// Authorization requests must be pushed first (RFC 9126): --require-par true.
    #[arg(long)]
    require_par: Option<bool>,
    /// Every token must be bound to a DPoP key (RFC 9449): --dpop-bound-access-tokens true.
    #[arg(long)]
    dpop_bound_access_tokens: Option<bool>,
    /// Signing algorithm for this client's access tokens.
    #[arg(long)]
    alg: Option<Algorithm>,
    /// Signing algorithm for this client's ID tokens.
    #[arg(long)]
    id_token_alg: Option<Algorithm>,
    /// Let a confidential client skip PKCE (legacy apps only): --require-pkce false.
    #[arg(long)]
    require_pkce: Option<bool>,
    /// Skip the consent page for this client: --first-party true.
    #[arg(long)]
    first_party: Option<bool>,
    /// post_logout_redirect_uris (repeatable; `--post-logout-redirect-uri ''` clears them).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Remove every post-logout redirect URI (with `update`).
    #[arg(long)]
    clear_post_logout_redirect_uris: bool,
    /// Issue refresh tokens for openid requests without offline_access: --refresh-without-offline-access true.
    #[arg(long)]
    refresh_without_offline_access: Option<bool>,
    /// application_type: web or native (default: native for --auth-method none, else web). Only
    /// a native app's loopback redirect URIs match on any port.
    #[arg(long, value_parser = parse_application_type)]
    application_type: Option<ApplicationType>,
}

fn parse_grant_type(s: &str) -> Result<GrantType, String> {
    serde_json::from_value(json!(s)).map_err(|_| {
        format!(
            "unknown grant type '{s}' (client_credentials, authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange)"
        )
    })
}

fn parse_application_type(s: &str) -> Result<ApplicationType, String> {
    serde_json::from_value(json!(s))
        .map_err(|_| format!("unknown application type '{s}' (web, native)"))
}

fn parse_auth_method(s: &str) -> Result<TokenEndpointAuthMethod, String> {
    serde_json::from_value(json!(s)).map_err(|_| {
        format!(
            "unknown method '{s}' (client_secret_basic, client_secret_post, private_key_jwt, none)"
        )
    })
}

impl MetadataArgs {
    /// Reads the `--jwks-file`, so that a bad file is a usage error before anything is written.
    fn read_files(&mut self) -> anyhow::Result<Option<portcullis_core::JwkSet>> {
        let Some(path) = &self.jwks_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| crate::Usage {
            message: format!("cannot read {}: {e}", path.display()),
            hint: None,
        })?;
        let set = serde_json::from_str(&text)
            .map_err(|e| e.to_string())
            .and_then(portcullis_server::client::public_jwk_set)
            .map_err(|e| crate::Usage {
                message: format!("{}: {e}", path.display()),
                hint: Some("write one with: portcullis client jwks --private-key KEY.pem"),
            })?;
        Ok(Some(set))
    }

    pub(super) fn apply(mut self, mut m: ClientMetadata) -> anyhow::Result<ClientMetadata> {
        if let Some(set) = self.read_files()? {
            m.jwks = Some(set);
            m.jwks_uri = None;
        }
        if let Some(uri) = self.jwks_uri.take() {
            m.jwks_uri = Some(uri);
            m.jwks = None;
        }
        if let Some(v) = self.require_par {
            m.require_pushed_authorization_requests = v;
        }
        if let Some(v) = self.dpop_bound_access_tokens {
            m.dpop_bound_access_tokens = v;
        }
        Ok(self.apply_fields(m))
    }

    fn apply_fields(self, mut m: ClientMetadata) -> ClientMetadata {
        if self.name.is_some() {
            m.client_name = self.name;
        }
        if !self.grant_types.is_empty() {
            m.grant_types = self.grant_types;
        }
        replace_list(
            &mut m.redirect_uris,
            self.redirect_uris,
            self.clear_redirect_uris,
        );
        replace_list(
            &mut m.response_types,
            self.response_types,
            self.clear_response_types,
        );
        if let Some(scope) = self.scope {
            m.scope = scope;
        }
        if self.default_scope.is_some() {
            m.default_scope = self.default_scope;
        }
        replace_list(&mut m.audience, self.audience, self.clear_audience);
        if self.auth_method.is_some() {
            m.token_endpoint_auth_method = self.auth_method;
        }
        if self.alg.is_some() {
            m.access_token_signed_response_alg = self.alg;
        }
        if self.id_token_alg.is_some() {
            m.id_token_signed_response_alg = self.id_token_alg;
        }
        if let Some(v) = self.require_pkce {
            m.require_pkce = v;
        }
        if let Some(v) = self.first_party {
            m.first_party = v;
        }
        replace_list(
            &mut m.post_logout_redirect_uris,
            self.post_logout_redirect_uris,
            self.clear_post_logout_redirect_uris,
        );
        if let Some(v) = self.refresh_without_offline_access {
            m.refresh_token_without_offline_access = v;
        }
        if self.application_type.is_some() {
            m.application_type = self.application_type;
        }
        m
    }
}

/// A repeatable flag's values replace the list when any are given or `clear` is set. An empty
/// value stands for none, so that `--redirect-uri ''` empties the list as the `--clear-…` flag
/// does, and `--clear-… --redirect-uri X` leaves only X.
fn replace_list(list: &mut Vec<String>, given: Vec<String>, clear: bool) {
    if clear || !given.is_empty() {
        *list = given.into_iter().filter(|v| !v.is_empty()).collect();
    }
}
