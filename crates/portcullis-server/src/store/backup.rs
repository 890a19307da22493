//! Online backup and offline restore of the SQLite database (`portcullis backup|restore`).
//!
//! A backup is `VACUUM INTO` on a read-only connection: a consistent copy of one read
//! transaction, taken while the server goes on serving (in WAL mode the writer is not blocked).
//! It is one self-contained file, created mode 0600 because it holds the sealed keys.
//!
//! A restore must not swap the file under a running server (SQLite would then mix the old WAL
//! with the new file). Every [`SqliteStore`](super::sqlite::SqliteStore) holds a shared advisory
//! lock on `PATH.lock` while it is open, and a restore takes that lock exclusively, so a restore
//! is refused while any `portcullis` process has the database open, and a server cannot start
//! during a restore. The database it replaces is kept beside it, WAL and all.
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
        return Err(io("reading", &database)(
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    // VACUUM INTO writes into an empty file: making it first sets its mode and refuses an
    // existing one.
    create_private(destination).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(destination.to_owned()),
        _ => io("creating", destination)(e),
    })?;
    let result = async {
        let mut connection = SqliteConnectOptions::from_str(url)?
            .read_only(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await?;
        sqlx::query("VACUUM INTO ?")
            .bind(destination.to_string_lossy().into_owned())
            .execute(&mut connection)
            .await?;
        Ok::<_, BackupError>(())
    }
    .await;
    if let Err(error) = result {
        let _ = std::fs::remove_file(destination);
        return Err(error);
    }
    let size = std::fs::metadata(destination)
        .map_err(io("reading", destination))?
        .len();
    Ok(size)
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
/// process has that database open, and when `source` is not a sound Portcullis database.
/// `suffix` names the kept previous database (`PATH.before-restore-SUFFIX`).
pub async fn restore(url: &str, source: &Path, suffix: &str) -> Result<Restored, BackupError> {
    let database = sqlite_path(url)?;
    check_backup(source).await?;

    let lock = open_lock(&database).map_err(io("opening", &lock_path(&database)))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(database)),
        Err(TryLockError::Error(e)) => return Err(io("locking", &lock_path(&database))(e)),
    }

    // Copy first, beside the target: the old database is untouched until the copy is whole.
    let staging = with_suffix(&database, ".restoring");
    let _ = std::fs::remove_file(&staging);
    let mut to = create_private(&staging).map_err(io("creating", &staging))?;
    let mut from = File::open(source).map_err(io("reading", source))?;
    std::io::copy(&mut from, &mut to).map_err(io("copying into", &staging))?;
    to.sync_all().map_err(io("writing", &staging))?;

    let previous = if database.exists() {
        let kept = with_suffix(&database, &format!(".before-restore-{suffix}"));
        for ending in ["-wal", "-shm"] {
            let from = with_suffix(&database, ending);
            if from.exists() {
                std::fs::rename(&from, with_suffix(&kept, ending)).map_err(io("moving", &from))?;
            }
        }
        std::fs::rename(&database, &kept).map_err(io("moving", &database))?;
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&staging, &database).map_err(io("moving", &staging))?;
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
