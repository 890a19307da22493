//! Authorization code with PKCE for native and command-line apps (RFC 8252): a loopback listener on
//! 127.0.0.1 with a random port, the browser sent to the authorize URL, `state` and `iss` checked, the
//! code exchanged, and the tokens kept in a [`TokenStore`] and refreshed when they expire.

use crate::error::ClientError;
use crate::store::{StoredTokens, TokenStore};
use crate::token::read_answer;
use aws_lc_rs::{digest, rand::SecureRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::{Clock, Secret};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a sign-in needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginSettings {
    /// The issuer (its metadata gives the endpoints).
    pub issuer: String,
    /// The client, registered with `http://127.0.0.1/callback` as a redirect URI (the device
    /// grant, [`crate::device`], needs none).
    pub client_id: String,
    /// The secret of a confidential client; `None` for a public one.
    pub client_secret: Option<Secret>,
    /// Requested scope.
    pub scope: String,
    /// RFC 8707 resource indicators (the APIs the access token is for), sent on the authorization
    /// and token requests.
    pub resources: Vec<String>,
    /// Audiences as some servers name them (`audience`, space-separated), sent the same way.
    pub audience: Option<String>,
    /// How long to wait for the browser (the device grant waits as long as its code lives).
    pub wait: Duration,
}

impl LoginSettings {
    /// A sign-in of a public client at `issuer`, asking for `openid`, waiting 5 minutes for the
    /// browser; set the other fields as needed.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        LoginSettings {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
            scope: "openid".to_owned(),
            resources: Vec::new(),
            audience: None,
            wait: Duration::from_secs(300),
        }
    }
}

fn random_b64(bytes: usize) -> Result<String, ClientError> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| ClientError::Config(vec!["no randomness available".into()]))?;
    Ok(B64.encode(buf))
}

struct Endpoints {
    authorize: String,
    token: String,
    /// The pushed authorization request endpoint (RFC 9126), when the server has one.
    par: Option<String>,
    jwks: Option<String>,
    iss_supported: bool,
}

async fn endpoints(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, ClientError> {
    let doc = crate::discovery::metadata(http, issuer).await?;
    match (
        doc["authorization_endpoint"].as_str(),
        doc["token_endpoint"].as_str(),
    ) {
        (Some(a), Some(t)) => Ok(Endpoints {
            authorize: a.to_owned(),
            token: t.to_owned(),
            par: doc["pushed_authorization_request_endpoint"]
                .as_str()
                .map(str::to_owned),
            jwks: doc["jwks_uri"].as_str().map(str::to_owned),
            iss_supported: doc["authorization_response_iss_parameter_supported"] == true,
        }),
        _ => Err(ClientError::WrongIssuer(format!(
            "{issuer} publishes no authorization_endpoint and token_endpoint"
        ))),
    }
}

/// Runs the sign-in. `show_url` receives the authorize URL (to open a browser or print it). The
/// browser waits on the loopback page until the code has been exchanged (and, for `openid`, the
/// ID token checked), so the page it shows says how the sign-in really ended.
pub async fn login(
    settings: &LoginSettings,
    clock: &dyn Clock,
    show_url: impl FnOnce(&str),
) -> Result<StoredTokens, ClientError> {
    let http = crate::error::http_client(Duration::from_secs(30))?;
    let issuer = settings.issuer.clone();
    portcullis_core::issuer::valid_issuer(&issuer).map_err(|why| {
        ClientError::Config(vec![format!("the issuer must be an issuer URL: {why}")])
    })?;
    let ep = endpoints(&http, &issuer).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| ClientError::Config(vec![format!("cannot open a loopback port: {e}")]))?;
    let port = listener
        .local_addr()
        .map_err(|e| ClientError::Config(vec![e.to_string()]))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random_b64(32)?;
    let challenge = B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
    let state = random_b64(16)?;
    let nonce = random_b64(16)?;
    let query = authorize_query(
        settings,
        &[
            ("redirect_uri", &redirect_uri),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
        ],
    );
    // With PAR the parameters go straight to the server, and the browser carries only a
    // reference to them (RFC 9126).
    let query = match &ep.par {
        Some(par) => pushed_query(&http, par, settings, &query).await?,
        None => query,
    };
    let separator = if ep.authorize.contains('?') { '&' } else { '?' };
    show_url(&format!("{}{separator}{query}", ep.authorize));

    let (socket, params) = tokio::time::timeout(settings.wait, receive_callback(listener))
        .await
        .map_err(|_| ClientError::SignIn("no answer from the browser in time".into()))??;
    let outcome = async {
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if get("state").as_deref() != Some(state.as_str()) {
            return Err(ClientError::SignIn(
                "the state in the redirect does not match: not our sign-in".into(),
            ));
        }
        match get("iss") {
            Some(iss) if iss != issuer => {
                return Err(ClientError::SignIn(format!(
                    "the redirect comes from issuer {iss}, not {issuer} (RFC 9207)"
                )));
            }
            None if ep.iss_supported => {
                return Err(ClientError::SignIn(
                    "the redirect lacks the iss the server promised (RFC 9207)".into(),
                ));
            }
            _ => {}
        }
        if let Some(error) = get("error") {
            return Err(ClientError::OAuth {
                error,
                description: get("error_description"),
                uri: get("error_uri"),
                status: 302,
                body: String::new(),
            });
        }
        let code =
            get("code").ok_or_else(|| ClientError::SignIn("the redirect has no code".into()))?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect_uri.clone()),
            ("code_verifier", verifier.clone()),
        ];
        add_audiences(&mut form, &settings.resources, settings.audience.as_deref());
        let tokens = exchange(
            &http,
            &ep.token,
            &settings.client_id,
            settings.client_secret.as_ref(),
            &mut form,
            clock,
        )
        .await?;
        if settings.scope.split(' ').any(|s| s == "openid") {
            let id_token = tokens.id_token.as_deref().ok_or_else(|| {
                ClientError::IdToken("the scope has openid but the answer has no id_token".into())
            })?;
            crate::id_token::check(
                &http,
                id_token,
                &crate::id_token::Expected {
                    issuer: &issuer,
                    client_id: &settings.client_id,
                    nonce: Some(&nonce),
                    jwks_uri: ep.jwks.as_deref(),
                },
                clock,
            )
            .await?;
        }
        Ok(StoredTokens {
            issuer: issuer.clone(),
            token_endpoint: ep.token.clone(),
            client_id: settings.client_id.clone(),
            resources: settings.resources.clone(),
            audience: settings.audience.clone(),
            ..tokens
        })
    }
    .await;
    crate::callback_page::answer(socket, outcome.as_ref().err()).await;
    outcome
}

