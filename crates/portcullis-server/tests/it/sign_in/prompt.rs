//! `prompt=login` and `max_age=0` with a consent page in between: the sign-in the user just made
//! counts for the Allow that follows, so they are not sent back to the login page forever, and the
//! consent is saved.

use super::flow::{Browser, PASSWORD, authorize_url, party};
use crate::helpers::spawn_app;

#[tokio::test]
async fn allow_after_a_forced_sign_in_issues_the_code_and_saves_the_consent() {
    let app = spawn_app().await;
    for forcing in [("prompt", "login"), ("max_age", "0")] {
        // A user with a session already, and no consent for this client yet.
        let p = party(&app, |_| {}).await;
        let mut browser = Browser::new(&app);
        let login = browser.get(&authorize_url(&p, &[])).await;
        let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
        assert!(consent.body.contains("value=\"allow\""), "{}", consent.body);

        // The client asks for a fresh sign-in: login page, consent page, Allow, code.
        let login = browser.get(&authorize_url(&p, &[forcing])).await;
        assert!(
            login.body.contains("name=\"password\""),
            "{forcing:?}: {}",
            login.body
        );
        let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
        assert!(
            consent.body.contains("value=\"allow\""),
            "{forcing:?}: {}",
            consent.body
        );
        let done = browser.submit(&consent, &[("action", "allow")]).await;
        assert_eq!(
            done.status, 303,
            "{forcing:?}: Allow led back to the login page: {}",
            done.body
        );
        assert!(done.redirect_params().contains_key("code"), "{forcing:?}");

        // The consent was saved: without prompt, no consent page again.
        let again = browser.get(&authorize_url(&p, &[])).await;
        assert_eq!(again.status, 303, "{forcing:?}: {}", again.body);
        assert!(again.redirect_params().contains_key("code"));

        // A consent form kept from before still needs a fresh sign-in under prompt=login.
        app.clock.advance(601);
        let stale = browser.submit(&consent, &[("action", "allow")]).await;
        assert!(
            stale.body.contains("name=\"password\""),
            "{forcing:?}: an old consent form skipped the sign-in"
        );
    }
}
