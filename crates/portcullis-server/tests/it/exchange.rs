//! Token Exchange (RFC 8693): impersonation and delegation (`act`, nested for chains), narrowing
//! by audience and scope, the policy in the exchanging client's metadata, and every error.

use crate::helpers::{Answer, TestApp, spawn_app};
use portcullis_core::GrantType;
use portcullis_server::client::ClientMetadata;
use serde_json::{Value, json};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const ORDERS: &str = "https://orders.example";
const BILLING: &str = "https://billing.example";

fn claims(jwt: &str) -> Value {
    crate::helpers::jwt_claims(jwt)
}

async fn cc_token(app: &TestApp, id: &str, secret: &str, audience: &str) -> String {
    let answer = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("audience", audience),
        ])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(app: &TestApp, id: &str, secret: &str, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("client_id", id),
        ("client_secret", secret),
    ];
    form.extend_from_slice(extra);
    app.post_token(&form).await
}

#[tokio::test]
async fn a_backend_exchanges_a_callers_token_for_its_own_audience() {
    let app = spawn_app().await;
    // The caller: a service with a token for the orders API.
    let (caller, caller_secret) = app
        .create_client(ClientMetadata {
            scope: "orders:read orders:write".into(),
            audience: vec![ORDERS.into()],
            ..ClientMetadata::default()
        })
        .await;
    // The orders API, which calls billing on the caller's behalf.
    let (orders, orders_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::ClientCredentials, GrantType::TokenExchange],
            scope: "orders:read".into(),
            audience: vec![ORDERS.into(), BILLING.into()],
            ..ClientMetadata::default()
        })
        .await;
    let subject = cc_token(&app, &caller, &caller_secret, ORDERS).await;

    // Impersonation: a token for billing, as the caller, narrowed in scope.
    let answer = exchange(
        &app,
        &orders,
        &orders_secret,
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("audience", BILLING),
            ("scope", "orders:read"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert!(answer.body.get("refresh_token").is_none());
    let issued = claims(answer.body["access_token"].as_str().unwrap());
    assert_eq!(issued["sub"], caller.as_str());
    assert_eq!(issued["client_id"], orders.as_str());
    assert_eq!(issued["aud"], BILLING);
    assert_eq!(issued["scope"], "orders:read");
    assert!(issued.get("act").is_none());
    assert!(issued["exp"].as_i64() <= claims(&subject)["exp"].as_i64());

    // Delegation: the orders API's own token as the actor.
    let actor = cc_token(&app, &orders, &orders_secret, ORDERS).await;
    let delegated = exchange(
        &app,
        &orders,
        &orders_secret,
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("actor_token", &actor),
            ("actor_token_type", ACCESS_TOKEN),
            ("resource", BILLING),
        ],
    )
    .await;
    assert_eq!(delegated.status, 200, "{}", delegated.body);
    let delegated_token = delegated.body["access_token"].as_str().unwrap().to_owned();
    let d = claims(&delegated_token);
    assert_eq!(d["sub"], caller.as_str());
    assert_eq!(d["act"], json!({"sub": orders, "client_id": orders}));
    // Every scope of the subject token when none is asked for.
    assert_eq!(d["scope"], "orders:read orders:write");

    // A chain: billing (registered to exchange too) delegates again; the earlier actor nests.
    let (billing, billing_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::ClientCredentials, GrantType::TokenExchange],
            audience: vec![BILLING.into(), "https://ledger.example".into()],
            ..ClientMetadata::default()
        })
        .await;
    let billing_actor = cc_token(&app, &billing, &billing_secret, BILLING).await;
    let chained = exchange(
        &app,
        &billing,
        &billing_secret,
        &[
            ("subject_token", &delegated_token),
            ("subject_token_type", JWT),
            ("actor_token", &billing_actor),
            ("actor_token_type", JWT),
            ("audience", "https://ledger.example"),
            ("requested_token_type", JWT),
        ],
    )
    .await;
    assert_eq!(chained.status, 200, "{}", chained.body);
    assert_eq!(chained.body["issued_token_type"], JWT);
    let c = claims(chained.body["access_token"].as_str().unwrap());
    assert_eq!(
        c["act"],
        json!({"sub": billing, "client_id": billing, "act": {"sub": orders, "client_id": orders}})
    );

    let meta = app.get_json("/.well-known/openid-configuration").await.body;
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(EXCHANGE)),
        "{meta}"
    );
}

