//! Two real `portcullis serve` processes on one PostgreSQL database behave as one server: admin
//! changes, codes, refresh tokens, key rotations and revocations cross from one to the other.

use crate::helpers::{ServerProcess, create_client_with, kid_of, portcullis, run};
use crate::postgres::PgDatabase;
use base64::Engine;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const ISSUER: &str = "http://127.0.0.1:9";
const REDIRECT: &str = "https://app.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PASSWORD: &str = "correct horse battery staple";

fn on(db: &PgDatabase, dir: &Path) -> Command {
    let mut command = portcullis(dir);
    command
        .env("PORTCULLIS_DATABASE", &db.url)
        .env("PORTCULLIS_ISSUER", ISSUER)
        .env("PORTCULLIS_KEYS__ACTIVATION_DELAY", "2");
    command
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_instances_on_one_postgres_behave_as_one() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ok, out, err) = run(on(&db, dir_a.path()).arg("migrate"));
    assert!(ok, "{err}");
    assert!(out.contains("0 pending"), "{out}");
    let a = ServerProcess::start(on(&db, dir_a.path()), dir_a.path());
    let b = ServerProcess::start(on(&db, dir_b.path()), dir_b.path());

    // 1. A client created (and then changed) in the shared database works at both within 1 s.
    let (id, secret) = create_client_with(&mut on(&db, dir_a.path()), &[]);
    a.wait_for_token_status(&id, &secret, 200).await;
    b.wait_for_token_status(&id, &secret, 200).await;
    let (ok, out, err) =
        run(on(&db, dir_a.path()).args(["client", "rotate-secret", &id, "--json"]));
    assert!(ok, "{err}");
    let new_secret = serde_json::from_str::<serde_json::Value>(&out).unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    b.wait_for_token_status(&id, &secret, 401).await;
    b.wait_for_token_status(&id, &new_secret, 200).await;

    // 2. A code issued by A is redeemed at B.
    let web = web_client(|| on(&db, dir_a.path()));
    let code = obtain_code(&a, &web).await;
    let tokens = redeem(&b, &web, &code).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // ... and only once: the same code at A now fails, and the replay revoked what B granted.
    let again = post_token(&a, &web, &code_form(&code)).await;
    assert_eq!(again.0, 400, "{}", again.1);
    let revoked = [
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh),
    ];
    let (status, body) = post_token(&b, &web, &revoked).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &serde_json::json!("invalid_grant"))
    );

    // 3. One refresh token sent to A and B at the same moment: at most one success.
    for round in 0..5 {
        let code = obtain_code(&a, &web).await;
        let refresh = redeem(&b, &web, &code).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let form = [
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh),
        ];
        let (at_a, at_b) = tokio::join!(post_token(&a, &web, &form), post_token(&b, &web, &form));
        let wins = [&at_a, &at_b].iter().filter(|r| r.0 == 200).count();
        assert_eq!(wins, 1, "round {round}: A {at_a:?}, B {at_b:?}");
        let loser = if at_a.0 == 200 { &at_b } else { &at_a };
        assert_eq!(loser.1["error"], "invalid_grant", "{loser:?}");
    }

    // 4. A key rotated through A's database is published by B at once and used after the delay.
    let before = b.wait_for_token_status(&id, &new_secret, 200).await;
    let old_kid = kid_of(before["access_token"].as_str().unwrap());
    let (ok, out, err) =
        run(on(&db, dir_a.path()).args(["keys", "rotate", "--alg", "ES256", "--json"]));
    assert!(ok, "{err}");
    let new_kid = serde_json::from_str::<serde_json::Value>(&out).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = Instant::now();
    wait_until(Duration::from_secs(1), || async {
        jwks_kids(&b).await.contains(&new_kid)
    })
    .await;
    let still_old = b.token(&id, &new_secret).await.1;
    if rotated.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            kid_of(still_old["access_token"].as_str().unwrap()),
            old_kid,
            "publish before sign"
        );
    }
    tokio::time::sleep(
        Duration::from_secs(2).saturating_sub(rotated.elapsed()) + Duration::from_millis(300),
    )
    .await;
    for server in [&a, &b] {
        let body = server.token(&id, &new_secret).await.1;
        assert_eq!(kid_of(body["access_token"].as_str().unwrap()), new_kid);
        assert!(
            jwks_kids(server).await.contains(&old_kid),
            "the old key stays published"
        );
    }

    // 5. An access token revoked at B is inactive at B, and at A once A has reloaded.
    let token = a.token(&id, &new_secret).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        introspect(&a, &id, &new_secret, &token).await["active"],
        true
    );
    let revoked = http()
        .post(format!("{}/revoke", b.base))
        .basic_auth(&id, Some(&new_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // At once where it was revoked; at the other instance within its reload (NOTIFY, else the
    // one-second poll), as docs/security.md says.
    assert_eq!(
        introspect(&b, &id, &new_secret, &token).await,
        serde_json::json!({"active": false})
    );
    wait_until(Duration::from_secs(2), || async {
        introspect(&a, &id, &new_secret, &token).await == serde_json::json!({"active": false})
    })
    .await;
}

pub struct WebClient {
    pub id: String,
    pub secret: String,
    pub username: String,
}

pub fn web_client(command: impl Fn() -> Command) -> WebClient {
    let (id, secret) = create_client_with(
        &mut command(),
        &[
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid offline_access",
            "--first-party",
            "true",
        ],
    );
    let (ok, _, err) = run(command().env("ALICE_PW", PASSWORD).args([
        "user",
        "create",
        "alice",
        "--password-env",
        "ALICE_PW",
    ]));
    assert!(ok, "{err}");
    WebClient {
        id,
        secret,
        username: "alice".into(),
    }
}

/// Submits the sign-in form with `password`; returns the answer's status.
pub async fn sign_in_status(server: &ServerProcess, web: &WebClient, password: &str) -> u16 {
    submit_sign_in(server, web, "openid", "s2", password)
        .await
        .status()
        .as_u16()
}

/// Signs in at `server` through the real pages and returns the code from the redirect.
pub async fn obtain_code(server: &ServerProcess, web: &WebClient) -> String {
    let done = submit_sign_in(server, web, "openid offline_access", "s1", PASSWORD).await;
    let location = done
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect after sign-in: {}", done.status()))
        .to_str()
        .unwrap()
        .to_owned();
    let query = location.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// Opens the sign-in page of a code request (PKCE with `VERIFIER`) and posts the form back with
/// `web`'s username and `password`.
pub async fn submit_sign_in(
    server: &ServerProcess,
    web: &WebClient,
    scope: &str,
    state: &str,
    password: &str,
) -> reqwest::Response {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, VERIFIER.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &web.id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let url = format!("{}/authorize?{query}", server.base);
    // The client was usually created a moment ago through the CLI: the server learns of it
    // within a second (the registry's poll or NOTIFY), and until then shows an error page.
    wait_until(Duration::from_secs(1), || async {
        http().get(&url).send().await.unwrap().status() == 200
    })
    .await;
    let login = http().get(&url).send().await.unwrap();
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let mut form = hidden_fields(&login.text().await.unwrap());
    form.extend([
        ("username".to_owned(), web.username.clone()),
        ("password".to_owned(), password.to_owned()),
        ("action".to_owned(), "login".to_owned()),
    ]);
    http()
        .post(format!("{}/authorize", server.base))
        .header("cookie", cookies.join("; "))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("type=\"hidden\"") {
        let start = rest[..i].rfind('<').unwrap_or(0);
        let end = i + rest[i..].find('>').unwrap_or(0);
        let tag = &rest[start..end];
        let get = |attr: &str| {
            let a = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
            let e = tag[a..].find('"')?;
            Some(tag[a..a + e].replace("&#x2f;", "/").replace("&amp;", "&"))
        };
        if let (Some(n), Some(v)) = (get("name"), get("value")) {
            out.push((n, v));
        }
        rest = &rest[end..];
    }
    out
}

pub fn code_form(code: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.into()),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", VERIFIER.into()),
    ]
}

