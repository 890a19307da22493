//! Server configuration: a TOML file, then `PORTCULLIS_*` environment variables on top, checked in one
//! pass so that start-up fails with a message naming the key (and the variable) that is wrong.
//!
//! Every key is documented in `docs/configuration.md`; keep the two in step.
//!
//! Long because: every key's parsing and checking is here in one pass, with its tests; issue 15
//! splits it into config/ (file, environment, durations).

use crate::client::ClientMetadata;
use portcullis_core::{Algorithm, ApplicationType, GrantType, Secret, TokenEndpointAuthMethod};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The prefix of every environment variable that overrides a key.
pub const ENV_PREFIX: &str = "PORTCULLIS_";

/// Variables with the prefix that are not configuration keys. (`PORTCULLIS_MASTER_KEY` *is* one:
/// it sets `master_key`, the usual way to give it.)
const ENV_NOT_KEYS: &[&str] = &["PORTCULLIS_CONFIG", "PORTCULLIS_LOG"];

/// Variables of the test suite (`PORTCULLIS_TEST_POSTGRES`, `PORTCULLIS_TEST_DATABASE`), which a
/// developer may well have exported in the shell they also run `portcullis` in.
const ENV_TEST_PREFIX: &str = "PORTCULLIS_TEST_";

/// The whole configuration of `portcullis serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier (RFC 8414 §2); `None` means `http://` + the bound address.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The socket address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DATABASE`.
    #[serde(default = "default_database")]
    pub database: String,
    /// The database connection pool.
    #[serde(default)]
    pub database_pool: DatabasePoolConfig,
    /// Background clean-up of expired rows.
    #[serde(default)]
    pub cleanup: CleanupConfig,
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
    pub trusted_proxies: Vec<String>,
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
}

/// One `[scopes.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// What the consent page says the scope lets the application do, in place of the name.
    pub description: String,
}

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
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("key 'master_key_file' ({}): {e}", path.display()))
                })?;
                let key = Secret::new(text.lines().next().unwrap_or_default().trim());
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
    pub allowed_origins: Vec<String>,
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

/// A list of strings, written as a TOML array, or (as every environment variable is a string) as
/// one string: a JSON array (`["a", "b"]`) or comma-separated values (`a, b`). An empty string is
/// an empty list.
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a list of strings"))? {
        Raw::List(items) => Ok(items),
        Raw::Text(text) if text.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<String>>(&text).map_err(|e| {
                serde::de::Error::custom(format!("'{text}' is not a JSON array of strings: {e}"))
            })
        }
        Raw::Text(text) => Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()),
    }
}

fn optional_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    number_or_string(d).map(Some)
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
fn default_max_header_bytes() -> u64 {
    16 * 1024
}
fn default_header_timeout() -> Seconds {
    Seconds(10)
}
fn default_request_timeout() -> Seconds {
    Seconds(30)
}

/// One `[[clients]]` table: RFC 7591 metadata plus the secret, written literally or as `env:VARIABLE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClient {
    /// The client identifier.
    pub client_id: String,
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
        }
    }

    /// The secret, read from the environment when written as `env:NAME`.
    pub fn secret(&self) -> Result<Option<Secret>, String> {
        resolve_env_secret(self.client_secret.as_ref().map(ConfigSecret::expose))
    }
}

/// A duration in whole seconds, written as an integer or as a string such as `"90s"`, `"15m"`,
/// `"1h"` or `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seconds(pub u64);

impl std::str::FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || format!("'{s}' is not a duration: write a number followed by s, m, h or d");
        let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => s.split_at(i),
            None => (s, "s"),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let factor = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        n.checked_mul(factor).map(Seconds).ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a duration such as 900 or \"15m\""))?
        {
            Raw::Int(n) => Ok(Seconds(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom("expected a non-negative integer"))?
    {
        Raw::Int(n) => Ok(n),
        Raw::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("'{t}' is not a non-negative integer"))),
    }
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
            database: default_database(),
            database_pool: DatabasePoolConfig::default(),
            cleanup: CleanupConfig::default(),
            client_auth: ClientAuthConfig::default(),
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

