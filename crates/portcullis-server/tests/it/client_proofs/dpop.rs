//! DPoP (RFC 9449) at our endpoints: proofs at the token endpoint for every grant, bound tokens
//! (`cnf.jkt`, `token_type: DPoP`), codes bound with `dpop_jkt` or a proof at `/par`, a public
//! client's refresh tokens bound to its key, server nonces, replayed proofs, and `/userinfo`.

use super::es256_key;
use crate::helpers::{Answer, TestApp, spawn_app, spawn_with};
use crate::sign_in::flow::{
    Browser, PASSWORD, Party, REDIRECT, VERIFIER, authorize_url, obtain_code, party,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_client::PrivateKey;
use portcullis_core::{Clock, TokenEndpointAuthMethod};
use serde_json::{Value, json};

/// A DPoP proof by `key` for `htm` at `htu`.
pub(super) fn proof(key: &PrivateKey, htm: &str, htu: &str, now: i64, extra: Value) -> String {
    let mut claims = json!({
        "jti": super::jti(), "htm": htm, "htu": htu, "iat": now,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    key.sign_jws(json!({"typ": "dpop+jwt", "jwk": key.public_jwk()}), &claims)
        .unwrap()
}

pub(super) fn ath(token: &str) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

pub(super) fn claims_of(jwt: &str) -> Value {
    crate::helpers::jwt_claims(jwt)
}

pub(super) fn now(app: &TestApp) -> i64 {
    app.clock.now().0
}

/// POSTs a token request with these DPoP headers.
pub(super) async fn token(app: &TestApp, form: &[(&str, &str)], dpop: &[&str]) -> Answer {
    let mut request = app.token_request().form(form);
    for p in dpop {
        request = request.header("dpop", *p);
    }
    app.send(request).await
}

/// A token request with a proof, fetching the server's nonce first the way clients do (RFC 9449
/// §8): the first try answers use_dpop_nonce with the nonce in DPoP-Nonce.
pub(super) async fn token_with_nonce(
    app: &TestApp,
    key: &PrivateKey,
    form: &[(&str, &str)],
) -> Answer {
    let htu = format!("{}/token", app.issuer);
    let first = token(app, form, &[&proof(key, "POST", &htu, now(app), json!({}))]).await;
    if first.body["error"] != "use_dpop_nonce" {
        return first;
    }
    let nonce = first
        .header("dpop-nonce")
        .expect("a nonce with use_dpop_nonce")
        .to_owned();
    token(
        app,
        form,
        &[&proof(
            key,
            "POST",
            &htu,
            now(app),
            json!({ "nonce": nonce }),
        )],
    )
    .await
}

#[tokio::test]
async fn client_credentials_tokens_are_bound_to_the_proof_key() {
    let app = spawn_app().await;
    let (id, secret) = app.service_client("reports:read").await;
    let key = es256_key();
    let jkt = key.public_jwk().thumbprint().unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let htu = format!("{}/token", app.issuer);

    // Nonces are required by default: the first proof is answered with one.
    let first = token(
        &app,
        &form,
        &[&proof(&key, "POST", &htu, now(&app), json!({}))],
    )
    .await;
    first.assert_error(400, "use_dpop_nonce");
    let nonce = first.header("dpop-nonce").unwrap().to_owned();

    let good = proof(&key, "POST", &htu, now(&app), json!({ "nonce": nonce }));
    let ok = token(&app, &form, &[&good]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "DPoP");
    assert!(
        ok.header("dpop-nonce").is_some(),
        "the next nonce comes with the answer"
    );
    let access_token = ok.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&access_token)["cnf"]["jkt"], jkt.as_str());

    // The same proof twice: refused.
    token(&app, &form, &[&good])
        .await
        .assert_error(400, "invalid_dpop_proof");
    // Proofs that break a rule.
    let t = now(&app);
    let n = json!({ "nonce": nonce });
    let mut bad_jwk = serde_json::to_value(key.public_jwk()).unwrap();
    bad_jwk["d"] = json!("AAAA");
    let with_private = key
        .sign_jws(
            json!({"typ": "dpop+jwt", "jwk": bad_jwk}),
            &json!({"jti": super::jti(), "htm": "POST", "htu": htu, "iat": t, "nonce": nonce}),
        )
        .unwrap();
    let wrong_typ = key
        .sign_jws(
            json!({"typ": "JWT", "jwk": key.public_jwk()}),
            &json!({"jti": super::jti(), "htm": "POST", "htu": htu, "iat": t, "nonce": nonce}),
        )
        .unwrap();
    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none", "typ": "dpop+jwt", "jwk": key.public_jwk()}).to_string()),
        B64.encode(json!({"jti": super::jti(), "htm": "POST", "htu": htu, "iat": t}).to_string())
    );
    for (case, p) in [
        (
            "wrong htu",
            proof(
                &key,
                "POST",
                "https://elsewhere.example/token",
                t,
                n.clone(),
            ),
        ),
        ("wrong htm", proof(&key, "GET", &htu, t, n.clone())),
        ("too old", proof(&key, "POST", &htu, t - 600, n.clone())),
        (
            "from the future",
            proof(&key, "POST", &htu, t + 600, n.clone()),
        ),
        (
            "a made-up nonce",
            proof(&key, "POST", &htu, t, json!({"nonce": "made-up"})),
        ),
        ("a private key in jwk", with_private),
        ("typ not dpop+jwt", wrong_typ),
        ("alg none", unsigned),
        ("not a JWT", "not-a-jwt".to_owned()),
    ] {
        let answer = token(&app, &form, &[&p]).await;
        assert_eq!(answer.status, 400, "{case}: {}", answer.body);
        assert!(
            answer.body["error"] == "invalid_dpop_proof"
                || answer.body["error"] == "use_dpop_nonce",
            "{case}: {}",
            answer.body
        );
        assert!(
            answer.body["error"] != "use_dpop_nonce" || case == "a made-up nonce",
            "{case}"
        );
    }
    // Two DPoP headers: refused.
    let a = proof(&key, "POST", &htu, t, n.clone());
    let b = proof(&key, "POST", &htu, t, n.clone());
    token(&app, &form, &[&a, &b])
        .await
        .assert_error(400, "invalid_dpop_proof");
    // Without a proof the token is a plain bearer token.
    let plain = token(&app, &form, &[]).await;
    assert_eq!(plain.body["token_type"], "Bearer");
    assert!(
        claims_of(plain.body["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );

    // Introspection shows the binding.
    let seen = app
        .send(
            app.http
                .post(format!("{}/introspect", app.base))
                .basic_auth(&id, Some(&secret))
                .form(&[("token", access_token.as_str())]),
        )
        .await;
    assert_eq!(seen.body["active"], true, "{}", seen.body);
    assert_eq!(seen.body["token_type"], "DPoP");
    assert_eq!(seen.body["cnf"]["jkt"], jkt.as_str());

    // A nonce is good for its five minutes and the next five, not longer.
    app.clock.advance(700);
    let stale = proof(&key, "POST", &htu, now(&app), json!({ "nonce": nonce }));
    token(&app, &form, &[&stale])
        .await
        .assert_error(400, "use_dpop_nonce");

    let meta = app.get_json("/.well-known/openid-configuration").await.body;
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "PS256", "EdDSA", "Ed25519"])
    );
}

