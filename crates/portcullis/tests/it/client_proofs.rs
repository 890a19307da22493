//! The commands with a client that proves who it is: `token --private-key` (private_key_jwt),
//! `client jwks`, and `token --dpop` / `call --dpop`.

use crate::client_cli::{client_command, write_env};
use crate::helpers::{ServerProcess, create_client, portcullis, run};
use std::path::Path;

/// A new P-256 key as a PKCS#8 PEM file, as `openssl genpkey -algorithm EC` writes one.
pub fn write_p256_key(path: &Path) {
    use base64::Engine;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(doc.as_ref());
    std::fs::write(
        path,
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
}

#[tokio::test]
async fn a_client_that_signs_with_its_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("app.pem");
    write_p256_key(&key);
    // The public half, for the server.
    let (ok, jwks, err) = run(portcullis(dir.path())
        .args(["client", "jwks", "--private-key"])
        .arg(&key));
    assert!(ok, "{err}");
    let set: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(set["keys"][0]["kty"], "EC");
    assert!(set["keys"][0].get("d").is_none(), "no private part: {jwks}");
    std::fs::write(work.path().join("app.jwks.json"), &jwks).unwrap();
    let (ok, out, err) = run(portcullis(dir.path())
        .args(["client", "create", "--json", "--scope", "read"])
        .args(["--auth-method", "private_key_jwt", "--jwks-file"])
        .arg(work.path().join("app.jwks.json")));
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(created["client_secret"].is_null(), "no secret: {out}");
    let id = created["client_id"].as_str().unwrap().to_owned();

    let token_url = format!("{}/token", server.base);
    let token = |extra: &[&str]| {
        let mut c = client_command(work.path());
        c.env("CLIENT_ID", &id)
            .env("TOKEN_URL", &token_url)
            .args(["token", "--no-cache"])
            .args(extra);
        c
    };
    // The server notices the new client within its poll interval.
    let mut answer = (false, String::new(), String::new());
    for _ in 0..50 {
        answer = run(&mut token(&["--private-key", key.to_str().unwrap()]));
        if answer.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (ok, out, err) = answer;
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["scope"], "read");
    // CLIENT_PRIVATE_KEY_FILE does the same.
    let (ok, _, err) = run(token(&[]).env("CLIENT_PRIVATE_KEY_FILE", &key));
    assert!(ok, "{err}");
    // Another key is refused by the server.
    let other = work.path().join("other.pem");
    write_p256_key(&other);
    let (ok, _, err) = run(&mut token(&["--private-key", other.to_str().unwrap()]));
    assert!(!ok);
    assert!(err.contains("invalid_client"), "{err}");
    assert!(
        err.contains("public key of") && !err.contains("CLIENT_SECRET"),
        "the hint names the key, not a secret: {err}"
    );
    // A jwks_uri instead, shown back under its RFC 7591 name; a JWK Set holding a private key is
    // refused before anything is written.
    let (ok, out, err) = run(portcullis(dir.path()).args([
        "client",
        "create",
        "--json",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "https://keys.example.com/jwks.json",
        "--require-par",
        "true",
        "--dpop-bound-access-tokens",
        "true",
    ]));
    assert!(ok, "{err}");
    let by_uri: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (ok, shown, err) = run(portcullis(dir.path()).args([
        "client",
        "show",
        "--json",
        by_uri["client_id"].as_str().unwrap(),
    ]));
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        shown["jwks_uri"], "https://keys.example.com/jwks.json",
        "{shown}"
    );
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(shown["require_pushed_authorization_requests"], true);
    assert_eq!(shown["dpop_bound_access_tokens"], true);
    let mut leaked: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    leaked["keys"][0]["d"] = serde_json::json!("c2VjcmV0");
    std::fs::write(work.path().join("leaked.json"), leaked.to_string()).unwrap();
    let (ok, _, err) = run(portcullis(dir.path())
        .args([
            "client",
            "create",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
        ])
        .arg(work.path().join("leaked.json")));
    assert!(!ok);
    assert!(err.contains("private"), "{err}");

    // A file that is not a key is a clear local error.
    std::fs::write(work.path().join("junk.pem"), "hello").unwrap();
    let (ok, _, err) = run(&mut token(&["--private-key", "junk.pem"]));
    assert!(!ok);
    assert!(err.contains("PEM"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_call_with_dpop() {
    use portcullis_resource::{AccessToken, BearerLayer, Validator};
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (id, secret) = create_client(
        dir.path(),
        &["--scope", "read", "--audience", "https://api.example.com"],
    );
    server.wait_for_token_status(&id, &secret, 200).await;
    let work = tempfile::tempdir().unwrap();
    write_env(work.path(), &id, &secret, &server.base);

    let (ok, out, err) = run(client_command(work.path()).args(["token", "--dpop"]));
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["token_type"], "DPoP", "{out}");
    assert!(err.contains("not cached"), "{err}");
    assert!(
        !work.path().join("cache/portcullis/tokens.json").exists(),
        "a token bound to a key of this run is not kept"
    );

    // An API that checks proofs and wants its own nonce.
    let validator = Validator::builder(&server.base, "https://api.example.com")
        .dpop_nonce_secret(&[3u8; 32])
        .build();
    let app = axum::Router::new()
        .route(
            "/data",
            axum::routing::get(|t: AccessToken| async move { format!("hello {}", t.subject) }),
        )
        .layer(BearerLayer::new(validator, "api"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/data", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (ok, out, err) = run(client_command(work.path()).args(["call", "--dpop", &api]));
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("hello {id}"));
    // Without --dpop the same API takes the bearer token as before.
    let (ok, out, err) = run(client_command(work.path()).args(["call", &api]));
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("hello {id}"));
}

#[tokio::test]
async fn token_exchange_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (caller, caller_secret) = create_client(
        dir.path(),
        &["--scope", "read", "--audience", "https://orders.example"],
    );
    let (backend, backend_secret) = create_client(
        dir.path(),
        &[
            "--grant-type",
            "client_credentials",
            "--grant-type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "--audience",
            "https://orders.example",
            "--audience",
            "https://billing.example",
        ],
    );
    server
        .wait_for_token_status(&backend, &backend_secret, 200)
        .await;
    let work = tempfile::tempdir().unwrap();
    write_env(work.path(), &caller, &caller_secret, &server.base);
    let (ok, subject, err) =
        run(client_command(work.path()).args(["token", "--access-token-only", "--no-cache"]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(client_command(work.path())
        .env("CLIENT_ID", &backend)
        .env("CLIENT_SECRET", &backend_secret)
        .args([
            "token",
            "--exchange",
            subject.trim(),
            "--audience",
            "https://billing.example",
        ]));
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let claims = crate::client_cli::claims(json["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], caller.as_str(), "{claims}");
    assert_eq!(claims["client_id"], backend.as_str());
    assert_eq!(claims["aud"], "https://billing.example");
    assert!(err.contains("exchanged"), "{err}");
    // An audience the backend is not registered for is refused, with the server's words.
    let (ok, _, err) = run(client_command(work.path())
        .env("CLIENT_ID", &backend)
        .env("CLIENT_SECRET", &backend_secret)
        .args([
            "token",
            "--exchange",
            subject.trim(),
            "--audience",
            "https://evil.example",
        ]));
    assert!(!ok);
    assert!(err.contains("invalid_target"), "{err}");
}
