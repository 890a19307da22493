//! `KeyVault::rekey` (`portcullis keys rekey`): every sealed secret under the new master key in
//! one transaction, a running server that keeps serving, an old-key start refused, and an
//! interrupted rekey that leaves everything under the old key. On SQLite and PostgreSQL.

use crate::databases::{TestDatabase, execute};
use crate::helpers::{TestApp, try_spawn_with};
use portcullis_core::Secret;
use portcullis_server::config::ConfigSecret;
use portcullis_server::keys::KeyVault;
use portcullis_server::store::Store;

const OLD: &str = "old-master-key-old-master-key-old-0123456";
const NEW: &str = "new-master-key-new-master-key-new-6543210";
const HMAC_ROW: &str = portcullis_server::client_secret::KEY_NAME;

async fn start(db: &TestDatabase, key: &str) -> Result<TestApp, String> {
    let (url, key) = (db.url.clone(), ConfigSecret::new(key));
    try_spawn_with(move |c| {
        c.database = url;
        c.master_key = Some(key);
    })
    .await
    .map_err(|e| e.to_string())
}

fn vault(key: &str) -> KeyVault {
    KeyVault::from_master_key(&Secret::new(key)).unwrap()
}

/// Every stored key and server secret (the check value and the HMAC key among them).
async fn sealed_state(store: &dyn Store) -> Vec<(String, Vec<u8>)> {
    let mut rows: Vec<(String, Vec<u8>)> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.private_der))
        .collect();
    rows.extend(store.server_secrets().await.unwrap());
    rows
}

async fn token_status(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.client_credentials(id, secret).await.status.as_u16()
}

#[tokio::test]
async fn rekey_reseals_everything_and_the_running_server_keeps_serving() {
    for db in TestDatabase::both().await {
        let app = start(&db, OLD).await.unwrap();
        let (id, secret) = app.service_client("read").await;
        assert_eq!(token_status(&app, &id, &secret).await, 200);
        let before = sealed_state(app.store.as_ref()).await;
        let hmac = before.iter().find(|(name, _)| name == HMAC_ROW).unwrap();
        assert!(hmac.1.starts_with(b"PCK1"), "the HMAC key is sealed too");

        let count = vault(OLD)
            .rekey(&vault(NEW), app.store.as_ref())
            .await
            .unwrap();
        assert!(count >= 4, "three signing keys and the HMAC key: {count}");
        let after = sealed_state(app.store.as_ref()).await;
        assert_eq!(before.len(), after.len());
        for ((name, old), (_, new)) in before.iter().zip(&after) {
            assert_ne!(old, new, "{name} re-sealed");
            assert!(new.starts_with(b"PCK1"), "{name} sealed");
        }

        // The running server reloads (the rekey moved the revision) and keeps its keys.
        app.registry.refresh().await.unwrap();
        assert_eq!(
            token_status(&app, &id, &secret).await,
            200,
            "{}",
            db.backend()
        );

        let refused = start(&db, OLD).await.err().expect("the old key is refused");
        assert!(refused.contains("keys rekey"), "{refused}");
        drop(app);

        let restarted = start(&db, NEW).await.unwrap();
        assert_eq!(
            token_status(&restarted, &id, &secret).await,
            200,
            "the same client secret verifies under the re-sealed HMAC key"
        );
        // Rekeying again with the now-wrong old key is refused and changes nothing.
        let state = sealed_state(restarted.store.as_ref()).await;
        assert!(
            vault(OLD)
                .rekey(&vault(NEW), restarted.store.as_ref())
                .await
                .is_err()
        );
        assert_eq!(sealed_state(restarted.store.as_ref()).await, state);
    }
}

#[tokio::test]
async fn an_interrupted_rekey_leaves_everything_under_the_old_key() {
    for db in TestDatabase::both().await {
        let app = start(&db, OLD).await.unwrap();
        let (id, secret) = app.service_client("read").await;
        let before = sealed_state(app.store.as_ref()).await;
        let revision = app.store.revision().await.unwrap();

        // The last write of the transaction fails, after the keys were already rewritten in it.
        if db.backend() == "postgres" {
            execute(
                &db,
                "CREATE FUNCTION interrupt_rekey() RETURNS trigger AS $$
                 BEGIN RAISE EXCEPTION 'interrupted'; END $$ LANGUAGE plpgsql",
            )
            .await;
            execute(
                &db,
                &format!(
                    "CREATE TRIGGER interrupt_rekey BEFORE UPDATE ON server_secrets FOR EACH ROW
                     WHEN (OLD.name = '{HMAC_ROW}') EXECUTE FUNCTION interrupt_rekey()"
                ),
            )
            .await;
        } else {
            execute(
                &db,
                &format!(
                    "CREATE TRIGGER interrupt_rekey BEFORE UPDATE ON server_secrets
                     WHEN OLD.name = '{HMAC_ROW}' BEGIN SELECT RAISE(ABORT, 'interrupted'); END"
                ),
            )
            .await;
        }
        let err = vault(OLD)
            .rekey(&vault(NEW), app.store.as_ref())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("interrupted"), "{err}");
        assert_eq!(
            sealed_state(app.store.as_ref()).await,
            before,
            "{}",
            db.backend()
        );
        assert_eq!(app.store.revision().await.unwrap(), revision);
        drop(app);

        assert!(start(&db, NEW).await.is_err(), "the new key opens nothing");
        let again = start(&db, OLD).await.unwrap();
        assert_eq!(token_status(&again, &id, &secret).await, 200);
    }
}

/// A process that checked the old master key before a rekey cannot add a key sealed under it
/// afterwards: the store compares the check value it verified with the database's.
#[tokio::test]
async fn no_key_is_added_under_a_replaced_master_key() {
    for db in TestDatabase::both().await {
        let app = start(&db, OLD).await.unwrap();
        let old = vault(OLD);
        old.check(app.store.as_ref()).await.unwrap();
        vault(OLD)
            .rekey(&vault(NEW), app.store.as_ref())
            .await
            .unwrap();
        let kids = app.store.signing_keys().await.unwrap().len();
        let err = portcullis_server::keys::rotate(
            app.store.as_ref(),
            &old,
            portcullis_core::Algorithm::ES256,
            portcullis_core::UnixTime(1),
            0,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("rekey"), "{err}");
        assert_eq!(app.store.signing_keys().await.unwrap().len(), kids);
    }
}

/// A database whose only sealed secret is the HMAC key (an admin command made it before the
/// first start) refuses another master key, and that refusal writes nothing.
#[tokio::test]
async fn a_sealed_hmac_key_alone_refuses_another_master_key() {
    for db in TestDatabase::both().await {
        let store = portcullis_server::store::open(&db.url).await.unwrap();
        portcullis_server::client_secret::SecretHasher::load_with(store.as_ref(), &vault(OLD))
            .await
            .unwrap();
        let before = sealed_state(store.as_ref()).await;
        let refused = start(&db, NEW).await.err().expect("another key is refused");
        assert!(refused.contains("does not match"), "{refused}");
        assert_eq!(
            sealed_state(store.as_ref()).await,
            before,
            "{}",
            db.backend()
        );
        drop(store);
        start(&db, OLD).await.unwrap();
    }
}
