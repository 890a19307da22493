//! What a library user embedding the client needs: their own HTTP client (here, one that goes
//! through a proxy, the only way to reach the token endpoint).

use crate::fake::{json, start};
use portcullis_client::{ClientCredentials, Endpoint, TokenSource};

#[tokio::test]
async fn a_source_sends_through_the_callers_http_client() {
    // The "proxy" is the fake token endpoint itself: a proxied request names the absolute URL
    // (`POST http://token.invalid/token`), which it serves by its path.
    let fake = start(vec![json(
        200,
        r#"{"access_token":"via-proxy","token_type":"Bearer","expires_in":300}"#,
    )])
    .await;
    let proxy = fake.url.trim_end_matches("/token").to_owned();
    let credentials = || {
        ClientCredentials::new(
            Endpoint::TokenUrl("http://token.invalid/token".into()),
            "embedded",
            "embedded-secret",
        )
        .retries(1, std::time::Duration::from_secs(1))
    };
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(&proxy).unwrap())
        .build()
        .unwrap();
    let token = TokenSource::with_http_client(credentials(), http)
        .token()
        .await
        .unwrap();
    assert_eq!(token.access_token.expose(), "via-proxy");
    assert_eq!(fake.hits(), 1);
    // Without it, the host does not resolve.
    assert!(TokenSource::new(credentials()).token().await.is_err());
    assert_eq!(fake.hits(), 1);
}
