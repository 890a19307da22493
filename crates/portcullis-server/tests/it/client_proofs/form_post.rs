//! `response_mode=form_post` (OAuth 2.0 Form Post Response Mode): the code comes back in a form
//! the browser POSTs to the redirect URI, from a page that submits itself with the one script its
//! CSP allows and shows a button for browsers without JavaScript. The browser test
//! (`sign_in::browser`) watches Chromium post it.

use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, PASSWORD, REDIRECT, VERIFIER, authorize_url, exchange, party};
use base64::Engine;
use reqwest::StatusCode;

/// The value of `directive` in a CSP.
fn directive<'a>(csp: &'a str, name: &str) -> Option<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).map(str::trim))
}

#[tokio::test]
async fn the_code_is_posted_by_a_page_that_works_without_javascript() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    let login = browser
        .get(&authorize_url(&p, &[("response_mode", "form_post")]))
        .await;
    let consent = browser.sign_in(&login, &p.username, PASSWORD).await;
    let page = browser.submit(&consent, &[("action", "allow")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.location().is_none(), "no code in a URL");
    assert!(
        page.body.contains(&format!(
            "<form method=\"post\" action=\"{}\">",
            REDIRECT.replace('/', "&#x2f;")
        )) || page
            .body
            .contains(&format!("<form method=\"post\" action=\"{REDIRECT}\">")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<button type=\"submit\""),
        "a visible button: {}",
        page.body
    );
    let fields: std::collections::BTreeMap<String, String> =
        page.hidden_fields().into_iter().collect();
    assert_eq!(fields["state"], "xyz-state");
    assert_eq!(fields["iss"], app.issuer);
    assert_eq!(page.headers["cache-control"], "no-store");

    // The CSP allows exactly the page's one inline script, and posting only to the redirect URI.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert_eq!(directive(csp, "default-src"), Some("'none'"), "{csp}");
    assert_eq!(directive(csp, "form-action"), Some(REDIRECT), "{csp}");
    assert_eq!(directive(csp, "frame-ancestors"), Some("'none'"), "{csp}");
    let script_start = page.body.find("<script>").unwrap() + "<script>".len();
    let script_end = page.body[script_start..].find("</script>").unwrap() + script_start;
    let script = &page.body[script_start..script_end];
    let hash = base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes()).as_ref());
    assert_eq!(
        directive(csp, "script-src"),
        Some(format!("'sha256-{hash}'").as_str()),
        "{csp}"
    );
    assert_eq!(page.body.matches("<script").count(), 1);

    let tokens = exchange(&app, &p, &fields["code"], Some(VERIFIER)).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
}

#[tokio::test]
async fn errors_go_back_in_the_mode_asked_for() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = Browser::new(&app);
    // prompt=none with nobody signed in: login_required, posted back.
    let page = browser
        .get(&authorize_url(
            &p,
            &[("response_mode", "form_post"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let fields: std::collections::BTreeMap<String, String> =
        page.hidden_fields().into_iter().collect();
    assert_eq!(fields["error"], "login_required");
    assert_eq!(fields["state"], "xyz-state");
    // query, named explicitly, is the usual redirect.
    let page = browser
        .get(&authorize_url(
            &p,
            &[("response_mode", "query"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.redirect_params()["error"], "login_required");
    // A mode we do not offer is refused, by redirect.
    for mode in ["fragment", "jwt", "web_message"] {
        let page = browser
            .get(&authorize_url(&p, &[("response_mode", mode)]))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{mode}");
        assert_eq!(page.redirect_params()["error"], "invalid_request", "{mode}");
    }
    let meta = app.get_json("/.well-known/openid-configuration").await.body;
    assert_eq!(
        meta["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
}
