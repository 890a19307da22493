//! PostgreSQL, for several Portcullis instances sharing one database. Every write a running server
//! must notice bumps the revision and sends `NOTIFY portcullis_changes` in the same transaction;
//! PostgreSQL delivers the notification only if the transaction commits, so no instance reloads
//! before the change is visible. This file is PostgreSQL's side of the dialect seam; the SQL is in
//! `sql/`, compiled here against PostgreSQL's types.

use super::sign_in::IssuedTokens;
use super::{ChangeFeed, StoreError, StoreOptions, Turn, connect_error, migrate};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

type Conn = sqlx::PgConnection;
type Pool = sqlx::PgPool;
type This = PostgresStore;

/// The channel change notifications travel on.
pub const CHANGE_CHANNEL: &str = "portcullis_changes";

/// A PostgreSQL-backed [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The same pool: PostgreSQL has many writers, ordered by its locks and [`take_turns`].
    writer: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER@HOST:PORT/DATABASE`) without migrating.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.application_name("portcullis");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(10))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(connect_error)?;
        Ok(PostgresStore {
            writer: pool.clone(),
            pool,
        })
    }
}

// The dialect seam.

const MIGRATIONS: &[migrate::Migration] = migrate::POSTGRES;
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS portcullis_migrations (
    version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// A plain transaction: PostgreSQL's row locks and [`take_turns`] order the writers.
async fn begin_write(
    pool: &Pool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin().await
}

/// Every rotation is written statement by statement: PostgreSQL takes many writers at once.
async fn rotate_in_group(
    _this: &This,
    _token_hash: &[u8],
    _now: i64,
    _tokens: &IssuedTokens,
    _grace: bool,
) -> Option<Result<bool, StoreError>> {
    None
}

/// Makes writers of one kind take turns, on any instance, until the transaction ends.
async fn take_turns(tx: &mut Conn, turn: Turn<'_>) -> Result<(), sqlx::Error> {
    // Advisory lock keys ("port" and a number).
    const MIGRATION_LOCK: i64 = 0x706f_7274_0001;
    const KEY_LOCK: i64 = 0x706f_7274_0002;
    let advisory = |key: i64| sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key);
    match turn {
        Turn::Migrations => advisory(MIGRATION_LOCK).execute(&mut *tx).await?,
        Turn::Keys => advisory(KEY_LOCK).execute(&mut *tx).await?,
        Turn::Import => {
            sqlx::query("LOCK TABLE clients, users, signing_keys IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?
        }
        Turn::Grant(grant_id) => {
            sqlx::query("SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE")
                .bind(grant_id)
                .execute(&mut *tx)
                .await?
        }
    };
    Ok(())
}

/// Tells the other instances, when the transaction commits.
async fn notify(tx: &mut Conn, payload: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGE_CHANNEL)
        .bind(payload)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn change_feed(pool: &Pool) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANGE_CHANNEL).await?;
    Ok(Some(Box::new(PgChangeFeed { listener })))
}

/// How long a wake-up waits for the rest of a burst of notifications.
const NOTIFY_COALESCE: Duration = Duration::from_millis(25);

struct PgChangeFeed {
    listener: PgListener,
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn changed(&mut self) {
        match self.listener.try_recv().await {
            // A burst of notifications (a lock per attacking address, say) wakes the watcher
            // once, not once each: wait a moment and drop what has arrived meanwhile, since one
            // reload reads everything anyway.
            Ok(Some(_)) => {
                tokio::time::sleep(NOTIFY_COALESCE).await;
                while self.listener.next_buffered().is_some() {}
            }
            // The connection dropped; the next call reconnects. Whatever was sent meanwhile is
            // lost, so report a possible change and let the registry compare revisions.
            Ok(None) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(error) => {
                tracing::warn!(%error, "change notifications unavailable; relying on polling");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

mod shared {
    include!("sql/shared.rs");
}
mod store {
    include!("sql/store.rs");
}
mod sign_in {
    include!("sql/sign_in.rs");
}
mod maintenance {
    include!("sql/maintenance.rs");
}
mod proofs {
    include!("sql/proofs.rs");
}
mod device {
    include!("sql/device.rs");
}
mod registration {
    include!("sql/registration.rs");
}
