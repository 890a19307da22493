//! The storage contract, run against both backends (PostgreSQL where reachable; with `CI=true` it
//! must be). Concurrency is real: the racing calls go through separate pool connections.
//!
//! Long because: it is the one contract both backends must meet, method by method; one file keeps
//! it reviewable as a whole.

use crate::databases::TestDatabase;
use portcullis_core::Algorithm;
use portcullis_core::UnixTime;
use portcullis_server::keys;
use portcullis_server::store::sign_in::{
    CodeRow, GrantRow, IssuedAccessToken, IssuedTokens, RefreshRow, UserRow,
};
use portcullis_server::store::{self, ClientRow, DumpRecord, Store, StoreError, StoreOptions};
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_800_000_000;

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    store::open(&db.url).await.unwrap()
}

fn user(id: &str) -> UserRow {
    UserRow {
        user_id: id.into(),
        username: format!("name-{id}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        email: Some(format!("{id}@example.com")),
        email_verified: true,
        name: None,
        given_name: None,
        family_name: None,
        created_at: NOW,
        updated_at: NOW,
        disabled_at: None,
    }
}

fn code(hash: &[u8], expires_at: i64) -> CodeRow {
    CodeRow {
        code_hash: hash.to_vec(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_sent: true,
        code_challenge: Some("x".repeat(43)),
        scope: "openid".into(),
        nonce: None,
        auth_time: NOW,
        expires_at,
        used_at: None,
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}

fn grant(id: &str, expires_at: i64) -> GrantRow {
    GrantRow {
        grant_id: id.into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        scope: "openid offline_access".into(),
        auth_time: NOW,
        created_at: NOW,
        expires_at,
        revoked_at: None,
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}

fn tokens(refresh: &[u8], grant_id: &str, jti: &str, expires_at: i64) -> IssuedTokens {
    IssuedTokens {
        refresh: Some(RefreshRow {
            token_hash: refresh.to_vec(),
            grant_id: grant_id.into(),
            issued_at: NOW,
            idle_expires_at: NOW + 3600,
            rotated_at: None,
            superseded_at: None,
            grace_used_at: None,
        }),
        access: IssuedAccessToken {
            jti: jti.into(),
            expires_at,
        },
    }
}

async fn with_user(store: &dyn Store) {
    store.insert_user(&user("u1")).await.unwrap();
}

#[tokio::test]
async fn of_concurrent_code_redemptions_exactly_one_wins() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        with_user(store.as_ref()).await;
        store.insert_code(&code(b"code-1", NOW + 60)).await.unwrap();
        let attempts = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let g = grant(&format!("g{i}"), NOW + 86_400);
                let t = tokens(
                    format!("r{i}").as_bytes(),
                    &g.grant_id,
                    &format!("j{i}"),
                    NOW + 900,
                );
                store.redeem_code(b"code-1", NOW, &g, &t).await.unwrap()
            })
        });
        let wins = futures_count(attempts).await;
        assert_eq!(wins, 1, "{}: one redemption wins", db.backend());
        let rows = store.traffic_rows().await.unwrap();
        assert_eq!(rows.grants, 1, "{}: losers wrote nothing", db.backend());
        assert_eq!(rows.refresh_tokens, 1, "{}", db.backend());
        assert_eq!(rows.grant_access_tokens, 1, "{}", db.backend());
    }
}

async fn futures_count(tasks: impl Iterator<Item = tokio::task::JoinHandle<bool>>) -> usize {
    let mut wins = 0;
    for task in tasks.collect::<Vec<_>>() {
        if task.await.unwrap() {
            wins += 1;
        }
    }
    wins
}

