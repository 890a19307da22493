//! The checks serde cannot make: ranges, combinations of keys, issuer and URL rules. Each error
//! names the key, and the variable when the value came from one.

use super::{Config, ConfigError};
use std::collections::BTreeMap;

impl Config {
    pub(super) fn validate(&self, from_env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let key = |k: &str| match from_env.get(k) {
            Some(var) => format!("key '{k}' (from {var})"),
            None => format!("key '{k}'"),
        };
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
        if self.registration.max_per_address == 0 || self.registration.window.0 == 0 {
            return Err(ConfigError(format!(
                "{} and {} must be at least 1",
                key("registration.max_per_address"),
                key("registration.window")
            )));
        }
        if let Err(e) = portcullis_core::Scope::parse(&self.registration.scope) {
            return Err(ConfigError(format!("{}: {e}", key("registration.scope"))));
        }
        if self.device.max_failed_codes_per_address == 0
            || self.device.max_requests_per_address == 0
            || self.device.interval.0 == 0
            || self.device.code_lifetime.0 < 60
        {
            return Err(ConfigError(format!(
                "{}, {} and {} must be at least 1, and {} at least 1m",
                key("device.max_failed_codes_per_address"),
                key("device.max_requests_per_address"),
                key("device.interval"),
                key("device.code_lifetime")
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