#[tokio::test]
async fn every_exchange_the_policy_or_the_rfc_forbids_is_refused() {
    let app = spawn_app().await;
    let (caller, caller_secret) = app
        .create_client(ClientMetadata {
            scope: "read".into(),
            audience: vec![ORDERS.into()],
            ..ClientMetadata::default()
        })
        .await;
    let (orders, orders_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::TokenExchange],
            audience: vec![ORDERS.into(), BILLING.into()],
            ..ClientMetadata::default()
        })
        .await;
    let (stranger, stranger_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::TokenExchange],
            audience: vec!["https://elsewhere.example".into()],
            ..ClientMetadata::default()
        })
        .await;
    // By default no client may exchange.
    let (plain, plain_secret) = app
        .create_client(ClientMetadata {
            audience: vec![ORDERS.into()],
            ..ClientMetadata::default()
        })
        .await;
    let subject = cc_token(&app, &caller, &caller_secret, ORDERS).await;
    let good: &[(&str, &str)] = &[
        ("subject_token", &subject),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    exchange(&app, &plain, &plain_secret, good)
        .await
        .assert_error(400, "unauthorized_client");
    // A token neither issued to the client nor meant for its audiences.
    exchange(&app, &stranger, &stranger_secret, good)
        .await
        .assert_error(400, "invalid_request");
    let with = |extra: &[(&str, &str)]| {
        let mut all = good.to_vec();
        all.extend_from_slice(extra);
        all.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    for (case, extra, status, error) in [
        (
            "an audience not registered",
            with(&[("audience", "https://evil.example")]),
            400,
            "invalid_target",
        ),
        (
            "a wider scope",
            with(&[("scope", "read admin")]),
            400,
            "invalid_scope",
        ),
        (
            "a refresh token asked for",
            with(&[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )]),
            400,
            "invalid_request",
        ),
        (
            "an actor token without its type",
            with(&[("actor_token", &subject)]),
            400,
            "invalid_request",
        ),
    ] {
        let form: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = exchange(&app, &orders, &orders_secret, &form).await;
        assert_eq!(
            (answer.status.as_u16(), answer.error()),
            (status, error),
            "{case}: {}",
            answer.body
        );
    }
    for (case, form) in [
        (
            "no subject_token",
            vec![("subject_token_type", ACCESS_TOKEN)],
        ),
        (
            "no subject_token_type",
            vec![("subject_token", subject.as_str())],
        ),
        (
            "a SAML assertion",
            vec![
                ("subject_token", subject.as_str()),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:saml2",
                ),
            ],
        ),
        (
            "garbage",
            vec![
                ("subject_token", "not-a-token"),
                ("subject_token_type", ACCESS_TOKEN),
            ],
        ),
    ] {
        exchange(&app, &orders, &orders_secret, &form)
            .await
            .assert_error(400, "invalid_request");
        let _ = case;
    }
    // A revoked subject token, and an expired one.
    let revoked = cc_token(&app, &caller, &caller_secret, ORDERS).await;
    let answer = app
        .http
        .post(format!("{}/revoke", app.base))
        .basic_auth(&caller, Some(&caller_secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    exchange(
        &app,
        &orders,
        &orders_secret,
        &[
            ("subject_token", &revoked),
            ("subject_token_type", ACCESS_TOKEN),
        ],
    )
    .await
    .assert_error(400, "invalid_request");
    app.clock.advance(3600);
    exchange(&app, &orders, &orders_secret, good)
        .await
        .assert_error(400, "invalid_request");
    // A public client cannot be registered for it.
    let public = ClientMetadata {
        grant_types: vec![GrantType::TokenExchange],
        token_endpoint_auth_method: Some(portcullis_core::TokenEndpointAuthMethod::None),
        ..ClientMetadata::default()
    };
    assert!(public.validate().is_err());
}

/// A subject token bound to a DPoP key goes on only with a proof by that key.
#[tokio::test]
async fn a_bound_subject_token_needs_its_key() {
    let app = crate::helpers::spawn_with(|c| c.dpop.require_nonce = false).await;
    let (orders, orders_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::ClientCredentials, GrantType::TokenExchange],
            scope: "read".into(),
            audience: vec![ORDERS.into(), BILLING.into()],
            ..ClientMetadata::default()
        })
        .await;
    let key = portcullis_client::PrivateKey::generate_p256().unwrap();
    let proof = || {
        let now = portcullis_core::Clock::now(&app.clock).0;
        key.sign_jws(
            json!({"typ": "dpop+jwt", "jwk": key.public_jwk()}),
            &json!({
                "jti": format!("x-{}", rand_suffix()), "htm": "POST",
                "htu": format!("{}/token", app.issuer), "iat": now,
            }),
        )
        .unwrap()
    };
    let bound = app
        .send(app.token_request().header("dpop", proof()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", orders.as_str()),
            ("client_secret", orders_secret.as_str()),
            ("audience", ORDERS),
        ]))
        .await;
    assert_eq!(bound.body["token_type"], "DPoP", "{}", bound.body);
    let subject = bound.body["access_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", EXCHANGE),
        ("client_id", orders.as_str()),
        ("client_secret", orders_secret.as_str()),
        ("subject_token", subject.as_str()),
        ("subject_token_type", ACCESS_TOKEN),
        ("audience", BILLING),
    ];
    app.send(app.token_request().form(&form))
        .await
        .assert_error(400, "invalid_dpop_proof");
    let with_key = app
        .send(app.token_request().header("dpop", proof()).form(&form))
        .await;
    assert_eq!(with_key.status, 200, "{}", with_key.body);
    assert_eq!(with_key.body["token_type"], "DPoP");
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A deleted client's token is no subject token, whether presented as an access token or as a
/// `jwt`; nor is it once a client with the same id is created again (a second later).
#[tokio::test]
async fn a_deleted_clients_token_is_no_subject_even_after_the_id_comes_back() {
    use portcullis_core::{ClientId, Clock};
    use portcullis_server::admin::{ClientAdmin, SecretSource};
    let app = spawn_app().await;
    let caller_metadata = ClientMetadata {
        scope: "orders:read".into(),
        audience: vec![ORDERS.into()],
        ..ClientMetadata::default()
    };
    let (caller, caller_secret) = app.create_client(caller_metadata.clone()).await;
    let (orders, orders_secret) = app
        .create_client(ClientMetadata {
            grant_types: vec![GrantType::TokenExchange],
            scope: "orders:read".into(),
            audience: vec![ORDERS.into(), BILLING.into()],
            ..ClientMetadata::default()
        })
        .await;
    let subject = cc_token(&app, &caller, &caller_secret, ORDERS).await;
    let try_exchange = |kind: &'static str| {
        let subject = subject.clone();
        let (orders, orders_secret) = (orders.clone(), orders_secret.clone());
        let app = &app;
        async move {
            exchange(
                app,
                &orders,
                &orders_secret,
                &[
                    ("subject_token", &subject),
                    ("subject_token_type", kind),
                    ("audience", BILLING),
                ],
            )
            .await
        }
    };
    for kind in [ACCESS_TOKEN, JWT] {
        assert_eq!(try_exchange(kind).await.status, 200, "{kind}");
    }
    let refused_after_reload = || async {
        app.registry.refresh().await.unwrap();
        for kind in [ACCESS_TOKEN, JWT] {
            try_exchange(kind)
                .await
                .assert_error(400, "invalid_request");
        }
    };
    let hasher = app.hasher().await;
    let id = ClientId::parse(&caller).unwrap();
    ClientAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .delete(&id)
        .await
        .unwrap();
    refused_after_reload().await;
    app.clock.advance(1);
    ClientAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .create(Some(id), caller_metadata, SecretSource::Generate)
        .await
        .unwrap();
    refused_after_reload().await;
}
