//! `portcullis login` (authorization code with PKCE through the browser, or with `--device` the
//! device grant: `device.rs`) and `portcullis call` (an API request with the cached token, like
//! curl).

use super::token::{CredentialArgs, env, get};
use crate::Usage;
use clap::Args;
use portcullis_client::{ClientError, FileTokenStore, LoginSettings, StoredTokens, TokenStore};
use portcullis_core::{Secret, SystemClock};
use std::time::Duration;

/// `login` flags; each falls back to the variable `token` reads (ISSUER, CLIENT_ID, CLIENT_SECRET),
/// in the environment or `.env`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The issuer to sign in with (ISSUER).
    #[arg(long)]
    pub issuer: Option<String>,
    /// The client (CLIENT_ID), registered with the redirect URI http://127.0.0.1/callback as a
    /// native app (with --device: allowed the device grant, and no redirect URI needed).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Read a confidential client's secret from this variable instead of CLIENT_SECRET. A public
    /// client has none: leave both unset.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Requested scope.
    #[arg(long, default_value = "openid profile offline_access")]
    pub scope: String,
    /// An API the access token is for (RFC 8707 resource; repeatable).
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,
    /// Audiences the access token is for, space-separated (sent as `audience`).
    #[arg(long)]
    pub audience: Option<String>,
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in on another device (a phone, a laptop) instead of a browser here: for a shell over
    /// SSH or in a container (RFC 8628 device authorization grant). Prints a URL, a code to enter
    /// there and a QR code to scan, then waits until the sign-in is approved.
    #[arg(long, conflicts_with = "no_browser")]
    pub device: bool,
}

/// The key the last sign-in is saved under, for `call`.
pub const DEFAULT_KEY: &str = "default";

/// The secret read from `var`, a missing variable named in the error.
fn secret_from(var: &str) -> Result<Secret, Usage> {
    env(var)
        .map(Secret::new)
        .ok_or_else(|| Usage::new(format!("environment variable {var} is not set")))
}

/// Runs `portcullis login`.
pub async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let issuer = args
        .issuer
        .clone()
        .or_else(|| env("ISSUER"))
        .ok_or_else(|| Usage {
            message: "no issuer: pass --issuer or set ISSUER".into(),
            hint: None,
        })?;
    let client_id = args
        .client_id
        .clone()
        .or_else(|| env("CLIENT_ID"))
        .ok_or_else(|| Usage::new("no client: pass --client-id or set CLIENT_ID"))?;
    // A confidential client's secret: from --client-secret-env VAR, else CLIENT_SECRET when set.
    let secret_var = match &args.client_secret_env {
        Some(var) => Some(var.clone()),
        None => env("CLIENT_SECRET").map(|_| "CLIENT_SECRET".to_owned()),
    };
    let client_secret = secret_var.as_deref().map(secret_from).transpose()?;
    let _ = crate::SECRET_SOURCE.set(secret_var.clone());
    let mut settings = LoginSettings::new(&issuer, &client_id);
    settings.client_secret = client_secret;
    settings.scope = args.scope.clone();
    settings.resources = args.resources.clone();
    settings.audience = args.audience.clone();
    settings.wait = Duration::from_secs(300);
    let mut tokens = if args.device {
        super::device::sign_in(&settings).await?
    } else {
        through_the_browser(&settings, args.no_browser).await?
    };
    // The secret's variable, never the secret: `call` reads it again to refresh.
    tokens.client_secret_env = secret_var;
    let store = FileTokenStore::default_location()?;
    store.save(DEFAULT_KEY, &tokens)?;
    eprintln!(
        "Signed in to {} as client {}; tokens saved in {}",
        tokens.issuer,
        tokens.client_id,
        store.path().display()
    );
    Ok(())
}

