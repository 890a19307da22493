//! Every RFC 6749 §5.2 (and RFC 8707) error the token endpoint gives, and no 5xx for any input.

use crate::helpers::{spawn_app, spawn_with};
use portcullis_core::GrantType;
use portcullis_server::client::ClientMetadata;

const GRANT: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn invalid_request_cases() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;
    let creds = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];

    // Missing grant_type.
    app.post_token(&creds)
        .await
        .assert_error(400, "invalid_request");

    // A repeated parameter.
    app.post_token(&[
        GRANT,
        creds[0],
        creds[1],
        ("scope", "read"),
        ("scope", "read"),
    ])
    .await
    .assert_error(400, "invalid_request");
    app.post_token(&[GRANT, GRANT, creds[0], creds[1]])
        .await
        .assert_error(400, "invalid_request");

    // Wrong content type.
    let json = app
        .send(app.token_request().json(&serde_json::json!({
            "grant_type": "client_credentials", "client_id": id, "client_secret": secret
        })))
        .await;
    json.assert_error(400, "invalid_request");
    let none = app
        .send(app.token_request().body("grant_type=client_credentials"))
        .await;
    none.assert_error(400, "invalid_request");

    // Unsupported methods.
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let answer = app
            .send(app.http.request(method, format!("{}/token", app.base)))
            .await;
        answer.assert_error(400, "invalid_request");
    }

    // Both authentication methods at once.
    app.post_token_basic(&id, &secret, &[GRANT, ("client_secret", &secret)])
        .await
        .assert_error(400, "invalid_request");
    // A body client_id that contradicts the Basic header.
    app.post_token_basic(&id, &secret, &[GRANT, ("client_id", "someone-else")])
        .await
        .assert_error(400, "invalid_request");

    // A secret in the URL.
    let in_url = app
        .send(
            app.http
                .post(format!("{}/token?client_secret={secret}", app.base))
                .form(&[GRANT, creds[0], creds[1]]),
        )
        .await;
    in_url.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn invalid_client_does_not_tell_unknown_from_wrong() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;

    let unknown = app
        .post_token(&[GRANT, ("client_id", "nobody"), ("client_secret", &secret)])
        .await;
    let wrong = app
        .post_token(&[
            GRANT,
            ("client_id", &id),
            ("client_secret", "x".repeat(43).as_str()),
        ])
        .await;
    unknown.assert_error(401, "invalid_client");
    wrong.assert_error(401, "invalid_client");
    assert_eq!(unknown.body, wrong.body);
    assert_eq!(unknown.header("www-authenticate"), None);

    let basic_unknown = app.post_token_basic("nobody", &secret, &[GRANT]).await;
    let basic_wrong = app.post_token_basic(&id, "not-the-secret", &[GRANT]).await;
    for answer in [&basic_unknown, &basic_wrong] {
        answer.assert_error(401, "invalid_client");
        let challenge = answer.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
    }
    assert_eq!(basic_unknown.body, basic_wrong.body);

    // No credentials at all, or a client_id without its secret.
    app.post_token(&[GRANT])
        .await
        .assert_error(401, "invalid_client");
    app.post_token(&[GRANT, ("client_id", &id)])
        .await
        .assert_error(401, "invalid_client");
    // A malformed Basic header, and another scheme.
    for header in ["Basic %%%", "Bearer abc"] {
        let answer = app
            .send(
                app.token_request()
                    .header("authorization", header)
                    .form(&[GRANT]),
            )
            .await;
        answer.assert_error(401, "invalid_client");
        assert!(answer.header("www-authenticate").is_some());
    }
}

