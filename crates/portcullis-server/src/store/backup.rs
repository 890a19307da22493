//! Online backup and offline restore of the SQLite database (`portcullis backup|restore`).
//!
//! A backup is `VACUUM INTO` on a read-only connection: a consistent copy of one read
//! transaction, taken while the server goes on serving (in WAL mode the writer is not blocked).
//! It is one self-contained file, created mode 0600 because it holds the sealed keys.
//!
//! A restore must not swap the file under a running server (SQLite would then mix the old WAL
//! with the new file). Every [`SqliteStore`](super::sqlite::SqliteStore), and a backup, holds a
//! shared advisory lock on `PATH.lock` while it has the database open, and a restore takes that
//! lock exclusively, so a restore is refused while any `portcullis` process has the database
//! open, and a server cannot start during a restore.
//!
//! A restore is crash-safe: the backup is copied in (through SQLite, so a `-wal` beside it is
//! read too) to a file beside the database; the database's own WAL is checkpointed into it, and a
//! copy of it is kept as `PATH.before-restore-TIME`; then one rename puts the new file in place.
//! Until that rename the old database is untouched and whole; after it, the new one is.
//!
//! PostgreSQL has its own tools: `pg_dump` and `pg_restore` (docs/operations.md).

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why a backup or restore did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is not SQLite.
    #[error(
        "portcullis backup and restore handle SQLite; for PostgreSQL use pg_dump and pg_restore \
         (docs/operations.md), or portcullis export and import"
    )]
    NotSqlite,
    /// The destination of a backup exists already.
    #[error("{0} exists already; a backup never overwrites a file")]
    Exists(PathBuf),
    /// There is no database to replace.
    #[error(
        "there is no database at {0}; restore replaces an existing one: run it where the server \
         runs, or point it at the server's database with --config FILE or PORTCULLIS_DATABASE"
    )]
    Missing(PathBuf),
    /// A `portcullis` process has the database open.
    #[error(
        "{0} is open in a running portcullis (a server or another command): stop it first, then \
         restore"
    )]
    InUse(PathBuf),
    /// The file to restore is not a Portcullis database.
    #[error("{path} is not a Portcullis database: {reason}")]
    NotPortcullis {
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io {
        action,
        path,
        source,
    }
}

/// The SQLite file a `sqlite:` URL names.
pub fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    if super::Backend::of(url) != Some(super::Backend::Sqlite) {
        return Err(BackupError::NotSqlite);
    }
    Ok(SqliteConnectOptions::from_str(url)?
        .get_filename()
        .to_owned())
}

/// The lock file beside a database.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Creates `path` empty, mode 0600; fails if it exists.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path)
}

fn open_lock(database: &Path) -> std::io::Result<File> {
    let mut open = OpenOptions::new();
    open.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(lock_path(database))
}

/// The shared lock a store holds while it has `database` open; `None` with a message when a
/// restore holds it exclusively.
pub(crate) fn hold_shared(database: &Path) -> Result<File, String> {
    let file = open_lock(database).map_err(|e| {
        format!(
            "cannot open the lock file {}: {e}",
            lock_path(database).display()
        )
    })?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(format!(
            "{} is being restored; try again when the restore has finished",
            database.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!(
            "cannot lock {}: {e}",
            lock_path(database).display()
        )),
    }
}

/// Copies the database `url` names into the new file `destination`, consistently, while it is in
/// use. Returns the size of the copy in bytes.
pub async fn backup(url: &str, destination: &Path) -> Result<u64, BackupError> {
    let database = sqlite_path(url)?;
    if !database.exists() {
        return Err(BackupError::Missing(database));
    }
    // Open, as far as restore is concerned, until the copy is made.
    let _open = hold_shared(&database).map_err(|reason| BackupError::Io {
        action: "locking",
        path: lock_path(&database),
        source: std::io::Error::other(reason),
    })?;
    // VACUUM INTO writes into an empty file: making it first sets its mode and refuses an
    // existing one.
    create_private(destination).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(destination.to_owned()),
        _ => io("creating", destination)(e),
    })?;
    let source = SqliteConnectOptions::from_str(url)?;
    if let Err(error) = vacuum_into(source, destination).await {
        let _ = std::fs::remove_file(destination);
        return Err(error);
    }
    let size = std::fs::metadata(destination)
        .map_err(io("reading", destination))?
        .len();
    Ok(size)
}