#[tokio::test]
async fn of_concurrent_refresh_rotations_exactly_one_wins() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        with_user(store.as_ref()).await;
        store.insert_code(&code(b"code-2", NOW + 60)).await.unwrap();
        let g = grant("g", NOW + 86_400);
        assert!(
            store
                .redeem_code(b"code-2", NOW, &g, &tokens(b"r0", "g", "j0", NOW + 900))
                .await
                .unwrap()
        );
        let attempts = (1..=8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let t = tokens(format!("r{i}").as_bytes(), "g", &format!("j{i}"), NOW + 900);
                store
                    .rotate_refresh(b"r0", NOW + 1, &t, false)
                    .await
                    .unwrap()
            })
        });
        assert_eq!(futures_count(attempts).await, 1, "{}", db.backend());
        let rows = store.traffic_rows().await.unwrap();
        assert_eq!(
            rows.refresh_tokens,
            2,
            "{}: the old one and one successor",
            db.backend()
        );
    }
}

#[tokio::test]
async fn a_failing_rotation_among_concurrent_ones_fails_alone() {
    // On SQLite, rotations arriving together are written as one group (`store/group_commit.rs`);
    // one that cannot be written (its access-token id is taken) must not take the others down,
    // and must leave its own token as it was.
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        with_user(store.as_ref()).await;
        for i in 0..12 {
            let c = format!("code-many-{i}");
            store
                .insert_code(&code(c.as_bytes(), NOW + 60))
                .await
                .unwrap();
            let g = grant(&format!("g{i}"), NOW + 86_400);
            let first = tokens(
                format!("r{i}-0").as_bytes(),
                &g.grant_id,
                &format!("j{i}-0"),
                NOW + 900,
            );
            assert!(
                store
                    .redeem_code(c.as_bytes(), NOW, &g, &first)
                    .await
                    .unwrap()
            );
        }
        let attempts: Vec<_> = (0..12)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let jti = if i == 5 {
                        "j1-0".to_owned()
                    } else {
                        format!("j{i}-1")
                    };
                    let next = tokens(
                        format!("r{i}-1").as_bytes(),
                        &format!("g{i}"),
                        &jti,
                        NOW + 900,
                    );
                    store
                        .rotate_refresh(format!("r{i}-0").as_bytes(), NOW + 1, &next, false)
                        .await
                })
            })
            .collect();
        for (i, attempt) in attempts.into_iter().enumerate() {
            let result = attempt.await.unwrap();
            if i == 5 {
                assert!(result.is_err(), "{}: {result:?}", db.backend());
            } else {
                assert!(result.unwrap(), "{}: rotation {i} lost", db.backend());
            }
        }
        let left = store.refresh_token(b"r5-0").await.unwrap().unwrap();
        assert_eq!(left.refresh.rotated_at, None, "{}", db.backend());
        assert!(
            store.refresh_token(b"r5-1").await.unwrap().is_none(),
            "{}",
            db.backend()
        );
        let moved = store.refresh_token(b"r4-0").await.unwrap().unwrap();
        assert_eq!(moved.refresh.rotated_at, Some(NOW + 1), "{}", db.backend());
    }
}

#[tokio::test]
async fn concurrent_key_rotations_leave_one_key_in_service() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        let now = UnixTime(NOW);
        keys::ensure_signing_keys(store.as_ref(), &keys::KeyVault::none(), now)
            .await
            .unwrap();
        let rotations = (0..4).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                keys::rotate(
                    store.as_ref(),
                    &keys::KeyVault::none(),
                    Algorithm::ES256,
                    now,
                    60,
                )
                .await
                .unwrap()
            })
        });
        for r in rotations.collect::<Vec<_>>() {
            r.await.unwrap();
        }
        let es256: Vec<_> = store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.alg == "ES256")
            .collect();
        assert_eq!(es256.len(), 5, "{}", db.backend());
        let unretired = es256.iter().filter(|k| k.retires_at.is_none()).count();
        assert_eq!(unretired, 1, "{}: exactly one key signs on", db.backend());
    }
}