#[tokio::test]
async fn unauthorized_client_and_unsupported_grant_type() {
    let app = spawn_app().await;
    let (id, secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::AuthorizationCode],
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..ClientMetadata::default()
        })
        .await;
    app.post_token(&[GRANT, ("client_id", &id), ("client_secret", &secret)])
        .await
        .assert_error(400, "unauthorized_client");

    let (id, secret) = app.service_client("read").await;
    for grant in [
        "password",
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "CLIENT_CREDENTIALS",
    ] {
        app.post_token(&[
            ("grant_type", grant),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await
        .assert_error(400, "unsupported_grant_type");
    }
}

#[tokio::test]
async fn invalid_scope_and_invalid_target() {
    let app = spawn_app().await;
    let (id, secret) = app
        .create_client(ClientMetadata {
            scope: "read write".into(),
            audience: vec!["https://api.example.com".into()],
            ..ClientMetadata::default()
        })
        .await;
    let creds = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    for scope in ["admin", "read admin", "read\"quote", "caf\u{e9}"] {
        app.post_token(&[GRANT, creds[0], creds[1], ("scope", scope)])
            .await
            .assert_error(400, "invalid_scope");
    }
    for (name, value) in [
        ("resource", "https://other.example.com"),
        ("resource", "not-a-uri"),
        ("resource", "https://api.example.com#frag"),
        ("audience", "https://other.example.com"),
        (
            "audience",
            "https://api.example.com https://other.example.com",
        ),
    ] {
        app.post_token(&[GRANT, creds[0], creds[1], (name, value)])
            .await
            .assert_error(400, "invalid_target");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = spawn_with(|c| c.limits.max_body_bytes = 4096).await;
    let (id, secret) = app.service_client("read").await;
    let padding = "x".repeat(5000);
    let answer = app
        .post_token(&[
            GRANT,
            ("client_id", &id),
            ("client_secret", &secret),
            ("pad", &padding),
        ])
        .await;
    answer.assert_error(413, "invalid_request");

    // Chunked, so no Content-Length announces it.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let chunk = "a".repeat(3000);
    let request = format!(
        "POST /token HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         bb8\r\n{chunk}\r\nbb8\r\n{chunk}\r\n0\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"invalid_request\""), "{response}");
}

#[tokio::test]
async fn too_many_fields_and_too_long_fields_are_invalid_requests() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;
    let base = [GRANT, ("client_id", &id), ("client_secret", &secret)];
    let with = |extra| [base[0], base[1], base[2], extra];

    // 65 fields, all well within the body limit.
    let names: Vec<String> = (0..62).map(|i| format!("x{i}")).collect();
    let mut fields = base.to_vec();
    fields.extend(names.iter().map(|n| (n.as_str(), "1")));
    let answer = app.post_token(&fields).await;
    answer.assert_error(400, "invalid_request");
    assert!(
        answer.body.to_string().contains("too many"),
        "{}",
        answer.body
    );

    // A value one byte over the limit, an unknown name over its limit.
    let long_value = "v".repeat(portcullis_core::form::MAX_VALUE_BYTES + 1);
    let answer = app.post_token(&with(("scope", &long_value))).await;
    answer.assert_error(400, "invalid_request");
    assert!(
        answer.body.to_string().contains("'scope' is too long"),
        "{}",
        answer.body
    );
    let long_name = "n".repeat(portcullis_core::form::MAX_NAME_BYTES + 1);
    app.post_token(&with((&long_name, "1")))
        .await
        .assert_error(400, "invalid_request");

    // At the limits, unknown parameters are still ignored (RFC 6749 §3.2).
    let at_limit = "v".repeat(portcullis_core::form::MAX_VALUE_BYTES);
    let name_at_limit = "n".repeat(portcullis_core::form::MAX_NAME_BYTES);
    let answer = app.post_token(&with((&name_at_limit, &at_limit))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // The authorization endpoint refuses the same on its error page, without redirecting.
    let query = format!("client_id={id}&response_type=code&state={long_value}");
    let response = reqwest::get(format!("{}/authorize?{query}", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("is too long"));
}

#[tokio::test]
async fn no_input_makes_a_5xx() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces = [
        "grant_type=client_credentials",
        "client_id=",
        id.as_str(),
        "client_secret=",
        secret.as_str(),
        "&",
        "=",
        "%",
        "%zz",
        "%ff%fe",
        "+",
        "scope=",
        "resource=",
        "audience=",
        "\u{0}",
        "\u{202e}",
        "&&",
        "==",
        "grant_type=",
        "client_credentials",
        "%0a",
        "read",
    ];
    for _ in 0..400 {
        let mut body = String::new();
        for _ in 0..(next() % 12) {
            body.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let mut request = app
            .token_request()
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if next() % 3 == 0 {
            let raw: Vec<u8> = (0..(next() % 40))
                .map(|_| (next() % 94 + 33) as u8)
                .collect();
            request = request.header(
                "authorization",
                format!("Basic {}", String::from_utf8(raw).unwrap()),
            );
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.as_u16() < 500, "{status} for {body:?}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            json["error"].is_string() || json["access_token"].is_string(),
            "{text}"
        );
    }
}