/// The query of the authorization request. (Built apart from `login`, whose future must stay
/// `Send`: the serializer is not.)
fn authorize_query(settings: &LoginSettings, this_sign_in: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &settings.client_id)
        .append_pair("scope", &settings.scope)
        .append_pair("code_challenge_method", "S256");
    for (name, value) in this_sign_in {
        query.append_pair(name, value);
    }
    for resource in &settings.resources {
        query.append_pair("resource", resource);
    }
    if let Some(audience) = &settings.audience {
        query.append_pair("audience", audience);
    }
    query.finish()
}

/// Pushes the authorization request `query` (RFC 9126 §2.1) and returns the query the browser
/// then carries: `client_id` and the `request_uri`.
async fn pushed_query(
    http: &reqwest::Client,
    par: &str,
    settings: &LoginSettings,
    query: &str,
) -> Result<String, ClientError> {
    let mut request = http
        .post(par)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    if let Some(secret) = &settings.client_secret {
        request = request.header(
            "authorization",
            portcullis_core::basic::encode_basic(&settings.client_id, secret.expose()),
        );
    }
    let response =
        request
            .body(query.to_owned())
            .send()
            .await
            .map_err(|e| ClientError::Network {
                url: par.to_owned(),
                reason: crate::error::describe_error(&e),
            })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if let Some(error) = answer["error"].as_str() {
        return Err(ClientError::OAuth {
            error: error.to_owned(),
            description: answer["error_description"].as_str().map(str::to_owned),
            uri: None,
            status,
            body,
        });
    }
    let request_uri = answer["request_uri"]
        .as_str()
        .filter(|_| status == 201 || status == 200)
        .ok_or_else(|| ClientError::Unexpected {
            url: par.to_owned(),
            status,
            what: "an answer without a request_uri".into(),
            body: body.chars().take(200).collect(),
        })?;
    Ok(reference_query(&settings.client_id, request_uri))
}

/// `client_id` and `request_uri`, as the browser carries a pushed request.
fn reference_query(client_id: &str, request_uri: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    query.finish()
}

/// The `resource` and `audience` parameters of a token request (the device grant's requests
/// too).
pub(crate) fn add_audiences(
    form: &mut Vec<(&str, String)>,
    resources: &[String],
    audience: Option<&str>,
) {
    for resource in resources {
        form.push(("resource", resource.clone()));
    }
    if let Some(audience) = audience {
        form.push(("audience", audience.to_owned()));
    }
}