#[tokio::test]
async fn instances_starting_together_make_one_key_per_algorithm() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        let starts = (0..4).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                keys::ensure_signing_keys(store.as_ref(), &keys::KeyVault::none(), UnixTime(NOW))
                    .await
                    .unwrap()
            })
        });
        for s in starts.collect::<Vec<_>>() {
            s.await.unwrap();
        }
        let keys = store.signing_keys().await.unwrap();
        assert_eq!(
            keys.len(),
            Algorithm::ALL.len(),
            "{}: {keys:?}",
            db.backend()
        );
    }
}

#[tokio::test]
async fn clean_up_deletes_what_is_expired_and_keeps_what_is_live() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        with_user(store.as_ref()).await;
        // 30 expired codes and one live one.
        for i in 0..30u8 {
            store
                .insert_code(&code(&[b'c', i], NOW - 7200))
                .await
                .unwrap();
        }
        store.insert_code(&code(b"live", NOW + 60)).await.unwrap();
        // A grant whose refresh token idled out and whose access token expired.
        store
            .insert_code(&code(b"old-grant", NOW + 60))
            .await
            .unwrap();
        let old = grant("old", NOW - 1);
        let mut t = tokens(b"old-r", "old", "old-j", NOW - 10);
        if let Some(r) = t.refresh.as_mut() {
            r.idle_expires_at = NOW - 10;
        }
        assert!(
            store
                .redeem_code(b"old-grant", NOW - 100, &old, &t)
                .await
                .unwrap()
        );
        // A live grant.
        store
            .insert_code(&code(b"new-grant", NOW + 60))
            .await
            .unwrap();
        let fresh = grant("new", NOW + 86_400);
        assert!(
            store
                .redeem_code(
                    b"new-grant",
                    NOW,
                    &fresh,
                    &tokens(b"new-r", "new", "new-j", NOW + 900)
                )
                .await
                .unwrap()
        );
        store
            .insert_session(b"s-old", "u1", NOW - 10, NOW - 1)
            .await
            .unwrap();
        store
            .insert_session(b"s-new", "u1", NOW, NOW + 3600)
            .await
            .unwrap();
        store
            .revoke_access_token("deny-old", NOW - 1)
            .await
            .unwrap();
        store
            .revoke_access_token("deny-new", NOW + 900)
            .await
            .unwrap();

        let mut rounds = 0;
        loop {
            rounds += 1;
            let purged = store.purge_expired(NOW, 10).await.unwrap();
            if !purged.may_have_more(10) {
                break;
            }
            assert!(rounds < 10);
        }
        assert!(rounds >= 3, "{}: 30 codes in batches of 10", db.backend());
        let rows = store.traffic_rows().await.unwrap();
        assert_eq!(
            rows.codes,
            3,
            "{}: live, old-grant, new-grant codes",
            db.backend()
        );
        assert_eq!(rows.sessions, 1, "{}", db.backend());
        assert_eq!(rows.grants, 1, "{}", db.backend());
        assert_eq!(rows.refresh_tokens, 1, "{}", db.backend());
        assert_eq!(rows.grant_access_tokens, 1, "{}", db.backend());
        assert_eq!(rows.revoked_access_tokens, 1, "{}", db.backend());
        assert!(store.session(b"s-new", NOW).await.unwrap().is_some());
        assert!(store.access_token_revoked("deny-new").await.unwrap());
        assert!(store.refresh_token(b"new-r").await.unwrap().is_some());
        assert!(store.code(b"live").await.unwrap().is_some());
    }
}