impl Config {
    /// Reads the file (when given) and the process environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?,
            None => String::new(),
        };
        Config::from_sources(&text, std::env::vars())
    }

    /// Builds the configuration from TOML text and environment variables; the variables win.
    ///
    /// ```
    /// use portcullis_server::config::Config;
    /// let env = [("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME".to_string(), "5m".to_string())];
    /// let config = Config::from_sources("listen = \"127.0.0.1:9000\"", env).unwrap();
    /// assert_eq!(config.tokens.access_token_lifetime.0, 300);
    /// assert_eq!(config.listen.port(), 9000);
    /// ```
    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml_text.parse().map_err(|e: toml::de::Error| {
            ConfigError(format!("the file is not valid TOML: {e}"))
        })?;
        let mut from_env: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if ENV_NOT_KEYS.contains(&name.as_str())
                || name.starts_with(ENV_TEST_PREFIX)
                || rest.is_empty()
            {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            insert_path(&mut table, &path, value)
                .map_err(|e| ConfigError(format!("{name}: {e}")))?;
            from_env.insert(path.join("."), name);
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let source = from_env
                    .get(&key)
                    .map(|v| format!(" (from {v})"))
                    .unwrap_or_default();
                let key = if key == "." {
                    "top level".into()
                } else {
                    format!("key '{key}'")
                };
                ConfigError(format!("{key}{source}: {}", e.inner()))
            })?;
        config.validate(&from_env)?;
        Ok(config)
    }

    fn validate(&self, from_env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let key = |k: &str| match from_env.get(k) {
            Some(var) => format!("key '{k}' (from {var})"),
            None => format!("key '{k}'"),
        };
        if let Some(issuer) = &self.issuer {
            check_issuer(issuer).map_err(|e| ConfigError(format!("{}: {e}", key("issuer"))))?;
        }
        if crate::store::Backend::of(&self.database).is_none() {
            return Err(ConfigError(format!(
                "{}: '{}' is not supported; use sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
                key("database"),
                redact_url(&self.database)
            )));
        }
        if let Some(n) = self.database_pool.max_connections
            && !(1..=1000).contains(&n)
        {
            return Err(ConfigError(format!(
                "{}: must be between 1 and 1000",
                key("database_pool.max_connections")
            )));
        }
        if !(1..=300).contains(&self.database_pool.acquire_timeout.0) {
            return Err(ConfigError(format!(
                "{}: must be between 1s and 5m",
                key("database_pool.acquire_timeout")
            )));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError(format!(
                "{} and {} go together: set both or neither",
                key("tls.cert_file"),
                key("tls.key_file")
            )));
        }
        for (i, origin) in self.cors.allowed_origins.iter().enumerate() {
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.ends_with('/')
                && origin.matches('/').count() == 2
                && !origin.contains('*');
            if !ok {
                return Err(ConfigError(format!(
                    "{}: '{origin}' is not an origin: write scheme://host[:port] with no path or wildcard",
                    key(&format!("cors.allowed_origins[{i}]"))
                )));
            }
        }
        for (i, net) in self.trusted_proxies.iter().enumerate() {
            net.parse::<crate::http::client_ip::IpNet>().map_err(|e| {
                ConfigError(format!("{}: {e}", key(&format!("trusted_proxies[{i}]"))))
            })?;
        }
        if !(1024..=1024 * 1024).contains(&self.limits.max_header_bytes) {
            return Err(ConfigError(format!(
                "{}: must be between 1024 and 1048576",
                key("limits.max_header_bytes")
            )));
        }
        if self.limits.header_timeout.0 == 0 || self.limits.request_timeout.0 == 0 {
            return Err(ConfigError(format!(
                "{} and {} must be at least 1s",
                key("limits.header_timeout"),
                key("limits.request_timeout")
            )));
        }
        if self.client_auth.max_failures_per_client == 0
            || self.client_auth.max_failures_per_ip == 0
            || self.client_auth.failure_window.0 == 0
        {
            return Err(ConfigError(format!(
                "{}, {} and {} must be at least 1",
                key("client_auth.max_failures_per_client"),
                key("client_auth.max_failures_per_ip"),
                key("client_auth.failure_window")
            )));
        }
        if self.cleanup.interval.0 == 0 || !(1..=100_000).contains(&self.cleanup.batch_size) {
            return Err(ConfigError(format!(
                "{} must be at least 1s and {} between 1 and 100000",
                key("cleanup.interval"),
                key("cleanup.batch_size")
            )));
        }
        let lifetime = self.tokens.access_token_lifetime.0;
        if !(1..=86_400).contains(&lifetime) {
            return Err(ConfigError(format!(
                "{}: must be between 1s and 1d",
                key("tokens.access_token_lifetime")
            )));
        }
        if self.keys.activation_delay.0 > 7 * 86_400 {
            return Err(ConfigError(format!(
                "{}: must be at most 7d",
                key("keys.activation_delay")
            )));
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(ConfigError(format!(
                "{}: must be at least 1024",
                key("limits.max_body_bytes")
            )));
        }
        for (i, user) in self.users.iter().enumerate() {
            let at = format!("users[{i}] (username '{}')", user.username);
            match (&user.password, &user.password_hash) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(ConfigError(format!(
                        "{at}: give exactly one of password and password_hash"
                    )));
                }
                _ => {}
            }
            user.password()
                .map_err(|e| ConfigError(format!("{at}.password: {e}")))?;
        }
        if self.sign_in.max_failed_attempts == 0
            || self.sign_in.max_failed_attempts_per_address == 0
            || self.sign_in.failure_window.0 == 0
        {
            return Err(ConfigError(format!(
                "{}, {} and {} must be at least 1",
                key("sign_in.max_failed_attempts"),
                key("sign_in.max_failed_attempts_per_address"),
                key("sign_in.failure_window")
            )));
        }
        if let Some(master) = &self.master_key
            && master.expose().trim().chars().count() < crate::keys::MIN_MASTER_KEY_LEN
        {
            return Err(ConfigError(format!(
                "{}: must be at least {} characters",
                key("master_key"),
                crate::keys::MIN_MASTER_KEY_LEN
            )));
        }
        if self.sign_in.password_hash_concurrency == 0 {
            return Err(ConfigError(format!(
                "{}: must be at least 1",
                key("sign_in.password_hash_concurrency")
            )));
        }
        for (name, scope) in &self.scopes {
            let at = format!("scopes.{name}");
            if portcullis_core::Scope::parse(name).map(|s| s.iter().count()) != Ok(1) {
                return Err(ConfigError(format!("{at}: '{name}' is not one scope name")));
            }
            let words = scope.description.trim();
            if words.is_empty() || words.chars().count() > 200 {
                return Err(ConfigError(format!(
                    "{at}.description: must be 1 to 200 characters"
                )));
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            let at = format!("clients[{i}] (client_id '{}')", client.client_id);
            client
                .metadata()
                .validate()
                .map_err(|e| ConfigError(format!("{at}: {e}")))?;
            client
                .secret()
                .map_err(|e| ConfigError(format!("{at}.client_secret: {e}")))?;
        }
        Ok(())
    }
}

