//! Server configuration: a TOML file, then `PORTCULLIS_*` environment variables on top, checked in one
//! pass so that start-up fails with a message naming the key (and the variable) that is wrong.
//!
//! Every key is documented in `docs/configuration.md`; keep the two in step.
//!
//! Here: the typed `Config` with its sections and defaults. `file.rs` reads the sources, `env.rs`
//! lays the variables over the file, `durations.rs` reads durations and numbers, `declared.rs` holds
//! `[[users]]` and `[[clients]]`, `types.rs` the issuer URL, origins and networks (parsed here, once),
//! and `validate.rs` the checks serde cannot make.

use portcullis_core::Algorithm;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

mod auth;
mod declared;
mod device;
mod durations;
mod env;
mod file;
mod registration;
#[cfg(test)]
mod tests;
mod types;
mod validate;

pub use auth::{ClientAuthConfig, DpopConfig};
pub use declared::{ConfigSecret, DeclaredClient, DeclaredUser};
pub use device::DeviceConfig;
pub use durations::Seconds;
use durations::{number_or_string, optional_number};
pub use env::ENV_PREFIX;
use env::list;
pub use registration::{InitialAccessToken, RegistrationConfig};
pub use types::{IpNet, IssuerUrl, Origin};
pub use validate::{check_issuer, redact_url};

/// The whole configuration of `portcullis serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier (RFC 8414 §2); `None` means `http://` + the bound address.
    #[serde(default)]
    pub issuer: Option<IssuerUrl>,
    /// The socket address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A second, plain-HTTP listener for `/metrics` and the health endpoints, for the monitoring
    /// network only. When set, the public listener answers 404 for `/metrics`.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where to send traces over OTLP/HTTP (JSON), e.g. `http://127.0.0.1:4318`; `/v1/traces` is
    /// added. Needs a `portcullis` built with the `otel` feature.
    #[serde(default)]
    pub otel_endpoint: Option<String>,
    /// The database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DATABASE`.
    #[serde(default = "default_database")]
    pub database: String,
    /// The database connection pool.
    #[serde(default)]
    pub database_pool: DatabasePoolConfig,
    /// Background clean-up of expired rows.
    #[serde(default)]
    pub cleanup: CleanupConfig,
    /// DPoP (RFC 9449).
    #[serde(default)]
    pub dpop: DpopConfig,
    /// The Device Authorization Grant (RFC 8628).
    #[serde(default)]
    pub device: DeviceConfig,
    /// Dynamic client registration (RFC 7591, RFC 7592).
    #[serde(default)]
    pub registration: RegistrationConfig,
    /// Throttling of failed client authentication.
    #[serde(default)]
    pub client_auth: ClientAuthConfig,
    /// Serve HTTPS instead of HTTP.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Cross-origin access for browser apps.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Proxies (addresses or ADDRESS/PREFIX networks) whose `X-Forwarded-For` is believed.
    #[serde(default, deserialize_with = "list")]
    pub trusted_proxies: Vec<IpNet>,
    /// The master key that encrypts private signing keys at rest (`PORTCULLIS_MASTER_KEY`); at
    /// least 32 characters. Prefer `master_key_file`.
    #[serde(default)]
    pub master_key: Option<ConfigSecret>,
    /// A file holding the master key (its first line).
    #[serde(default)]
    pub master_key_file: Option<std::path::PathBuf>,
    /// `text` (default) or `json` log lines on stderr.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Token settings.
    #[serde(default)]
    pub tokens: TokensConfig,
    /// Signing key settings.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Sign-in settings.
    #[serde(default)]
    pub sign_in: SignInConfig,
    /// Words for scopes on the consent page: `[scopes."photos:read"] description = "…"`.
    #[serde(default)]
    pub scopes: BTreeMap<String, ScopeConfig>,
    /// Clients created or updated at start.
    #[serde(default)]
    pub clients: Vec<DeclaredClient>,
    /// Users created or updated at start.
    #[serde(default)]
    pub users: Vec<DeclaredUser>,
}