#[tokio::test]
async fn a_revoked_grant_stays_until_its_access_tokens_expire() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        with_user(store.as_ref()).await;
        store.insert_code(&code(b"k", NOW + 60)).await.unwrap();
        let g = grant("g", NOW + 86_400);
        assert!(
            store
                .redeem_code(b"k", NOW, &g, &tokens(b"r", "g", "j", NOW + 900))
                .await
                .unwrap()
        );
        store.revoke_grant("g", NOW + 1).await.unwrap();
        store.purge_expired(NOW + 2, 100).await.unwrap();
        assert!(
            store.access_token_revoked("j").await.unwrap(),
            "{}: its access token must still read as revoked",
            db.backend()
        );
        store.purge_expired(NOW + 901, 100).await.unwrap();
        let rows = store.traffic_rows().await.unwrap();
        assert_eq!(
            (rows.grants, rows.refresh_tokens),
            (0, 0),
            "{}",
            db.backend()
        );
    }
}

#[tokio::test]
async fn migration_status_lists_every_step_and_a_newer_schema_is_refused() {
    for db in TestDatabase::both().await {
        let options = StoreOptions {
            migrate: false,
            ..StoreOptions::default()
        };
        let fresh = store::open_with(&db.url, &options).await.unwrap();
        let before = fresh.migration_status().await.unwrap();
        assert_eq!(before.current, 0);
        assert_eq!(before.pending(), before.migrations.len());
        fresh.migrate().await.unwrap();
        let after = fresh.migration_status().await.unwrap();
        assert_eq!(after.pending(), 0, "{}", db.backend());
        assert_eq!(after.current, after.known);
        fresh.migrate().await.unwrap();

        // A later Portcullis recorded version 999: this one must not touch the database.
        run_sql(
            &db,
            "INSERT INTO portcullis_migrations VALUES (999, 'future', 0)",
        )
        .await;
        match store::open(&db.url).await {
            Err(StoreError::NewerSchema { found: 999, .. }) => {}
            Err(other) => panic!("{}: unexpected {other}", db.backend()),
            Ok(_) => panic!("{}: a newer schema must be refused", db.backend()),
        }
    }
}

async fn run_sql(db: &TestDatabase, sql: &'static str) {
    use sqlx::Connection;
    if db.backend() == "postgres" {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_such() {
    let options = StoreOptions {
        acquire_timeout: Duration::from_secs(2),
        ..StoreOptions::default()
    };
    // Port 1 on loopback: nothing listens there.
    match store::open_with("postgres://postgres@127.0.0.1:1/none", &options).await {
        Err(error @ StoreError::Unreachable(_)) => {
            let text = error.to_string();
            assert!(text.contains("cannot connect"), "{text}");
        }
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("nothing listens on port 1"),
    }
}

fn client_row(id: &str) -> ClientRow {
    ClientRow {
        registration_token_hash: None,
        client_id: id.into(),
        secret_hash: Some(vec![7; 32]),
        metadata: r#"{"scope":"read"}"#.into(),
        created_at: NOW,
        updated_at: NOW,
    }
}

#[tokio::test]
async fn export_then_import_copies_everything_between_backends() {
    let dbs = TestDatabase::both().await;
    // SQLite to SQLite always; SQLite to PostgreSQL and back where PostgreSQL is present.
    let mut pairs = vec![(TestDatabase::sqlite(), TestDatabase::sqlite())];
    if dbs.len() == 2 {
        pairs.push((
            TestDatabase::sqlite(),
            TestDatabase::postgres().await.unwrap(),
        ));
        pairs.push((
            TestDatabase::postgres().await.unwrap(),
            TestDatabase::sqlite(),
        ));
    }
    for (from_db, to_db) in &pairs {
        let from = open(from_db).await;
        let secret = from
            .server_secret("client_secret_hmac", &[1; 32])
            .await
            .unwrap();
        keys::ensure_signing_keys(from.as_ref(), &keys::KeyVault::none(), UnixTime(NOW))
            .await
            .unwrap();
        from.insert_client(&client_row("svc")).await.unwrap();
        with_user(from.as_ref()).await;
        from.save_consent("u1", "svc", "openid", NOW).await.unwrap();
        let dump = store::dump::export(from.as_ref()).await.unwrap();
        let lines: Vec<String> = dump.iter().map(|r| r.to_line().unwrap()).collect();
        let parsed: Vec<DumpRecord> = lines
            .iter()
            .map(|l| DumpRecord::from_line(l).unwrap())
            .collect();

        let to = open(to_db).await;
        to.import(&parsed).await.unwrap();
        let label = format!("{} -> {}", from_db.backend(), to_db.backend());
        assert_eq!(
            to.server_secret("client_secret_hmac", &[9; 32])
                .await
                .unwrap(),
            secret,
            "{label}"
        );
        assert_eq!(
            to.clients().await.unwrap(),
            from.clients().await.unwrap(),
            "{label}"
        );
        assert_eq!(
            to.users().await.unwrap(),
            from.users().await.unwrap(),
            "{label}"
        );
        assert_eq!(
            to.signing_keys().await.unwrap(),
            from.signing_keys().await.unwrap(),
            "{label}"
        );
        assert_eq!(
            to.consents().await.unwrap(),
            from.consents().await.unwrap(),
            "{label}"
        );

        // A second import into the now non-empty database is refused and writes nothing.
        let before = to.revision().await.unwrap();
        match to.import(&parsed).await {
            Err(StoreError::ImportRefused(_)) => {}
            other => panic!("{label}: expected a refusal, got {other:?}"),
        }
        assert_eq!(to.revision().await.unwrap(), before);
    }
}

#[tokio::test]
async fn a_failed_import_writes_nothing() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        let records = vec![
            DumpRecord::client(client_row("a")),
            DumpRecord::client(client_row("a")),
        ];
        assert!(matches!(
            store.import(&records).await,
            Err(StoreError::ImportRefused(_))
        ));
        assert!(
            store.clients().await.unwrap().is_empty(),
            "{}",
            db.backend()
        );
    }
}

