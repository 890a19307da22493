// `RegistrationStore`: initial access tokens (RFC 7591 §3). (Included by each backend; see
// `store/sql/README`.)

use super::This;
use crate::store::StoreError;
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
}
