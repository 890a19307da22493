//! The `portcullis` command: run the authorization server and administer its clients and keys.
//! Each subcommand is a thin shell over `portcullis-server`.
#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Portcullis: an OAuth 2.0 and OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    /// TOML configuration file; every key can also be set with a PORTCULLIS_* variable.
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Run the authorization server.
    Serve,
    /// Create, list, show, update and delete clients.
    #[command(subcommand)]
    Client(cmd::client::ClientCommand),
    /// List and rotate signing keys.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Create, list, show and delete users, and set their passwords.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let config = portcullis_server::Config::load(cli.config.as_deref())?;
        match cli.command {
            Command::Serve => cmd::serve::run(config).await,
            Command::Client(c) => cmd::client::run(config, c).await,
            Command::Keys(c) => cmd::keys::run(config, c).await,
            Command::User(c) => cmd::user::run(config, c).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Structured log lines on stderr; `PORTCULLIS_LOG` (or `RUST_LOG`) sets the filter.
fn init_tracing() {
    let filter = std::env::var("PORTCULLIS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
