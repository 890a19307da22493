//! Sign-in throttling: the attempt is reserved before the password is hashed, so a burst cannot
//! get more guesses than the limit, and one address guessing made-up usernames does not lock out
//! the real users behind it.

use crate::helpers::{TestApp, spawn_with};
use crate::sign_in::flow::{Browser, PASSWORD, Page, Party, authorize_url, party};
use std::sync::Arc;

/// A login page and the form it posts, without the credentials.
async fn login_form(app: &TestApp, p: &Party) -> (Browser, Page) {
    let mut browser = Browser::new(app);
    let page = browser.get(&authorize_url(p, &[])).await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    (browser, page)
}

fn credentials(page: &Page, username: &str, password: &str) -> Vec<(String, String)> {
    let mut form = page.hidden_fields();
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    form.push(("action".into(), "login".into()));
    form
}

async fn post_login(browser: &Browser, form: &[(String, String)]) -> u16 {
    browser.post_status("/authorize", form, None).await
}

/// The same, sent through the trusted proxy on behalf of `address`.
async fn post_login_from(browser: &Browser, form: &[(String, String)], address: &str) -> u16 {
    browser.post_status("/authorize", form, Some(address)).await
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_is_checked_at_most_the_limit_and_the_right_one_waits() {
    let app = spawn_with(|c| c.sign_in.max_failed_attempts = 5).await;
    let p = party(&app, |m| m.first_party = true).await;
    let (browser, page) = login_form(&app, &p).await;
    let browser = Arc::new(browser);
    let (tx, mut first_answer) = tokio::sync::mpsc::channel::<u16>(256);
    let mut tasks = Vec::new();
    for n in 0..200 {
        let form = credentials(&page, &p.username, &format!("wrong-password-{n}"));
        let (browser, tx) = (browser.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let status = post_login(&browser, &form).await;
            let _ = tx.send(status).await;
            status
        }));
    }
    // Every guess is on its way; the right password comes while they are being answered.
    first_answer.recv().await;
    let right = post_login(&browser, &credentials(&page, &p.username, PASSWORD)).await;
    let mut checked = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            401 => checked += 1,
            429 => refused += 1,
            other => panic!("a wrong password answered {other}"),
        }
    }
    eprintln!(
        "burst: {checked} wrong passwords checked, {refused} refused; the right one: {right}"
    );
    assert!(
        checked <= 5,
        "{checked} wrong passwords were checked (limit 5), {refused} refused"
    );
    assert_eq!(right, 429, "the right password signed in during the burst");
}

#[tokio::test]
async fn a_success_releases_only_its_own_reservation() {
    let app = spawn_with(|c| {
        c.sign_in.max_failed_attempts = 5;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let p = party(&app, |m| m.first_party = true).await;
    let (browser, page) = login_form(&app, &p).await;
    // The attacker guesses from addresses of its own.
    for n in 0..4 {
        let form = credentials(&page, &p.username, &format!("guess-{n}-guess"));
        let from = format!("198.51.100.{n}");
        assert_eq!(post_login_from(&browser, &form, &from).await, 401);
    }
    // The rightful user signs in; the attacker's four failures still count.
    let ok = post_login_from(
        &browser,
        &credentials(&page, &p.username, PASSWORD),
        "203.0.113.5",
    )
    .await;
    assert_eq!(ok, 303);
    let form = credentials(&page, &p.username, "guess-4-guess");
    assert_eq!(post_login_from(&browser, &form, "198.51.100.4").await, 401);
    let form = credentials(&page, &p.username, PASSWORD);
    assert_eq!(
        post_login_from(&browser, &form, "203.0.113.5").await,
        429,
        "five failures in the window lock the username, whatever succeeded in between"
    );
}

#[tokio::test]
async fn made_up_usernames_from_one_address_do_not_lock_out_the_office() {
    let app = spawn_with(|c| c.sign_in.max_failed_attempts = 5).await;
    let p = party(&app, |m| m.first_party = true).await;
    let (browser, page) = login_form(&app, &p).await;
    for n in 0..5 {
        let form = credentials(&page, &format!("nobody-{n}"), "some-password");
        assert_eq!(post_login(&browser, &form).await, 401);
    }
    // A colleague behind the same NAT signs in.
    let ok = post_login(&browser, &credentials(&page, &p.username, PASSWORD)).await;
    assert_eq!(ok, 303, "one address's failures locked out another user");
}
