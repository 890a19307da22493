//! Every acceptance and rejection of the validator.

use crate::helpers::{API, issuer};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Algorithm, Clock};
use portcullis_resource::ValidationError;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn tokens_of_every_algorithm_validate() {
    let iss = issuer().await;
    let validator = iss.validator().build();
    for alg in Algorithm::ALL {
        let token = iss.token("read write", alg).await;
        let checked = validator.validate(&token).await.unwrap();
        assert!(checked.has_scope("read") && checked.has_scope("write"));
        assert_eq!(checked.client_id.as_deref(), Some(checked.subject.as_str()));
    }
    assert_eq!(
        validator.jwks_fetches(),
        1,
        "one JWKS fetch serves every key"
    );
}

/// Tokens Portcullis signed with aws-lc-rs verify with every compiled backend, the pure-Rust one
/// too (this crate's dev-dependencies turn on `portcullis-core/rust-crypto`), and a changed one
/// with none.
#[tokio::test]
async fn every_backend_verifies_what_portcullis_signs() {
    use portcullis_core::jws::CompactJws;
    use portcullis_core::verifying_key::{Backend, keys_of};
    assert!(
        Backend::ALL.contains(&Backend::RustCrypto),
        "{:?}",
        Backend::ALL
    );
    let iss = issuer().await;
    let jwks: portcullis_core::JwkSet = iss.jwks().await;
    let keys = keys_of(&jwks);
    for alg in Algorithm::ALL {
        let token = iss.token("read", alg).await;
        let jws = CompactJws::parse(&token).unwrap();
        let kid = jws.header_str("kid").unwrap();
        let key = keys.iter().find(|k| k.kid() == Some(kid)).unwrap();
        let mut forged = jws.signature.clone();
        forged[3] ^= 1;
        for &backend in Backend::ALL {
            let alg = alg.into();
            assert!(
                key.verify_with(backend, alg, jws.signing_input, &jws.signature),
                "{backend:?} {alg:?}"
            );
            assert!(!key.verify_with(backend, alg, jws.signing_input, &forged));
        }
    }
}

/// `ValidatorBuilder::http_client`: the caller's client fetches the metadata and keys. A client
/// sent to a dead proxy shows it is the one used.
#[tokio::test]
async fn the_callers_http_client_fetches_the_keys() {
    let iss = issuer().await;
    let token = iss.token("read", Algorithm::ES256).await;
    let validator = iss.validator().http_client(reqwest::Client::new()).build();
    validator.validate(&token).await.unwrap();
    let dead_proxy = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all("http://127.0.0.1:9").unwrap())
        .build()
        .unwrap();
    let through_it = iss.validator().http_client(dead_proxy).build();
    assert!(matches!(
        through_it.validate(&token).await,
        Err(ValidationError::Unavailable(_))
    ));
}

