//! Users declared in the configuration, and password hashing that does not starve token issuance.

use super::flow::{Browser, authorize_url};
use crate::helpers::{spawn_with, try_spawn_with};
use portcullis_core::{Clock, GrantType};
use portcullis_server::Config;
use portcullis_server::client::ClientMetadata;
use portcullis_server::users::{PasswordHasher, PasswordSource, Profile, UserAdmin};

#[tokio::test]
async fn declared_users_can_sign_in_with_a_hash_and_are_not_rehashed() {
    let phc = {
        let hasher = PasswordHasher::new(1).unwrap();
        hasher
            .hash(&portcullis_core::Secret::new("hashed-elsewhere-pw"))
            .await
            .unwrap()
    };
    let config = Config::from_sources(
        &format!(
            r#"
            [[users]]
            username = "bob"
            password_hash = "{phc}"
            email = "bob@example.com"
            name = "Bob"
            "#
        ),
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    let database = crate::databases::TestDatabase::for_suite().await;
    let db = database.url.clone();
    let mut stored = None;
    for _ in 0..2 {
        let db = db.clone();
        let users = config.users.clone();
        let app = spawn_with(move |c| {
            c.database = db;
            c.users = users;
        })
        .await;
        let row = app.store.user_by_username("bob").await.unwrap().unwrap();
        assert_eq!(row.password_hash, phc);
        assert_eq!(row.email.as_deref(), Some("bob@example.com"));
        if let Some(previous) = &stored {
            assert_eq!(previous, &row.updated_at, "a restart changes nothing");
        }
        stored = Some(row.updated_at);
        let (id, _) = app
            .create_client(ClientMetadata {
                grant_types: vec![GrantType::AuthorizationCode],
                redirect_uris: vec![super::flow::REDIRECT.into()],
                scope: "openid".into(),
                first_party: true,
                ..Default::default()
            })
            .await;
        let party = super::flow::Party {
            client_id: id,
            client_secret: None,
            username: "bob".into(),
            user_id: row.user_id.clone(),
        };
        let mut browser = Browser::new(&app);
        let login = browser
            .get(&authorize_url(&party, &[("scope", "openid")]))
            .await;
        let done = browser.sign_in(&login, "bob", "hashed-elsewhere-pw").await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
}

#[tokio::test]
async fn bad_declared_users_stop_start_up() {
    for (toml, expect) in [
        (
            "[[users]]\nusername = \"a\"\npassword_hash = \"not-a-phc\"",
            "Argon2 PHC",
        ),
        (
            "[[users]]\nusername = \"a\"\npassword = \"short\"",
            "at least 8 characters",
        ),
    ] {
        let config = Config::from_sources(toml, Vec::<(String, String)>::new()).unwrap();
        let error = try_spawn_with(|c| c.users = config.users.clone())
            .await
            .err()
            .expect("start-up fails")
            .to_string();
        assert!(
            error.contains("users[0]") && error.contains(expect),
            "{error}"
        );
    }
    let both = Config::from_sources(
        "[[users]]\nusername = \"a\"\npassword = \"x\"\npassword_hash = \"y\"",
        Vec::<(String, String)>::new(),
    );
    assert!(both.unwrap_err().to_string().contains("exactly one"));
}

#[tokio::test]
async fn a_burst_of_sign_ins_does_not_starve_token_issuance() {
    let app = std::sync::Arc::new(spawn_with(|c| c.sign_in.password_hash_concurrency = 1).await);
    let hasher = PasswordHasher::new(1).unwrap();
    UserAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .create(
            "carol",
            PasswordSource::Plain(portcullis_core::Secret::new("carols-password")),
            Profile::default(),
        )
        .await
        .unwrap();
    let (id, _) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::AuthorizationCode],
            redirect_uris: vec![super::flow::REDIRECT.into()],
            scope: "openid".into(),
            ..Default::default()
        })
        .await;
    let party = super::flow::Party {
        client_id: id,
        client_secret: None,
        username: "carol".into(),
        user_id: String::new(),
    };
    let mut browser = Browser::new(&app);
    let login = browser
        .get(&authorize_url(&party, &[("scope", "openid")]))
        .await;
    let form: Vec<(String, String)> = login
        .hidden_fields()
        .into_iter()
        .chain([
            ("username".to_owned(), "carol".to_owned()),
            ("password".to_owned(), "not-her-password".to_owned()),
            ("action".to_owned(), "login".to_owned()),
        ])
        .collect();
    let cookies = browser.cookies.clone();
    let mut logins = Vec::new();
    for _ in 0..12 {
        let mut b = Browser::new(&app);
        b.cookies = cookies.clone();
        let form = form.clone();
        logins.push(tokio::spawn(async move {
            b.post("/authorize", &form).await.status
        }));
    }
    let (cc_id, cc_secret) = app.service_client("read").await;
    let mut issued = 0;
    for _ in 0..20 {
        if app.client_credentials(&cc_id, &cc_secret).await.status == 200 {
            issued += 1;
        }
    }
    let still_hashing = logins.iter().filter(|l| !l.is_finished()).count();
    assert_eq!(issued, 20);
    assert!(
        still_hashing > 0,
        "tokens were issued while sign-ins still queued for the hasher"
    );
    for l in logins {
        let status = l.await.unwrap();
        assert!(status == 401 || status == 429, "{status}");
    }
}

#[tokio::test]
async fn a_declared_password_that_changed_ends_the_users_sign_ins() {
    let database = crate::databases::TestDatabase::for_suite().await;
    let declared = |password: &str| {
        Config::from_sources(
            &format!("[[users]]\nusername = \"erin\"\npassword = \"{password}\""),
            Vec::<(String, String)>::new(),
        )
        .unwrap()
        .users
    };
    let (db, users) = (database.url.clone(), declared(super::flow::PASSWORD));
    let app = spawn_with(move |c| {
        c.database = db;
        c.users = users;
    })
    .await;
    let (client_id, client_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: vec![super::flow::REDIRECT.into()],
            scope: "openid profile email offline_access".into(),
            first_party: true,
            ..Default::default()
        })
        .await;
    let user_id = app
        .store
        .user_by_username("erin")
        .await
        .unwrap()
        .unwrap()
        .user_id;
    let erin = super::flow::Party {
        client_id,
        client_secret: Some(client_secret),
        username: "erin".into(),
        user_id,
    };
    let refresh_token = super::flow::tokens(&app, &erin).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(app);

    // The same database, restarted with a new declared password.
    let (db, users) = (database.url.clone(), declared("a-new-password-for-erin"));
    let app = spawn_with(move |c| {
        c.database = db;
        c.users = users;
    })
    .await;
    super::flow::refresh(&app, &erin, &refresh_token, None)
        .await
        .assert_error(400, "invalid_grant");
}
