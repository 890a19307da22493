//! OpenID Connect: ID tokens, userinfo, discovery, RP-initiated logout.

use super::flow::{
    Browser, PASSWORD, VERIFIER, authorize_url, exchange, obtain_code, party, tokens,
};
use crate::helpers::spawn_app;
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use portcullis_core::Clock;
use serde_json::Value;

async fn verify_id_token(app: &crate::helpers::TestApp, token: &str, client_id: &str) -> Value {
    let header = decode_header(token).unwrap();
    let jwks: JwkSet = app
        .http
        .get(format!("{}/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&app.issuer]);
    validation.set_audience(&[client_id]);
    decode::<Value>(token, &key, &validation).unwrap().claims
}

#[tokio::test]
async fn id_tokens_carry_the_oidc_claims() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let before = app.clock.now().0;
    let answer = tokens(&app, &p).await;
    let id_token = answer.body["id_token"].as_str().unwrap();
    assert_eq!(
        decode_header(id_token).unwrap().alg,
        jsonwebtoken::Algorithm::RS256,
        "RS256 by default"
    );
    let claims = verify_id_token(&app, id_token, &p.client_id).await;
    assert_eq!(claims["sub"], p.user_id);
    assert_eq!(claims["aud"], p.client_id);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["auth_time"], before);
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    let access = answer.body["access_token"].as_str().unwrap();
    let hash = digest::digest(&digest::SHA256, access.as_bytes());
    assert_eq!(claims["at_hash"], B64.encode(&hash.as_ref()[..16]));
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    // The access token's subject is the user.
    let (_, at) = crate::jwt::verify(&app, access, &app.issuer).await;
    assert_eq!(at["sub"], p.user_id);
    assert_eq!(at["client_id"], p.client_id);
}

#[tokio::test]
async fn claims_follow_the_scope_and_the_client_algorithm() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.id_token_signed_response_alg = Some(portcullis_core::Algorithm::EdDSA)
    })
    .await;
    let mut browser = Browser::new(&app);
    let code = obtain_code(
        &app,
        &mut browser,
        &p,
        &[("scope", "openid"), ("nonce", "")],
    )
    .await["code"]
        .clone();
    let answer = exchange(&app, &p, &code, Some(VERIFIER)).await;
    let id_token = answer.body["id_token"].as_str().unwrap();
    assert_eq!(
        decode_header(id_token).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    let claims = verify_id_token(&app, id_token, &p.client_id).await;
    assert!(claims.get("email").is_none() && claims.get("name").is_none());
    assert!(claims.get("nonce").is_none());

    let mut browser = Browser::new(&app);
    let code =
        obtain_code(&app, &mut browser, &p, &[("scope", "photos:read")]).await["code"].clone();
    let answer = exchange(&app, &p, &code, Some(VERIFIER)).await;
    assert!(
        answer.body.get("id_token").is_none(),
        "no openid, no ID token"
    );
}

#[tokio::test]
async fn userinfo_answers_bearer_requests() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let answer = tokens(&app, &p).await;
    let access = answer.body["access_token"].as_str().unwrap().to_owned();
    let get = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body: Value = get.json().await.unwrap();
    assert_eq!(body["sub"], p.user_id);
    assert_eq!(body["preferred_username"], p.username);
    assert_eq!(body["email"], "alice@example.com");
    let post: Value = app
        .http
        .post(format!("{}/userinfo", app.base))
        .form(&[("access_token", &access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post["sub"], p.user_id);

    for (token, status) in [
        (None, 401),
        (Some("garbage".to_owned()), 401),
        (Some(format!("{access}x")), 401),
    ] {
        let mut request = app.http.get(format!("{}/userinfo", app.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // A client_credentials token has no openid scope.
    let (id, secret) = app.service_client("read").await;
    let cc = app.client_credentials(&id, &secret).await;
    let response = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(cc.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    // Expired.
    app.clock.advance(901);
    let expired = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
}

#[tokio::test]
async fn discovery_lists_the_oidc_endpoints() {
    let app = spawn_app().await;
    let doc = app.get_json("/.well-known/openid-configuration").await.body;
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{}/authorize", app.issuer)
    );
    assert_eq!(doc["userinfo_endpoint"], format!("{}/userinfo", app.issuer));
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{}/logout", app.issuer)
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    for scope in ["openid", "profile", "email", "offline_access"] {
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&scope.into())
        );
    }
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"email".into())
    );
    let grants = doc["grant_types_supported"].as_array().unwrap();
    for g in ["authorization_code", "client_credentials", "refresh_token"] {
        assert!(grants.contains(&g.into()));
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_where_registered() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.post_logout_redirect_uris = vec!["https://app.example.com/bye".into()]
    })
    .await;
    let mut browser = Browser::new(&app);
    let params = obtain_code(&app, &mut browser, &p, &[]).await;
    let id_token = exchange(&app, &p, &params["code"], Some(VERIFIER))
        .await
        .body["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Signed in: a second authorization needs no login.
    let again = browser.get(&authorize_url(&p, &[])).await;
    assert_eq!(again.status, 303);

    let evil = browser
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example.com%2F",
            p.client_id
        ))
        .await;
    assert_eq!(evil.status, 400);
    assert!(evil.location().is_none());
    assert_eq!(
        browser.get(&authorize_url(&p, &[])).await.status,
        303,
        "still signed in"
    );

    let bye = browser
        .get(&format!(
            "/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s1"
        ))
        .await;
    assert_eq!(bye.status, 303);
    assert_eq!(
        bye.location().unwrap(),
        "https://app.example.com/bye?state=s1"
    );
    let after = browser.get(&authorize_url(&p, &[])).await;
    assert_eq!(after.status, 200);
    assert!(
        after.body.contains("name=\"password\""),
        "signed out: the login page again"
    );
    let page = browser.get("/logout").await;
    assert_eq!(page.status, 200);
    let _ = PASSWORD;
}
