//! With an `https://` issuer the session and CSRF cookies are `__Host-` cookies (Secure, Path=/,
//! no Domain), which a sibling subdomain cannot set; a same-named cookie without the prefix is
//! never read in their place.

use crate::helpers::spawn_with;
use crate::sign_in::flow::{Browser, PASSWORD, authorize_url, party};

#[tokio::test]
async fn https_issuers_use_host_prefixed_cookies() {
    let app = spawn_with(|c| c.issuer = Some("https://id.example.test".parse().unwrap())).await;
    let p = party(&app, |m| m.first_party = true).await;
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_url(&p, &[])).await;
    let set: Vec<String> = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let csrf = set
        .iter()
        .find(|c| c.contains("csrf"))
        .unwrap_or_else(|| panic!("no CSRF cookie in {set:?}"));
    assert!(csrf.starts_with("__Host-portcullis_csrf="), "{csrf}");
    assert!(
        csrf.contains("; Secure") && csrf.contains("; Path=/"),
        "{csrf}"
    );
    assert!(!csrf.to_lowercase().contains("domain="), "{csrf}");

    // A sibling subdomain planted its own portcullis_csrf cookie and wrote the same value into a
    // form: the prefixed cookie decides, so the form is refused.
    let mut forged = login.hidden_fields();
    forged.push(("csrf".into(), "planted-value".into()));
    forged.retain(|(k, v)| k != "csrf" || v == "planted-value");
    forged.extend([
        ("username".into(), p.username.clone()),
        ("password".into(), PASSWORD.into()),
        ("action".into(), "login".into()),
    ]);
    browser
        .cookies
        .insert("portcullis_csrf".into(), "planted-value".into());
    let refused = browser.post("/authorize", &forged).await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The real form signs in and the session cookie is prefixed too.
    browser.cookies.remove("portcullis_csrf");
    let signed_in = browser.sign_in(&login, &p.username, PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("session"))
        .unwrap();
    assert!(
        session.starts_with("__Host-portcullis_session="),
        "{session}"
    );
    assert!(session.contains("; Secure") && session.contains("; Path=/"));
    // A planted session cookie without the prefix is ignored: the real one is used.
    browser
        .cookies
        .insert("portcullis_session".into(), "planted-session".into());
    let again = browser.get(&authorize_url(&p, &[])).await;
    assert_eq!(
        again.status, 303,
        "still signed in with the prefixed cookie"
    );
}
