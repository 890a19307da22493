//! `portcullis keys list|rotate`.

use clap::Subcommand;
use portcullis_core::{Algorithm, Clock, SystemClock};
use portcullis_server::Config;
use portcullis_server::keys::{self, KeySet};
use serde_json::json;

/// Signing key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List every signing key with its state.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a new key: published now, signing after `keys.activation_delay`; the key it replaces
    /// stops signing then and stays published until its tokens have expired.
    Rotate {
        /// The algorithm to rotate (default: tokens.signing_alg).
        #[arg(long)]
        alg: Option<Algorithm>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a keys command.
pub async fn run(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let (store, _) = super::open(&config).await?;
    let vault = config.key_vault()?;
    vault.unlock(store.as_ref()).await?;
    let now = SystemClock.now();
    match command {
        KeysCommand::List { json } => {
            let set = KeySet::from_rows(&store.signing_keys().await?, &vault);
            let lifetime = config
                .tokens
                .access_token_lifetime
                .0
                .max(config.tokens.id_token_lifetime.0);
            let rows: Vec<_> = set
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.key.kid(),
                        "alg": k.key.alg().as_str(),
                        "state": k.state(now, lifetime).as_str(),
                        "created_at": k.created_at.0,
                        "activates_at": k.activates_at.0,
                        "retires_at": k.retires_at.map(|t| t.0),
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<44} {:<6} {:<8} {:<12} {:<12} retires_at",
                    "kid", "alg", "state", "created_at", "activates_at"
                );
                for r in &rows {
                    println!(
                        "{:<44} {:<6} {:<8} {:<12} {:<12} {}",
                        r["kid"].as_str().unwrap_or_default(),
                        r["alg"].as_str().unwrap_or_default(),
                        r["state"].as_str().unwrap_or_default(),
                        r["created_at"],
                        r["activates_at"],
                        r["retires_at"]
                    );
                }
            }
        }
        KeysCommand::Rotate { alg, json } => {
            let alg = alg.unwrap_or(config.tokens.signing_alg);
            let delay = config.keys.activation_delay.0;
            let row = keys::rotate(store.as_ref(), &vault, alg, now, delay).await?;
            if json {
                println!(
                    "{}",
                    json!({"kid": row.kid, "alg": row.alg, "activates_at": row.activates_at})
                );
            } else {
                println!(
                    "new {} key {} is published now and signs from {} ({delay}s from now)",
                    row.alg, row.kid, row.activates_at
                );
            }
        }
    }
    Ok(())
}
