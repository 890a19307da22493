//! What a newcomer meets on the first day: admin commands that never create a database by
//! accident, list settings from the environment, TLS named as such, a busy port caught first, and
//! error pages that lead to a log line.

use crate::helpers::{ServerProcess, portcullis, run};
use std::process::Command;

#[test]
fn admin_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("portcullis.db");
    std::fs::write(dir.path().join("backup.json"), "").unwrap();
    let commands: &[&[&str]] = &[
        &["client", "create", "--name", "x"],
        &["client", "list"],
        &["user", "list"],
        &["keys", "list"],
        &["migrate", "status"],
        &["export"],
        &["import", "backup.json"],
    ];
    for args in commands {
        let (ok, _, err) = run(portcullis(dir.path()).args(*args));
        assert!(!ok, "{args:?} succeeded without a database");
        assert!(
            err.contains(&db.display().to_string())
                && err.contains("--config")
                && err.contains("PORTCULLIS_DATABASE"),
            "{args:?} names the path and how to point elsewhere: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
    // `migrate` may create it; then the admin commands use it.
    let (ok, _, err) = run(portcullis(dir.path()).arg("migrate"));
    assert!(ok, "{err}");
    assert!(db.exists());
    let (ok, _, err) = run(portcullis(dir.path()).args(["client", "list"]));
    assert!(ok, "{err}");
}

#[test]
fn a_port_in_use_stops_start_up_before_a_database_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_LISTEN", addr.to_string())
        .arg("serve"));
    assert!(!ok);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(!dir.path().join("portcullis.db").exists());
}

#[tokio::test]
async fn list_settings_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = portcullis(dir.path());
    command
        .env("PORTCULLIS_TRUSTED_PROXIES", "10.9.9.9, 127.0.0.1")
        .env(
            "PORTCULLIS_CORS__ALLOWED_ORIGINS",
            r#"["https://spa.example", "https://other.example"]"#,
        )
        .env("PORTCULLIS_CLIENT_AUTH__MAX_FAILURES_PER_IP", "1");
    // The client exists before the server starts, so no request fails while it is being loaded.
    let (ok, _, err) = run(portcullis(dir.path()).arg("migrate"));
    assert!(ok, "{err}");
    let (id, secret) = crate::helpers::create_client(dir.path(), &[]);
    let server = ServerProcess::start(command, dir.path());
    let http = reqwest::Client::new();
    // CORS from the JSON array.
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/token", server.base))
        .header("origin", "https://other.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://other.example"
    );
    // Trusted proxies from the comma list: the forwarded address, not the proxy, is throttled.
    let attempt = |from: &'static str, secret: String| {
        let (http, url, id) = (http.clone(), format!("{}/token", server.base), id.clone());
        async move {
            http.post(url)
                .header("x-forwarded-for", from)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(attempt("198.51.100.1", "x".repeat(43)).await, 401);
    assert_eq!(attempt("198.51.100.1", secret.clone()).await, 429);
    assert_eq!(attempt("198.51.100.2", secret.clone()).await, 200);
}

/// A self-signed certificate for 127.0.0.1, or `None` (skipping) where openssl is missing; with
/// `CI=true` a missing openssl fails the test.
fn certificate(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(out) if out.status.success() => Some((cert, key)),
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and openssl cannot make a certificate: {other:?}"
            );
            eprintln!("skipping the TLS part: openssl is not available ({other:?})");
            None
        }
    }
}

