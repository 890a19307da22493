//! `portcullis user create|list|show|delete|set-password|disable|enable`.

use clap::{Args, Subcommand};
use portcullis_core::{Clock, Secret, SystemClock};
use portcullis_server::Config;
use portcullis_server::store::sign_in::{Ended, UserRow};
use portcullis_server::users::{PasswordHasher, PasswordSource, Profile, UserAdmin};
use serde_json::json;

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user who can sign in.
    Create {
        /// The sign-in name.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// OIDC email.
        #[arg(long)]
        email: Option<String>,
        /// Mark the email as verified.
        #[arg(long)]
        email_verified: bool,
        /// OIDC name.
        #[arg(long)]
        name: Option<String>,
        /// OIDC given_name.
        #[arg(long)]
        given_name: Option<String>,
        /// OIDC family_name.
        #[arg(long)]
        family_name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List users (never their password hashes).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show {
        /// The sign-in name.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user with their sessions and consents; their grants (refresh tokens and the
    /// access tokens on record) are revoked.
    Delete {
        /// The sign-in name.
        username: String,
    },
    /// Replace a user's password; their sessions end and their grants are revoked.
    SetPassword {
        /// The sign-in name.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Stop a user from signing in; their sessions end and their grants are revoked.
    Disable {
        /// The sign-in name.
        username: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// The sign-in name.
        username: String,
    },
}

/// Where the password comes from: never a plain command-line argument, which would land in shell
/// history and process listings.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PasswordArgs {
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    fn read(&self) -> anyhow::Result<PasswordSource> {
        if let Some(var) = &self.password_env {
            let value = std::env::var(var)
                .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?;
            return Ok(PasswordSource::Plain(Secret::new(value)));
        }
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(PasswordSource::Plain(Secret::new(
            line.trim_end_matches(['\r', '\n']),
        )))
    }
}

fn describe(u: &UserRow) -> serde_json::Value {
    json!({
        "user_id": u.user_id,
        "username": u.username,
        "email": u.email,
        "email_verified": u.email_verified,
        "name": u.name,
        "given_name": u.given_name,
        "family_name": u.family_name,
        "created_at": super::time(Some(u.created_at)),
        "updated_at": super::time(Some(u.updated_at)),
        "disabled": u.disabled_at.is_some(),
    })
}

/// What ending a user's sign-ins did, in words.
fn ended(e: Ended) -> String {
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "ended {} and revoked {} (their refresh tokens and access tokens)",
        plural(e.sessions, "session"),
        plural(e.grants, "grant")
    )
}

/// Runs a user command.
pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let store = super::open_store(&config, false, true).await?;
    let hasher = PasswordHasher::new(1)?;
    let admin = UserAdmin::new(store.as_ref(), &hasher, SystemClock.now());
    match command {
        UserCommand::Create {
            username,
            password,
            email,
            email_verified,
            name,
            given_name,
            family_name,
            json,
        } => {
            let profile = Profile {
                email,
                email_verified,
                name,
                given_name,
                family_name,
            };
            let id = admin.create(&username, password.read()?, profile).await?;
            if json {
                outln!("{}", json!({"user_id": id, "username": username}));
            } else {
                outln!("created user {username} (sub {id})");
            }
        }
        UserCommand::List { json } => {
            let users = admin.list().await?;
            if json {
                let all: Vec<_> = users.iter().map(describe).collect();
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                let rows = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.username.clone(),
                            u.user_id.clone(),
                            u.email.clone().unwrap_or_else(|| "-".into()),
                            if u.disabled_at.is_some() {
                                "disabled"
                            } else {
                                ""
                            }
                            .to_owned(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    super::table(&["username", "user_id", "email", ""], rows)
                );
            }
        }
        UserCommand::Show { username, json } => {
            let value = describe(&admin.show(&username).await?);
            if json {
                outln!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                out!("{}", super::fields_table(&value));
            }
        }
        UserCommand::Delete { username } => {
            let e = admin.delete(&username).await?;
            outln!("deleted user {username}; {}", ended(e));
        }
        UserCommand::SetPassword { username, password } => {
            let e = admin.set_password(&username, password.read()?).await?;
            outln!("password changed for {username}; {}", ended(e));
        }
        UserCommand::Disable { username } => {
            let e = admin.disable(&username).await?;
            outln!("disabled {username}; {}", ended(e));
        }
        UserCommand::Enable { username } => {
            admin.enable(&username).await?;
            outln!("enabled {username}");
        }
    }
    Ok(())
}
