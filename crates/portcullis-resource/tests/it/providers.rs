//! Tokens and key sets shaped exactly like other providers', signed with our own test keys.
//!
//! The shapes come from the providers' public documentation:
//! - Keycloak (server administration guide, "OIDC token and SAML assertion mappings"; a realm's
//!   `/protocol/openid-connect/certs`): `typ: JWT` access tokens with a `typ: Bearer` claim, `azp`,
//!   `aud: account`, a space-separated `scope`; ID tokens marked with a `typ: ID` claim; JWKS keys
//!   with `kid`, `alg`, `use`, `x5c`, `x5t` and `x5t#S256`.
//! - Auth0 ("Access Token Profiles", "JSON Web Key Set"): issuer with a trailing `/`, `aud` an
//!   array of the API and the userinfo URL, `scope`, `azp`, `gty`; JWKS keys with `x5c`/`x5t`.
//! - Microsoft Entra ID v2.0 ("Access token claims reference"; the tenant's `discovery/v2.0/keys`):
//!   `typ: JWT`, a `kid` and an `x5t` in the header, `scp` for delegated scopes, `tid`, `oid`,
//!   `ver: 2.0`; JWKS keys with no `alg` and an `issuer` member.
//!
//! A small axum app serves each one's discovery document and JWKS on port 0.

use crate::fixtures::{TestKey, now, provider, with};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Clock, JwsAlgorithm, SystemClock};
use portcullis_resource::{TypPolicy, ValidationError, Validator};
use serde_json::{Value, json};

/// Keycloak: realm issuer, JWKS with `alg` and certificates, `typ: JWT` tokens.
#[tokio::test]
async fn keycloak_access_tokens_pass_with_allow_jwt_and_its_id_tokens_do_not() {
    let key = TestKey::rsa();
    let kid = "7rQ0ZkZ1Yx2W-kc-key";
    let jwks = json!({"keys": [with(key.jwk(), json!({
        "kid": kid, "alg": "RS256", "use": "sig",
        "x5c": ["MIICmzCCAYMCBgGN...fixture"], "x5t": "pW0Xb0", "x5t#S256": "q1s2T3",
    }))]});
    let kc = provider("/realms/demo", "", jwks).await;
    let t = now();
    let access = key.sign(
        "RS256",
        json!({"typ": "JWT", "kid": kid}),
        &json!({
            "exp": t + 300, "iat": t, "jti": "onrtac:8f1c", "iss": kc.issuer,
            "aud": ["orders-api", "account"], "sub": "f3b1c2d4-0000-4a5b-9c8d-111122223333",
            "typ": "Bearer", "azp": "demo-app", "sid": "a1b2", "acr": "1",
            "allowed-origins": ["http://localhost:3000"],
            "realm_access": {"roles": ["offline_access", "uma_authorization"]},
            "resource_access": {"account": {"roles": ["manage-account"]}},
            "scope": "openid profile email orders:read", "email_verified": true,
            "preferred_username": "alice",
        }),
    );
    let id_token = key.sign(
        "RS256",
        json!({"typ": "JWT", "kid": kid}),
        &json!({
            "exp": t + 300, "iat": t, "jti": "id:1", "iss": kc.issuer, "aud": "orders-api",
            "sub": "f3b1c2d4-0000-4a5b-9c8d-111122223333", "typ": "ID", "azp": "orders-api",
            "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "sid": "a1b2",
        }),
    );
    // Strict by default: Keycloak's `typ: JWT` is refused by its header.
    let strict = Validator::builder(&kc.issuer, "orders-api").build();
    assert_eq!(
        strict.validate(&access).await.unwrap_err(),
        ValidationError::Invalid("typ is not at+jwt (RFC 9068)")
    );
    let lenient = Validator::builder(&kc.issuer, "orders-api")
        .typ(TypPolicy::AllowJwt)
        .build();
    let token = lenient.validate(&access).await.unwrap();
    assert!(token.has_scope("orders:read") && token.has_scope("openid"));
    assert_eq!(token.client_id.as_deref(), Some("demo-app"));
    // Its ID token names the API's audience here (a client called like the API), and still
    // does not pass: it carries nonce, at_hash and typ ID.
    assert_eq!(
        lenient.validate(&id_token).await.unwrap_err(),
        ValidationError::Invalid("an ID token is not an access token")
    );
    // Without Keycloak's typ claim, an ID token is still told by its nonce.
    let plain_id_token = key.sign(
        "RS256",
        json!({"typ": "JWT", "kid": kid}),
        &json!({
            "exp": t + 300, "iat": t, "iss": kc.issuer, "aud": "orders-api",
            "sub": "f3b1c2d4-0000-4a5b-9c8d-111122223333", "nonce": "n-0S6_WzA2Mj",
        }),
    );
    assert_eq!(
        lenient.validate(&plain_id_token).await.unwrap_err(),
        ValidationError::Invalid("an ID token is not an access token")
    );
    // An ID token with none of those claims still grants nothing: no scope, scp or roles.
    let bare_id_token = key.sign(
        "RS256",
        json!({"typ": "JWT", "kid": kid}),
        &json!({
            "exp": t + 300, "iat": t, "iss": kc.issuer, "aud": "orders-api",
            "sub": "f3b1c2d4-0000-4a5b-9c8d-111122223333", "auth_time": t,
        }),
    );
    assert_eq!(
        lenient.validate(&bare_id_token).await.unwrap_err(),
        ValidationError::Invalid("an ID token is not an access token")
    );
}

