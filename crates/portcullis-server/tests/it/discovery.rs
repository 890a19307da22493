//! RFC 8414 metadata and its OpenID Connect Discovery twin.

use crate::helpers::spawn_with;

#[tokio::test]
async fn both_metadata_documents_describe_this_issuer() {
    let app = spawn_with(|_| {}).await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let doc = app.get_json(path).await;
        assert_eq!(doc.status, 200);
        assert_eq!(doc.body["issuer"], app.issuer);
        assert_eq!(doc.body["token_endpoint"], format!("{}/token", app.base));
        assert_eq!(doc.body["jwks_uri"], format!("{}/jwks.json", app.base));
        assert_eq!(
            doc.body["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        let methods = doc.body["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(methods.contains(&"client_secret_basic".into()));
        assert!(methods.contains(&"client_secret_post".into()));
        // The jwks_uri the document names is the one that answers.
        let jwks = app
            .http
            .get(doc.body["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.status(), 200);
    }
}

#[tokio::test]
async fn a_configured_issuer_is_used_verbatim() {
    let app = spawn_with(|c| c.issuer = Some("https://id.example.com".parse().unwrap())).await;
    let doc = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(doc.body["issuer"], "https://id.example.com");
    assert_eq!(doc.body["token_endpoint"], "https://id.example.com/token");
}
