//! A scripted browser over reqwest: follows the login and consent forms the way a person would,
//! keeping cookies by hand so every step is visible.

use crate::helpers::TestApp;
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Clock, GrantType};
use portcullis_server::client::ClientMetadata;
use portcullis_server::users::{PasswordHasher, PasswordSource, Profile, UserAdmin};
use reqwest::StatusCode;
use std::collections::BTreeMap;

pub const REDIRECT: &str = "https://app.example.com/callback";
pub const PASSWORD: &str = "correct horse battery staple";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(verifier: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub base: String,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The value of a hidden input.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\"");
        let at = self.body.find(&marker)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let v = tag.find("value=\"")? + 7;
        let end = tag[v..].find('"')?;
        Some(html_unescape(&tag[v..v + end]))
    }

    /// Every hidden field of the form, for posting it back.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("type=\"hidden\"") {
            let start = rest[..i].rfind('<').unwrap_or(0);
            let end = i + rest[i..].find('>').unwrap_or(0);
            let tag = &rest[start..end];
            let get = |attr: &str| {
                let a = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
                let e = tag[a..].find('"')?;
                Some(html_unescape(&tag[a..a + e]))
            };
            if let (Some(n), Some(v)) = (get("name"), get("value")) {
                out.push((n, v));
            }
            rest = &rest[end..];
        }
        out
    }

    /// The query parameters of the redirect.
    pub fn redirect_params(&self) -> BTreeMap<String, String> {
        let location = self.location().expect("a redirect");
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            base: app.base.clone(),
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path_and_query: &str) -> Page {
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_owned()
        } else {
            format!("{}{path_and_query}", self.base)
        };
        let response = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(String, String)]) -> Page {
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

    /// Posts a form with the current cookies and keeps none of the answer's: for many at once.
    /// With `forwarded_for`, as a trusted proxy would on behalf of that address.
    pub async fn post_status(
        &self,
        path: &str,
        form: &[(String, String)],
        forwarded_for: Option<&str>,
    ) -> u16 {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        request.form(form).send().await.unwrap().status().as_u16()
    }

    /// Submits a page's form with `extra` fields added.
    pub async fn submit(&mut self, page: &Page, extra: &[(&str, &str)]) -> Page {
        self.submit_to("/authorize", page, extra).await
    }

    /// Submits a page's form to `path` with `extra` fields added.
    pub async fn submit_to(&mut self, path: &str, page: &Page, extra: &[(&str, &str)]) -> Page {
        let mut form = page.hidden_fields();
        form.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.post(path, &form).await
    }

    /// Signs in on a login page.
    pub async fn sign_in(&mut self, login: &Page, username: &str, password: &str) -> Page {
        assert!(
            login.body.contains("name=\"password\""),
            "a login page: {}",
            login.body
        );
        self.submit(
            login,
            &[
                ("username", username),
                ("password", password),
                ("action", "login"),
            ],
        )
        .await
    }
}

pub struct Party {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub username: String,
    pub user_id: String,
}

/// A confidential web-app client with refresh tokens, and a user.
pub async fn party(app: &TestApp, tweak: impl FnOnce(&mut ClientMetadata)) -> Party {
    let mut metadata = ClientMetadata {
        client_name: Some("Photo Gallery".into()),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: vec![REDIRECT.into()],
        scope: "openid profile email offline_access photos:read photos:write".into(),
        ..ClientMetadata::default()
    };
    tweak(&mut metadata);
    let secretless = !metadata.has_secret();
    let (client_id, client_secret) = if secretless {
        let hasher = app.hasher().await;
        let saved = portcullis_server::admin::ClientAdmin::new(
            app.store.as_ref(),
            &hasher,
            app.clock.now(),
        )
        .create(
            None,
            metadata,
            portcullis_server::admin::SecretSource::Generate,
        )
        .await
        .unwrap();
        app.registry.refresh().await.unwrap();
        (saved.client_id.to_string(), None)
    } else {
        let (id, secret) = app.create_client(metadata).await;
        (id, Some(secret))
    };
    let username = format!("alice-{}", &client_id[..6]);
    let hasher = PasswordHasher::new(2).unwrap();
    let user_id = UserAdmin::new(app.store.as_ref(), &hasher, app.clock.now())
        .create(
            &username,
            PasswordSource::Plain(portcullis_core::Secret::new(PASSWORD)),
            Profile {
                email: Some("alice@example.com".into()),
                email_verified: true,
                name: Some("Alice Liddell".into()),
                given_name: Some("Alice".into()),
                family_name: Some("Liddell".into()),
            },
        )
        .await
        .unwrap();
    Party {
        client_id,
        client_secret,
        username,
        user_id,
    }
}

/// The authorization URL for a party with the usual parameters; `extra` replaces them (an empty
/// value removes one) or adds new ones.
pub fn authorize_url(party: &Party, extra: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &party.client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "xyz-state"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

/// Runs the whole front channel: login, consent, redirect. Returns the redirect's parameters.
pub async fn obtain_code(
    app: &TestApp,
    browser: &mut Browser,
    party: &Party,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let _ = app;
    let mut page = browser.get(&authorize_url(party, extra)).await;
    if page.body.contains("name=\"password\"") {
        page = browser.sign_in(&page, &party.username, PASSWORD).await;
    }
    if page.body.contains("value=\"allow\"") {
        page = browser.submit(&page, &[("action", "allow")]).await;
    }
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.redirect_params()
}

/// `grant_type=authorization_code` for a party.
pub async fn exchange(
    app: &TestApp,
    party: &Party,
    code: &str,
    verifier: Option<&str>,
) -> crate::helpers::Answer {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("client_id", party.client_id.clone()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v.to_owned()));
    }
    if let Some(s) = &party.client_secret {
        form.push(("client_secret", s.clone()));
    }
    app.send(app.token_request().form(&form)).await
}

/// `grant_type=refresh_token` for a party.
pub async fn refresh(
    app: &TestApp,
    party: &Party,
    token: &str,
    scope: Option<&str>,
) -> crate::helpers::Answer {
    let mut form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", token.to_owned()),
        ("client_id", party.client_id.clone()),
    ];
    if let Some(s) = scope {
        form.push(("scope", s.to_owned()));
    }
    if let Some(s) = &party.client_secret {
        form.push(("client_secret", s.clone()));
    }
    app.send(app.token_request().form(&form)).await
}

/// Signs in, consents and redeems: the token response.
pub async fn tokens(app: &TestApp, party: &Party) -> crate::helpers::Answer {
    let mut browser = Browser::new(app);
    let params = obtain_code(app, &mut browser, party, &[]).await;
    let answer = exchange(app, party, &params["code"], Some(VERIFIER)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
}
