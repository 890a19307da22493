//! The Device Authorization Grant (RFC 8628) over real HTTP: the device authorization endpoint,
//! the verification page at `/device` played by a scripted browser, and the device's polls, with
//! every error of §3.2 and §3.5.

mod page;
mod polling;

use crate::helpers::{Answer, TestApp};
use crate::sign_in::flow::{Browser, PASSWORD, Page, Party, party};
use portcullis_core::{GrantType, TokenEndpointAuthMethod};

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public TV app registered for the device grant (and refresh tokens), and a user.
pub async fn tv(app: &TestApp) -> Party {
    party(app, |m| {
        m.client_name = Some("Living Room TV".into());
        m.grant_types = vec![GrantType::DeviceCode, GrantType::RefreshToken];
        m.redirect_uris = Vec::new();
        m.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None);
    })
    .await
}

/// `POST /device_authorization` with a public client's id.
pub async fn start(app: &TestApp, client_id: &str, scope: &str) -> Answer {
    app.send(
        app.http
            .post(format!("{}/device_authorization", app.base))
            .form(&[("client_id", client_id), ("scope", scope)]),
    )
    .await
}

/// One poll of the token endpoint.
pub async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> Answer {
    app.post_token(&[
        ("grant_type", DEVICE_GRANT),
        ("device_code", device_code),
        ("client_id", client_id),
    ])
    .await
}

/// Opens `verification_uri_complete`, confirms the code, signs in: the consent page.
pub async fn to_consent(app: &TestApp, browser: &mut Browser, p: &Party, complete: &str) -> Page {
    let entry = browser.get(complete).await;
    assert_eq!(entry.status, 200, "{}", entry.body);
    let _ = app;
    let login = browser
        .submit_to(
            "/device",
            &entry,
            &[("user_code", &user_code_in(&entry)), ("action", "code")],
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let consent = browser
        .submit_to(
            "/device",
            &login,
            &[
                ("username", &p.username),
                ("password", PASSWORD),
                ("action", "login"),
            ],
        )
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("id=\"allow\""), "{}", consent.body);
    consent
}

/// The value of the code field of the code page.
pub fn user_code_in(page: &Page) -> String {
    let at = page.body.find("id=\"user-code\"").expect("a code field");
    let tag_end = at + page.body[at..].find('>').unwrap();
    let tag = &page.body[at..tag_end];
    let v = tag.find("value=\"").unwrap() + 7;
    let end = tag[v..].find('"').unwrap();
    tag[v..v + end].to_owned()
}

#[tokio::test]
async fn a_tv_signs_in_through_a_phone_and_gets_the_tokens_of_the_code_flow() {
    let app = crate::helpers::spawn_app().await;
    let p = tv(&app).await;
    let started = start(&app, &p.client_id, "openid profile offline_access").await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let body = &started.body;
    let user_code = body["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(body["verification_uri"], format!("{}/device", app.issuer));
    let complete = body["verification_uri_complete"].as_str().unwrap();
    assert_eq!(
        complete,
        format!("{}/device?user_code={user_code}", app.issuer)
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    let device_code = body["device_code"].as_str().unwrap();

    let first = poll(&app, &p.client_id, device_code).await;
    first.assert_error(400, "authorization_pending");

    let mut browser = Browser::new(&app);
    let entry = browser.get(complete).await;
    assert_eq!(
        user_code_in(&entry),
        user_code,
        "the link fills the code in"
    );
    let consent = to_consent(&app, &mut browser, &p, complete).await;
    assert!(consent.body.contains("Living Room TV"), "{}", consent.body);
    assert!(
        consent.body.contains(user_code) && consent.body.contains("If someone sent you this code"),
        "the consent page shows the code and warns: {}",
        consent.body
    );
    let done = browser
        .submit_to("/device", &consent, &[("action", "allow")])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("You may return to your device"),
        "{}",
        done.body
    );

    // Polls racing after the approval: one gets the tokens, the others invalid_grant.
    app.clock.advance(5);
    let racing = (0..6).map(|_| {
        let (http, base) = (app.http.clone(), app.base.clone());
        let (id, code) = (p.client_id.clone(), device_code.to_owned());
        tokio::spawn(async move {
            let response = http
                .post(format!("{base}/token"))
                .form(&[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &code),
                    ("client_id", &id),
                ])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        })
    });
    let mut answers = Vec::new();
    for task in racing.collect::<Vec<_>>() {
        answers.push(task.await.unwrap());
    }
    let winners: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == 200 || body["error"] == "invalid_grant"),
        "{answers:?}"
    );
    let tokens = crate::helpers::Answer {
        status: reqwest::StatusCode::OK,
        headers: Default::default(),
        body: winners[0].1.clone(),
    };
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert!(tokens.body["refresh_token"].is_string());
    assert_eq!(tokens.body["scope"], "openid profile offline_access");
    let id_token = tokens.body["id_token"].as_str().unwrap();
    let claims = crate::helpers::jwt_claims(id_token);
    assert_eq!(claims["sub"], p.user_id);
    assert_eq!(claims["aud"], p.client_id);
    assert!(claims.get("nonce").is_none());
    let access = crate::helpers::jwt_claims(tokens.body["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], p.user_id);
    assert_eq!(access["client_id"], p.client_id);

    // The refresh token works as the code flow's does.
    let refreshed = app
        .post_token(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens.body["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", &p.client_id),
        ])
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);

    // Neither code is stored as it is (SQLite: not in the database file or its log).
    if let Some(path) = app.database.url.strip_prefix("sqlite://") {
        let mut stored = std::fs::read(path).unwrap();
        stored.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for code in [device_code, user_code, &user_code.replace('-', "")] {
            assert!(
                !stored.windows(code.len()).any(|w| w == code.as_bytes()),
                "{code} is stored as it is"
            );
        }
    }

    // The device code gives tokens once.
    app.clock.advance(5);
    poll(&app, &p.client_id, device_code)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn discovery_lists_the_endpoint_and_the_grant() {
    let app = crate::helpers::spawn_app().await;
    let doc = app.get_json("/.well-known/openid-configuration").await.body;
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{}/device_authorization", app.issuer)
    );
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(DEVICE_GRANT))
    );
}

/// Device authorizations are counted per address, whatever the client (each stores a row), and
/// past `[device] max_requests_per_address` the address gets 429 with a time to wait.
#[tokio::test]
async fn device_authorizations_are_limited_per_address() {
    let app = crate::helpers::spawn_with(|c| c.device.max_requests_per_address = 3).await;
    let first = tv(&app).await;
    let second = tv(&app).await;
    for client in [&first, &second, &first] {
        let answer = start(&app, &client.client_id, "openid").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    for client in [&second, &first] {
        let refused = start(&app, &client.client_id, "openid").await;
        refused.assert_error(429, "temporarily_unavailable");
        let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!(wait > 0);
        let description = refused.body["error_description"].as_str().unwrap();
        assert!(
            description.contains("device authorizations"),
            "{description}"
        );
    }
}
