//! The child spans of a request, for tracing (`otel_endpoint`, with the binary's `otel` feature)
//! and text logs: signing, and the database calls of the grants and of revocation. The request
//! span itself is made in `http/observe.rs`.
//!
//! Off unless [`enable`] was called: JSON logs at full speed make no span at all, so these cost
//! one relaxed load there.

use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Span;

static ON: AtomicBool = AtomicBool::new(false);
static OTEL: AtomicBool = AtomicBool::new(false);

/// Turns the spans on for this process (the server does when it traces or logs text).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Turns the spans on, with the `otel.*` fields that name them for OpenTelemetry (which text logs
/// would print too, so they are left out there).
pub fn enable_otel() {
    OTEL.store(true, Ordering::Relaxed);
    enable();
}

/// Whether spans carry their OpenTelemetry names.
pub fn otel() -> bool {
    OTEL.load(Ordering::Relaxed)
}

/// Whether spans are made.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// A database call, named by the store operation (`rotate_refresh`, `revoke_grant`, …).
pub fn db(operation: &'static str) -> Span {
    if !enabled() {
        return Span::none();
    }
    if otel() {
        tracing::info_span!("db", otel.name = operation, db.operation.name = operation)
    } else {
        tracing::info_span!("db", operation)
    }
}

/// Signing a JWT with `alg`.
pub fn sign(alg: &'static str) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!("sign", alg)
}
