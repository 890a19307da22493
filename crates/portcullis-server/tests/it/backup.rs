//! `store::backup`: a backup taken while the server serves restores to a database holding every
//! client, user, key and grant made before it began, and the restored server's tokens verify with
//! the keys published before. SQLite only (PostgreSQL has pg_dump), so this runs on SQLite in
//! the PostgreSQL pass of the suite too.

use crate::helpers::spawn_with;
use crate::sign_in::flow::{party, refresh, tokens};
use portcullis_core::jws::CompactJws;
use portcullis_core::verifying_key::{keys_of, verifies};
use portcullis_core::{JwkSet, JwsAlgorithm};
use portcullis_server::client::ClientMetadata;
use portcullis_server::store::backup::{self, BackupError};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

async fn kids(store: &dyn portcullis_server::store::Store) -> BTreeSet<String> {
    let rows = store.signing_keys().await.unwrap();
    rows.into_iter().map(|k| k.kid).collect()
}

#[tokio::test]
async fn a_backup_under_load_restores_everything_made_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let live = format!("sqlite://{}", dir.path().join("live.db").display());
    let app = Arc::new(spawn_with(|c| c.database = live.clone()).await);

    // Before the backup: clients, users and grants (refresh tokens from the code flow), and the
    // published keys.
    let mut grants = Vec::new();
    for _ in 0..3 {
        let p = party(&app, |_| {}).await;
        let answer = tokens(&app, &p).await;
        let refresh_token = answer.body["refresh_token"].as_str().unwrap().to_owned();
        grants.push((p, refresh_token));
    }
    let (service_id, service_secret) = app.service_client("read").await;
    let ids = |rows: Vec<portcullis_server::store::ClientRow>| -> BTreeSet<String> {
        rows.into_iter().map(|r| r.client_id).collect()
    };
    let clients_before = ids(app.store.clients().await.unwrap());
    let users_before: BTreeSet<String> = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    let kids_before = kids(app.store.as_ref()).await;
    let jwks_before: JwkSet =
        serde_json::from_value(app.get_json("/jwks.json").await.body).unwrap();

    // Load while the backup runs: tokens issued and clients created, on two tasks.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..2 {
        let (app, stop, done) = (app.clone(), stop.clone(), done.clone());
        let (id, secret) = (service_id.clone(), service_secret.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(app.client_credentials(&id, &secret).await.status, 200);
                app.create_client(ClientMetadata {
                    scope: "read".into(),
                    ..ClientMetadata::default()
                })
                .await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while done.load(Ordering::Relaxed) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let file = dir.path().join("backup.db");
    let size = backup::backup(&live, &file).await.unwrap();
    let during = done.load(Ordering::Relaxed);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(size > 0);
    assert!(
        done.load(Ordering::Relaxed) > during,
        "the load went on after the backup"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup holds sealed keys");
    }

    // A backup never overwrites, and a restore over the open database is refused.
    assert!(matches!(
        backup::backup(&live, &file).await,
        Err(BackupError::Exists(_))
    ));
    assert!(matches!(
        backup::restore(&live, &file, "t", false).await,
        Err(BackupError::InUse(_))
    ));

    // Restored elsewhere, served by a new server.
    let restored_url = format!("sqlite://{}", dir.path().join("restored.db").display());
    let restored = backup::restore(&restored_url, &file, "t", true)
        .await
        .unwrap();
    assert!(restored.previous.is_none());
    let copy = spawn_with(|c| c.database = restored_url.clone()).await;
    let clients_after = ids(copy.store.clients().await.unwrap());
    assert!(clients_after.is_superset(&clients_before));
    assert!(clients_after.len() < ids(app.store.clients().await.unwrap()).len());
    for user in &users_before {
        assert!(
            copy.store.user_by_id(user).await.unwrap().is_some(),
            "{user}"
        );
    }
    assert_eq!(kids(copy.store.as_ref()).await, kids_before);
    for (p, refresh_token) in &grants {
        let answer = refresh(&copy, p, refresh_token, None).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let token = copy
        .client_credentials(&service_id, &service_secret)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let jws = CompactJws::parse(&token).unwrap();
    let alg: JwsAlgorithm = jws.header_str("alg").unwrap().parse().unwrap();
    assert!(verifies(
        &keys_of(&jwks_before),
        jws.header_str("kid"),
        alg,
        jws.signing_input,
        &jws.signature
    ));
}

/// What a restore refuses, with nothing changed: a file that is not a Portcullis database, and a
/// PostgreSQL URL.
#[tokio::test]
async fn restore_refuses_what_is_not_a_portcullis_backup() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}", dir.path().join("target.db").display());
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let err = backup::restore(&target, &junk, "t", true)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::NotPortcullis { .. }), "{err}");
    assert!(!dir.path().join("target.db").exists());

    // A restore run where there is no database (the wrong directory) replaces nothing.
    let backup_file = dir.path().join("b.db");
    let live = format!("sqlite://{}", dir.path().join("live.db").display());
    portcullis_server::store::open(&live).await.unwrap();
    backup::backup(&live, &backup_file).await.unwrap();
    let err = backup::restore(&target, &backup_file, "t", false)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::Missing(_)), "{err}");
    assert!(!dir.path().join("target.db").exists());

    let err = backup::backup("postgres://postgres@127.0.0.1/test", &dir.path().join("b"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
}

/// A database left as a crashed server leaves it, with committed rows only in its `-wal`: used as
/// the source of a restore, its WAL rows come along; restored over, its WAL rows are in the kept
/// copy.
#[tokio::test]
async fn restore_keeps_what_only_a_wal_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let url = |name: &str| format!("sqlite://{}", path(name).display());
    let live = portcullis_server::store::open(&url("live.db"))
        .await
        .unwrap();
    let hasher = portcullis_server::client_secret::SecretHasher::load(live.as_ref())
        .await
        .unwrap();
    let admin = portcullis_server::admin::ClientAdmin::new(
        live.as_ref(),
        &hasher,
        portcullis_core::UnixTime(1),
    );
    let saved = admin
        .create(
            None,
            ClientMetadata {
                scope: "read".into(),
                ..ClientMetadata::default()
            },
            portcullis_server::admin::SecretSource::Generate,
        )
        .await
        .unwrap();
    let id = saved.client_id.to_string();
    // The files as a crash would leave them: the new client is in the WAL, not yet in the file.
    assert!(std::fs::metadata(path("live.db-wal")).unwrap().len() > 0);
    for (from, to) in [
        ("live.db", "crashed.db"),
        ("live.db-wal", "crashed.db-wal"),
        ("live.db", "target.db"),
        ("live.db-wal", "target.db-wal"),
    ] {
        std::fs::copy(path(from), path(to)).unwrap();
    }
    drop(live);

    // As the source: the restored database has the client.
    let restored = backup::restore(&url("fresh.db"), &path("crashed.db"), "t", true)
        .await
        .unwrap();
    let fresh = portcullis_server::store::open(&url("fresh.db"))
        .await
        .unwrap();
    assert!(fresh.client(&id).await.unwrap().is_some(), "{restored:?}");

    // Restored over: the kept copy has it.
    let other = dir.path().join("other-backup.db");
    backup::backup(&url("fresh.db"), &other).await.unwrap();
    drop(fresh);
    let restored = backup::restore(&url("target.db"), &other, "t", false)
        .await
        .unwrap();
    let kept = restored.previous.unwrap();
    assert!(
        !dir.path().join("target.db-wal").exists()
            || std::fs::metadata(dir.path().join("target.db-wal"))
                .unwrap()
                .len()
                == 0
    );
    let kept_store = portcullis_server::store::open(&format!("sqlite://{}", kept.display()))
        .await
        .unwrap();
    assert!(kept_store.client(&id).await.unwrap().is_some());
}