/// Auth0: issuer with a trailing `/`, `aud` with the userinfo URL, `typ: JWT`.
#[tokio::test]
async fn auth0_access_tokens_pass_and_other_audiences_do_not() {
    let key = TestKey::rsa();
    let kid = "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg";
    let jwks = json!({"keys": [with(key.jwk(), json!({
        "kid": kid, "alg": "RS256", "use": "sig", "x5t": kid,
        "x5c": ["MIIDDTCCAfWgAwIBAgIJ...fixture"],
    }))]});
    let auth0 = provider("", "/", jwks).await;
    let t = now();
    let claims = |aud: Value| {
        json!({
            "iss": auth0.issuer, "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
            "aud": aud, "iat": t, "exp": t + 86_400, "azp": "my_client_id",
            "scope": "openid profile read:messages", "gty": "password",
        })
    };
    let api = "https://api.example.com/messages";
    let for_us = key.sign(
        "RS256",
        json!({"typ": "JWT", "kid": kid}),
        &claims(json!([api, format!("{}userinfo", auth0.issuer)])),
    );
    let for_another = key.sign(
        "RS256",
        json!({"typ": "JWT", "kid": kid}),
        &claims(json!(["https://api.example.com/billing"])),
    );
    let validator = Validator::builder(&auth0.issuer, api)
        .typ(TypPolicy::AllowJwt)
        .build();
    let token = validator.validate(&for_us).await.unwrap();
    assert!(token.has_scope("read:messages"));
    assert_eq!(
        validator.validate(&for_another).await.unwrap_err(),
        ValidationError::WrongAudience
    );
    // A second audience makes it acceptable.
    let both = Validator::builder(&auth0.issuer, api)
        .audience("https://api.example.com/billing")
        .typ(TypPolicy::AllowJwt)
        .build();
    assert!(both.validate(&for_another).await.is_ok());
}

