//! Storage for dynamic client registration (RFC 7591): initial access tokens. (A registered
//! client's registration access token is kept with the client, in `ClientRow`.)

use super::StoreError;
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
}
