//! Persistent state behind one trait, so the server, the admin commands and every backend share the
//! same operations. Nothing here is on the client_credentials hot path: the server reads clients and
//! keys into memory (see `registry`) and watches [`Store::revision`] to notice changes.
//!
//! Two backends implement it: SQLite (`sqlite://PATH`, the embedded default) and PostgreSQL
//! (`postgres://…`, for several instances sharing one database). Both pass the same test suite.
//!
//! The SQL is written once, in `sql/`, with `$N` placeholders (which sqlx binds on SQLite too) and
//! `ON CONFLICT` (which both have). Each backend module compiles those files against its own
//! connection types (see `sql/README`) and supplies the small dialect seam: how a write
//! transaction begins, how writers take turns (`Turn`), change notification, and its migration
//! files. This module imports nothing from the rest of the server: everything else depends on it.

pub mod backup;
pub mod device;
pub mod dump;
mod group_commit;
mod migrate;
pub mod postgres;
pub mod proofs;
mod purged;
pub mod registration;
pub mod sign_in;
pub mod sqlite;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

pub use dump::{ConsentRow, DumpRecord};
pub use migrate::{MigrationState, MigrationStatus};
pub use postgres::PostgresStore;
pub use proofs::{ProofStore, PushedRequestRow};
pub use purged::{Cleanup, Purged};
pub use sqlite::SqliteStore;

/// The `server_secrets` row holding the master-key check value: while it exists, every signing key
/// row must be sealed.
pub const MASTER_KEY_CHECK: &str = "master_key_check";

/// The `server_secrets` row of the client-secret HMAC key (sealed by `keys::vault` under a master key).
pub const CLIENT_SECRET_HMAC_KEY: &str = "client_secret_hmac_sha256";

/// The first bytes of a sealed private key (`keys::vault` writes them).
pub const SEALED_KEY_PREFIX: &[u8; 4] = b"PCK1";

/// Whether a stored private key is sealed rather than plain PKCS#8. The store refuses to add a
/// plain key to a database that has a master-key check value, whoever asks.
pub fn is_sealed(private_der: &[u8]) -> bool {
    private_der.starts_with(SEALED_KEY_PREFIX)
}

/// Writes that must not interleave with others of their kind, even across instances. SQLite's one
/// writer makes every write transaction take turns already; PostgreSQL needs to be told.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Turn<'a> {
    /// Schema migrations.
    Migrations,
    /// Signing-key writes (rotation, sealing), so each sees the others' keys.
    Keys,
    /// An import, while it checks that the database is empty.
    Import,
    /// Exchanges of refresh tokens of one grant.
    Grant(&'a str),
}

/// A key's counts in the bucket before the current one and in the current one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// The previous bucket.
    pub previous: i64,
    /// The current bucket.
    pub current: i64,
}

/// A lock as recorded: the key is refused until `until`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LockRow {
    /// Increases with every lock written.
    pub seq: i64,
    /// The hashed key.
    pub key: String,
    /// Unix seconds.
    pub until: i64,
}

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one this build understands.
    #[error("unsupported database URL '{0}': expected sqlite://PATH or postgres://HOST/DATABASE")]
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
    /// The database could not be reached at all.
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// An import was refused before anything was written.
    #[error("import refused: {0}")]
    ImportRefused(String),
    /// There is no database file, and this command may not create one.
    #[error("there is no database at {0}")]
    Missing(String),
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The most connections the pool opens; `None` means the backend's default (SQLite 4,
    /// PostgreSQL 10).
    pub max_connections: Option<u32>,
    /// How long a request waits for a free connection (or for the database to answer a connect).
    pub acquire_timeout: Duration,
    /// Whether to apply pending migrations on open.
    pub migrate: bool,
    /// Whether a missing SQLite file may be created. Only `serve` and `migrate` create a
    /// database; the admin commands open an existing one, so that one run in the wrong directory
    /// does not silently start an empty database there.
    pub create: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
            migrate: true,
            create: true,
        }
    }
}

/// Row counts of the tables that grow with traffic, to see that clean-up keeps them bounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficRows {
    /// `authorization_codes`.
    pub codes: i64,
    /// `sessions`.
    pub sessions: i64,
    /// `refresh_tokens`.
    pub refresh_tokens: i64,
    /// `grant_access_tokens`.
    pub grant_access_tokens: i64,
    /// `revoked_access_tokens`.
    pub revoked_access_tokens: i64,
    /// `grants`.
    pub grants: i64,
    /// `device_codes`.
    pub device_codes: i64,
}

