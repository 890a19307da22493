//! The verification page: typed codes, guessing limits, CSRF, the phishing warning, and a user
//! who is signed in already.

use super::{start, to_consent, tv, user_code_in};
use crate::helpers::{spawn_app, spawn_with};
use crate::sign_in::flow::Browser;

#[tokio::test]
async fn wrong_codes_are_limited_per_address() {
    let app = spawn_with(|c| c.device.max_failed_codes_per_address = 3).await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid").await;
    let mut browser = Browser::new(&app);
    let entry = browser.get("/device").await;
    assert_eq!(entry.status, 200);
    assert_eq!(user_code_in(&entry), "");
    for guess in ["BCDF-GHJK", "not a code", "BCDF-GHJL"] {
        let page = browser
            .submit_to(
                "/device",
                &entry,
                &[("user_code", guess), ("action", "code")],
            )
            .await;
        assert_eq!(page.status, 400, "{guess}: {}", page.body);
        assert!(page.body.contains("not valid"), "{}", page.body);
    }
    // Now even the right code is refused from this address, with a time to wait.
    let right = started.body["user_code"].as_str().unwrap();
    let locked = browser
        .submit_to(
            "/device",
            &entry,
            &[("user_code", right), ("action", "code")],
        )
        .await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.headers.get("retry-after").is_some());
    assert!(
        locked.body.contains("Too many wrong codes"),
        "{}",
        locked.body
    );
}

#[tokio::test]
async fn codes_are_read_as_people_type_them() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid").await;
    let code = started.body["user_code"].as_str().unwrap();
    let typed = format!(" {} ", code.replace('-', "").to_lowercase());
    let mut browser = Browser::new(&app);
    let entry = browser.get("/device").await;
    let login = browser
        .submit_to(
            "/device",
            &entry,
            &[("user_code", &typed), ("action", "code")],
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.contains("name=\"password\""), "{}", login.body);
    assert_eq!(
        login.input("user_code").as_deref(),
        Some(code),
        "shown as typed on the device"
    );

    // A wrong password keeps the code and says why.
    let wrong = browser
        .submit_to(
            "/device",
            &login,
            &[
                ("username", &p.username),
                ("password", "nope"),
                ("action", "login"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(wrong.input("user_code").as_deref(), Some(code));
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid").await;
    let mut browser = Browser::new(&app);
    let consent = to_consent(
        &app,
        &mut browser,
        &p,
        started.body["verification_uri_complete"].as_str().unwrap(),
    )
    .await;
    let mut form = consent.hidden_fields();
    form.retain(|(name, _)| name != "csrf");
    form.push(("action".into(), "allow".into()));
    let refused = browser.post("/device", &form).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    super::poll(
        &app,
        &p.client_id,
        started.body["device_code"].as_str().unwrap(),
    )
    .await
    .assert_error(400, "authorization_pending");
}

#[tokio::test]
async fn a_signed_in_user_still_sees_the_consent_page_and_a_code_works_once() {
    let app = spawn_app().await;
    // Even for a first-party client, which skips consent in the code flow.
    let p = super::tv(&app).await;
    let mut metadata = app
        .registry
        .snapshot()
        .client(&p.client_id)
        .unwrap()
        .metadata
        .clone();
    metadata.first_party = true;
    let hasher = app.hasher().await;
    portcullis_server::admin::ClientAdmin::new(
        app.store.as_ref(),
        &hasher,
        portcullis_core::Clock::now(&app.clock),
    )
    .update(
        &portcullis_core::ClientId::parse(&p.client_id).unwrap(),
        metadata,
    )
    .await
    .unwrap();
    app.registry.refresh().await.unwrap();

    let first = start(&app, &p.client_id, "openid").await;
    let mut browser = Browser::new(&app);
    let complete = first.body["verification_uri_complete"].as_str().unwrap();
    let consent = to_consent(&app, &mut browser, &p, complete).await;
    browser
        .submit_to("/device", &consent, &[("action", "allow")])
        .await;
    // The same code again: decided already.
    let entry = browser.get(complete).await;
    let again = browser
        .submit_to(
            "/device",
            &entry,
            &[("user_code", &user_code_in(&entry)), ("action", "code")],
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.body);

    // A second device: signed in already, straight to the consent page, which is shown.
    let second = start(&app, &p.client_id, "openid").await;
    let entry = browser
        .get(second.body["verification_uri_complete"].as_str().unwrap())
        .await;
    let consent = browser
        .submit_to(
            "/device",
            &entry,
            &[("user_code", &user_code_in(&entry)), ("action", "code")],
        )
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("id=\"allow\""), "{}", consent.body);
    assert!(
        !consent.body.contains("<script"),
        "no JavaScript on the pages"
    );
}

#[tokio::test]
async fn only_a_signed_in_user_cancels_and_ending_a_users_sign_ins_refuses_their_devices() {
    let app = spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid offline_access").await;
    let code = started.body["user_code"].as_str().unwrap();
    // Someone who saw the code on the TV, without signing in, cannot cancel it.
    let mut passer_by = Browser::new(&app);
    let entry = passer_by.get("/device").await;
    let page = passer_by
        .submit_to(
            "/device",
            &entry,
            &[("user_code", code), ("action", "deny")],
        )
        .await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let device_code = started.body["device_code"].as_str().unwrap();
    super::poll(&app, &p.client_id, device_code)
        .await
        .assert_error(400, "authorization_pending");

    // Approved, then the user's password is reset before the TV polls: the TV gets nothing.
    let mut browser = Browser::new(&app);
    let consent = to_consent(
        &app,
        &mut browser,
        &p,
        started.body["verification_uri_complete"].as_str().unwrap(),
    )
    .await;
    browser
        .submit_to("/device", &consent, &[("action", "allow")])
        .await;
    let hasher = portcullis_server::users::PasswordHasher::new(1).unwrap();
    portcullis_server::users::UserAdmin::new(
        app.store.as_ref(),
        &hasher,
        portcullis_core::Clock::now(&app.clock),
    )
    .set_password(
        &p.username,
        portcullis_server::users::PasswordSource::Plain(portcullis_core::Secret::new(
            "a brand new password 123",
        )),
    )
    .await
    .unwrap();
    app.clock.advance(5);
    super::poll(&app, &p.client_id, device_code)
        .await
        .assert_error(400, "access_denied");
}
