// Migrations, clean-up, row counts and import: the work that is not on any request path.
// (Included by each backend; see `store/sql/README`.)

use super::shared::{self, bump_revision};
use super::{CREATE_MIGRATIONS_TABLE, MIGRATIONS, Pool, begin_write, take_turns};
use crate::store::migrate::{self, Migration};
use crate::store::{DumpRecord, MigrationStatus, Purged, StoreError, TrafficRows, Turn};
use sqlx::Row;

// Migrations record wall-clock time for people reading the table; nothing depends on it.
fn unix_now() -> i64 {
    use portcullis_core::Clock;
    portcullis_core::SystemClock.now().0
}

// Even the bookkeeping table is made under the migration lock: PostgreSQL's CREATE TABLE IF NOT
// EXISTS is not safe against a concurrent twin.
async fn create_migrations_table(pool: &Pool) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    take_turns(&mut tx, Turn::Migrations).await?;
    sqlx::query(CREATE_MIGRATIONS_TABLE)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    create_migrations_table(pool).await?;
    for migration in MIGRATIONS {
        apply(pool, migration, unix_now()).await?;
    }
    Ok(())
}

async fn apply(pool: &Pool, migration: &Migration, now: i64) -> Result<(), StoreError> {
    // Each step in its own write transaction under the migration lock, so instances starting
    // together on a new database take turns and apply each step once.
    let mut tx = begin_write(pool).await?;
    take_turns(&mut tx, Turn::Migrations).await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM portcullis_migrations")
            .fetch_one(&mut *tx)
            .await?;
    migrate::check_not_newer(current, MIGRATIONS)?;
    if current >= migration.version {
        return Ok(());
    }
    sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO portcullis_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
        .bind(migration.version)
        .bind(migration.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    migrate::log_applied(migration);
    Ok(())
}

pub async fn status(pool: &Pool) -> Result<MigrationStatus, StoreError> {
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
    Ok(MigrationStatus::from_applied(MIGRATIONS, applied))
}

// Each statement deletes at most `batch` rows chosen through an index, so a clean-up never holds a
// lock for long. Codes stay an hour past expiry so that a replay soon after still finds the code
// and revokes what it granted. A grant goes once it is expired or revoked and no access token
// issued under it is still live; its refresh tokens go with it (ON DELETE CASCADE).
pub async fn purge(pool: &Pool, now: i64, batch: i64) -> Result<Purged, StoreError> {
    let run = |sql: &'static str, cutoff: i64| async move {
        let done = sqlx::query(sql)
            .bind(cutoff)
            .bind(batch)
            .execute(pool)
            .await?;
        Ok::<u64, StoreError>(done.rows_affected())
    };
    Ok(Purged {
        codes: run(
            "DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash
             FROM authorization_codes WHERE expires_at <= $1 LIMIT $2)",
            now - crate::store::CODE_RETENTION_SECS,
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
        grants: run(
            "DELETE FROM grants WHERE grant_id IN (SELECT g.grant_id FROM grants g
             WHERE (g.expires_at <= $1 OR g.revoked_at IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM grant_access_tokens a
                             WHERE a.grant_id = g.grant_id AND a.expires_at > $1)
             LIMIT $2)",
            now,
        )
        .await?,
        throttle_counts: run(
            "DELETE FROM throttle_counts WHERE (key, bucket) IN
             (SELECT key, bucket FROM throttle_counts WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        throttle_locks: run(
            "DELETE FROM throttle_locks WHERE seq IN
             (SELECT seq FROM throttle_locks WHERE until <= $1 LIMIT $2)",
            now,
        )
        .await?,
        used_once: run(
            "DELETE FROM used_once WHERE key IN
             (SELECT key FROM used_once WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        pushed_requests: run(
            "DELETE FROM pushed_requests WHERE request_hash IN
             (SELECT request_hash FROM pushed_requests WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
        // Kept an hour past expiry, like codes, so a device still polling hears expired_token.
        device_codes: run(
            "DELETE FROM device_codes WHERE device_code_hash IN (SELECT device_code_hash
             FROM device_codes WHERE expires_at <= $1 LIMIT $2)",
            now - crate::store::CODE_RETENTION_SECS,
        )
        .await?,
        initial_access_tokens: run(
            "DELETE FROM initial_access_tokens WHERE token_hash IN (SELECT token_hash
             FROM initial_access_tokens WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await?,
    })
}

pub async fn traffic_rows(pool: &Pool) -> Result<TrafficRows, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM authorization_codes) AS codes,
                (SELECT COUNT(*) FROM sessions) AS sessions,
                (SELECT COUNT(*) FROM refresh_tokens) AS refresh_tokens,
                (SELECT COUNT(*) FROM grant_access_tokens) AS grant_access_tokens,
                (SELECT COUNT(*) FROM revoked_access_tokens) AS revoked_access_tokens,
                (SELECT COUNT(*) FROM grants) AS grants,
                (SELECT COUNT(*) FROM device_codes) AS device_codes",
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
        device_codes: row.try_get("device_codes")?,
    })
}

/// Writes an export into an empty database in one transaction: all of it or nothing.
pub async fn import(pool: &Pool, records: &[DumpRecord]) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    // Nothing may be added beside the import while it checks that the database is empty.
    take_turns(&mut tx, Turn::Import).await?;
    let existing: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM clients) + (SELECT COUNT(*) FROM users)
              + (SELECT COUNT(*) FROM signing_keys)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if existing > 0 {
        return Err(crate::store::import_target_not_empty());
    }
    crate::store::dump::check_sealing(records, shared::has_master_key_check(&mut tx).await?)?;
    for record in records {
        let written = match record {
            DumpRecord::ServerSecret { name, value } => sqlx::query(
                "INSERT INTO server_secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map(|_| ()),
            DumpRecord::Client(row) => match shared::insert_client(&mut tx, row).await {
                // A taken id is refused like any other conflict.
                Ok(0) => {
                    return Err(StoreError::ImportRefused(format!(
                        "client '{}' appears twice; nothing was imported",
                        row.client_id
                    )));
                }
                other => other.map(|_| ()),
            },
            DumpRecord::User(u) => shared::insert_user(&mut tx, u).await,
            DumpRecord::Key(key) => shared::insert_key(&mut tx, key).await,
            DumpRecord::Consent(c) => sqlx::query(
                "INSERT INTO consents (user_id, client_id, scope, granted_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&c.user_id)
            .bind(&c.client_id)
            .bind(&c.scope)
            .bind(c.granted_at)
            .execute(&mut *tx)
            .await
            .map(|_| ()),
        };
        written.map_err(|e| crate::store::import_failed(record, e))?;
    }
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
