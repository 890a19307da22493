//! RFC 7591 §2 and OpenID Connect Registration rules: each refused registration names its error.

use super::{initial_token, register, registering, web_app};
use serde_json::{Value, json};

fn with(changes: Value) -> Value {
    let mut body = web_app();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

#[tokio::test]
async fn each_broken_rule_is_refused_with_its_error() {
    let app = registering().await;
    let token = initial_token(&app, 3600, None).await;
    let cases = [
        (
            json!({"redirect_uris": ["http://photos.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://localhost/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://photos.example.com/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://photos.example.com/cb"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": null}), "invalid_redirect_uri"),
        (
            json!({"application_type": "native", "token_endpoint_auth_method": "none",
                   "redirect_uris": ["myapp:/callback"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"application_type": "native", "token_endpoint_auth_method": "none",
                   "redirect_uris": ["http://192.168.1.2/callback"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"application_type": "desktop"}),
            "invalid_client_metadata",
        ),
        (
            json!({"response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (json!({"response_types": []}), "invalid_client_metadata"),
        (
            json!({"grant_types": ["client_credentials"], "response_types": ["code"],
                   "redirect_uris": null}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"],
                   "redirect_uris": null, "response_types": null}),
            "invalid_client_metadata",
        ),
        (json!({"scope": "openid admin"}), "invalid_client_metadata"),
        (
            json!({"client_name": "x".repeat(201)}),
            "invalid_client_metadata",
        ),
        (
            json!({"id_token_signed_response_alg": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt",
                   "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"software_statement": "eyJ.eyJ.sig"}),
            "unapproved_software_statement",
        ),
    ];
    for (changes, error) in cases {
        let body = with(changes.clone());
        let answer = register(&app, Some(&token), &body).await;
        assert_eq!(
            (answer.status.as_u16(), answer.error()),
            (400, error),
            "{changes}: {}",
            answer.body
        );
        assert!(answer.body["error_description"].is_string());
    }
    // A body that is not a JSON object, or not JSON.
    for (content_type, body) in [
        ("application/json", "[1, 2]"),
        ("application/json", "{not json"),
        ("application/x-www-form-urlencoded", "client_name=x"),
    ] {
        let answer = app
            .send(
                app.http
                    .post(format!("{}/register", app.base))
                    .bearer_auth(&token)
                    .header("content-type", content_type)
                    .body(body),
            )
            .await;
        answer.assert_error(400, "invalid_client_metadata");
    }
    // What is allowed: a native app on a loopback port or a reversed-domain scheme, an https web app.
    for good in [
        json!({"application_type": "native", "token_endpoint_auth_method": "none",
               "redirect_uris": ["http://127.0.0.1/callback", "com.example.photos:/callback"]}),
        json!({"token_endpoint_auth_method": "client_secret_post"}),
        json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
               "token_endpoint_auth_method": "none", "redirect_uris": null}),
    ] {
        let answer = register(&app, Some(&token), &with(good.clone())).await;
        assert_eq!(answer.status, 201, "{good}: {}", answer.body);
        let public = good["token_endpoint_auth_method"] == "none";
        assert_eq!(
            answer.body.get("client_secret").is_none(),
            public,
            "{}",
            answer.body
        );
    }
}
