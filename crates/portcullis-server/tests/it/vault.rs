//! Private signing keys encrypted at rest under a master key: the right key, a wrong key, no key,
//! and a database first used without one.

use crate::databases::TestDatabase;
use crate::helpers::{TestApp, try_spawn_with};
use portcullis_server::config::ConfigSecret;
use portcullis_server::store::Store;

const KEY: &str = "correct-master-key-correct-master-key-0123";
const OTHER: &str = "another-master-key-another-master-key-4567";

async fn start(db: &TestDatabase, key: Option<&str>) -> Result<TestApp, String> {
    let url = db.url.clone();
    let key = key.map(ConfigSecret::new);
    try_spawn_with(move |c| {
        c.database = url;
        c.master_key = key;
    })
    .await
    .map_err(|e| e.to_string())
}

async fn kid_in_use(app: &TestApp) -> String {
    let (id, secret) = app.service_client("read").await;
    let token = app.client_credentials(&id, &secret).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    header.kid.unwrap()
}

async fn state(
    store: &dyn Store,
) -> (
    Vec<portcullis_server::store::KeyRow>,
    Vec<(String, Vec<u8>)>,
    i64,
) {
    (
        store.signing_keys().await.unwrap(),
        store.server_secrets().await.unwrap(),
        store.revision().await.unwrap(),
    )
}

#[tokio::test]
async fn keys_are_sealed_and_a_wrong_or_missing_key_changes_nothing() {
    let db = TestDatabase::for_suite().await;
    let first = start(&db, Some(KEY)).await.unwrap();
    let kid = kid_in_use(&first).await;
    let rows = first.store.signing_keys().await.unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(
            row.private_der.starts_with(b"PCK1"),
            "{} is stored sealed",
            row.kid
        );
        assert_ne!(row.private_der.first(), Some(&0x30), "not plain PKCS#8");
    }
    let before = state(first.store.as_ref()).await;
    drop(first);

    let wrong = start(&db, Some(OTHER))
        .await
        .err()
        .expect("a wrong key must stop start-up");
    assert!(wrong.contains("does not match"), "{wrong}");
    let missing = start(&db, None)
        .await
        .err()
        .expect("no key must stop start-up");
    assert!(missing.contains("PORTCULLIS_MASTER_KEY"), "{missing}");
    let short = start(&db, Some("short"))
        .await
        .err()
        .expect("a short key is refused");
    assert!(short.contains("at least 32"), "{short}");

    let again = start(&db, Some(KEY)).await.unwrap();
    assert_eq!(
        state(again.store.as_ref()).await.0,
        before.0,
        "the failed starts changed no key"
    );
    assert_eq!(
        state(again.store.as_ref()).await.1,
        before.1,
        "nor any server secret"
    );
    assert_eq!(
        kid_in_use(&again).await,
        kid,
        "the same key signs after a restart"
    );
}

#[tokio::test]
async fn a_database_used_without_a_master_key_is_sealed_on_the_first_start_with_one() {
    let db = TestDatabase::for_suite().await;
    let plain = start(&db, None).await.unwrap();
    let kid = kid_in_use(&plain).await;
    assert!(
        plain
            .store
            .signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.private_der.first() == Some(&0x30))
    );
    drop(plain);
    let sealed = start(&db, Some(KEY)).await.unwrap();
    assert!(
        sealed
            .store
            .signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.private_der.starts_with(b"PCK1"))
    );
    assert_eq!(kid_in_use(&sealed).await, kid, "the same keys, now sealed");
}

#[tokio::test]
async fn sealed_keys_without_their_check_value_refuse_another_key() {
    let db = TestDatabase::for_suite().await;
    let first = start(&db, Some(KEY)).await.unwrap();
    drop(first);
    // The check value is lost (a hand-made copy of the keys alone, say).
    crate::databases::execute(
        &db,
        "DELETE FROM server_secrets WHERE name = 'master_key_check'",
    )
    .await;
    let store = portcullis_server::store::open(&db.url).await.unwrap();
    let before = state(store.as_ref()).await;
    // Another key must not bless itself with a new check value over keys it cannot open.
    let error = start(&db, Some(OTHER)).await.err().unwrap();
    assert!(error.contains("does not match"), "{error}");
    assert_eq!(state(store.as_ref()).await, before, "nothing changed");
    // The right key starts, and records the check value again.
    let again = start(&db, Some(KEY)).await.unwrap();
    assert!(
        again
            .store
            .server_secrets()
            .await
            .unwrap()
            .iter()
            .any(|(name, _)| name == "master_key_check")
    );
}
