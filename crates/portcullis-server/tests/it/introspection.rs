//! RFC 7662 introspection and RFC 7009 revocation, every case.

use crate::helpers::{Answer, TestApp, spawn_app};
use crate::sign_in::flow::{party, refresh, tokens};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{ClientId, Clock};
use portcullis_server::admin::ClientAdmin;
use portcullis_server::client::ClientMetadata;
use serde_json::json;

const API: &str = "https://api.example.com";

async fn introspect(
    app: &TestApp,
    who: &(String, String),
    token: &str,
    hint: Option<&str>,
) -> Answer {
    let mut form = vec![("token", token.to_owned())];
    if let Some(h) = hint {
        form.push(("token_type_hint", h.to_owned()));
    }
    app.send(
        app.http
            .post(format!("{}/introspect", app.base))
            .basic_auth(&who.0, Some(&who.1))
            .form(&form),
    )
    .await
}

async fn revoke(app: &TestApp, who: &(String, String), token: &str) -> u16 {
    let response = app
        .http
        .post(format!("{}/revoke", app.base))
        .basic_auth(&who.0, Some(&who.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

fn inactive(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({ "active": false }),
        "nothing but active=false"
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

struct Setup {
    api: (String, String),
    service: (String, String),
    other: (String, String),
    token: String,
}

async fn setup(app: &TestApp) -> Setup {
    let api = app
        .create_client(ClientMetadata {
            audience: vec![API.into()],
            ..ClientMetadata::default()
        })
        .await;
    let service = app
        .create_client(ClientMetadata {
            scope: "read write".into(),
            audience: vec![API.into()],
            ..ClientMetadata::default()
        })
        .await;
    let other = app.service_client("read").await;
    let answer = app.client_credentials(&service.0, &service.1).await;
    let token = answer.body["access_token"].as_str().unwrap().to_owned();
    Setup {
        api,
        service,
        other,
        token,
    }
}

#[tokio::test]
async fn an_active_access_token_is_described() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    for (who, hint) in [
        (&s.api, None),
        (&s.service, Some("refresh_token")),
        (&s.api, Some("access_token")),
    ] {
        let answer = introspect(&app, who, &s.token, hint).await;
        assert_eq!(answer.status, 200);
        let b = &answer.body;
        assert_eq!(b["active"], true, "{b}");
        assert_eq!(b["scope"], "read write");
        assert_eq!(b["client_id"], s.service.0);
        assert_eq!(b["sub"], s.service.0);
        assert_eq!(b["aud"], API);
        assert_eq!(b["iss"], app.issuer);
        assert_eq!(b["token_type"], "Bearer");
        assert!(b["exp"].as_i64().unwrap() > b["iat"].as_i64().unwrap());
    }
    // A client that is neither the token's client nor one of its audiences sees nothing.
    inactive(&introspect(&app, &s.other, &s.token, None).await);
}

#[tokio::test]
async fn anything_not_valid_is_inactive() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let parts: Vec<&str> = s.token.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let enc = |v: serde_json::Value| B64.encode(v.to_string());

    // alg: none with a real kid.
    let none = format!(
        "{}.{}.",
        enc(json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        parts[1]
    );
    // HS256 keyed with our published public key.
    let jwks = app.get_json("/jwks.json").await.body;
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .to_string();
    let hs_header = enc(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}));
    let signing_input = format!("{hs_header}.{}", parts[1]);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    let hs256 = format!("{signing_input}.{}", B64.encode(tag.as_ref()));
    // Signed by a key we do not know.
    let unknown_kid = format!(
        "{}.{}.{}",
        enc(json!({"alg": "ES256", "typ": "at+jwt", "kid": "nope"})),
        parts[1],
        parts[2]
    );
    // Tampered claims.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], enc(claims), parts[2]);
    // Wrong typ.
    let wrong_typ = format!(
        "{}.{}.{}",
        enc(json!({"alg": "ES256", "typ": "JWT", "kid": kid})),
        parts[1],
        parts[2]
    );

    for token in [
        none,
        hs256,
        unknown_kid,
        tampered,
        wrong_typ,
        "garbage".into(),
        "a.b.c".into(),
        "...".into(),
    ] {
        inactive(&introspect(&app, &s.api, &token, None).await);
    }
    app.clock.advance(900);
    inactive(&introspect(&app, &s.api, &s.token, None).await);
}

#[tokio::test]
async fn the_caller_must_be_an_authenticated_confidential_client() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let anonymous = app
        .send(
            app.http
                .post(format!("{}/introspect", app.base))
                .form(&[("token", &s.token)]),
        )
        .await;
    anonymous.assert_error(401, "invalid_client");
    let wrong = introspect(
        &app,
        &(s.api.0.clone(), "wrong-secret".into()),
        &s.token,
        None,
    )
    .await;
    wrong.assert_error(401, "invalid_client");
    let public = party(&app, |m| {
        m.token_endpoint_auth_method = Some(portcullis_core::TokenEndpointAuthMethod::None);
    })
    .await;
    let answer = app
        .send(app.http.post(format!("{}/introspect", app.base)).form(&[
            ("token", s.token.as_str()),
            ("client_id", &public.client_id),
        ]))
        .await;
    answer.assert_error(401, "invalid_client");
    let missing = app
        .send(
            app.http
                .post(format!("{}/introspect", app.base))
                .basic_auth(&s.api.0, Some(&s.api.1))
                .form(&[("token_type_hint", "access_token")]),
        )
        .await;
    missing.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn revoking_an_access_token_denies_it_until_expiry() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    // Another client cannot revoke it: 400 unauthorized_client (RFC 7009 §2.1), and nothing
    // happens.
    assert_eq!(revoke(&app, &s.other, &s.token).await, 400);
    assert_eq!(
        introspect(&app, &s.api, &s.token, None).await.body["active"],
        true
    );
    assert_eq!(revoke(&app, &s.service, &s.token).await, 200);
    inactive(&introspect(&app, &s.api, &s.token, None).await);
    // Unknown tokens are fine too.
    assert_eq!(revoke(&app, &s.service, "never-issued").await, 200);
    assert_eq!(revoke(&app, &s.service, "a.b.c").await, 200);
}