/// A token request: authenticated with Basic when there is a secret, else with `client_id` in the
/// form (a public client). A non-2xx answer is a typed error from [`read_answer`], so the device
/// grant's polling can tell `authorization_pending` and `slow_down` from a final error.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    token_endpoint: &str,
    client_id: &str,
    secret: Option<&Secret>,
    form: &mut Vec<(&str, String)>,
    clock: &dyn Clock,
) -> Result<StoredTokens, ClientError> {
    let mut request = http.post(token_endpoint);
    match secret {
        Some(s) => {
            request = request.header(
                "authorization",
                portcullis_core::basic::encode_basic(client_id, s.expose()),
            )
        }
        None => form.push(("client_id", client_id.to_owned())),
    }
    let response = request
        .form(form)
        .send()
        .await
        .map_err(|e| ClientError::Network {
            url: token_endpoint.to_owned(),
            reason: crate::error::describe_error(&e),
        })?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    let now = clock.now();
    let token = read_answer(token_endpoint, status, &content_type, &body, now)?;
    Ok(StoredTokens {
        issuer: String::new(),
        token_endpoint: token_endpoint.to_owned(),
        client_id: client_id.to_owned(),
        access_token: token.access_token.expose().to_owned(),
        expires_at: token.expires_at().map(|t| t.0),
        refresh_token: token.refresh_token.as_ref().map(|s| s.expose().to_owned()),
        id_token: token.id_token.clone(),
        scope: token.scope.clone(),
        client_secret_env: None,
        resources: Vec::new(),
        audience: None,
    })
}

/// A valid access token from the store, refreshed (and saved) when it has expired or is about to.
/// A confidential client's refresh needs its secret: pass the one the sign-in used (its variable's
/// name is in [`StoredTokens::client_secret_env`]).
pub async fn access_token(
    store: &dyn TokenStore,
    key: &str,
    client_secret: Option<&Secret>,
    clock: &dyn Clock,
) -> Result<StoredTokens, ClientError> {
    let stored = store.load(key)?.ok_or_else(|| {
        ClientError::Config(vec!["not signed in: run portcullis login first".into()])
    })?;
    let now = clock.now().0;
    if stored.expires_at.is_none_or(|e| now + 30 < e) {
        return Ok(stored);
    }
    let refresh = stored.refresh_token.clone().ok_or_else(|| {
        ClientError::Config(vec![
            "the sign-in has expired and has no refresh token: run portcullis login again".into(),
        ])
    })?;
    let http = crate::error::http_client(Duration::from_secs(30))?;
    let mut form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh),
    ];
    // The same audiences as the sign-in asked for, or the refreshed token would be for all.
    add_audiences(&mut form, &stored.resources, stored.audience.as_deref());
    let fresh = exchange(
        &http,
        &stored.token_endpoint,
        &stored.client_id,
        client_secret,
        &mut form,
        clock,
    )
    .await?;
    let updated = StoredTokens {
        issuer: stored.issuer.clone(),
        refresh_token: fresh.refresh_token.clone().or(stored.refresh_token.clone()),
        id_token: fresh.id_token.clone().or(stored.id_token.clone()),
        client_secret_env: stored.client_secret_env.clone(),
        resources: stored.resources.clone(),
        audience: stored.audience.clone(),
        ..fresh
    };
    store.save(key, &updated)?;
    Ok(updated)
}

/// Waits for the browser's request to `/callback` on the loopback listener; other paths (a
/// browser asking for a favicon) get a 404. The socket is kept open for the answer.
async fn receive_callback(
    listener: tokio::net::TcpListener,
) -> Result<(tokio::net::TcpStream, Vec<(String, String)>), ClientError> {
    loop {
        let (mut socket, _) = listener
            .accept()
            .await
            .map_err(|e| ClientError::Config(vec![e.to_string()]))?;
        let mut buf = vec![0u8; 16 * 1024];
        let n = socket.read(&mut buf).await.unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        let target = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let Some(query) = target.strip_prefix("/callback?") else {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            continue;
        };
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        return Ok((socket, params));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_can_run_on_any_thread() {
        fn send<T: Send>(_: T) {}
        let settings = LoginSettings {
            issuer: "https://id.example.com".into(),
            client_id: "cli".into(),
            client_secret: None,
            scope: "openid".into(),
            resources: vec!["https://api.example.com".into()],
            audience: None,
            wait: Duration::from_secs(1),
        };
        send(login(&settings, &portcullis_core::SystemClock, |_| {}));
        let query = authorize_query(&settings, &[("state", "s")]);
        assert!(
            query.contains("resource=https%3A%2F%2Fapi.example.com"),
            "{query}"
        );
    }
}
