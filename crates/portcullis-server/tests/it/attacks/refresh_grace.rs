//! The refresh-token grace period (`tokens.refresh_token_reuse_grace`) must not let a thief who
//! replays an old token take over the grant: the token the replay replaces is kept as superseded,
//! and when the rightful client presents it, the whole grant goes, the thief's tokens included.

use crate::helpers::{TestApp, spawn_with};
use crate::sign_in::flow::{Party, party, refresh};
use crate::sign_in::refresh::first_refresh_token;
use portcullis_server::config::Seconds;

async fn active(app: &TestApp, p: &Party, token: &str) -> bool {
    let answer = app
        .send(
            app.http
                .post(format!("{}/introspect", app.base))
                .basic_auth(&p.client_id, p.client_secret.as_deref())
                .form(&[("token", token)]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["active"] == true
}

#[tokio::test]
async fn a_replay_inside_the_grace_revokes_the_grant_when_the_victim_comes_back() {
    let app = spawn_with(|c| c.tokens.refresh_token_reuse_grace = Seconds(30)).await;
    let p = party(&app, |_| {}).await;
    let r1 = first_refresh_token(&app, &p).await;
    // The rightful client rotates r1 into r2.
    let rotated = refresh(&app, &p, &r1, None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let r2 = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    // A thief who copied r1 replays it inside the grace period.
    app.clock.advance(5);
    let stolen = refresh(&app, &p, &r1, None).await;
    let (thief_refresh, thief_access) = if stolen.status == 200 {
        (
            stolen.body["refresh_token"].as_str().map(str::to_owned),
            stolen.body["access_token"].as_str().map(str::to_owned),
        )
    } else {
        (None, None)
    };
    // The rightful client comes back with r2: a superseded token of the family.
    refresh(&app, &p, &r2, None)
        .await
        .assert_error(400, "invalid_grant");
    // The grant is gone: the thief's tokens no longer work.
    if let Some(r3) = thief_refresh {
        refresh(&app, &p, &r3, None)
            .await
            .assert_error(400, "invalid_grant");
    }
    if let Some(access) = thief_access {
        assert!(!active(&app, &p, &access).await, "the thief's access token");
    }
}

#[tokio::test]
async fn the_grace_re_exchange_is_allowed_once() {
    let app = spawn_with(|c| c.tokens.refresh_token_reuse_grace = Seconds(30)).await;
    let p = party(&app, |_| {}).await;
    let r1 = first_refresh_token(&app, &p).await;
    assert_eq!(refresh(&app, &p, &r1, None).await.status, 200);
    // The response was lost; the retry inside the grace works once.
    let retry = refresh(&app, &p, &r1, None).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    let r3 = retry.body["refresh_token"].as_str().unwrap().to_owned();
    // A second retry of r1 is a replay: the whole grant goes.
    refresh(&app, &p, &r1, None)
        .await
        .assert_error(400, "invalid_grant");
    refresh(&app, &p, &r3, None)
        .await
        .assert_error(400, "invalid_grant");
}
