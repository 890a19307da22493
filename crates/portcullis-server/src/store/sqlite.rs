//! The embedded default: one SQLite file in WAL mode, shared safely by the server and the admin
//! commands running beside it. This file is SQLite's side of the dialect seam; the SQL is in
//! `sql/`, compiled here against SQLite's types.

use super::group_commit::{GroupCommit, Rotation};
use super::sign_in::IssuedTokens;
use super::{ChangeFeed, StoreError, StoreOptions, Turn, connect_error, migrate};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

type Conn = sqlx::SqliteConnection;
type Pool = sqlx::SqlitePool;
type This = SqliteStore;

/// A SQLite-backed [`Store`](super::Store).
///
/// SQLite has one writer at a time. When several connections of one process race for it, the
/// losers sleep in SQLite's busy handler (1 ms, 2 ms, 5 ms, … up to 100 ms) instead of queueing,
/// which under load cost most of the refresh grant's time. So every write goes through `writer`,
/// a pool of one connection where writers wait their turn in order; `pool` holds read-only
/// connections, which WAL mode lets read beside the writer. The busy timeout is then only for
/// writers in other processes (the admin commands).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
    writer: Pool,
    rotations: GroupCommit,
    /// The shared lock on `PATH.lock` that keeps `portcullis restore` away while the database is
    /// open (see `store::backup`); `None` for `:memory:`.
    _lock: Option<std::sync::Arc<std::fs::File>>,
}

impl SqliteStore {
    /// Opens the database at `url` without migrating it, creating the file only when
    /// `store_options.create` allows.
    pub async fn connect(url: &str, store_options: &StoreOptions) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(store_options.create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Temporary tables (a materialized `VALUES` list, a sort) in memory: as files, each
            // group commit created and deleted one.
            .pragma("temp_store", "memory");
        let path = options.get_filename();
        let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
        if store_options.create {
            create_private_file(path);
        } else if !in_memory && !path.exists() {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            return Err(StoreError::Missing(shown.display().to_string()));
        }
        let lock = if in_memory {
            None
        } else {
            Some(std::sync::Arc::new(
                super::backup::hold_shared(path).map_err(StoreError::Unreachable)?,
            ))
        };
        // The writer first: it creates the file and puts it in WAL mode, which readers need.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(store_options.acquire_timeout)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "10000"))
            .await
            .map_err(connect_error)?;
        if in_memory {
            // Each connection to `:memory:` is a database of its own: one connection does all.
            return Ok(SqliteStore {
                pool: writer.clone(),
                rotations: GroupCommit::start(writer.clone(), None)?,
                writer,
                _lock: lock,
            });
        }
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(connect_error)?;
        let rotations = GroupCommit::start(writer.clone(), Some(checkpointer))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(store_options.max_connections.unwrap_or(4))
            .test_before_acquire(false)
            .acquire_timeout(store_options.acquire_timeout)
            .connect_with(options.read_only(true))
            .await
            .map_err(connect_error)?;
        Ok(SqliteStore {
            pool,
            writer,
            rotations,
            _lock: lock,
        })
    }
}

/// The database holds signing keys: create it readable by its owner only. SQLite gives its `-wal`
/// and `-shm` files the same permissions. An existing file is left as it is.
fn create_private_file(path: &std::path::Path) {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" || path.exists() {
        return;
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    // If this fails, SQLite's own create_if_missing reports the real problem.
    let _ = open.open(path);
}

// The dialect seam.

const MIGRATIONS: &[migrate::Migration] = migrate::SQLITE;
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS portcullis_migrations (
    version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";

/// `BEGIN IMMEDIATE` takes the database's one write lock first, so two writers queue at the start
/// (for `busy_timeout`) instead of one failing at its first write.
async fn begin_write(pool: &Pool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Nothing to do: a write transaction already holds the only write lock.
async fn take_turns(_tx: &mut Conn, _turn: Turn<'_>) -> Result<(), sqlx::Error> {
    Ok(())
}

/// Nothing to send: other processes notice changes by polling the revision.
async fn notify(_tx: &mut Conn, _payload: &str) -> Result<(), sqlx::Error> {
    Ok(())
}

/// Plain rotations go to the group commit (see `group_commit`); the rare grace-period one
/// (`None`) is written statement by statement.
async fn rotate_in_group(
    this: &This,
    token_hash: &[u8],
    now: i64,
    tokens: &IssuedTokens,
    grace: bool,
) -> Option<Result<bool, StoreError>> {
    let refresh = tokens.refresh.clone().filter(|_| !grace)?;
    let rotation = Rotation {
        presented: token_hash.to_vec(),
        now,
        refresh,
        access: tokens.access.clone(),
    };
    Some(this.rotations.rotate(rotation).await)
}

async fn change_feed(_pool: &Pool) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
    Ok(None)
}

mod shared {
    include!("sql/shared.rs");
}
mod store {
    include!("sql/store.rs");
}
mod sign_in {
    include!("sql/sign_in.rs");
}
mod maintenance {
    include!("sql/maintenance.rs");
}
mod proofs {
    include!("sql/proofs.rs");
}
mod device {
    include!("sql/device.rs");
}
mod registration {
    include!("sql/registration.rs");
}
