//! Authorization codes at the token endpoint: every binding checked, single use, replay revokes.

use super::flow::{Browser, VERIFIER, exchange, obtain_code, party, refresh, tokens};
use crate::helpers::spawn_app;
use std::sync::Arc;

#[tokio::test]
async fn a_code_is_bound_to_its_verifier_client_and_redirect_uri() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let other = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let params = obtain_code(&app, &mut browser, &p, &[]).await;
    assert_eq!(params["state"], "xyz-state");
    assert_eq!(params["iss"], app.issuer);
    let code = &params["code"];
    assert!(code.len() >= 43, "256 random bits: {code}");

    // None of these consume the code.
    exchange(&app, &p, code, Some(&"x".repeat(43)))
        .await
        .assert_error(400, "invalid_grant");
    exchange(&app, &p, code, None)
        .await
        .assert_error(400, "invalid_grant");
    exchange(&app, &other, code, Some(VERIFIER))
        .await
        .assert_error(400, "invalid_grant");
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.clone()),
        ("redirect_uri", "https://app.example.com/other".to_owned()),
        ("code_verifier", VERIFIER.to_owned()),
        ("client_id", p.client_id.clone()),
        ("client_secret", p.client_secret.clone().unwrap()),
    ];
    app.send(app.token_request().form(&form))
        .await
        .assert_error(400, "invalid_grant");
    form.remove(2);
    app.send(app.token_request().form(&form))
        .await
        .assert_error(400, "invalid_grant");
    exchange(&app, &p, "not-a-code", Some(VERIFIER))
        .await
        .assert_error(400, "invalid_grant");
    // A malformed verifier is a malformed request.
    exchange(&app, &p, code, Some("short"))
        .await
        .assert_error(400, "invalid_request");

    let ok = exchange(&app, &p, code, Some(VERIFIER)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "Bearer");
    assert!(ok.body["refresh_token"].is_string());
    assert!(ok.body["id_token"].is_string());
    assert_eq!(ok.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_reused_code_revokes_what_it_issued() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    let first = exchange(&app, &p, &code, Some(VERIFIER)).await;
    assert_eq!(first.status, 200);
    let access = first.body["access_token"].as_str().unwrap();
    let userinfo = |token: String| {
        let app = &app;
        async move {
            app.http
                .get(format!("{}/userinfo", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access.to_owned()).await, 200);

    exchange(&app, &p, &code, Some(VERIFIER))
        .await
        .assert_error(400, "invalid_grant");
    let refreshed = refresh(
        &app,
        &p,
        first.body["refresh_token"].as_str().unwrap(),
        None,
    )
    .await;
    refreshed.assert_error(400, "invalid_grant");
    assert_eq!(
        userinfo(access.to_owned()).await,
        401,
        "the access token is revoked too"
    );
}

#[tokio::test]
async fn codes_expire_after_sixty_seconds() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    app.clock.advance(60);
    exchange(&app, &p, &code, Some(VERIFIER))
        .await
        .assert_error(400, "invalid_grant");
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    app.clock.advance(59);
    assert_eq!(exchange(&app, &p, &code, Some(VERIFIER)).await.status, 200);
}

#[tokio::test]
async fn a_verifier_without_a_challenge_is_a_downgrade() {
    let app = spawn_app().await;
    let p = party(&app, |m| m.require_pkce = false).await;
    let mut browser = Browser::new(&app);
    let no_pkce = [("code_challenge", ""), ("code_challenge_method", "")];
    let code = obtain_code(&app, &mut browser, &p, &no_pkce).await["code"].clone();
    exchange(&app, &p, &code, Some(VERIFIER))
        .await
        .assert_error(400, "invalid_grant");
    let code = obtain_code(&app, &mut browser, &p, &no_pkce).await["code"].clone();
    assert_eq!(
        exchange(&app, &p, &code, None).await.status,
        200,
        "the legacy flow works"
    );
}

#[tokio::test]
async fn two_redemptions_at_once_yield_exactly_one_success() {
    let app = Arc::new(spawn_app().await);
    let p = Arc::new(party(&app, |_| {}).await);
    for _ in 0..3 {
        let mut browser = Browser::new(&app);
        let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (app, p, code) = (app.clone(), p.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                exchange(&app, &p, &code, Some(VERIFIER))
                    .await
                    .status
                    .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 400),
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn public_clients_use_pkce_and_no_secret() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.token_endpoint_auth_method = Some(portcullis_core::TokenEndpointAuthMethod::None);
    })
    .await;
    assert!(p.client_secret.is_none());
    let answer = tokens(&app, &p).await;
    assert!(answer.body["access_token"].is_string());
    // A public client cannot use client_credentials.
    let cc = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &p.client_id),
        ])
        .await;
    cc.assert_error(400, "unauthorized_client");
}

#[tokio::test]
async fn confidential_clients_must_authenticate() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    let answer = app
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", super::flow::REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &p.client_id),
        ])
        .await;
    answer.assert_error(401, "invalid_client");
    assert_eq!(exchange(&app, &p, &code, Some(VERIFIER)).await.status, 200);
}

#[tokio::test]
async fn the_code_exchange_may_narrow_the_audience_of_the_access_token() {
    let app = crate::helpers::spawn_app().await;
    let p = super::flow::party(&app, |m| {
        m.audience = vec!["https://a.example".into(), "https://b.example".into()];
    })
    .await;
    let exchange_with = |extra: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let p = &p;
        async move {
            let mut browser = super::flow::Browser::new(app);
            let code = super::flow::obtain_code(app, &mut browser, p, &[]).await["code"].clone();
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", super::flow::REDIRECT.to_owned()),
                ("code_verifier", super::flow::VERIFIER.to_owned()),
                ("client_id", p.client_id.clone()),
                ("client_secret", p.client_secret.clone().unwrap()),
            ];
            form.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
            app.send(app.token_request().form(&form)).await
        }
    };
    let aud = |answer: &crate::helpers::Answer| {
        let token = answer.body["access_token"].as_str().unwrap();
        let claims = token.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["aud"].clone()
    };
    let all = exchange_with(vec![]).await;
    assert_eq!(
        aud(&all),
        serde_json::json!(["https://a.example", "https://b.example"])
    );
    let narrowed = exchange_with(vec![("resource", "https://b.example")]).await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(aud(&narrowed), serde_json::json!("https://b.example"));
    exchange_with(vec![("resource", "https://c.example")])
        .await
        .assert_error(400, "invalid_target");
}
