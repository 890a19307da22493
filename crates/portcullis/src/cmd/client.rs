//! `portcullis client create|list|show|update|delete|rotate-secret`: the same database the server
//! reads, so a running server sees changes within a second.

use clap::Subcommand;
use portcullis_core::{ClientId, Clock, GrantType, Secret, SystemClock, TokenEndpointAuthMethod};
use portcullis_server::Config;
use portcullis_server::admin::{AdminError, ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use portcullis_server::client_secret::SecretHasher;
use portcullis_server::store::ClientRow;
use serde_json::json;

pub use super::client_fields::MetadataArgs;

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its client_id and secret (shown only this once).
    Create {
        /// The client_id to use (default: 32 random hex characters).
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        fields: MetadataArgs,
        /// Read the secret from this environment variable instead of generating one (32+ characters).
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List clients (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// The client_id.
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a client's metadata; fields not given keep their value.
    Update {
        /// The client_id.
        client_id: String,
        #[command(flatten)]
        fields: MetadataArgs,
    },
    /// Delete a client.
    Delete {
        /// The client_id.
        client_id: String,
    },
    /// Print the public JWK Set of a PEM private key, for `create --jwks-file` (private_key_jwt).
    /// Reads only the key file.
    Jwks {
        /// The client's private key (PKCS#8, SEC1 or PKCS#1 PEM).
        #[arg(long, value_name = "FILE")]
        private_key: std::path::PathBuf,
    },
    /// Replace a client's secret; prints the new one once.
    RotateSecret {
        /// The client_id.
        client_id: String,
        /// Read the new secret from this environment variable instead of generating one.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn secret_source(var: Option<String>) -> anyhow::Result<SecretSource> {
    match var {
        None => Ok(SecretSource::Generate),
        Some(name) => match std::env::var(&name) {
            Ok(value) => Ok(SecretSource::Given(Secret::new(value))),
            Err(_) => anyhow::bail!("environment variable {name} is not set"),
        },
    }
}

fn client_id(s: &str) -> anyhow::Result<ClientId> {
    Ok(ClientId::parse(s)?)
}

/// Every field of a client, unset ones included, with RFC 3339 times.
fn describe(row: &ClientRow, metadata: &ClientMetadata) -> serde_json::Value {
    let mut value = json!({ "client_id": row.client_id });
    if let (Some(object), Some(fields)) = (value.as_object_mut(), metadata.described().as_object())
    {
        object.extend(fields.clone());
        object.insert(
            "created_at".into(),
            json!(super::time(Some(row.created_at))),
        );
        object.insert(
            "updated_at".into(),
            json!(super::time(Some(row.updated_at))),
        );
        object.insert("registered".into(), json!(registered(row)));
    }
    value
}

/// How the client came to be: `dynamic` when it registered itself at /register (RFC 7591),
/// `admin` when an administrator made it.
fn registered(row: &ClientRow) -> &'static str {
    if row.registration_token_hash.is_some() {
        "dynamic"
    } else {
        "admin"
    }
}

/// A rule the new metadata breaks is a usage error (exit 2), like a missing flag.
fn invalid_is_usage(e: AdminError) -> anyhow::Error {
    match e {
        AdminError::Invalid(message) => crate::Usage::new(message).into(),
        other => other.into(),
    }
}

/// Where the new client's secret is, for a next step that needs it.
enum SecretShown<'a> {
    /// Printed just above.
    Printed(&'a str),
    /// In the variable the caller gave it in (`--secret-env VAR`).
    InVariable(&'a str),
    /// None: a public client.
    None,
}

/// What to do next with a new client, in a line that fits its grant types.
fn next_step(config: &Config, id: &str, secret: SecretShown<'_>, m: &ClientMetadata) -> String {
    let issuer = super::issuer(config);
    if let (true, SecretShown::Printed(secret)) = (
        m.grant_types.contains(&GrantType::ClientCredentials),
        &secret,
    ) {
        return format!(
            "Get a token:   curl -s -u '{id}:{secret}' -d grant_type=client_credentials {issuer}/token"
        );
    }
    if m.grant_types.contains(&GrantType::ClientCredentials)
        && m.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::PrivateKeyJwt)
    {
        return format!(
            "Get a token:   CLIENT_ID={id} CLIENT_PRIVATE_KEY_FILE=KEY.pem TOKEN_URL={issuer}/token portcullis token"
        );
    }
    if m.grant_types.contains(&GrantType::AuthorizationCode) {
        let redirect = m.redirect_uris.first().map_or("", String::as_str);
        let loopback =
            redirect.starts_with("http://127.0.0.1") || redirect.starts_with("http://[::1]");
        if loopback && m.application_type() == portcullis_core::ApplicationType::Native {
            // A confidential client signs in with its secret, which login reads from a variable.
            let login = format!("portcullis login --issuer {issuer} --client-id {id}");
            return match secret {
                SecretShown::Printed(secret) => {
                    format!("Sign in:       CLIENT_SECRET='{secret}' {login}")
                }
                SecretShown::InVariable(var) => {
                    format!("Sign in:       {login} --client-secret-env {var}")
                }
                SecretShown::None => format!("Sign in:       {login}"),
            };
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", &m.scope);
        return format!(
            "Sign a user in: send the browser to {issuer}/authorize?{}&state=…&code_challenge=…&code_challenge_method=S256",
            query.finish()
        );
    }
    if m.grant_types.contains(&GrantType::DeviceCode) {
        let login = format!("portcullis login --device --issuer {issuer} --client-id {id}");
        return match secret {
            SecretShown::Printed(secret) => {
                format!("Sign in:       CLIENT_SECRET='{secret}' {login}")
            }
            SecretShown::InVariable(var) => {
                format!("Sign in:       {login} --client-secret-env {var}")
            }
            SecretShown::None => format!("Sign in:       {login}"),
        };
    }
    String::new()
}

/// Runs a client command.
pub async fn run(config: Config, command: ClientCommand) -> anyhow::Result<()> {
    // Reads a key file and nothing else: no database.
    if let ClientCommand::Jwks { private_key } = &command {
        let key = portcullis_client::PrivateKey::from_pem_file(private_key)?;
        // Without `alg`: the server then takes any algorithm the key fits (an RSA key signs
        // RS256 or PS256), whatever the client's library prefers.
        let mut set = key.public_jwk_set();
        for jwk in &mut set.keys {
            jwk.alg = None;
        }
        outln!("{}", serde_json::to_string_pretty(&set)?);
        return Ok(());
    }
    // Only making a secret needs the HMAC key, and with a master key set, opening it needs the
    // master key: the other commands read and change metadata only, and run without either.
    let makes_secret = matches!(
        command,
        ClientCommand::Create { .. } | ClientCommand::RotateSecret { .. }
    );
    let (store, hasher) = if makes_secret {
        super::open(&config).await?
    } else {
        let store = super::open_store(&config, false, true).await?;
        (
            store,
            SecretHasher::from_key(b"not used: this command hashes no secret"),
        )
    };
    let admin = ClientAdmin::new(store.as_ref(), &hasher, SystemClock.now());
    match command {
        ClientCommand::Create {
            client_id: id,
            fields,
            secret_env,
            json,
        } => {
            let id = id.as_deref().map(client_id).transpose()?;
            let public = fields.auth_method == Some(TokenEndpointAuthMethod::None);
            if public && fields.grant_types.is_empty() {
                return Err(crate::Usage {
                    message: "a public client (--auth-method none) cannot use client_credentials, the default grant".into(),
                    hint: Some(if fields.redirect_uris.is_empty() {
                        "add --grant-type authorization_code --grant-type refresh_token and a --redirect-uri"
                    } else {
                        "add --grant-type authorization_code --grant-type refresh_token"
                    }),
                }
                .into());
            }
            if fields.grant_types == [GrantType::RefreshToken] {
                return Err(crate::Usage {
                    message: "refresh_token alone gives the client no way to its first token"
                        .into(),
                    hint: Some("add --grant-type authorization_code and a --redirect-uri"),
                }
                .into());
            }
            let metadata = fields.apply(ClientMetadata::default())?;
            let supplied = secret_env.is_some();
            let secret_var = secret_env.clone();
            let saved = admin
                .create(id, metadata.clone(), secret_source(secret_env)?)
                .await
                .map_err(invalid_is_usage)?;
            // A secret the caller supplied is theirs already: never echo it.
            let secret = saved
                .secret
                .as_ref()
                .filter(|_| !supplied)
                .map(Secret::expose);
            if json {
                outln!(
                    "{}",
                    json!({"client_id": saved.client_id.as_str(), "client_secret": secret})
                );
            } else {
                outln!("client_id:     {}", saved.client_id);
                if let Some(secret) = secret {
                    outln!("client_secret: {secret}");
                    outln!("The secret is shown only this once: store it now.");
                }
                let shown = match (secret, &secret_var) {
                    (Some(secret), _) => SecretShown::Printed(secret),
                    (None, Some(var)) if saved.secret.is_some() => SecretShown::InVariable(var),
                    _ => SecretShown::None,
                };
                let next = next_step(&config, saved.client_id.as_str(), shown, &metadata);
                if !next.is_empty() {
                    outln!("{next}");
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = admin.list().await?;
            if json {
                let all: Vec<_> = clients.iter().map(|(r, m)| describe(r, m)).collect();
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                let rows = clients
                    .iter()
                    .map(|(row, m)| {
                        let grants: Vec<_> = m.grant_types.iter().map(|g| g.as_str()).collect();
                        vec![
                            row.client_id.clone(),
                            m.client_name.clone().unwrap_or_else(|| "-".into()),
                            grants.join(","),
                            m.scope.clone(),
                            registered(row).to_owned(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    super::table(
                        &[
                            "client_id",
                            "client_name",
                            "grant_types",
                            "scope",
                            "registered"
                        ],
                        rows
                    )
                );
            }
        }
        ClientCommand::Show {
            client_id: id,
            json,
        } => {
            let (row, metadata) = admin.show(&client_id(&id)?).await?;
            let value = describe(&row, &metadata);
            if json {
                outln!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                out!("{}", super::fields_table(&value));
            }
        }
        ClientCommand::Update {
            client_id: id,
            fields,
        } => {
            let id = client_id(&id)?;
            let (_, metadata) = admin.show(&id).await?;
            admin
                .update(&id, fields.apply(metadata)?)
                .await
                .map_err(invalid_is_usage)?;
            outln!("updated {id}");
        }
        ClientCommand::Jwks { .. } => {}
        ClientCommand::Delete { client_id: id } => {
            let id = client_id(&id)?;
            admin.delete(&id).await?;
            outln!("deleted {id}");
        }
        ClientCommand::RotateSecret {
            client_id: id,
            secret_env,
            json,
        } => {
            let id = client_id(&id)?;
            let secret = admin.rotate_secret(&id, secret_source(secret_env)?).await?;
            if json {
                outln!(
                    "{}",
                    json!({"client_id": id.as_str(), "client_secret": secret.expose()})
                );
            } else {
                outln!("client_id:     {id}");
                outln!("client_secret: {}", secret.expose());
                outln!("The old secret no longer works. The new one is shown only this once.");
            }
        }
    }
    Ok(())
}
