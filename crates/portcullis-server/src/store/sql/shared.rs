// Statements that several operations share, run on a connection inside the caller's transaction:
// inserts that import reuses, the revision bump, and the multi-statement writes of
// a refresh and of ending a user's sign-ins. (Included by each backend; see `store/sql/README`.)

use super::Conn;
use crate::store::sign_in::{Ended, GrantRow, IssuedTokens, UserRow};
use crate::store::{ClientRow, ConsentRow, Counts, KeyRow, StoreError};

/// Counts a change that running servers must notice, and tells the other instances.
pub async fn bump_revision(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("UPDATE revision SET value = value + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    super::notify(conn, "").await?;
    Ok(())
}

/// What a deleted client leaves behind, deleted with it: its users' consents, its codes not yet
/// exchanged, and its grants (their refresh tokens and access-token records go with them, by
/// `ON DELETE CASCADE`). Pushed authorization requests and device codes cascade from the client.
pub async fn forget_client(conn: &mut Conn, client_id: &str) -> Result<(), StoreError> {
    forget_consents(conn, client_id).await?;
    for statement in [
        "DELETE FROM authorization_codes WHERE client_id = $1",
        "DELETE FROM grants WHERE client_id = $1",
    ] {
        sqlx::query(statement)
            .bind(client_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every user's consent to a client: for a client deleted, or registered anew (RFC 7592 PUT).
pub async fn forget_consents(conn: &mut Conn, client_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM consents WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes sealed forms in the caller's transaction: key rows' private parts by `kid`, and
/// server secrets by name.
pub async fn write_sealed(
    conn: &mut Conn,
    keys: &[(String, Vec<u8>)],
    secrets: &[(String, Vec<u8>)],
) -> Result<(), StoreError> {
    for (kid, der) in keys {
        sqlx::query("UPDATE signing_keys SET private_der = $1 WHERE kid = $2")
            .bind(der)
            .bind(kid)
            .execute(&mut *conn)
            .await?;
    }
    for (name, value) in secrets {
        sqlx::query("UPDATE server_secrets SET value = $1 WHERE name = $2")
            .bind(value)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// After a revocation in `conn`'s transaction: when it changed a row (a grant revoked, an access
/// token denied), the revision moves in the same transaction, so every instance reloads its deny
/// list (registry.rs). Revoking what was already revoked moves nothing.
pub async fn bump_if_revoked(conn: &mut Conn, changed: u64) -> Result<(), StoreError> {
    if changed > 0 {
        bump_revision(conn).await?;
    }
    Ok(())
}

/// Adds a client; `ON CONFLICT DO NOTHING`, so a taken id is 0 rows rather than an error.
pub async fn insert_client(conn: &mut Conn, row: &ClientRow) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO clients (client_id, secret_hash, metadata, created_at, updated_at,
         registration_token_hash) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (client_id) DO NOTHING",
    )
    .bind(&row.client_id)
    .bind(&row.secret_hash)
    .bind(&row.metadata)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(&row.registration_token_hash)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

pub async fn insert_user(conn: &mut Conn, u: &UserRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (user_id, username, password_hash, email, email_verified, name,
         given_name, family_name, created_at, updated_at, disabled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
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
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_key(conn: &mut Conn, key: &KeyRow) -> Result<(), sqlx::Error> {
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
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a consent, replacing an earlier one of the same user and client.
pub async fn upsert_consent(conn: &mut Conn, c: &ConsentRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,
         granted_at = excluded.granted_at",
    )
    .bind(&c.user_id)
    .bind(&c.client_id)
    .bind(&c.scope)
    .bind(c.granted_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether the database has a master-key check value (its keys are sealed).
pub async fn has_master_key_check(conn: &mut Conn) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM server_secrets WHERE name = $1")
            .bind(crate::store::MASTER_KEY_CHECK)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// The store's own guards for new key rows: "while a master key is set, no key row is plain" (a
/// plain key may not join a database that has a master-key check value, whoever adds it), and
/// "no key sealed under a replaced master key" (`sealed_under`, the check value the caller
/// checked its key against, must still be the database's).
pub async fn refuse_plain_key(
    conn: &mut Conn,
    private_der: &[u8],
    sealed_under: Option<&[u8]>,
) -> Result<(), StoreError> {
    if let Some(expected) = sealed_under {
        let current: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(crate::store::MASTER_KEY_CHECK)
                .fetch_optional(&mut *conn)
                .await?;
        if current.as_deref() != Some(expected) {
            return Err(StoreError::Conflict(
                "a key sealed under a master key this database no longer uses (keys rekey ran \
                 since this process checked it): restart it with the new master key"
                    .into(),
            ));
        }
    }
    if crate::store::is_sealed(private_der) || !has_master_key_check(conn).await? {
        return Ok(());
    }
    Err(StoreError::Conflict(
        "a plain signing key in a database whose keys are encrypted: a master key is required"
            .into(),
    ))
}

/// A new grant (a redeemed authorization code or device code), not yet revoked.
pub async fn insert_grant(conn: &mut Conn, g: &GrantRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grants (grant_id, client_id, user_id, scope, auth_time, created_at,
         expires_at, revoked_at, dpop_jkt) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
    )
    .bind(&g.grant_id)
    .bind(&g.client_id)
    .bind(&g.user_id)
    .bind(&g.scope)
    .bind(g.auth_time)
    .bind(g.created_at)
    .bind(g.expires_at)
    .bind(&g.dpop_jkt)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores what an exchange issued under `grant_id`: the refresh token (if any) and the record of
/// the access token.
pub async fn insert_tokens(
    conn: &mut Conn,
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
    sqlx::query("INSERT INTO grant_access_tokens (jti, grant_id, expires_at) VALUES ($1, $2, $3)")
        .bind(&tokens.access.jti)
        .bind(grant_id)
        .bind(tokens.access.expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The deciding writes of a refresh (see `SignInStore::rotate_refresh`); false, with nothing
/// written, when another exchange of the token won.
pub async fn rotate_refresh(
    conn: &mut Conn,
    grant_id: &str,
    token_hash: &[u8],
    now: i64,
    tokens: &IssuedTokens,
    grace: bool,
) -> Result<bool, sqlx::Error> {
    // The caller read the grant before this transaction; it may have been revoked since (a reuse
    // caught at the same moment, the user disabled). Checked again here, under the grant's turn,
    // so that no token is ever issued under a revoked grant: its jti would miss every deny list.
    let live: Option<Option<i64>> =
        sqlx::query_scalar("SELECT revoked_at FROM grants WHERE grant_id = $1")
            .bind(grant_id)
            .fetch_optional(&mut *conn)
            .await?;
    if !matches!(live, Some(None)) {
        return Ok(false);
    }
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
            // ...replaces the grant's current token, which is kept as superseded: if it is ever
            // presented, the grant goes (its holder may be the rightful client).
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
            "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL",
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

/// Ends a user's browser sessions, deletes their codes not yet redeemed, and revokes their grants
/// (and so every refresh token and recorded access token under them); returns how many sessions
/// and grants.
pub async fn end_user(conn: &mut Conn, user_id: &str, now: i64) -> Result<Ended, sqlx::Error> {
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM authorization_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    // A device the user approved but that has not collected its tokens yet is refused too, as
    // an unused code is (RFC 8628: it would otherwise get a new grant after this).
    sqlx::query(
        "UPDATE device_codes SET denied_at = $1
         WHERE user_id = $2 AND used_at IS NULL AND denied_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    let grants =
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(user_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    Ok(Ended { sessions, grants })
}

/// Adds each delta to its key's count in `bucket`; returns the counts after the change.
pub async fn count(
    conn: &mut Conn,
    bucket: i64,
    expires_at: i64,
    changes: &[(&str, i64)],
) -> Result<Vec<Counts>, sqlx::Error> {
    let mut out = Vec::with_capacity(changes.len());
    for (key, delta) in changes {
        let current: i64 = sqlx::query_scalar(
            "INSERT INTO throttle_counts (key, bucket, count, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key, bucket) DO UPDATE SET count = throttle_counts.count + excluded.count
             RETURNING count",
        )
        .bind(*key)
        .bind(bucket)
        .bind(*delta)
        .bind(expires_at)
        .fetch_one(&mut *conn)
        .await?;
        let previous: Option<i64> =
            sqlx::query_scalar("SELECT count FROM throttle_counts WHERE key = $1 AND bucket = $2")
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
