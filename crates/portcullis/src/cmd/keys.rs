//! `portcullis keys list|rotate`.

use clap::Subcommand;
use portcullis_core::{Algorithm, Clock, SystemClock, UnixTime};
use portcullis_server::Config;
use portcullis_server::keys::{self, KeyState};
use portcullis_server::store::KeyRow;
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
    let now = SystemClock.now();
    match command {
        // Schedules only: no private key is opened, so no master key is needed.
        KeysCommand::List { json } => {
            let rows = store.signing_keys().await?;
            let lifetime = config
                .tokens
                .access_token_lifetime
                .0
                .max(config.tokens.id_token_lifetime.0);
            let state = |r: &KeyRow| {
                KeyState::of(
                    UnixTime(r.activates_at),
                    r.retires_at.map(UnixTime),
                    now,
                    lifetime,
                )
                .as_str()
            };
            let keys: Vec<_> = rows
                .iter()
                .map(|r| {
                    json!({
                        "kid": r.kid,
                        "alg": r.alg,
                        "state": state(r),
                        "created_at": super::time(Some(r.created_at)),
                        "activates_at": super::time(Some(r.activates_at)),
                        "retires_at": r.retires_at.map(|t| super::time(Some(t))),
                    })
                })
                .collect();
            if json {
                outln!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                let rows = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.kid.clone(),
                            r.alg.clone(),
                            state(r).to_owned(),
                            super::time(Some(r.created_at)),
                            super::time(Some(r.activates_at)),
                            super::time(r.retires_at),
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
            let vault = config.key_vault()?;
            vault.unlock(store.as_ref()).await?;
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
