//! The login and consent pages: headers, cookies, CSRF, consent memory, throttling, prompt, max_age.

use super::flow::{Browser, PASSWORD, authorize_url, obtain_code, party};
use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn pages_are_protected_and_cookies_are_strict() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&p, &[])).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert!(
        login.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(login.headers["cache-control"], "no-store");
    assert!(login.body.contains("Photo Gallery"), "names the client");
    let csrf_cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"));
    assert!(!csrf_cookie.contains("Secure"), "http issuer");

    let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
    let session = consent
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(consent.body.contains("value=\"allow\""), "{}", consent.body);
    assert!(
        consent.body.contains("See your email address"),
        "scopes in words"
    );
    assert_eq!(consent.headers["x-frame-options"], "DENY");
    assert!(login.body.contains("href=\"/assets/portcullis.css\""));
    let css = app
        .http
        .get(format!("{}/assets/portcullis.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains(".card"));
}

#[tokio::test]
async fn cookies_are_secure_when_the_issuer_is_https() {
    let app = spawn_with(|c| c.issuer = Some("https://id.example.com".parse().unwrap())).await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&p, &[])).await;
    assert!(
        login.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&p, &[])).await;
    let mut form: Vec<(String, String)> = login
        .hidden_fields()
        .into_iter()
        .filter(|(n, _)| n != "csrf")
        .collect();
    form.push(("username".into(), p.username.clone()));
    form.push(("password".into(), PASSWORD.into()));
    form.push(("action".into(), "login".into()));
    let missing = browser.post("/authorize", &form).await;
    assert_eq!(missing.status, 403);
    form.push(("csrf".into(), "forged".into()));
    let wrong = browser.post("/authorize", &form).await;
    assert_eq!(wrong.status, 403);
    assert!(
        !browser.cookies.contains_key("portcullis_session"),
        "not signed in"
    );
    // Without the cookie, even the page's own token fails.
    browser.cookies.remove("portcullis_csrf");
    let page_token = login.input("csrf").unwrap();
    form.pop();
    form.push(("csrf".into(), page_token));
    assert_eq!(browser.post("/authorize", &form).await.status, 403);
}

#[tokio::test]
async fn consent_is_remembered_skipped_for_first_party_and_deny_means_access_denied() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&p, &[])).await;
    let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
    let denied = browser.submit(&consent, &[("action", "deny")]).await;
    assert_eq!(denied.redirect_params()["error"], "access_denied");
    assert_eq!(denied.redirect_params()["state"], "xyz-state");

    // prompt=none without consent.
    let none = browser.get(&authorize_url(&p, &[("prompt", "none")])).await;
    assert_eq!(none.redirect_params()["error"], "consent_required");

    obtain_code(&app, &mut browser, &p, &[]).await;
    let again = browser.get(&authorize_url(&p, &[])).await;
    assert_eq!(again.status, 303, "consent remembered");
    assert!(again.redirect_params().contains_key("code"));
    let silent = browser.get(&authorize_url(&p, &[("prompt", "none")])).await;
    assert!(silent.redirect_params().contains_key("code"));
    let asked = browser
        .get(&authorize_url(&p, &[("prompt", "consent")]))
        .await;
    assert_eq!(asked.status, 200);
    assert!(asked.body.contains("value=\"allow\""));
    // Asking for more than was allowed asks again.
    let more = browser
        .get(&authorize_url(&p, &[("scope", "openid photos:write")]))
        .await;
    assert_eq!(more.status, 200);

    let first = party(&app, |m| m.first_party = true).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&first, &[])).await;
    let done = browser.sign_in(&login, &first.username, PASSWORD).await;
    assert_eq!(done.status, 303, "no consent page for a first-party client");
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_the_password_again() {
    let app = spawn_app().await;
    let p = party(&app, |m| m.first_party = true).await;
    let mut browser = Browser::new(&app);
    obtain_code(&app, &mut browser, &p, &[]).await;
    assert_eq!(browser.get(&authorize_url(&p, &[])).await.status, 303);
    let forced = browser
        .get(&authorize_url(&p, &[("prompt", "login")]))
        .await;
    assert!(forced.body.contains("name=\"password\""));
    let done = browser.sign_in(&forced, &p.username, PASSWORD).await;
    assert_eq!(done.status, 303, "a fresh sign-in satisfies prompt=login");

    app.clock.advance(120);
    assert_eq!(
        browser
            .get(&authorize_url(&p, &[("max_age", "300")]))
            .await
            .status,
        303
    );
    let old = browser.get(&authorize_url(&p, &[("max_age", "60")])).await;
    assert!(old.body.contains("name=\"password\""), "max_age exceeded");
    let none = browser
        .get(&authorize_url(&p, &[("max_age", "60"), ("prompt", "none")]))
        .await;
    assert_eq!(none.redirect_params()["error"], "login_required");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_username_and_per_address() {
    let app = spawn_with(|c| {
        c.sign_in.max_failed_attempts = 3;
        c.sign_in.max_failed_attempts_per_address = 6;
        c.sign_in.failure_window = portcullis_server::config::Seconds(300);
    })
    .await;
    let p = party(&app, |m| m.first_party = true).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&p, &[])).await;
    for _ in 0..3 {
        let page = browser.sign_in(&login, &p.username, "wrong password").await;
        assert_eq!(page.status, 401);
        assert!(page.body.contains("Wrong username or password"));
    }
    let locked = browser.sign_in(&login, &p.username, PASSWORD).await;
    assert_eq!(locked.status, 429, "even the right password waits");
    assert!(
        locked.body.contains("Try again in 5 minutes."),
        "in words: {}",
        locked.body
    );
    let retry: i64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    // The same address trying other usernames is not locked by one username's failures...
    let other = browser
        .sign_in(&login, "someone-else", "whatever-password")
        .await;
    assert_eq!(other.status, 401);
    // ...but by its own total: 3 + 1 failures, the refused attempt, and one more reach 6.
    let other = browser
        .sign_in(&login, "someone-else-again", "whatever-password")
        .await;
    assert_eq!(other.status, 401);
    let other = browser
        .sign_in(&login, "a-third-name", "whatever-password")
        .await;
    assert_eq!(other.status, 429, "the address is over its own limit");
    // Both limits hold for a window after the last counted attempt, and then lift.
    app.clock.advance(600);
    let open = browser.sign_in(&login, &p.username, PASSWORD).await;
    assert_eq!(open.status, 303, "the window has passed");
}

#[tokio::test]
async fn the_authorization_request_may_be_posted() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let url = authorize_url(&p, &[]);
    let query = url.split_once('?').unwrap().1;
    let form: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let login = browser.post("/authorize", &form).await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("name=\"password\""));
    let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
    let done = browser.submit(&consent, &[("action", "allow")]).await;
    assert!(done.redirect_params().contains_key("code"));
}
