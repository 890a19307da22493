//! Storage for what a client proves once: single-use values (client assertion and DPoP proof
//! `jti`s) and pushed authorization requests (RFC 9126).

use super::StoreError;
use async_trait::async_trait;

/// A pushed authorization request (RFC 9126) as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PushedRequestRow {
    /// SHA-256 of the `request_uri`.
    pub request_hash: Vec<u8>,
    /// The client that pushed it, authenticated.
    pub client_id: String,
    /// The request's parameters, form-encoded, as pushed.
    pub params: String,
    /// When the `request_uri` stops working.
    pub expires_at: i64,
    /// Set when an authorization code was issued from it.
    pub used_at: Option<i64>,
    /// Set when a browser first brought its `request_uri` to `/authorize`.
    pub visited_at: Option<i64>,
}

/// Values that may be accepted only once, and pushed authorization requests: what lets every
/// instance refuse a replayed client assertion, DPoP proof or `request_uri`.
#[async_trait]
pub trait ProofStore: Send + Sync {
    /// Records `key` as used until `expires_at`; false if it is recorded already and has not
    /// expired by `now`. Of concurrent callers with one key, on any instance, exactly one gets true.
    async fn use_once(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StoreError>;
    /// Stores a pushed request.
    async fn push_request(&self, row: &PushedRequestRow) -> Result<(), StoreError>;
    /// The pushed request under this hash, if it is neither used nor expired at `now`.
    async fn pushed_request(
        &self,
        request_hash: &[u8],
        now: i64,
    ) -> Result<Option<PushedRequestRow>, StoreError>;
    /// Records the first visit of the pushed request and gives the sign-in until `expires_at`;
    /// false if it was visited already, used, or has expired.
    async fn visit_pushed_request(
        &self,
        request_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Binds a grant's refresh tokens to a DPoP key, if they are bound to none yet; false if they
    /// are (RFC 9449 §5: a public client's first refresh with a proof binds the rest).
    async fn bind_grant_key(&self, grant_id: &str, jkt: &str) -> Result<bool, StoreError>;
    /// Marks the pushed request used; false if it was used already or has expired, so of two
    /// concurrent callers one gets true.
    async fn use_pushed_request(&self, request_hash: &[u8], now: i64) -> Result<bool, StoreError>;
}