/// How busy the connection pool is, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open.
    pub size: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// Wakes the registry when another process changed clients or keys.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Returns when something may have changed: a notification arrived, or the feed reconnected
    /// and may have missed one. Errors are logged and turned into a wake-up after a pause.
    async fn changed(&mut self);
}

/// A client as stored: metadata is the JSON of `ClientMetadata`, kept as text so new metadata
/// fields need no migration. Serialized as an export line (bytes as base64url).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct ClientRow {
    /// The client identifier.
    pub client_id: String,
    /// HMAC-SHA-256 of the secret under the server's key; `None` for public clients.
    #[serde(with = "dump::b64_opt", default)]
    pub secret_hash: Option<Vec<u8>>,
    /// RFC 7591 metadata, as JSON.
    pub metadata: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
    /// For a client registered at `/register` (RFC 7591): the SHA-256 of its registration access
    /// token (RFC 7592). `None` for a client an administrator made.
    #[serde(
        with = "dump::b64_opt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub registration_token_hash: Option<Vec<u8>>,
}

/// A signing key as stored. Serialized as an export line (bytes as base64url).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct KeyRow {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// PKCS#8 DER private key, or its sealed form (see [`is_sealed`]).
    #[serde(with = "dump::b64")]
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
pub trait Store:
    sign_in::SignInStore
    + ThrottleStore
    + ProofStore
    + device::DeviceStore
    + registration::RegistrationStore
    + Send
    + Sync
    + 'static
{
    /// The change counter.
    async fn revision(&self) -> Result<i64, StoreError>;

    /// A feed of change notifications from other processes, if the backend has one
    /// (PostgreSQL's LISTEN/NOTIFY). Without one, the registry relies on polling alone.
    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(None)
    }

    /// The pool's current use.
    fn pool_stats(&self) -> PoolStats;

    /// One round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies pending migrations; refuses a schema newer than this binary.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Which migrations are applied and which are pending.
    async fn migration_status(&self) -> Result<MigrationStatus, StoreError>;

    /// Deletes up to `batch` rows per table that nothing can use any more as of `now`.
    async fn purge_expired(&self, now: i64, batch: i64) -> Result<Purged, StoreError>;
    /// Row counts of the tables that grow with traffic.
    async fn traffic_rows(&self) -> Result<TrafficRows, StoreError>;

    /// Every server secret, for export.
    async fn server_secrets(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Every consent, for export.
    async fn consents(&self) -> Result<Vec<ConsentRow>, StoreError>;
    /// Writes an export into this (empty) database in one transaction: all of it or nothing.
    async fn import(&self, records: &[DumpRecord]) -> Result<(), StoreError>;

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
    /// Replaces the given keys' private parts and server secrets with their sealed form and, when
    /// `check` is given, records the master-key check value, in one transaction. Fails with
    /// `Conflict` if `check` is given and a check value exists already (another process sealed
    /// first).
    async fn seal_signing_keys(
        &self,
        check: Option<&[u8]>,
        sealed: &[(String, Vec<u8>)],
        secrets: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError>;
    /// `keys rekey`: replaces the master-key check value `old_check` (none: there is none yet)
    /// with `new_check`, and the given keys' private parts and server secrets with their form
    /// under the new key, in one transaction. Fails with `Conflict`, writing nothing, when the
    /// check value is no longer `old_check` (another rekey went first), or when the database
    /// holds a key or sealed secret that is not among those given (added while the rekey read).
    async fn reseal(
        &self,
        old_check: Option<&[u8]>,
        new_check: &[u8],
        keys: &[(String, Vec<u8>)],
        secrets: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError>;
    /// Adds a first key for its algorithm (a plain key is refused with `Conflict` once the
    /// database has a master-key check value) unless one is already in service at `key.activates_at`;
    /// false if there was one. Instances starting together on a new database thus make one key
    /// per algorithm between them, not one each.
    /// `sealed_under`: the check value the caller's master key matched; if the database's is
    /// another now (a rekey ran), `Conflict`: no key is added under a replaced master key.
    async fn insert_initial_signing_key(
        &self,
        key: &KeyRow,
        sealed_under: Option<&[u8]>,
    ) -> Result<bool, StoreError>;
    /// Adds a key and, in the same transaction, sets `retires_at = key.activates_at` on every
    /// not-yet-retired key of the same algorithm when `retire_previous` is set. A plain key is
    /// refused with `Conflict` once the database has a master-key check value.
    /// `sealed_under` as for [`Store::insert_initial_signing_key`].
    async fn insert_signing_key(
        &self,
        key: &KeyRow,
        retire_previous: bool,
        sealed_under: Option<&[u8]>,
    ) -> Result<(), StoreError>;
}

/// Failed-attempt counters and locks (see `crate::throttle`).
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Adds each `(key, delta)` to that key's count in `bucket` (a row that can go at
    /// `expires_at`) and returns each key's counts in the previous bucket and this one after the
    /// change, in one transaction: concurrent callers, on any instance, each see a distinct count.
    async fn count_attempts(
        &self,
        bucket: i64,
        expires_at: i64,
        changes: &[(&str, i64)],
    ) -> Result<Vec<Counts>, StoreError>;
    /// Records that `key` is locked until `until` and wakes the other instances' change feeds.
    async fn lock_key(&self, key: &str, until: i64) -> Result<(), StoreError>;
    /// Locks recorded with a sequence number above `seq` that are still in force at `now`.
    async fn locks_after(&self, seq: i64, now: i64) -> Result<Vec<LockRow>, StoreError>;
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// Opens the store a database URL names with explicit pool and migration settings.
pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = match Backend::of(url) {
        Some(Backend::Sqlite) => Arc::new(SqliteStore::connect(url, options).await?),
        Some(Backend::Postgres) => Arc::new(PostgresStore::connect(url, options).await?),
        None => return Err(StoreError::UnsupportedUrl(url.to_owned())),
    };
    if options.migrate {
        store.migrate().await?;
    }
    Ok(store)
}

/// The database kinds Portcullis can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

impl Backend {
    /// The backend a URL names, if any.
    ///
    /// ```
    /// use portcullis_server::store::Backend;
    /// assert_eq!(Backend::of("postgres://db/portcullis"), Some(Backend::Postgres));
    /// assert_eq!(Backend::of("sqlite://portcullis.db"), Some(Backend::Sqlite));
    /// assert_eq!(Backend::of("mysql://db"), None);
    /// ```
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Turns a connection failure into a message that says what to check, and passes other errors on.
pub(crate) fn connect_error(error: sqlx::Error) -> StoreError {
    match error {
        // rustls refusing the server's certificate surfaces as an I/O error: say what to check.
        sqlx::Error::Io(e)
            if e.get_ref()
                .is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>()) =>
        {
            StoreError::Unreachable(format!(
                "TLS: the database server's certificate was refused ({e}); check sslrootcert \
                 (the file of the CA that signed that certificate) and sslmode (verify-full \
                 also needs the host name in the certificate)"
            ))
        }
        sqlx::Error::Io(e) => {
            StoreError::Unreachable(format!("{e}; is the database running and reachable?"))
        }
        sqlx::Error::PoolTimedOut => StoreError::Unreachable(
            "timed out waiting for a connection; is the database running and reachable?".into(),
        ),
        sqlx::Error::Tls(e) => StoreError::Unreachable(format!("TLS: {e}")),
        sqlx::Error::Database(e) => StoreError::Unreachable(e.message().to_owned()),
        other => StoreError::Database(other),
    }
}

/// How long an authorization code row outlives its expiry, so a replay soon after still revokes
/// what the code granted.
pub const CODE_RETENTION_SECS: i64 = 3600;

pub(crate) fn import_target_not_empty() -> StoreError {
    StoreError::ImportRefused(
        "the target database already has clients, users or signing keys; import into a new \
         database (create it with `portcullis migrate`, which makes no keys)"
            .into(),
    )
}

pub(crate) fn import_failed(record: &DumpRecord, error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(e) if e.is_unique_violation() || e.is_foreign_key_violation() => {
            StoreError::ImportRefused(format!(
                "a {} record conflicts with another ({}); nothing was imported",
                record.kind(),
                e.message()
            ))
        }
        other => StoreError::Database(other),
    }
}
