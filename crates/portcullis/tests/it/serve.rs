//! `portcullis serve` with zero configuration, its output and its shutdown.

use crate::helpers::{ServerProcess, create_client, portcullis};
use std::io::{Read, Write};

#[tokio::test]
async fn starts_with_zero_configuration_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let db = dir.path().join("portcullis.db");
    assert!(db.exists(), "creates ./portcullis.db");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database holds private keys");
    }
    assert!(server.stdout_first_lines[0].contains("listening on http://127.0.0.1:"));
    assert!(
        server.stdout_first_lines[1].contains("portcullis client create"),
        "tells what to run next: {:?}",
        server.stdout_first_lines
    );

    let doc: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        doc["issuer"], server.base,
        "issuer derives from the bound address"
    );

    let (id, secret) = create_client(dir.path(), &[]);
    server.wait_for_token_status(&id, &secret, 200).await;

    // A request in flight when SIGTERM arrives still gets its answer.
    let host = server.base.trim_start_matches("http://").to_owned();
    let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let mut tcp = std::net::TcpStream::connect(&host).unwrap();
    write!(
        tcp,
        "POST /token HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    tcp.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    tcp.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"));

    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let log = server.stderr();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");

    // Keys were kept: a second start generates none.
    let mut again = ServerProcess::start(portcullis(dir.path()), dir.path());
    again.terminate();
    assert!(
        !again.stderr().contains("generated signing key"),
        "{}",
        again.stderr()
    );
    assert!(log.contains("generated signing key"), "{log}");
}

#[tokio::test]
async fn secrets_never_reach_the_logs_or_listings() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = portcullis(dir.path());
    command.env("PORTCULLIS_LOG", "trace");
    let mut server = ServerProcess::start(command, dir.path());
    let (id, secret) = create_client(dir.path(), &["--scope", "read"]);
    let body = server.wait_for_token_status(&id, &secret, 200).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let wrong = "a-wrong-secret-that-must-not-be-logged-either";
    let (status, _) = server.token(&id, wrong).await;
    assert_eq!(status, 401);
    let basic = reqwest::Client::new()
        .post(format!("{}/token", server.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);

    let mut listings = String::new();
    for args in [
        vec!["client", "list"],
        vec!["client", "list", "--json"],
        vec!["client", "show", id.as_str()],
        vec!["client", "show", id.as_str(), "--json"],
    ] {
        let (ok, out, err) = crate::helpers::run(portcullis(dir.path()).args(&args));
        assert!(ok, "{err}");
        assert!(out.contains(&id), "{args:?} shows the client: {out}");
        listings.push_str(&out);
        listings.push_str(&err);
    }
    server.terminate();
    let log = server.stderr();
    assert!(
        log.contains("client authentication failed"),
        "the failure is logged: {log}"
    );
    for needle in [secret.as_str(), wrong, token.as_str()] {
        assert!(!log.contains(needle), "log leaks a secret");
        assert!(!listings.contains(needle), "listing leaks a secret");
    }
    assert!(!listings.contains("secret_hash"));
}
