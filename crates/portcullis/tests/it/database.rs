//! `portcullis migrate`, `export` and `import`, start-up errors about the database, and readiness
//! that follows the database, through the real binary.

use crate::helpers::{ServerProcess, create_client, create_client_with, portcullis, run};
use crate::instances::wait_until;
use crate::postgres::PgDatabase;
use std::path::Path;
use std::time::Duration;

fn on_database(dir: &Path, url: &str) -> std::process::Command {
    let mut command = portcullis(dir);
    command.env("PORTCULLIS_DATABASE", url);
    command
}

fn migrate_status(command: &mut std::process::Command) -> String {
    let (ok, out, err) = run(command.args(["migrate", "status"]));
    assert!(ok, "{err}");
    out
}

#[tokio::test]
async fn migrate_applies_and_reports_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::create().await;
    let mut urls = vec![format!("sqlite://{}", dir.path().join("m.db").display())];
    urls.extend(pg.as_ref().map(|db| db.url.clone()));
    for url in urls {
        if url.starts_with("sqlite:") {
            // No file yet: `migrate status` does not make one.
            let (ok, _, err) = run(portcullis(dir.path())
                .env("PORTCULLIS_DATABASE", &url)
                .args(["migrate", "status"]));
            assert!(!ok && err.contains("there is no database at"), "{err}");
        } else {
            let before = migrate_status(portcullis(dir.path()).env("PORTCULLIS_DATABASE", &url));
            assert!(before.contains("0 of 9; 9 pending"), "{url}: {before}");
        }
        let (ok, out, err) = run(portcullis(dir.path())
            .env("PORTCULLIS_DATABASE", &url)
            .arg("migrate"));
        assert!(ok, "{err}");
        assert!(err.contains("applied 9 migration(s)"), "{err}");
        assert!(out.contains("9 of 9; 0 pending"), "{out}");
        let after = migrate_status(portcullis(dir.path()).env("PORTCULLIS_DATABASE", &url));
        assert!(
            after
                .lines()
                .any(|l| l.starts_with('8') && l.contains("registration") && l.ends_with('Z')),
            "{after}"
        );
    }
}

#[test]
fn an_unreachable_database_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = portcullis(dir.path())
        .env(
            "PORTCULLIS_DATABASE",
            "postgres://admin:hunter2@127.0.0.1:1/portcullis",
        )
        .env("PORTCULLIS_DATABASE_POOL__ACQUIRE_TIMEOUT", "2")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("127.0.0.1:1"), "names the database: {err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("is the database running"), "{err}");
    assert!(!err.contains("hunter2"), "the password stays hidden: {err}");
}

#[tokio::test]
async fn a_newer_schema_stops_start_up_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("n.db").display());
    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_DATABASE", &url)
        .arg("migrate"));
    assert!(ok, "{err}");
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("INSERT INTO portcullis_migrations VALUES (99, 'future', 0)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_DATABASE", &url)
        .arg("serve"));
    assert!(!ok);
    assert!(err.contains("schema is at version 99"), "{err}");
    assert!(err.contains("upgrade portcullis"), "{err}");
    let status = migrate_status(portcullis(dir.path()).env("PORTCULLIS_DATABASE", &url));
    assert!(status.contains("newer than this portcullis"), "{status}");
    assert!(!status.contains("signing"), "nothing else was touched");
}

fn keys_json(dir: &Path, url: &str) -> serde_json::Value {
    let (ok, out, err) = run(portcullis(dir)
        .env("PORTCULLIS_DATABASE", url)
        .args(["keys", "list", "--json"]));
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test]
async fn a_team_moves_from_sqlite_to_postgres_with_export_and_import() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Start on the embedded default: a server, a client, a user.
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = create_client(dir.path(), &["--scope", "read"]);
    let before = server.wait_for_token_status(&id, &secret, 200).await;
    drop(server);
    let (ok, _, err) = run(portcullis(dir.path())
        .env("BOB_PW", "bobs-password-123")
        .args(["user", "create", "bob", "--password-env", "BOB_PW"]));
    assert!(ok, "{err}");
    let sqlite_url = "sqlite://portcullis.db";

    let dump = dir.path().join("dump.jsonl");
    let (ok, _, err) = run(portcullis(dir.path())
        .args(["export", "--output"])
        .arg(&dump));
    assert!(ok, "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the export holds private keys");
    }
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(
        !text.contains(&secret),
        "client secrets are exported only as hashes"
    );

    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_DATABASE", &pg.url)
        .arg("import")
        .arg(&dump));
    assert!(ok, "{err}");
    assert!(err.contains("imported 1 clients, 1 users"), "{err}");
    assert_eq!(
        keys_json(dir.path(), &pg.url),
        keys_json(dir.path(), sqlite_url)
    );

    // The same secret works against PostgreSQL, and tokens are signed by the same key.
    let moved = ServerProcess::start(on_database(dir.path(), &pg.url), dir.path());
    let after = moved.wait_for_token_status(&id, &secret, 200).await;
    let kid = |v: &serde_json::Value| crate::helpers::kid_of(v["access_token"].as_str().unwrap());
    assert_eq!(kid(&after), kid(&before));
    let (ok, out, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_DATABASE", &pg.url)
        .args(["user", "show", "bob"]));
    assert!(ok, "{err}");
    assert!(out.contains("bob"));

    // Importing twice is refused and changes nothing.
    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_DATABASE", &pg.url)
        .arg("import")
        .arg(&dump));
    assert!(!ok);
    assert!(err.contains("import refused"), "{err}");
}

async fn ready_status(server: &ServerProcess) -> u16 {
    reqwest::get(format!("{}/health/ready", server.base))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn readiness_follows_the_database_without_a_restart() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(on_database(dir.path(), &pg.url), dir.path());
    let (id, secret) = create_client_with(
        portcullis(dir.path()).env("PORTCULLIS_DATABASE", &pg.url),
        &[],
    );
    assert_eq!(ready_status(&server).await, 200);
    // The server learns of the new client from the database's change feed: wait until it
    // has, or the outage below could begin before it knows the client.
    wait_until(Duration::from_secs(10), || async {
        server.token(&id, &secret).await.0 == 200
    })
    .await;

    // The database goes away: new connections refused, existing ones ended.
    let name = pg.name().to_owned();
    pg.admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await;
    pg.admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    wait_until(Duration::from_secs(10), || async {
        ready_status(&server).await == 503
    })
    .await;
    let live = reqwest::get(format!("{}/health/live", server.base))
        .await
        .unwrap();
    assert_eq!(live.status(), 200, "the process itself is fine");
    // client_credentials reads only memory: it keeps working while the database is away.
    assert_eq!(server.token(&id, &secret).await.0, 200);

    pg.admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await;
    wait_until(Duration::from_secs(10), || async {
        ready_status(&server).await == 200
    })
    .await;
}
