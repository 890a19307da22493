//! The HTTP surface: one axum router, the shared state its handlers read, and (in [`error`]) the one
//! place where errors become status codes.

pub mod client_ip;
pub mod cors;
pub mod discovery;
pub mod error;
pub mod health;
pub mod introspect;
pub mod logout;
pub mod observe;
pub mod pages;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::client_secret::SecretHasher;
use crate::grant::access_token::TokenSettings;
use crate::grant::user_tokens::UserTokenSettings;
use crate::registry::Registry;
use crate::store::Store;
use crate::throttle::{Key, Limited};
use crate::users::PasswordHasher;
use axum::Router;
use axum::body::Bytes;
use axum::routing::{any, get};
use portcullis_core::Clock;
use std::sync::Arc;

/// Everything a request handler may read. Built once at start; the registry inside swaps its
/// snapshot when clients or keys change.
pub struct AppState {
    /// Clients and keys in memory.
    pub registry: Arc<Registry>,
    /// Checks client secrets.
    pub hasher: SecretHasher,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Issuer, lifetime and default algorithm.
    pub tokens: TokenSettings,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a rotated key waits before signing; bounds JWKS caching.
    pub activation_delay: u64,
    /// The RFC 8414 document, serialized once.
    pub metadata_json: Bytes,
    /// The database, for the sign-in flows (never on the client_credentials path).
    pub store: Arc<dyn Store>,
    /// Settings of codes, ID tokens and refresh tokens.
    pub user_tokens: UserTokenSettings,
    /// Checks passwords off the async workers.
    pub passwords: PasswordHasher,
    /// Failed sign-ins, per username and per address.
    pub sign_in_throttle: crate::throttle::Throttle,
    /// The HTML pages.
    pub pages: pages::Pages,
    /// Browser session lifetime.
    pub session_lifetime: u64,
    /// The session and CSRF cookies (`__Host-` and `Secure` when the issuer is https).
    pub cookies: crate::authorize::session::Cookies,
    /// Failed client authentications, per (client_id, address) and per address.
    pub client_auth_throttle: crate::throttle::Throttle,
    /// The limits of both throttles.
    pub limits: FailureLimits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<client_ip::IpNet>,
    /// Prometheus counters.
    pub metrics: crate::metrics::Metrics,
    /// Origins allowed to call the token, userinfo, introspection and revocation endpoints.
    pub cors_origins: Vec<String>,
    /// The consent page's words for configured scopes (`[scopes.NAME] description`).
    pub scope_descriptions: std::collections::HashMap<String, String>,
}

impl AppState {
    /// The longest any token signed by our keys stays valid: how long a retired key must stay
    /// published and usable for checking.
    pub fn max_token_lifetime(&self) -> u64 {
        self.tokens
            .access_token_lifetime
            .max(self.user_tokens.id_token_lifetime)
    }
}

/// How many failures each throttle key allows within its window.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimits {
    /// Failed sign-ins per username.
    pub sign_in_per_username: u64,
    /// Failed sign-ins per address.
    pub sign_in_per_address: u64,
    /// Failed client authentications per (client_id, address).
    pub client_per_address: u64,
    /// Failed client authentications per address.
    pub client_address: u64,
}

impl AppState {
    /// The throttle keys of a sign-in attempt.
    pub fn sign_in_keys(&self, username: &str, ip: std::net::IpAddr) -> [Limited; 2] {
        [
            Limited::new(Key::username(username), self.limits.sign_in_per_username),
            Limited::address(Key::sign_in_address(ip), self.limits.sign_in_per_address),
        ]
    }

    /// The throttle keys of a client authentication.
    pub fn client_auth_keys(&self, client_id: &str, ip: std::net::IpAddr) -> [Limited; 2] {
        [
            Limited::new(
                Key::client_at(client_id, ip),
                self.limits.client_per_address,
            ),
            Limited::address(Key::client_address(ip), self.limits.client_address),
        ]
    }
}

/// Builds the router over the shared state.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
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
            get(crate::authorize::authorize).post(crate::authorize::authorize),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/logout", get(logout::logout).post(logout::logout))
        .route("/introspect", any(introspect::introspect))
        .route("/revoke", any(revoke::revoke))
        .route("/assets/portcullis.css", get(pages::stylesheet))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(observe::metrics))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
