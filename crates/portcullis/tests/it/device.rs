//! `portcullis login --device` (RFC 8628) against `portcullis serve`: the command prints the
//! verification URI, the code and a QR code, polls while a person approves on "a phone" (form
//! posts to /device here; the Chromium test in the server crate does it in a browser), and saves
//! the tokens the way `login` does, so `call` uses them.

use crate::client_cli::{client_command, hidden_fields};
use crate::helpers::{ServerProcess, portcullis, run};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// A person on another device: opens the page with the code, confirms it, signs in, and allows
/// (or denies). Returns the last page.
pub async fn approve(
    base: &str,
    user_code: &str,
    username: &str,
    password: &str,
    allow: bool,
) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: Vec<String> = Vec::new();
    let mut keep = |response: &reqwest::Response| {
        for value in response.headers().get_all("set-cookie") {
            let pair = value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            cookies.push(pair);
        }
        cookies.join("; ")
    };
    let page = http
        .get(format!("{base}/device?user_code={user_code}"))
        .send()
        .await
        .unwrap();
    let mut jar = keep(&page);
    let mut html = page.text().await.unwrap();
    let steps: [&[(&str, &str)]; 3] = [
        &[("user_code", user_code), ("action", "code")],
        &[
            ("username", username),
            ("password", password),
            ("action", "login"),
        ],
        &[("action", if allow { "allow" } else { "deny" })],
    ];
    for extra in steps {
        let mut form = hidden_fields(&html);
        form.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let answer = http
            .post(format!("{base}/device"))
            .header("cookie", &jar)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{extra:?}");
        jar = keep(&answer);
        html = answer.text().await.unwrap();
    }
    html
}

#[tokio::test]
async fn login_device_shows_the_code_waits_for_approval_and_saves_the_tokens() {
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
        "Terminal",
        "--auth-method",
        "none",
        "--grant-type",
        "urn:ietf:params:oauth:grant-type:device_code",
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid email offline_access",
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
            "--device",
            "--issuer",
            &server.base,
            "--client-id",
            &client_id,
            "--scope",
            "openid email offline_access",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(login.stderr.take().unwrap()).lines();
    let mut shown = Vec::new();
    let visit = lines
        .by_ref()
        .map_while(Result::ok)
        .inspect(|l| shown.push(l.clone()))
        .find(|l| l.starts_with("Visit "))
        .expect("the verification URI and the code");
    let expected = format!("Visit {}/device and enter the code ", server.base);
    assert!(visit.starts_with(&expected), "{visit}");
    let user_code = visit[expected.len()..].trim().to_owned();
    assert_eq!(user_code.len(), 9, "{visit}");
    // Then the code spaced out and the QR code, until the wait begins.
    let rest: Vec<String> = lines
        .by_ref()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("Waiting"))
        .collect();
    let qr_rows = rest.iter().filter(|l| l.contains('█')).count();
    assert!(qr_rows > 10, "a QR code is drawn: {rest:#?}");
    let reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let done = approve(&server.base, &user_code, "erin", "erins-password-123", true).await;
    assert!(done.contains("You may return to your device"), "{done}");
    let status = tokio::task::spawn_blocking(move || login.wait().unwrap())
        .await
        .unwrap();
    let after = reader.join().unwrap();
    assert!(status.success(), "{after:#?}");
    assert!(
        after.iter().any(|l| l.starts_with("Signed in to")),
        "{after:#?}"
    );
    let saved = std::fs::read_to_string(work.path().join("config/portcullis/tokens.json")).unwrap();
    assert!(saved.contains("refresh_token"));

    let userinfo = format!("{}/userinfo", server.base);
    let work_path = work.path().to_owned();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run(client_command(&work_path).args(["call", &userinfo]))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("erin@example.com"), "{out}");

    // Denied on the phone: the command fails and says so.
    let mut denied = client_command(work.path())
        .args([
            "login",
            "--device",
            "--issuer",
            &server.base,
            "--client-id",
            &client_id,
            "--scope",
            "openid",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(denied.stderr.take().unwrap()).lines();
    let visit = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Visit "))
        .unwrap();
    let code = visit.rsplit(' ').next().unwrap().to_owned();
    let reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    approve(&server.base, &code, "erin", "erins-password-123", false).await;
    let status = tokio::task::spawn_blocking(move || denied.wait().unwrap())
        .await
        .unwrap();
    let said = reader.join().unwrap().join("\n");
    assert!(!status.success());
    assert!(said.contains("access_denied"), "{said}");
}

/// On a terminal the wait is a spinner with the time left, rewritten in place. The terminal is a
/// pseudo-terminal from util-linux `script`; without it the test says so and passes (under
/// `CI=true` it fails).
#[tokio::test]
async fn on_a_terminal_the_wait_is_a_spinner() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "util-linux `script` is needed in CI"
        );
        eprintln!("skipping: no `script` to give the command a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (ok, _, err) = run(portcullis(dir.path())
        .env("TV_PW", "tvs-password-1234")
        .args(["user", "create", "tom", "--password-env", "TV_PW"]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--json",
        "--auth-method",
        "none",
        "--grant-type",
        "urn:ietf:params:oauth:grant-type:device_code",
        "--scope",
        "openid",
    ]));
    assert!(ok, "{err}");
    let client_id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let work = tempfile::tempdir().unwrap();
    let line = format!(
        "{} login --device --issuer {} --client-id {client_id} --scope openid",
        crate::helpers::BIN,
        server.base
    );
    let mut login = std::process::Command::new("script");
    login.args(["-qfec", &line, "/dev/null"]);
    // The environment client_command gives the binary, given to `script`, which passes it on.
    let template = client_command(work.path());
    for (name, value) in template.get_envs() {
        match value {
            Some(value) => login.env(name, value),
            None => login.env_remove(name),
        };
    }
    let mut login = login
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut terminal = BufReader::new(login.stdout.take().unwrap());
    let mut seen = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(terminal.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("Visit ") {
            break rest.rsplit(' ').next().unwrap().to_owned();
        }
    };
    // The spinner turns a few times before the approval.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut terminal, &mut rest);
        rest
    });
    approve(&server.base, &code, "tom", "tvs-password-1234", true).await;
    let status = tokio::task::spawn_blocking(move || login.wait().unwrap())
        .await
        .unwrap();
    let rest = reader.join().unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(
        rest.contains("\r| Waiting for you to approve on the other device… (expires in 9:5")
            || rest.contains("\r/ Waiting for you to approve on the other device… (expires in 9:5"),
        "a spinner with the time left: {rest:?}"
    );
    assert!(rest.contains("Signed in to"), "{rest:?}");
}
