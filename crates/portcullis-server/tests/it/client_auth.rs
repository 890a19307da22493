//! RFC 6749 §2.3.1: client_secret_basic (with its form-urlencoding) and client_secret_post.

use crate::helpers::spawn_app;
use portcullis_core::TokenEndpointAuthMethod;
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;

#[tokio::test]
async fn client_secret_post_as_the_seed_script_sends_it() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;
    let answer = app.client_credentials(&id, &secret).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 900);
    assert_eq!(answer.body["scope"], "read");
    assert!(
        answer.body["access_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn client_secret_basic() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;
    let answer = app
        .post_token_basic(&id, &secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The body may repeat the same client_id.
    let answer = app
        .post_token_basic(
            &id,
            &secret,
            &[("grant_type", "client_credentials"), ("client_id", &id)],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_before_base64() {
    let app = spawn_app().await;
    let hasher = app.hasher().await;
    let id = "svc:%+x&y=z";
    let secret = "s3cret with spaces:+%&=/ and more than 32 chars";
    ClientAdmin::new(app.store.as_ref(), &hasher, portcullis_core::UnixTime(0))
        .create(
            Some(portcullis_core::ClientId::parse(id).unwrap()),
            ClientMetadata::default(),
            SecretSource::Given(portcullis_core::Secret::new(secret)),
        )
        .await
        .unwrap();
    app.registry.refresh().await.unwrap();

    let encoded = app
        .post_token_basic(id, secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(encoded.status, 200, "{}", encoded.body);

    // Sent without the inner encoding, '+' means a space and the secret no longer matches.
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let unencoded = app
        .send(
            app.token_request()
                .header("authorization", format!("Basic {raw}"))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    unencoded.assert_error(401, "invalid_client");

    // client_secret_post carries the same values through ordinary form encoding.
    let post = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(post.status, 200, "{}", post.body);
}

#[tokio::test]
async fn a_registered_method_is_the_only_one_accepted() {
    let app = spawn_app().await;
    let (basic_id, basic_secret) = app
        .create_client(ClientMetadata {
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::ClientSecretBasic),
            ..ClientMetadata::default()
        })
        .await;
    let (post_id, post_secret) = app
        .create_client(ClientMetadata {
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::ClientSecretPost),
            ..ClientMetadata::default()
        })
        .await;
    let grant = ("grant_type", "client_credentials");

    let ok = app
        .post_token_basic(&basic_id, &basic_secret, &[grant])
        .await;
    assert_eq!(ok.status, 200);
    let wrong = app
        .post_token(&[
            grant,
            ("client_id", &basic_id),
            ("client_secret", &basic_secret),
        ])
        .await;
    wrong.assert_error(401, "invalid_client");

    let ok = app
        .post_token(&[
            grant,
            ("client_id", &post_id),
            ("client_secret", &post_secret),
        ])
        .await;
    assert_eq!(ok.status, 200);
    let wrong = app.post_token_basic(&post_id, &post_secret, &[grant]).await;
    wrong.assert_error(401, "invalid_client");
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
}
