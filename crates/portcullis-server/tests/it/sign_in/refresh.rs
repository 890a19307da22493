//! Refresh tokens: rotation, reuse detection, races, scope, lifetimes.

use super::flow::{Party, party, refresh, tokens};
use crate::helpers::{TestApp, spawn_app, spawn_with};
use portcullis_server::config::Seconds;
use std::sync::Arc;

pub async fn first_refresh_token(app: &TestApp, p: &Party) -> String {
    tokens(app, p).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_use_rotates_and_a_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let r1 = first_refresh_token(&app, &p).await;
    let a = refresh(&app, &p, &r1, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r2 = a.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert!(a.body["id_token"].is_string());
    let b = refresh(&app, &p, &r2, None).await;
    let r3 = b.body["refresh_token"].as_str().unwrap().to_owned();
    let access = b.body["access_token"].as_str().unwrap().to_owned();

    // r1 again: theft assumed, the whole family goes.
    refresh(&app, &p, &r1, None)
        .await
        .assert_error(400, "invalid_grant");
    refresh(&app, &p, &r3, None)
        .await
        .assert_error(400, "invalid_grant");
    let status = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status, 401,
        "access tokens of the family are no longer accepted"
    );
}

#[tokio::test]
async fn two_refreshes_at_once_yield_at_most_one_success() {
    let app = Arc::new(spawn_app().await);
    let p = Arc::new(party(&app, |_| {}).await);
    for _ in 0..3 {
        let token = first_refresh_token(&app, &p).await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (app, p, token) = (app.clone(), p.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                refresh(&app, &p, &token, None).await.status.as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert!(
            statuses.iter().filter(|s| **s == 200).count() <= 1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 400),
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn scope_may_narrow_but_not_widen() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let r = first_refresh_token(&app, &p).await;
    refresh(&app, &p, &r, Some("openid photos:read"))
        .await
        .assert_error(400, "invalid_scope");
    let narrow = refresh(&app, &p, &r, Some("openid profile")).await;
    assert_eq!(narrow.status, 200, "{}", narrow.body);
    assert_eq!(narrow.body["scope"], "openid profile");
    // The grant keeps its scope: a later refresh may ask for all of it again.
    let r2 = narrow.body["refresh_token"].as_str().unwrap();
    let full = refresh(&app, &p, r2, None).await;
    assert_eq!(full.body["scope"], "openid profile email offline_access");
}

#[tokio::test]
async fn a_grace_period_lets_a_lost_response_be_retried() {
    let app = spawn_with(|c| c.tokens.refresh_token_reuse_grace = Seconds(10)).await;
    let p = party(&app, |_| {}).await;
    let r1 = first_refresh_token(&app, &p).await;
    let lost = refresh(&app, &p, &r1, None).await;
    assert_eq!(lost.status, 200);
    app.clock.advance(5);
    let retry = refresh(&app, &p, &r1, None).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    // The retried response works on.
    let r3 = retry.body["refresh_token"].as_str().unwrap().to_owned();
    let next = refresh(&app, &p, &r3, None).await;
    assert_eq!(next.status, 200);
    let r4 = next.body["refresh_token"].as_str().unwrap().to_owned();
    // Past the grace period a reuse revokes the family.
    app.clock.advance(11);
    refresh(&app, &p, &r1, None)
        .await
        .assert_error(400, "invalid_grant");
    refresh(&app, &p, &r4, None)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn the_response_the_grace_replaced_revokes_the_family_if_it_shows_up() {
    let app = spawn_with(|c| c.tokens.refresh_token_reuse_grace = Seconds(10)).await;
    let p = party(&app, |_| {}).await;
    let r1 = first_refresh_token(&app, &p).await;
    let lost = refresh(&app, &p, &r1, None).await;
    let retry = refresh(&app, &p, &r1, None).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    // The "lost" token turns up after all: whoever holds it, the grant ends.
    refresh(&app, &p, lost.body["refresh_token"].as_str().unwrap(), None)
        .await
        .assert_error(400, "invalid_grant");
    refresh(
        &app,
        &p,
        retry.body["refresh_token"].as_str().unwrap(),
        None,
    )
    .await
    .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn idle_and_absolute_lifetimes() {
    let app = spawn_with(|c| {
        c.tokens.refresh_token_idle_lifetime = Seconds(100);
        c.tokens.refresh_token_absolute_lifetime = Seconds(250);
    })
    .await;
    let p = party(&app, |_| {}).await;
    let r = first_refresh_token(&app, &p).await;
    app.clock.advance(100);
    refresh(&app, &p, &r, None)
        .await
        .assert_error(400, "invalid_grant");

    let mut r = first_refresh_token(&app, &p).await;
    for _ in 0..2 {
        app.clock.advance(99);
        let next = refresh(&app, &p, &r, None).await;
        assert_eq!(next.status, 200, "{}", next.body);
        r = next.body["refresh_token"].as_str().unwrap().to_owned();
    }
    app.clock.advance(60);
    refresh(&app, &p, &r, None)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_follow_offline_access_and_the_grant_types() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = super::flow::Browser::new(&app);
    let code = super::flow::obtain_code(&app, &mut browser, &p, &[("scope", "openid profile")])
        .await["code"]
        .clone();
    let answer = super::flow::exchange(&app, &p, &code, Some(super::flow::VERIFIER)).await;
    assert!(
        answer.body.get("refresh_token").is_none(),
        "openid without offline_access"
    );

    let always = party(&app, |m| m.refresh_token_without_offline_access = true).await;
    let mut browser = super::flow::Browser::new(&app);
    let code =
        super::flow::obtain_code(&app, &mut browser, &always, &[("scope", "openid profile")]).await
            ["code"]
            .clone();
    let answer = super::flow::exchange(&app, &always, &code, Some(super::flow::VERIFIER)).await;
    assert!(answer.body["refresh_token"].is_string());

    let no_grant = party(&app, |m| {
        m.grant_types = vec![portcullis_core::GrantType::AuthorizationCode]
    })
    .await;
    let answer = tokens(&app, &no_grant).await;
    assert!(answer.body.get("refresh_token").is_none());

    // A refresh token of one client is useless to another.
    let r = first_refresh_token(&app, &p).await;
    refresh(&app, &always, &r, None)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(refresh(&app, &p, &r, None).await.status, 200);
}

#[tokio::test]
async fn a_refresh_may_narrow_the_audience_too() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.audience = vec!["https://a.example".into(), "https://b.example".into()];
    })
    .await;
    let r = first_refresh_token(&app, &p).await;
    let narrowed = app
        .send(app.token_request().form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r.as_str()),
            ("resource", "https://a.example"),
            ("client_id", p.client_id.as_str()),
            ("client_secret", p.client_secret.as_deref().unwrap()),
        ]))
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    let token = narrowed.body["access_token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token)
        .unwrap()
        .claims;
    assert_eq!(claims["aud"], "https://a.example");
    let next = narrowed.body["refresh_token"].as_str().unwrap();
    app.send(app.token_request().form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", next),
        ("resource", "https://elsewhere.example"),
        ("client_id", p.client_id.as_str()),
        ("client_secret", p.client_secret.as_deref().unwrap()),
    ]))
    .await
    .assert_error(400, "invalid_target");
}