/// The sign-in through a browser: opened on the authorize URL, or the URL printed for one.
async fn through_the_browser(
    settings: &LoginSettings,
    no_browser: bool,
) -> Result<StoredTokens, ClientError> {
    portcullis_client::login(settings, &SystemClock, |url| {
        let opened = !no_browser
            && ["xdg-open", "open"].iter().any(|opener| {
                std::process::Command::new(opener)
                    .arg(url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        if opened {
            eprintln!("Opened your browser to sign in. If it did not open, visit:");
        } else {
            eprintln!("Open this URL in a browser to sign in:");
        }
        eprintln!("{url}");
    })
    .await
}

/// `call` flags.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The URL to call.
    pub url: String,
    /// The HTTP method.
    #[arg(short = 'X', long = "request", default_value = "GET")]
    pub method: String,
    /// A request body.
    #[arg(short = 'd', long = "data")]
    pub data: Option<String>,
    /// Extra headers, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Client credentials (when none are configured, the last `portcullis login` is used).
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// Which token `call` sends: client credentials named by flags; else the saved sign-in, when
/// there is one for the configured client (or no client is configured: `login` reads the same
/// `CLIENT_ID`); else client credentials from the environment.
async fn bearer(args: &CallArgs, fresh: bool) -> anyhow::Result<String> {
    let store = FileTokenStore::default_location()?;
    let saved = store.load(DEFAULT_KEY)?;
    let configured = args.credentials.client_id();
    let use_login = !args.credentials.flagged()
        && saved
            .as_ref()
            .is_some_and(|s| configured.as_deref().is_none_or(|id| id == s.client_id));
    let Some(saved) = saved.filter(|_| use_login) else {
        if configured.is_none() {
            return Err(Usage::new(
                "no credentials: set CLIENT_ID, CLIENT_SECRET and TOKEN_URL (or ISSUER) for client \
                 credentials, or sign in first with portcullis login",
            )
            .into());
        }
        let (token, _) = get(args.credentials.credentials()?, !fresh).await?;
        return Ok(token.access_token);
    };
    // A confidential sign-in refreshes with its secret, read again from the same variable.
    let _ = crate::SECRET_SOURCE.set(saved.client_secret_env.clone());
    let secret = saved
        .client_secret_env
        .as_deref()
        .map(|var| {
            secret_from(var).map_err(|_| {
                Usage::new(format!(
                    "the sign-in was made with the client secret in {var}, which is not set: set it \
                     to refresh, or sign in again"
                ))
            })
        })
        .transpose()?;
    let tokens =
        portcullis_client::access_token(&store, DEFAULT_KEY, secret.as_ref(), &SystemClock).await?;
    Ok(tokens.access_token)
}

/// The request `call` sends, checked before anything is sent: a malformed URL, method or header
/// is a usage error, not a network one.
fn request_parts(
    args: &CallArgs,
) -> Result<(reqwest::Method, reqwest::Url, reqwest::header::HeaderMap), Usage> {
    let method = reqwest::Method::from_bytes(args.method.to_uppercase().as_bytes())
        .map_err(|_| Usage::new(format!("'{}' is not an HTTP method", args.method)))?;
    let url = reqwest::Url::parse(&args.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| Usage::new(format!("'{}' is not an http(s) URL", args.url)))?;
    let mut headers = reqwest::header::HeaderMap::new();
    for h in &args.headers {
        let bad = || Usage::new(format!("header '{h}' must look like 'Name: value'"));
        let (name, value) = h.split_once(':').ok_or_else(bad)?;
        let name =
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        let value = reqwest::header::HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok((method, url, headers))
}

/// Runs `portcullis call`; fails unless the API answers 2xx.
pub async fn run_call(args: CallArgs) -> anyhow::Result<()> {
    let (method, url, headers) = request_parts(&args)?;
    // Like curl: a redirect is shown, not followed (with the bearer token) to wherever it points.
    let http = portcullis_client::http_client(Duration::from_secs(60))?;
    if args.credentials.dpop {
        return call_with_dpop(&args, &http, method, url, headers).await;
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let token = bearer(&args, attempt > 1).await?;
        let mut request = http
            .request(method.clone(), url.clone())
            .headers(headers.clone())
            .bearer_auth(&token);
        if let Some(d) = &args.data {
            request = request.body(d.clone());
        }
        // An API that cannot be reached is exit 4, as a token endpoint that cannot be.
        let response = request.send().await.map_err(|e| ClientError::Network {
            url: url.to_string(),
            reason: portcullis_client::describe_error(&e),
        })?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 1 {
            continue;
        }
        return print_answer(&url, response).await;
    }
}

/// `call --dpop`: a client credentials token bound to a key made for this run, sent with a proof
/// (and the API's nonce when it asks for one) by the client crate.
async fn call_with_dpop(
    args: &CallArgs,
    http: &reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
) -> anyhow::Result<()> {
    let source = portcullis_client::TokenSource::new(args.credentials.credentials()?);
    let mut request = http.request(method, url.clone()).headers(headers);
    if let Some(d) = &args.data {
        request = request.body(d.clone());
    }
    let request = request.build()?;
    let response = portcullis_client::send_with_token(http, &source, request)
        .await
        .map_err(|e| match e {
            portcullis_client::CallError::Token(e) => anyhow::Error::from(e),
            portcullis_client::CallError::Http(e) => ClientError::Network {
                url: url.to_string(),
                reason: portcullis_client::describe_error(&e),
            }
            .into(),
            other => anyhow::anyhow!("{other}"),
        })?;
    print_answer(&url, response).await
}

/// Prints the API's answer; an error unless it is 2xx.
async fn print_answer(url: &reqwest::Url, response: reqwest::Response) -> anyhow::Result<()> {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    out!("{body}");
    if !body.ends_with('\n') {
        outln!();
    }
    if status.is_success() {
        return Ok(());
    }
    anyhow::bail!("{url} answered HTTP {status}");
}
