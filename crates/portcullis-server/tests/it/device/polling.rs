//! The device authorization endpoint's errors (RFC 8628 §3.2, RFC 6749 §5.2) and the answers to
//! the device's polls (§3.5), time moved by the test clock.

use super::{DEVICE_GRANT, poll, start, to_consent, tv};
use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, party};
use portcullis_core::GrantType;

#[tokio::test]
async fn polls_are_pending_then_slowed_down_by_five_seconds_each_time() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid").await;
    let code = started.body["device_code"].as_str().unwrap();
    poll(&app, &p.client_id, code)
        .await
        .assert_error(400, "authorization_pending");
    let slowed = poll(&app, &p.client_id, code).await;
    slowed.assert_error(400, "slow_down");
    assert!(
        slowed.body["error_description"]
            .as_str()
            .unwrap()
            .contains("10 seconds"),
        "{}",
        slowed.body
    );
    app.clock.advance(10);
    poll(&app, &p.client_id, code)
        .await
        .assert_error(400, "authorization_pending");
    // The interval stays at 10: 5 seconds later is too soon, and it grows to 15.
    app.clock.advance(5);
    let again = poll(&app, &p.client_id, code).await;
    again.assert_error(400, "slow_down");
    assert!(
        again.body["error_description"]
            .as_str()
            .unwrap()
            .contains("15 seconds"),
        "{}",
        again.body
    );
    app.clock.advance(15);
    poll(&app, &p.client_id, code)
        .await
        .assert_error(400, "authorization_pending");
}

#[tokio::test]
async fn a_denied_request_is_access_denied_and_an_old_one_expired_token() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    let denied = start(&app, &p.client_id, "openid").await;
    let mut browser = Browser::new(&app);
    let consent = to_consent(
        &app,
        &mut browser,
        &p,
        denied.body["verification_uri_complete"].as_str().unwrap(),
    )
    .await;
    let page = browser
        .submit_to("/device", &consent, &[("action", "deny")])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Access denied"), "{}", page.body);
    let code = denied.body["device_code"].as_str().unwrap();
    for _ in 0..2 {
        app.clock.advance(5);
        poll(&app, &p.client_id, code)
            .await
            .assert_error(400, "access_denied");
    }

    let old = start(&app, &p.client_id, "openid").await;
    app.clock.advance(600);
    poll(
        &app,
        &p.client_id,
        old.body["device_code"].as_str().unwrap(),
    )
    .await
    .assert_error(400, "expired_token");
    // The person can no longer approve it either.
    let mut late = Browser::new(&app);
    let entry = late
        .get(old.body["verification_uri_complete"].as_str().unwrap())
        .await;
    let refused = late
        .submit_to(
            "/device",
            &entry,
            &[
                ("user_code", old.body["user_code"].as_str().unwrap()),
                ("action", "code"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("not valid"), "{}", refused.body);
}

#[tokio::test]
async fn a_device_code_is_good_only_for_its_own_client() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    let other = tv(&app).await;
    let started = start(&app, &p.client_id, "openid").await;
    let code = started.body["device_code"].as_str().unwrap();
    poll(&app, &other.client_id, code)
        .await
        .assert_error(400, "invalid_grant");
    // The other client's poll did not count as the owner's: no slow_down for its first one.
    poll(&app, &p.client_id, code)
        .await
        .assert_error(400, "authorization_pending");
    poll(&app, &p.client_id, "made-up")
        .await
        .assert_error(400, "invalid_grant");
    app.post_token(&[("grant_type", DEVICE_GRANT), ("client_id", &p.client_id)])
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn the_endpoint_refuses_what_rfc_8628_refuses() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    start(&app, &p.client_id, "openid admin")
        .await
        .assert_error(400, "invalid_scope");
    start(&app, &p.client_id, "openid\u{7f}")
        .await
        .assert_error(400, "invalid_scope");
    start(&app, "nobody", "openid")
        .await
        .assert_error(401, "invalid_client");

    // A client not registered for the grant may neither start nor poll.
    let web = party(&app, |_| {}).await;
    let answer = app
        .send(
            app.http
                .post(format!("{}/device_authorization", app.base))
                .basic_auth(&web.client_id, web.client_secret.as_deref())
                .form(&[("scope", "openid")]),
        )
        .await;
    answer.assert_error(400, "unauthorized_client");
    app.post_token_basic(
        &web.client_id,
        web.client_secret.as_deref().unwrap(),
        &[("grant_type", DEVICE_GRANT), ("device_code", "x")],
    )
    .await
    .assert_error(400, "unauthorized_client");

    // Only POST.
    let get = app
        .send(app.http.get(format!("{}/device_authorization", app.base)))
        .await;
    get.assert_error(405, "invalid_request");
    // client_id naming another client than the one authenticated.
    let confidential = party(&app, |m| {
        m.grant_types = vec![GrantType::DeviceCode];
        m.redirect_uris = Vec::new();
    })
    .await;
    let mixed = app
        .send(
            app.http
                .post(format!("{}/device_authorization", app.base))
                .basic_auth(
                    &confidential.client_id,
                    confidential.client_secret.as_deref(),
                )
                .form(&[("client_id", p.client_id.as_str())]),
        )
        .await;
    mixed.assert_error(400, "invalid_request");
    // A confidential client authenticates as at the token endpoint.
    let good = app
        .send(
            app.http
                .post(format!("{}/device_authorization", app.base))
                .basic_auth(
                    &confidential.client_id,
                    confidential.client_secret.as_deref(),
                )
                .form(&[("scope", "openid")]),
        )
        .await;
    assert_eq!(good.status, 200, "{}", good.body);
    let wrong = app
        .send(
            app.http
                .post(format!("{}/device_authorization", app.base))
                .basic_auth(&confidential.client_id, Some("wrong"))
                .form(&[("scope", "openid")]),
        )
        .await;
    wrong.assert_error(401, "invalid_client");
}
