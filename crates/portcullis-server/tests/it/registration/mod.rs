//! Dynamic client registration (RFC 7591) and its management (RFC 7592) over real HTTP: off by
//! default, initial access tokens, every metadata rule's error, the per-address limit, and a
//! registered client's life: it gets tokens, reads, replaces (with a new registration token) and
//! deletes itself.

mod attacks;
mod metadata;

use crate::helpers::{Answer, TestApp, spawn_with};
use portcullis_core::Clock;
use serde_json::{Value, json};

/// A server with registration on (an initial access token required), with room for many
/// registrations from the test's one address.
pub async fn registering() -> TestApp {
    spawn_with(|c| {
        c.registration.enabled = true;
        c.registration.max_per_address = 1000;
    })
    .await
}

/// A new initial access token.
pub async fn initial_token(app: &TestApp, lifetime: u64, max_uses: Option<u64>) -> String {
    portcullis_server::admin::create_initial_access_token(
        app.store.as_ref(),
        app.clock.now(),
        lifetime,
        max_uses,
    )
    .await
    .unwrap()
    .expose()
    .to_owned()
}

/// `POST /register` with a JSON body and, if given, a bearer token.
pub async fn register(app: &TestApp, token: Option<&str>, body: &Value) -> Answer {
    let mut request = app.http.post(format!("{}/register", app.base)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    app.send(request).await
}

/// Registers [`web_app`] with `token`: its client_id and registration access token.
pub async fn register_web_app(app: &TestApp, token: &str) -> (String, String) {
    let registered = register(app, Some(token), &web_app()).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let field = |name: &str| registered.body[name].as_str().unwrap().to_owned();
    (field("client_id"), field("registration_access_token"))
}

pub fn web_app() -> Value {
    json!({
        "client_name": "Photo Gallery",
        "redirect_uris": ["https://photos.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile offline_access",
    })
}

#[tokio::test]
async fn registration_is_off_unless_enabled() {
    let app = crate::helpers::spawn_app().await;
    let response = app
        .http
        .post(format!("{}/register", app.base))
        .json(&web_app())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let doc = app.get_json("/.well-known/openid-configuration").await.body;
    assert!(doc.get("registration_endpoint").is_none(), "{doc}");

    let on = registering().await;
    let doc = on
        .get_json("/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(
        doc["registration_endpoint"],
        format!("{}/register", on.issuer)
    );
}

#[tokio::test]
async fn initial_access_tokens_are_required_counted_and_expire() {
    let app = registering().await;
    let missing = register(&app, None, &web_app()).await;
    missing.assert_error(401, "invalid_token");
    assert!(
        missing
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer") && h.contains("invalid_token")),
        "{:?}",
        missing.headers
    );
    register(&app, Some("made-up"), &web_app())
        .await
        .assert_error(401, "invalid_token");

    let once = initial_token(&app, 3600, Some(1)).await;
    let first = register(&app, Some(&once), &web_app()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    register(&app, Some(&once), &web_app())
        .await
        .assert_error(401, "invalid_token");
    // Bad metadata does not use the token up.
    let twice = initial_token(&app, 3600, Some(1)).await;
    register(
        &app,
        Some(&twice),
        &json!({"redirect_uris": ["http://x.example/cb"]}),
    )
    .await
    .assert_error(400, "invalid_redirect_uri");
    assert_eq!(register(&app, Some(&twice), &web_app()).await.status, 201);

    let short = initial_token(&app, 60, None).await;
    assert_eq!(register(&app, Some(&short), &web_app()).await.status, 201);
    app.clock.advance(60);
    register(&app, Some(&short), &web_app())
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn a_registered_client_gets_tokens_and_manages_itself() {
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    let service = register(
        &app,
        Some(&token),
        &json!({
            "client_name": "Reporting job",
            "grant_types": ["client_credentials"],
            "scope": "profile",
            "first_party": true,
            "audience": ["https://billing.example"],
            "logo_uri": "https://example.com/logo.png",
        }),
    )
    .await;
    assert_eq!(service.status, 201, "{}", service.body);
    assert_eq!(service.header("cache-control"), Some("no-store"));
    let body = &service.body;
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    assert_eq!(
        body["registration_client_uri"],
        format!("{}/register/{id}", app.issuer)
    );
    assert!(body.get("logo_uri").is_none() && body.get("first_party").is_none());
    let management = body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // What it may not say about itself stayed with the administrator.
    let stored = app
        .registry
        .snapshot()
        .client(&id)
        .unwrap()
        .metadata
        .clone();
    assert!(!stored.first_party && stored.audience.is_empty() && stored.require_pkce);

    // As registered: client_secret_basic (RFC 7591's default), and only that.
    app.client_credentials(&id, &secret)
        .await
        .assert_error(401, "invalid_client");
    let cc = [("grant_type", "client_credentials")];
    let issued = app.post_token_basic(&id, &secret, &cc).await;
    assert_eq!(issued.status, 200, "{}", issued.body);

    let uri = format!("{}/register/{id}", app.base);
    let read = app.send(app.http.get(&uri).bearer_auth(&management)).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["client_name"], "Reporting job");
    assert!(read.body.get("client_secret").is_none(), "not shown again");
    for wrong in [Some("made-up"), Some(secret.as_str()), None] {
        let mut request = app.http.get(&uri);
        if let Some(t) = wrong {
            request = request.bearer_auth(t);
        }
        app.send(request).await.assert_error(401, "invalid_token");
    }
    // Another client's token does not reach this one, nor an administrator's client.
    let other = register(&app, Some(&token), &web_app()).await;
    let other_token = other.body["registration_access_token"].as_str().unwrap();
    app.send(app.http.get(&uri).bearer_auth(other_token))
        .await
        .assert_error(401, "invalid_token");
    let (admin_made, _) = app.service_client("read").await;
    app.send(
        app.http
            .get(format!("{}/register/{admin_made}", app.base))
            .bearer_auth(&management),
    )
    .await
    .assert_error(401, "invalid_token");

    // Replacing: client_id must be there, a client_secret given must be the secret.
    let put =
        |body: Value, token: &str| app.http.put(&uri).bearer_auth(token.to_owned()).json(&body);
    let mut renamed = json!({
        "client_id": id,
        "client_name": "Nightly reports",
        "grant_types": ["client_credentials"],
        "scope": "profile",
    });
    let without_id = json!({"client_name": "x", "grant_types": ["client_credentials"]});
    app.send(put(without_id, &management))
        .await
        .assert_error(400, "invalid_client_metadata");
    renamed["client_secret"] = json!("not-the-secret");
    app.send(put(renamed.clone(), &management))
        .await
        .assert_error(400, "invalid_client_metadata");
    renamed["client_secret"] = json!(secret);
    let updated = app.send(put(renamed, &management)).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["client_name"], "Nightly reports");
    let rotated = updated.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, management);
    app.send(app.http.get(&uri).bearer_auth(&management))
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(
        app.post_token_basic(&id, &secret, &cc).await.status,
        200,
        "the secret stays"
    );

    let deleted = app
        .http
        .delete(&uri)
        .bearer_auth(&rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    app.send(app.http.get(&uri).bearer_auth(&rotated))
        .await
        .assert_error(401, "invalid_token");
    app.post_token_basic(&id, &secret, &cc)
        .await
        .assert_error(401, "invalid_client");
    let patch = app.http.patch(&uri).send().await.unwrap();
    assert_eq!(patch.status(), 405);
}

#[tokio::test]
async fn registrations_are_limited_per_address_and_may_be_open() {
    let app = spawn_with(|c| {
        c.registration.enabled = true;
        c.registration.initial_access_token = portcullis_server::config::InitialAccessToken::None;
        c.registration.max_per_address = 3;
    })
    .await;
    for _ in 0..3 {
        let open = register(&app, None, &web_app()).await;
        assert_eq!(open.status, 201, "{}", open.body);
    }
    let limited = register(&app, None, &web_app()).await;
    limited.assert_error(429, "temporarily_unavailable");
    assert!(limited.header("retry-after").is_some());
}
