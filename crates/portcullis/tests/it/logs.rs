//! What the server writes to its logs over a full run of every flow: JSON lines when asked for,
//! each request's id on its lines, the audit events, and not one of the secrets the run used.

use crate::helpers::{ServerProcess, create_client_with, portcullis, run};
use crate::instances::{
    PASSWORD, code_form, http, introspect, obtain_code, post_token, redeem, web_client,
};
use std::path::Path;
use std::process::Command;

const MASTER_KEY: &str = "log-test-master-key-log-test-master-key-0001";

fn configured(dir: &Path) -> Command {
    let mut command = portcullis(dir);
    command
        .env("PORTCULLIS_LOG", "trace")
        .env("PORTCULLIS_LOG_FORMAT", "json")
        .env("PORTCULLIS_MASTER_KEY", MASTER_KEY);
    command
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_audit_events_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(configured(dir.path()), dir.path());
    let mut secrets: Vec<String> = vec![MASTER_KEY.into(), PASSWORD.into()];
    let mut cli_logs = String::new();

    // Client credentials, right and wrong.
    let (id, secret) = create_client_with(&mut configured(dir.path()), &["--scope", "read"]);
    secrets.push(secret.clone());
    let body = server.wait_for_token_status(&id, &secret, 200).await;
    secrets.push(body["access_token"].as_str().unwrap().into());
    let wrong = "a-wrong-secret-that-must-not-be-logged-0000";
    secrets.push(wrong.into());
    assert_eq!(server.token(&id, wrong).await.0, 401);
    // A caller that swaps id and secret must not put the secret in the audit log.
    assert_eq!(server.token(&secret, &id).await.0, 401);
    let traced = http()
        .post(format!("{}/token", server.base))
        .header("x-request-id", "log-test-request-1")
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "log-test-request-1");

    // The code flow, refresh, a code replay, a refresh reuse, introspection and revocation.
    let web = web_client(|| configured(dir.path()));
    secrets.push(web.secret.clone());
    let code = obtain_code(&server, &web).await;
    secrets.push(code.clone());
    let tokens = redeem(&server, &web, &code).await;
    for field in ["access_token", "refresh_token", "id_token"] {
        if let Some(t) = tokens[field].as_str() {
            secrets.push(t.into());
        }
    }
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh_form = |t: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", t.to_owned()),
        ]
    };
    let (status, refreshed) = post_token(&server, &web, &refresh_form(&first_refresh)).await;
    assert_eq!(status, 200, "{refreshed}");
    secrets.push(refreshed["refresh_token"].as_str().unwrap().into());
    secrets.push(refreshed["access_token"].as_str().unwrap().into());
    // Reusing the first refresh token revokes the family.
    assert_eq!(
        post_token(&server, &web, &refresh_form(&first_refresh))
            .await
            .0,
        400
    );
    // Replaying the code revokes its grant.
    assert_eq!(post_token(&server, &web, &code_form(&code)).await.0, 400);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&server, &id, &secret, access).await["active"],
        true
    );
    // A wrong password.
    let (ok, _, err) = run(configured(dir.path())
        .env("BOB_PW", "bobs-password-bobs-password")
        .args(["user", "create", "bob", "--password-env", "BOB_PW"]));
    assert!(ok, "{err}");
    cli_logs.push_str(&err);
    secrets.push("bobs-password-bobs-password".into());
    let bob = crate::instances::WebClient {
        id: web.id.clone(),
        secret: web.secret.clone(),
        username: "bob".into(),
    };
    let _ = crate::instances::sign_in_status(&server, &bob, "not-bobs-password-at-all").await;
    secrets.push("not-bobs-password-at-all".into());
    // Enough wrong passwords lock bob's sign-in; the refusals while locked are audited.
    let mut locked = false;
    for _ in 0..10 {
        if crate::instances::sign_in_status(&server, &bob, "not-bobs-password-at-all").await == 429
        {
            locked = true;
            break;
        }
    }
    assert!(locked, "bob's sign-in never locked");
    // A key rotation through the CLI.
    let (ok, _, err) = run(configured(dir.path()).args(["keys", "rotate"]));
    assert!(ok, "{err}");
    cli_logs.push_str(&err);

    server.terminate();
    // The master key this run set was used: every private key in the database is sealed.
    let rows = crate::master_key::key_rows(dir.path()).await;
    assert!(
        crate::master_key::sealed(&rows),
        "PORTCULLIS_MASTER_KEY was set but the signing keys are stored plain"
    );
    let log = server.stderr();
    let mut events = Vec::new();
    let mut request_ids = Vec::new();
    let mut failed_auth = Vec::new();
    for line in log
        .lines()
        .chain(cli_logs.lines())
        .filter(|l| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if let Some(event) = value["fields"]["event"].as_str() {
            assert_eq!(value["target"], "portcullis::audit", "{line}");
            events.push(event.to_owned());
            if event == "client_authentication_failed" {
                failed_auth.push(value["fields"].clone());
            }
        }
        if let Some(id) = value["span"]["request_id"].as_str() {
            request_ids.push(id.to_owned());
        }
    }
    for event in [
        "token_issued",
        "client_authentication_failed",
        "sign_in_failed",
        "sign_in_refused_locked",
        "code_reused",
        "refresh_family_revoked",
        "key_rotated",
    ] {
        assert!(
            events.iter().any(|e| e == event),
            "no {event} in {events:?}"
        );
    }
    assert!(request_ids.iter().any(|id| id == "log-test-request-1"));
    // A registered client_id is named; an unregistered one only as a short hash.
    assert!(
        failed_auth.iter().any(|f| f["client_id"] == id.as_str()),
        "{failed_auth:?}"
    );
    assert!(
        failed_auth
            .iter()
            .any(|f| f["client_id"].is_null() && f["client_id_sha256"].is_string()),
        "{failed_auth:?}"
    );
    let everything = format!("{log}\n{cli_logs}");
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "the logs contain a secret of {} characters",
            secret.len()
        );
    }
}

