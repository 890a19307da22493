//! The command line's edges, as a newcomer hits them: a confidential `login` that `call` can
//! refresh, output a script can trust (broken pipes, next steps, times, JSON), exit codes and
//! messages as documented, `decode` that trusts only a trusted issuer, and one rule for issuers.
//!
//! Long because: each test walks one newcomer scenario end to end against a real server; splitting
//! them would scatter shared set-up.

use crate::client_cli::{client_command, sign_in_through_the_browser};
use crate::helpers::{ServerProcess, portcullis, run, with_database};
use std::io::Read;
use std::process::Stdio;

/// A confidential native client with a user to sign in: (client_id, secret).
fn confidential_cli_client(dir: &std::path::Path) -> (String, String) {
    let (ok, _, err) = run(portcullis(dir).env("PW", "frank-password-123").args([
        "user",
        "create",
        "frank",
        "--password-env",
        "PW",
    ]));
    assert!(ok, "{err}");
    crate::helpers::create_client(
        dir,
        &[
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--application-type",
            "native",
            "--scope",
            "openid email offline_access",
            "--first-party",
            "true",
            "--audience",
            "https://api-one.example",
            "--audience",
            "https://api-two.example",
        ],
    )
}

/// The `aud` of the access token saved by `login`.
fn saved_audience(saved: &std::path::Path) -> serde_json::Value {
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    let token = stored["default"]["access_token"].as_str().unwrap();
    crate::client_cli::claims(token)["aud"].clone()
}

