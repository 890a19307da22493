//! `[device]`: the Device Authorization Grant (RFC 8628).

use super::durations::{Seconds, number_or_string};
use serde::Deserialize;

/// `[device]`: how long a device's codes live, how often it may poll, how many wrong user codes
/// one address may type, and how many device authorizations one address may start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// How long the device code and user code work (`expires_in`).
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime: Seconds,
    /// The least time between polls (`interval`); `slow_down` adds 5 seconds.
    #[serde(default = "default_interval")]
    pub interval: Seconds,
    /// Wrong user codes typed at `/device` from one address within `[sign_in] failure_window`
    /// before that address is refused for a while.
    #[serde(
        default = "default_failed_codes",
        deserialize_with = "number_or_string"
    )]
    pub max_failed_codes_per_address: u64,
    /// Device authorizations (`POST /device_authorization`) one address may start within
    /// `[sign_in] failure_window`, whatever the client: each stores a row for the codes' lifetime.
    #[serde(
        default = "default_requests_per_address",
        deserialize_with = "number_or_string"
    )]
    pub max_requests_per_address: u64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            code_lifetime: default_code_lifetime(),
            interval: default_interval(),
            max_failed_codes_per_address: default_failed_codes(),
            max_requests_per_address: default_requests_per_address(),
        }
    }
}

fn default_code_lifetime() -> Seconds {
    Seconds(600)
}
fn default_interval() -> Seconds {
    Seconds(5)
}
fn default_failed_codes() -> u64 {
    20
}
fn default_requests_per_address() -> u64 {
    100
}
