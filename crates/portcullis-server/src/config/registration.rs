//! `[registration]`: dynamic client registration (RFC 7591, RFC 7592).

use super::durations::{self, Seconds, number_or_string};
use serde::Deserialize;

/// Who may register a client at `/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialAccessToken {
    /// Only with an initial access token from `portcullis registration-token create`.
    Required,
    /// Anyone (open registration), within the per-address limit.
    None,
}

/// `[registration]`: off unless enabled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Serve the registration endpoint.
    #[serde(default, deserialize_with = "durations::bool_or_string")]
    pub enabled: bool,
    /// Whether registering needs an initial access token.
    #[serde(default = "required")]
    pub initial_access_token: InitialAccessToken,
    /// The scopes a registered client may ask for; a registration asking for another is refused.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Registration requests from one address within `window` before it gets 429.
    #[serde(default = "default_per_address", deserialize_with = "number_or_string")]
    pub max_per_address: u64,
    /// The window of that limit.
    #[serde(default = "default_window")]
    pub window: Seconds,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            enabled: false,
            initial_access_token: required(),
            scope: default_scope(),
            max_per_address: default_per_address(),
            window: default_window(),
        }
    }
}

fn required() -> InitialAccessToken {
    InitialAccessToken::Required
}
fn default_scope() -> String {
    "openid profile email offline_access".into()
}
fn default_per_address() -> u64 {
    10
}
fn default_window() -> Seconds {
    Seconds(3600)
}
