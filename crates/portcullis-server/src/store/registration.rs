//! Storage for dynamic client registration (RFC 7591): initial access tokens. (A registered
//! client's registration access token is kept with the client, in `ClientRow`.)

use super::{ClientRow, StoreError};
use async_trait::async_trait;

/// An initial access token as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InitialAccessTokenRow {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// When it was made.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// How many registrations it allows; `None` for any number.
    pub max_uses: Option<i64>,
    /// How many it has allowed.
    pub uses: i64,
}

/// Initial access tokens.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Stores a new token.
    async fn insert_initial_access_token(
        &self,
        row: &InitialAccessTokenRow,
    ) -> Result<(), StoreError>;
    /// Counts one use of the token; false (counting nothing) if it is unknown, expired or used
    /// up. One conditional statement: of concurrent uses, no more than `max_uses` succeed.
    async fn use_initial_access_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Whether the token would be accepted now, without using it.
    async fn initial_access_token_valid(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Replaces a self-registered client's row if it still has the registration token and the
    /// secret it was read with (RFC 7592 §2.2), so of concurrent updates with one token exactly one
    /// wins, and one that read before an administrator changed the client loses; false then.
    /// The users' consents to the client go with the old registration.
    async fn replace_registered_client(
        &self,
        row: &ClientRow,
        read_token_hash: &[u8],
        read_secret_hash: Option<&[u8]>,
    ) -> Result<bool, StoreError>;
    /// Deletes a self-registered client if it still has this registration token.
    async fn delete_registered_client(
        &self,
        client_id: &str,
        token_hash: &[u8],
    ) -> Result<bool, StoreError>;
}
