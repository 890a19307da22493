//! `portcullis serve`.

use portcullis_core::SystemClock;
use portcullis_server::{Config, Server};
use std::io::Write;
use std::sync::Arc;

/// Runs the server until SIGINT or SIGTERM, then lets in-flight requests finish.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let database = portcullis_server::config::redact_url(&config.database);
    let server = Server::build(config, Arc::new(SystemClock)).await?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, issuer = server.issuer(), %database, "listening");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Portcullis is listening on http://{addr} (issuer {})",
        server.issuer()
    )?;
    writeln!(
        out,
        "Next, create a client:  portcullis client create --name my-script --scope \"read write\""
    )?;
    out.flush()?;
    drop(out);
    server.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
