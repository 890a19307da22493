//! Attacks that once worked, replayed over HTTP against the real server. Each module is one
//! finding of the hostile-client review ("Keep every security promise under attack"); each test
//! fails on the code before its fix. The suite runs on SQLite by default and on PostgreSQL with
//! `PORTCULLIS_TEST_DATABASE=postgres`.

mod client_throttle;
mod code_replay;
mod cookies;
mod forwarded_for;
mod internal_errors;
mod logout;
mod loopback;
mod refresh_grace;
mod revocation;
mod sign_in_throttle;

use crate::helpers::{Answer, TestApp};

/// A client_credentials request, sent through the (trusted) proxy on behalf of `forwarded_for`.
pub async fn token_from(app: &TestApp, id: &str, secret: &str, forwarded_for: &str) -> Answer {
    app.send(
        app.token_request()
            .header("x-forwarded-for", forwarded_for)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ]),
    )
    .await
}
