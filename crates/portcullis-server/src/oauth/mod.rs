//! The protocol layer: every OAuth 2.0 and OpenID Connect decision, with no HTTP in it. Nothing
//! under `oauth/` names axum, hyper or the `http` crate (`tests/it/structure.rs` fails the build if
//! a file does), so each step can be called and tested without a socket; `http/` reads requests
//! into the types here and turns what comes back into responses.

pub mod authorization_request;
pub mod authorization_response;
pub mod authorize;
pub mod bearer;
pub mod client_assertion;
pub mod client_auth;
pub mod device;
pub mod dpop;
pub mod error;
pub mod grant;
pub mod introspection;
pub mod logout;
pub mod metadata;
pub mod par;
pub mod registration;
pub mod revocation;
pub mod settings;
pub mod userinfo;

use crate::client_secret::SecretHasher;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::Store;
use crate::throttle::{Key, Limited, Throttle};
use crate::users::PasswordHasher;
use portcullis_core::Clock;
use settings::{TokenSettings, UserTokenSettings};
use std::net::IpAddr;
use std::sync::Arc;

/// What every protocol step reads: the store, the clients and keys in memory, the clock and the
/// settings. Built once at start; the registry inside swaps its snapshot when clients or keys
/// change.
pub struct Issuer {
    /// Clients and keys in memory.
    pub registry: Arc<Registry>,
    /// The database, for the sign-in flows (never on the client_credentials path).
    pub store: Arc<dyn Store>,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Checks client secrets.
    pub hasher: SecretHasher,
    /// Checks passwords off the async workers.
    pub passwords: PasswordHasher,
    /// Issuer, lifetime and default algorithm of access tokens.
    pub tokens: TokenSettings,
    /// Settings of codes, ID tokens and refresh tokens.
    pub user_tokens: UserTokenSettings,
    /// Failed sign-ins, per username and per address.
    pub sign_in_throttle: Throttle,
    /// Failed client authentications, per (client_id, address) and per address.
    pub client_auth_throttle: Throttle,
    /// The limits of both throttles.
    pub limits: FailureLimits,
    /// Browser session lifetime, in seconds.
    pub session_lifetime: u64,
    /// Prometheus counters.
    pub metrics: Metrics,
    /// Access tokens already verified (signature, issuer), for introspection and `/userinfo`.
    pub verified: bearer::VerifiedCache,
    /// The keys of `private_key_jwt` clients that publish them at a `jwks_uri`.
    pub client_keys: crate::client_keys::ClientKeys,
    /// Every authorization request must be pushed first (RFC 9126 §5).
    pub par_required: bool,
    /// DPoP server nonces (RFC 9449 §8).
    pub dpop_nonces: dpop::DpopNonces,
    /// The Device Authorization Grant's lifetimes.
    pub device: settings::DeviceSettings,
    /// Dynamic client registration (RFC 7591).
    pub registration: registration::RegistrationSettings,
    /// Registration requests, per address.
    pub registration_throttle: Throttle,
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
    /// Wrong user codes typed at `/device` per address (RFC 8628 §5.1).
    pub user_code_per_address: u64,
    /// Device authorizations started per address (RFC 8628 §5.2: codes are not free to make).
    pub device_authorization_per_address: u64,
}

impl Issuer {
    /// The issuer identifier (RFC 8414 §2), as tokens carry it in `iss`.
    pub fn issuer(&self) -> &str {
        &self.tokens.issuer
    }

    /// The longest any token signed by our keys stays valid: how long a retired key must stay
    /// published and usable for checking.
    pub fn max_token_lifetime(&self) -> u64 {
        self.tokens
            .access_token_lifetime
            .max(self.user_tokens.id_token_lifetime)
    }

    /// Reloads the registry after this instance revoked something, so that its own introspection
    /// and `/userinfo` refuse the tokens at once; other instances follow through the change feed.
    pub async fn revoked(&self) {
        if let Err(error) = self.registry.refresh().await {
            tracing::warn!(%error, "could not reload the deny list after a revocation");
        }
    }

    /// An access token of ours, verified (or remembered as verified) against `snapshot`'s keys,
    /// not expired, and issued to a client that is still registered
    /// ([`bearer::issued_to_current_client`]): deleting a client ends its tokens here
    /// (introspection, `/userinfo`, token exchange), though a resource server that checks them
    /// itself accepts them until they expire. The deny list is the caller's to check.
    pub fn verify_access_token(
        &self,
        token: &str,
        snapshot: &crate::registry::Snapshot,
    ) -> Option<std::sync::Arc<bearer::VerifiedToken>> {
        self.verified
            .access_token(
                token,
                snapshot,
                self.issuer(),
                self.clock.now(),
                self.max_token_lifetime(),
            )
            .filter(|verified| bearer::issued_to_current_client(verified, snapshot))
    }

    /// The throttle keys of a sign-in attempt.
    pub fn sign_in_keys(&self, username: &str, ip: IpAddr) -> [Limited; 2] {
        [
            Limited::new(Key::username(username), self.limits.sign_in_per_username),
            Limited::address(Key::sign_in_address(ip), self.limits.sign_in_per_address),
        ]
    }

    /// The throttle key of a user code typed at `/device`.
    pub fn user_code_keys(&self, ip: IpAddr) -> [Limited; 1] {
        [Limited::address(
            Key::user_code_address(ip),
            self.limits.user_code_per_address,
        )]
    }

    /// The throttle key of a device authorization request.
    pub fn device_authorization_keys(&self, ip: IpAddr) -> [Limited; 1] {
        [Limited::address(
            Key::device_authorization_address(ip),
            self.limits.device_authorization_per_address,
        )]
    }

    /// The throttle keys of a client authentication.
    pub fn client_auth_keys(&self, client_id: &str, ip: IpAddr) -> [Limited; 2] {
        [
            Limited::new(
                Key::client_at(client_id, ip),
                self.limits.client_per_address,
            ),
            Limited::address(Key::client_address(ip), self.limits.client_address),
        ]
    }
}

#[cfg(test)]
pub(crate) mod testing;
