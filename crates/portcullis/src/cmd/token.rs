//! `portcullis token`: a client credentials token from flags, the environment or `.env`, reused
//! from a private on-disk cache while it is still valid.

use clap::Args;
use portcullis_client::{
    ClientCredentials, ClientError, FileTokenStore, StoredTokens, TokenSource, TokenStore,
};
use portcullis_core::{Clock, SystemClock};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Client credentials settings as flags; each falls back to the environment variable of the same
/// meaning (CLIENT_ID, TOKEN_URL, ISSUER, SCOPE, AUDIENCE, CLIENT_SECRET, CLIENT_PRIVATE_KEY_FILE),
/// read from `.env` too.
#[derive(Debug, Args, Clone, Default)]
pub struct CredentialArgs {
    /// The token endpoint (TOKEN_URL).
    #[arg(long)]
    pub token_url: Option<String>,
    /// The issuer, to discover the token endpoint (ISSUER).
    #[arg(long)]
    pub issuer: Option<String>,
    /// The client (CLIENT_ID).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Read the client secret from this variable instead of CLIENT_SECRET.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Authenticate with private_key_jwt, signing with this PEM private key instead of sending a
    /// secret (CLIENT_PRIVATE_KEY_FILE).
    #[arg(long, value_name = "FILE", conflicts_with = "client_secret_env")]
    pub private_key: Option<PathBuf>,
    /// Requested scope (SCOPE).
    #[arg(long)]
    pub scope: Option<String>,
    /// Requested audience, space-separated (AUDIENCE).
    #[arg(long)]
    pub audience: Option<String>,
    /// Requested resource indicators (RFC 8707), space-separated (RESOURCE).
    #[arg(long)]
    pub resource: Option<String>,
    /// Bind the token to a key made for this run (DPoP, RFC 9449). Such a token is useless
    /// without the key, so it is not cached on disk; `call --dpop` sends it with a proof.
    #[arg(long)]
    pub dpop: bool,
}

impl CredentialArgs {
    /// The name of the variable the secret is read from.
    pub fn secret_var(&self) -> &str {
        self.client_secret_env.as_deref().unwrap_or("CLIENT_SECRET")
    }

    /// The settings, flags first, then the environment, then `.env`. Messages about the secret
    /// name the variable it is read from (`--client-secret-env NAME`), not CLIENT_SECRET.
    pub fn credentials(&self) -> Result<ClientCredentials, ClientError> {
        let secret_var = self.secret_var().to_owned();
        let _ = crate::SECRET_SOURCE.set(Some(secret_var.clone()));
        ClientCredentials::from_vars(|name| match name {
            "TOKEN_URL" => self.token_url.clone().or_else(|| {
                if self.issuer.is_some() {
                    None
                } else {
                    env(name)
                }
            }),
            "ISSUER" => self.issuer.clone().or_else(|| env(name)),
            "CLIENT_ID" => self.client_id.clone().or_else(|| env(name)),
            "CLIENT_SECRET" if self.private_key.is_some() => None,
            "CLIENT_SECRET" => env(&secret_var),
            "CLIENT_PRIVATE_KEY_FILE" => match &self.private_key {
                Some(path) => Some(path.display().to_string()),
                // A secret named by flag wins over a key file in the environment.
                None if self.client_secret_env.is_some() => None,
                None => env(name),
            },
            "SCOPE" => self.scope.clone().or_else(|| env(name)),
            "AUDIENCE" => self.audience.clone().or_else(|| env(name)),
            "RESOURCE" => self.resource.clone().or_else(|| env(name)),
            other => env(other),
        })
        .map(|c| {
            if c.private_key.is_some() {
                let file = self
                    .private_key
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .or_else(|| env("CLIENT_PRIVATE_KEY_FILE"))
                    .unwrap_or_default();
                let _ = crate::KEY_SOURCE.set(file);
            }
            c.dpop(self.dpop)
        })
        .map_err(|e| match e {
            ClientError::Config(problems) if secret_var != "CLIENT_SECRET" => ClientError::Config(
                problems
                    .into_iter()
                    .map(|p| p.replace("CLIENT_SECRET", &secret_var))
                    .collect(),
            ),
            other => other,
        })
    }

    /// Whether a flag names client credentials.
    pub fn flagged(&self) -> bool {
        self.client_id.is_some()
            || self.token_url.is_some()
            || self.issuer.is_some()
            || self.client_secret_env.is_some()
            || self.private_key.is_some()
            || self.dpop
    }

    /// The client_id the flags or the environment name, if any.
    pub fn client_id(&self) -> Option<String> {
        self.client_id.clone().or_else(|| env("CLIENT_ID"))
    }
}

/// The `.env` file of the working directory, if any.
fn dotenvy_file() -> Vec<(String, String)> {
    dotenvy::from_path_iter(".env")
        .map(|iter| iter.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// A variable from the environment, else from `.env` in the working directory; empty is unset.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| {
            dotenvy_file()
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        })
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Print only the access token, for `$(portcullis token --access-token-only)`.
    #[arg(long)]
    pub access_token_only: bool,
    /// Ask the server even if a cached token is still valid.
    #[arg(long)]
    pub no_cache: bool,
    /// Exchange this token for a new one (Token Exchange, RFC 8693), with these credentials and
    /// --audience/--resource/--scope. Not cached.
    #[arg(long, value_name = "TOKEN")]
    pub exchange: Option<String>,
    /// The type of the --exchange token: access_token (default) or jwt.
    #[arg(long, value_name = "TYPE", requires = "exchange", default_value = "access_token", value_parser = ["access_token", "jwt"])]
    pub subject_token_type: String,
    /// Delegation: the token of whoever acts for the subject (an access token); the new token
    /// names it in its act claim.
    #[arg(long, value_name = "TOKEN", requires = "exchange")]
    pub actor_token: Option<String>,
}

