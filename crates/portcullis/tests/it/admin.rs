//! `portcullis client …` against a running server: changes are seen within a second.

use crate::helpers::{ServerProcess, create_client, portcullis, run};

#[tokio::test]
async fn create_update_rotate_delete_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());

    // Human output shows the id and the secret once, and how to use them.
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--name",
        "Nightly report",
        "--scope",
        "read write",
        "--client-id",
        "nightly",
    ]));
    assert!(ok, "{err}");
    assert!(out.contains("client_id:     nightly"), "{out}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .trim()
        .to_owned();
    assert!(secret.len() >= 43, "256 bits: {secret}");
    let body = server.wait_for_token_status("nightly", &secret, 200).await;
    assert_eq!(body["scope"], "read write");

    let (ok, _, err) =
        run(portcullis(dir.path()).args(["client", "update", "nightly", "--scope", "read"]));
    assert!(ok, "{err}");
    let start = std::time::Instant::now();
    loop {
        let (_, body) = server.token("nightly", &secret).await;
        if body["scope"] == "read" {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "update not seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let (ok, out, err) =
        run(portcullis(dir.path()).args(["client", "rotate-secret", "nightly", "--json"]));
    assert!(ok, "{err}");
    let rotated: serde_json::Value = serde_json::from_str(&out).unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    server.wait_for_token_status("nightly", &secret, 401).await;
    server
        .wait_for_token_status("nightly", new_secret, 200)
        .await;

    let (ok, _, err) = run(portcullis(dir.path()).args(["client", "delete", "nightly"]));
    assert!(ok, "{err}");
    server
        .wait_for_token_status("nightly", new_secret, 401)
        .await;
    let (ok, _, err) = run(portcullis(dir.path()).args(["client", "show", "nightly"]));
    assert!(!ok);
    assert!(err.contains("no client with client_id 'nightly'"), "{err}");
}

#[tokio::test]
async fn a_given_secret_must_be_long_enough() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(portcullis(dir.path())
        .env("SHORT_SECRET", "only-twenty-chars-xx")
        .args(["client", "create", "--secret-env", "SHORT_SECRET"]));
    assert!(!ok);
    assert!(err.contains("at least 32 characters"), "{err}");
    let long = "a-secret-chosen-by-a-person-that-is-long-enough";
    let (ok, out, err) = run(portcullis(dir.path()).env("LONG_SECRET", long).args([
        "client",
        "create",
        "--json",
        "--secret-env",
        "LONG_SECRET",
    ]));
    assert!(ok, "{err}");
    assert!(
        !out.contains(long),
        "a supplied secret is never echoed: {out}"
    );
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(created["client_secret"].is_null());
    let (id, _) = create_client(dir.path(), &[]);
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn declared_clients_read_their_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.toml");
    std::fs::write(
        &file,
        r#"
        [[clients]]
        client_id = "billing"
        client_secret = "env:BILLING_SECRET"
        scope = "invoices:read"
        "#,
    )
    .unwrap();
    let secret = "billing-secret-from-the-environment-0123456789";
    let mut command = portcullis(dir.path());
    command
        .arg("--config")
        .arg(&file)
        .env("BILLING_SECRET", secret);
    let server = ServerProcess::start(command, dir.path());
    let (status, body) = server.token("billing", secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "invoices:read");
}