#[tokio::test]
async fn a_client_may_be_required_to_bind_its_tokens() {
    let app = spawn_with(|c| c.dpop.require_nonce = false).await;
    let (id, secret) = app
        .create_client(portcullis_server::client::ClientMetadata {
            scope: "reports:read".into(),
            dpop_bound_access_tokens: true,
            ..Default::default()
        })
        .await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    token(&app, &form, &[])
        .await
        .assert_error(400, "invalid_dpop_proof");
    // With nonces off, a proof without one is enough.
    let key = es256_key();
    let htu = format!("{}/token", app.issuer);
    let ok = token(
        &app,
        &form,
        &[&proof(&key, "POST", &htu, now(&app), json!({}))],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.header("dpop-nonce").is_none());
}

/// A public client of the code flow.
pub(super) async fn public_party(app: &TestApp) -> Party {
    party(app, |m| {
        m.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None);
        m.redirect_uris = vec![REDIRECT.into()];
    })
    .await
}

pub(super) fn code_form<'a>(p: &'a Party, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", p.client_id.as_str()),
    ]
}

#[tokio::test]
async fn codes_and_a_public_clients_refresh_tokens_are_bound_to_the_key() {
    let app = spawn_app().await;
    let p = public_party(&app).await;
    let key = es256_key();
    let other = es256_key();
    let jkt = key.public_jwk().thumbprint().unwrap();
    let mut browser = Browser::new(&app);
    let params = obtain_code(&app, &mut browser, &p, &[("dpop_jkt", &jkt)]).await;
    let code = params["code"].clone();
    let form = code_form(&p, &code);
    // Without a proof, or with another key's: refused, and the code is not spent.
    token(&app, &form, &[])
        .await
        .assert_error(400, "invalid_dpop_proof");
    token_with_nonce(&app, &other, &form)
        .await
        .assert_error(400, "invalid_dpop_proof");
    let ok = token_with_nonce(&app, &key, &form).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "DPoP");
    assert_eq!(
        claims_of(ok.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt.as_str()
    );
    let refresh_token = ok.body["refresh_token"].as_str().unwrap().to_owned();

    // The public client's refresh token needs the same key.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", p.client_id.as_str()),
    ];
    token(&app, &refresh_form, &[])
        .await
        .assert_error(400, "invalid_dpop_proof");
    token_with_nonce(&app, &other, &refresh_form)
        .await
        .assert_error(400, "invalid_dpop_proof");
    // Those attempts revoked nothing: with the key, it still works.
    let refreshed = token_with_nonce(&app, &key, &refresh_form).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.body["token_type"], "DPoP");

    // A malformed dpop_jkt is refused at /authorize.
    let page = browser
        .get(&authorize_url(&p, &[("dpop_jkt", "not-a-thumbprint")]))
        .await;
    assert_eq!(page.redirect_params()["error"], "invalid_request");

    // A confidential client's refresh tokens are not bound (its secret proves who refreshes),
    // though each access token is bound to the proof that came with its request.
    let web = party(&app, |_| {}).await;
    let params = obtain_code(&app, &mut Browser::new(&app), &web, &[]).await;
    let secret = web.client_secret.clone().unwrap();
    let mut form = code_form(&web, &params["code"]);
    form.push(("client_secret", &secret));
    let ok = token_with_nonce(&app, &key, &form).await;
    assert_eq!(ok.body["token_type"], "DPoP", "{}", ok.body);
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", ok.body["refresh_token"].as_str().unwrap()),
        ("client_id", web.client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let plain = token(&app, &refresh, &[]).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.body["token_type"], "Bearer");
    let _ = PASSWORD;
}

