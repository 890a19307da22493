//! DPoP-bound tokens at the API (RFC 9449 §7): a token Portcullis bound to a key passes
//! `BearerLayer` only as `Authorization: DPoP` with a proof by that key for this request, once;
//! nonces when the API asks for them; the challenges of §7.1.

use crate::fixtures::TestKey;
use crate::helpers::{API, issuer};
use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::Clock;
use portcullis_resource::{AccessToken, BearerLayer};
use portcullis_server::client::ClientMetadata;
use serde_json::{Value, json};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn jti() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("r-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A proof by `key` for `htm htu`, with `extra` claims.
fn proof(key: &TestKey, htm: &str, htu: &str, now: i64, extra: Value) -> String {
    let mut claims = json!({"jti": jti(), "htm": htm, "htu": htu, "iat": now});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    key.sign(
        "ES256",
        json!({"typ": "dpop+jwt", "jwk": Value::Object(key.jwk())}),
        &claims,
    )
}

fn ath(token: &str) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

#[tokio::test]
async fn a_bound_token_passes_only_with_a_proof_by_its_key() {
    let iss = issuer().await;
    let (id, secret) = iss
        .client(ClientMetadata {
            scope: "read".into(),
            audience: vec![API.into()],
            ..ClientMetadata::default()
        })
        .await;
    let key = TestKey::p256();
    let now = || iss.clock.now().0;
    // A token from Portcullis's token endpoint, bound to the key (its nonce fetched first).
    let token_url = format!("{}/token", iss.base);
    let ask = |dpop: String| {
        iss.http
            .post(&token_url)
            .basic_auth(&id, Some(&secret))
            .header("dpop", dpop)
            .form(&[("grant_type", "client_credentials")])
    };
    let first = ask(proof(&key, "POST", &token_url, now(), json!({})))
        .send()
        .await
        .unwrap();
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let answer: Value = ask(proof(
        &key,
        "POST",
        &token_url,
        now(),
        json!({ "nonce": nonce }),
    ))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    let at = answer["access_token"].as_str().unwrap().to_owned();

    let validator = iss.validator().build();
    let app = Router::new()
        .route("/data", get(|t: AccessToken| async move { t.subject }))
        .layer(BearerLayer::new(validator, "api"));
    let base = serve(app).await;
    let url = format!("{base}/data");
    let http = reqwest::Client::new();
    let call = |scheme: &str, dpop: Option<String>| {
        let mut r = http
            .get(&url)
            .header("authorization", format!("{scheme} {at}"));
        if let Some(p) = dpop {
            r = r.header("dpop", p);
        }
        r.send()
    };
    let good = proof(&key, "GET", &url, now(), json!({ "ath": ath(&at) }));
    let ok = call("DPoP", Some(good.clone())).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), id);
    // Once only.
    let again = call("DPoP", Some(good)).await.unwrap();
    assert_eq!(again.status(), 401);
    let challenge = again.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("DPoP realm=\"api\", algs=\"ES256")
            && challenge.contains("invalid_dpop_proof"),
        "{challenge}"
    );
    let other = TestKey::p256();
    for (case, scheme, p) in [
        ("as a bearer token", "Bearer", None),
        ("without a proof", "DPoP", None),
        (
            "another key",
            "DPoP",
            Some(proof(
                &other,
                "GET",
                &url,
                now(),
                json!({ "ath": ath(&at) }),
            )),
        ),
        (
            "without ath",
            "DPoP",
            Some(proof(&key, "GET", &url, now(), json!({}))),
        ),
        (
            "another URL",
            "DPoP",
            Some(proof(
                &key,
                "GET",
                &format!("{base}/other"),
                now(),
                json!({ "ath": ath(&at) }),
            )),
        ),
        (
            "another method",
            "DPoP",
            Some(proof(&key, "POST", &url, now(), json!({ "ath": ath(&at) }))),
        ),
        (
            "too old",
            "DPoP",
            Some(proof(
                &key,
                "GET",
                &url,
                now() - 900,
                json!({ "ath": ath(&at) }),
            )),
        ),
    ] {
        let answer = call(scheme, p).await.unwrap();
        assert_eq!(answer.status(), 401, "{case}");
    }
    // No token at all: both schemes are offered.
    let bare = http.get(&url).send().await.unwrap();
    let offered: Vec<&str> = bare
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        offered.iter().any(|c| c.starts_with("Bearer")),
        "{offered:?}"
    );
    assert!(offered.iter().any(|c| c.starts_with("DPoP")), "{offered:?}");

    // An API that requires nonces hands one out and takes it back.
    let strict = iss.validator().dpop_nonce_secret(&[7u8; 32]).build();
    let app = Router::new()
        .route("/data", get(|t: AccessToken| async move { t.subject }))
        .layer(BearerLayer::new(strict, "api"));
    let base = serve(app).await;
    let url = format!("{base}/data");
    let first = http
        .get(&url)
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            proof(&key, "GET", &url, now(), json!({ "ath": ath(&at) })),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 401);
    assert!(
        first.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let ok = http
        .get(&url)
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            proof(
                &key,
                "GET",
                &url,
                now(),
                json!({ "ath": ath(&at), "nonce": nonce }),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // A token that is not bound stays a bearer token, and cannot pose as a DPoP one.
    let plain = iss.token("read", portcullis_core::Algorithm::ES256).await;
    let as_dpop = http
        .get(format!("{base}/data"))
        .header("authorization", format!("DPoP {plain}"))
        .send()
        .await
        .unwrap();
    assert_eq!(as_dpop.status(), 401);
}

/// What an API must not believe, and where it must still find the URL.
#[tokio::test]
async fn the_url_a_proof_names_is_the_apis_own() {
    let iss = issuer().await;
    let key = TestKey::p256();
    let jkt = {
        let jwk = Value::Object(key.jwk());
        let jwk: portcullis_core::Jwk = serde_json::from_value(jwk).unwrap();
        jwk.thumbprint().unwrap()
    };
    let now = iss.clock.now().0;
    let at = iss
        .sign(
            portcullis_core::Algorithm::ES256,
            json!({
                "iss": iss.base, "sub": "svc", "aud": API, "exp": now + 300, "iat": now,
                "jti": "bound-1", "client_id": "svc", "scope": "read",
                "cnf": { "jkt": jkt },
            }),
            false,
        )
        .await;
    // validate() alone never takes a bound token: it has no proof to look at.
    let plain = iss.validator().build();
    assert!(matches!(
        plain.validate(&at).await,
        Err(portcullis_resource::ValidationError::Invalid(_))
    ));

    // A layer inside a nested router: the proof names the full path.
    let nested = Router::new().nest(
        "/v1",
        Router::new()
            .route("/data", get(|t: AccessToken| async move { t.subject }))
            .route_layer(portcullis_resource::require_scope("write"))
            .layer(BearerLayer::new(iss.validator().build(), "api")),
    );
    let base = serve(nested).await;
    let url = format!("{base}/v1/data");
    let http = reqwest::Client::new();
    let answer = http
        .get(&url)
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            proof(&key, "GET", &url, now, json!({ "ath": ath(&at) })),
        )
        .send()
        .await
        .unwrap();
    // The proof passed; the scope guard refuses, and says so under the DPoP scheme.
    assert_eq!(answer.status(), 403);
    let challenge = answer.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("insufficient_scope"),
        "{challenge}"
    );

    // A Host that is not loopback is not believed without public_url…
    let app = |validator| {
        Router::new()
            .route("/data", get(|t: AccessToken| async move { t.subject }))
            .layer(BearerLayer::new(validator, "api"))
    };
    let base = serve(app(iss.validator().build())).await;
    let claimed = "https://api.example.com/data";
    let refused = http
        .get(format!("{base}/data"))
        .header("host", "api.example.com")
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            proof(&key, "GET", claimed, now, json!({ "ath": ath(&at) })),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    // …and with it, the configured URL is what a proof must name, whatever the Host says.
    let base = serve(app(iss
        .validator()
        .public_url("https://api.example.com/")
        .build()))
    .await;
    let ok = http
        .get(format!("{base}/data"))
        .header("host", "elsewhere.example")
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            proof(&key, "GET", claimed, now, json!({ "ath": ath(&at) })),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let wrong = http
        .get(format!("{base}/data"))
        .header("authorization", format!("DPoP {at}"))
        .header(
            "dpop",
            proof(
                &key,
                "GET",
                &format!("{base}/data"),
                now,
                json!({ "ath": ath(&at) }),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}
