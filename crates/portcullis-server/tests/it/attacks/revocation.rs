//! RFC 7009 §2.1: a public client may revoke its own tokens (it names itself with client_id), and
//! a client asking to revoke another client's token is refused with `unauthorized_client`.

use crate::helpers::{Answer, TestApp, spawn_app};
use crate::sign_in::flow::{party, refresh, tokens};
use portcullis_core::TokenEndpointAuthMethod;

async fn revoke(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Answer {
    let mut request = app.http.post(format!("{}/revoke", app.base)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    }
}

#[tokio::test]
async fn a_public_client_revokes_its_own_tokens_at_logout() {
    let app = spawn_app().await;
    let spa = party(&app, |m| {
        m.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None);
    })
    .await;
    let issued = tokens(&app, &spa).await;
    let refresh_token = issued.body["refresh_token"].as_str().unwrap().to_owned();
    let answer = revoke(
        &app,
        &[
            ("token", refresh_token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", spa.client_id.as_str()),
        ],
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    refresh(&app, &spa, &refresh_token, None)
        .await
        .assert_error(400, "invalid_grant");
    // An unknown token is still a quiet 200.
    let answer = revoke(
        &app,
        &[
            ("token", "no-such-token"),
            ("client_id", spa.client_id.as_str()),
        ],
        None,
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn another_clients_token_is_refused_with_unauthorized_client() {
    let app = spawn_app().await;
    let (owner_id, owner_secret) = app.service_client("read").await;
    let (other_id, other_secret) = app.service_client("read").await;
    let token = app.client_credentials(&owner_id, &owner_secret).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = revoke(
        &app,
        &[("token", token.as_str())],
        Some((&other_id, &other_secret)),
    )
    .await;
    answer.assert_error(400, "unauthorized_client");

    // A refresh token of another client, too.
    let web = party(&app, |_| {}).await;
    let issued = tokens(&app, &web).await;
    let refresh_token = issued.body["refresh_token"].as_str().unwrap().to_owned();
    let answer = revoke(
        &app,
        &[("token", refresh_token.as_str())],
        Some((&other_id, &other_secret)),
    )
    .await;
    answer.assert_error(400, "unauthorized_client");
    assert_eq!(refresh(&app, &web, &refresh_token, None).await.status, 200);

    // Unknown and already invalid tokens still get 200.
    let answer = revoke(
        &app,
        &[("token", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")],
        Some((&other_id, &other_secret)),
    )
    .await;
    assert_eq!(answer.status, 200);
}