#[test]
fn with_tls_the_banner_and_the_cli_say_https() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = certificate(dir.path()) else {
        return;
    };
    let with_tls = || {
        let mut command = portcullis(dir.path());
        command
            .env("PORTCULLIS_TLS__CERT_FILE", &cert)
            .env("PORTCULLIS_TLS__KEY_FILE", &key)
            .env("PORTCULLIS_LISTEN", "127.0.0.1:8443");
        command
    };
    let mut serve = with_tls();
    serve
        .env("PORTCULLIS_LISTEN", "127.0.0.1:0")
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = serve.spawn().unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(
        first.starts_with("Portcullis is listening on https://127.0.0.1:"),
        "{first}"
    );
    assert!(first.contains("(issuer https://127.0.0.1:"), "{first}");
    // The CLI reaches it once told to trust its certificate, and says so when it is not.
    let base = first.split_whitespace().nth(4).unwrap().to_owned();
    let token = |trust: Option<&std::path::Path>| {
        let mut command = crate::client_cli::client_command(dir.path());
        command.env_remove("SSL_CERT_FILE").env("S", "x".repeat(43));
        if let Some(file) = trust {
            command.env("SSL_CERT_FILE", file);
        }
        let out = command
            .args(["token", "--client-id", "nobody", "--client-secret-env", "S"])
            .arg("--token-url")
            .arg(format!("{base}/token"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (status, err) = token(None);
    assert_eq!(status, Some(4), "{err}");
    assert!(
        err.contains("TLS handshake failed") && err.contains("SSL_CERT_FILE"),
        "{err}"
    );
    let (status, err) = token(Some(&cert));
    assert_eq!(
        status,
        Some(3),
        "reached, and refused the made-up client: {err}"
    );
    assert!(err.contains("the client secret in S is wrong"), "{err}");
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    // The log line says the same.
    let log = String::from_utf8_lossy(&output.stderr);
    let listening = log
        .lines()
        .find(|l| l.contains("listening"))
        .unwrap_or_else(|| panic!("no listening line in the log: {log}"));
    assert!(
        listening.contains("url=https://127.0.0.1:")
            && listening.contains("issuer=\"https://127.0.0.1:"),
        "{listening}"
    );
    // The CLI's idea of the default issuer agrees.
    let (ok, out, err) = run(with_tls().args(["client", "create", "--name", "tls"]));
    assert!(ok, "{err}");
    assert!(
        out.contains("https://127.0.0.1:8443/token"),
        "the printed next step uses https: {out}"
    );
}

#[tokio::test]
async fn an_authorize_error_page_leads_to_its_log_line() {
    let dir = crate::helpers::with_database();
    let (web, _) = crate::helpers::create_client(
        dir.path(),
        &[
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://app.example.com/cb",
        ],
    );
    let mut command = portcullis(dir.path());
    command.env("PORTCULLIS_LOG_FORMAT", "json");
    let mut server = ServerProcess::start(command, dir.path());
    let page = reqwest::Client::new()
        .get(format!(
            "{}/authorize?response_type=code&client_id=nobody",
            server.base
        ))
        .header("x-request-id", "first-day-page-1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("first-day-page-1"));
    // An error that goes back to the client is logged too.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = no_redirects
        .get(format!(
            "{}/authorize?response_type=token&client_id={web}&redirect_uri=https://app.example.com/cb",
            server.base
        ))
        .header("x-request-id", "first-day-redirect-1")
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    server.terminate();
    let logged = |id: &str| {
        server
            .stderr()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["span"]["request_id"] == id && v["fields"]["error"].is_string())
    };
    let redirected = logged("first-day-redirect-1").expect("a log line for the redirect");
    assert_eq!(redirected["fields"]["error"], "unsupported_response_type");
    assert_eq!(redirected["fields"]["client_id"], web.as_str());
    let line = server
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["span"]["request_id"] == "first-day-page-1")
        .expect("a log line with the page's request id");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["error"], "invalid_client");
    assert_eq!(line["fields"]["client_id"], "nobody");
    assert!(
        line["fields"]["reason"]
            .as_str()
            .unwrap()
            .contains("not registered"),
        "{line}"
    );
}

#[tokio::test]
async fn a_closed_stdout_does_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = portcullis(dir.path())
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The reader goes away before the banner is written.
    drop(child.stdout.take());
    let http = reqwest::Client::new();
    let mut answers = 0;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/health/live"))
            .send()
            .await
            && r.status() == 200
        {
            answers += 1;
            if answers == 3 {
                break;
            }
        }
    }
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(still_running, "the server stopped when its stdout closed");
    assert_eq!(answers, 3, "the server did not keep answering");
}
