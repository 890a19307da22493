//! `private_key_jwt` (RFC 7523 §2.2, §3): a client authenticates with a JWT signed by its key, at
//! the token, introspection and revocation endpoints; every claim is checked and each assertion
//! works once.

use super::{JwksServer, assertion, claims, ed25519_key, es256_key, hs256, rsa_key, unsigned};
use crate::helpers::{Answer, TestApp, spawn_app};
use portcullis_core::client_assertion::JWT_BEARER;
use portcullis_core::{Clock, TokenEndpointAuthMethod};
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use serde_json::{Value, json};

/// Registers a private_key_jwt client with `tweak` applied (set `jwks` or `jwks_uri` there).
pub async fn signing_client(app: &TestApp, tweak: impl FnOnce(&mut ClientMetadata)) -> String {
    let mut metadata = ClientMetadata {
        scope: "reports:read".into(),
        token_endpoint_auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
        ..ClientMetadata::default()
    };
    tweak(&mut metadata);
    let hasher = app.hasher().await;
    let saved = ClientAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .create(None, metadata, SecretSource::Generate)
        .await
        .unwrap();
    assert!(
        saved.secret.is_none(),
        "a private_key_jwt client has no secret"
    );
    app.registry.refresh().await.unwrap();
    saved.client_id.to_string()
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Answer {
    app.send(app.http.post(format!("{}{path}", app.base)).form(form))
        .await
}

/// `grant_type=client_credentials` with this assertion.
async fn token_with(app: &TestApp, client_id: &str, jwt: &str) -> Answer {
    post(
        app,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", jwt),
        ],
    )
    .await
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().0
}

#[tokio::test]
async fn an_assertion_authenticates_once_at_every_endpoint() {
    let app = spawn_app().await;
    let key = es256_key();
    let id = signing_client(&app, |m| m.jwks = Some(key.public_jwk_set())).await;

    let jwt = assertion(&key, &claims(&id, &app.issuer, now(&app)));
    let ok = token_with(&app, &id, &jwt).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let access_token = ok.body["access_token"].as_str().unwrap().to_owned();
    // The same assertion again: refused, and the reason is given to its maker.
    let replay = token_with(&app, &id, &jwt).await;
    replay.assert_error(401, "invalid_client");
    assert!(
        replay.body["error_description"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{}",
        replay.body
    );
    // Without client_id in the body, the assertion's iss names the client.
    let no_id = post(
        &app,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &assertion(&key, &claims(&id, &app.issuer, now(&app))),
            ),
        ],
    )
    .await;
    assert_eq!(no_id.status, 200, "{}", no_id.body);
    // The token endpoint's URL is accepted as the audience too.
    let token_url = format!("{}/token", app.issuer);
    let by_url = token_with(
        &app,
        &id,
        &assertion(&key, &claims(&id, &token_url, now(&app))),
    )
    .await;
    assert_eq!(by_url.status, 200, "{}", by_url.body);

    // Introspection and revocation authenticate the same way, with the same audiences: the
    // issuer or the token endpoint, not the URL of the endpoint itself (an audience a client
    // could be talked into by a server that names our endpoints as its own).
    for (aud, good) in [
        (app.issuer.clone(), true),
        (token_url.clone(), true),
        (format!("{}/introspect", app.issuer), false),
    ] {
        let answer = post(
            &app,
            "/introspect",
            &[
                ("token", &access_token),
                ("client_assertion_type", JWT_BEARER),
                (
                    "client_assertion",
                    &assertion(&key, &claims(&id, &aud, now(&app))),
                ),
            ],
        )
        .await;
        if good {
            assert_eq!(answer.status, 200, "{aud}: {}", answer.body);
            assert_eq!(answer.body["active"], true, "{}", answer.body);
        } else {
            answer.assert_error(401, "invalid_client");
        }
    }
    let revoked = app
        .http
        .post(format!("{}/revoke", app.base))
        .form(&[
            ("token", access_token.as_str()),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &assertion(&key, &claims(&id, &app.issuer, now(&app))),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let after = post(
        &app,
        "/introspect",
        &[
            ("token", &access_token),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &assertion(&key, &claims(&id, &app.issuer, now(&app))),
            ),
        ],
    )
    .await;
    assert_eq!(after.body["active"], false, "revoked: {}", after.body);

    // A secret gets such a client nowhere.
    let secret = post(
        &app,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "any-secret-at-all-0123456789abcdef"),
        ],
    )
    .await;
    secret.assert_error(401, "invalid_client");
}