#[tokio::test]
async fn postgres_notifies_other_instances_of_changes() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let a = open(&db).await;
    let b = open(&db).await;
    let mut feed = b
        .change_feed()
        .await
        .unwrap()
        .expect("PostgreSQL has a change feed");
    a.insert_client(&client_row("notified")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), feed.changed())
        .await
        .expect("a notification within 2 s");
    assert!(b.client("notified").await.unwrap().is_some());
}

#[tokio::test]
async fn failure_counters_count_atomically_lock_across_readers_and_expire() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        // Fifty increments at once: each sees its own count, and they add up.
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .count_attempts(100, NOW + 60, &[("key-a", 1), ("key-b", 1)])
                    .await
                    .unwrap()
            }));
        }
        let mut seen: Vec<i64> = Vec::new();
        for t in tasks {
            let counts = t.await.unwrap();
            assert_eq!(counts[0].current, counts[1].current, "{}", db.backend());
            seen.push(counts[0].current);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=50).collect::<Vec<_>>(), "{}", db.backend());
        // The next bucket reads this one as its previous; a release takes one back.
        let next = store
            .count_attempts(101, NOW + 120, &[("key-a", 1)])
            .await
            .unwrap();
        assert_eq!((next[0].previous, next[0].current), (50, 1));
        let back = store
            .count_attempts(101, NOW + 120, &[("key-a", -1)])
            .await
            .unwrap();
        assert_eq!(back[0].current, 0);

        // Locks: every reader sees them in sequence order, and only while they last.
        store.lock_key("key-a", NOW + 30).await.unwrap();
        store.lock_key("key-b", NOW + 90).await.unwrap();
        let locks = store.locks_after(0, NOW).await.unwrap();
        assert_eq!(locks.len(), 2, "{}", db.backend());
        assert!(locks[0].seq < locks[1].seq);
        let later = store.locks_after(locks[0].seq, NOW).await.unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(store.locks_after(0, NOW + 60).await.unwrap().len(), 1);

        // The clean-up removes counters whose window has passed and locks that have ended.
        let purged = store.purge_expired(NOW + 61, 100).await.unwrap();
        assert_eq!(purged.throttle_counts, 2, "{}", db.backend());
        assert_eq!(purged.throttle_locks, 1, "{}", db.backend());
        let purged = store.purge_expired(NOW + 121, 100).await.unwrap();
        assert_eq!(
            (purged.throttle_counts, purged.throttle_locks),
            (1, 1),
            "{}",
            db.backend()
        );
    }
}

