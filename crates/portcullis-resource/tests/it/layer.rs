//! The axum layer and extractor in a real API: RFC 6750 answers.

use crate::helpers::{API, issuer};
use axum::Router;
use axum::routing::get;
use portcullis_core::Algorithm;
use portcullis_resource::{AccessToken, BearerLayer, Claims, require_scope};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_layer_answers_per_rfc_6750() {
    let iss = issuer().await;
    let validator = iss.validator().build();
    let app = Router::new()
        .route(
            "/data",
            get(|t: AccessToken| async move { format!("hello {}", t.subject) }),
        )
        .route(
            "/admin",
            get(|| async { "admin" }).layer(require_scope("admin")),
        )
        .layer(BearerLayer::new(validator, "photos-api"));
    let api = serve(app).await;
    let http = reqwest::Client::new();
    let token = iss.token("read", Algorithm::ES256).await;

    let ok = http
        .get(format!("{api}/data"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().starts_with("hello "));

    let none = http.get(format!("{api}/data")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"photos-api\""
    );

    let bad = http
        .get(format!("{api}/data"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    let malformed = http
        .get(format!("{api}/data"))
        .header("authorization", "Bearer two words")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );

    let scope = http
        .get(format!("{api}/admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(scope.status(), 403);
    let challenge = scope.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"photos-api\""),
        "the realm of the layer in front: {challenge}"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"admin\""),
        "{challenge}"
    );

    // A token for another audience.
    let other =
        portcullis_resource::Validator::builder(&iss.base, "https://elsewhere.example.com").build();
    let app = Router::new()
        .route("/data", get(|| async { "x" }))
        .layer(BearerLayer::new(other, "elsewhere"));
    let api2 = serve(app).await;
    let wrong = http
        .get(format!("{api2}/data"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let _ = API;
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_fixed_503_with_no_detail() {
    let iss = issuer().await;
    let token = iss.token("read", Algorithm::ES256).await;
    // An issuer where nothing listens: fetching its keys fails.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    // Local validation (the JWKS cannot be fetched) and introspection (the endpoint cannot be
    // found) alike.
    let local = portcullis_resource::Validator::builder(&dead, API).build();
    let introspecting = portcullis_resource::Validator::builder(&dead, API)
        .introspection(
            "api-client",
            "api-secret-api-secret-api-secret-00",
            std::time::Duration::from_secs(10),
        )
        .build();
    for validator in [local, introspecting] {
        let app = Router::new()
            .route("/data", get(|t: AccessToken| async move { t.subject }))
            .layer(BearerLayer::new(validator, "api"));
        let api = serve(app).await;
        let answer = reqwest::Client::new()
            .get(format!("{api}/data"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 503);
        let challenge = answer.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = answer.text().await.unwrap();
        assert!(body.contains("cannot be checked right now"), "{body}");
        let port = dead.rsplit(':').next().unwrap();
        for leak in [
            dead.as_str(),
            port,
            "connect",
            "refused",
            "tcp",
            "sending request",
        ] {
            assert!(
                !body.to_lowercase().contains(leak) && !challenge.to_lowercase().contains(leak),
                "{leak:?} reaches an anonymous caller: {body} / {challenge}"
            );
        }
    }
}

/// What axum users expect: typed claims, a route where the token is optional, and scope guards
/// that compose.
#[tokio::test]
async fn typed_claims_optional_tokens_and_composed_scope_guards() {
    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
        client_id: String,
    }
    #[derive(serde::Deserialize)]
    struct Entra {
        #[allow(dead_code)]
        tid: String,
    }
    let iss = issuer().await;
    let validator = iss.validator().build();
    let guarded = require_scope("write").or("admin").and("read");
    let app = Router::new()
        .route(
            "/mine",
            get(|Claims(c): Claims<Mine>| async move { format!("{} {}", c.sub, c.client_id) }),
        )
        .route("/entra", get(|_: Claims<Entra>| async { "entra" }))
        .route("/guarded", get(|| async { "in" }).layer(guarded))
        .layer(BearerLayer::new(validator.clone(), "api"));
    let open = Router::new()
        .route(
            "/greeting",
            get(|t: Option<AccessToken>| async move {
                t.map_or("hello, stranger".to_owned(), |t| {
                    format!("hello, {}", t.subject)
                })
            }),
        )
        .layer(BearerLayer::optional(validator, "api"));
    let (api, open_api) = (serve(app).await, serve(open).await);
    let http = reqwest::Client::new();
    let get_with = |url: String, token: Option<String>| {
        let request = http.get(url);
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let challenge = answer
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, challenge, answer.text().await.unwrap())
        }
    };
    let read_write = iss.token("read write", Algorithm::ES256).await;
    let read = iss.token("read", Algorithm::ES256).await;
    let admin = iss.token("admin", Algorithm::ES256).await;

    // Typed claims: they fit, or the token is refused as invalid.
    let (status, _, body) = get_with(format!("{api}/mine"), Some(read.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.split(' ').count(), 2);
    let (status, challenge, _) = get_with(format!("{api}/entra"), Some(read.clone())).await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains("invalid_token"));

    // Optional: no token is a stranger, a good one a name, a bad one a refusal.
    let (status, _, body) = get_with(format!("{open_api}/greeting"), None).await;
    assert_eq!((status, body.as_str()), (200, "hello, stranger"));
    let (status, _, body) = get_with(format!("{open_api}/greeting"), Some(read.clone())).await;
    assert!(status == 200 && body.starts_with("hello, ") && body != "hello, stranger");
    let (status, _, _) = get_with(format!("{open_api}/greeting"), Some("garbage".into())).await;
    assert_eq!(status, 401);

    // (write or admin) and read.
    let (status, _, _) = get_with(format!("{api}/guarded"), Some(read_write)).await;
    assert_eq!(status, 200);
    let (status, challenge, _) = get_with(format!("{api}/guarded"), Some(read)).await;
    assert_eq!(status, 403);
    assert!(challenge.unwrap().contains("scope=\"write read\""));
    let (status, _, _) = get_with(format!("{api}/guarded"), Some(admin)).await;
    assert_eq!(status, 403);
}