/// Copies the database `source` opens into the empty file `destination`, as one read
/// transaction (WAL included), and makes the copy durable.
async fn vacuum_into(source: SqliteConnectOptions, destination: &Path) -> Result<(), BackupError> {
    let mut connection = source
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await?;
    sqlx::query("VACUUM INTO ?")
        .bind(destination.to_string_lossy().into_owned())
        .execute(&mut connection)
        .await?;
    drop(connection);
    File::open(destination)
        .and_then(|f| f.sync_all())
        .map_err(io("writing", destination))
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The database file now in place.
    pub database: PathBuf,
    /// Where the database it replaced was moved, if there was one.
    pub previous: Option<PathBuf>,
}

/// Puts the backup `source` in place of the database `url` names. Refused while any `portcullis`
/// process has that database open, when `source` is not a sound Portcullis database, and, unless
/// `allow_new`, when there is no database to replace (a restore run in the wrong directory).
/// `suffix` names the kept previous database (`PATH.before-restore-SUFFIX`).
pub async fn restore(
    url: &str,
    source: &Path,
    suffix: &str,
    allow_new: bool,
) -> Result<Restored, BackupError> {
    let database = sqlite_path(url)?;
    check_backup(source).await?;
    if !allow_new && !database.exists() {
        return Err(BackupError::Missing(database));
    }

    let lock = open_lock(&database).map_err(io("opening", &lock_path(&database)))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(database)),
        Err(TryLockError::Error(e)) => return Err(io("locking", &lock_path(&database))(e)),
    }

    // The new file first, beside the target, through SQLite: a `-wal` beside the backup is read
    // too. The old database is untouched until the last rename.
    let staging = with_suffix(&database, ".restoring");
    let _ = std::fs::remove_file(&staging);
    create_private(&staging).map_err(io("creating", &staging))?;
    if let Err(error) = vacuum_into(SqliteConnectOptions::new().filename(source), &staging).await {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }

    let previous = if database.exists() {
        // Its WAL into the file, so that the file alone is the whole database: then it can be
        // kept as one file, and the rename below leaves no WAL of it behind.
        let mut old = SqliteConnectOptions::new()
            .filename(&database)
            .connect()
            .await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut old)
            .await?;
        drop(old);
        let kept = with_suffix(&database, &format!(".before-restore-{suffix}"));
        std::fs::copy(&database, &kept).map_err(io("copying", &database))?;
        File::open(&kept)
            .and_then(|f| f.sync_all())
            .map_err(io("writing", &kept))?;
        for ending in ["-wal", "-shm"] {
            let stale = with_suffix(&database, ending);
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(io("removing", &stale))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&staging, &database).map_err(io("moving", &staging))?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    drop(lock);
    Ok(Restored { database, previous })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `source` read-only: SQLite's quick check must pass and it must have Portcullis's
/// migrations table.
async fn check_backup(source: &Path) -> Result<(), BackupError> {
    let refuse = |reason: String| BackupError::NotPortcullis {
        path: source.to_owned(),
        reason,
    };
    if !source.is_file() {
        return Err(refuse("there is no such file".into()));
    }
    let mut connection = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| refuse(e.to_string()))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut connection)
        .await
        .map_err(|e| refuse(e.to_string()))?;
    if check != "ok" {
        return Err(refuse(format!("SQLite's quick check says: {check}")));
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM portcullis_migrations")
        .fetch_one(&mut connection)
        .await
        .map_err(|_| refuse("it has no portcullis_migrations table".into()))?;
    if version.is_none() {
        return Err(refuse("no migration was ever applied to it".into()));
    }
    Ok(())
}
