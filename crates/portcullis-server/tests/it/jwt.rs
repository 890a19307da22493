//! Access tokens checked by an independent JWT library against the published JWKS (RFC 9068).

use crate::helpers::{TestApp, spawn_app, spawn_with};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use portcullis_core::{Algorithm, Clock};
use portcullis_server::client::ClientMetadata;
use serde_json::Value;

async fn fetch_jwks(app: &TestApp) -> JwkSet {
    let response = app.http.get(format!("{}/jwks.json", app.base)).send().await;
    response.unwrap().json().await.unwrap()
}

/// Verifies `token` with jsonwebtoken and the server's JWKS; returns the header's kid and the claims.
pub async fn verify(app: &TestApp, token: &str, audience: &str) -> (String, Value) {
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.clone().expect("kid");
    let jwks = fetch_jwks(app).await;
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&app.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = decode::<Value>(token, &key, &validation).unwrap();
    (kid, data.claims)
}

async fn token_for(app: &TestApp, id: &str, secret: &str) -> String {
    let answer = app.client_credentials(id, secret).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn es256_by_default_with_every_rfc_9068_claim() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read write").await;
    let now = app.clock.now().0;
    let token = token_for(&app, &id, &secret).await;
    assert_eq!(
        decode_header(&token).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    let (_, claims) = verify(&app, &token, &app.issuer).await;
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["aud"], app.issuer);
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 900);
    let jti = claims["jti"].as_str().unwrap();
    assert!(jti.len() >= 22, "jti carries 128 bits: {jti}");
    // Another token gets another jti.
    let (_, again) = verify(&app, &token_for(&app, &id, &secret).await, &app.issuer).await;
    assert_ne!(again["jti"], claims["jti"]);
}

#[tokio::test]
async fn the_lifetime_and_algorithm_come_from_the_config() {
    let app = spawn_with(|c| {
        c.tokens.access_token_lifetime = portcullis_server::config::Seconds(120);
        c.tokens.signing_alg = Algorithm::RS256;
    })
    .await;
    let (id, secret) = app.service_client("").await;
    let answer = app.client_credentials(&id, &secret).await;
    assert_eq!(answer.body["expires_in"], 120);
    assert!(
        answer.body.get("scope").is_none(),
        "no scope, no scope field"
    );
    let token = answer.body["access_token"].as_str().unwrap();
    assert_eq!(
        decode_header(token).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );
    let (_, claims) = verify(&app, token, &app.issuer).await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    assert!(claims.get("scope").is_none());
}

#[tokio::test]
async fn each_client_may_choose_its_algorithm() {
    let app = spawn_app().await;
    for (alg, expected) in [
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
    ] {
        let (id, secret) = app
            .create_client(ClientMetadata {
                access_token_signed_response_alg: Some(alg),
                ..ClientMetadata::default()
            })
            .await;
        let token = token_for(&app, &id, &secret).await;
        assert_eq!(decode_header(&token).unwrap().alg, expected);
        let (_, claims) = verify(&app, &token, &app.issuer).await;
        assert_eq!(claims["client_id"], id);
    }
}

#[tokio::test]
async fn a_tampered_token_does_not_verify() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("read").await;
    let token = token_for(&app, &id, &secret).await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = "admin".into();
    parts[1] = b64.encode(serde_json::to_vec(&claims).unwrap());
    let forged = parts.join(".");
    let header = decode_header(&forged).unwrap();
    let jwks = fetch_jwks(&app).await;
    let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&app.issuer]);
    assert!(decode::<Value>(&forged, &key, &validation).is_err());
}
