//! What a hostile registrant tried (a review of the first version), each now refused: a
//! `jwks_uri` into this machine or a private network, redirect URIs that leave the loopback or a
//! web app's public host, a `client_name` with terminal escapes, this server as an open
//! redirector, racing updates with one token, undoing an administrator's change, odd paths and
//! bodies, and learning the rules without a token.

use super::{initial_token, register, register_web_app, registering, web_app};
use crate::helpers::spawn_with;
use portcullis_core::Clock;
use serde_json::json;

#[tokio::test]
async fn nothing_registered_points_into_this_machine_or_a_private_network() {
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    for jwks_uri in [
        "http://keys.example.com/jwks",
        "https://localhost/jwks",
        "https://10.0.0.1:8443/admin",
        "https://169.254.169.254/latest/meta-data",
        "https://127.1/jwks",
        "https://[::1]/jwks",
        "https://good.example@evil.example/jwks",
        "https://keys.internal/jwks",
    ] {
        let body = json!({"grant_types": ["client_credentials"], "scope": "profile",
                          "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri});
        register(&app, Some(&token), &body)
            .await
            .assert_error(400, "invalid_client_metadata");
    }
    for (kind, uri) in [
        ("web", "https://127.0.0.2/cb"),
        ("web", "https://127.1/cb"),
        ("web", "https://localhost./cb"),
        ("web", "https://[::ffff:127.0.0.1]/cb"),
        ("web", "https://good.example@evil.example/cb"),
        ("native", "http://evil.example\\@127.0.0.1/cb"),
        ("native", "http://127.0.0.1.evil.example/cb"),
    ] {
        let body = json!({"application_type": kind, "token_endpoint_auth_method": "none",
                          "redirect_uris": [uri]});
        register(&app, Some(&token), &body)
            .await
            .assert_error(400, "invalid_redirect_uri");
    }
    let many: Vec<String> = (0..21)
        .map(|i| format!("https://photos.example.com/{i}"))
        .collect();
    let mut body = web_app();
    body["redirect_uris"] = json!(many);
    register(&app, Some(&token), &body)
        .await
        .assert_error(400, "invalid_redirect_uri");
    let mut body = web_app();
    body["client_name"] = json!("nice\u{1b}[2J\nclient_id: spoofed");
    register(&app, Some(&token), &body)
        .await
        .assert_error(400, "invalid_client_metadata");
}

#[tokio::test]
async fn a_registered_client_does_not_make_this_server_an_open_redirector() {
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    let mut body = web_app();
    body["post_logout_redirect_uris"] = json!(["https://photos.example.com/bye"]);
    let registered = register(&app, Some(&token), &body).await;
    let id = registered.body["client_id"].as_str().unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = no_redirects
        .get(format!(
            "{}/authorize?response_type=code&client_id={id}&scope=nosuchscope\
             &redirect_uri=https%3A%2F%2Fphotos.example.com%2Fcallback",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 400, "a page, not a redirect");
    let logout = no_redirects
        .get(format!(
            "{}/logout?client_id={id}&post_logout_redirect_uri=https%3A%2F%2Fphotos.example.com%2Fbye",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 400, "not without an id_token_hint");
}

#[tokio::test]
async fn one_update_per_token_wins_and_an_administrator_takes_over() {
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    let (id, management) = register_web_app(&app, &token).await;
    let uri = format!("{}/register/{id}", app.base);
    let mut body = web_app();
    body["client_id"] = json!(id);
    let racing = (0..8).map(|_| {
        let request = app.http.put(&uri).bearer_auth(&management).json(&body);
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    });
    let mut statuses = Vec::new();
    for task in racing.collect::<Vec<_>>() {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );

    // Another registration, changed by an administrator: its own token no longer manages it.
    let other = register(&app, Some(&token), &web_app()).await;
    let other_id = other.body["client_id"].as_str().unwrap();
    let other_token = other.body["registration_access_token"].as_str().unwrap();
    let mut metadata = app
        .registry
        .snapshot()
        .client(other_id)
        .unwrap()
        .metadata
        .clone();
    metadata.scope = "openid".into();
    let hasher = app.hasher().await;
    portcullis_server::admin::ClientAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .update(
            &portcullis_core::ClientId::parse(other_id).unwrap(),
            metadata,
        )
        .await
        .unwrap();
    let mut replaced = web_app();
    replaced["client_id"] = json!(other_id);
    app.send(
        app.http
            .put(format!("{}/register/{other_id}", app.base))
            .bearer_auth(other_token)
            .json(&replaced),
    )
    .await
    .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn odd_paths_and_bodies_get_json_errors_and_a_bad_token_learns_no_rules() {
    let app = spawn_with(|c| {
        c.registration.enabled = true;
        c.registration.max_per_address = 1000;
        c.limits.max_body_bytes = 4096;
    })
    .await;
    for path in ["/register/%00", "/register/a%00b"] {
        app.send(app.http.get(format!("{}{path}", app.base)).bearer_auth("x"))
            .await
            .assert_error(401, "invalid_token");
    }
    let token = initial_token(&app, 3600, None).await;
    let huge = json!({"client_name": "x".repeat(10_000)});
    app.send(
        app.http
            .post(format!("{}/register", app.base))
            .bearer_auth(&token)
            .json(&huge),
    )
    .await
    .assert_error(413, "invalid_client_metadata");
    register(&app, Some("bogus"), &json!({"scope": "everything"}))
        .await
        .assert_error(401, "invalid_token");
}

/// A user consented to a registered client; the client then replaces its registration (new
/// redirect URIs, say). The user is asked again rather than sending codes to the new URIs on the
/// strength of the old consent.
#[tokio::test]
async fn a_replaced_registration_asks_its_users_again() {
    use crate::sign_in::flow::{Browser, PASSWORD, VERIFIER, challenge};
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    let (id, management) = register_web_app(&app, &token).await;
    let management = management.as_str();
    let hasher = portcullis_server::users::PasswordHasher::new(1).unwrap();
    portcullis_server::users::UserAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .create(
            "dora",
            portcullis_server::users::PasswordSource::Plain(portcullis_core::Secret::new(PASSWORD)),
            Default::default(),
        )
        .await
        .unwrap();
    let authorize = format!(
        "/authorize?response_type=code&client_id={id}&scope=openid&state=s\
         &redirect_uri=https%3A%2F%2Fphotos.example.com%2Fcallback\
         &code_challenge={}&code_challenge_method=S256",
        challenge(VERIFIER)
    );
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize).await;
    let consent = browser.sign_in(&login, "dora", PASSWORD).await;
    assert!(consent.body.contains("id=\"allow\""), "{}", consent.body);
    let done = browser.submit(&consent, &[("action", "allow")]).await;
    assert_eq!(done.status, 303);
    // Remembered: the next request goes straight back with a code.
    assert_eq!(browser.get(&authorize).await.status, 303);

    let mut replaced = web_app();
    replaced["client_id"] = json!(id);
    let put = app
        .http
        .put(format!("{}/register/{id}", app.base))
        .bearer_auth(management)
        .json(&replaced)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let again = browser.get(&authorize).await;
    assert_eq!(again.status, 200, "the consent page again");
    assert!(again.body.contains("id=\"allow\""), "{}", again.body);
}

/// A registered `jwks_uri` was on a public host when registered; if its name is later pointed into
/// this machine (here: its host becomes `localhost`, as a DNS change would do), the server does not
/// fetch it, while an administrator's client with the very same `jwks_uri` still may.
#[tokio::test]
async fn a_registered_jwks_uri_that_later_points_inside_is_not_fetched() {
    use crate::client_proofs::{JwksServer, assertion, claims, rsa_key};
    use portcullis_core::client_assertion::JWT_BEARER;
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    let key = rsa_key();
    let jwks = JwksServer::start(key.public_jwk_set()).await;
    let inside = jwks.uri.replace("127.0.0.1", "localhost");
    let public = "https://keys.example.com/jwks.json";
    let registered = register(
        &app,
        Some(&token),
        &json!({"grant_types": ["client_credentials"], "scope": "profile",
                "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": public}),
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let id = registered.body["client_id"].as_str().unwrap().to_owned();
    crate::databases::execute(
        &app.database,
        &format!(
            "UPDATE clients SET metadata = REPLACE(metadata, '{public}', '{inside}') \
             WHERE client_id = '{id}'; UPDATE revision SET value = value + 1;"
        ),
    )
    .await;
    let start = std::time::Instant::now();
    while app
        .registry
        .snapshot()
        .client(&id)
        .unwrap()
        .metadata
        .jwks_uri
        .as_deref()
        != Some(inside.as_str())
    {
        assert!(
            start.elapsed().as_secs() < 3,
            "the change was not picked up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let admins = crate::client_proofs::private_key_jwt::signing_client(&app, |m| {
        m.jwks_uri = Some(inside.clone());
    })
    .await;
    let token_with = |client_id: String| {
        let t = app.clock.now().0;
        let jwt = assertion(&key, &claims(&client_id, &app.issuer, t));
        let request = app.http.post(format!("{}/token", app.base)).form(&[
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", client_id),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", jwt),
        ]);
        app.send(request)
    };
    token_with(id)
        .await
        .assert_error(503, "temporarily_unavailable");
    assert_eq!(
        jwks.fetches(),
        0,
        "nothing was fetched for the registered client"
    );
    let ok = token_with(admins).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(jwks.fetches(), 1);
}
