//! `portcullis user …` and `[[users]]` through the real binary.

use crate::helpers::{ServerProcess, portcullis, run};
use std::io::Write;
use std::process::Stdio;

#[test]
fn create_list_show_set_password_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(portcullis(dir.path())
        .env("ALICE_PW", "alice-first-password")
        .args([
            "user",
            "create",
            "alice",
            "--password-env",
            "ALICE_PW",
            "--email",
            "alice@example.com",
        ])
        .args(["--name", "Alice Liddell", "--json"]));
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["username"], "alice");
    assert_eq!(created["user_id"].as_str().unwrap().len(), 32);

    // From standard input.
    let mut child = portcullis(dir.path())
        .args(["user", "create", "bob", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bobs-password-123\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    // A password on the command line is not an option at all.
    let (ok, _, _) = run(portcullis(dir.path()).args(["user", "create", "eve", "--password", "x"]));
    assert!(!ok);
    let (ok, _, err) = run(portcullis(dir.path()).env("SHORT", "short").args([
        "user",
        "create",
        "carol",
        "--password-env",
        "SHORT",
    ]));
    assert!(!ok);
    assert!(err.contains("at least 8 characters"), "{err}");
    let (ok, _, err) = run(portcullis(dir.path()).env("PW", "another-password").args([
        "user",
        "create",
        "alice",
        "--password-env",
        "PW",
    ]));
    assert!(!ok);
    assert!(err.contains("exists already"), "{err}");

    let (ok, list, _) = run(portcullis(dir.path()).args(["user", "list", "--json"]));
    assert!(ok);
    assert!(list.contains("alice") && list.contains("bob"));
    let (ok, show, _) = run(portcullis(dir.path()).args(["user", "show", "alice"]));
    assert!(ok);
    assert!(show.contains("Alice Liddell"));
    for text in [&list, &show] {
        assert!(
            !text.contains("argon2") && !text.contains("password"),
            "no hashes: {text}"
        );
    }

    let (ok, _, err) = run(portcullis(dir.path())
        .env("NEW_PW", "alice-second-password")
        .args(["user", "set-password", "alice", "--password-env", "NEW_PW"]));
    assert!(ok, "{err}");
    let (ok, _, _) = run(portcullis(dir.path()).args(["user", "delete", "bob"]));
    assert!(ok);
    let (ok, _, err) = run(portcullis(dir.path()).args(["user", "show", "bob"]));
    assert!(!ok);
    assert!(err.contains("no user named 'bob'"), "{err}");
}

#[tokio::test]
async fn declared_users_take_their_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.toml");
    std::fs::write(
        &file,
        r#"
        [[users]]
        username = "dana"
        password = "env:DANA_PASSWORD"
        email = "dana@example.com"
        email_verified = true
        "#,
    )
    .unwrap();
    let mut command = portcullis(dir.path());
    command
        .arg("--config")
        .arg(&file)
        .env("DANA_PASSWORD", "danas-secret-password");
    let mut server = ServerProcess::start(command, dir.path());
    let (ok, out, err) = run(portcullis(dir.path())
        .arg("--config")
        .arg(&file)
        .env("DANA_PASSWORD", "danas-secret-password")
        .args(["user", "show", "dana", "--json"]));
    assert!(ok, "{err}");
    let user: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(user["email_verified"], true);
    server.terminate();
    assert!(!server.stderr().contains("danas-secret-password"));

    let (ok, _, err) = run(portcullis(dir.path())
        .arg("--config")
        .arg(&file)
        .arg("serve"));
    assert!(!ok, "the variable is not set");
    assert!(err.contains("DANA_PASSWORD is not set"), "{err}");
}
