//! `device::start` and `device::poll` (RFC 8628) against an issuer started in the test: the codes
//! asked for, then polls answered `authorization_pending` and `slow_down` (every later poll waits
//! 5 s longer) before tokens with an ID token that has no nonce; a declined sign-in, a code that
//! expires unanswered, and an issuer that does not offer the grant.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_client::device::{self, Waiting};
use portcullis_client::{ClientError, LoginSettings};
use portcullis_core::{Clock, SystemClock};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

struct Issuer {
    base: String,
    key: EcdsaKeyPair,
    /// Whether the metadata names a device authorization endpoint.
    offers_the_grant: bool,
    /// The `expires_in` of the codes handed out.
    expires_in: u64,
    /// The token endpoint's answers, one per poll (the last one repeats): an error code, or
    /// `tokens`.
    answers: Vec<&'static str>,
    /// The form of the device authorization request.
    asked: Mutex<Option<HashMap<String, String>>>,
    /// The form of each poll.
    polls: Mutex<Vec<HashMap<String, String>>>,
}

fn form(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
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
    let mut doc = json!({
        "issuer": iss.base,
        "token_endpoint": format!("{}/token", iss.base),
        "jwks_uri": format!("{}/jwks", iss.base),
    });
    if iss.offers_the_grant {
        doc["device_authorization_endpoint"] = json!(format!("{}/device_authorization", iss.base));
    }
    axum::Json(doc).into_response()
}

async fn device_authorization(State(iss): State<Arc<Issuer>>, body: String) -> Response {
    *iss.asked.lock().unwrap() = Some(form(&body));
    axum::Json(json!({
        "device_code": "the-device-code",
        "user_code": "BCDF-GHJK",
        "verification_uri": format!("{}/device", iss.base),
        "verification_uri_complete": format!("{}/device?user_code=BCDF-GHJK", iss.base),
        "expires_in": iss.expires_in,
        "interval": 1,
    }))
    .into_response()
}

async fn token(State(iss): State<Arc<Issuer>>, body: String) -> Response {
    let n = {
        let mut polls = iss.polls.lock().unwrap();
        polls.push(form(&body));
        polls.len() - 1
    };
    let answer = iss.answers[n.min(iss.answers.len() - 1)];
    if answer != "tokens" {
        let error = axum::Json(json!({"error": answer}));
        return (StatusCode::BAD_REQUEST, error).into_response();
    }
    let now = SystemClock.now().0;
    // No nonce: the device grant sends none.
    let id_token = sign(
        &iss,
        &json!({"iss": iss.base, "sub": "user-1", "aud": "tv-app", "exp": now + 600, "iat": now}),
    );
    axum::Json(json!({
        "access_token": "at",
        "token_type": "Bearer",
        "expires_in": 600,
        "refresh_token": "rt",
        "id_token": id_token,
        "scope": "openid offline_access",
    }))
    .into_response()
}

async fn jwks(State(iss): State<Arc<Issuer>>) -> Response {
    let point = iss.key.public_key().as_ref();
    axum::Json(json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
        "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
    }]}))
    .into_response()
}

async fn start(offers_the_grant: bool, expires_in: u64, answers: Vec<&'static str>) -> Arc<Issuer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = Arc::new(Issuer {
        base: format!("http://{}", listener.local_addr().unwrap()),
        key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        offers_the_grant,
        expires_in,
        answers,
        asked: Mutex::new(None),
        polls: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/device_authorization", post(device_authorization))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(issuer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

#[tokio::test]
async fn polling_waits_through_pending_and_slow_down_to_the_tokens() {
    let answers = vec!["authorization_pending", "slow_down", "tokens"];
    let issuer = start(true, 600, answers).await;
    let mut settings = LoginSettings::new(&issuer.base, "tv-app");
    settings.scope = "openid offline_access".into();
    settings.resources = vec!["https://api.example.com".into()];
    let authorization = device::start(&settings).await.unwrap();
    assert_eq!(authorization.user_code, "BCDF-GHJK");
    assert_eq!(authorization.interval, 1);
    let asked = issuer.asked.lock().unwrap().clone().unwrap();
    assert_eq!(asked["client_id"], "tv-app");
    assert_eq!(asked["scope"], "openid offline_access");

    let mut waits = Vec::new();
    let tokens = device::poll(&settings, &authorization, &SystemClock, |w| waits.push(w))
        .await
        .unwrap();
    let intervals: Vec<(bool, u64)> = waits
        .iter()
        .map(|w| match w {
            Waiting::Pending { interval, .. } => (false, interval.as_secs()),
            Waiting::SlowedDown { interval, .. } => (true, interval.as_secs()),
            other => panic!("{other:?}"),
        })
        .collect();
    // Before the first poll, after authorization_pending, then 5 s more after slow_down.
    assert_eq!(intervals, [(false, 1), (false, 1), (true, 6)]);
    assert_eq!(tokens.issuer, issuer.base);
    assert_eq!(tokens.client_id, "tv-app");
    assert_eq!(tokens.token_endpoint, format!("{}/token", issuer.base));
    assert_eq!(tokens.access_token, "at");
    assert_eq!(tokens.refresh_token.as_deref(), Some("rt"));
    assert_eq!(tokens.resources, settings.resources);

    let polls = issuer.polls.lock().unwrap().clone();
    assert_eq!(polls.len(), 3);
    for request in &polls {
        assert_eq!(
            request["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(request["device_code"], "the-device-code");
        assert_eq!(request["client_id"], "tv-app");
        assert_eq!(request["resource"], "https://api.example.com");
    }
}

#[tokio::test]
async fn a_declined_sign_in_and_an_expired_code_end_the_polling() {
    let issuer = start(true, 600, vec!["access_denied"]).await;
    let settings = LoginSettings::new(&issuer.base, "tv-app");
    let authorization = device::start(&settings).await.unwrap();
    match device::poll(&settings, &authorization, &SystemClock, |_| {}).await {
        Err(ClientError::OAuth { error, status, .. }) => {
            assert_eq!((error.as_str(), status), ("access_denied", 400))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(issuer.polls.lock().unwrap().len(), 1);

    // The code lives 2 seconds, and nobody approves it.
    let issuer = start(true, 2, vec!["authorization_pending"]).await;
    let settings = LoginSettings::new(&issuer.base, "tv-app");
    let authorization = device::start(&settings).await.unwrap();
    match device::poll(&settings, &authorization, &SystemClock, |_| {}).await {
        Err(ClientError::SignIn(why)) => assert!(why.contains("expired"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_issuer_without_the_grant_says_so() {
    let issuer = start(false, 600, vec!["tokens"]).await;
    match device::start(&LoginSettings::new(&issuer.base, "tv-app")).await {
        Err(ClientError::Config(problems)) => assert!(
            problems[0].contains("device_authorization_endpoint"),
            "{problems:?}"
        ),
        other => panic!("{other:?}"),
    }
}