#[tokio::test]
async fn refresh_tokens_introspect_and_revoke_with_their_family() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let who = (p.client_id.clone(), p.client_secret.clone().unwrap());
    let answer = tokens(&app, &p).await;
    let r1 = answer.body["refresh_token"].as_str().unwrap().to_owned();
    let access = answer.body["access_token"].as_str().unwrap().to_owned();
    let described = introspect(&app, &who, &r1, Some("refresh_token")).await;
    assert_eq!(described.body["active"], true, "{}", described.body);
    assert_eq!(described.body["sub"], p.user_id);
    assert_eq!(described.body["client_id"], p.client_id);
    assert_eq!(described.body["token_type"], "refresh_token");
    // Another client sees nothing and cannot revoke it (unauthorized_client).
    let other = party(&app, |_| {}).await;
    let other_who = (
        other.client_id.clone(),
        other.client_secret.clone().unwrap(),
    );
    inactive(&introspect(&app, &other_who, &r1, None).await);
    assert_eq!(revoke(&app, &other_who, &r1).await, 400);
    assert_eq!(introspect(&app, &who, &r1, None).await.body["active"], true);

    let next = refresh(&app, &p, &r1, None).await;
    let r2 = next.body["refresh_token"].as_str().unwrap().to_owned();
    inactive(&introspect(&app, &who, &r1, None).await);
    assert_eq!(revoke(&app, &who, &r2).await, 200);
    inactive(&introspect(&app, &who, &r2, None).await);
    inactive(&introspect(&app, &who, &access, None).await);
    refresh(&app, &p, &r2, None)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn a_reused_refresh_token_makes_its_access_tokens_inactive() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let who = (p.client_id.clone(), p.client_secret.clone().unwrap());
    let first = tokens(&app, &p).await;
    let r1 = first.body["refresh_token"].as_str().unwrap().to_owned();
    let next = refresh(&app, &p, &r1, None).await;
    let access = next.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        introspect(&app, &who, &access, None).await.body["active"],
        true
    );
    refresh(&app, &p, &r1, None)
        .await
        .assert_error(400, "invalid_grant");
    inactive(&introspect(&app, &who, &access, None).await);
    inactive(
        &introspect(
            &app,
            &who,
            first.body["access_token"].as_str().unwrap(),
            None,
        )
        .await,
    );
}

/// Deleting a client ends what it was given: its access tokens are inactive at introspection and
/// refused at `/userinfo` as soon as the server sees the deletion, and its grants, refresh tokens
/// and consents are gone from the database.
#[tokio::test]
async fn deleting_a_client_ends_its_tokens() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let p = party(&app, |_| {}).await;
    let answer = tokens(&app, &p).await;
    let access = answer.body["access_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let request = app
            .http
            .get(format!("{}/userinfo", app.base))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(userinfo(access.clone()).await, 200);
    assert_eq!(
        introspect(&app, &s.api, &s.token, None).await.body["active"],
        true
    );
    let database = &app.database;
    let client_id = p.client_id.clone();
    let rows = |table: &str| {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE client_id = '{client_id}'");
        async move { crate::databases::count(database, &sql).await }
    };
    assert_eq!(rows("grants").await, 1);
    assert_eq!(rows("consents").await, 1);

    let hasher = app.hasher().await;
    let admin = ClientAdmin::new(app.store.as_ref(), &hasher, app.clock.now());
    for id in [&s.service.0, &p.client_id] {
        admin.delete(&ClientId::parse(id).unwrap()).await.unwrap();
    }
    // The running server picks the deletion up within its reload interval (250 ms).
    let start = std::time::Instant::now();
    while introspect(&app, &s.api, &s.token, None).await.body["active"] == true {
        assert!(start.elapsed().as_secs() < 3, "still active after 3 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    inactive(&introspect(&app, &s.api, &s.token, Some("access_token")).await);
    assert_eq!(userinfo(access).await, 401);
    assert_eq!(rows("grants").await, 0);
    assert_eq!(rows("consents").await, 0);
    let refresh_rows =
        crate::databases::count(database, "SELECT COUNT(*) FROM refresh_tokens").await;
    assert_eq!(refresh_rows, 0);
}
