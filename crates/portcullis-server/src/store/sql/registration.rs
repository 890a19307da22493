// `RegistrationStore`: initial access tokens (RFC 7591 §3). (Included by each backend; see
// `store/sql/README`.)

use super::shared::{bump_revision, forget_client, forget_consents};
use super::{This, begin_write};
use crate::store::{ClientRow, StoreError};
use crate::store::registration::{InitialAccessTokenRow, RegistrationStore};
use async_trait::async_trait;

#[async_trait]
impl RegistrationStore for This {
    async fn insert_initial_access_token(
        &self,
        row: &InitialAccessTokenRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO initial_access_tokens (token_hash, created_at, expires_at, max_uses, uses)
             VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(&row.token_hash)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.max_uses)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn use_initial_access_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE initial_access_tokens SET uses = uses + 1
             WHERE token_hash = $1 AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn initial_access_token_valid(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        // COUNT(*) is a 64-bit integer on both databases (a bare `1` is 32 bits on PostgreSQL).
        let found: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM initial_access_tokens
             WHERE token_hash = $1 AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(found > 0)
    }

    async fn replace_registered_client(
        &self,
        row: &ClientRow,
        read_token_hash: &[u8],
        read_secret_hash: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let updated = sqlx::query(
            "UPDATE clients SET secret_hash = $1, metadata = $2, updated_at = $3,
             registration_token_hash = $4
             WHERE client_id = $5 AND registration_token_hash = $6
             AND (secret_hash = $7 OR (secret_hash IS NULL AND $8))",
        )
        .bind(&row.secret_hash)
        .bind(&row.metadata)
        .bind(row.updated_at)
        .bind(&row.registration_token_hash)
        .bind(&row.client_id)
        .bind(read_token_hash)
        .bind(read_secret_hash)
        .bind(read_secret_hash.is_none())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        // Users consented to the registration as it was (its redirect URIs, its name): a
        // replaced one asks them again.
        forget_consents(&mut tx, &row.client_id).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_registered_client(
        &self,
        client_id: &str,
        token_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let deleted =
            sqlx::query("DELETE FROM clients WHERE client_id = $1 AND registration_token_hash = $2")
                .bind(client_id)
                .bind(token_hash)
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
}