/// Microsoft Entra ID v2.0: JWKS keys without `alg`, `scp`, and one issuer per tenant.
#[tokio::test]
async fn entra_tokens_of_several_tenants_pass_with_scp_and_keys_without_alg() {
    let tenant_a = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let tenant_b = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let (key_a, key_b) = (TestKey::rsa(), TestKey::rsa());
    let entra_key = |key: &TestKey, kid: &str, tenant: &str| {
        with(
            key.jwk(),
            json!({
                "use": "sig", "kid": kid, "x5t": kid, "x5c": ["MIIC/TCCAeWgAwIBAgII...fixture"],
                "cloud_instance_name": "microsoftonline.com",
                "issuer": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            }),
        )
    };
    let a = provider(
        &format!("/{tenant_a}"),
        "/v2.0",
        json!({"keys": [entra_key(&key_a, "CNv0OI3RwqlHFEVnaoMAshCH2XE", tenant_a)]}),
    )
    .await;
    let b = provider(
        &format!("/{tenant_b}"),
        "/v2.0",
        json!({"keys": [entra_key(&key_b, "L1KfKFI_jnXbwWc22xZxw1sUHH0", tenant_b)]}),
    )
    .await;
    let app_id = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
    let t = now();
    let token = |key: &TestKey, kid: &str, issuer: &str, tenant: &str| {
        key.sign(
            "RS256",
            json!({"typ": "JWT", "kid": kid, "x5t": kid}),
            &json!({
                "aud": app_id, "iss": issuer, "iat": t, "nbf": t, "exp": t + 3_600,
                "aio": "AWQAm/8TAAAA", "azp": "1950a258-227b-4e31-a9cf-717495945fc2",
                "azpacr": "0", "name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
                "preferred_username": "abeli@microsoft.com", "rh": "I",
                "scp": "access_as_user Files.Read", "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
                "tid": tenant, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
            }),
        )
    };
    let from_a = token(&key_a, "CNv0OI3RwqlHFEVnaoMAshCH2XE", &a.issuer, tenant_a);
    let from_b = token(&key_b, "L1KfKFI_jnXbwWc22xZxw1sUHH0", &b.issuer, tenant_b);
    // B's key signing a token that claims to be from A: A's keys are the only ones tried.
    let b_as_a = token(&key_b, "L1KfKFI_jnXbwWc22xZxw1sUHH0", &a.issuer, tenant_a);
    let validator = Validator::builder(&a.issuer, app_id)
        .issuer(&b.issuer)
        .typ(TypPolicy::AllowJwt)
        .build();
    for token in [&from_a, &from_b] {
        let t = validator.validate(token).await.unwrap();
        assert!(t.has_scope("access_as_user") && t.has_scope("Files.Read"));
    }
    assert!(matches!(
        validator.validate(&b_as_a).await,
        Err(ValidationError::Invalid("no key fits its kid and alg"))
    ));
    // Only tenant A trusted: B's token is checked against A's keys alone, and fails there.
    let only_a = Validator::builder(&a.issuer, app_id)
        .typ(TypPolicy::AllowJwt)
        .build();
    assert!(only_a.validate(&from_a).await.is_ok());
    assert_eq!(
        only_a.validate(&from_b).await.unwrap_err(),
        ValidationError::Invalid("no key fits its kid and alg")
    );
    // A third tenant that is not trusted, among several trusted: refused by its issuer.
    let c = provider("/other", "/v2.0", json!({"keys": []})).await;
    let from_c = token(&key_b, "L1KfKFI_jnXbwWc22xZxw1sUHH0", &c.issuer, tenant_b);
    assert_eq!(
        validator.validate(&from_c).await.unwrap_err(),
        ValidationError::WrongIssuer
    );
}

/// Every algorithm of the allow-list verifies, from JWKS keys with no `alg` and no `kid`; a key
/// with an `alg` verifies that one only; `none` and HS256 (made with the public key as the
/// secret, the classic confusion) never pass.
#[tokio::test]
async fn every_algorithm_verifies_from_keys_without_alg_or_kid_and_none_and_hmac_never() {
    let (rsa, p256, p384, ed) = (
        TestKey::rsa(),
        TestKey::p256(),
        TestKey::p384(),
        TestKey::ed25519(),
    );
    let jwks = json!({"keys": [
        Value::Object(p256.jwk()), Value::Object(rsa.jwk()),
        Value::Object(p384.jwk()), Value::Object(ed.jwk()),
    ]});
    let p = provider("/bare", "", jwks.clone()).await;
    let t = now();
    let claims =
        json!({"iss": p.issuer, "aud": "api", "sub": "s", "exp": t + 60, "scp": ["a", "b"]});
    let validator = Validator::builder(&p.issuer, "api").build();
    for (key, alg) in [
        (&rsa, "RS256"),
        (&rsa, "RS384"),
        (&rsa, "RS512"),
        (&rsa, "PS256"),
        (&rsa, "PS384"),
        (&rsa, "PS512"),
        (&p256, "ES256"),
        (&p384, "ES384"),
        (&ed, "EdDSA"),
    ] {
        let token = key.sign(alg, json!({"typ": "at+jwt"}), &claims);
        let checked = validator.validate(&token).await;
        assert!(
            checked.as_ref().is_ok_and(|t| t.has_scope("b")),
            "{alg}: {checked:?}"
        );
    }
    // The allow-list still rules.
    let es_only = Validator::builder(&p.issuer, "api")
        .algorithms(&[JwsAlgorithm::ES256])
        .build();
    let rs = rsa.sign("RS256", json!({"typ": "at+jwt"}), &claims);
    assert_eq!(
        es_only.validate(&rs).await.unwrap_err(),
        ValidationError::Invalid("alg is not allowed")
    );
    // `none`, and HS256 keyed with the RSA key's public JWK text.
    let header = |alg: &str| B64.encode(json!({"alg": alg, "typ": "at+jwt"}).to_string());
    let body = B64.encode(claims.to_string());
    let none = format!("{}.{body}.", header("none"));
    let secret = serde_json::to_string(&rsa.jwk()).unwrap();
    let input = format!("{}.{body}", header("HS256"));
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    let hs = format!("{input}.{}", B64.encode(tag.as_ref()));
    for forged in [none, hs] {
        assert_eq!(
            validator.validate(&forged).await.unwrap_err(),
            ValidationError::Invalid("alg is not allowed")
        );
    }
    // A JWK that names its alg is used with that alg only: the same RSA key published as RS256
    // refuses a PS256 token.
    let pinned = provider(
        "/pinned",
        "",
        json!({"keys": [with(rsa.jwk(), json!({"alg": "RS256"}))]}),
    )
    .await;
    let pinned_claims = json!({"iss": pinned.issuer, "aud": "api", "sub": "s", "exp": t + 60});
    let v = Validator::builder(&pinned.issuer, "api").build();
    assert!(
        v.validate(&rsa.sign("RS256", json!({"typ": "at+jwt"}), &pinned_claims))
            .await
            .is_ok()
    );
    assert_eq!(
        v.validate(&rsa.sign("PS256", json!({"typ": "at+jwt"}), &pinned_claims))
            .await
            .unwrap_err(),
        ValidationError::Invalid("no key fits its kid and alg")
    );
}

