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
    let dir = crate::helpers::with_database();
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

fn application_type(dir: &std::path::Path, config: Option<&std::path::Path>, id: &str) -> String {
    let mut command = portcullis(dir);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let (ok, out, err) = run(command.args(["client", "show", id, "--json"]));
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    shown["application_type"].as_str().unwrap().to_owned()
}

#[test]
fn application_type_comes_from_the_cli_the_file_and_export() {
    let dir = crate::helpers::with_database();
    let native_args = [
        "--grant-type",
        "authorization_code",
        "--redirect-uri",
        "http://127.0.0.1:9999/cb",
    ];
    // Defaults: web for a confidential client, native for a public one.
    let (ok, _, err) = run(portcullis(dir.path())
        .args(["client", "create", "--client-id", "web-app"])
        .args(native_args));
    assert!(ok, "{err}");
    assert_eq!(application_type(dir.path(), None, "web-app"), "web");
    let (ok, _, err) = run(portcullis(dir.path())
        .args([
            "client",
            "create",
            "--client-id",
            "cli-app",
            "--auth-method",
            "none",
        ])
        .args(native_args));
    assert!(ok, "{err}");
    assert_eq!(application_type(dir.path(), None, "cli-app"), "native");
    // Set and changed on the command line.
    let (ok, _, err) = run(portcullis(dir.path())
        .args(["client", "create", "--client-id", "desktop"])
        .args(["--application-type", "native"])
        .args(native_args));
    assert!(ok, "{err}");
    assert_eq!(application_type(dir.path(), None, "desktop"), "native");
    let (ok, _, err) = run(portcullis(dir.path()).args([
        "client",
        "update",
        "desktop",
        "--application-type",
        "web",
    ]));
    assert!(ok, "{err}");
    assert_eq!(application_type(dir.path(), None, "desktop"), "web");
    let (ok, _, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--client-id",
        "bad",
        "--application-type",
        "phone",
    ]));
    assert!(!ok && err.contains("web, native"), "{err}");

    // Declared in the file.
    let config = dir.path().join("portcullis.toml");
    std::fs::write(
        &config,
        r#"
[[clients]]
client_id = "declared-tv"
token_endpoint_auth_method = "none"
application_type = "web"
grant_types = ["authorization_code"]
redirect_uris = ["https://tv.example.com/cb"]
"#,
    )
    .unwrap();
    let mut serve = portcullis(dir.path());
    serve.arg("--config").arg(&config);
    let mut server = ServerProcess::start(serve, dir.path());
    assert!(server.terminate().success());
    assert_eq!(
        application_type(dir.path(), Some(&config), "declared-tv"),
        "web"
    );

    // Carried by export.
    let (ok, out, err) = run(portcullis(dir.path()).arg("export"));
    assert!(ok, "{err}");
    let desktop = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["client_id"] == "desktop")
        .unwrap();
    let metadata: serde_json::Value =
        serde_json::from_str(desktop["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["application_type"], "web");
}

fn shown(dir: &std::path::Path, id: &str) -> serde_json::Value {
    let (ok, out, err) = run(portcullis(dir).args(["client", "show", id, "--json"]));
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// `client update` empties a list with `--clear-…` or with an empty value, changes nothing
/// else, and still refuses metadata that no longer holds together.
#[test]
fn update_clears_list_fields() {
    let dir = crate::helpers::with_database();
    let (ok, _, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--client-id",
        "app",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "client_credentials",
        "--redirect-uri",
        "https://app.example/cb",
        "--post-logout-redirect-uri",
        "https://app.example/bye",
        "--audience",
        "https://api.example",
        "--audience",
        "https://other.example",
    ]));
    assert!(ok, "{err}");

    let update = |args: &[&str]| {
        run(portcullis(dir.path())
            .args(["client", "update", "app"])
            .args(args))
    };
    let (ok, _, err) = update(&["--clear-audience"]);
    assert!(ok, "{err}");
    let after = shown(dir.path(), "app");
    assert_eq!(after["audience"], serde_json::json!([]), "{after}");
    assert_eq!(
        after["redirect_uris"],
        serde_json::json!(["https://app.example/cb"])
    );

    let (ok, _, err) = update(&["--post-logout-redirect-uri", ""]);
    assert!(ok, "{err}");
    let after = shown(dir.path(), "app");
    assert_eq!(
        after["post_logout_redirect_uris"],
        serde_json::json!([]),
        "{after}"
    );

    let (ok, _, err) = update(&["--clear-audience", "--audience", "https://new.example"]);
    assert!(ok, "{err}");
    assert_eq!(
        shown(dir.path(), "app")["audience"],
        serde_json::json!(["https://new.example"])
    );

    // A code-flow client needs a redirect URI: clearing them is refused, and nothing changes.
    let (ok, _, err) = update(&["--clear-redirect-uris"]);
    assert!(!ok && err.contains("redirect"), "{err}");
    assert_eq!(
        shown(dir.path(), "app")["redirect_uris"],
        serde_json::json!(["https://app.example/cb"])
    );
}

/// Admin commands read only the database settings: `[tls]` files and a master key file the
/// operator's shell cannot read (here: that do not exist) do not stop `client list` or `keys
/// list`, while `serve`, which needs them, names the file.
#[test]
fn admin_commands_do_not_need_the_servers_files() {
    let dir = crate::helpers::with_database();
    let config = dir.path().join("portcullis.toml");
    std::fs::write(
        &config,
        "master_key_file = \"/nonexistent/master.key\"\n\
         [tls]\ncert_file = \"/nonexistent/cert.pem\"\nkey_file = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    for command in [
        &["client", "list"][..],
        &["keys", "list"],
        &["user", "list"],
    ] {
        let (ok, _, err) = run(portcullis(dir.path())
            .arg("--config")
            .arg(&config)
            .args(command));
        assert!(ok, "{command:?}: {err}");
    }
    let (ok, _, err) = run(portcullis(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("serve"));
    assert!(!ok && err.contains("/nonexistent/"), "{err}");
}
