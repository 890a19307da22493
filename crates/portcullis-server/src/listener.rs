//! The accept loop: HTTP/1.1 connections with the limits a public endpoint needs. axum's own
//! `serve` sets no timeouts, so a client that sends its headers or body one byte a minute would
//! hold a connection and a task forever; here the headers must arrive within
//! `limits.header_timeout`, the whole request within `limits.request_timeout` (else 408), and the
//! header block may not exceed `limits.max_header_bytes` (hyper answers 431).

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::Service;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time allowed to send the request line and headers.
    pub header_timeout: Duration,
    /// Time allowed for the whole request, body included, and its answer.
    pub request_timeout: Duration,
    /// Largest header block accepted.
    pub max_header_bytes: usize,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight finish.
/// With `tls`, every connection is a TLS handshake first (which must finish within the header
/// timeout).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Running out of file descriptors must not end the server: back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_io(stream, router, peer, limits, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls_stream)) => {
                            serve_io(tls_stream, router, peer, limits, watcher).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    Ok(())
}

async fn serve_io<I>(
    io: I,
    router: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // The connection's own copy of the router. Calling it borrows it, where `oneshot` would need a
    // clone of the shared one, and so a reference count that both workers update, for every
    // request. The borrow lasts only for `call`, whose future owns what it needs, so it can never
    // meet another one, even with pipelined requests.
    let router = RefCell::new(router);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        // A Router is always ready (its `poll_ready` does nothing), so it may be called directly.
        let answer = router.borrow_mut().call(request);
        with_timeout(answer, limits.request_timeout)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        .serve_connection(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, %peer, "connection ended with an error");
    }
}

async fn with_timeout(
    answer: impl Future<Output = Result<Response<Body>, Infallible>>,
    timeout: Duration,
) -> Result<Response<Body>, Infallible> {
    match tokio::time::timeout(timeout, answer).await {
        Ok(answer) => answer,
        Err(_) => Ok(request_timeout()),
    }
}

fn request_timeout() -> Response<Body> {
    let mut response = Response::new(Body::from(
        r#"{"error":"invalid_request","error_description":"the request was not received in time"}"#,
    ));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
