//! Statements written once for both backends: `$N` placeholders, which sqlx also binds on SQLite,
//! and `ON CONFLICT … RETURNING`, which both databases have. A macro expands the same bodies over
//! each backend's connection type; each backend runs them inside its own transaction. (New storage
//! code goes here rather than into a pair of near-identical files.)

/// A key's counts in the bucket before the current one and in the current one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// The previous bucket.
    pub previous: i64,
    /// The current bucket.
    pub current: i64,
}

/// A lock as recorded: the key is refused until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    /// Increases with every lock written.
    pub seq: i64,
    /// The hashed key.
    pub key: String,
    /// Unix seconds.
    pub until: i64,
}

macro_rules! shared_queries {
    ($conn:ty) => {
        use super::{Counts, LockRow};
        use crate::store::StoreError;
        use crate::store::sign_in::{Ended, IssuedTokens, UserRow};
        use sqlx::Row;

        /// Whether the database has a master-key check value (its keys are sealed).
        pub async fn has_master_key_check(conn: &mut $conn) -> Result<bool, sqlx::Error> {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM server_secrets WHERE name = $1",
            )
            .bind(crate::keys::vault_check_name())
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        }

        /// The store's own guard for "while a master key is set, no key row is plain": a plain key
        /// may not join a database that has a master-key check value, whoever adds it.
        pub async fn refuse_plain_key(
            conn: &mut $conn,
            private_der: &[u8],
        ) -> Result<(), StoreError> {
            if crate::keys::is_sealed(private_der) {
                return Ok(());
            }
            if has_master_key_check(conn).await? {
                return Err(StoreError::Conflict(
                    "a plain signing key in a database whose keys are encrypted: a master key is required".into(),
                ));
            }
            Ok(())
        }

        /// Stores what an exchange issued under `grant_id`: the refresh token (if any) and the
        /// record of the access token.
        pub async fn insert_tokens(
            conn: &mut $conn,
            grant_id: &str,
            tokens: &IssuedTokens,
        ) -> Result<(), sqlx::Error> {
            if let Some(r) = &tokens.refresh {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, issued_at, idle_expires_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&r.token_hash)
                .bind(grant_id)
                .bind(r.issued_at)
                .bind(r.idle_expires_at)
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query(
                "INSERT INTO grant_access_tokens (jti, grant_id, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(&tokens.access.jti)
            .bind(grant_id)
            .bind(tokens.access.expires_at)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// The deciding writes of a refresh (see `SignInStore::rotate_refresh`); false, with
        /// nothing written, when another exchange of the token won.
        pub async fn rotate_refresh(
            conn: &mut $conn,
            grant_id: &str,
            token_hash: &[u8],
            now: i64,
            tokens: &IssuedTokens,
            grace: bool,
        ) -> Result<bool, sqlx::Error> {
            let claimed = if grace {
                // The one grace re-exchange of this rotated token...
                let claimed = sqlx::query(
                    "UPDATE refresh_tokens SET grace_used_at = $1 WHERE token_hash = $2
                     AND rotated_at IS NOT NULL AND grace_used_at IS NULL AND superseded_at IS NULL",
                )
                .bind(now)
                .bind(token_hash)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                    == 1;
                if claimed {
                    // ...replaces the grant's current token, which is kept as superseded: if it
                    // is ever presented, the grant goes (its holder may be the rightful client).
                    sqlx::query(
                        "UPDATE refresh_tokens SET rotated_at = $1, superseded_at = $1
                         WHERE grant_id = $2 AND rotated_at IS NULL",
                    )
                    .bind(now)
                    .bind(grant_id)
                    .execute(&mut *conn)
                    .await?;
                }
                claimed
            } else {
                sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $1
                     WHERE token_hash = $2 AND rotated_at IS NULL",
                )
                .bind(now)
                .bind(token_hash)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                    == 1
            };
            if claimed {
                insert_tokens(conn, grant_id, tokens).await?;
            }
            Ok(claimed)
        }

        /// Replaces a user's row and, with `end_sign_ins` (the time now), ends what they
        /// started; `None` if there is no such user.
        pub async fn update_user(
            conn: &mut $conn,
            u: &UserRow,
            end_sign_ins: Option<i64>,
        ) -> Result<Option<Ended>, sqlx::Error> {
            let done = sqlx::query(
                "UPDATE users SET username = $1, password_hash = $2, email = $3,
                 email_verified = $4, name = $5, given_name = $6, family_name = $7,
                 updated_at = $8, disabled_at = $9 WHERE user_id = $10",
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
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(None);
            }
            match end_sign_ins {
                Some(now) => end_user(conn, &u.user_id, now).await.map(Some),
                None => Ok(Some(Ended::default())),
            }
        }

        /// Ends what a user started and deletes them (sessions and consents go with the row);
        /// `None` if there is no such user.
        pub async fn delete_user(
            conn: &mut $conn,
            username: &str,
            now: i64,
        ) -> Result<Option<Ended>, sqlx::Error> {
            let user_id: Option<String> =
                sqlx::query_scalar("SELECT user_id FROM users WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&mut *conn)
                    .await?;
            let Some(user_id) = user_id else {
                return Ok(None);
            };
            let ended = end_user(conn, &user_id, now).await?;
            sqlx::query("DELETE FROM users WHERE user_id = $1")
                .bind(&user_id)
                .execute(&mut *conn)
                .await?;
            Ok(Some(ended))
        }

        /// Seals key rows in place and, when `check` is given, records the master-key check
        /// value; `Conflict` if one exists already (another process sealed first).
        pub async fn seal_signing_keys(
            conn: &mut $conn,
            check: Option<&[u8]>,
            sealed: &[(String, Vec<u8>)],
        ) -> Result<(), StoreError> {
            if let Some(check) = check {
                let inserted = sqlx::query(
                    "INSERT INTO server_secrets (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(crate::keys::vault_check_name())
                .bind(check)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err(StoreError::Conflict("a master key check value".into()));
                }
            }
            for (kid, der) in sealed {
                sqlx::query("UPDATE signing_keys SET private_der = $1 WHERE kid = $2")
                    .bind(der)
                    .bind(kid)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        /// Ends a user's browser sessions, deletes their codes not yet redeemed, and revokes
        /// their grants (and so every refresh token and recorded access token under them);
        /// returns how many sessions and grants.
        pub async fn end_user(
            conn: &mut $conn,
            user_id: &str,
            now: i64,
        ) -> Result<Ended, sqlx::Error> {
            let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM authorization_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
            let grants = sqlx::query(
                "UPDATE grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(Ended { sessions, grants })
        }

        /// Adds each delta to its key's count in `bucket`; returns the counts after the change.
        pub async fn count(
            conn: &mut $conn,
            bucket: i64,
            expires_at: i64,
            changes: &[(&str, i64)],
        ) -> Result<Vec<Counts>, sqlx::Error> {
            let mut out = Vec::with_capacity(changes.len());
            for (key, delta) in changes {
                let current: i64 = sqlx::query_scalar(
                    "INSERT INTO throttle_counts (key, bucket, count, expires_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key, bucket) DO UPDATE
                     SET count = throttle_counts.count + excluded.count
                     RETURNING count",
                )
                .bind(*key)
                .bind(bucket)
                .bind(*delta)
                .bind(expires_at)
                .fetch_one(&mut *conn)
                .await?;
                let previous: Option<i64> = sqlx::query_scalar(
                    "SELECT count FROM throttle_counts WHERE key = $1 AND bucket = $2",
                )
                .bind(*key)
                .bind(bucket - 1)
                .fetch_optional(&mut *conn)
                .await?;
                out.push(Counts {
                    previous: previous.unwrap_or(0).max(0),
                    current: current.max(0),
                });
            }
            Ok(out)
        }

        /// Appends a lock; readers take the latest `until` of a key.
        pub async fn lock(conn: &mut $conn, key: &str, until: i64) -> Result<(), sqlx::Error> {
            sqlx::query("INSERT INTO throttle_locks (key, until) VALUES ($1, $2)")
                .bind(key)
                .bind(until)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Locks written after `seq` that are still in force at `now`.
        pub async fn locks_after(
            conn: &mut $conn,
            seq: i64,
            now: i64,
        ) -> Result<Vec<LockRow>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT seq, key, until FROM throttle_locks WHERE seq > $1 AND until > $2
                 ORDER BY seq",
            )
            .bind(seq)
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(LockRow {
                        seq: r.try_get("seq")?,
                        key: r.try_get("key")?,
                        until: r.try_get("until")?,
                    })
                })
                .collect()
        }

        /// Deletes up to `batch` counters and up to `batch` locks that no longer matter; returns
        /// how many of each.
        pub async fn purge(
            conn: &mut $conn,
            now: i64,
            batch: i64,
        ) -> Result<(u64, u64), sqlx::Error> {
            let counters = sqlx::query(
                "DELETE FROM throttle_counts WHERE (key, bucket) IN
                 (SELECT key, bucket FROM throttle_counts WHERE expires_at <= $1 LIMIT $2)",
            )
            .bind(now)
            .bind(batch)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            let locks = sqlx::query(
                "DELETE FROM throttle_locks WHERE seq IN
                 (SELECT seq FROM throttle_locks WHERE until <= $1 LIMIT $2)",
            )
            .bind(now)
            .bind(batch)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok((counters, locks))
        }
    };
}

/// The statements on SQLite.
pub(super) mod sqlite {
    shared_queries!(sqlx::SqliteConnection);
}

/// The statements on PostgreSQL.
pub(super) mod postgres {
    shared_queries!(sqlx::PgConnection);
}
