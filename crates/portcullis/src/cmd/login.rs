//! `portcullis login` (authorization code with PKCE through the browser) and `portcullis call`
//! (an API request with the cached token, like curl).

use super::token::{CredentialArgs, get};
use clap::Args;
use portcullis_client::{FileTokenStore, LoginSettings, TokenStore};
use portcullis_core::{Secret, SystemClock};
use std::time::Duration;

/// `login` flags.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The issuer to sign in with.
    #[arg(long)]
    pub issuer: String,
    /// The client, registered with the redirect URI http://127.0.0.1/callback.
    #[arg(long)]
    pub client_id: String,
    /// The secret of a confidential client, read from this variable.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Requested scope.
    #[arg(long, default_value = "openid profile offline_access")]
    pub scope: String,
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// The key the last sign-in is saved under, for `call`.
pub const DEFAULT_KEY: &str = "default";

fn secret(var: &Option<String>) -> anyhow::Result<Option<Secret>> {
    match var {
        None => Ok(None),
        Some(v) => Ok(Some(Secret::new(std::env::var(v).map_err(|_| {
            anyhow::anyhow!("environment variable {v} is not set")
        })?))),
    }
}

/// Runs `portcullis login`.
pub async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let settings = LoginSettings {
        issuer: args.issuer.clone(),
        client_id: args.client_id.clone(),
        client_secret: secret(&args.client_secret_env)?,
        scope: args.scope.clone(),
        wait: Duration::from_secs(300),
    };
    let no_browser = args.no_browser;
    let tokens = portcullis_client::login(&settings, &SystemClock, |url| {
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
    .await?;
    let store = FileTokenStore::default_location()?;
    store.save(DEFAULT_KEY, &tokens)?;
    store.save(&format!("{}|{}", tokens.issuer, tokens.client_id), &tokens)?;
    eprintln!(
        "Signed in to {} as client {}; tokens saved in {}",
        tokens.issuer,
        tokens.client_id,
        store.path().display()
    );
    Ok(())
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

async fn bearer(args: &CallArgs, fresh: bool) -> anyhow::Result<String> {
    if args.credentials.configured() {
        let (token, _) = get(args.credentials.credentials()?, !fresh).await?;
        return Ok(token.access_token);
    }
    let store = FileTokenStore::default_location()?;
    let tokens = portcullis_client::access_token(&store, DEFAULT_KEY, None, &SystemClock).await?;
    Ok(tokens.access_token)
}

/// Runs `portcullis call`; fails unless the API answers 2xx.
pub async fn run_call(args: CallArgs) -> anyhow::Result<()> {
    let method = reqwest::Method::from_bytes(args.method.to_uppercase().as_bytes())
        .map_err(|_| anyhow::anyhow!("'{}' is not an HTTP method", args.method))?;
    let http = reqwest::Client::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let token = bearer(&args, attempt > 1).await?;
        let mut request = http.request(method.clone(), &args.url).bearer_auth(&token);
        for h in &args.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("header '{h}' must look like 'Name: value'"))?;
            request = request.header(name.trim(), value.trim());
        }
        if let Some(d) = &args.data {
            request = request.body(d.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", args.url))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 1 {
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        print!("{body}");
        if !body.ends_with('\n') {
            println!();
        }
        if status.is_success() {
            return Ok(());
        }
        anyhow::bail!("{} answered HTTP {status}", args.url);
    }
}