#[tokio::test]
async fn a_confidential_login_refreshes_with_its_secret_from_the_same_variable() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = confidential_cli_client(dir.path());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let work = tempfile::tempdir().unwrap();
    // ISSUER and CLIENT_ID from the environment, as `token` reads them.
    let mut login = client_command(work.path())
        .env("ISSUER", &server.base)
        .env("CLIENT_ID", &id)
        .env("APP_SECRET", &secret)
        .args(["login", "--client-secret-env", "APP_SECRET", "--no-browser"])
        .args(["--scope", "openid email offline_access"])
        .args(["--resource", "https://api-one.example"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let page =
        sign_in_through_the_browser(&mut login, &server.base, "frank", "frank-password-123").await;
    assert!(page.contains("Signed in"), "{page}");
    assert!(
        tokio::task::spawn_blocking(move || login.wait().unwrap())
            .await
            .unwrap()
            .success()
    );
    let saved = work.path().join("config/portcullis/tokens.json");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(!text.contains(&secret), "the secret is never stored");
    assert!(
        text.contains("\"client_secret_env\": \"APP_SECRET\""),
        "{text}"
    );
    assert_eq!(
        saved_audience(&saved),
        "https://api-one.example",
        "--resource narrows aud"
    );

    // The access token has expired (as far as the store knows): `call` refreshes with the secret.
    let mut stored: serde_json::Value = serde_json::from_str(&text).unwrap();
    for tokens in stored.as_object_mut().unwrap().values_mut() {
        tokens["expires_at"] = serde_json::json!(1);
    }
    std::fs::write(&saved, stored.to_string()).unwrap();
    let userinfo = format!("{}/userinfo", server.base);
    let (ok, _, err) = run(client_command(work.path()).args(["call", &userinfo]));
    assert!(!ok, "refreshed without the secret");
    assert!(err.contains("APP_SECRET"), "names the variable: {err}");
    // CLIENT_ID names the signed-in client, as it did for `login`: `call` uses the sign-in.
    let (ok, out, err) = run(client_command(work.path())
        .env("APP_SECRET", &secret)
        .env("CLIENT_ID", &id)
        .args(["call", &userinfo]));
    assert!(ok, "{err}");
    assert!(out.contains("\"sub\""), "{out}");
    // The refreshed token is still only for the resource the sign-in asked for.
    assert_eq!(saved_audience(&saved), "https://api-one.example");
}

#[tokio::test]
async fn call_exits_as_documented() {
    let work = tempfile::tempdir().unwrap();
    let code = |args: &[&str]| {
        let out = client_command(work.path()).args(args).output().unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    // Before any login, with no client credentials: one message, not two that disagree.
    let (status, err) = code(&["call", "http://127.0.0.1:9/data"]);
    assert_eq!(status, Some(2), "{err}");
    assert!(
        err.contains("portcullis login") && err.contains("CLIENT_ID"),
        "{err}"
    );
    assert!(
        !err.contains("hint:"),
        "no second, contradicting line: {err}"
    );
    // A malformed URL and a malformed header are usage errors; no bare "builder error".
    for args in [
        &["call", "not a url"][..],
        &["call", "http://127.0.0.1:9/x", "-H", "Bad Header: x"][..],
    ] {
        let (status, err) = code(args);
        assert_eq!(status, Some(2), "{args:?}: {err}");
        assert!(!err.contains("builder error"), "{err}");
    }
    // An issuer or token URL that cannot be one is a usage error for every command, before
    // anything is asked of the network.
    for args in [
        &[
            "login",
            "--no-browser",
            "--client-id",
            "x",
            "--issuer",
            "127.0.0.1:9",
        ][..],
        &[
            "login",
            "--no-browser",
            "--client-id",
            "x",
            "--issuer",
            "http://127.0.0.1:9?x=1",
        ][..],
        &["decode", "a.b.c", "--issuer", "not a url"][..],
    ] {
        let (status, err) = code(args);
        assert_eq!(status, Some(2), "{args:?}: {err}");
    }
    for (name, value) in [
        ("ISSUER", "http://127.0.0.1:9?x=1"),
        ("TOKEN_URL", "http://[::1"),
    ] {
        let out = client_command(work.path())
            .env(name, value)
            .env("CLIENT_ID", "x")
            .env("CLIENT_SECRET", "y")
            .arg("token")
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {err}");
        assert!(err.contains(name), "{err}");
    }
    // --client-secret-env NAME: the message names NAME.
    let (status, err) = code(&[
        "token",
        "--client-id",
        "x",
        "--token-url",
        "http://127.0.0.1:9/token",
        "--client-secret-env",
        "MY_SECRET",
    ]);
    assert_eq!(status, Some(2));
    assert!(
        err.contains("MY_SECRET") && !err.contains("CLIENT_SECRET"),
        "{err}"
    );
}

#[tokio::test]
async fn exit_codes_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = crate::helpers::create_client(dir.path(), &[]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/data", dead.local_addr().unwrap());
    drop(dead);
    let work = tempfile::tempdir().unwrap();
    let out = client_command(work.path())
        .env("CLIENT_ID", &id)
        .env("CLIENT_SECRET", &secret)
        .env("TOKEN_URL", format!("{}/token", server.base))
        .args(["call", &dead_url])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&dead_url), "{err}");

    // The API answered, but not with 2xx: 1.
    let exit = |token_url: String, url: String| {
        let out = client_command(work.path())
            .env("CLIENT_ID", &id)
            .env("CLIENT_SECRET", &secret)
            .env("TOKEN_URL", token_url)
            .args(["call", &url])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (status, err) = exit(
        format!("{}/token", server.base),
        format!("{}/no-such-api", server.base),
    );
    assert_eq!(status, Some(1), "{err}");
    // TOKEN_URL is not a token endpoint (it answers JSON that is no token response): 5.
    let (status, err) = exit(
        format!("{}/.well-known/openid-configuration", server.base),
        format!("{}/userinfo", server.base),
    );
    assert_eq!(status, Some(5), "{err}");
    assert!(err.contains("ISSUER/token"), "{err}");
    // A server that answers but has no metadata for the issuer given: the issuer is wrong, 2.
    let out = client_command(work.path())
        .env("CLIENT_ID", &id)
        .env("CLIENT_SECRET", &secret)
        .env("ISSUER", format!("{}/tenant", server.base))
        .arg("token")
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("exactly as the server names itself"), "{err}");
    let token = server.wait_for_token_status(&id, &secret, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A wrong secret in a named variable: the hint names the variable.
    let out = client_command(work.path())
        .env("MYSEC", "x".repeat(43))
        .args(["token", "--client-id", &id, "--client-secret-env", "MYSEC"])
        .arg("--token-url")
        .arg(format!("{}/token", server.base))
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("the client secret in MYSEC is wrong"), "{err}");
    // decode, when the trusted issuer cannot be reached: 4, in words.
    server.terminate();
    let out = client_command(work.path())
        .args(["decode", &token, "--issuer", &server.base])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("connection refused"), "{err}");
    assert!(!err.contains("error sending request"), "{err}");
}

