//! `X-Forwarded-For` behind a trusted proxy is read from the right. A malformed entry further left
//! (which the client wrote itself) must not make every request look as if it came from the proxy,
//! sharing one throttle bucket.

use super::token_from;
use crate::helpers::spawn_with;

#[tokio::test]
async fn a_junk_entry_on_the_left_does_not_hide_the_client() {
    let app = spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.client_auth.max_failures_per_ip = 2;
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    let wrong = "wrong-secret-wrong-secret-wrong-secret-00";
    for _ in 0..2 {
        token_from(&app, &id, wrong, "junk, 198.51.100.7")
            .await
            .assert_error(401, "invalid_client");
    }
    // Another client of the same proxy, whose own header also carries junk, is not locked...
    let other = token_from(&app, &id, &secret, "not-an-address, 198.51.100.8").await;
    assert_eq!(other.status, 200, "{}", other.body);
    // ...while the address the failures came from is.
    token_from(&app, &id, &secret, "198.51.100.7")
        .await
        .assert_error(429, "temporarily_unavailable");
}