/// RFC 8414 §2: an https URL (http allowed for local use) with no query or fragment; we also refuse a
/// trailing slash so that `iss` has exactly one spelling.
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".into());
    }
    if issuer.contains(['?', '#']) {
        return Err("must not have a query or fragment".into());
    }
    if issuer.ends_with('/') {
        return Err("must not end with '/'".into());
    }
    if issuer.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    Ok(())
}

/// Hides a password in a database URL before it goes into a message.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: String) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("'{part}' is not a table")),
        };
    }
    // Values stay strings: every non-string key also accepts its string spelling.
    current.insert(last.clone(), toml::Value::String(value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::from_sources("", env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database, "sqlite://portcullis.db");
        assert_eq!(c.tokens.signing_alg, Algorithm::ES256);
    }

    #[test]
    fn env_overrides_file_and_errors_name_the_variable() {
        let c = Config::from_sources(
            "[tokens]\nsigning_alg = \"RS256\"",
            env(&[("PORTCULLIS_TOKENS__SIGNING_ALG", "EdDSA")]),
        )
        .unwrap();
        assert_eq!(c.tokens.signing_alg, Algorithm::EdDSA);
        let e = Config::from_sources(
            "",
            env(&[("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME", "x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("tokens.access_token_lifetime"), "{e}");
        assert!(
            e.contains("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME"),
            "{e}"
        );
    }

    #[test]
    fn range_errors_name_the_variable_too() {
        let e = Config::from_sources("", env(&[("PORTCULLIS_LIMITS__MAX_BODY_BYTES", "10")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'limits.max_body_bytes' (from PORTCULLIS_LIMITS__MAX_BODY_BYTES)"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_sources("[tokens]\nlifetime = 3", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lifetime") && e.contains("tokens"), "{e}");
    }

    #[test]
    fn the_master_key_comes_from_the_environment_with_the_rules_of_the_key() {
        let key = "k".repeat(32);
        let c = Config::from_sources("", env(&[("PORTCULLIS_MASTER_KEY", key.as_str())])).unwrap();
        assert!(c.key_vault().unwrap().is_sealing());
        let e = Config::from_sources("", env(&[("PORTCULLIS_MASTER_KEY", "short")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'master_key' (from PORTCULLIS_MASTER_KEY)") && e.contains("at least 32"),
            "{e}"
        );
        let both = Config::from_sources(
            "master_key_file = \"/nonexistent\"",
            env(&[("PORTCULLIS_MASTER_KEY", key.as_str())]),
        )
        .unwrap()
        .key_vault()
        .unwrap_err()
        .to_string();
        assert!(both.contains("not both"), "{both}");
    }

    #[test]
    fn the_test_suites_variables_are_not_settings() {
        let c = Config::from_sources(
            "",
            env(&[
                ("PORTCULLIS_TEST_POSTGRES", "postgres://x@y/z"),
                ("PORTCULLIS_TEST_DATABASE", "postgres"),
            ]),
        );
        assert!(c.is_ok(), "{:?}", c.err());
    }

    #[test]
    fn list_keys_come_from_the_environment_as_commas_or_json() {
        let c = Config::from_sources(
            "",
            env(&[
                ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
                (
                    "PORTCULLIS_CORS__ALLOWED_ORIGINS",
                    r#"["https://a.example", "https://b.example"]"#,
                ),
            ]),
        )
        .unwrap();
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "192.0.2.7"]);
        assert_eq!(
            c.cors.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        let c = Config::from_sources("trusted_proxies = [\"10.0.0.1\"]", env(&[])).unwrap();
        assert_eq!(c.trusted_proxies, ["10.0.0.1"]);
        let e = Config::from_sources("", env(&[("PORTCULLIS_TRUSTED_PROXIES", "[oops")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("trusted_proxies") && e.contains("PORTCULLIS_TRUSTED_PROXIES"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!("15m".parse::<Seconds>(), Ok(Seconds(900)));
        assert_eq!("2h".parse::<Seconds>(), Ok(Seconds(7200)));
        assert_eq!("30".parse::<Seconds>(), Ok(Seconds(30)));
        assert!("15 minutes".parse::<Seconds>().is_err());
        assert!("-1s".parse::<Seconds>().is_err());
    }

    #[test]
    fn issuers() {
        assert!(check_issuer("https://id.example.com").is_ok());
        assert!(check_issuer("https://id.example.com/").is_err());
        assert!(check_issuer("https://id.example.com?x=1").is_err());
        assert!(check_issuer("ftp://id.example.com").is_err());
    }

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://u:pw@h/db"),
            "postgres://u:***@h/db".to_string()
        );
    }
}