#[tokio::test]
async fn assertions_that_break_a_rule_are_refused() {
    let app = spawn_app().await;
    let key = es256_key();
    let stranger = es256_key();
    let id = signing_client(&app, |m| m.jwks = Some(key.public_jwk_set())).await;
    let other = signing_client(&app, |m| m.jwks = Some(key.public_jwk_set())).await;
    let t = now(&app);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims(&id, &app.issuer, t);
        change(&mut c);
        c
    };
    let public_jwk_json = serde_json::to_vec(&key.public_jwk()).unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            assertion(
                &key,
                &with(&|c| {
                    c["iat"] = json!(t - 400);
                    c["exp"] = json!(t - 300);
                }),
            ),
        ),
        (
            "exp more than 5 minutes ahead",
            assertion(&key, &with(&|c| c["exp"] = json!(t + 3600))),
        ),
        (
            "no exp",
            assertion(
                &key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
        ),
        (
            "wrong aud",
            assertion(
                &key,
                &with(&|c| c["aud"] = json!("https://elsewhere.example")),
            ),
        ),
        (
            "aud shared with another server",
            assertion(
                &key,
                &with(&|c| {
                    c["aud"] = json!([app.issuer.clone(), "https://elsewhere.example"]);
                }),
            ),
        ),
        (
            "aud with a number in it",
            assertion(&key, &with(&|c| c["aud"] = json!([app.issuer.clone(), 7]))),
        ),
        (
            "iss of another client",
            assertion(&key, &with(&|c| c["iss"] = json!(other.clone()))),
        ),
        (
            "sub of another client",
            assertion(&key, &with(&|c| c["sub"] = json!(other.clone()))),
        ),
        (
            "no jti",
            assertion(
                &key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
            ),
        ),
        (
            "not yet valid",
            assertion(&key, &with(&|c| c["nbf"] = json!(t + 600))),
        ),
        ("alg none", unsigned(&with(&|_| {}))),
        (
            "HS256 keyed with the public key",
            hs256(&with(&|_| {}), &public_jwk_json),
        ),
        (
            "signed by a key the client has not registered",
            assertion(&stranger, &with(&|_| {})),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (case, jwt) in cases {
        let answer = token_with(&app, &id, &jwt).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(answer.body["error"], "invalid_client", "{case}");
    }
    // The good one still works: none of the above used its jti or locked the client.
    let good = token_with(&app, &id, &assertion(&key, &with(&|_| {}))).await;
    assert_eq!(good.status, 200, "{}", good.body);

    // Malformed requests are invalid_request.
    let jwt = assertion(&key, &claims(&id, &app.issuer, t));
    let wrong_type = post(
        &app,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:saml"),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    wrong_type.assert_error(400, "invalid_request");
    let both = post(
        &app,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "s"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    both.assert_error(400, "invalid_request");
    // A client registered for secrets cannot sign its way in.
    let (secret_client, _) = app.service_client("reports:read").await;
    let answer = token_with(
        &app,
        &secret_client,
        &assertion(&key, &claims(&secret_client, &app.issuer, t)),
    )
    .await;
    answer.assert_error(401, "invalid_client");
}

#[tokio::test]
async fn keys_at_a_jwks_uri_are_fetched_once_and_again_for_a_new_kid() {
    let app = spawn_app().await;
    let rsa = rsa_key();
    let jwks = JwksServer::start(rsa.public_jwk_set()).await;
    let id = signing_client(&app, |m| m.jwks_uri = Some(jwks.uri.clone())).await;

    for _ in 0..3 {
        let ok = token_with(
            &app,
            &id,
            &assertion(&rsa, &claims(&id, &app.issuer, now(&app))),
        )
        .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
    }
    assert_eq!(jwks.fetches(), 1, "cached after the first fetch");

    // The client rotates to an Ed25519 key. Right after a fetch, an unknown kid does not make us
    // fetch again (a flood of made-up kids must not either).
    let ed = ed25519_key();
    jwks.keys.lock().unwrap().keys.push(ed.public_jwk());
    for _ in 0..5 {
        let refused = token_with(
            &app,
            &id,
            &assertion(&ed, &claims(&id, &app.issuer, now(&app))),
        )
        .await;
        refused.assert_error(401, "invalid_client");
    }
    assert_eq!(jwks.fetches(), 1);
    // Half a minute later, the new kid is fetched.
    app.clock.advance(31);
    let ok = token_with(
        &app,
        &id,
        &assertion(&ed, &claims(&id, &app.issuer, now(&app))),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(jwks.fetches(), 2);

    // A client whose key server is down gets 503 (try later), not invalid_client, and is not
    // counted towards a lock.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/jwks.json", l.local_addr().unwrap())
    };
    let down = signing_client(&app, |m| m.jwks_uri = Some(closed.clone())).await;
    for _ in 0..3 {
        let answer = token_with(
            &app,
            &down,
            &assertion(&rsa, &claims(&down, &app.issuer, now(&app))),
        )
        .await;
        answer.assert_error(503, "temporarily_unavailable");
        app.clock.advance(31);
    }
}

#[tokio::test]
async fn metadata_rules_and_discovery() {
    let app = spawn_app().await;
    let meta = app.get_json("/.well-known/openid-configuration").await.body;
    let methods = meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("private_key_jwt")), "{meta}");
    assert!(!methods.contains(&json!("client_secret_jwt")), "{meta}");
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA", "Ed25519"])
    );
    for key in ["introspection", "revocation"] {
        let listed = meta[format!("{key}_endpoint_auth_methods_supported")]
            .as_array()
            .unwrap();
        assert!(listed.contains(&json!("private_key_jwt")), "{key}");
    }

    let bad = |change: &dyn Fn(&mut ClientMetadata)| {
        let mut m = ClientMetadata {
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            ..ClientMetadata::default()
        };
        change(&mut m);
        m.validate().unwrap_err().0
    };
    let key = es256_key();
    assert!(bad(&|_| {}).contains("jwks"));
    assert!(
        bad(&|m| {
            m.jwks = Some(key.public_jwk_set());
            m.jwks_uri = Some("https://a.example/jwks".into());
        })
        .contains("not both")
    );
    assert!(bad(&|m| m.jwks_uri = Some("http://keys.example/jwks".into())).contains("https"));
    assert!(bad(&|m| m.jwks = Some(portcullis_core::JwkSet::default())).contains("no key for"));
    // A P-384 key cannot sign any algorithm an assertion may use.
    let p384: portcullis_core::Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-384",
        "x": "iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7",
        "y": "1cRUrXBLWLr8oDDh8lEqeBZx6ADPRtnuAbGqdcTS1lPVa0tNgWSw2hNAGeIHtmrZ",
    }))
    .unwrap();
    assert!(
        bad(&|m| {
            m.jwks = Some(portcullis_core::JwkSet {
                keys: vec![p384.clone()],
            })
        })
        .contains("no key for")
    );
    let mut v6 = ClientMetadata {
        token_endpoint_auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
        jwks_uri: Some("http://[::1]/jwks".into()),
        ..ClientMetadata::default()
    };
    assert!(v6.validate().is_ok(), "http on the IPv6 loopback, no port");
    v6.jwks_uri = Some("http://[::1]:8443/jwks".into());
    assert!(v6.validate().is_ok());
    // A private key pasted into jwks is refused, with what to do.
    let mut private = serde_json::to_value(key.public_jwk_set()).unwrap();
    private["keys"][0]["d"] = json!("c2VjcmV0");
    let refused = portcullis_server::client::public_jwk_set(private).unwrap_err();
    assert!(refused.contains("private"), "{refused}");
    // Redirect URIs a browser would run are refused.
    let js = ClientMetadata {
        grant_types: vec![portcullis_core::GrantType::AuthorizationCode],
        redirect_uris: vec!["javascript://%0aalert(1)".into()],
        ..ClientMetadata::default()
    };
    assert!(js.validate().is_err());
    let mut secret_client = ClientMetadata {
        jwks_uri: Some("https://a.example/jwks".into()),
        ..ClientMetadata::default()
    };
    assert!(
        secret_client.validate().is_err(),
        "jwks_uri only with private_key_jwt"
    );
    secret_client.jwks_uri = None;
    assert!(secret_client.validate().is_ok());
}
