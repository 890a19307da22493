//! One module per subcommand.

pub mod backup;
pub mod client;
mod client_fields;
pub mod decode;
pub mod device;
pub mod keys;
pub mod login;
pub mod migrate;
pub mod registration;
pub mod serve;
pub mod token;
pub mod user;

use portcullis_server::client_secret::SecretHasher;
use portcullis_server::store::{self, Store};
use std::sync::Arc;

/// Opens the configured database as it is. Only `serve` and `migrate` (`create`) may make a new
/// one: an admin command run in the wrong directory must not start an empty database there.
pub async fn open_store(
    config: &portcullis_server::Config,
    create: bool,
    migrate: bool,
) -> anyhow::Result<Arc<dyn Store>> {
    let url = portcullis_server::config::redact_url(&config.database);
    let options = store::StoreOptions {
        create,
        migrate,
        ..portcullis_server::startup::store_options(config)
    };
    store::open_with(&config.database, &options)
        .await
        .map_err(|e| match e {
            store::StoreError::Missing(path) => anyhow::anyhow!(
                "there is no database at {path}; only `portcullis serve` and `portcullis migrate` \
                 create one. Run this command where the server runs, or point it at the server's \
                 database with --config FILE or PORTCULLIS_DATABASE"
            ),
            other => anyhow::anyhow!("database {url}: {other}"),
        })
}

/// Opens the configured (existing) database and the secret-hashing key, as the server does (with
/// the master key, when one is set: the HMAC key is sealed under it).
pub async fn open(
    config: &portcullis_server::Config,
) -> anyhow::Result<(Arc<dyn Store>, SecretHasher)> {
    let url = portcullis_server::config::redact_url(&config.database);
    let store = open_store(config, false, true).await?;
    let vault = config.key_vault()?;
    // The master key against the database first: a wrong one is named as such.
    vault.check(store.as_ref()).await?;
    let hasher = SecretHasher::load_with(store.as_ref(), &vault)
        .await
        .map_err(|e| anyhow::anyhow!("database {url}: {e}"))?;
    Ok((store, hasher))
}

/// The issuer the server would use with this configuration: `https://` when `[tls]` is set, as
/// the server's own default is.
pub fn issuer(config: &portcullis_server::Config) -> String {
    config.effective_issuer(config.listen)
}

/// Rows under a header line, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A Unix time as RFC 3339, or `-` for none.
pub fn time(unix: Option<i64>) -> String {
    unix.map_or_else(
        || "-".to_owned(),
        |t| portcullis_core::UnixTime(t).rfc3339(),
    )
}

/// A JSON object as a two-column table of fields and values (strings bare, `-` for null).
pub fn fields_table(value: &serde_json::Value) -> String {
    let rows = value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "-".to_owned(),
                other => other.to_string(),
            };
            vec![k.clone(), shown]
        })
        .collect();
    table(&["field", "value"], rows)
}