/// The cache of validated tokens is bounded without being emptied at once when it fills, and each
/// entry lasts until its own token's expiry.
#[tokio::test]
async fn the_token_cache_is_bounded_and_each_entry_expires_on_its_own() {
    let key = TestKey::p256();
    let p = provider("/cache", "", json!({"keys": [Value::Object(key.jwk())]})).await;
    let clock = portcullis_core::ManualClock::new(SystemClock.now());
    let t = clock.now().0;
    let validator = Validator::builder(&p.issuer, "api")
        .cache_capacity(100)
        .clock(std::sync::Arc::new(clock.clone()))
        .build();
    let token = |n: i64, lifetime: i64| {
        key.sign(
            "ES256",
            json!({"typ": "at+jwt"}),
            &json!({"iss": p.issuer, "aud": "api", "sub": "s", "jti": n, "exp": t + lifetime}),
        )
    };
    for n in 0..150 {
        validator.validate(&token(n, 600)).await.unwrap();
    }
    let held = validator.cached_tokens();
    assert!(
        (80..=100).contains(&held),
        "a full cache makes room one entry at a time, not by emptying itself: {held}"
    );
    // Two tokens cached together, one short-lived: past its expiry it is a miss (and refused),
    // while the other is still answered from the cache.
    let (short, long) = (token(1_000, 30), token(1_001, 3_600));
    validator.validate(&short).await.unwrap();
    validator.validate(&long).await.unwrap();
    clock.advance(31 + 30); // past exp and the 30 s leeway
    let before = validator.cached_tokens();
    assert_eq!(
        validator.validate(&short).await.unwrap_err(),
        ValidationError::Expired
    );
    assert_eq!(
        validator.cached_tokens(),
        before - 1,
        "the expired entry is gone"
    );
    assert!(validator.validate(&long).await.is_ok());
    assert_eq!(
        validator.cached_tokens(),
        before - 1,
        "the other one was still there"
    );
}

/// A cached token is trusted no longer than the key set it was checked with: past `max_key_age`
/// it is checked again, against keys fetched again (a key the issuer withdrew stops passing).
#[tokio::test]
async fn a_cached_token_is_checked_again_once_the_keys_are_stale() {
    let key = TestKey::p256();
    let p = provider("/stale", "", json!({"keys": [Value::Object(key.jwk())]})).await;
    let clock = portcullis_core::ManualClock::new(SystemClock.now());
    let t = clock.now().0;
    let validator = Validator::builder(&p.issuer, "api")
        .max_key_age(std::time::Duration::from_secs(60))
        .clock(std::sync::Arc::new(clock.clone()))
        .build();
    let token = key.sign(
        "ES256",
        json!({"typ": "at+jwt"}),
        &json!({"iss": p.issuer, "aud": "api", "sub": "s", "exp": t + 3_600}),
    );
    validator.validate(&token).await.unwrap();
    validator.validate(&token).await.unwrap();
    assert_eq!(validator.jwks_fetches(), 1);
    clock.advance(61);
    validator.validate(&token).await.unwrap();
    assert_eq!(validator.jwks_fetches(), 2, "not answered from the cache");
}
