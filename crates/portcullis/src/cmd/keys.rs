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
            let keys: Vec<_> = set
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.key.kid(),
                        "alg": k.key.alg().as_str(),
                        "state": k.state(now, lifetime).as_str(),
                        "created_at": super::time(Some(k.created_at.0)),
                        "activates_at": super::time(Some(k.activates_at.0)),
                        "retires_at": k.retires_at.map(|t| super::time(Some(t.0))),
                    })
                })
                .collect();
            if json {
                outln!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                let rows = set
                    .iter()
                    .map(|k| {
                        vec![
                            k.key.kid().to_owned(),
                            k.key.alg().as_str().to_owned(),
                            k.state(now, lifetime).as_str().to_owned(),
                            super::time(Some(k.created_at.0)),
                            super::time(Some(k.activates_at.0)),
                            super::time(k.retires_at.map(|t| t.0)),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    super::table(
                        &[
                            "kid",
                            "alg",
                            "state",
                            "created_at",
                            "activates_at",
                            "retires_at"
                        ],
                        rows
                    )
                );
            }
        }
        KeysCommand::Rotate { alg, json } => {
            let alg = alg.unwrap_or(config.tokens.signing_alg);
            let delay = config.keys.activation_delay.0;
            let row = keys::rotate(store.as_ref(), &vault, alg, now, delay).await?;
            let activates_at = super::time(Some(row.activates_at));
            if json {
                outln!(
                    "{}",
                    json!({"kid": row.kid, "alg": row.alg, "activates_at": activates_at})
                );
            } else {
                outln!(
                    "new {} key {} is published now and signs from {activates_at} ({delay}s from now)",
                    row.alg,
                    row.kid
                );
            }
        }
    }
    Ok(())
}
