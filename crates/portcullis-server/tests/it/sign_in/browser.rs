//! End to end in a real browser: Debian's Chromium, headless, driven over WebDriver by chromedriver.
//! Signs in, consents, is redirected with a code to a local page, and the test trades the code,
//! refreshes and calls /userinfo. A screenshot of each page goes to the target directory.
//!
//! Needs `chromedriver` and `chromium` (Debian: chromium, chromium-driver). Without them the test
//! says so and passes, except under `CI=true`, where it fails.

use super::flow::{PASSWORD, REDIRECT, VERIFIER, authorize_url, party, refresh};
use crate::helpers::spawn_app;
use base64::Engine;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};

pub(super) struct Driver {
    process: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // End the session first: chromedriver then closes Chromium. Killed with the session
        // open, chromedriver left Chromium running after the test run (one per run, seen in ps).
        // A plain blocking request, as Drop cannot wait for a future.
        use std::io::{Read, Write};
        let address = self.base.trim_start_matches("http://").to_owned();
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The viewport width of the phone `Driver::launch` emulates, in CSS pixels.
pub(super) const PHONE_WIDTH: u32 = 390;

fn find(binary: &str) -> Option<String> {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let path = format!("{dir}/{binary}");
        if std::path::Path::new(&path).exists() {
            return Some(path);
        }
    }
    None
}

impl Driver {
    async fn start() -> Option<Driver> {
        Self::launch(false).await
    }

