//! `PORTCULLIS_MASTER_KEY` in the real environment of `portcullis serve` seals the private signing
//! keys in the database; a sealed database refuses to start without it or with another key, and
//! changes nothing when it refuses.

use crate::helpers::{ServerProcess, portcullis, run};
use std::path::Path;

const KEY: &str = "master-key-from-the-environment-0123456789";
const OTHER_KEY: &str = "another-master-key-of-enough-length-98765";

/// Every signing key row: (kid, private part as stored).
pub async fn key_rows(dir: &Path) -> Vec<(String, Vec<u8>)> {
    use sqlx::{Connection, Row};
    let url = format!("sqlite://{}", dir.join("portcullis.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT kid, private_der FROM signing_keys ORDER BY kid")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    rows.iter()
        .map(|r| (r.get("kid"), r.get("private_der")))
        .collect()
}

pub fn sealed(rows: &[(String, Vec<u8>)]) -> bool {
    !rows.is_empty() && rows.iter().all(|(_, der)| der.starts_with(b"PCK1"))
}

fn serve_once(dir: &Path, key: Option<&str>) {
    let mut command = portcullis(dir);
    if let Some(key) = key {
        command.env("PORTCULLIS_MASTER_KEY", key);
    }
    let mut server = ServerProcess::start(command, dir);
    assert!(server.terminate().success());
}

/// `serve` that must refuse: exit status and its stderr.
fn refused(dir: &Path, key: Option<&str>) -> String {
    let mut command = portcullis(dir);
    if let Some(key) = key {
        command.env("PORTCULLIS_MASTER_KEY", key);
    }
    let (ok, out, err) = run(command.arg("serve"));
    assert!(!ok, "serve started: {out}{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one clear line: {err}");
    lines[0].to_owned()
}

#[tokio::test]
async fn the_master_key_from_the_environment_seals_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    serve_once(dir.path(), Some(KEY));
    let rows = key_rows(dir.path()).await;
    assert_eq!(rows.len(), 3, "one key per algorithm");
    assert!(
        sealed(&rows),
        "PORTCULLIS_MASTER_KEY was ignored: the keys are plain"
    );

    // Without the key, or with another, the sealed database refuses to start and stays as it is.
    let line = refused(dir.path(), None);
    assert!(line.contains("PORTCULLIS_MASTER_KEY"), "{line}");
    let line = refused(dir.path(), Some(OTHER_KEY));
    assert_eq!(
        line.matches("does not match").count(),
        1,
        "said once: {line}"
    );
    assert_eq!(
        key_rows(dir.path()).await,
        rows,
        "a refused start changed the keys"
    );

    // With the key, `keys rotate` adds a sealed key; without it, it is refused.
    let (ok, _, err) = run(portcullis(dir.path()).args(["keys", "rotate"]));
    assert!(!ok, "a rotation without the master key was allowed");
    assert!(err.contains("PORTCULLIS_MASTER_KEY"), "{err}");
    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_MASTER_KEY", KEY)
        .args(["keys", "rotate"]));
    assert!(ok, "{err}");
    let rotated = key_rows(dir.path()).await;
    assert_eq!(rotated.len(), 4);
    assert!(
        sealed(&rotated),
        "a key rotated under the master key is plain"
    );
}

#[tokio::test]
async fn plain_keys_are_sealed_at_the_first_start_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    serve_once(dir.path(), None);
    let plain = key_rows(dir.path()).await;
    assert!(
        plain.iter().all(|(_, der)| der.starts_with(&[0x30])),
        "plain PKCS#8"
    );
    serve_once(dir.path(), Some(KEY));
    let now = key_rows(dir.path()).await;
    assert!(sealed(&now), "the first start with a key left plain rows");
    assert_eq!(
        now.iter().map(|(kid, _)| kid).collect::<Vec<_>>(),
        plain.iter().map(|(kid, _)| kid).collect::<Vec<_>>(),
        "the same keys, sealed in place"
    );
    // A plain row that got in anyway (an old instance without the key) is sealed at the next
    // start with the key.
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE signing_keys SET private_der = $1 WHERE kid = $2")
            .bind(&plain[0].1)
            .bind(&plain[0].0)
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
    }
    assert!(!sealed(&key_rows(dir.path()).await));
    serve_once(dir.path(), Some(KEY));
    assert!(
        sealed(&key_rows(dir.path()).await),
        "a later start left a plain row"
    );
    // A too-short key is a configuration error, named as such.
    let line = refused(dir.path(), Some("short"));
    assert!(
        line.contains("'master_key' (from PORTCULLIS_MASTER_KEY)") && line.contains("at least 32"),
        "{line}"
    );
}

/// `portcullis keys rekey --new-master-key-env VAR` (and `--new-master-key-file`) while a server
/// runs: it keeps serving; the next start with the old key is refused with a message naming the
/// rekey, and one with the new key serves the same client.
#[tokio::test]
async fn rekey_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let with_key = |key: &str| {
        let mut command = portcullis(dir.path());
        command.env("PORTCULLIS_MASTER_KEY", key);
        command
    };
    let mut server = ServerProcess::start(with_key(KEY), dir.path());
    let (id, secret) = crate::helpers::create_client_with(&mut with_key(KEY), &["--scope", "r"]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let before = key_rows(dir.path()).await;

    let (ok, out, err) = run(with_key(KEY).env("NEW_KEY", OTHER_KEY).args([
        "keys",
        "rekey",
        "--new-master-key-env",
        "NEW_KEY",
    ]));
    assert!(ok && out.contains("re-sealed"), "{out}{err}");
    let after = key_rows(dir.path()).await;
    assert!(sealed(&after) && after != before);
    // The running server goes on (it reloads on the revision the rekey moved).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.token(&id, &secret).await.0, 200);
    assert!(server.terminate().success());

    let message = refused(dir.path(), Some(KEY));
    assert!(message.contains("keys rekey"), "{message}");
    // An admin command with the old key is refused too.
    let (ok, _, err) = run(with_key(KEY).args(["client", "rotate-secret", &id]));
    assert!(!ok && err.contains("does not match"), "{err}");

    // And back, from a file.
    std::fs::write(dir.path().join("new.key"), KEY).unwrap();
    let (ok, _, err) =
        run(with_key(OTHER_KEY).args(["keys", "rekey", "--new-master-key-file", "new.key"]));
    assert!(ok, "{err}");
    let server = ServerProcess::start(with_key(KEY), dir.path());
    assert_eq!(server.token(&id, &secret).await.0, 200);
}
