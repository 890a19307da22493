// `ProofStore`: single-use values and pushed authorization requests. Each "once" is one
// conditional statement, so of two concurrent callers, on one instance or two, exactly one changes
// a row. (Included by each backend; see `store/sql/README`.)

use super::This;
use crate::store::{ProofStore, PushedRequestRow, StoreError};
use async_trait::async_trait;

#[async_trait]
impl ProofStore for This {
    async fn use_once(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        // A row whose time is over (not yet purged) may be taken again.
        let done = sqlx::query(
            "INSERT INTO used_once (key, expires_at) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
             WHERE used_once.expires_at <= $3",
        )
        .bind(key)
        .bind(expires_at)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn push_request(&self, row: &PushedRequestRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pushed_requests (request_hash, client_id, params, expires_at, used_at)
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(&row.request_hash)
        .bind(&row.client_id)
        .bind(&row.params)
        .bind(row.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn pushed_request(
        &self,
        request_hash: &[u8],
        now: i64,
    ) -> Result<Option<PushedRequestRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT request_hash, client_id, params, expires_at, used_at, visited_at
             FROM pushed_requests
             WHERE request_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(request_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn visit_pushed_request(
        &self,
        request_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pushed_requests SET visited_at = $2, expires_at = $3
             WHERE request_hash = $1 AND visited_at IS NULL AND used_at IS NULL
             AND expires_at > $2",
        )
        .bind(request_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn bind_grant_key(&self, grant_id: &str, jkt: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE grants SET dpop_jkt = $2 WHERE grant_id = $1 AND dpop_jkt IS NULL",
        )
        .bind(grant_id)
        .bind(jkt)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_pushed_request(&self, request_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pushed_requests SET used_at = $2
             WHERE request_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(request_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
