//! `portcullis registration-token create`: an initial access token for dynamic client
//! registration (RFC 7591 §3), which `[registration] initial_access_token = "required"` (the
//! default) asks of every registration.

use clap::Subcommand;
use portcullis_core::{Clock, SystemClock};
use portcullis_server::Config;
use portcullis_server::config::Seconds;

/// `registration-token` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Make a token; it is shown once (only its SHA-256 is stored).
    Create {
        /// How long it works: seconds, or a number with s, m, h or d.
        #[arg(long, default_value = "1d")]
        expires: Seconds,
        /// How many registrations it allows (default: any number until it expires).
        #[arg(long)]
        max_uses: Option<u64>,
    },
}

/// Runs a registration-token command.
pub async fn run(config: Config, command: RegistrationTokenCommand) -> anyhow::Result<()> {
    let RegistrationTokenCommand::Create { expires, max_uses } = command;
    if max_uses == Some(0) {
        return Err(crate::Usage::new("--max-uses must be at least 1").into());
    }
    if expires.0 == 0 {
        return Err(crate::Usage::new("--expires must be more than 0s").into());
    }
    let store = super::open_store(&config, false, true).await?;
    let now = SystemClock.now();
    let token = portcullis_server::admin::create_initial_access_token(
        store.as_ref(),
        now,
        expires.0,
        max_uses,
    )
    .await?;
    let issuer = super::issuer(&config);
    outln!("registration_token: {}", token.expose());
    outln!("expires_at: {}", now.plus(expires.0).rfc3339());
    match max_uses {
        Some(n) => outln!("max_uses: {n}"),
        None => outln!("max_uses: unlimited"),
    }
    outln!(
        "Register:      curl -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \
         -d '{{\"client_name\": \"My app\", \"redirect_uris\": [\"https://app.example.com/callback\"]}}' \
         {issuer}/register",
        token.expose()
    );
    if !config.registration.enabled {
        eprintln!(
            "note: registration is off in this configuration: set [registration] enabled = true \
             (PORTCULLIS_REGISTRATION__ENABLED=true) for the server to serve {issuer}/register"
        );
    }
    Ok(())
}
