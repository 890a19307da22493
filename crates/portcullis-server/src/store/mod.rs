//! Persistent state behind one trait, so the server, the admin commands and every backend share the
//! same operations. Nothing here is on the client_credentials hot path: the server reads clients and
//! keys into memory (see `registry`) and polls [`Store::revision`] to notice changes.

mod migrate;
pub mod sign_in;
pub mod sqlite;
mod sqlite_sign_in;

use async_trait::async_trait;

pub use sqlite::SqliteStore;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one this build understands.
    #[error("unsupported database URL '{0}': expected sqlite://PATH")]
    UnsupportedUrl(String),
    /// The database could not be opened or a statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema is newer than this binary knows; refusing to touch it.
    #[error(
        "the database schema is at version {found}, newer than this portcullis knows ({known}); upgrade portcullis"
    )]
    NewerSchema {
        /// Version found in the database.
        found: i64,
        /// Newest version this binary ships.
        known: i64,
    },
    /// A row with this key exists already.
    #[error("{0} already exists")]
    Conflict(String),
}

/// A client as stored: metadata is the JSON of `ClientMetadata`, kept as text so new metadata
/// fields need no migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// The client identifier.
    pub client_id: String,
    /// HMAC-SHA-256 of the secret under the server's key; `None` for public clients.
    pub secret_hash: Option<Vec<u8>>,
    /// RFC 7591 metadata, as JSON.
    pub metadata: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// A signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// PKCS#8 DER private key.
    pub private_der: Vec<u8>,
    /// When it was made (and first published).
    pub created_at: i64,
    /// When it starts signing.
    pub activates_at: i64,
    /// When it stops signing; it stays published until its last token has expired.
    pub retires_at: Option<i64>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_der", &"[redacted]")
            .field("activates_at", &self.activates_at)
            .field("retires_at", &self.retires_at)
            .finish()
    }
}

/// The storage operations Portcullis needs. Every write that a running server must notice bumps the
/// revision in the same transaction.
#[async_trait]
pub trait Store: sign_in::SignInStore + Send + Sync + 'static {
    /// The change counter.
    async fn revision(&self) -> Result<i64, StoreError>;

    /// The named server secret, storing `candidate` first if there is none yet. Concurrent callers
    /// all get the one value that won.
    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Every client.
    async fn clients(&self) -> Result<Vec<ClientRow>, StoreError>;
    /// One client.
    async fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError>;
    /// Adds a client; [`StoreError::Conflict`] if the id is taken.
    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError>;
    /// Replaces a client's metadata and secret hash; false if there is no such client.
    async fn update_client(&self, row: &ClientRow) -> Result<bool, StoreError>;
    /// Removes a client; false if there was none.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;

    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<KeyRow>, StoreError>;
    /// Adds a key and, in the same transaction, sets `retires_at = key.activates_at` on every
    /// not-yet-retired key of the same algorithm when `retire_previous` is set.
    async fn insert_signing_key(
        &self,
        key: &KeyRow,
        retire_previous: bool,
    ) -> Result<(), StoreError>;
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
