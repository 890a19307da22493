//! The whole sign-in, end to end over HTTP: a new browser asks `/authorize`, gets the login page,
//! posts the password, gets the consent page, allows, follows the redirect's code to `/token`, and
//! gets its tokens. `CONCURRENCY` browsers do this over and over for `SECONDS`, against a real
//! server in this process (SQLite in a temporary directory, the default Argon2 cost and
//! `password_hash_concurrency`), and the bench prints sign-ins per second.
//!
//!   cargo bench -p portcullis-server --bench sign_in
//!   SIGN_IN_SECONDS=20 SIGN_IN_CONCURRENCY=16 cargo bench -p portcullis-server --bench sign_in
//!
//! Every sign-in checks one password, so Argon2 bounds it: the bench also times one password check
//! alone, on one core, to compare.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use portcullis_core::{Secret, SystemClock};
use portcullis_server::{Config, Server};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "sign-in-bench-password-0123456789";
const REDIRECT: &str = "http://127.0.0.1/cb";

fn main() {
    let seconds: u64 = env_number("SIGN_IN_SECONDS", 10);
    let concurrency: usize = env_number("SIGN_IN_CONCURRENCY", 8) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(seconds, concurrency));
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(seconds: u64, concurrency: usize) {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
listen = "127.0.0.1:0"
database = "sqlite://{}/sign_in.db"

{users}
[[clients]]
client_id = "bench-web"
client_secret = "bench-web-secret-0123456789-0123456789"
grant_types = ["authorization_code"]
response_types = ["code"]
redirect_uris = ["{REDIRECT}"]
scope = "openid profile"
"#,
        dir.path().display(),
        // One user per browser: concurrent sign-ins of one username count against its limit.
        users = (0..concurrency)
            .map(|i| format!("[[users]]\nusername = \"bench{i}\"\npassword = \"{PASSWORD}\"\n"))
            .collect::<String>()
    );
    let config = Config::from_sources(&toml, Vec::new()).unwrap();
    let argon2_workers = config.sign_in.password_hash_concurrency;
    let server = Server::build(config, Arc::new(SystemClock)).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));

    // One password check alone, for comparison.
    let hasher = portcullis_server::users::PasswordHasher::new(1).unwrap();
    let hash = hasher.hash(&Secret::new(PASSWORD)).await.unwrap();
    let started = Instant::now();
    let checks = 10;
    for _ in 0..checks {
        assert!(hasher.verify(&Secret::new(PASSWORD), Some(&hash)).await);
    }
    let one_check = started.elapsed() / checks;

    // Warm up once, then measure.
    sign_in(&base, "bench0").await;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let (base, done) = (base.clone(), done.clone());
        tasks.spawn(async move {
            let username = format!("bench{i}");
            while Instant::now() < deadline {
                sign_in(&base, &username).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let count = done.load(Ordering::Relaxed);
    let _ = stop.send(());
    println!(
        "sign-ins: {count} in {elapsed:.1} s = {:.1}/s with {concurrency} browsers at once, on {} CPUs",
        count as f64 / elapsed,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "one Argon2 password check alone: {:.1} ms, so {argon2_workers} at a time \
         (sign_in.password_hash_concurrency) allow at most {:.0}/s",
        one_check.as_secs_f64() * 1000.0,
        argon2_workers as f64 / one_check.as_secs_f64()
    );
}

/// One browser's whole sign-in; panics on any unexpected answer. `prompt=consent` asks for consent
/// every time, as a first sign-in to an application does.
async fn sign_in(base: &str, username: &str) {
    let mut browser = Browser::new(base);
    let verifier = "bench-verifier-0123456789-0123456789-0123456789";
    let challenge = {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "bench-web")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s")
        .append_pair("prompt", "consent")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let login = browser.get(&format!("/authorize?{query}")).await;
    assert_eq!(login.0, 200, "login page");
    let mut form = hidden_fields(&login.1);
    form.extend([
        ("action".into(), "login".into()),
        ("username".into(), username.into()),
        ("password".into(), PASSWORD.into()),
    ]);
    let consent = browser.post("/authorize", &form).await;
    assert_eq!(consent.0, 200, "consent page: {}", consent.1);
    let mut form = hidden_fields(&consent.1);
    form.push(("action".into(), "allow".into()));
    let redirect = browser.post("/authorize", &form).await;
    assert_eq!(redirect.0, 303, "redirect with a code");
    let code = form_urlencoded::parse(redirect.2.split_once('?').unwrap().1.as_bytes())
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let tokens = browser
        .http
        .post(format!("{base}/token"))
        .basic_auth("bench-web", Some("bench-web-secret-0123456789-0123456789"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200, "tokens");
}

/// A browser with its own cookies.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Status, body and `Location` of an answer, keeping its cookies.
    async fn keep(&mut self, response: reqwest::Response) -> (u16, String, String) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, response.text().await.unwrap(), location)
    }

    async fn get(&mut self, path: &str) -> (u16, String, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    async fn post(&mut self, path: &str, form: &[(String, String)]) -> (u16, String, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }
}

/// The hidden fields of a page's form, unescaped.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find("type=\"hidden\"") {
        let start = rest[..i].rfind('<').unwrap_or(0);
        let end = i + rest[i..].find('>').unwrap_or(0);
        let tag = &rest[start..end];
        let attribute = |name: &str| {
            let from = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let to = tag[from..].find('"')?;
            Some(
                tag[from..from + to]
                    .replace("&#x2f;", "/")
                    .replace("&#x2F;", "/")
                    .replace("&#47;", "/")
                    .replace("&quot;", "\"")
                    .replace("&#x27;", "'")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(n), Some(v)) = (attribute("name"), attribute("value")) {
            out.push((n, v));
        }
        rest = &rest[end..];
    }
    out
}