#[tokio::test]
async fn a_proof_at_par_binds_the_code() {
    let app = spawn_app().await;
    let p = public_party(&app).await;
    let key = es256_key();
    let par = format!("{}/par", app.issuer);
    let body = authorize_url(&p, &[])
        .trim_start_matches("/authorize?")
        .to_owned();
    let push = |dpop: String| {
        app.http
            .post(format!("{}/par", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("dpop", dpop)
            .body(body.clone())
    };
    let first = app
        .send(push(proof(&key, "POST", &par, now(&app), json!({}))))
        .await;
    first.assert_error(400, "use_dpop_nonce");
    let nonce = first.header("dpop-nonce").unwrap().to_owned();
    let pushed = app
        .send(push(proof(
            &key,
            "POST",
            &par,
            now(&app),
            json!({ "nonce": nonce }),
        )))
        .await;
    assert_eq!(pushed.status, 201, "{}", pushed.body);
    let request_uri = pushed.body["request_uri"].as_str().unwrap();
    let mut browser = Browser::new(&app);
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &p.client_id)
        .append_pair("request_uri", request_uri);
    let login = browser.get(&format!("/authorize?{}", q.finish())).await;
    let mut page = browser.sign_in(&login, &p.username, PASSWORD).await;
    if page.body.contains("value=\"allow\"") {
        page = browser.submit(&page, &[("action", "allow")]).await;
    }
    let code = page.redirect_params()["code"].clone();
    let form = code_form(&p, &code);
    token(&app, &form, &[])
        .await
        .assert_error(400, "invalid_dpop_proof");
    let ok = token_with_nonce(&app, &key, &form).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// Two instances on one database, the second naming the first's issuer (as instances behind one
/// load balancer do): a nonce from one is good at the other, and a proof used at one is refused
/// at the other.
#[tokio::test]
async fn nonces_and_used_proofs_are_shared_by_instances() {
    let a = spawn_app().await;
    let config = portcullis_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: a.database.url.clone(),
        issuer: Some(a.issuer.parse().unwrap()),
        ..portcullis_server::Config::default()
    };
    let b = portcullis_server::Server::build(config, std::sync::Arc::new(a.clock.clone()))
        .await
        .unwrap();
    let b_base = format!("http://{}", b.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(b.run_until(async move {
        let _ = stopped.await;
    }));
    let (id, secret) = a.service_client("reports:read").await;
    let key = es256_key();
    let htu = format!("{}/token", a.issuer);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let to = |base: &str, proof: String| {
        a.http
            .post(format!("{base}/token"))
            .header("dpop", proof)
            .form(&form)
    };
    let first = a
        .send(to(&a.base, proof(&key, "POST", &htu, now(&a), json!({}))))
        .await;
    let nonce = first.header("dpop-nonce").unwrap().to_owned();
    // B registers the client within its poll interval.
    let mut at_b = None;
    for _ in 0..40 {
        let p = proof(&key, "POST", &htu, now(&a), json!({ "nonce": nonce }));
        let answer = a.send(to(&b_base, p.clone())).await;
        if answer.status == 200 {
            at_b = Some((answer, p));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (answer, used) = at_b.expect("instance B accepts A's nonce");
    assert_eq!(answer.body["token_type"], "DPoP");
    // The proof B took is refused by A.
    a.send(to(&a.base, used))
        .await
        .assert_error(400, "invalid_dpop_proof");
    let _ = stop.send(());
}
