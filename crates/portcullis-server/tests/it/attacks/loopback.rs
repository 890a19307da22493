//! RFC 8252 §7.3's "any loopback port" is for native apps. A confidential web client registered
//! with `http://127.0.0.1:9999/cb` gets its codes there and nowhere else.

use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, Party, authorize_url, party};

const REGISTERED: &str = "http://127.0.0.1:9999/cb";

async fn try_redirect(app: &crate::helpers::TestApp, p: &Party, uri: &str) -> (u16, String) {
    let mut browser = Browser::new(app);
    let page = browser
        .get(&authorize_url(p, &[("redirect_uri", uri)]))
        .await;
    (page.status.as_u16(), page.body)
}

#[tokio::test]
async fn a_web_client_gets_its_codes_only_at_the_registered_port() {
    let app = spawn_app().await;
    let web = party(&app, |m| m.redirect_uris = vec![REGISTERED.into()]).await;
    let (status, body) = try_redirect(&app, &web, REGISTERED).await;
    assert_eq!(
        status, 200,
        "the registered URI gets the login page: {body}"
    );
    for other in ["http://127.0.0.1:10000/cb", "http://127.0.0.1/cb"] {
        let (status, body) = try_redirect(&app, &web, other).await;
        assert_eq!(status, 400, "{other} was accepted for a web client: {body}");
        assert!(body.contains("not registered"), "{body}");
    }
}

#[tokio::test]
async fn a_native_client_may_use_any_loopback_port() {
    let app = spawn_app().await;
    let native = party(&app, |m| {
        m.redirect_uris = vec![REGISTERED.into()];
        m.token_endpoint_auth_method = Some(portcullis_core::TokenEndpointAuthMethod::None);
    })
    .await;
    for uri in [
        REGISTERED,
        "http://127.0.0.1:10000/cb",
        "http://127.0.0.1/cb",
    ] {
        let (status, body) = try_redirect(&app, &native, uri).await;
        assert_eq!(status, 200, "{uri}: {body}");
    }
    let (status, _) = try_redirect(&app, &native, "http://127.0.0.1:10000/other").await;
    assert_eq!(status, 400, "the path still has to match");
}
