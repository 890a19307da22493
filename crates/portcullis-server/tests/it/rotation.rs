//! Key rotation: a new key is published at once and signs only after the activation delay; the key it
//! replaces stays published until every token it signed has expired.

use crate::helpers::spawn_with;
use crate::jwt::verify;
use portcullis_core::{Algorithm, Clock};
use portcullis_server::config::Seconds;
use portcullis_server::keys;
use serde_json::Value;

async fn published_kids(app: &crate::helpers::TestApp) -> Vec<String> {
    let jwks = app.get_json("/jwks.json").await;
    jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k: &Value| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn publish_before_sign_and_retire_after_expiry() {
    let app = spawn_with(|c| {
        c.keys.activation_delay = Seconds(600);
        c.tokens.access_token_lifetime = Seconds(300);
        c.tokens.id_token_lifetime = Seconds(200);
    })
    .await;
    let (id, secret) = app.service_client("read").await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let first = app.post_token(&form).await;
    let (old_kid, _) = verify(
        &app,
        first.body["access_token"].as_str().unwrap(),
        &app.issuer,
    )
    .await;

    let new = keys::rotate(
        app.store.as_ref(),
        &keys::KeyVault::none(),
        Algorithm::ES256,
        app.clock.now(),
        600,
    )
    .await
    .unwrap();
    app.registry.refresh().await.unwrap();
    let kids = published_kids(&app).await;
    assert!(kids.contains(&new.kid), "the new key is published at once");
    assert!(kids.contains(&old_kid));
    let during = app.post_token(&form).await;
    let (kid, _) = verify(
        &app,
        during.body["access_token"].as_str().unwrap(),
        &app.issuer,
    )
    .await;
    assert_eq!(
        kid, old_kid,
        "the new key does not sign before its activation"
    );

    app.clock.advance(600);
    let after = app.post_token(&form).await;
    let (kid, _) = verify(
        &app,
        after.body["access_token"].as_str().unwrap(),
        &app.issuer,
    )
    .await;
    assert_eq!(kid, new.kid, "the new key signs once active");
    assert!(
        published_kids(&app).await.contains(&old_kid),
        "the old key still verifies tokens it signed"
    );

    app.clock.advance(299);
    assert!(published_kids(&app).await.contains(&old_kid));
    app.clock.advance(1);
    let kids = published_kids(&app).await;
    assert!(
        !kids.contains(&old_kid),
        "retired once its last token expired"
    );
    assert!(kids.contains(&new.kid));
}

#[tokio::test]
async fn jwks_caching_is_shorter_than_the_activation_delay() {
    let app = spawn_with(|c| c.keys.activation_delay = Seconds(120)).await;
    let jwks = app.get_json("/jwks.json").await;
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=60"));
    let keys = jwks.body["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["ES256", "RS256", "EdDSA"] {
        assert!(algs.contains(&alg), "{algs:?}");
    }
    for key in keys {
        assert!(key.get("d").is_none(), "no private parts: {key}");
        assert_eq!(key["use"], "sig");
    }
}

#[tokio::test]
async fn a_retired_key_outlives_the_longest_token_it_signed() {
    let app = spawn_with(|c| {
        c.tokens.access_token_lifetime = Seconds(300);
        c.tokens.id_token_lifetime = Seconds(600);
    })
    .await;
    let old: Vec<String> = published_kids(&app).await;
    keys::rotate(
        app.store.as_ref(),
        &keys::KeyVault::none(),
        Algorithm::RS256,
        app.clock.now(),
        0,
    )
    .await
    .unwrap();
    app.registry.refresh().await.unwrap();
    app.clock.advance(599);
    let kids = published_kids(&app).await;
    assert!(
        old.iter().all(|k| kids.contains(k)),
        "ID tokens live 600 s: the old keys stay"
    );
    app.clock.advance(1);
    let kids = published_kids(&app).await;
    assert_eq!(
        old.iter().filter(|k| !kids.contains(k)).count(),
        1,
        "the retired RS256 key goes"
    );
}
