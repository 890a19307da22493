//! The `portcullis` command: run the authorization server and administer its clients and keys.
//! Each subcommand is a thin shell over `portcullis-server`.
#![forbid(unsafe_code)]

/// `println!` that returns an error instead of panicking when stdout is closed (`| head`); `main`
/// ends quietly on that error.
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// `print!` with the same care.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))?
    };
}

mod cmd;
mod json_lines;
mod log_writer;

/// Writes to stdout; a closed pipe is an error `main` recognises and ends on quietly.
pub fn write_stdout(text: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(text)?;
    stdout.flush()
}

/// Where this run's client secret comes from: `Some(VAR)` once a command read it from VAR, `None`
/// for a sign-in without one. Set once per process, so `invalid_client` can say which to check.
pub static SECRET_SOURCE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The private key file a client authenticated with (private_key_jwt), for the same hint.
pub static KEY_SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A mistake in how the command was called (exit 2), with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Usage {
    /// What is wrong.
    pub message: String,
    /// How to fix it, if a line helps.
    pub hint: Option<&'static str>,
}

impl Usage {
    /// A usage error without a hint.
    pub fn new(message: impl Into<String>) -> Self {
        Usage {
            message: message.into(),
            hint: None,
        }
    }
}

#[cfg(feature = "otel")]
mod otel;

