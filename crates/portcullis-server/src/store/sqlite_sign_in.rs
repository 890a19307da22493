//! [`SignInStore`] on SQLite. Every exchange (code redemption, refresh rotation) is one `BEGIN
//! IMMEDIATE` transaction whose first statement is a conditional update, so of two concurrent
//! attempts exactly one changes a row.

use super::sign_in::{CodeRow, Ended, GrantRow, IssuedTokens, RefreshRow, SignInStore, UserRow};
use super::{SqliteStore, StoreError, shared};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn user_from(row: &SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        name: row.try_get("name")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

fn grant_from(row: &SqliteRow) -> Result<GrantRow, sqlx::Error> {
    Ok(GrantRow {
        grant_id: row.try_get("grant_id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const USER_COLUMNS_INSERT: &str = "INSERT INTO users (user_id, username, password_hash, email,
    email_verified, name, given_name, family_name, created_at, updated_at, disabled_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

#[async_trait]
impl SignInStore for SqliteStore {
    async fn insert_user(&self, u: &UserRow) -> Result<(), StoreError> {
        let result = sqlx::query(USER_COLUMNS_INSERT)
            .bind(&u.user_id)
            .bind(&u.username)
            .bind(&u.password_hash)
            .bind(&u.email)
            .bind(u.email_verified)
            .bind(&u.name)
            .bind(&u.given_name)
            .bind(&u.family_name)
            .bind(u.created_at)
            .bind(u.updated_at)
            .bind(u.disabled_at)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ended = shared::sqlite::update_user(&mut tx, u, end_sign_ins).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn delete_user(&self, username: &str, now: i64) -> Result<Option<Ended>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ended = shared::sqlite::delete_user(&mut tx, username, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE user_id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn insert_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        auth_time: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (session_hash, user_id, auth_time, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(session_hash)
        .bind(user_id)
        .bind(auth_time)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, auth_time FROM sessions WHERE session_hash = ? AND expires_at > ?",
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
        sqlx::query("DELETE FROM sessions WHERE session_hash = ?")
            .bind(session_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT scope FROM consents WHERE user_id = ? AND client_id = ?")
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
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,
             granted_at = excluded.granted_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_code(&self, c: &CodeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri,
             redirect_uri_sent, code_challenge, scope, nonce, auth_time, expires_at, used_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn code(&self, code_hash: &[u8]) -> Result<Option<CodeRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = ?")
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(CodeRow {
            code_hash: r.try_get("code_hash")?,
            client_id: r.try_get("client_id")?,
            user_id: r.try_get("user_id")?,
            redirect_uri: r.try_get("redirect_uri")?,
            redirect_uri_sent: r.try_get("redirect_uri_sent")?,
            code_challenge: r.try_get("code_challenge")?,
            scope: r.try_get("scope")?,
            nonce: r.try_get("nonce")?,
            auth_time: r.try_get("auth_time")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
        }))
    }

    async fn redeem_code(
        &self,
        code_hash: &[u8],
        now: i64,
        g: &GrantRow,
        tokens: &IssuedTokens,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claimed = sqlx::query(
            "UPDATE authorization_codes SET used_at = ?, grant_id = ?
             WHERE code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(&g.grant_id)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO grants (grant_id, client_id, user_id, scope, auth_time, created_at,
             expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        )
        .bind(&g.grant_id)
        .bind(&g.client_id)
        .bind(&g.user_id)
        .bind(&g.scope)
        .bind(g.auth_time)
        .bind(g.created_at)
        .bind(g.expires_at)
        .execute(&mut *tx)
        .await?;
        shared::sqlite::insert_tokens(&mut tx, &g.grant_id, tokens).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_grant_of_code(&self, code_hash: &[u8], now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE grants SET revoked_at = ? WHERE revoked_at IS NULL AND grant_id =
             (SELECT grant_id FROM authorization_codes WHERE code_hash = ?)",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn refresh_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(RefreshRow, GrantRow)>, StoreError> {
        let row = sqlx::query(
            "SELECT r.token_hash, r.issued_at, r.idle_expires_at, r.rotated_at, r.superseded_at,
             r.grace_used_at, g.*
             FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id
             WHERE r.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let grant = grant_from(&r)?;
        let refresh = RefreshRow {
            token_hash: r.try_get("token_hash")?,
            grant_id: grant.grant_id.clone(),
            issued_at: r.try_get("issued_at")?,
            idle_expires_at: r.try_get("idle_expires_at")?,
            rotated_at: r.try_get("rotated_at")?,
            superseded_at: r.try_get("superseded_at")?,
            grace_used_at: r.try_get("grace_used_at")?,
        };
        Ok(Some((refresh, grant)))
    }

    async fn rotate_refresh(
        &self,
        token_hash: &[u8],
        now: i64,
        tokens: &IssuedTokens,
        grace: bool,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let grant_id: Option<String> =
            sqlx::query_scalar("SELECT grant_id FROM refresh_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(grant_id) = grant_id else {
            return Ok(false);
        };
        let claimed =
            shared::sqlite::rotate_refresh(&mut tx, &grant_id, token_hash, now, tokens, grace)
                .await?;
        if claimed {
            tx.commit().await?;
        }
        Ok(claimed)
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let revoked: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM revoked_access_tokens WHERE jti = ?1
             UNION ALL
             SELECT 1 FROM grant_access_tokens a JOIN grants g ON g.grant_id = a.grant_id
             WHERE a.jti = ?1 AND g.revoked_at IS NOT NULL
             LIMIT 1",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        Ok(revoked.is_some())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
