//! PostgreSQL, for several Portcullis instances sharing one database. Every write a running server
//! must notice bumps the revision and sends `NOTIFY portcullis_changes` in the same transaction;
//! PostgreSQL delivers the notification only if the transaction commits, so no instance reloads
//! before the change is visible.

use super::{
    ChangeFeed, ClientRow, ConsentRow, Counts, DumpRecord, KeyRow, LockRow, MigrationStatus,
    Purged, Store, StoreError, StoreOptions, ThrottleStore, TrafficRows, connect_error,
    postgres_maintenance, shared,
};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use std::str::FromStr;
use std::time::Duration;

/// The channel change notifications travel on.
pub const CHANGE_CHANNEL: &str = "portcullis_changes";

// Advisory lock keys, so concurrent instances serialize the few writes that must not interleave.
pub(super) const MIGRATION_LOCK: i64 = 0x706f_7274_0001;
const KEY_ROTATION_LOCK: i64 = 0x706f_7274_0002;

/// A PostgreSQL-backed [`Store`].
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(super) pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER@HOST:PORT/DATABASE`) without migrating.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.application_name("portcullis");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(10))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(connect_error)?;
        Ok(PostgresStore { pool })
    }
}

pub(super) async fn bump_revision(tx: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE revision SET value = value + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANGE_CHANNEL)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn client_from_row(row: &sqlx::postgres::PgRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        client_id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        metadata: row.try_get("metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// How long a wake-up waits for the rest of a burst of notifications.
const NOTIFY_COALESCE: Duration = Duration::from_millis(25);

struct PgChangeFeed {
    listener: PgListener,
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn changed(&mut self) {
        match self.listener.try_recv().await {
            // A burst of notifications (a lock per attacking address, say) wakes the watcher
            // once, not once each: wait a moment and drop what has arrived meanwhile, since one
            // reload reads everything anyway.
            Ok(Some(_)) => {
                tokio::time::sleep(NOTIFY_COALESCE).await;
                while self.listener.next_buffered().is_some() {}
            }
            // The connection dropped; the next call reconnects. Whatever was sent meanwhile is
            // lost, so report a possible change and let the registry compare revisions.
            Ok(None) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(error) => {
                tracing::warn!(%error, "change notifications unavailable; relying on polling");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn revision(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM revision WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANGE_CHANNEL).await?;
        Ok(Some(Box::new(PgChangeFeed { listener })))
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
        postgres_maintenance::migrate(&self.pool, super::sqlite::unix_now()).await
    }

    async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        postgres_maintenance::status(&self.pool).await
    }

    async fn purge_expired(&self, now: i64, batch: i64) -> Result<Purged, StoreError> {
        postgres_maintenance::purge(&self.pool, now, batch).await
    }

    async fn traffic_rows(&self) -> Result<TrafficRows, StoreError> {
        postgres_maintenance::traffic_rows(&self.pool).await
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
        postgres_maintenance::import(&self.pool, records).await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
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
            " FROM clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(client_from_row).transpose()?)
    }

    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO clients (client_id, secret_hash, metadata, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO NOTHING",
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
            "UPDATE clients SET secret_hash = $1, metadata = $2, updated_at = $3
             WHERE client_id = $4",
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
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
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
        let mut tx = self.pool.begin().await?;
        // Key writes take turns, so a plain key cannot slip in beside the sealing.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_ROTATION_LOCK)
            .execute(&mut *tx)
            .await?;
        shared::postgres::seal_signing_keys(&mut tx, check, sealed).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_initial_signing_key(&self, key: &KeyRow) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_ROTATION_LOCK)
            .execute(&mut *tx)
            .await?;
        shared::postgres::refuse_plain_key(&mut tx, &key.private_der).await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, activates_at, retires_at)
             SELECT $1, $2, $3, $4, $5, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys
             WHERE alg = $2 AND (retires_at IS NULL OR retires_at > $5))",
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
        let mut tx = self.pool.begin().await?;
        // Two instances rotating at once take turns, so each sees the other's key and exactly
        // one key of the algorithm is left without a retirement time.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_ROTATION_LOCK)
            .execute(&mut *tx)
            .await?;
        shared::postgres::refuse_plain_key(&mut tx, &key.private_der).await?;
        if retire_previous {
            sqlx::query(
                "UPDATE signing_keys SET retires_at = $1
                 WHERE alg = $2 AND (retires_at IS NULL OR retires_at > $1)",
            )
            .bind(key.activates_at)
            .bind(&key.alg)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, activates_at, retires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
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
impl ThrottleStore for PostgresStore {
    async fn count_attempts(
        &self,
        bucket: i64,
        expires_at: i64,
        changes: &[(&str, i64)],
    ) -> Result<Vec<Counts>, StoreError> {
        // Each counter row is locked by its upsert until commit, so concurrent attempts on any
        // instance take turns on it and each sees its own count.
        let mut tx = self.pool.begin().await?;
        let counts = shared::postgres::count(&mut tx, bucket, expires_at, changes).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn lock_key(&self, key: &str, until: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        shared::postgres::lock(&mut tx, key, until).await?;
        // Delivered on commit: the other instances read the lock as soon as it is visible.
        sqlx::query("SELECT pg_notify($1, 'lock')")
            .bind(CHANGE_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn locks_after(&self, seq: i64, now: i64) -> Result<Vec<LockRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(shared::postgres::locks_after(&mut conn, seq, now).await?)
    }
}
