// `SignInStore`: users, sessions, consents, codes, grants, refresh tokens and revocations. Every
// exchange (code redemption, refresh rotation) is one write transaction whose deciding statement
// is a conditional update, so of two concurrent attempts, on one instance or two, exactly one
// changes a row: SQLite's `BEGIN IMMEDIATE` lets one writer in at a time, and under PostgreSQL's
// READ COMMITTED a second update of the same row waits for the first to commit and then re-checks
// its `WHERE`. (Included by each backend; see `store/sql/README`.)

use super::shared;
use super::{This, begin_write, take_turns};
use crate::store::sign_in::{
    CodeRow, Ended, FoundRefresh, GrantRow, IssuedTokens, RefreshRow, SignInStore, UserRow,
};
use crate::store::{ConsentRow, StoreError, Turn};
use async_trait::async_trait;
use sqlx::{FromRow, Row};

#[async_trait]
impl SignInStore for This {
    async fn insert_user(&self, u: &UserRow) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        match shared::insert_user(&mut conn, u).await {
            Ok(()) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a user named '{}' exists already", u.username),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_user(
        &self,
        u: &UserRow,
        end_sign_ins: Option<i64>,
    ) -> Result<Option<Ended>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let done = sqlx::query(
            "UPDATE users SET username = $1, password_hash = $2, email = $3, email_verified = $4,
             name = $5, given_name = $6, family_name = $7, updated_at = $8, disabled_at = $9
             WHERE user_id = $10",
        )
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.email)
        .bind(u.email_verified)
        .bind(&u.name)
        .bind(&u.given_name)
        .bind(&u.family_name)
        .bind(u.updated_at)
        .bind(u.disabled_at)
        .bind(&u.user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let ended = match end_sign_ins {
            Some(now) => shared::end_user(&mut tx, &u.user_id, now).await?,
            None => Ended::default(),
        };
        shared::bump_if_revoked(&mut tx, ended.grants).await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    async fn delete_user(&self, username: &str, now: i64) -> Result<Option<Ended>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let user_id: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        // Sessions and consents go with the row.
        let ended = shared::end_user(&mut tx, &user_id, now).await?;
        sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        shared::bump_if_revoked(&mut tx, ended.grants).await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn insert_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        auth_time: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (session_hash, user_id, auth_time, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(session_hash)
        .bind(user_id)
        .bind(auth_time)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, auth_time FROM sessions WHERE session_hash = $1 AND expires_at > $2",
        )
        .bind(session_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("user_id")?, r.try_get("auth_time")?)),
            None => None,
        })
    }

    async fn delete_session(&self, session_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let consent = ConsentRow {
            user_id: user_id.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            granted_at: now,
        };
        let mut conn = self.writer.acquire().await?;
        shared::upsert_consent(&mut conn, &consent).await?;
        Ok(())
    }

    async fn insert_code(&self, c: &CodeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri,
             redirect_uri_sent, code_challenge, scope, nonce, auth_time, expires_at, used_at,
             dpop_jkt)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)",
        )
        .bind(&c.code_hash)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.redirect_uri)
        .bind(c.redirect_uri_sent)
        .bind(&c.code_challenge)
        .bind(&c.scope)
        .bind(&c.nonce)
        .bind(c.auth_time)
        .bind(c.expires_at)
        .bind(&c.dpop_jkt)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn code(&self, code_hash: &[u8]) -> Result<Option<CodeRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn redeem_code(
        &self,
        code_hash: &[u8],
        now: i64,
        g: &GrantRow,
        tokens: &IssuedTokens,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let claimed = sqlx::query(
            "UPDATE authorization_codes SET used_at = $1, grant_id = $2
             WHERE code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&g.grant_id)
        .bind(code_hash)
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

    async fn revoke_grant_of_code(&self, code_hash: &[u8], now: i64) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let revoked = sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE revoked_at IS NULL AND grant_id =
             (SELECT grant_id FROM authorization_codes WHERE code_hash = $2)",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        shared::bump_if_revoked(&mut tx, revoked).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn refresh_token(&self, token_hash: &[u8]) -> Result<Option<FoundRefresh>, StoreError> {
        let row = sqlx::query(
            "SELECT r.token_hash, r.issued_at, r.idle_expires_at, r.rotated_at, r.superseded_at,
             r.grace_used_at, g.*, u.user_id AS u_user_id, u.username AS u_username,
             u.password_hash AS u_password_hash, u.email AS u_email,
             u.email_verified AS u_email_verified, u.name AS u_name,
             u.given_name AS u_given_name, u.family_name AS u_family_name,
             u.created_at AS u_created_at, u.updated_at AS u_updated_at,
             u.disabled_at AS u_disabled_at
             FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id
             LEFT JOIN users u ON u.user_id = g.user_id
             WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let grant = GrantRow::from_row(&r)?;
        let refresh = RefreshRow {
            token_hash: r.try_get("token_hash")?,
            grant_id: grant.grant_id.clone(),
            issued_at: r.try_get("issued_at")?,
            idle_expires_at: r.try_get("idle_expires_at")?,
            rotated_at: r.try_get("rotated_at")?,
            superseded_at: r.try_get("superseded_at")?,
            grace_used_at: r.try_get("grace_used_at")?,
        };
        let user = match r.try_get::<Option<String>, _>("u_user_id")? {
            None => None,
            Some(user_id) => Some(UserRow {
                user_id,
                username: r.try_get("u_username")?,
                password_hash: r.try_get("u_password_hash")?,
                email: r.try_get("u_email")?,
                email_verified: r.try_get("u_email_verified")?,
                name: r.try_get("u_name")?,
                given_name: r.try_get("u_given_name")?,
                family_name: r.try_get("u_family_name")?,
                created_at: r.try_get("u_created_at")?,
                updated_at: r.try_get("u_updated_at")?,
                disabled_at: r.try_get("u_disabled_at")?,
            }),
        };
        Ok(Some(FoundRefresh {
            refresh,
            grant,
            user,
        }))
    }

    async fn rotate_refresh(
        &self,
        token_hash: &[u8],
        now: i64,
        tokens: &IssuedTokens,
        grace: bool,
    ) -> Result<bool, StoreError> {
        if let Some(claimed) = super::rotate_in_group(self, token_hash, now, tokens, grace).await {
            return claimed;
        }
        let mut tx = begin_write(&self.writer).await?;
        let grant_id: Option<String> =
            sqlx::query_scalar("SELECT grant_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(grant_id) = grant_id else {
            return Ok(false);
        };
        // Exchanges within one grant take turns: the grace-period path changes the grant's
        // current token, not only the one presented.
        take_turns(&mut tx, Turn::Grant(&grant_id)).await?;
        let claimed =
            shared::rotate_refresh(&mut tx, &grant_id, token_hash, now, tokens, grace).await?;
        if claimed {
            tx.commit().await?;
        }
        Ok(claimed)
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let revoked = sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(grant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        shared::bump_if_revoked(&mut tx, revoked).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let revoked: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM revoked_access_tokens WHERE jti = $1
             UNION ALL
             SELECT CAST(1 AS BIGINT) FROM grant_access_tokens a
             JOIN grants g ON g.grant_id = a.grant_id
             WHERE a.jti = $1 AND g.revoked_at IS NOT NULL
             LIMIT 1",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        Ok(revoked.is_some())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let added = sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        shared::bump_if_revoked(&mut tx, added).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn denied_access_tokens(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT jti FROM revoked_access_tokens
             UNION
             SELECT a.jti FROM grant_access_tokens a
             JOIN grants g ON g.grant_id = a.grant_id
             WHERE g.revoked_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
