//! The embedded default: one SQLite file in WAL mode, shared safely by the server and the admin
//! commands running beside it. This file is SQLite's side of the dialect seam; the SQL is in
//! `sql/`, compiled here against SQLite's types.

use super::{ChangeFeed, StoreError, StoreOptions, Turn, connect_error, migrate};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

type Conn = sqlx::SqliteConnection;
type Pool = sqlx::SqlitePool;
type This = SqliteStore;

/// A SQLite-backed [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
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
            .foreign_keys(true);
        let path = options.get_filename();
        let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
        if store_options.create {
            create_private_file(path);
        } else if !in_memory && !path.exists() {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            return Err(StoreError::Missing(shown.display().to_string()));
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(store_options.max_connections.unwrap_or(4))
            .acquire_timeout(store_options.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(SqliteStore { pool })
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
