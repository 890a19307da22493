//! `portcullis token|login|call|decode` as processes, with `.env` files, caches and exit codes.

use crate::helpers::{ServerProcess, create_client, portcullis, run};
use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// `portcullis` for client commands: no server settings and no client variables inherited.
pub fn client_command(dir: &Path) -> Command {
    let mut c = portcullis(dir);
    for name in [
        "CLIENT_ID",
        "CLIENT_SECRET",
        "TOKEN_URL",
        "ISSUER",
        "SCOPE",
        "AUDIENCE",
        "RESOURCE",
        "CLIENT_PRIVATE_KEY_FILE",
    ] {
        c.env_remove(name);
    }
    c.env("XDG_CACHE_HOME", dir.join("cache"));
    c.env("XDG_CONFIG_HOME", dir.join("config"));
    c
}

pub fn write_env(dir: &Path, id: &str, secret: &str, base: &str) {
    std::fs::write(
        dir.join(".env"),
        format!("CLIENT_ID={id}\nCLIENT_SECRET={secret}\nTOKEN_URL={base}/token\n"),
    )
    .unwrap();
}

#[tokio::test]
async fn token_reads_dotenv_caches_on_disk_and_explains_failures() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = create_client(dir.path(), &["--scope", "read"]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let work = tempfile::tempdir().unwrap();
    write_env(work.path(), &id, &secret, &server.base);

    let (ok, out, err) = run(client_command(work.path()).arg("token"));
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "read");
    assert!(
        err.contains("(new)") && err.contains("\"client_id\""),
        "summary and claims on stderr: {err}"
    );
    let cache = work.path().join("cache/portcullis/tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let (ok, bare, err) = run(client_command(work.path()).args(["token", "--access-token-only"]));
    assert!(ok);
    assert_eq!(
        bare.trim(),
        json["access_token"].as_str().unwrap(),
        "the cached token is reused"
    );
    assert!(err.is_empty(), "nothing but the token: {err}");
    let (_, _, err) = run(client_command(work.path()).arg("token"));
    assert!(err.contains("from the cache"), "{err}");

    // Real environment variables win over .env.
    let (ok, _, err) = run(client_command(work.path())
        .env("CLIENT_SECRET", "not-the-right-secret")
        .args(["token", "--no-cache"]));
    assert!(!ok);
    assert!(
        err.contains("invalid_client")
            && err.contains("the client secret in CLIENT_SECRET is wrong"),
        "{err}"
    );
    let status = client_command(work.path())
        .env("CLIENT_SECRET", "not-the-right-secret")
        .args(["token", "--no-cache"])
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(3));

    let empty = tempfile::tempdir().unwrap();
    let output = client_command(empty.path()).arg("token").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("CLIENT_ID") && err.contains("CLIENT_SECRET") && err.contains("TOKEN_URL"),
        "{err}"
    );

    let html = client_command(work.path())
        .env("TOKEN_URL", format!("{}/authorize", server.base))
        .args(["token", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(
        html.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&html.stderr)
    );
}

