//! A used authorization code presented again revokes what it granted, but only when the replay
//! would otherwise have succeeded: client, redirect_uri and PKCE are checked first, so someone who
//! saw a public client's used code cannot end that user's session with a made-up verifier.

use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, VERIFIER, exchange, obtain_code, party, refresh};
use portcullis_core::TokenEndpointAuthMethod;

#[tokio::test]
async fn an_invalid_replay_changes_nothing_and_a_valid_one_revokes() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None);
    })
    .await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(&app, &mut browser, &p, &[]).await["code"].clone();
    let first = exchange(&app, &p, &code, Some(VERIFIER)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let refresh_token = first.body["refresh_token"].as_str().unwrap().to_owned();

    // Replays that would fail anyway: a wrong verifier, no verifier, a wrong redirect_uri.
    exchange(
        &app,
        &p,
        &code,
        Some("a-made-up-verifier-a-made-up-verifier-012345"),
    )
    .await
    .assert_error(400, "invalid_grant");
    exchange(&app, &p, &code, None)
        .await
        .assert_error(400, "invalid_grant");
    let wrong_redirect = app
        .send(app.token_request().form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://app.example.com/other"),
            ("client_id", p.client_id.as_str()),
            ("code_verifier", VERIFIER),
        ]))
        .await;
    wrong_redirect.assert_error(400, "invalid_grant");
    // None of them touched the user's grant.
    let still = refresh(&app, &p, &refresh_token, None).await;
    assert_eq!(still.status, 200, "{}", still.body);
    let refresh_token = still.body["refresh_token"].as_str().unwrap().to_owned();

    // A replay that would have succeeded: the code leaked, the grant goes, also after the code's
    // own 60 seconds (a used code is kept for an hour for this).
    app.clock.advance(120);
    exchange(&app, &p, &code, Some(VERIFIER))
        .await
        .assert_error(400, "invalid_grant");
    refresh(&app, &p, &refresh_token, None)
        .await
        .assert_error(400, "invalid_grant");
}
