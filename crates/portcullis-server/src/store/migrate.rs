//! A small forward-only migrator: each migration runs once, in its own transaction, and a database
//! whose schema is newer than this binary is refused rather than touched.

use super::StoreError;
use sqlx::{Sqlite, Transaction};

/// One schema step.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "sign_in",
        sql: include_str!("../../migrations/sqlite/0002_sign_in.sql"),
    },
    Migration {
        version: 3,
        name: "revocation",
        sql: include_str!("../../migrations/sqlite/0003_revocation.sql"),
    },
];

pub async fn run_sqlite(pool: &sqlx::SqlitePool, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS portcullis_migrations (
            version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    let known = SQLITE.last().map_or(0, |m| m.version);
    for migration in SQLITE {
        // BEGIN IMMEDIATE takes the write lock first, so two processes starting on a new database
        // cannot both apply the same step.
        let mut tx: Transaction<'_, Sqlite> = pool.begin_with("BEGIN IMMEDIATE").await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM portcullis_migrations")
                .fetch_one(&mut *tx)
                .await?;
        if current > known {
            return Err(StoreError::NewerSchema {
                found: current,
                known,
            });
        }
        if current >= migration.version {
            continue;
        }
        sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO portcullis_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
    Ok(())
}
