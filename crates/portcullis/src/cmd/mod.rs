//! One module per subcommand.

pub mod client;
pub mod decode;
pub mod keys;
pub mod login;
pub mod migrate;
pub mod serve;
pub mod token;
pub mod user;

use portcullis_server::client_secret::SecretHasher;
use portcullis_server::store::{self, Store};
use std::sync::Arc;

/// Opens the configured database and the secret-hashing key, as the server does.
pub async fn open(
    config: &portcullis_server::Config,
) -> anyhow::Result<(Arc<dyn Store>, SecretHasher)> {
    let url = portcullis_server::config::redact_url(&config.database);
    let options = portcullis_server::startup::store_options(config);
    let store = store::open_with(&config.database, &options)
        .await
        .map_err(|e| anyhow::anyhow!("database {url}: {e}"))?;
    let hasher = SecretHasher::load(store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("database {url}: {e}"))?;
    Ok((store, hasher))
}

/// The issuer the server would use with this configuration.
pub fn issuer(config: &portcullis_server::Config) -> String {
    config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}
