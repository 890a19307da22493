//! `login` checks the ID token it gets (OpenID Connect Core §3.1.3.7): against an issuer started
//! in the test that signs one ID token per case, right or wrong in one way. The loopback page the
//! browser lands on says how the sign-in ended.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_client::{ClientError, LoginSettings};
use portcullis_core::{Clock, SystemClock};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Good,
    WrongNonce,
    WrongAudience,
    WrongIssuer,
    Expired,
    BadSignature,
    Missing,
}

struct Issuer {
    base: String,
    key: EcdsaKeyPair,
    case: Mutex<Case>,
    nonce: Mutex<String>,
}

fn sign(issuer: &Issuer, claims: &Value) -> String {
    let header = B64.encode(json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}).to_string());
    let body = B64.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let signature = issuer
        .key
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", B64.encode(signature.as_ref()))
}

async fn metadata(State(iss): State<Arc<Issuer>>) -> Response {
    axum::Json(json!({
        "issuer": iss.base,
        "authorization_endpoint": format!("{}/authorize", iss.base),
        "token_endpoint": format!("{}/token", iss.base),
        "jwks_uri": format!("{}/jwks", iss.base),
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

async fn authorize(
    State(iss): State<Arc<Issuer>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    *iss.nonce.lock().unwrap() = q["nonce"].clone();
    let mut target = form_urlencoded::Serializer::new(String::new());
    target
        .append_pair("code", "the-code")
        .append_pair("state", &q["state"])
        .append_pair("iss", &iss.base);
    let location = format!("{}?{}", q["redirect_uri"], target.finish());
    (StatusCode::SEE_OTHER, [("location", location)]).into_response()
}

async fn token(State(iss): State<Arc<Issuer>>) -> Response {
    let case = *iss.case.lock().unwrap();
    let now = SystemClock.now().0;
    let mut claims = json!({
        "iss": iss.base,
        "sub": "user-1",
        "aud": "cli-app",
        "exp": now + 600,
        "iat": now,
        "nonce": *iss.nonce.lock().unwrap(),
    });
    match case {
        Case::WrongNonce => claims["nonce"] = json!("someone-elses-nonce"),
        Case::WrongAudience => claims["aud"] = json!("another-app"),
        Case::WrongIssuer => claims["iss"] = json!("https://evil.example"),
        Case::Expired => claims["exp"] = json!(now - 3600),
        _ => {}
    }
    let mut id_token = sign(&iss, &claims);
    if case == Case::BadSignature {
        let (input, _) = id_token.rsplit_once('.').unwrap();
        id_token = format!("{input}.{}", B64.encode([7u8; 64]));
    }
    let mut answer = json!({"access_token": "at", "token_type": "Bearer", "expires_in": 600});
    if case != Case::Missing {
        answer["id_token"] = json!(id_token);
    }
    axum::Json(answer).into_response()
}

async fn jwks(State(iss): State<Arc<Issuer>>) -> Response {
    let point = iss.key.public_key().as_ref();
    axum::Json(json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
        "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
    }]}))
    .into_response()
}

async fn start() -> Arc<Issuer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = Arc::new(Issuer {
        base: format!("http://{}", listener.local_addr().unwrap()),
        key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        case: Mutex::new(Case::Good),
        nonce: Mutex::new(String::new()),
    });
    let app = Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(issuer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

/// One sign-in: the browser follows the authorize URL to the loopback page; returns the result
/// and the page the browser was shown.
async fn sign_in(issuer: &Issuer) -> (Result<(), ClientError>, String) {
    let mut settings = LoginSettings::new(&issuer.base, "cli-app");
    settings.wait = std::time::Duration::from_secs(10);
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let browser = tokio::spawn(async move {
        let url = rx.await.unwrap();
        // reqwest follows the redirect to the loopback listener, as a browser would.
        reqwest::get(url).await.unwrap().text().await.unwrap()
    });
    let result = portcullis_client::login(&settings, &SystemClock, |url| {
        tx.send(url.to_owned()).unwrap();
    })
    .await
    .map(|_| ());
    (result, browser.await.unwrap())
}

#[tokio::test]
async fn the_id_token_is_checked_and_the_page_says_how_it_ended() {
    let issuer = start().await;
    let (result, page) = sign_in(&issuer).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        page.contains("Signed in") && page.contains("class=\"card\""),
        "{page}"
    );

    for (case, says) in [
        (Case::WrongNonce, "nonce"),
        (Case::WrongAudience, "aud"),
        (Case::WrongIssuer, "iss"),
        (Case::Expired, "expired"),
        (Case::BadSignature, "signature"),
        (Case::Missing, "no id_token"),
    ] {
        *issuer.case.lock().unwrap() = case;
        let (result, page) = sign_in(&issuer).await;
        match result {
            Err(ClientError::IdToken(why)) => assert!(why.contains(says), "{case:?}: {why}"),
            other => panic!("{case:?}: {other:?}"),
        }
        assert!(page.contains("Sign-in failed"), "{case:?}: {page}");
        assert!(page.contains(says), "{case:?}: the page says why: {page}");
    }
}
