//! Client-authentication throttling keyed on (client_id, address) and on the address, never on
//! the client_id alone: wrong secrets from one place must not lock the client out everywhere.

use super::token_from;
use crate::helpers::spawn_with;
use portcullis_server::config::Seconds;

const WRONG: &str = "wrong-secret-wrong-secret-wrong-secret-00";

#[tokio::test]
async fn wrong_secrets_from_one_address_do_not_lock_the_client_out_elsewhere() {
    let app = spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.client_auth.max_failures_per_client = 20;
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    for _ in 0..20 {
        token_from(&app, &id, WRONG, "198.51.100.66")
            .await
            .assert_error(401, "invalid_client");
    }
    // The attacker's address is locked for this client, even with the right secret...
    token_from(&app, &id, &secret, "198.51.100.66")
        .await
        .assert_error(429, "temporarily_unavailable");
    // ...but the client itself, from its own address, is not.
    let answer = token_from(&app, &id, &secret, "203.0.113.10").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Nor is an API that introspects with the same client from elsewhere.
    let token = answer.body["access_token"].as_str().unwrap().to_owned();
    let introspected = app
        .send(
            app.http
                .post(format!("{}/introspect", app.base))
                .header("x-forwarded-for", "203.0.113.11")
                .basic_auth(&id, Some(&secret))
                .form(&[("token", token.as_str())]),
        )
        .await;
    assert_eq!(introspected.status, 200, "{}", introspected.body);
    assert_eq!(introspected.body["active"], true);
}

#[tokio::test]
async fn a_spray_that_goes_on_stays_throttled() {
    let app = spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.client_auth.max_failures_per_ip = 3;
        c.client_auth.failure_window = Seconds(60);
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    let spray = "198.51.100.77";
    for n in 0..3 {
        token_from(&app, &format!("guess-{n}"), WRONG, spray)
            .await
            .assert_error(401, "invalid_client");
    }
    // The spray goes on, a few attempts every ten seconds, for well over a window: it stays
    // throttled the whole time.
    for step in 0..12 {
        app.clock.advance(10);
        for n in 0..3 {
            token_from(&app, &format!("spray-{step}-{n}"), WRONG, spray)
                .await
                .assert_error(429, "temporarily_unavailable");
        }
    }
    token_from(&app, &id, &secret, spray)
        .await
        .assert_error(429, "temporarily_unavailable");
    // Once it stops, the address recovers.
    app.clock.advance(3 * 60);
    let answer = token_from(&app, &id, &secret, spray).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
