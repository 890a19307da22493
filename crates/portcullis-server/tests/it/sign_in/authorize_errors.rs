//! The authorization endpoint's errors: a page for a bad client or redirect URI, a redirect with
//! `error`, `state` and `iss` for everything after.

use super::flow::{Browser, REDIRECT, authorize_url, party};
use crate::helpers::spawn_app;
use reqwest::StatusCode;

#[tokio::test]
async fn a_bad_client_or_redirect_uri_shows_a_page_and_never_redirects() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let unknown = browser
        .get(&authorize_url(&p, &[("client_id", "no-such-client")]))
        .await;
    let missing = browser.get(&authorize_url(&p, &[("client_id", "")])).await;
    let mut pages = vec![unknown, missing];
    for trick in [
        "https://app.example.com/callback/",
        "https://app.example.com/callback?x=1",
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://app.example.com/callback/../callback",
        "https://app.example.com/callback#frag",
        "https://evil@app.example.com/callback",
        "https://app.example.com.evil.com/callback",
        "https://app.example.com:443/callback",
        "http://app.example.com/callback",
        "https://evil.example.com/callback",
    ] {
        pages.push(
            browser
                .get(&authorize_url(&p, &[("redirect_uri", trick)]))
                .await,
        );
    }
    for page in &pages {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page.location().is_none(), "never redirected");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert!(page.body.contains("<html"), "an HTML page");
    }
}

#[tokio::test]
async fn loopback_redirect_uris_match_on_any_port_for_native_apps() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.redirect_uris = vec![
            "http://127.0.0.1/callback".into(),
            "http://[::1]/callback".into(),
        ];
        m.application_type = Some(portcullis_core::ApplicationType::Native);
    })
    .await;
    let mut browser = Browser::new(&app);
    for uri in [
        "http://127.0.0.1:54321/callback",
        "http://[::1]:8000/callback",
    ] {
        let page = browser
            .get(&authorize_url(&p, &[("redirect_uri", uri)]))
            .await;
        assert_eq!(page.status, 200, "{uri}: {}", page.body);
        assert!(page.body.contains("name=\"password\""));
    }
    let page = browser
        .get(&authorize_url(
            &p,
            &[("redirect_uri", "http://127.0.0.1:54321/other")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn later_errors_go_back_to_the_client_with_state_and_iss() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("response_type", "")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("response_type", "code id_token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("scope", "openid \"bad\"")], "invalid_scope"),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "too-short")], "invalid_request"),
        (vec![("prompt", "bogus")], "invalid_request"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("max_age", "soon")], "invalid_request"),
    ];
    for (extra, error) in cases {
        let page = browser.get(&authorize_url(&p, &extra)).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{extra:?}: {}",
            page.body
        );
        let location = page.location().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        let params = page.redirect_params();
        assert_eq!(params["error"], error, "{extra:?}");
        assert_eq!(params["state"], "xyz-state");
        assert_eq!(params["iss"], app.issuer);
        assert!(!params.contains_key("code"));
    }
    // A repeated parameter.
    let url = format!("{}&scope=openid", authorize_url(&p, &[]));
    let params = browser.get(&url).await.redirect_params();
    assert_eq!(params["error"], "invalid_request");
}

#[tokio::test]
async fn pkce_is_required_except_for_a_legacy_confidential_client() {
    let app = spawn_app().await;
    let strict = party(&app, |_| {}).await;
    let legacy = party(&app, |m| m.require_pkce = false).await;
    let public = party(&app, |m| {
        m.token_endpoint_auth_method = Some(portcullis_core::TokenEndpointAuthMethod::None);
    })
    .await;
    let mut browser = Browser::new(&app);
    let no_pkce = [("code_challenge", ""), ("code_challenge_method", "")];
    for p in [&strict, &public] {
        let params = browser
            .get(&authorize_url(p, &no_pkce))
            .await
            .redirect_params();
        assert_eq!(params["error"], "invalid_request");
        assert!(params["error_description"].contains("PKCE"));
    }
    let page = browser.get(&authorize_url(&legacy, &no_pkce)).await;
    assert_eq!(
        page.status, 200,
        "the legacy client may skip PKCE: {}",
        page.body
    );
    // The public client cannot be registered without PKCE at all.
    let mut bad = portcullis_server::client::ClientMetadata {
        token_endpoint_auth_method: Some(portcullis_core::TokenEndpointAuthMethod::None),
        grant_types: vec![portcullis_core::GrantType::AuthorizationCode],
        redirect_uris: vec![REDIRECT.into()],
        ..Default::default()
    };
    bad.require_pkce = false;
    assert!(bad.validate().is_err());
}

#[tokio::test]
async fn a_client_without_the_code_grant_is_refused() {
    let app = spawn_app().await;
    let p = party(&app, |m| {
        m.grant_types = vec![portcullis_core::GrantType::ClientCredentials];
    })
    .await;
    let params = Browser::new(&app)
        .get(&authorize_url(&p, &[]))
        .await
        .redirect_params();
    assert_eq!(params["error"], "unauthorized_client");
}

#[tokio::test]
async fn error_pages_name_the_oauth_error_and_the_request_id() {
    let app = spawn_app().await;
    let page = app
        .http
        .get(format!(
            "{}/authorize?response_type=code&client_id=nobody",
            app.base
        ))
        .header("x-request-id", "page-error-1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let body = page.text().await.unwrap();
    assert!(body.contains("not registered"), "{body}");
    assert!(body.contains("<code>invalid_client</code>"), "{body}");
    assert!(body.contains("<code>page-error-1</code>"), "{body}");
    let p = party(&app, |_| {}).await;
    let page = app
        .http
        .get(format!(
            "{}{}",
            app.base,
            authorize_url(&p, &[("redirect_uri", "https://evil.example/cb")])
        ))
        .send()
        .await
        .unwrap();
    let generated = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = page.text().await.unwrap();
    assert!(body.contains("<code>invalid_request</code>"), "{body}");
    assert!(body.contains(&generated), "{body}");
    // A request with no client_id at all.
    let page = app
        .http
        .get(format!("{}/authorize?response_type=code", app.base))
        .header("x-request-id", "page-error-3")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let body = page.text().await.unwrap();
    assert!(body.contains("client_id"), "names the parameter: {body}");
    assert!(body.contains("<code>invalid_request</code>"), "{body}");
    assert!(body.contains("<code>page-error-3</code>"), "{body}");
}

#[tokio::test]
async fn configured_scopes_are_described_in_words_on_the_consent_page() {
    let config = portcullis_server::Config::from_sources(
        "[scopes.\"photos:read\"]\ndescription = \"See your photo albums\"",
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    let app = crate::helpers::spawn_with(move |c| c.scopes = config.scopes).await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let login = browser
        .get(&authorize_url(&p, &[("scope", "openid photos:read")]))
        .await;
    let consent = browser
        .sign_in(&login, &p.username, super::flow::PASSWORD)
        .await;
    assert!(
        consent.body.contains("See your photo albums"),
        "{}",
        consent.body
    );
    let bad = portcullis_server::Config::from_sources(
        "[scopes.\"two words\"]\ndescription = \"x\"",
        Vec::<(String, String)>::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("scopes.two words"), "{bad}");
    for description in ["", "   ", &"x".repeat(201)] {
        let bad = portcullis_server::Config::from_sources(
            &format!("[scopes.photos]\ndescription = \"{description}\""),
            Vec::<(String, String)>::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("1 to 200 characters"), "{bad}");
    }
}