async fn echo_api() -> String {
    let app = Router::new().route(
        "/{*path}",
        any(
            |method: Method, headers: HeaderMap, body: String| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !auth.starts_with("Bearer ey") {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                let extra = headers
                    .get("x-test")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                (
                    StatusCode::OK,
                    format!(
                        "{{\"method\":\"{method}\",\"x_test\":\"{extra}\",\"body\":\"{body}\"}}"
                    ),
                )
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn call_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = create_client(dir.path(), &[]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let work = tempfile::tempdir().unwrap();
    write_env(work.path(), &id, &secret, &server.base);
    let api = echo_api().await;
    let work_path = work.path().to_owned();
    let api2 = api.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run(client_command(&work_path).args([
            "call",
            &format!("{api2}/data"),
            "-X",
            "POST",
            "-d",
            "hello",
            "-H",
            "X-Test: 42",
        ]))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let echoed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        echoed,
        serde_json::json!({"method": "POST", "x_test": "42", "body": "hello"})
    );

    let (ok, bare, _) = run(client_command(work.path()).args(["token", "--access-token-only"]));
    assert!(ok);
    let token = bare.trim().to_owned();
    let (ok, out, err) =
        run(client_command(work.path()).args(["decode", &token, "--issuer", &server.base]));
    assert!(ok, "{err}");
    assert!(err.contains("signature: valid"), "{err}");
    let decoded: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decoded["header"]["typ"], "at+jwt");
    assert_eq!(decoded["claims"]["client_id"], id);
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (ok, _, err) =
        run(client_command(work.path()).args(["decode", &forged, "--issuer", &server.base]));
    assert!(!ok);
    assert!(err.contains("NOT valid"), "{err}");
}

pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tag in html
        .split('<')
        .filter(|t| t.starts_with("input") && t.contains("type=\"hidden\""))
    {
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')?;
            Some(
                tag[start..start + end]
                    .replace("&amp;", "&")
                    .replace("&#x2f;", "/")
                    .replace("&quot;", "\""),
            )
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

#[tokio::test]
async fn login_through_a_browser_then_call_with_the_saved_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (ok, _, err) = run(portcullis(dir.path())
        .env("ERIN_PW", "erins-password-123")
        .args([
            "user",
            "create",
            "erin",
            "--password-env",
            "ERIN_PW",
            "--email",
            "erin@example.com",
        ]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--json",
        "--name",
        "CLI",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--auth-method",
        "none",
        "--scope",
        "openid profile email offline_access",
        "--first-party",
        "true",
    ]));
    assert!(ok, "{err}");
    let client_id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;

    let work = tempfile::tempdir().unwrap();
    let mut login = client_command(work.path())
        .args([
            "login",
            "--issuer",
            &server.base,
            "--client-id",
            &client_id,
            "--no-browser",
            "--scope",
            "openid email offline_access",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let landed =
        sign_in_through_the_browser(&mut login, &server.base, "erin", "erins-password-123").await;
    assert!(landed.contains("Signed in"), "{landed}");
    let status = tokio::task::spawn_blocking(move || login.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    let saved = work.path().join("config/portcullis/tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains("refresh_token"));

    let userinfo = format!("{}/userinfo", server.base);
    let work_path = work.path().to_owned();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run(client_command(&work_path).args(["call", &userinfo]))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("erin@example.com"), "{out}");
}

/// Plays the browser for a running `portcullis login --no-browser`: reads the URL it prints, signs
/// in on the page (with consent when asked), follows the redirect to its loopback listener and
/// returns the page shown there.
pub async fn sign_in_through_the_browser(
    login: &mut std::process::Child,
    base: &str,
    username: &str,
    password: &str,
) -> String {
    let mut lines = BufReader::new(login.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("http"))
        .expect("the authorize URL");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&url).send().await.unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let html = page.text().await.unwrap();
    let mut form = hidden_fields(&html);
    form.extend([
        ("username".into(), username.into()),
        ("password".into(), password.into()),
        ("action".into(), "login".into()),
    ]);
    let mut answer = http
        .post(format!("{base}/authorize"))
        .header("cookie", cookies.join("; "))
        .form(&form)
        .send()
        .await
        .unwrap();
    if answer.status() == 200 {
        // The consent page: allow.
        let session: Vec<String> = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .chain(cookies.iter().cloned())
            .collect();
        let mut form = hidden_fields(&answer.text().await.unwrap());
        form.push(("action".into(), "allow".into()));
        answer = http
            .post(format!("{base}/authorize"))
            .header("cookie", session.join("; "))
            .form(&form)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let landed = http.get(&location).send().await.unwrap();
    assert_eq!(landed.status(), 200);
    let page = landed.text().await.unwrap();
    // Keep reading the child's stderr so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    page
}

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
