//! RP-initiated logout: a bare `GET /logout` from any page must not end the session. Without a
//! valid `id_token_hint` the user confirms on a page whose form carries the CSRF token.

use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, VERIFIER, authorize_url, exchange, obtain_code, party};

#[tokio::test]
async fn a_third_party_link_to_logout_only_asks() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.post_logout_redirect_uris = vec!["https://app.example.com/bye".into()]
    })
    .await;
    let mut browser = Browser::new(&app);
    obtain_code(&app, &mut browser, &p, &[]).await;
    let signed_in = |page: &crate::sign_in::flow::Page| page.status == 303;

    // An <img src=".../logout"> on some other site.
    let page = browser.get("/logout").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<form"),
        "a confirmation page: {}",
        page.body
    );
    assert!(page.input("csrf").is_some(), "{}", page.body);
    assert!(
        signed_in(&browser.get(&authorize_url(&p, &[])).await),
        "the link alone signed the user out"
    );
    // The same with a client_id and a registered post_logout_redirect_uri: still only a page.
    let page = browser
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye",
            p.client_id
        ))
        .await;
    assert_eq!(page.status, 200);
    assert!(signed_in(&browser.get(&authorize_url(&p, &[])).await));

    // A POST without the CSRF token is refused.
    let forged = browser
        .post("/logout", &[("action".into(), "logout".into())])
        .await;
    assert_eq!(forged.status, 403);
    assert!(signed_in(&browser.get(&authorize_url(&p, &[])).await));

    // The user presses the button: signed out, then sent where the client registered.
    let mut form = page.hidden_fields();
    form.push(("action".into(), "logout".into()));
    let done = browser.post("/logout", &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location().unwrap(), "https://app.example.com/bye");
    let after = browser.get(&authorize_url(&p, &[])).await;
    assert!(after.body.contains("name=\"password\""), "signed out");
}

#[tokio::test]
async fn a_valid_id_token_hint_logs_out_at_once() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    let id_token = exchange(&app, &p, &code, Some(VERIFIER)).await.body["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = browser
        .get(&format!("/logout?id_token_hint={id_token}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("signed out"), "{}", page.body);
    let after = browser.get(&authorize_url(&p, &[])).await;
    assert!(after.body.contains("name=\"password\""), "signed out");
}

#[tokio::test]
async fn a_hint_for_someone_else_only_asks_and_nobody_signed_in_is_not_asked() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.post_logout_redirect_uris = vec!["https://app.example.com/bye".into()]
    })
    .await;
    // Mallory's genuine ID token...
    let mallory = party(&app, |_| {}).await;
    let mut mallory_browser = Browser::new(&app);
    let code = obtain_code(&app, &mut mallory_browser, &mallory, &[]).await["code"].clone();
    let hint = exchange(&app, &mallory, &code, Some(VERIFIER)).await.body["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // ...in a link a signed-in Alice follows: she is asked, not signed out.
    let mut browser = Browser::new(&app);
    obtain_code(&app, &mut browser, &p, &[]).await;
    let page = browser.get(&format!("/logout?id_token_hint={hint}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.input("csrf").is_some(),
        "a confirmation page: {}",
        page.body
    );
    assert_eq!(browser.get(&authorize_url(&p, &[])).await.status, 303);
    // With nobody signed in there is nothing to end or ask: straight to the registered address.
    let mut nobody = Browser::new(&app);
    let page = nobody
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye",
            p.client_id
        ))
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location().unwrap(), "https://app.example.com/bye");
}

#[tokio::test]
async fn an_id_token_from_an_earlier_session_only_asks() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    let old_hint = exchange(&app, &p, &code, Some(VERIFIER)).await.body["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // That session ends; a later one begins (a second later, so its auth_time differs).
    let done = browser
        .get(&format!("/logout?id_token_hint={old_hint}"))
        .await;
    assert!(done.body.contains("signed out"), "{}", done.body);
    app.clock.advance(1);
    obtain_code(&app, &mut browser, &p, &[]).await;
    // The old ID token (seen in an old logout URL, say) does not end the new session.
    let page = browser
        .get(&format!("/logout?id_token_hint={old_hint}"))
        .await;
    assert!(
        page.input("csrf").is_some(),
        "a confirmation page: {}",
        page.body
    );
    assert_eq!(browser.get(&authorize_url(&p, &[])).await.status, 303);
}
