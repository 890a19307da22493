//! Scope and audience selection for client_credentials (RFC 6749 §3.3, RFC 8707).

use crate::helpers::spawn_app;
use crate::jwt::verify;
use portcullis_server::client::ClientMetadata;
use serde_json::json;

#[tokio::test]
async fn scope_defaults_and_subsets() {
    let app = spawn_app().await;
    let (id, secret) = app
        .create_client(ClientMetadata {
            scope: "read write admin".into(),
            default_scope: Some("read".into()),
            ..ClientMetadata::default()
        })
        .await;
    let ask = |scope: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.to_owned()));
        }
        form
    };
    let answer = app.send(app.token_request().form(&ask(None))).await;
    assert_eq!(answer.body["scope"], "read");
    let answer = app
        .send(app.token_request().form(&ask(Some("write  read"))))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let granted: Vec<&str> = answer.body["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(granted.len(), 2);
    assert!(granted.contains(&"read") && granted.contains(&"write"));
    let (_, claims) = verify(
        &app,
        answer.body["access_token"].as_str().unwrap(),
        &app.issuer,
    )
    .await;
    assert_eq!(claims["scope"], answer.body["scope"]);
}

#[tokio::test]
async fn audience_from_resource_or_audience_or_registration() {
    let app = spawn_app().await;
    let (a, b) = ("https://a.example.com/api", "https://b.example.com");
    let (id, secret) = app
        .create_client(ClientMetadata {
            audience: vec![a.into(), b.into()],
            ..ClientMetadata::default()
        })
        .await;
    let token = |extra: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            let mut form = vec![
                ("grant_type", "client_credentials".to_owned()),
                ("client_id", id),
                ("client_secret", secret),
            ];
            form.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
            let answer = app.send(app.token_request().form(&form)).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            let jwt = answer.body["access_token"].as_str().unwrap().to_owned();
            let (_, claims) = verify(app, &jwt, "https://a.example.com/api").await;
            claims["aud"].clone()
        }
    };
    assert_eq!(token(vec![]).await, json!([a, b]));
    assert_eq!(
        token(vec![("resource", "https://a.example.com/api")]).await,
        json!(a)
    );
    assert_eq!(
        token(vec![("audience", "https://a.example.com/api")]).await,
        json!(a)
    );
    assert_eq!(
        token(vec![
            ("resource", "https://a.example.com/api"),
            ("resource", "https://b.example.com")
        ])
        .await,
        json!([a, b])
    );
    assert_eq!(
        token(vec![(
            "audience",
            "https://b.example.com https://a.example.com/api"
        )])
        .await,
        json!([b, a])
    );
}

#[tokio::test]
async fn with_no_audience_registered_the_issuer_is_the_audience() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("").await;
    for extra in [None, Some(app.issuer.clone())] {
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ];
        if let Some(issuer) = extra {
            form.push(("resource", issuer));
        }
        let answer = app.send(app.token_request().form(&form)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let (_, claims) = verify(
            &app,
            answer.body["access_token"].as_str().unwrap(),
            &app.issuer,
        )
        .await;
        assert_eq!(claims["aud"], json!(app.issuer));
    }
    let answer = app
        .send(app.token_request().form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("resource", "https://elsewhere.example.com"),
        ]))
        .await;
    answer.assert_error(400, "invalid_target");
}