#[tokio::test]
async fn a_plain_key_cannot_join_a_database_whose_keys_are_sealed() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        let sealed = keys::KeyVault::from_master_key(&portcullis_core::Secret::new(
            "a-master-key-of-at-least-thirty-two-chars",
        ))
        .unwrap();
        // A sealed database: a check value and sealed keys.
        sealed.unlock(store.as_ref()).await.unwrap();
        keys::ensure_signing_keys(store.as_ref(), &sealed, UnixTime(NOW))
            .await
            .unwrap();
        // Whoever writes without the key (a process that skipped the check) is refused by the
        // store itself, for a first key and for a rotation alike.
        let plain = keys::KeyVault::none();
        let refused = keys::rotate(store.as_ref(), &plain, Algorithm::ES256, UnixTime(NOW), 0)
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("master key is required"), "{refused}");
        let rows = store.signing_keys().await.unwrap();
        assert!(
            rows.iter().all(|r| keys::is_sealed(&r.private_der)),
            "{}",
            db.backend()
        );
        // With the key, a rotation is sealed and accepted.
        keys::rotate(store.as_ref(), &sealed, Algorithm::ES256, UnixTime(NOW), 0)
            .await
            .unwrap();
        assert_eq!(store.signing_keys().await.unwrap().len(), rows.len() + 1);
    }
}

/// A new, empty database on the same backend as `db`.
async fn another_like(db: &TestDatabase) -> TestDatabase {
    match db.backend() {
        "postgres" => TestDatabase::postgres().await.unwrap(),
        _ => TestDatabase::sqlite(),
    }
}

#[tokio::test]
async fn an_import_keeps_keys_and_their_check_value_together() {
    for db in TestDatabase::both().await {
        let source = open(&db).await;
        let vault = keys::KeyVault::from_master_key(&portcullis_core::Secret::new(
            "a-master-key-of-at-least-thirty-two-chars",
        ))
        .unwrap();
        vault.unlock(source.as_ref()).await.unwrap();
        keys::ensure_signing_keys(source.as_ref(), &vault, UnixTime(NOW))
            .await
            .unwrap();
        let sealed = store::dump::export(source.as_ref()).await.unwrap();
        let check = |r: &DumpRecord| matches!(r, DumpRecord::ServerSecret { name, .. } if name == "master_key_check");
        let backend = db.backend();

        // Sealed keys without their check value.
        let target = another_like(&db).await;
        let without_check: Vec<DumpRecord> = sealed.iter().filter(|r| !check(r)).cloned().collect();
        let refused = open(&target)
            .await
            .import(&without_check)
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("no master key check value"),
            "{backend}: {refused}"
        );
        // Plain keys beside a check value.
        let plain_db = another_like(&db).await;
        let plain_store = open(&plain_db).await;
        keys::ensure_signing_keys(plain_store.as_ref(), &keys::KeyVault::none(), UnixTime(NOW))
            .await
            .unwrap();
        let mut mixed = store::dump::export(plain_store.as_ref()).await.unwrap();
        mixed.extend(sealed.iter().filter(|r| check(r)).cloned());
        let refused = open(&target).await.import(&mixed).await.unwrap_err();
        assert!(
            refused.to_string().contains("plain signing keys"),
            "{backend}: {refused}"
        );
        // A target that has a check value of its own (a `keys …` command ran there).
        let own_check = another_like(&db).await;
        let own = open(&own_check).await;
        vault.unlock(own.as_ref()).await.unwrap();
        let refused = own.import(&sealed).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("already has a master key check value"),
            "{backend}: {refused}"
        );
        // Nothing was written by the refusals; the whole export goes in.
        let target_store = open(&target).await;
        assert!(target_store.signing_keys().await.unwrap().is_empty());
        target_store.import(&sealed).await.unwrap();
        assert_eq!(
            target_store.signing_keys().await.unwrap().len(),
            source.signing_keys().await.unwrap().len()
        );
    }
}