#[test]
fn output_a_script_can_trust() {
    let dir = with_database();
    // A closed pipe ends the command quietly.
    let (id, _) = crate::helpers::create_client(dir.path(), &[]);
    let mut child = portcullis(dir.path())
        .args(["client", "show", &id, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success() && err.is_empty(), "{status}: {err}");

    // The next step fits the grant types.
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--grant-type",
        "authorization_code",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--scope",
        "openid",
    ]));
    assert!(ok, "{err}");
    assert!(!out.contains("client_credentials"), "{out}");
    assert!(out.contains("/authorize?response_type=code"), "{out}");
    let (ok, _, err) =
        run(portcullis(dir.path()).args(["client", "create", "--auth-method", "none"]));
    assert!(!ok);
    assert!(
        err.contains(
            "--grant-type authorization_code --grant-type refresh_token and a --redirect-uri"
        ),
        "{err}"
    );
    let (ok, _, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--auth-method",
        "none",
        "--redirect-uri",
        "http://127.0.0.1/callback",
    ]));
    assert!(!ok);
    assert!(!err.contains("--redirect-uri"), "one was given: {err}");
    // A confidential native client signs in with its secret: the printed line says how.
    let native = [
        "client",
        "create",
        "--grant-type",
        "authorization_code",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--application-type",
        "native",
    ];
    let (ok, out, err) = run(portcullis(dir.path()).args(native));
    assert!(ok, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .unwrap()
        .trim();
    assert!(
        out.contains(&format!("CLIENT_SECRET='{secret}' portcullis login")),
        "{out}"
    );
    let (ok, out, err) = run(portcullis(dir.path())
        .env("NATIVE_SECRET", "n".repeat(40))
        .args(native)
        .args(["--secret-env", "NATIVE_SECRET"]));
    assert!(ok, "{err}");
    assert!(out.contains("--client-secret-env NATIVE_SECRET"), "{out}");
    // Metadata that breaks a rule is a usage error, as a missing flag is.
    for args in [
        &["client", "create", "--grant-type", "authorization_code"][..],
        &["client", "create", "--grant-type", "refresh_token"][..],
    ] {
        let out = portcullis(dir.path()).args(args).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    }

    // Every field, RFC 3339 times, aligned columns, JSON.
    let (ok, out, err) = run(portcullis(dir.path()).args(["client", "show", &id]));
    assert!(ok, "{err}");
    for field in [
        "require_pkce",
        "first_party",
        "application_type",
        "token_endpoint_auth_method",
    ] {
        assert!(out.contains(field), "{field} missing: {out}");
    }
    let created = out.lines().find(|l| l.starts_with("created_at")).unwrap();
    assert!(
        rfc3339(created.split_whitespace().nth(1).unwrap()),
        "{created}"
    );
    let (ok, out, _) = run(portcullis(dir.path()).args(["client", "show", &id, "--json"]));
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["require_pkce"], true);
    assert!(rfc3339(shown["created_at"].as_str().unwrap()));

    let (ok, _, err) = run(portcullis(dir.path()).args(["keys", "rotate"]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(portcullis(dir.path()).args(["keys", "list"]));
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let column = lines[0].find("state").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l[column..].starts_with("active") || l[column..].starts_with("pending")),
        "aligned: {out}"
    );
    let (ok, out, _) = run(portcullis(dir.path()).args(["keys", "list", "--json"]));
    assert!(ok);
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rfc3339(keys[0]["created_at"].as_str().unwrap()));

    let (ok, out, _) = run(portcullis(dir.path()).args(["migrate", "status"]));
    assert!(ok);
    assert!(
        out.lines()
            .any(|l| l.contains("init") && l.contains('T') && l.ends_with('Z')),
        "{out}"
    );
    let (ok, out, _) = run(portcullis(dir.path()).args(["migrate", "status", "--json"]));
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rfc3339(
        status["migrations"][0]["applied_at"].as_str().unwrap()
    ));
    assert_eq!(status["pending"], 0);

    // A full disk is said as such, with what was being written.
    #[cfg(target_os = "linux")]
    {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = portcullis(dir.path())
            .arg("export")
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("cannot write the export"), "{err}");
    }
}

