//! PostgreSQL's migrations, clean-up and import: the work that is not on any request path.

use super::migrate::{self, Migration, POSTGRES};
use super::{DumpRecord, MigrationStatus, Purged, StoreError, TrafficRows};
use sqlx::{PgPool, Row};

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS portcullis_migrations (
    version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

// CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin in PostgreSQL, so even the
// bookkeeping table is made under the migration lock.
async fn create_migrations_table(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    sqlx::query(CREATE_MIGRATIONS_TABLE)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn lock(tx: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(super::postgres::MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn migrate(pool: &PgPool, now: i64) -> Result<(), StoreError> {
    create_migrations_table(pool).await?;
    for migration in POSTGRES {
        apply(pool, migration, now).await?;
    }
    Ok(())
}

async fn apply(pool: &PgPool, migration: &Migration, now: i64) -> Result<(), StoreError> {
    // The advisory lock makes instances starting together on a new database take turns.
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM portcullis_migrations")
            .fetch_one(&mut *tx)
            .await?;
    migrate::check_not_newer(current, POSTGRES)?;
    if current >= migration.version {
        return Ok(());
    }
    sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO portcullis_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
    )
    .bind(migration.version)
    .bind(migration.name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    migrate::log_applied(migration);
    Ok(())
}

pub async fn status(pool: &PgPool) -> Result<MigrationStatus, StoreError> {
    create_migrations_table(pool).await?;
    let rows =
        sqlx::query("SELECT version, name, applied_at FROM portcullis_migrations ORDER BY version")
            .fetch_all(pool)
            .await?;
    let applied = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("version")?,
                r.try_get("name")?,
                r.try_get("applied_at")?,
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(MigrationStatus::from_applied(POSTGRES, applied))
}

// Each statement deletes at most `batch` rows chosen through an index, so a clean-up never holds
// many row locks for long. Codes stay an hour past expiry so that a replay soon after still finds
// the code and revokes what it granted. A grant goes once it is expired or revoked and no access
// token issued under it is still live; its refresh tokens go with it (ON DELETE CASCADE).
pub async fn purge(pool: &PgPool, now: i64, batch: i64) -> Result<Purged, StoreError> {
    let run = |sql: &'static str, cutoff: i64| async move {
        Ok::<u64, StoreError>(
            sqlx::query(sql)
                .bind(cutoff)
                .bind(batch)
                .execute(pool)
                .await?
                .rows_affected(),
        )
    };
    let (throttle_counts, throttle_locks) = {
        let mut conn = pool.acquire().await?;
        super::shared::postgres::purge(&mut conn, now, batch).await?
    };
    Ok(Purged {
        codes: run(
            "DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash
             FROM authorization_codes WHERE expires_at <= $1 LIMIT $2)",
            now - super::CODE_RETENTION_SECS,
        )
        .await?,
        sessions: run(
            "DELETE FROM sessions WHERE session_hash IN (SELECT session_hash
             FROM sessions WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        refresh_tokens: run(
            "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash
             FROM refresh_tokens WHERE idle_expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        grant_access_tokens: run(
            "DELETE FROM grant_access_tokens WHERE jti IN (SELECT jti
             FROM grant_access_tokens WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        revoked_access_tokens: run(
            "DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti
             FROM revoked_access_tokens WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        grants: sqlx::query(
            "DELETE FROM grants WHERE grant_id IN (SELECT g.grant_id FROM grants g
             WHERE (g.expires_at <= $1 OR g.revoked_at IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM grant_access_tokens a
                             WHERE a.grant_id = g.grant_id AND a.expires_at > $1)
             LIMIT $2)",
        )
        .bind(now)
        .bind(batch)
        .execute(pool)
        .await?
        .rows_affected(),
        throttle_counts,
        throttle_locks,
    })
}

pub async fn traffic_rows(pool: &PgPool) -> Result<TrafficRows, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM authorization_codes) AS codes,
                (SELECT COUNT(*) FROM sessions) AS sessions,
                (SELECT COUNT(*) FROM refresh_tokens) AS refresh_tokens,
                (SELECT COUNT(*) FROM grant_access_tokens) AS grant_access_tokens,
                (SELECT COUNT(*) FROM revoked_access_tokens) AS revoked_access_tokens,
                (SELECT COUNT(*) FROM grants) AS grants",
    )
    .fetch_one(pool)
    .await?;
    Ok(TrafficRows {
        codes: row.try_get("codes")?,
        sessions: row.try_get("sessions")?,
        refresh_tokens: row.try_get("refresh_tokens")?,
        grant_access_tokens: row.try_get("grant_access_tokens")?,
        revoked_access_tokens: row.try_get("revoked_access_tokens")?,
        grants: row.try_get("grants")?,
    })
}

pub async fn import(pool: &PgPool, records: &[DumpRecord]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE clients, users, signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let existing: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM clients) + (SELECT COUNT(*) FROM users)
              + (SELECT COUNT(*) FROM signing_keys)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if existing > 0 {
        return Err(super::import_target_not_empty());
    }
    super::dump::check_sealing(
        records,
        super::shared::postgres::has_master_key_check(&mut tx).await?,
    )?;
    for record in records {
        let query = match record {
            DumpRecord::ServerSecret { name, value } => sqlx::query(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value),
            DumpRecord::Client {
                client_id,
                secret_hash,
                metadata,
                created_at,
                updated_at,
            } => sqlx::query(
                "INSERT INTO clients (client_id, secret_hash, metadata, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(client_id)
            .bind(secret_hash)
            .bind(metadata)
            .bind(created_at)
            .bind(updated_at),
            DumpRecord::User(u) => sqlx::query(
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
            .bind(u.disabled_at),
            DumpRecord::Key {
                kid,
                alg,
                private_der,
                created_at,
                activates_at,
                retires_at,
            } => sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_der, created_at, activates_at,
                 retires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(kid)
            .bind(alg)
            .bind(private_der)
            .bind(created_at)
            .bind(activates_at)
            .bind(retires_at),
            DumpRecord::Consent(c) => sqlx::query(
                "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&c.user_id)
            .bind(&c.client_id)
            .bind(&c.scope)
            .bind(c.granted_at),
        };
        query
            .execute(&mut *tx)
            .await
            .map_err(|e| super::import_failed(record, e))?;
    }
    super::postgres::bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
