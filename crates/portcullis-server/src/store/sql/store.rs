// `Store` and `ThrottleStore`: clients, signing keys, server secrets, the revision, and the
// failed-attempt counters. (Included by each backend; see `store/sql/README`.)

use super::shared::{self, bump_revision, forget_client, write_sealed};
use super::{This, begin_write, take_turns};
use crate::store::{
    ChangeFeed, ClientRow, ConsentRow, Counts, DumpRecord, KeyRow, LockRow, MigrationStatus,
    PoolStats, Purged, Store, StoreError, ThrottleStore, TrafficRows, Turn,
};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl Store for This {
    async fn revision(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM revision WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        super::change_feed(&self.pool).await
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
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
        super::maintenance::migrate(&self.writer).await
    }

    async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        super::maintenance::status(&self.writer).await
    }

    async fn purge_expired(&self, now: i64, batch: i64) -> Result<Purged, StoreError> {
        super::maintenance::purge(&self.writer, now, batch).await
    }

    async fn traffic_rows(&self) -> Result<TrafficRows, StoreError> {
        super::maintenance::traffic_rows(&self.pool).await
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
        Ok(sqlx::query_as(
            "SELECT user_id, client_id, scope, granted_at FROM consents ORDER BY user_id, client_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn import(&self, records: &[DumpRecord]) -> Result<(), StoreError> {
        super::maintenance::import(&self.writer, records).await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.writer)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.writer)
                .await?,
        )
    }

    async fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM clients ORDER BY client_id")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn insert_client(&self, row: &ClientRow) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        if shared::insert_client(&mut tx, row).await? == 0 {
            return Err(StoreError::Conflict(format!("client '{}'", row.client_id)));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_client(&self, row: &ClientRow) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let updated = sqlx::query(
            "UPDATE clients SET secret_hash = $1, metadata = $2, updated_at = $3,
             registration_token_hash = $5 WHERE client_id = $4",
        )
        .bind(&row.secret_hash)
        .bind(&row.metadata)
        .bind(row.updated_at)
        .bind(&row.client_id)
        .bind(&row.registration_token_hash)
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
        let mut tx = begin_write(&self.writer).await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        forget_client(&mut tx, client_id).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn signing_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM signing_keys ORDER BY created_at, activates_at, kid")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn seal_signing_keys(
        &self,
        check: Option<&[u8]>,
        sealed: &[(String, Vec<u8>)],
        secrets: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        // Key writes take turns, so a plain key cannot slip in beside the sealing.
        take_turns(&mut tx, Turn::Keys).await?;
        if let Some(check) = check {
            let inserted = sqlx::query(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(crate::store::MASTER_KEY_CHECK)
            .bind(check)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict("a master key check value".into()));
            }
        }
        write_sealed(&mut tx, sealed, secrets).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reseal(
        &self,
        old_check: Option<&[u8]>,
        new_check: &[u8],
        keys: &[(String, Vec<u8>)],
        secrets: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        take_turns(&mut tx, Turn::Keys).await?;
        let swapped = match old_check {
            Some(old) => sqlx::query(
                "UPDATE server_secrets SET value = $1 WHERE name = $2 AND value = $3",
            )
            .bind(new_check)
            .bind(crate::store::MASTER_KEY_CHECK)
            .bind(old),
            None => sqlx::query(
                "INSERT INTO server_secrets (name, value) VALUES ($2, $1)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(new_check)
            .bind(crate::store::MASTER_KEY_CHECK),
        }
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if swapped == 0 {
            return Err(StoreError::Conflict(
                "a newer master key check value (another rekey went first)".into(),
            ));
        }
        // Key writes take turns, so what is here now stays until the commit: it must be exactly
        // what was read and re-sealed, or a row would stay under the old key.
        let kids: Vec<String> = sqlx::query_scalar("SELECT kid FROM signing_keys")
            .fetch_all(&mut *tx)
            .await?;
        let hmac_rows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM server_secrets WHERE name = $1")
                .bind(crate::store::CLIENT_SECRET_HMAC_KEY)
                .fetch_one(&mut *tx)
                .await?;
        let given_hmac = secrets
            .iter()
            .any(|(name, _)| name == crate::store::CLIENT_SECRET_HMAC_KEY);
        if kids.len() != keys.len()
            || kids.iter().any(|kid| !keys.iter().any(|(k, _)| k == kid))
            || (hmac_rows > 0) != given_hmac
        {
            return Err(StoreError::Conflict(
                "a signing key or secret added while the rekey read: run it again".into(),
            ));
        }
        write_sealed(&mut tx, keys, secrets).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_initial_signing_key(
        &self,
        key: &KeyRow,
        sealed_under: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        take_turns(&mut tx, Turn::Keys).await?;
        shared::refuse_plain_key(&mut tx, &key.private_der, sealed_under).await?;
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
        sealed_under: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        // Two instances rotating at once take turns, so each sees the other's key and exactly one
        // key of the algorithm is left without a retirement time.
        take_turns(&mut tx, Turn::Keys).await?;
        shared::refuse_plain_key(&mut tx, &key.private_der, sealed_under).await?;
        if retire_previous {
            // Every key that would still sign after the new one activates stops then, including
            // an earlier rotation's key that has not activated yet.
            sqlx::query(
                "UPDATE signing_keys SET retires_at = $1
                 WHERE alg = $2 AND (retires_at IS NULL OR retires_at > $1)",
            )
            .bind(key.activates_at)
            .bind(&key.alg)
            .execute(&mut *tx)
            .await?;
        }
        shared::insert_key(&mut tx, key).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for This {
    async fn count_attempts(
        &self,
        bucket: i64,
        expires_at: i64,
        changes: &[(&str, i64)],
    ) -> Result<Vec<Counts>, StoreError> {
        // Each counter row is locked by its upsert until commit (SQLite: the whole database), so
        // concurrent attempts on any instance take turns on it and each sees its own count.
        let mut tx = begin_write(&self.writer).await?;
        let counts = shared::count(&mut tx, bucket, expires_at, changes).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn lock_key(&self, key: &str, until: i64) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        // Readers take the latest `until` of a key.
        sqlx::query("INSERT INTO throttle_locks (key, until) VALUES ($1, $2)")
            .bind(key)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        // Delivered on commit: the other instances read the lock as soon as it is visible.
        super::notify(&mut tx, "lock").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn locks_after(&self, seq: i64, now: i64) -> Result<Vec<LockRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, key, until FROM throttle_locks WHERE seq > $1 AND until > $2 ORDER BY seq",
        )
        .bind(seq)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}
