//! `portcullis keys list|rotate` against a running server.

use crate::helpers::{ServerProcess, create_client, kid_of, portcullis, run};

fn keys_json(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let (ok, out, err) = run(portcullis(dir).args(["keys", "list", "--json"]));
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test]
async fn a_rotated_key_is_published_first_and_signs_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = create_client(dir.path(), &[]);
    let body = server.wait_for_token_status(&id, &secret, 200).await;
    let first_kid = kid_of(body["access_token"].as_str().unwrap());
    let keys = keys_json(dir.path());
    assert_eq!(keys.len(), 3, "one key per algorithm: {keys:?}");
    assert!(keys.iter().all(|k| k["state"] == "active"));

    // The default delay (1 h): published now, not signing.
    let (ok, out, err) =
        run(portcullis(dir.path()).args(["keys", "rotate", "--alg", "ES256", "--json"]));
    assert!(ok, "{err}");
    let pending: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pending_kid = pending["kid"].as_str().unwrap().to_owned();
    let start = std::time::Instant::now();
    loop {
        let jwks: serde_json::Value = reqwest::get(format!("{}/jwks.json", server.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if jwks.to_string().contains(&pending_kid) {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, body) = server.token(&id, &secret).await;
    assert_eq!(kid_of(body["access_token"].as_str().unwrap()), first_kid);
    let states: Vec<(String, String)> = keys_json(dir.path())
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().into(),
                k["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        states.contains(&(pending_kid.clone(), "pending".into())),
        "{states:?}"
    );

    // With no delay the new key signs at once and the old one is retired but published.
    let (ok, out, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_KEYS__ACTIVATION_DELAY", "0")
        .args(["keys", "rotate", "--json"]));
    assert!(ok, "{err}");
    let now_kid = serde_json::from_str::<serde_json::Value>(&out).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = std::time::Instant::now();
    loop {
        let (_, body) = server.token(&id, &secret).await;
        if kid_of(body["access_token"].as_str().unwrap()) == now_kid {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let jwks = reqwest::get(format!("{}/jwks.json", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(jwks.contains(&first_kid), "the retired key stays published");
    let states = keys_json(dir.path());
    let first = states
        .iter()
        .find(|k| k["kid"] == first_kid.as_str())
        .unwrap();
    assert_eq!(first["state"], "retired");
}
