//! `portcullis keys list|rotate`.

use clap::Subcommand;
use portcullis_core::Secret;
use portcullis_core::{Algorithm, Clock, SystemClock, UnixTime};
use portcullis_server::Config;
use portcullis_server::keys::{self, KeyState, KeyVault};
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
    /// Re-seal every stored secret (the private signing keys and the client-secret HMAC key)
    /// under a new master key, in one transaction. Running servers keep working; restart them
    /// with the new key (an instance started with the old one is refused).
    Rekey {
        /// Read the new master key from this environment variable.
        #[arg(
            long,
            value_name = "VAR",
            conflicts_with = "new_master_key_file",
            required_unless_present = "new_master_key_file"
        )]
        new_master_key_env: Option<String>,
        /// Read the new master key from this file.
        #[arg(long, value_name = "FILE")]
        new_master_key_file: Option<std::path::PathBuf>,
    },
}

/// Runs a keys command.
pub async fn run(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = super::open_store(&config, false, true).await?;
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
        KeysCommand::Rekey {
            new_master_key_env,
            new_master_key_file,
        } => {
            let material = match (new_master_key_env, new_master_key_file) {
                (Some(var), _) => Secret::new(
                    std::env::var(&var)
                        .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?,
                ),
                (None, Some(path)) => KeyVault::read_master_key_file(&path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                (None, None) => anyhow::bail!("give --new-master-key-env or --new-master-key-file"),
            };
            let new = KeyVault::from_master_key(&material)
                .map_err(|e| anyhow::anyhow!("the new master key: {e}"))?;
            let old = config.key_vault()?;
            let count = old.rekey(&new, store.as_ref()).await?;
            outln!(
                "re-sealed {count} stored secrets under the new master key; restart every server \
                 with it (one started with the old key is refused)"
            );
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
