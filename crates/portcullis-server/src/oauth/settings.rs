//! The settings the protocol steps read: what every access token needs, and the lifetimes of the
//! sign-in grants. Filled from the configuration at start-up.

use portcullis_core::Algorithm;

/// What every access token needs from the server's settings.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `iss` claim.
    pub issuer: String,
    /// Seconds from `iat` to `exp`.
    pub access_token_lifetime: u64,
    /// The algorithm used unless the client registered another.
    pub default_alg: Algorithm,
}

/// Settings of the sign-in grants.
#[derive(Debug, Clone)]
pub struct UserTokenSettings {
    /// Lifetime of authorization codes.
    pub code_lifetime: u64,
    /// ID token algorithm unless the client registered one.
    pub id_token_alg: Algorithm,
    /// ID token lifetime.
    pub id_token_lifetime: u64,
    /// Refresh token idle lifetime.
    pub refresh_idle: u64,
    /// Grant (refresh family) absolute lifetime.
    pub refresh_absolute: u64,
    /// Retry window for an already rotated refresh token; 0 turns it off.
    pub refresh_grace: u64,
}

/// Settings of the Device Authorization Grant (RFC 8628).
#[derive(Debug, Clone, Copy)]
pub struct DeviceSettings {
    /// Seconds the device code and user code work.
    pub code_lifetime: u64,
    /// Seconds a device waits between polls, before any `slow_down`.
    pub interval: u64,
}