/// The on-disk cache of client credentials tokens: `$XDG_CACHE_HOME/portcullis/tokens.json`, else
/// `~/.cache/portcullis/tokens.json`, mode 0600.
pub fn cache() -> Option<FileTokenStore> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(FileTokenStore::new(
        base.join("portcullis").join("tokens.json"),
    ))
}

/// The cache key of a set of settings. The secret is part of it (hashed with the rest), so a token
/// cached for one secret is never handed to a caller with another.
pub fn cache_key(c: &ClientCredentials) -> String {
    let text = format!(
        "{:?}|{}|{}|{:?}|{:?}|{:?}",
        c.endpoint,
        c.client_id,
        match &c.private_key {
            Some(key) => key.kid(),
            None => c.client_secret.expose(),
        },
        c.scope,
        c.audience,
        c.resource
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A token for these settings: from the disk cache when it is valid for another minute, else new.
pub async fn get(
    credentials: ClientCredentials,
    use_cache: bool,
) -> Result<(StoredTokens, bool), ClientError> {
    let now = SystemClock.now().0;
    let key = cache_key(&credentials);
    let store = cache();
    if use_cache
        && let Some(hit) = store.as_ref().and_then(|s| s.load(&key).ok().flatten())
        && hit.expires_at.is_some_and(|e| now + 60 < e)
    {
        return Ok((hit, true));
    }
    let client_id = credentials.client_id.clone();
    let token = TokenSource::new(credentials).token().await?;
    let mut fresh = StoredTokens::default();
    fresh.client_id = client_id;
    fresh.access_token = token.access_token.expose().to_owned();
    fresh.expires_at = token.expires_at().map(|t| t.0);
    fresh.scope = token.scope.clone();
    if let Some(s) = &store
        && let Err(e) = s.save(&key, &fresh)
    {
        tracing::warn!(error = %e, "cannot cache the token on disk");
    }
    Ok((fresh, false))
}

/// Runs `portcullis token`.
pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let credentials = args.credentials.credentials()?;
    if let Some(subject) = &args.exchange {
        return run_exchange(credentials, &args, subject).await;
    }
    if credentials.dpop {
        return run_dpop(credentials, args.access_token_only).await;
    }
    let (token, cached) = get(credentials, !args.no_cache).await?;
    if args.access_token_only {
        outln!("{}", token.access_token);
        return Ok(());
    }
    let now = SystemClock.now().0;
    let expires_in = token.expires_at.map(|e| (e - now).max(0));
    let mut response = json!({ "access_token": token.access_token, "token_type": "Bearer" });
    if let Some(e) = expires_in {
        response["expires_in"] = json!(e);
    }
    if let Some(s) = &token.scope {
        response["scope"] = json!(s);
    }
    outln!("{response}");
    eprintln!(
        "Bearer token for {} ({}), {}, scope: {}",
        token.client_id,
        if cached { "from the cache" } else { "new" },
        expires_in.map_or("no expiry given".into(), |e| format!("expires in {e} s")),
        token.scope.as_deref().unwrap_or("-")
    );
    if let Some(claims) = super::decode::claims(&token.access_token) {
        eprintln!(
            "claims: {}",
            serde_json::to_string_pretty(&Value::Object(claims)).unwrap_or_default()
        );
    }
    Ok(())
}

/// `portcullis token --exchange TOKEN`: Token Exchange (RFC 8693), never cached.
async fn run_exchange(
    credentials: ClientCredentials,
    args: &TokenArgs,
    subject: &str,
) -> anyhow::Result<()> {
    let urn = |kind: &str| format!("urn:ietf:params:oauth:token-type:{kind}");
    let client_id = credentials.client_id.clone();
    let source = TokenSource::new(credentials);
    let actor_type = urn("access_token");
    let token = source
        .exchange(
            subject,
            &urn(&args.subject_token_type),
            args.actor_token
                .as_deref()
                .map(|t| (t, actor_type.as_str())),
        )
        .await?;
    print_fresh(
        &source,
        &client_id,
        &token,
        args.access_token_only,
        "exchanged",
    )
}

/// `portcullis token --dpop`: a token bound to a key made for this run, never cached.
async fn run_dpop(credentials: ClientCredentials, access_token_only: bool) -> anyhow::Result<()> {
    let client_id = credentials.client_id.clone();
    let source = TokenSource::new(credentials);
    let token = source.token().await?;
    print_fresh(
        &source,
        &client_id,
        &token,
        access_token_only,
        "new, not cached: it is bound to a key that lives only in this run",
    )
}

/// Prints a token that is not cached: JSON on stdout, a summary and its claims on stderr.
fn print_fresh(
    source: &TokenSource,
    client_id: &str,
    token: &portcullis_client::Token,
    access_token_only: bool,
    how: &str,
) -> anyhow::Result<()> {
    if access_token_only {
        outln!("{}", token.access_token.expose());
        return Ok(());
    }
    let mut response = json!({
        "access_token": token.access_token.expose(),
        "token_type": token.token_type,
    });
    if let Some(e) = token.expires_in {
        response["expires_in"] = json!(e.as_secs());
    }
    if let Some(s) = &token.scope {
        response["scope"] = json!(s);
    }
    outln!("{response}");
    eprintln!(
        "{} token for {client_id} ({how}{})",
        token.token_type,
        source
            .dpop_key()
            .map(|k| format!(", jkt {}", k.thumbprint()))
            .unwrap_or_default()
    );
    if let Some(claims) = super::decode::claims(token.access_token.expose()) {
        eprintln!(
            "claims: {}",
            serde_json::to_string_pretty(&Value::Object(claims)).unwrap_or_default()
        );
    }
    Ok(())
}
