//! Test databases on either backend. `PORTCULLIS_TEST_DATABASE=postgres` runs the whole suite on
//! PostgreSQL (CI does this as a second pass); the storage tests always try both. Each PostgreSQL
//! test gets a database of its own, dropped when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where the tests find PostgreSQL; a database on it that exists already (used to create others).
pub fn postgres_admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// The backend the suite runs on.
    pub async fn for_suite() -> TestDatabase {
        match std::env::var("PORTCULLIS_TEST_DATABASE").as_deref() {
            Ok("postgres") => TestDatabase::postgres()
                .await
                .expect("PORTCULLIS_TEST_DATABASE=postgres but PostgreSQL is unreachable"),
            _ => TestDatabase::sqlite(),
        }
    }

    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().unwrap();
        TestDatabase {
            url: format!("sqlite://{}", dir.path().join("test.db").display()),
            _dir: Some(dir),
            postgres_name: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a note) where there is no PostgreSQL. With
    /// `CI=true` a missing PostgreSQL fails the test instead: CI must never skip silently.
    pub async fn postgres() -> Option<TestDatabase> {
        use sqlx::Connection;
        let admin = postgres_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(error) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true and PostgreSQL at {admin} is unreachable: {error}"
                );
                eprintln!("skipping the PostgreSQL part: {admin} is unreachable ({error})");
                return None;
            }
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "portcullis_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            _dir: None,
            postgres_name: Some(name),
        })
    }

    /// Both backends, PostgreSQL only where it can be reached.
    pub async fn both() -> Vec<TestDatabase> {
        let mut all = vec![TestDatabase::sqlite()];
        all.extend(TestDatabase::postgres().await);
        all
    }

    pub fn backend(&self) -> &'static str {
        if self.postgres_name.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread with a
        // runtime of its own. FORCE ends the connections a server still holds.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Runs one statement on the test database over a connection of its own, behind the server's
/// back (to break things on purpose).
pub async fn execute(database: &TestDatabase, sql: &str) {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if database.postgres_name.is_some() {
        let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        let _ = conn.close().await;
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&database.url)
            .await
            .unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        let _ = conn.close().await;
    }
}

/// The one number a `SELECT COUNT(*) …` statement answers, read behind the server's back.
pub async fn count(database: &TestDatabase, sql: &str) -> i64 {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if database.postgres_name.is_some() {
        let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        let _ = conn.close().await;
        n
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&database.url)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        let _ = conn.close().await;
        n
    }
}
