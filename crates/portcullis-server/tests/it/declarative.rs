//! `[[clients]]` tables: created or updated at start, secrets checked.

use crate::helpers::{spawn_with, try_spawn_with};
use portcullis_server::Config;

fn config_with(toml_clients: &str) -> Config {
    Config::from_sources(toml_clients, Vec::<(String, String)>::new()).unwrap()
}

#[tokio::test]
async fn declared_clients_are_created_and_updated() {
    let secret = "a-declared-secret-of-forty-characters-xx";
    let declared = config_with(&format!(
        r#"
        [[clients]]
        client_id = "reporting"
        client_secret = "{secret}"
        client_name = "Reporting job"
        scope = "read"
        audience = ["https://api.example.com"]
        "#
    ));
    let app = spawn_with(|c| c.clients = declared.clients.clone()).await;
    let answer = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "reporting"),
            ("client_secret", secret),
            ("scope", "read"),
        ])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (_, claims) = crate::jwt::verify(
        &app,
        answer.body["access_token"].as_str().unwrap(),
        "https://api.example.com",
    )
    .await;
    assert_eq!(claims["sub"], "reporting");
}

#[tokio::test]
async fn applying_the_same_tables_twice_changes_nothing_and_edits_apply() {
    let database = crate::databases::TestDatabase::for_suite().await;
    let db = database.url.clone();
    let first = config_with(
        r#"
        [[clients]]
        client_id = "svc"
        client_secret = "first-secret-first-secret-first-secret"
        scope = "read"
        "#,
    );
    let second = config_with(
        r#"
        [[clients]]
        client_id = "svc"
        client_secret = "second-secret-second-secret-second-secret"
        scope = "read write"
        "#,
    );
    for (config, secret, scope) in [
        (&first, "first-secret-first-secret-first-secret", "read"),
        (&first, "first-secret-first-secret-first-secret", "read"),
        (
            &second,
            "second-secret-second-secret-second-secret",
            "read write",
        ),
    ] {
        let db = db.clone();
        let app = spawn_with(|c| {
            c.database = db;
            c.clients = config.clients.clone();
        })
        .await;
        let answer = app
            .post_token(&[
                ("grant_type", "client_credentials"),
                ("client_id", "svc"),
                ("client_secret", secret),
            ])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["scope"], scope);
        let clients = app.store.clients().await.unwrap();
        assert_eq!(clients.len(), 1);
    }
}

#[tokio::test]
async fn a_short_or_missing_secret_stops_start_up() {
    let short = config_with(
        r#"
        [[clients]]
        client_id = "svc"
        client_secret = "too-short"
        "#,
    );
    let error = try_spawn_with(|c| c.clients = short.clients.clone())
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(
        error.contains("clients[0]") && error.contains("at least 32 characters"),
        "{error}"
    );

    let missing = config_with(
        r#"
        [[clients]]
        client_id = "svc"
        "#,
    );
    let error = try_spawn_with(|c| c.clients = missing.clients.clone())
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(error.contains("client_secret is required"), "{error}");

    let unset = Config::from_sources(
        r#"
        [[clients]]
        client_id = "svc"
        client_secret = "env:PORTCULLIS_TEST_SURELY_UNSET_VARIABLE"
        "#,
        Vec::<(String, String)>::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        unset.contains("PORTCULLIS_TEST_SURELY_UNSET_VARIABLE is not set"),
        "{unset}"
    );
}
