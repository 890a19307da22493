//! Reading the configuration: the TOML file, then the environment over it, into [`Config`], then
//! [`validate`](super::validate) in one pass.

use super::env::{ENV_NOT_KEYS, ENV_PREFIX, ENV_TEST_PREFIX, insert_path};
use super::{Config, ConfigError};
use std::collections::BTreeMap;

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
}
