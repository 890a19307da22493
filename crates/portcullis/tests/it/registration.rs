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

/// Behind a company proxy (`HTTPS_PROXY`), an administrator's client's `jwks_uri` is fetched through
/// the proxy, but a self-registered client's never is: the proxy would resolve the name itself,
/// past the server's check that the name leads only to public addresses.
#[tokio::test]
async fn a_registered_clients_keys_are_never_fetched_through_a_proxy() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A stand-in proxy that counts the connections made to it and answers none.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in proxy.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let proxied = |mut command: std::process::Command| {
        for name in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            command.env(name, &proxy_url);
        }
        command.env("NO_PROXY", "").env("no_proxy", "");
        command
    };
    let server = ServerProcess::start(
        {
            let mut command = proxied(portcullis(dir.path()));
            command
                .env("PORTCULLIS_REGISTRATION__ENABLED", "true")
                .env("PORTCULLIS_REGISTRATION__INITIAL_ACCESS_TOKEN", "none");
            command
        },
        dir.path(),
    );
    let jwks_uri = "https://keys.example.com/jwks.json";
    let http = reqwest::Client::new();
    let registered: serde_json::Value = http
        .post(format!("{}/register", server.base))
        .json(&serde_json::json!({
            "grant_types": ["client_credentials"],
            "scope": "profile",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": jwks_uri,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let registered = registered["client_id"]
        .as_str()
        .expect("registered")
        .to_owned();
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--json",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        jwks_uri,
    ]));
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let admins = created["client_id"].as_str().unwrap().to_owned();

    // An assertion the server cannot check without the client's keys: it must fetch them first.
    let token_status = |client_id: String| {
        let header = B64.encode(br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
        let claims = B64.encode(format!(r#"{{"iss":"{client_id}","sub":"{client_id}"}}"#));
        let request = http.post(format!("{}/token", server.base)).form(&[
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", format!("{header}.{claims}.AAAA")),
        ]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // The registered client's keys cannot be fetched here (no public address is reachable), and
    // the proxy is not asked.
    assert_eq!(token_status(registered).await, 503);
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the proxy was asked");
    // The administrator's client's keys are asked of the proxy (which answers nothing).
    // (401 until the server has picked up the client made by the command.)
    let start = std::time::Instant::now();
    while token_status(admins.clone()).await != 503 {
        assert!(
            start.elapsed().as_secs() < 3,
            "the new client was not picked up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        connections.load(Ordering::SeqCst) >= 1,
        "the proxy was not asked"
    );
}
