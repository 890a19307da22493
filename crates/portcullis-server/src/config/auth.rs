//! `[client_auth]` and `[dpop]`: how clients prove who they are, and how hard they may try.

use super::durations::{self, Seconds, number_or_string};
use serde::Deserialize;

/// `[dpop]`: sender-constrained tokens (RFC 9449).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopConfig {
    /// Every DPoP proof at our endpoints must carry a nonce we gave out (RFC 9449 §8), so a proof
    /// made in advance, or taken from a device and used later, is refused.
    #[serde(default = "yes", deserialize_with = "durations::bool_or_string")]
    pub require_nonce: bool,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            require_nonce: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// `[client_auth]`: throttling of failed client authentication at the token, introspection and
/// revocation endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    /// Failures allowed for one client_id from one address within the window; then that client
    /// gets 429 from that address (never a lock for the client_id alone, which would let anyone
    /// lock a client out everywhere).
    #[serde(
        default = "default_failures_per_client",
        deserialize_with = "number_or_string"
    )]
    pub max_failures_per_client: u64,
    /// Failures allowed from one address within the window, whatever the client_id; attempts
    /// refused while it is locked count too.
    #[serde(
        default = "default_failures_per_ip",
        deserialize_with = "number_or_string"
    )]
    pub max_failures_per_ip: u64,
    /// The window.
    #[serde(default = "default_client_failure_window")]
    pub failure_window: Seconds,
}

impl Default for ClientAuthConfig {
    fn default() -> Self {
        ClientAuthConfig {
            max_failures_per_client: default_failures_per_client(),
            max_failures_per_ip: default_failures_per_ip(),
            failure_window: default_client_failure_window(),
        }
    }
}

fn default_failures_per_client() -> u64 {
    20
}
fn default_failures_per_ip() -> u64 {
    50
}
fn default_client_failure_window() -> Seconds {
    Seconds(60)
}
