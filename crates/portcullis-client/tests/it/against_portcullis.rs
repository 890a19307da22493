//! Against a real Portcullis server: both authentication methods, discovery, the shared cache, and
//! the 401-retry of the API helpers.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use portcullis_client::{
    AuthMethod, BearerAuth, ClientCredentials, Endpoint, TokenSource, send_with_token,
};
use portcullis_core::{Clock, SystemClock};
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use portcullis_server::client_secret::SecretHasher;
use portcullis_server::{Config, Server};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Issuer {
    base: String,
    id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

async fn issuer() -> Issuer {
    issuer_with(ClientMetadata {
        scope: "read write".into(),
        ..ClientMetadata::default()
    })
    .await
}

/// A running server with one client of this metadata (`secret` is empty when it has none).
async fn issuer_with(metadata: ClientMetadata) -> Issuer {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", dir.path().join("c.db").display()),
        ..Config::default()
    };
    let server = Server::build(config, Arc::new(SystemClock)).await.unwrap();
    let base = server.issuer().to_owned();
    let (store, registry) = (server.store(), server.registry());
    let hasher = SecretHasher::load(store.as_ref()).await.unwrap();
    let saved = ClientAdmin::new(store.as_ref(), &hasher, SystemClock.now())
        .create(None, metadata, SecretSource::Generate)
        .await
        .unwrap();
    registry.refresh().await.unwrap();
    tokio::spawn(server.run_until(std::future::pending()));
    Issuer {
        base,
        id: saved.client_id.to_string(),
        secret: saved
            .secret
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
        _dir: dir,
    }
}

#[tokio::test]
async fn both_methods_discovery_and_a_shared_cache() {
    let iss = issuer().await;
    for method in [AuthMethod::Basic, AuthMethod::Post] {
        let c = ClientCredentials::new(
            Endpoint::TokenUrl(format!("{}/token", iss.base)),
            &iss.id,
            &iss.secret,
        )
        .auth_method(method)
        .scope("read");
        let t = TokenSource::new(c).token().await.unwrap();
        assert_eq!(t.scope.as_deref(), Some("read"));
        assert_eq!(t.expires_in, Some(std::time::Duration::from_secs(900)));
    }
    let c = ClientCredentials::new(Endpoint::Issuer(iss.base.clone()), &iss.id, &iss.secret)
        .scope("write");
    let first = TokenSource::new(c.clone());
    let second = TokenSource::new(c);
    let a = first.token().await.unwrap();
    let b = second.token().await.unwrap();
    assert!(
        a.access_token.ct_eq(&b.access_token),
        "same settings, same cache"
    );
    assert_eq!(first.requests_sent(), 1);

    // Same endpoint, client and scope as the cached token, another secret: not served from the cache.
    let wrong = ClientCredentials::new(
        Endpoint::Issuer(iss.base.clone()),
        &iss.id,
        "not-the-secret",
    )
    .scope("write");
    let e = TokenSource::new(wrong)
        .token()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid_client"), "{e}");
    let mismatch = ClientCredentials::new(
        Endpoint::Issuer(format!("{}/", iss.base)),
        &iss.id,
        &iss.secret,
    );
    // One rule for issuers (RFC 8414 §3.3): identical, and a trailing '/' is part of it; the
    // message says that is all that differs.
    let e = TokenSource::new(mismatch)
        .token()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("trailing '/'"), "{e}");
}