/// `[tokens]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    /// Lifetime of an access token, in seconds.
    #[serde(default = "default_access_token_lifetime")]
    pub access_token_lifetime: Seconds,
    /// The algorithm that signs access tokens unless a client asks for another.
    #[serde(default = "default_signing_alg")]
    pub signing_alg: Algorithm,
    /// The algorithm that signs ID tokens unless a client asks for another.
    #[serde(default = "default_id_token_alg")]
    pub id_token_signing_alg: Algorithm,
    /// Lifetime of an ID token.
    #[serde(default = "default_id_token_lifetime")]
    pub id_token_lifetime: Seconds,
    /// Lifetime of an authorization code.
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime: Seconds,
    /// A refresh token not used for this long stops working.
    #[serde(default = "default_refresh_idle")]
    pub refresh_token_idle_lifetime: Seconds,
    /// No refresh token of a grant works after this long.
    #[serde(default = "default_refresh_absolute")]
    pub refresh_token_absolute_lifetime: Seconds,
    /// How long an already-rotated refresh token may be retried without revoking its grant; 0: off.
    #[serde(default)]
    pub refresh_token_reuse_grace: Seconds,
}

/// `[sign_in]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    /// How long a browser session lasts.
    #[serde(default = "default_session_lifetime")]
    pub session_lifetime: Seconds,
    /// Failed sign-ins per username before further tries for that username wait.
    #[serde(
        default = "default_max_failures",
        deserialize_with = "number_or_string"
    )]
    pub max_failed_attempts: u64,
    /// Failed sign-ins from one address, whatever the usernames, before further tries from it
    /// wait. Much higher than the per-username limit: one address can be a whole office.
    #[serde(
        default = "default_max_failures_per_address",
        deserialize_with = "number_or_string"
    )]
    pub max_failed_attempts_per_address: u64,
    /// How long the failures are remembered (and the wait after too many).
    #[serde(default = "default_lockout")]
    pub failure_window: Seconds,
    /// Password hashes computed at once; more wait their turn.
    #[serde(
        default = "default_hash_concurrency",
        deserialize_with = "number_or_string"
    )]
    pub password_hash_concurrency: u64,
    /// Every authorization request must be pushed first (RFC 9126 §5), whatever the client's
    /// own `require_pushed_authorization_requests`.
    #[serde(default, deserialize_with = "durations::bool_or_string")]
    pub require_pushed_authorization_requests: bool,
}

/// One `[scopes.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// What the consent page says the scope lets the application do, in place of the name.
    pub description: String,
}

impl Config {
    /// The issuer identifier in use when the server is bound to `bound`: the configured one, or
    /// `http://` (`https://` when `[tls]` is set) plus the address. The server and the admin
    /// commands' printed next steps both use this one rule.
    pub fn effective_issuer(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls.cert_file.is_some() {
            "https"
        } else {
            "http"
        };
        self.issuer
            .as_ref()
            .map_or_else(|| format!("{scheme}://{bound}"), IssuerUrl::to_string)
    }
}

/// `[tls]`: both files or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first; read again when it changes.
    #[serde(default)]
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
}

/// `[cors]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`) that may call the token, userinfo,
    /// introspection and revocation endpoints from a browser. Discovery and the JWKS are public.
    #[serde(default, deserialize_with = "list")]
    pub allowed_origins: Vec<Origin>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event, with the request's span fields (request id) included.
    Json,
}

/// `[database_pool]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabasePoolConfig {
    /// Most connections per instance; unset means 4 on SQLite and 10 on PostgreSQL.
    #[serde(default, deserialize_with = "optional_number")]
    pub max_connections: Option<u64>,
    /// How long a request waits for a connection before failing.
    #[serde(default = "default_acquire_timeout")]
    pub acquire_timeout: Seconds,
}

/// `[cleanup]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupConfig {
    /// How often expired codes, sessions, refresh tokens and deny-list entries are deleted.
    #[serde(default = "default_cleanup_interval")]
    pub interval: Seconds,
    /// Most rows deleted per table per statement.
    #[serde(
        default = "default_cleanup_batch",
        deserialize_with = "number_or_string"
    )]
    pub batch_size: u64,
}

impl Default for DatabasePoolConfig {
    fn default() -> Self {
        DatabasePoolConfig {
            max_connections: None,
            acquire_timeout: default_acquire_timeout(),
        }
    }
}

impl Default for CleanupConfig {
    fn default() -> Self {
        CleanupConfig {
            interval: default_cleanup_interval(),
            batch_size: default_cleanup_batch(),
        }
    }
}

