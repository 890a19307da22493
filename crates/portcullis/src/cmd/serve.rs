//! `portcullis serve`.

use portcullis_core::SystemClock;
use portcullis_server::{Config, Server};
use std::io::Write;
use std::sync::Arc;

/// Runs the server until SIGINT or SIGTERM, then lets in-flight requests finish.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let database = portcullis_server::config::redact_url(&config.database);
    let server = Server::build(config, Arc::new(SystemClock)).await?;
    let shutdown = shutdown_signal()?;
    let url = server.url()?;
    let metrics = server
        .metrics_addr()
        .map(|addr| format!("; /metrics on http://{addr}"))
        .unwrap_or_default();
    tracing::info!(%url, issuer = server.issuer(), %database, metrics_listen = ?server.metrics_addr(), "listening");
    // The banner is for a person watching. A closed or full stdout (`serve | head -1`, a
    // supervisor that reads one line) must not stop a running server, so a failed write is only
    // logged.
    let banner = format!(
        "Portcullis is listening on {url} (issuer {}){metrics}\n\
         Next, create a client:  portcullis client create --name my-script --scope \"read write\"\n",
        server.issuer()
    );
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(banner.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!(%error, "cannot write the start-up banner to stdout; serving anyway");
    }
    drop(out);
    server.run_until(shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The future that completes on SIGINT or SIGTERM. The handlers are installed here, before the
/// banner says the server is up, so a signal sent as soon as the banner is read is never the
/// default action (an abrupt exit) instead of a graceful stop.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