    /// Chromium as a phone (390 by 844 CSS pixels, touch) with JavaScript off, when `phone`;
    /// else a desktop window.
    pub(super) async fn launch(phone: bool) -> Option<Driver> {
        let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
            let message =
                "chromedriver/chromium not installed (apt install chromium chromium-driver)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{message}: required in CI"
            );
            eprintln!("skipping the browser test: {message}");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let user_data = tempfile::tempdir().unwrap().keep();
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1024,900".into(),
            format!("--user-data-dir={}", user_data.display()),
        ];
        let mut options = json!({ "binary": chromium });
        if phone {
            // Scripts off by content setting, as a user would turn them off: the page's
            // scripts do not run, while chromedriver still reaches the page (with Blink's
            // scriptEnabled=false it hung).
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": PHONE_WIDTH, "height": 844, "pixelRatio": 3.0 }
            });
        }
        options["args"] = json!(args);
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options
        }}});
        let mut session = None;
        for _ in 0..100 {
            if let Ok(r) = http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                let v: Value = r.json().await.unwrap();
                session = v["value"]["sessionId"].as_str().map(str::to_owned);
                assert!(session.is_some(), "chromedriver refused the session: {v}");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Some(Driver {
            process,
            http,
            base,
            session: session.expect("chromedriver started"),
        })
    }

    pub(super) async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            request = request.json(&body);
        }
        let v: Value = request.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    pub(super) async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    pub(super) async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(super) async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(|id| id.as_str())
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    pub(super) async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    pub(super) async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    pub(super) async fn text(&self) -> String {
        let id = self.element("body").await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/text"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Polls until the page's text contains `needle`: a click returns before the navigation it
    /// starts has finished.
    pub(super) async fn wait_for_text(&self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the page never showed {needle:?}; it shows: {text}");
    }

    pub(super) async fn screenshot(&self, name: &str) {
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// A tiny web app's callback page on a loopback port.
pub(super) async fn callback_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            // Reads the request (a form_post's body arrives with it or just after), and echoes
            // its first line and body, so a test can see how the code arrived.
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let Ok(Ok(n)) = tokio::time::timeout(
                    std::time::Duration::from_millis(300),
                    socket.read(&mut chunk),
                )
                .await
                else {
                    break;
                };
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            let first_line = text.lines().next().unwrap_or_default().to_owned();
            let posted = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b)
                .unwrap_or_default();
            let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
            let body = format!(
                "<html><body><h1>Signed in to the photo gallery</h1><p id=\"request\">{}</p><p id=\"posted\">{}</p></body></html>",
                escape(&first_line),
                escape(posted)
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (port, handle)
}

#[tokio::test]
async fn sign_in_consent_code_refresh_and_userinfo_in_chromium() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = spawn_app().await;
    // A web app's redirect URI is registered with its port: only native apps may vary it.
    let (port, _listener) = callback_listener().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let p = party(&app, |m| m.redirect_uris = vec![redirect.clone()]).await;
    let url = format!(
        "{}{}",
        app.base,
        authorize_url(&p, &[("redirect_uri", &redirect)])
    );

    driver.go(&url).await;
    driver.wait_for_text("Photo Gallery").await;
    driver.screenshot("login.png").await;
    driver.type_into("#username", &p.username).await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("#sign-in").await;

    driver.wait_for_text("See your email address").await;
    driver.screenshot("consent.png").await;
    driver.click("#allow").await;

    driver.wait_for_text("Signed in to the photo gallery").await;
    let landed = driver.url().await;
    assert!(
        landed.starts_with(&redirect),
        "redirected to the app: {landed}"
    );
    let query = landed.split_once('?').unwrap().1;
    let params: std::collections::BTreeMap<String, String> =
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["state"], "xyz-state");
    assert_eq!(params["iss"], app.issuer);

    let answer = app
        .send(app.token_request().form(&[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
            ("client_id", &p.client_id),
            ("client_secret", p.client_secret.as_deref().unwrap()),
        ]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let refreshed = refresh(
        &app,
        &p,
        answer.body["refresh_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let info: Value = app
        .http
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(refreshed.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], p.user_id);
    assert_eq!(info["email"], "alice@example.com");

    // A client that asks for a fresh sign-in (prompt=login, then max_age=0) of a user who has not
    // consented to it yet: sign in, Allow, and the browser lands at the app, not back at the login
    // page.
    for forcing in [("prompt", "login"), ("max_age", "0")] {
        let other = party(&app, |m| m.redirect_uris = vec![redirect.clone()]).await;
        let url = format!(
            "{}{}",
            app.base,
            authorize_url(&other, &[("redirect_uri", &redirect), forcing])
        );
        driver.go(&url).await;
        driver.wait_for_text("Photo Gallery").await;
        driver.type_into("#username", &other.username).await;
        driver.type_into("#password", PASSWORD).await;
        driver.click("#sign-in").await;
        driver.wait_for_text("See your email address").await;
        driver.click("#allow").await;
        driver.wait_for_text("Signed in to the photo gallery").await;
        let landed = driver.url().await;
        assert!(
            landed.starts_with(&redirect) && landed.contains("code="),
            "{forcing:?}: {landed}"
        );
    }

    // A command-line sign-in (RFC 8252): the loopback page at the end is styled like the pages
    // above and says how it went, once the code has really been exchanged.
    for (choice, says) in [("#allow", "Signed in"), ("#deny", "Sign-in failed")] {
        // A client of its own each time, so that a remembered consent does not skip the page.
        let cli = party(&app, |m| {
            m.redirect_uris = vec!["http://127.0.0.1/callback".into()];
            m.token_endpoint_auth_method = Some(portcullis_core::TokenEndpointAuthMethod::None);
        })
        .await;
        let mut settings = portcullis_client::LoginSettings::new(&app.issuer, &cli.client_id);
        settings.scope = "openid email offline_access".into();
        settings.wait = std::time::Duration::from_secs(30);
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let login = tokio::spawn(async move {
            portcullis_client::login(&settings, &portcullis_core::SystemClock, |url| {
                let _ = tx.send(url.to_owned());
            })
            .await
        });
        let url = rx.await.unwrap();
        // The server offers PAR, so the login pushes: the browser carries only a reference.
        assert!(
            url.contains("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A")
                && !url.contains("code_challenge"),
            "{url}"
        );
        driver.go(&url).await;
        driver.wait_for_text("Photo Gallery").await;
        if driver.text().await.contains("Password") {
            driver.type_into("#username", &cli.username).await;
            driver.type_into("#password", PASSWORD).await;
            driver.click("#sign-in").await;
            driver.wait_for_text("See your email address").await;
        }
        driver.click(choice).await;
        let text = driver.wait_for_text(says).await;
        let result = login.await.unwrap();
        if choice == "#allow" {
            assert!(result.is_ok(), "{result:?}");
            driver.screenshot("cli-signed-in.png").await;
        } else {
            assert!(
                text.contains("access_denied"),
                "the page names the error: {text}"
            );
            assert!(result.is_err());
            driver.screenshot("cli-sign-in-failed.png").await;
        }
        assert!(
            text.to_lowercase().contains("portcullis"),
            "styled like the sign-in pages: {text}"
        );
    }

    // response_mode=form_post: the page posts the code to the app by itself, its script allowed
    // by the page's CSP (a blocked script would leave the browser on our page).
    let poster = party(&app, |m| m.redirect_uris = vec![redirect.clone()]).await;
    let url = format!(
        "{}{}",
        app.base,
        authorize_url(
            &poster,
            &[("redirect_uri", &redirect), ("response_mode", "form_post")]
        )
    );
    driver.go(&url).await;
    driver.wait_for_text("Photo Gallery").await;
    driver.type_into("#username", &poster.username).await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("#sign-in").await;
    driver.wait_for_text("See your email address").await;
    driver.click("#allow").await;
    let landed = driver.wait_for_text("Signed in to the photo gallery").await;
    assert!(
        landed.contains("POST /callback"),
        "posted, not redirected: {landed}"
    );
    assert!(
        landed.contains("code=") && landed.contains("state=xyz-state"),
        "{landed}"
    );
    assert!(
        !driver.url().await.contains("code="),
        "the code is in no URL"
    );

    // An error page renders too.
    driver
        .go(&format!("{}/authorize?client_id=nobody", app.base))
        .await;
    driver.wait_for_text("not registered").await;
    driver.screenshot("error.png").await;
    let _ = REDIRECT;
}
