//! The device sign-in (RFC 8628) in Chromium as a phone would do it: a 390-pixel-wide touch
//! screen with JavaScript turned off. The TV's `verification_uri_complete` opens the code page
//! with the code filled in; the person confirms, signs in, allows, and reads that they may return
//! to the device, which then gets its tokens. Every page fits the screen (no element reaches past
//! its right edge). Then a `form_post` sign-in, whose page submits itself with a script, is
//! finished by tapping its Continue button, as a browser without JavaScript must. A desktop
//! browser (scripts on) types the code by hand.

use super::browser::{Driver, PHONE_WIDTH, callback_listener};
use super::flow::{PASSWORD, authorize_url, party};
use crate::device::{poll, start, tv};
use crate::helpers::spawn_app;
use serde_json::Value;

/// The right edge of the element `css`, in CSS pixels.
async fn right_edge(driver: &Driver, css: &str) -> f64 {
    let id = driver.element(css).await;
    let rect = driver
        .call(
            reqwest::Method::GET,
            &format!("/element/{id}/rect"),
            Value::Null,
        )
        .await;
    rect["x"].as_f64().unwrap() + rect["width"].as_f64().unwrap()
}

/// Submits the form of the button `css` from the keyboard: focus on the button, then Enter, as
/// WebDriver key actions. chromedriver's element click waits on a script in the page, which never
/// runs with scripts off.
async fn tap(driver: &Driver, css: &str) {
    let id = driver.element(css).await;
    driver
        .call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            serde_json::json!({ "text": "\u{E007}" }),
        )
        .await;
}

/// Asserts that each element lies within the phone's screen.
async fn fits(driver: &Driver, page: &str, selectors: &[&str]) {
    for css in selectors {
        let edge = right_edge(driver, css).await;
        assert!(
            edge <= f64::from(PHONE_WIDTH),
            "{page}: {css} reaches {edge}px, past the {PHONE_WIDTH}px screen"
        );
    }
}

#[tokio::test]
async fn a_phone_without_javascript_approves_a_tv() {
    let Some(driver) = Driver::launch(true).await else {
        return;
    };
    let app = spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid profile offline_access").await;
    let user_code = started.body["user_code"].as_str().unwrap();
    let device_code = started.body["device_code"].as_str().unwrap();

    driver
        .go(started.body["verification_uri_complete"].as_str().unwrap())
        .await;
    driver.wait_for_text("Connect a device").await;
    let field = driver.element("#user-code").await;
    let value = driver
        .call(
            reqwest::Method::GET,
            &format!("/element/{field}/property/value"),
            Value::Null,
        )
        .await;
    assert_eq!(value, user_code, "the link fills the code in");
    fits(&driver, "code page", &["main", "#user-code", "#continue"]).await;
    driver.screenshot("phone-device-code.png").await;
    tap(&driver, "#continue").await;

    driver
        .wait_for_text("Sign in to continue to Living Room TV")
        .await;
    fits(
        &driver,
        "login page",
        &["main", "#username", "#password", "#sign-in"],
    )
    .await;
    driver.type_into("#username", &p.username).await;
    driver.type_into("#password", PASSWORD).await;
    tap(&driver, "#sign-in").await;

    let consent = driver.wait_for_text("If someone sent you this code").await;
    assert!(
        consent.contains(user_code),
        "the code is shown to compare: {consent}"
    );
    fits(
        &driver,
        "consent page",
        &["main", "#allow", "#deny", ".user-code"],
    )
    .await;
    driver.screenshot("phone-device-consent.png").await;
    tap(&driver, "#allow").await;

    driver.wait_for_text("You may return to your device").await;
    fits(&driver, "done page", &["main", "h1"]).await;
    driver.screenshot("phone-device-done.png").await;

    app.clock.advance(5);
    let tokens = poll(&app, &p.client_id, device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(tokens.body["id_token"].is_string());

    // form_post without JavaScript: the page stays, and its button posts the code.
    let (port, _listener) = callback_listener().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let poster = party(&app, |m| m.redirect_uris = vec![redirect.clone()]).await;
    let url = format!(
        "{}{}",
        app.base,
        authorize_url(
            &poster,
            &[("redirect_uri", &redirect), ("response_mode", "form_post")]
        )
    );
    driver.go(&url).await;
    driver.wait_for_text("Photo Gallery").await;
    driver.type_into("#username", &poster.username).await;
    driver.type_into("#password", PASSWORD).await;
    tap(&driver, "#sign-in").await;
    driver.wait_for_text("See your email address").await;
    tap(&driver, "#allow").await;
    driver.wait_for_text("Continue").await;
    assert!(
        driver.url().await.starts_with(&app.base),
        "the script did not run: the browser is still on our page"
    );
    tap(&driver, "#continue").await;
    let landed = driver.wait_for_text("Signed in to the photo gallery").await;
    assert!(
        landed.contains("POST /callback") && landed.contains("code="),
        "{landed}"
    );
}

/// The same on a desktop browser with scripts on, the code typed by hand (in lower case, without
/// the dash) at `verification_uri` rather than carried by the link.
#[tokio::test]
async fn a_desktop_browser_types_the_code_and_approves_a_tv() {
    let Some(driver) = Driver::launch(false).await else {
        return;
    };
    let app = spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid").await;
    let typed = started.body["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    driver
        .go(started.body["verification_uri"].as_str().unwrap())
        .await;
    driver.wait_for_text("Connect a device").await;
    driver.type_into("#user-code", &typed).await;
    driver.click("#continue").await;
    driver
        .wait_for_text("Sign in to continue to Living Room TV")
        .await;
    driver.type_into("#username", &p.username).await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("#sign-in").await;
    driver.wait_for_text("If someone sent you this code").await;
    driver.click("#allow").await;
    driver.wait_for_text("You may return to your device").await;
    driver.screenshot("desktop-device-done.png").await;
    app.clock.advance(5);
    let tokens = poll(
        &app,
        &p.client_id,
        started.body["device_code"].as_str().unwrap(),
    )
    .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
}
