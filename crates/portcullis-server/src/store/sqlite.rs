//! The embedded default: one SQLite file in WAL mode, shared safely by the server and the admin
//! commands running beside it.

use super::{
    ClientRow, ConsentRow, Counts, DumpRecord, KeyRow, LockRow, MigrationStatus, Purged, Store,
    StoreError, StoreOptions, ThrottleStore, TrafficRows, connect_error, shared,
    sqlite_maintenance,
};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// A SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `url` (`sqlite://PATH`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = SqliteStore::connect(url, &StoreOptions::default()).await?;
        store.migrate().await?;
        Ok(store)
    }

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

// Migrations record wall-clock time for people reading the table; nothing depends on it.
pub(super) fn unix_now() -> i64 {
    use portcullis_core::Clock;
    portcullis_core::SystemClock.now().0
}

pub(super) async fn bump_revision(tx: &mut sqlx::SqliteConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE revision SET value = value + 1 WHERE id = 1")
        .execute(tx)
        .await?;
    Ok(())
}

fn client_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        client_id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        metadata: row.try_get("metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn revision(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM revision WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    fn pool_stats(&self) -> super::PoolStats {
        super::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlite_maintenance::migrate(&self.pool, unix_now()).await
    }

    async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        sqlite_maintenance::status(&self.pool).await
    }

    async fn purge_expired(&self, now: i64, batch: i64) -> Result<Purged, StoreError> {
        sqlite_maintenance::purge(&self.pool, now, batch).await
    }

    async fn traffic_rows(&self) -> Result<TrafficRows, StoreError> {
        sqlite_maintenance::traffic_rows(&self.pool).await
    }

    async fn server_secrets(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query("SELECT name, value FROM server_secrets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn consents(&self) -> Result<Vec<ConsentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, client_id, scope, granted_at FROM consents ORDER BY user_id, client_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(ConsentRow {
                    user_id: r.try_get("user_id")?,
                    client_id: r.try_get("client_id")?,
                    scope: r.try_get("scope")?,
                    granted_at: r.try_get("granted_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn import(&self, records: &[DumpRecord]) -> Result<(), StoreError> {
        sqlite_maintenance::import(&self.pool, records).await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT client_id, secret_hash, metadata, created_at, updated_at",
            " FROM clients ORDER BY client_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(client_from_row).collect::<Result<_, _>>()?)
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT client_id, secret_hash, metadata, created_at, updated_at",
            " FROM clients WHERE client_id = ?"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(client_from_row).transpose()?)
    }

    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO clients (client_id, secret_hash, metadata, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&row.client_id)
        .bind(&row.secret_hash)
        .bind(&row.metadata)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!("client '{}'", row.client_id)));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_client(&self, row: &ClientRow) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE clients SET secret_hash = ?, metadata = ?, updated_at = ? WHERE client_id = ?",
        )
        .bind(&row.secret_hash)
        .bind(&row.metadata)
        .bind(row.updated_at)
        .bind(&row.client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = ?")
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn signing_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_der, created_at, activates_at, retires_at
             FROM signing_keys ORDER BY created_at, activates_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        let keys = rows
            .iter()
            .map(|r| {
                Ok(KeyRow {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    private_der: r.try_get("private_der")?,
                    created_at: r.try_get("created_at")?,
                    activates_at: r.try_get("activates_at")?,
                    retires_at: r.try_get("retires_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(keys)
    }

    async fn seal_signing_keys(
        &self,
        check: Option<&[u8]>,
        sealed: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        shared::sqlite::seal_signing_keys(&mut tx, check, sealed).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_initial_signing_key(&self, key: &KeyRow) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        shared::sqlite::refuse_plain_key(&mut tx, &key.private_der).await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, activates_at, retires_at)
             SELECT ?1, ?2, ?3, ?4, ?5, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys
             WHERE alg = ?2 AND (retires_at IS NULL OR retires_at > ?5))",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_der)
        .bind(key.created_at)
        .bind(key.activates_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            bump_revision(&mut tx).await?;
            tx.commit().await?;
        }
        Ok(inserted)
    }

    async fn insert_signing_key(
        &self,
        key: &KeyRow,
        retire_previous: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        shared::sqlite::refuse_plain_key(&mut tx, &key.private_der).await?;
        if retire_previous {
            // Every key that would still sign after the new one activates stops then, including an
            // earlier rotation's key that has not activated yet.
            sqlx::query(
                "UPDATE signing_keys SET retires_at = ?
                 WHERE alg = ? AND (retires_at IS NULL OR retires_at > ?)",
            )
            .bind(key.activates_at)
            .bind(&key.alg)
            .bind(key.activates_at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, activates_at, retires_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_der)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retires_at)
        .execute(&mut *tx)
        .await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for SqliteStore {
    async fn count_attempts(
        &self,
        bucket: i64,
        expires_at: i64,
        changes: &[(&str, i64)],
    ) -> Result<Vec<Counts>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let counts = shared::sqlite::count(&mut tx, bucket, expires_at, changes).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn lock_key(&self, key: &str, until: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        shared::sqlite::lock(&mut conn, key, until).await?;
        Ok(())
    }

    async fn locks_after(&self, seq: i64, now: i64) -> Result<Vec<LockRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(shared::sqlite::locks_after(&mut conn, seq, now).await?)
    }
}
