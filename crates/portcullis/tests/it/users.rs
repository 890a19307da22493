//! `portcullis user …` and `[[users]]` through the real binary.

use crate::helpers::{ServerProcess, portcullis, run};
use std::io::Write;
use std::process::Stdio;

#[test]
fn create_list_show_set_password_delete() {
    let dir = crate::helpers::with_database();
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

/// What one sign-in left behind: the browser's session cookie and the tokens of its grant.
struct SignedIn {
    session_cookie: String,
    refresh_token: String,
    access_token: String,
}

async fn sign_in(server: &ServerProcess, web: &crate::instances::WebClient) -> SignedIn {
    use crate::instances::{PASSWORD, code_form, post_token, submit_sign_in};
    let done = submit_sign_in(server, web, "openid offline_access", "s1", PASSWORD).await;
    let session_cookie = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .find(|c| c.contains("session"))
        .expect("a session cookie");
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    let code = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, tokens) = post_token(server, web, &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    SignedIn {
        session_cookie,
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
    }
}

/// Whether the session still signs the browser in without a password (prompt=none answers with a
/// code rather than login_required).
async fn session_alive(
    server: &ServerProcess,
    web: &crate::instances::WebClient,
    cookie: &str,
) -> bool {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &web.id)
        .append_pair("redirect_uri", "https://app.example.com/callback")
        .append_pair("scope", "openid")
        .append_pair("prompt", "none")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    let answer = crate::instances::http()
        .get(format!("{}/authorize?{query}", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    location.contains("code=")
}

async fn assert_ended(
    server: &ServerProcess,
    web: &crate::instances::WebClient,
    before: &SignedIn,
    what: &str,
) {
    use crate::instances::{introspect, post_token};
    assert!(
        !session_alive(server, web, &before.session_cookie).await,
        "{what}: the browser session still works"
    );
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", before.refresh_token.as_str()),
    ]
    .map(|(k, v)| (k, v.to_owned()));
    let (status, body) = post_token(server, web, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{what}: the refresh token still works: {body}"
    );
    // The command ran in another process: the server's deny list follows within its reload
    // interval (250 ms on SQLite).
    let started = std::time::Instant::now();
    while introspect(server, &web.id, &web.secret, &before.access_token).await["active"] != false {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{what}: the access token is still active"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_password_change_a_disable_and_a_delete_end_what_the_user_started() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let web = crate::instances::web_client(|| portcullis(dir.path()));

    let before = sign_in(&server, &web).await;
    assert!(session_alive(&server, &web, &before.session_cookie).await);
    // A code the old password got, not redeemed yet.
    let pending = crate::instances::obtain_code(&server, &web).await;
    let (ok, out, err) = run(portcullis(dir.path())
        .env("NEW_PW", "a-brand-new-password")
        .args(["user", "set-password", "alice", "--password-env", "NEW_PW"]));
    assert!(ok, "{err}");
    assert!(
        out.contains("ended 2 sessions") && out.contains("revoked 1 grant"),
        "set-password says what it ended: {out}"
    );
    assert_ended(&server, &web, &before, "set-password").await;
    let (status, body) =
        crate::instances::post_token(&server, &web, &crate::instances::code_form(&pending)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a code from before the change still worked: {body}"
    );

    let (ok, _, err) = run(portcullis(dir.path())
        .env("PW", crate::instances::PASSWORD)
        .args(["user", "set-password", "alice", "--password-env", "PW"]));
    assert!(ok, "{err}");
    let before = sign_in(&server, &web).await;
    let unredeemed = crate::instances::obtain_code(&server, &web).await;
    let (ok, out, err) = run(portcullis(dir.path()).args(["user", "disable", "alice"]));
    assert!(ok, "{err}");
    assert!(out.contains("ended 2 sessions"), "{out}");
    assert_ended(&server, &web, &before, "disable").await;
    // A code issued before is refused, and a disabled user cannot sign in again; the page says
    // why only to someone who knows the password.
    let (status, body) =
        crate::instances::post_token(&server, &web, &crate::instances::code_form(&unredeemed))
            .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let status = crate::instances::sign_in_status(&server, &web, crate::instances::PASSWORD).await;
    assert_eq!(status, 403, "a disabled user signed in");
    let status = crate::instances::sign_in_status(&server, &web, "not-the-password").await;
    assert_eq!(status, 401);
    let (ok, _, err) = run(portcullis(dir.path()).args(["user", "enable", "alice"]));
    assert!(ok, "{err}");

    let before = sign_in(&server, &web).await;
    let (ok, out, err) = run(portcullis(dir.path()).args(["user", "delete", "alice"]));
    assert!(ok, "{err}");
    assert!(out.contains("revoked 1 grant"), "{out}");
    assert_ended(&server, &web, &before, "delete").await;
}