pub async fn redeem(server: &ServerProcess, web: &WebClient, code: &str) -> serde_json::Value {
    let (status, body) = post_token(server, web, &code_form(code)).await;
    assert_eq!(status, 200, "{body}");
    body
}

pub async fn post_token(
    server: &ServerProcess,
    web: &WebClient,
    form: &[(&str, String)],
) -> (u16, serde_json::Value) {
    let response = http()
        .post(format!("{}/token", server.base))
        .basic_auth(&web.id, Some(&web.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn jwks_kids(server: &ServerProcess) -> Vec<String> {
    let jwks: serde_json::Value = http()
        .get(format!("{}/jwks.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect()
}

pub async fn introspect(
    server: &ServerProcess,
    id: &str,
    secret: &str,
    token: &str,
) -> serde_json::Value {
    http()
        .post(format!("{}/introspect", server.base))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn wait_until<F, Fut>(limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failure_limits_hold_across_instances() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let limited = |dir: &Path| {
        let mut command = on(&db, dir);
        command
            .env("PORTCULLIS_CLIENT_AUTH__MAX_FAILURES_PER_CLIENT", "4")
            .env("PORTCULLIS_SIGN_IN__MAX_FAILED_ATTEMPTS", "4");
        command
    };
    let (ok, _, err) = run(limited(dir_a.path()).arg("migrate"));
    assert!(ok, "{err}");
    let a = ServerProcess::start(limited(dir_a.path()), dir_a.path());
    let b = ServerProcess::start(limited(dir_b.path()), dir_b.path());
    let (id, secret) = create_client_with(&mut limited(dir_a.path()), &[]);
    // Polling for the new client before an instance has loaded it fails client authentication,
    // and with a limit of 4 that locks it: wait past the quarter second a reload takes first.
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.wait_for_token_status(&id, &secret, 200).await;
    b.wait_for_token_status(&id, &secret, 200).await;

    // Wrong secrets, alternating between the instances: four in total.
    let wrong = "wrong-secret-wrong-secret-wrong-secret-00";
    for server in [&a, &b, &a, &b] {
        assert_eq!(server.token(&id, wrong).await.0, 401);
    }
    // Both instances now refuse this client from this address, even with the right secret.
    for server in [&a, &b] {
        wait_until(Duration::from_secs(1), || async {
            server.token(&id, &secret).await.0 == 429
        })
        .await;
    }

    // The same for wrong passwords at the sign-in page.
    let web = web_client(|| limited(dir_a.path()));

    // A burst of wrong passwords for one username, spread over both instances at once: no more
    // are checked than the limit, in total.
    let (ok, _, err) = run(limited(dir_a.path()).env("BOB_PW", PASSWORD).args([
        "user",
        "create",
        "bob",
        "--password-env",
        "BOB_PW",
    ]));
    assert!(ok, "{err}");
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let mut burst = Vec::new();
    for n in 0..30 {
        let server = if n % 2 == 0 { a.clone() } else { b.clone() };
        let bob = WebClient {
            id: web.id.clone(),
            secret: web.secret.clone(),
            username: "bob".into(),
        };
        burst.push(tokio::spawn(async move {
            sign_in_status(&server, &bob, "not-bobs-password").await
        }));
    }
    let mut statuses = Vec::new();
    for task in burst {
        statuses.push(task.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 4 && statuses.iter().all(|s| *s == 401 || *s == 429),
        "{checked} checked: {statuses:?}"
    );
    for server in [&a, &b, &a, &b] {
        assert_eq!(sign_in_status(server, &web, "not-the-password").await, 401);
    }
    for server in [&a, &b] {
        assert_eq!(
            sign_in_status(server, &web, PASSWORD).await,
            429,
            "the fifth attempt, at either instance, waits"
        );
    }
}