/// Every revocation moves the revision (so every instance's registry reloads) and lands in the deny
/// list the registry keeps in memory: an access token revoked on its own, a grant's access tokens
/// when the grant is revoked, and a user's when the user is disabled.
#[tokio::test]
async fn revocations_move_the_revision_and_fill_the_deny_list() {
    for db in TestDatabase::both().await {
        let store = open(&db).await;
        with_user(store.as_ref()).await;
        store.insert_code(&code(b"k", NOW + 60)).await.unwrap();
        let g = grant("g", NOW + 86_400);
        assert!(
            store
                .redeem_code(b"k", NOW, &g, &tokens(b"r", "g", "j", NOW + 900))
                .await
                .unwrap()
        );
        let denied = |store: Arc<dyn Store>| async move {
            let mut list = store.denied_access_tokens().await.unwrap();
            list.sort();
            list
        };
        assert!(denied(store.clone()).await.is_empty(), "{}", db.backend());

        let before = store.revision().await.unwrap();
        store.revoke_access_token("alone", NOW + 900).await.unwrap();
        let after_token = store.revision().await.unwrap();
        assert!(after_token > before, "{}", db.backend());
        store.revoke_grant("g", NOW + 1).await.unwrap();
        let after_grant = store.revision().await.unwrap();
        assert!(after_grant > after_token, "{}", db.backend());
        assert_eq!(
            denied(store.clone()).await,
            ["alone", "j"],
            "{}",
            db.backend()
        );
        // A second revocation of the same thing changes nothing, and moves nothing.
        store.revoke_grant("g", NOW + 2).await.unwrap();
        store.revoke_access_token("alone", NOW + 900).await.unwrap();
        assert_eq!(
            store.revision().await.unwrap(),
            after_grant,
            "{}",
            db.backend()
        );

        // A refresh that read the grant before it was revoked issues nothing under it: the
        // rotation checks the grant again in its own transaction.
        assert!(
            !store
                .rotate_refresh(b"r", NOW + 3, &tokens(b"r2", "g", "late", NOW + 900), false)
                .await
                .unwrap(),
            "{}",
            db.backend()
        );
        assert!(
            store.refresh_token(b"r2").await.unwrap().is_none(),
            "{}",
            db.backend()
        );
        // A registry over the same store (another instance) sees it after its reload.
        let registry = portcullis_server::registry::Registry::load(
            store.clone(),
            Arc::new(portcullis_server::keys::KeyVault::none()),
        )
        .await
        .unwrap();
        let snapshot = registry.snapshot();
        assert!(
            snapshot.is_denied("alone") && snapshot.is_denied("j"),
            "{}",
            db.backend()
        );
        assert!(!snapshot.is_denied("other"), "{}", db.backend());
    }
}

/// Deleting a client finds its grants, codes and consents by index (migration 9), not by
/// scanning the tables while SQLite's one writer is held.
#[tokio::test]
async fn a_deleted_clients_rows_are_found_by_index() {
    use sqlx::{Connection, Row};
    let db = TestDatabase::sqlite();
    store::open(&db.url).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    for table in ["grants", "authorization_codes", "consents"] {
        let sql = format!("EXPLAIN QUERY PLAN DELETE FROM {table} WHERE client_id = 'x'");
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect();
        assert!(
            plan.iter()
                .any(|d| d.contains(&format!("{table}_by_client"))),
            "{table}: {plan:?}"
        );
    }
}