fn rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    text.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
}

#[tokio::test]
async fn decode_checks_only_against_a_trusted_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let mut short_lived = portcullis(dir.path());
    short_lived.env("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME", "2");
    let server = ServerProcess::start(short_lived, dir.path());
    let (id, secret) = crate::helpers::create_client(dir.path(), &[]);
    let token = server.wait_for_token_status(&id, &secret, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_dir = tempfile::tempdir().unwrap();
    let other = ServerProcess::start(portcullis(other_dir.path()), other_dir.path());
    let (other_id, other_secret) = crate::helpers::create_client(other_dir.path(), &[]);
    let foreign = other
        .wait_for_token_status(&other_id, &other_secret, 200)
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let work = tempfile::tempdir().unwrap();

    // From standard input, against the trusted issuer: valid, with its expiry as a time.
    let mut child = client_command(work.path())
        .args(["decode", "-", "--issuer", &server.base])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), token.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("signature: valid"), "{err}");
    assert!(err.contains("expires:") && err.contains('Z'), "{err}");

    // A token of another server is never "valid", whatever keys that server publishes.
    let (ok, _, err) =
        run(client_command(work.path()).args(["decode", &foreign, "--issuer", &server.base]));
    assert!(!ok);
    assert!(err.contains("not checked (issuer not trusted"), "{err}");
    assert!(!err.contains("signature: valid"), "{err}");
    let (ok, _, err) = run(client_command(work.path())
        .env("ISSUER", &server.base)
        .args(["decode", &foreign]));
    assert!(!ok && err.contains("issuer not trusted"), "{err}");

    // With neither, the server's configured issuer is the trusted one.
    let config = work.path().join("server.toml");
    std::fs::write(&config, format!("issuer = \"{}\"\n", server.base)).unwrap();
    let configured = |token: &str| {
        run(portcullis(work.path())
            .env_remove("ISSUER")
            .arg("--config")
            .arg(&config)
            .args(["decode", token]))
    };
    let (ok, _, err) = configured(&token);
    assert!(ok && err.contains("signature: valid"), "{err}");
    let (ok, _, err) = configured(&foreign);
    assert!(!ok && err.contains("issuer not trusted"), "{err}");

    // Expired: said, and a failure.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (ok, _, err) =
        run(client_command(work.path()).args(["decode", &token, "--issuer", &server.base]));
    assert!(!ok, "an expired token decoded as a success");
    assert!(err.contains("(expired)"), "{err}");
}

#[tokio::test]
async fn issuers_are_compared_the_same_way_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = crate::helpers::create_client(dir.path(), &[]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let work = tempfile::tempdir().unwrap();
    let slash = format!("{}/", server.base);
    // token --issuer with a trailing '/': refused, saying why.
    let (ok, _, err) = run(client_command(work.path())
        .env("CLIENT_ID", &id)
        .env("CLIENT_SECRET", &secret)
        .args(["token", "--issuer", &slash]));
    assert!(!ok);
    assert!(err.contains("trailing '/'"), "{err}");
    let status = client_command(work.path())
        .env("CLIENT_ID", &id)
        .env("CLIENT_SECRET", &secret)
        .args(["token", "--issuer", &slash])
        .output()
        .unwrap()
        .status;
    assert_eq!(
        status.code(),
        Some(2),
        "a wrong issuer is configuration, not an outage"
    );
    // login and decode say the same.
    let (ok, _, err) = run(client_command(work.path()).args([
        "login",
        "--issuer",
        &slash,
        "--client-id",
        &id,
        "--no-browser",
    ]));
    assert!(!ok && err.contains("trailing '/'"), "{err}");
    let token = server.token(&id, &secret).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, err) =
        run(client_command(work.path()).args(["decode", &token, "--issuer", &slash]));
    assert!(!ok && err.contains("trailing '/'"), "{err}");
}
