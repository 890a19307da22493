//! Dynamic registration from the operator's side: `portcullis registration-token create` makes the
//! token a registration needs, and the registered client shows up as `dynamic` in `client list`,
//! `client show` and exports, and stays manageable (RFC 7592) after an import into a new database.

use crate::helpers::{ServerProcess, portcullis, run};

#[tokio::test]
async fn a_token_from_the_cli_registers_a_client_that_is_marked_dynamic_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        {
            let mut command = portcullis(dir.path());
            command.env("PORTCULLIS_REGISTRATION__ENABLED", "true");
            command
        },
        dir.path(),
    );
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "registration-token",
        "create",
        "--expires",
        "1h",
        "--max-uses",
        "1",
    ]));
    assert!(ok, "{err}");
    assert!(
        err.contains("registration is off"),
        "the admin command's config says so: {err}"
    );
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("registration_token: "))
        .expect("the token")
        .to_owned();
    assert!(out.contains("max_uses: 1"), "{out}");
    let (ok, _, err) =
        run(portcullis(dir.path()).args(["registration-token", "create", "--max-uses", "0"]));
    assert!(!ok && err.contains("--max-uses"), "{err}");

    let http = reqwest::Client::new();
    let registered: serde_json::Value = http
        .post(format!("{}/register", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "client_name": "Self-service app",
            "redirect_uris": ["https://app.example.com/callback"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["client_id"]
        .as_str()
        .expect("registered")
        .to_owned();
    let management = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, err) =
        run(portcullis(dir.path()).args(["client", "create", "--name", "Admin-made"]));
    assert!(ok, "{err}");

    let (ok, out, err) = run(portcullis(dir.path()).args(["client", "list"]));
    assert!(ok, "{err}");
    let row = out.lines().find(|l| l.contains(&id)).unwrap();
    assert!(row.trim_end().ends_with("dynamic"), "{out}");
    let admin_row = out.lines().find(|l| l.contains("Admin-made")).unwrap();
    assert!(admin_row.trim_end().ends_with("admin"), "{out}");
    let (ok, out, err) = run(portcullis(dir.path()).args(["client", "show", &id, "--json"]));
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["registered"], "dynamic");

    let dump = dir.path().join("dump.jsonl");
    let (ok, _, err) = run(portcullis(dir.path())
        .args(["export", "--output"])
        .arg(&dump));
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&dump).unwrap();
    let line = text.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains("registration_token_hash"), "{line}");
    assert!(!text.contains(&management), "only the hash is exported");

    // Into a new database: still dynamic, and the registration access token still manages it.
    let moved = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(portcullis(moved.path()).arg("migrate"));
    assert!(ok, "{err}");
    let (ok, _, err) = run(portcullis(moved.path()).arg("import").arg(&dump));
    assert!(ok, "{err}");
    let (ok, out, err) = run(portcullis(moved.path()).args(["client", "show", &id, "--json"]));
    assert!(ok, "{err}");
    assert!(out.contains("\"registered\": \"dynamic\""), "{out}");
    let there = ServerProcess::start(
        {
            let mut command = portcullis(moved.path());
            command.env("PORTCULLIS_REGISTRATION__ENABLED", "true");
            command
        },
        moved.path(),
    );
    let read = http
        .get(format!("{}/register/{id}", there.base))
        .bearer_auth(&management)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    drop(server);
}
