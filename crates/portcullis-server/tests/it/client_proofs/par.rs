//! Pushed authorization requests (RFC 9126): the request goes to `/par` with the client's
//! credentials, the browser carries only `client_id` and a `request_uri` that works once and for
//! 60 seconds, and a client (or the whole server) can be made to push.

use super::{assertion, claims, es256_key};
use crate::helpers::{Answer, TestApp, spawn_app, spawn_with};
use crate::sign_in::flow::{Browser, PASSWORD, Party, VERIFIER, authorize_url, exchange, party};
use portcullis_core::TokenEndpointAuthMethod;
use portcullis_core::client_assertion::JWT_BEARER;
use reqwest::StatusCode;

/// The usual authorization parameters of `party`, with `extra` as `authorize_url` takes them.
fn request_params(party: &Party, extra: &[(&str, &str)]) -> String {
    authorize_url(party, extra)
        .trim_start_matches("/authorize?")
        .to_owned()
}

/// Pushes with client_secret_basic.
async fn push(app: &TestApp, party: &Party, extra: &[(&str, &str)]) -> Answer {
    let mut request = app
        .http
        .post(format!("{}/par", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(request_params(party, extra));
    if let Some(secret) = &party.client_secret {
        request = request.header(
            "authorization",
            portcullis_core::basic::encode_basic(&party.client_id, secret),
        );
    }
    app.send(request).await
}

fn authorize_pushed(party: &Party, request_uri: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &party.client_id);
    q.append_pair("request_uri", request_uri);
    format!("/authorize?{}", q.finish())
}

/// Signs in and consents through the pages of a pushed request; the final page.
async fn sign_in_pushed(
    browser: &mut Browser,
    party: &Party,
    request_uri: &str,
) -> crate::sign_in::flow::Page {
    let login = browser.get(&authorize_pushed(party, request_uri)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    // The pages carry the request_uri, never the parameters themselves.
    let hidden: Vec<String> = login.hidden_fields().into_iter().map(|(n, _)| n).collect();
    assert!(hidden.contains(&"request_uri".to_owned()), "{hidden:?}");
    assert!(!hidden.contains(&"scope".to_owned()), "{hidden:?}");
    let mut page = browser.sign_in(&login, &party.username, PASSWORD).await;
    if page.body.contains("value=\"allow\"") {
        page = browser.submit(&page, &[("action", "allow")]).await;
    }
    page
}

#[tokio::test]
async fn a_pushed_request_gives_one_code() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let pushed = push(&app, &p, &[]).await;
    assert_eq!(pushed.status, 201, "{}", pushed.body);
    assert_eq!(pushed.body["expires_in"], 60);
    assert_eq!(pushed.header("cache-control"), Some("no-store"));
    let request_uri = pushed.body["request_uri"].as_str().unwrap().to_owned();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{request_uri}"
    );

    let mut browser = Browser::new(&app);
    let done = sign_in_pushed(&mut browser, &p, &request_uri).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let params = done.redirect_params();
    assert_eq!(params["state"], "xyz-state");
    assert_eq!(params["iss"], app.issuer);
    let tokens = exchange(&app, &p, &params["code"], Some(VERIFIER)).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);

    // Used once: the same request_uri again is refused, on a page (its redirect URI is in the
    // request that is gone).
    let again = browser.get(&authorize_pushed(&p, &request_uri)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(again.body.contains("expired"), "{}", again.body);

    // A person may take longer than a minute over the pages the first visit starts.
    let pushed = push(&app, &p, &[]).await;
    let slow = pushed.body["request_uri"].as_str().unwrap().to_owned();
    let mut patient = Browser::new(&app);
    let login = patient.get(&authorize_pushed(&p, &slow)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    app.clock.advance(300);
    let done = patient.sign_in(&login, &p.username, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.redirect_params().contains_key("code"));

    // Expired after 60 seconds, even unused.
    let pushed = push(&app, &p, &[]).await;
    let late = pushed.body["request_uri"].as_str().unwrap().to_owned();
    app.clock.advance(61);
    let page = browser.get(&authorize_pushed(&p, &late)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);

    // Another client cannot use it, nor can a made-up one.
    let pushed = push(&app, &p, &[]).await;
    let fresh = pushed.body["request_uri"].as_str().unwrap().to_owned();
    let other = party(&app, |_| {}).await;
    let page = browser.get(&authorize_pushed(&other, &fresh)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let page = browser
        .get(&authorize_pushed(
            &p,
            "urn:ietf:params:oauth:request_uri:made-up",
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    // …and that did not spend it.
    let mut second = Browser::new(&app);
    let done = sign_in_pushed(&mut second, &p, &fresh).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

#[tokio::test]
async fn of_many_browsers_at_the_consent_page_one_gets_a_code() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let pushed = push(&app, &p, &[]).await;
    let request_uri = pushed.body["request_uri"].as_str().unwrap().to_owned();
    let mut ready = Vec::new();
    for _ in 0..6 {
        let mut browser = Browser::new(&app);
        let login = browser.get(&authorize_pushed(&p, &request_uri)).await;
        let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
        assert!(consent.body.contains("value=\"allow\""), "{}", consent.body);
        let mut form = consent.hidden_fields();
        form.push(("action".into(), "allow".into()));
        ready.push((browser, form));
    }
    let answers = futures_join_all(ready.iter().map(|(browser, form)| {
        let request = browser
            .http
            .post(format!("{}/authorize", browser.base))
            .header("cookie", browser.cookie_header())
            .form(form);
        async move { request.send().await.unwrap() }
    }))
    .await;
    let codes = answers
        .iter()
        .filter(|r| {
            r.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.contains("code="))
        })
        .count();
    assert_eq!(codes, 1, "exactly one code from one request_uri");
}

/// Runs the futures at once.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_endpoint_checks_the_client_and_the_request() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    push(&app, &p, &[("request_uri", "urn:x")])
        .await
        .assert_error(400, "invalid_request");
    push(&app, &p, &[("scope", "openid admin")])
        .await
        .assert_error(400, "invalid_scope");
    push(&app, &p, &[("code_challenge", "")])
        .await
        .assert_error(400, "invalid_request");
    push(&app, &p, &[("redirect_uri", "https://evil.example/cb")])
        .await
        .assert_error(400, "invalid_request");
    push(&app, &p, &[("response_mode", "fragment")])
        .await
        .assert_error(400, "invalid_request");
    push(&app, &p, &[("client_id", "someone-else")])
        .await
        .assert_error(400, "invalid_request");
    push(&app, &p, &[("request", "eyJ.e30.sig")])
        .await
        .assert_error(400, "request_not_supported");
    let mut wrong = Party {
        client_secret: Some("wrong-secret-wrong-secret-wrong-secret".into()),
        ..p
    };
    push(&app, &wrong, &[])
        .await
        .assert_error(401, "invalid_client");
    wrong.client_secret = None;
    push(&app, &wrong, &[])
        .await
        .assert_error(401, "invalid_client");
    let get = app.send(app.http.get(format!("{}/par", app.base))).await;
    get.assert_error(405, "invalid_request");

    // A private_key_jwt client pushes with an assertion whose audience is the issuer.
    let key = es256_key();
    let signer = party(&app, |m| {
        m.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
        m.jwks = Some(key.public_jwk_set());
    })
    .await;
    let now = portcullis_core::Clock::now(&app.clock).0;
    let jwt = assertion(&key, &claims(&signer.client_id, &app.issuer, now));
    let body = format!(
        "{}&client_assertion_type={}&client_assertion={jwt}",
        request_params(&signer, &[]),
        form_urlencoded::byte_serialize(JWT_BEARER.as_bytes()).collect::<String>()
    );
    let pushed = app
        .send(
            app.http
                .post(format!("{}/par", app.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    assert_eq!(pushed.status, 201, "{}", pushed.body);
}

#[tokio::test]
async fn a_client_or_the_server_can_require_pushing() {
    let app = spawn_app().await;
    let must = party(&app, |m| m.require_pushed_authorization_requests = true).await;
    let mut browser = Browser::new(&app);
    let refused = browser.get(&authorize_url(&must, &[])).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER, "{}", refused.body);
    let params = refused.redirect_params();
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("pushed"), "{params:?}");
    let pushed = push(&app, &must, &[]).await;
    assert_eq!(pushed.status, 201, "{}", pushed.body);
    let done = sign_in_pushed(
        &mut browser,
        &must,
        pushed.body["request_uri"].as_str().unwrap(),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.redirect_params().contains_key("code"));

    let strict = spawn_with(|c| c.sign_in.require_pushed_authorization_requests = true).await;
    let meta = strict
        .get_json("/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        format!("{}/par", strict.issuer)
    );
    let anyone = party(&strict, |_| {}).await;
    let refused = Browser::new(&strict)
        .get(&authorize_url(&anyone, &[]))
        .await;
    assert_eq!(refused.redirect_params()["error"], "invalid_request");
    let default = app
        .get_json("/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(default["require_pushed_authorization_requests"], false);
}