/// An API that refuses the first token it sees and accepts any other.
async fn picky_api() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let first: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let counter = calls.clone();
    let app = Router::new().route(
        "/data",
        get(move |headers: HeaderMap| {
            let (first, counter) = (first.clone(), counter.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut seen = first.lock().unwrap();
                match seen.as_ref() {
                    None => {
                        *seen = Some(auth);
                        StatusCode::UNAUTHORIZED
                    }
                    Some(old) if *old == auth => StatusCode::UNAUTHORIZED,
                    Some(_) => StatusCode::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/data"), calls)
}

#[tokio::test]
async fn a_401_gets_one_fresh_token_and_one_retry() {
    let iss = issuer().await;
    let source = TokenSource::with_clock(
        ClientCredentials::new(
            Endpoint::TokenUrl(format!("{}/token", iss.base)),
            &iss.id,
            &iss.secret,
        ),
        Arc::new(SystemClock),
    );
    let (url, calls) = picky_api().await;
    let http = reqwest::Client::new();
    let response = send_with_token(&http, &source, http.get(&url).build().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(source.requests_sent(), 2, "one fresh token after the 401");

    let source = TokenSource::with_clock(
        ClientCredentials::new(
            Endpoint::TokenUrl(format!("{}/token", iss.base)),
            &iss.id,
            &iss.secret,
        ),
        Arc::new(SystemClock),
    );
    let (url, calls) = picky_api().await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(source.clone()))
        .build();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_private_key_authenticates_by_issuer_or_token_url() {
    let key = portcullis_client::PrivateKey::generate_p256().unwrap();
    let iss = issuer_with(ClientMetadata {
        scope: "read".into(),
        token_endpoint_auth_method: Some(portcullis_core::TokenEndpointAuthMethod::PrivateKeyJwt),
        jwks: Some(key.public_jwk_set()),
        ..ClientMetadata::default()
    })
    .await;
    let (base, id) = (iss.base.clone(), iss.id.clone());
    for endpoint in [
        Endpoint::Issuer(base.clone()),
        Endpoint::TokenUrl(format!("{base}/token")),
    ] {
        let c = ClientCredentials::with_private_key(endpoint.clone(), &id, key.clone());
        let source = TokenSource::with_clock(c, Arc::new(SystemClock));
        let t = source.token().await.unwrap();
        assert_eq!(t.scope.as_deref(), Some("read"), "{endpoint:?}");
    }
    // Another key: the server's invalid_client comes back typed.
    let wrong = ClientCredentials::with_private_key(
        Endpoint::Issuer(base.clone()),
        &id,
        portcullis_client::PrivateKey::generate_p256().unwrap(),
    );
    let error = TokenSource::with_clock(wrong, Arc::new(SystemClock))
        .token()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid_client"), "{error}");
}

#[tokio::test]
async fn dpop_binds_the_token_and_every_call_proves_the_key() {
    let iss = issuer_with(ClientMetadata {
        scope: "read".into(),
        audience: vec!["https://api.example.com".into()],
        ..ClientMetadata::default()
    })
    .await;
    let credentials =
        ClientCredentials::new(Endpoint::Issuer(iss.base.clone()), &iss.id, &iss.secret).dpop(true);
    let source = TokenSource::with_clock(credentials, Arc::new(SystemClock));
    let token = source.token().await.unwrap();
    assert_eq!(token.token_type, "DPoP");
    // The server asked for its nonce first: one retry, at once.
    assert_eq!(source.requests_sent(), 2);
    let claims = portcullis_core::jws::CompactJws::parse(token.access_token.expose())
        .unwrap()
        .claims()
        .unwrap();
    let jkt = source.dpop_key().unwrap().thumbprint().to_owned();
    assert_eq!(claims["cnf"]["jkt"], jkt.as_str());

    // An API that checks the proofs and hands out nonces of its own.
    let validator = portcullis_resource::Validator::builder(&iss.base, "https://api.example.com")
        .dpop_nonce_secret(&[9u8; 32])
        .build();
    let app = Router::new()
        .route(
            "/data",
            get(|t: portcullis_resource::AccessToken| async move { t.subject }),
        )
        .layer(portcullis_resource::BearerLayer::new(validator, "api"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/data", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let response = send_with_token(&http, &source, http.get(&api).build().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), iss.id);
    }
    let middleware = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(source.clone()))
        .build();
    let response = middleware.get(&api).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Still the one token: no call needed a fresh one.
    assert_eq!(source.requests_sent(), 2);
}