#[tokio::test]
async fn every_rejection() {
    let iss = issuer().await;
    let validator = iss.validator().cache_capacity(0).build();
    let now = iss.clock.now().0;
    let claims = |extra: serde_json::Value| {
        let mut c = json!({"iss": iss.base, "sub": "s", "aud": API, "exp": now + 300, "iat": now,
                           "jti": "j", "client_id": "s", "scope": "read"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let good = iss.sign(Algorithm::ES256, claims(json!({})), false).await;
    assert!(validator.validate(&good).await.is_ok());

    let cases = vec![
        (
            iss.sign(
                Algorithm::ES256,
                claims(json!({"aud": "https://other.example.com"})),
                false,
            )
            .await,
            ValidationError::WrongAudience,
        ),
        (
            iss.sign(
                Algorithm::ES256,
                claims(json!({"iss": "https://evil.example.com"})),
                false,
            )
            .await,
            ValidationError::WrongIssuer,
        ),
        (
            iss.sign(Algorithm::ES256, claims(json!({"exp": now - 31})), false)
                .await,
            ValidationError::Expired,
        ),
        (
            iss.sign(Algorithm::ES256, claims(json!({"nbf": now + 31})), false)
                .await,
            ValidationError::Expired,
        ),
        (
            iss.sign(Algorithm::RS256, claims(json!({})), true).await,
            ValidationError::Invalid("typ is not at+jwt (RFC 9068)"),
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(validator.validate(&token).await.unwrap_err(), expected);
    }
    // Within the leeway.
    let skewed = iss
        .sign(
            Algorithm::ES256,
            claims(json!({"exp": now - 10, "nbf": now + 10})),
            false,
        )
        .await;
    assert!(validator.validate(&skewed).await.is_ok());

    let parts: Vec<&str> = good.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    let enc = |v: serde_json::Value| B64.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        enc(json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        parts[1]
    );
    let jwks: serde_json::Value = iss.jwks().await;
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .to_string();
    let hs_header = enc(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}));
    let input = format!("{hs_header}.{}", parts[1]);
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public.as_bytes()),
        input.as_bytes(),
    );
    let hs256 = format!("{input}.{}", B64.encode(tag.as_ref()));
    // An RS256 header on the ES256 key: alg must be the key's.
    let swapped = format!(
        "{}.{}.{}",
        enc(json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})),
        parts[1],
        parts[2]
    );
    let mut tampered_claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    tampered_claims["scope"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], enc(tampered_claims), parts[2]);
    for token in [
        none,
        hs256,
        swapped,
        tampered,
        "garbage".into(),
        "a.b.c".into(),
        format!("{good}.x"),
    ] {
        let error = validator.validate(&token).await.unwrap_err();
        assert!(
            matches!(error, ValidationError::Invalid(_)),
            "{token}: {error:?}"
        );
        assert_eq!(error.status(), 401);
    }
    // An algorithm left out of the allow-list.
    let es_only = iss.validator().algorithms(&[Algorithm::ES256]).build();
    let rs = iss.token("read", Algorithm::RS256).await;
    assert!(matches!(
        es_only.validate(&rs).await,
        Err(ValidationError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_new_key_is_picked_up_and_a_retired_one_stops_validating() {
    let iss = issuer().await;
    let validator = iss.validator().build();
    let now = iss.clock.now().0;
    let long_lived = iss
        .sign(
            Algorithm::ES256,
            json!({"iss": iss.base, "sub": "s", "aud": API, "exp": now + 86_400, "iat": now}),
            false,
        )
        .await;
    assert!(
        validator
            .validate(&iss.token("read", Algorithm::ES256).await)
            .await
            .is_ok()
    );
    assert_eq!(validator.jwks_fetches(), 1);

    portcullis_server::keys::rotate(
        iss.store.as_ref(),
        &portcullis_server::keys::KeyVault::none(),
        Algorithm::ES256,
        iss.clock.now(),
        0,
    )
    .await
    .unwrap();
    iss.registry.refresh().await.unwrap();
    let fresh = iss.token("read", Algorithm::ES256).await;
    // Unknown kids refetch at most once per interval (5 s by default).
    iss.clock.advance(5);
    assert!(
        validator.validate(&fresh).await.is_ok(),
        "the new kid is fetched without a restart"
    );
    assert_eq!(validator.jwks_fetches(), 2);

    // Past the old key's last token expiry the issuer stops publishing it; once the cached JWKS is
    // older than max_key_age the validator fetches again and the old key is gone.
    // (The longest token lifetime is the ID token's hour.)
    iss.clock.advance(3601);
    let uncached = iss.validator().cache_capacity(0).build();
    assert!(matches!(
        uncached.validate(&long_lived).await,
        Err(ValidationError::Invalid("no key fits its kid and alg"))
    ));
    iss.clock.advance(300);
    let result = validator.validate(&long_lived).await;
    assert!(
        matches!(
            result,
            Err(ValidationError::Invalid("no key fits its kid and alg"))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let iss = issuer().await;
    let validator = iss
        .validator()
        .min_refetch_interval(Duration::from_secs(5))
        .build();
    assert!(
        validator
            .validate(&iss.token("read", Algorithm::ES256).await)
            .await
            .is_ok()
    );
    let enc = |v: serde_json::Value| B64.encode(v.to_string());
    for i in 0..50 {
        let forged = format!(
            "{}.{}.c2ln",
            enc(json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("k{i}")})),
            enc(json!({}))
        );
        assert!(validator.validate(&forged).await.is_err());
    }
    assert_eq!(
        validator.jwks_fetches(),
        1,
        "garbage within the interval causes no fetch"
    );
    iss.clock.advance(5);
    let forged = format!(
        "{}.{}.c2ln",
        enc(json!({"alg": "ES256", "typ": "at+jwt", "kid": "later"})),
        enc(json!({}))
    );
    assert!(validator.validate(&forged).await.is_err());
    assert_eq!(validator.jwks_fetches(), 2);
}

#[tokio::test]
async fn introspection_mode_sees_revocation_at_once() {
    let iss = issuer().await;
    let (api_id, api_secret) = iss
        .client(portcullis_server::client::ClientMetadata {
            audience: vec![API.into()],
            ..Default::default()
        })
        .await;
    let (id, secret) = iss
        .client(portcullis_server::client::ClientMetadata {
            scope: "read".into(),
            audience: vec![API.into()],
            ..Default::default()
        })
        .await;
    let body: serde_json::Value = iss
        .http
        .post(format!("{}/token", iss.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let validator = iss
        .validator()
        .introspection(&api_id, &api_secret, Duration::ZERO)
        .build();
    let checked = validator.validate(token).await.unwrap();
    assert!(checked.has_scope("read"));
    let revoked = iss
        .http
        .post(format!("{}/revoke", iss.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        validator.validate(token).await.unwrap_err(),
        ValidationError::Inactive
    );
    assert_eq!(
        validator.validate("garbage").await.unwrap_err(),
        ValidationError::Inactive
    );
    // With a cache the answer is reused until its ttl.
    let cached = iss
        .validator()
        .introspection(&api_id, &api_secret, Duration::from_secs(60))
        .build();
    let other = iss.token("read", Algorithm::ES256).await;
    assert!(cached.validate(&other).await.is_ok());
    assert!(cached.validate(&other).await.is_ok());
}

#[tokio::test]
async fn the_issuer_is_compared_exactly_trailing_slash_and_all() {
    let iss = issuer().await;
    let token = iss.token("read", Algorithm::ES256).await;
    assert!(iss.validator().build().validate(&token).await.is_ok());
    // The same server with a '/' added: its metadata names another issuer (RFC 8414 §3.3), so no
    // keys are fetched and nothing validates; the reason goes to the log, not the caller.
    let slash = portcullis_resource::Validator::builder(&format!("{}/", iss.base), API)
        .clock(std::sync::Arc::new(iss.clock.clone()))
        .build();
    match slash.validate(&token).await {
        Err(ValidationError::Unavailable(why)) => assert!(why.contains("trailing '/'"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_redirecting_issuer_is_not_followed() {
    let iss = issuer().await;
    let token = iss.token("read", Algorithm::ES256).await;
    // A host that answers every request with a redirect to the real issuer's same path. Followed,
    // its keys would validate a token that names the real issuer; they must not be.
    let target = iss.base.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{target}{}", uri.path());
        async move { axum::response::Redirect::temporary(&to) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let validator = portcullis_resource::Validator::builder(&iss.base, API)
        .clock(std::sync::Arc::new(iss.clock.clone()))
        .build();
    assert!(validator.validate(&token).await.is_ok());
    // The redirecting host as the issuer: nothing is followed, so nothing validates.
    let redirected = portcullis_resource::Validator::builder(&format!("http://{addr}"), API)
        .clock(std::sync::Arc::new(iss.clock.clone()))
        .build();
    match redirected.validate(&token).await {
        Err(ValidationError::Unavailable(why)) => assert!(why.contains("307"), "{why}"),
        other => panic!("{other:?}"),
    }
}
