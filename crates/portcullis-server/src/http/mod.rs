//! The HTTP surface: one axum router, the shared state its handlers read, and (in [`error`]) the one
//! place where errors become status codes.

pub mod authorize;
pub mod client_ip;
pub mod cors;
pub mod device;
pub mod discovery;
pub mod error;
pub mod health;
pub mod introspect;
pub mod logout;
pub mod observe;
pub mod pages;
pub mod par;
pub mod registration;
pub mod revoke;
pub mod session;
pub mod token;
pub mod userinfo;

use crate::oauth::Issuer;
use axum::Router;
use axum::body::Bytes;
use axum::routing::{any, get, post};
use std::sync::Arc;

/// Everything a request handler may read: the protocol layer's [`Issuer`] and what only HTTP needs
/// (pages, cookies, proxies, origins, limits on bodies). Built once at start.
pub struct AppState {
    /// The protocol layer: store, registry, keys, clock and settings.
    pub issuer: Issuer,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a rotated key waits before signing; bounds JWKS caching.
    pub activation_delay: u64,
    /// The RFC 8414 document, serialized once.
    pub metadata_json: Bytes,
    /// The HTML pages.
    pub pages: pages::Pages,
    /// The session and CSRF cookies (`__Host-` and `Secure` when the issuer is https).
    pub cookies: session::Cookies,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<crate::config::IpNet>,
    /// The consent page's words for configured scopes (`[scopes.NAME] description`).
    pub scope_descriptions: std::collections::HashMap<String, String>,
    /// Origins allowed to call the token, userinfo, introspection and revocation endpoints.
    pub cors_origins: Vec<crate::config::Origin>,
    /// Whether each request is also a `tracing` span (for text logs; see `observe::observe`).
    pub request_spans: bool,
}

/// Builds the router over the shared state. With `public_metrics` false (a `metrics_listen` is
/// set), `/metrics` is left out and answers 404 like any unknown path.
pub fn router(state: Arc<AppState>, public_metrics: bool) -> Router {
    let router = Router::new()
        .route("/token", any(token::token))
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route("/jwks.json", get(discovery::jwks))
        .route(
            "/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/logout", get(logout::logout).post(logout::logout))
        .route("/introspect", any(introspect::introspect))
        .route("/revoke", any(revoke::revoke))
        .route("/par", post(par::par).fallback(par::not_post))
        .route(
            "/device_authorization",
            post(device::device_authorization).fallback(par::not_post),
        )
        .route("/device", get(device::device).post(device::device))
        .route("/assets/portcullis.css", get(pages::stylesheet))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    // Dynamic registration exists only when enabled: otherwise /register is an unknown path.
    let router = if state.issuer.registration.enabled {
        router
            .route(
                "/register",
                post(registration::register).fallback(|| registration::not_allowed("POST")),
            )
            .route(
                "/register/{client_id}",
                get(registration::show)
                    .put(registration::update)
                    .delete(registration::delete)
                    .fallback(|| registration::not_allowed("GET, PUT, DELETE")),
            )
    } else {
        router
    };
    let router = if public_metrics {
        router.route("/metrics", get(observe::metrics))
    } else {
        router
    };
    router
        .fallback(error::not_found)
        .layer(observe::ObserveLayer(state.clone()))
        .with_state(state)
}

/// The router of the `metrics_listen` listener: `/metrics` and the health endpoints only. Its
/// requests are not counted in the metrics, so that scrapes do not show up as traffic.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(observe::metrics))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .fallback(error::not_found)
        .with_state(state)
}