fn default_acquire_timeout() -> Seconds {
    Seconds(5)
}
fn default_cleanup_interval() -> Seconds {
    Seconds(60)
}
fn default_cleanup_batch() -> u64 {
    500
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// How long a rotated key is published before it signs.
    #[serde(default = "default_activation_delay")]
    pub activation_delay: Seconds,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The largest request body accepted; larger ones get 413.
    #[serde(
        default = "default_max_body_bytes",
        deserialize_with = "number_or_string"
    )]
    pub max_body_bytes: u64,
    /// The largest request header block accepted; larger ones get 431.
    #[serde(
        default = "default_max_header_bytes",
        deserialize_with = "number_or_string"
    )]
    pub max_header_bytes: u64,
    /// Time a client has to send the request line and headers before the connection is closed.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: Seconds,
    /// Time a request may take, body included, before it is answered 408.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Seconds,
}

fn default_max_header_bytes() -> u64 {
    16 * 1024
}
fn default_header_timeout() -> Seconds {
    Seconds(10)
}
fn default_request_timeout() -> Seconds {
    Seconds(30)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_database() -> String {
    "sqlite://portcullis.db".into()
}
fn default_access_token_lifetime() -> Seconds {
    Seconds(900)
}
fn default_signing_alg() -> Algorithm {
    Algorithm::ES256
}
fn default_id_token_alg() -> Algorithm {
    Algorithm::RS256
}
fn default_id_token_lifetime() -> Seconds {
    Seconds(3600)
}
fn default_code_lifetime() -> Seconds {
    Seconds(60)
}
fn default_refresh_idle() -> Seconds {
    Seconds(30 * 86_400)
}
fn default_refresh_absolute() -> Seconds {
    Seconds(90 * 86_400)
}
fn default_session_lifetime() -> Seconds {
    Seconds(12 * 3600)
}
fn default_max_failures() -> u64 {
    5
}
fn default_max_failures_per_address() -> u64 {
    100
}
fn default_lockout() -> Seconds {
    Seconds(15 * 60)
}
fn default_hash_concurrency() -> u64 {
    2
}
fn default_activation_delay() -> Seconds {
    Seconds(3600)
}
fn default_max_body_bytes() -> u64 {
    64 * 1024
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            access_token_lifetime: default_access_token_lifetime(),
            signing_alg: default_signing_alg(),
            id_token_signing_alg: default_id_token_alg(),
            id_token_lifetime: default_id_token_lifetime(),
            code_lifetime: default_code_lifetime(),
            refresh_token_idle_lifetime: default_refresh_idle(),
            refresh_token_absolute_lifetime: default_refresh_absolute(),
            refresh_token_reuse_grace: Seconds(0),
        }
    }
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            session_lifetime: default_session_lifetime(),
            max_failed_attempts: default_max_failures(),
            max_failed_attempts_per_address: default_max_failures_per_address(),
            failure_window: default_lockout(),
            password_hash_concurrency: default_hash_concurrency(),
            require_pushed_authorization_requests: false,
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            activation_delay: default_activation_delay(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: default_max_body_bytes(),
            max_header_bytes: default_max_header_bytes(),
            header_timeout: default_header_timeout(),
            request_timeout: default_request_timeout(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: None,
            listen: default_listen(),
            metrics_listen: None,
            otel_endpoint: None,
            database: default_database(),
            database_pool: DatabasePoolConfig::default(),
            cleanup: CleanupConfig::default(),
            client_auth: ClientAuthConfig::default(),
            dpop: DpopConfig::default(),
            device: DeviceConfig::default(),
            registration: RegistrationConfig::default(),
            cors: CorsConfig::default(),
            tls: TlsConfig::default(),
            trusted_proxies: Vec::new(),
            master_key: None,
            master_key_file: None,
            log_format: LogFormat::Text,
            tokens: TokensConfig::default(),
            keys: KeysConfig::default(),
            limits: LimitsConfig::default(),
            sign_in: SignInConfig::default(),
            scopes: BTreeMap::new(),
            clients: Vec::new(),
            users: Vec::new(),
        }
    }
}

/// Why the configuration cannot be used. The message names the key, and the environment variable
/// when the value came from one.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);