use clap::{Parser, Subcommand};
use portcullis_server::config::LogFormat;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
    /// Apply pending database migrations (or, with `status`, show them).
    Migrate {
        /// What to do; nothing means apply.
        #[command(subcommand)]
        command: Option<cmd::migrate::MigrateCommand>,
    },
    /// Initial access tokens for dynamic client registration (RFC 7591).
    #[command(subcommand)]
    RegistrationToken(cmd::registration::RegistrationTokenCommand),
    /// Write clients, users, signing keys, consents and server secrets as JSON lines.
    Export {
        /// Write to this file (created mode 0600) instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Read an export into an empty database (for example a new PostgreSQL one).
    Import {
        /// The export file, or - for standard input.
        input: std::path::PathBuf,
    },
    /// Copy the SQLite database to a new file, consistently, while the server runs.
    Backup {
        /// The new file (created mode 0600; never overwritten).
        file: std::path::PathBuf,
    },
    /// Put a backup in place of the SQLite database; refused while a server has it open. The
    /// database it replaces is kept beside it as PATH.before-restore-TIME.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
    },
    /// Get a client credentials token (from flags, the environment or .env), cached on disk.
    Token(cmd::token::TokenArgs),
    /// Sign in through the browser (authorization code with PKCE), or with --device on another
    /// device (RFC 8628), and keep the tokens.
    Login(cmd::login::LoginArgs),
    /// Call an API with the cached token, like curl.
    Call(cmd::login::CallArgs),
    /// Show a JWT's header, claims and expiry, and check its signature against a trusted issuer's
    /// keys.
    Decode {
        /// The token, or - to read it from standard input.
        token: String,
        /// The trusted issuer (default: ISSUER, else the server's configured issuer). A token
        /// naming another issuer is not checked.
        #[arg(long)]
        issuer: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    // Flushes the log writer's queue when dropped.
    let mut log_guard = None;
    let result = runtime.block_on(async {
        // The client commands need no server configuration.
        if matches!(
            cli.command,
            Command::Token(_) | Command::Login(_) | Command::Call(_) | Command::Decode { .. }
        ) {
            log_guard = Some(init_tracing(LogFormat::Text, None)?);
        }
        match cli.command {
            Command::Token(args) => return cmd::token::run(args).await,
            Command::Login(args) => return cmd::login::run(args).await,
            Command::Call(args) => return cmd::login::run_call(args).await,
            Command::Decode { token, issuer } => {
                // The server's configured issuer is one a token may be checked against; a
                // configuration that does not load simply offers none.
                let configured = portcullis_server::Config::load(cli.config.as_deref())
                    .ok()
                    .map(|c| cmd::issuer(&c));
                return cmd::decode::run(&token, issuer, configured).await;
            }
            _ => {}
        }
        let config = portcullis_server::Config::load(cli.config.as_deref())?;
        // Only the server sends traces.
        let otel = match cli.command {
            Command::Serve => config.otel_endpoint.as_deref(),
            _ => None,
        };
        log_guard = Some(init_tracing(config.log_format, otel)?);
        match cli.command {
            Command::Serve => cmd::serve::run(config).await,
            Command::Client(c) => cmd::client::run(config, c).await,
            Command::Keys(c) => cmd::keys::run(config, c).await,
            Command::User(c) => cmd::user::run(config, c).await,
            Command::RegistrationToken(c) => cmd::registration::run(config, c).await,
            Command::Migrate { command } => cmd::migrate::run(config, command).await,
            Command::Export { output } => cmd::migrate::export(config, output).await,
            Command::Import { input } => cmd::migrate::import(config, input).await,
            Command::Backup { file } => cmd::backup::backup(config, file).await,
            Command::Restore { file } => cmd::backup::restore(config, file).await,
            Command::Token(_) | Command::Login(_) | Command::Call(_) | Command::Decode { .. } => {
                Ok(())
            }
        }
    });
    // Every queued log line is out before the last words below, and before the process ends.
    drop(runtime);
    drop(log_guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing more to say, and nobody to say it to.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, hint) = exit_code(&e);
            eprintln!("error: {e:#}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Exit codes: 1 anything else, 2 configuration or usage, 3 the authorization server refused, 4 a
/// server could not be reached, 5 an answer that makes no sense; with a hint on what to fix.
fn exit_code(e: &anyhow::Error) -> (u8, Option<String>) {
    use portcullis_client::ClientError;
    if let Some(usage) = e.downcast_ref::<Usage>() {
        return (2, usage.hint.map(str::to_owned));
    }
    let hint = |h: &str| Some(h.to_owned());
    match e.downcast_ref::<ClientError>() {
        // The hint only where the message is about a variable that is not set: a config error
        // of another kind gets no advice that contradicts it.
        Some(ClientError::Config(problems)) => (
            2,
            problems
                .iter()
                .any(|p| p.ends_with("is not set"))
                .then(|| "set them in the environment or in a .env file in this directory".into()),
        ),
        Some(ClientError::SignIn(_)) => (2, None),
        Some(ClientError::WrongIssuer(_)) => (
            2,
            hint("is ISSUER the issuer URL exactly as the server names itself?"),
        ),
        Some(ClientError::OAuth { error, .. }) if error == "invalid_client" => (
            3,
            Some(match (KEY_SOURCE.get(), SECRET_SOURCE.get()) {
                (Some(file), _) => format!(
                    "the client_id is wrong, or the server does not have the public key of {file} \
                     (register it with: portcullis client jwks --private-key {file}); a client \
                     just created may need a second before the server knows it"
                ),
                (None, Some(Some(var))) => format!("the client_id or the client secret in {var} is wrong"),
                (None, Some(None)) => "the client_id is wrong, or the client is confidential and needs                                its secret: pass --client-secret-env VAR"
                    .into(),
                (None, None) => "the client_id or client_secret is wrong".into(),
            }),
        ),
        Some(ClientError::OAuth { error, .. }) if error == "invalid_grant" => (
            3,
            hint("the sign-in is no longer valid (revoked, expired or used): sign in again"),
        ),
        Some(ClientError::OAuth { error, .. }) if error == "invalid_scope" => {
            (3, hint("the client may not ask for that scope"))
        }
        // A sign-in the user declined, or (`login --device`) did not approve in time.
        Some(ClientError::OAuth { error, .. }) if error == "access_denied" => {
            (3, hint("the sign-in was declined"))
        }
        Some(ClientError::OAuth { error, .. }) if error == "expired_token" => (
            3,
            hint("the code expired before the sign-in was approved: sign in again"),
        ),
        Some(ClientError::OAuth { status: 404, .. }) => (
            3,
            hint("the URL answered 404: is TOKEN_URL the token endpoint?"),
        ),
        Some(ClientError::OAuth { .. }) => (3, None),
        Some(ClientError::Network { reason, .. }) if reason.contains("TLS handshake") => (
            4,
            hint(
                "the server's certificate is not trusted: set SSL_CERT_FILE to the PEM file of the \
                 CA that signed it (a self-signed CA certificate cannot serve as the server's own)",
            ),
        ),
        Some(ClientError::Network { .. }) | Some(ClientError::Discovery(_)) => {
            (4, hint("is the server running, and is the URL right?"))
        }
        Some(ClientError::Unexpected { .. }) => (
            5,
            hint("is TOKEN_URL the token endpoint (for Portcullis: ISSUER/token)?"),
        ),
        Some(ClientError::IdToken(_)) => (5, None),
        Some(_) | None => (1, None),
    }
}

type LogFilter = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The filter `PORTCULLIS_LOG` describes, falling back to `info` when it is not valid.
///
/// A filter of targets and levels only (`info`, `debug,sqlx=warn`: the usual case) becomes a
/// [`Targets`](tracing_subscriber::filter::Targets), which decides once per call site. An
/// `EnvFilter`, needed only for span and field directives (`[request]=debug`), also looks up
/// span state under a lock on every enter and exit of every span, and a request's span is entered
/// and left at each of its polls: perf showed it on every request under load.
fn log_filter(text: &str) -> LogFilter {
    if let Ok(targets) = text.parse::<tracing_subscriber::filter::Targets>() {
        return Box::new(targets);
    }
    Box::new(
        tracing_subscriber::EnvFilter::try_new(text)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    )
}

/// Structured log lines on stderr; `PORTCULLIS_LOG` (or `RUST_LOG`) sets the filter.
///
/// Lines are formatted where they happen and written by one thread of their own (`log_writer`),
/// so a request does not wait for stderr (a file, a pipe, a terminal), and no line is dropped: when
/// the buffer is full, the thread that logs waits (backpressure), so audit events are slowed,
/// never lost (docs/security.md). The returned guard writes what is buffered when dropped. With
/// `otel`, spans also go to an OpenTelemetry collector (`otel.rs`).
fn init_tracing(format: LogFormat, otel: Option<&str>) -> anyhow::Result<LogGuard> {
    let filter = std::env::var("PORTCULLIS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = log_filter(&filter);
    // Without a thread for the writer (none left to start), log straight to stderr.
    let (writer, flusher) = match log_writer::start(std::io::stderr()) {
        Ok((writer, flusher)) => (log_writer::LogTarget::Buffered(writer), Some(flusher)),
        Err(_) => (log_writer::LogTarget::Stderr, None),
    };
    #[cfg(feature = "otel")]
    let (otel_layer, otel_guard) = match otel {
        Some(endpoint) => {
            let (layer, guard) = otel::layer(endpoint)?;
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    #[cfg(not(feature = "otel"))]
    let otel_layer: Option<tracing_subscriber::layer::Identity> = match otel {
        Some(_) => anyhow::bail!(
            "otel_endpoint is set, but this portcullis was built without the `otel` feature \
             (cargo build --release -p portcullis --features otel)"
        ),
        None => None,
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    // A second init (there is none today) would be refused; nothing to do about it but go on.
    let _ = match format {
        // JSON keeps the target, so the audit stream (target portcullis::audit) can be filtered,
        // and names the request being served (json_lines reads it from the server's task-local),
        // so every line carries its request id.
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(json_lines::JsonMembers)
                    .event_format(json_lines::JsonLines)
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(writer),
            )
            .try_init(),
    };
    Ok(LogGuard {
        _flusher: flusher,
        #[cfg(feature = "otel")]
        _otel: otel_guard,
    })
}

/// Flushes the log writer's queue, and sends the traces still queued, when dropped.
struct LogGuard {
    _flusher: Option<log_writer::Flusher>,
    #[cfg(feature = "otel")]
    _otel: Option<otel::Guard>,
}

#[cfg(test)]
mod tests {
    use super::log_filter;
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt as _;

    /// Whether an event at `level` with `target` passes the filter made from `text`.
    fn passes(text: &str, target: &str, level: Level) -> bool {
        let subscriber = tracing_subscriber::registry().with(log_filter(text));
        tracing::subscriber::with_default(subscriber, || match (target, level) {
            ("sqlx", Level::INFO) => tracing::enabled!(target: "sqlx", Level::INFO),
            ("sqlx", _) => tracing::enabled!(target: "sqlx", Level::WARN),
            (_, Level::DEBUG) => tracing::enabled!(target: "portcullis", Level::DEBUG),
            _ => tracing::enabled!(target: "portcullis", Level::INFO),
        })
    }

    #[test]
    fn filters_of_targets_and_levels_and_invalid_ones_mean_what_the_docs_say() {
        assert!(passes("info", "portcullis", Level::INFO));
        assert!(!passes("info", "portcullis", Level::DEBUG));
        assert!(!passes("warn", "portcullis", Level::INFO));
        assert!(passes("debug,sqlx=warn", "portcullis", Level::DEBUG));
        assert!(!passes("debug,sqlx=warn", "sqlx", Level::INFO));
        assert!(passes("debug,sqlx=warn", "sqlx", Level::WARN));
        // A span directive needs an EnvFilter; an invalid filter falls back to `info`.
        assert!(passes("info,[request]=debug", "portcullis", Level::INFO));
        assert!(passes("no such=level=at all[", "portcullis", Level::INFO));
        assert!(!passes("no such=level=at all[", "portcullis", Level::DEBUG));
    }
}