/// Log lines are written by a thread of their own behind a buffer that never drops one: every token
/// of a burst of concurrent requests has its `token_issued` line, and every line is out when the
/// server stops.
#[tokio::test]
async fn every_token_of_a_burst_is_audited_and_written_by_the_time_serve_stops() {
    let dir = tempfile::tempdir().unwrap();
    let logged = || {
        let mut command = portcullis(dir.path());
        command
            .env("PORTCULLIS_LOG", "info")
            .env("PORTCULLIS_LOG_FORMAT", "json");
        command
    };
    let mut server = ServerProcess::start(logged(), dir.path());
    let (id, secret) = create_client_with(&mut logged(), &[]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let client = http();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (client, url) = (client.clone(), format!("{}/token", server.base));
        let (id, secret) = (id.clone(), secret.clone());
        tasks.spawn(async move {
            let mut issued = 0;
            for _ in 0..50 {
                let response = client
                    .post(&url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", id.as_str()),
                        ("client_secret", secret.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                if response.status() == 200 {
                    issued += 1;
                }
            }
            issued
        });
    }
    let mut issued = 1; // wait_for_token_status got one
    while let Some(result) = tasks.join_next().await {
        issued += result.unwrap();
    }
    assert_eq!(issued, 1 + 64 * 50);
    assert!(server.terminate().success());
    let audited = server
        .stderr()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["event"] == "token_issued")
        .count();
    assert_eq!(audited, issued, "tokens issued and token_issued lines");
}

/// Text logs (the default format) name the request too, as tracing's `request{…}` span.
#[tokio::test]
async fn text_logs_name_the_request_in_a_span() {
    let dir = tempfile::tempdir().unwrap();
    let text = || {
        let mut command = portcullis(dir.path());
        command
            .env("PORTCULLIS_LOG", "info")
            .env("PORTCULLIS_LOG_FORMAT", "text");
        command
    };
    let mut server = ServerProcess::start(text(), dir.path());
    let (id, secret) = create_client_with(&mut text(), &[]);
    server.wait_for_token_status(&id, &secret, 200).await;
    let answer = http()
        .post(format!("{}/token", server.base))
        .header("x-request-id", "text-log-request-1")
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(server.terminate().success());
    let log = server.stderr();
    let line = log
        .lines()
        .find(|line| line.contains("text-log-request-1"))
        .unwrap_or_else(|| panic!("no line names the request:\n{log}"));
    assert!(
        line.contains(r#"request{request_id=text-log-request-1 method=POST endpoint="/token"}"#)
            && line.contains("event=\"token_issued\""),
        "{line}"
    );
}
