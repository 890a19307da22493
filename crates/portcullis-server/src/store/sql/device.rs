// `DeviceStore`: device authorization requests (RFC 8628). (Included by each backend; see
// `store/sql/README`.)

use super::{This, begin_write, shared};
use crate::store::StoreError;
use crate::store::device::{Decision, DeviceCodeRow, DeviceStore};
use crate::store::sign_in::{GrantRow, IssuedTokens};
use async_trait::async_trait;

// The columns of `DeviceCodeRow`, as a literal: sqlx takes only static SQL.
macro_rules! columns {
    () => {
        "device_code_hash, user_code_hash, client_id, scope, expires_at, poll_interval,
         last_polled_at, slowed, user_id, auth_time, approved_at, denied_at, used_at"
    };
}

#[async_trait]
impl DeviceStore for This {
    async fn insert_device_code(&self, row: &DeviceCodeRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scope,
             expires_at, poll_interval, slowed) VALUES ($1, $2, $3, $4, $5, $6, 0)
             ON CONFLICT (user_code_hash) DO NOTHING",
        )
        .bind(&row.device_code_hash)
        .bind(&row.user_code_hash)
        .bind(&row.client_id)
        .bind(&row.scope)
        .bind(row.expires_at)
        .bind(row.poll_interval)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn pending_device_code(
        &self,
        user_code_hash: &[u8],
        now: i64,
    ) -> Result<Option<DeviceCodeRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM device_codes WHERE user_code_hash = $1
             AND approved_at IS NULL AND denied_at IS NULL AND expires_at > $2"
        ))
        .bind(user_code_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &[u8],
        decision: Decision<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = match decision {
            Decision::Approve { user_id, auth_time } => {
                sqlx::query(
                    "UPDATE device_codes SET approved_at = $2, user_id = $3, auth_time = $4
                     WHERE user_code_hash = $1 AND approved_at IS NULL AND denied_at IS NULL
                     AND expires_at > $2",
                )
                .bind(user_code_hash)
                .bind(now)
                .bind(user_id)
                .bind(auth_time)
                .execute(&self.writer)
                .await?
            }
            Decision::Deny => {
                sqlx::query(
                    "UPDATE device_codes SET denied_at = $2
                     WHERE user_code_hash = $1 AND approved_at IS NULL AND denied_at IS NULL
                     AND expires_at > $2",
                )
                .bind(user_code_hash)
                .bind(now)
                .execute(&self.writer)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    async fn poll_device_code(
        &self,
        device_code_hash: &[u8],
        client_id: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>, StoreError> {
        // Every SET expression reads the row as it was, on both databases.
        Ok(sqlx::query_as(concat!(
            "UPDATE device_codes SET
             slowed = CASE WHEN last_polled_at IS NOT NULL
                 AND $3 < last_polled_at + poll_interval THEN 1 ELSE 0 END,
             poll_interval = CASE WHEN last_polled_at IS NOT NULL
                 AND $3 < last_polled_at + poll_interval THEN poll_interval + 5
                 ELSE poll_interval END,
             last_polled_at = $3
             WHERE device_code_hash = $1 AND client_id = $2
             RETURNING ",
            columns!()
        ))
        .bind(device_code_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn redeem_device_code(
        &self,
        device_code_hash: &[u8],
        now: i64,
        g: &GrantRow,
        tokens: &IssuedTokens,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let claimed = sqlx::query(
            "UPDATE device_codes SET used_at = $1, grant_id = $2
             WHERE device_code_hash = $3 AND approved_at IS NOT NULL AND used_at IS NULL",
        )
        .bind(now)
        .bind(&g.grant_id)
        .bind(device_code_hash)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        shared::insert_grant(&mut tx, g).await?;
        shared::insert_tokens(&mut tx, &g.grant_id, tokens).await?;
        tx.commit().await?;
        Ok(true)
    }
}
