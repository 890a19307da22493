//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): a client
//! registers itself with JSON metadata, gets its id, a secret the server made, and a registration
//! access token, and with that token reads, replaces and deletes its own registration. Off unless
//! `[registration] enabled`; with `initial_access_token = "required"` (the default) registering
//! needs a token from `portcullis registration-token create`. `http/registration.rs` reads the
//! requests and writes the answers.
//!
//! What a client may say about itself is limited to what does not grant it anything: it cannot
//! make itself first-party (no consent page), name audiences (token exchange and `aud` are
//! policy), turn PKCE off, or ask for scopes outside `[registration] scope`. Those stay with an
//! administrator.

mod metadata;

use super::Issuer;
use crate::client::ClientMetadata;
use crate::crypto::{generate_client_id, generate_secret, random_token, token_hash};
use crate::store::ClientRow;
use crate::throttle::{Key, Limited};
use metadata::client_metadata;
use portcullis_core::secret::constant_time_eq;
use portcullis_core::{Scope, Secret};
use serde_json::{Map, Value, json};
use std::net::IpAddr;

/// The settings of the registration endpoint.
#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    /// Whether the endpoint is served at all.
    pub enabled: bool,
    /// Whether registering needs an initial access token.
    pub token_required: bool,
    /// The scopes a registered client may have.
    pub scope: Scope,
    /// Registration requests per address within the registration throttle's window.
    pub per_address: u64,
}

/// Why a registration request is refused; `http::error` gives each its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// A redirect URI breaks a rule (RFC 7591 §3.2.2 `invalid_redirect_uri`): 400.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// Other metadata breaks a rule (`invalid_client_metadata`): 400.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// A software statement was sent; none is approved here (`unapproved_software_statement`).
    #[error("unapproved_software_statement")]
    UnapprovedSoftwareStatement,
    /// The initial or registration access token is missing or not good (RFC 6750
    /// `invalid_token`): 401. Says nothing about whether the client exists.
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    /// The body is over `[limits] max_body_bytes`: 413.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Too many registrations from this address: 429 with `Retry-After`.
    #[error("too many registrations from this address")]
    Throttled {
        /// Seconds.
        retry_after: i64,
    },
    /// Our own failure: 500, the cause logged.
    #[error("server_error: {0}")]
    Internal(String),
}

/// A secret for a client that authenticates with one (256 bits, made here: RFC 7591 §3.2.1).
fn new_secret(metadata: &ClientMetadata) -> Result<Option<Secret>, RegistrationError> {
    if metadata.has_secret() {
        generate_secret().map(Some).map_err(internal)
    } else {
        Ok(None)
    }
}

fn metadata_error(message: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(message.into())
}

fn internal(e: impl std::fmt::Display) -> RegistrationError {
    RegistrationError::Internal(e.to_string())
}

/// A registration answer (RFC 7591 §3.2.1, RFC 7592 §3): the metadata in force, the client's
/// credentials and how to manage the registration.
#[derive(Debug)]
pub struct Registered {
    /// The JSON body.
    pub body: Value,
}

fn answer(
    issuer: &Issuer,
    client_id: &str,
    issued_at: i64,
    metadata: &ClientMetadata,
    secret: Option<&Secret>,
    registration_token: &str,
) -> Registered {
    let mut out = Map::new();
    out.insert("client_id".into(), json!(client_id));
    out.insert("client_id_issued_at".into(), json!(issued_at));
    if let Some(secret) = secret {
        out.insert("client_secret".into(), json!(secret.expose()));
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    if let Value::Object(described) = metadata.described() {
        for name in [
            "client_name",
            "redirect_uris",
            "grant_types",
            "response_types",
            "token_endpoint_auth_method",
            "scope",
            "application_type",
            "jwks",
            "jwks_uri",
            "post_logout_redirect_uris",
            "id_token_signed_response_alg",
            "require_pushed_authorization_requests",
            "dpop_bound_access_tokens",
        ] {
            match described.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.is_empty() && name == "post_logout_redirect_uris" => {}
                Some(v) => {
                    out.insert(name.into(), v.clone());
                }
            }
        }
    }
    out.insert(
        "registration_access_token".into(),
        json!(registration_token),
    );
    out.insert(
        "registration_client_uri".into(),
        json!(format!("{}/register/{client_id}", issuer.issuer())),
    );
    Registered {
        body: Value::Object(out),
    }
}

/// `POST /register` (RFC 7591 §3.1).
pub async fn register(
    issuer: &Issuer,
    initial_token: Option<&str>,
    body: &Value,
    ip: IpAddr,
) -> Result<Registered, RegistrationError> {
    let settings = &issuer.registration;
    let now = issuer.clock.now().0;
    count_request(issuer, ip, now).await?;
    if settings.token_required {
        // Looked at (not used) before the metadata, so that without a good token nothing about
        // the rules is said; used only once the registration is sure to go ahead.
        let valid = match initial_token {
            Some(token) => issuer
                .store
                .initial_access_token_valid(&token_hash(token), now)
                .await
                .map_err(internal)?,
            None => false,
        };
        if !valid {
            return Err(RegistrationError::InvalidToken(
                "registering needs a valid initial access token (Authorization: Bearer)",
            ));
        }
    }
    let (metadata, _) = client_metadata(settings, body)?;
    if settings.token_required {
        let token = initial_token.unwrap_or_default();
        let used = issuer
            .store
            .use_initial_access_token(&token_hash(token), now)
            .await
            .map_err(internal)?;
        if !used {
            return Err(RegistrationError::InvalidToken(
                "the initial access token is not valid, has expired or is used up",
            ));
        }
    }
    let registration_token = random_token().map_err(internal)?;
    let client_id = generate_client_id().map_err(internal)?;
    let secret = new_secret(&metadata)?;
    let row = ClientRow {
        client_id: client_id.clone(),
        secret_hash: secret.as_ref().map(|s| issuer.hasher.hash(s)),
        metadata: serde_json::to_string(&metadata).map_err(internal)?,
        created_at: now,
        updated_at: now,
        registration_token_hash: Some(token_hash(&registration_token)),
    };
    issuer.store.insert_client(&row).await.map_err(internal)?;
    issuer.revoked().await;
    tracing::info!(
        target: "portcullis::audit",
        event = "client_registered",
        client_id,
        %ip,
        "a client registered itself"
    );
    Ok(answer(
        issuer,
        &client_id,
        now,
        &metadata,
        secret.as_ref(),
        &registration_token,
    ))
}

/// Counts a registration or a change to one against the address: not something one address does
/// often, so every request counts, accepted or not.
async fn count_request(issuer: &Issuer, ip: IpAddr, now: i64) -> Result<(), RegistrationError> {
    let keys = [Limited::address(
        Key::registration_address(ip),
        issuer.registration.per_address,
    )];
    match issuer
        .registration_throttle
        .count_attempt(&keys, now)
        .await
        .map_err(internal)?
    {
        None => Ok(()),
        Some(wait) => Err(RegistrationError::Throttled { retry_after: wait }),
    }
}

/// The client a registration access token manages, checked in constant time. Every failure is
/// the same `invalid_token`, whether or not the client exists.
async fn managed(
    issuer: &Issuer,
    client_id: &str,
    token: Option<&str>,
) -> Result<ClientRow, RegistrationError> {
    let refused = RegistrationError::InvalidToken("the registration access token is not valid");
    let token = token.ok_or(refused.clone())?;
    // Not a client_id at all (a NUL byte, say): no lookup, the same answer.
    let client_id = portcullis_core::ClientId::parse(client_id).map_err(|_| refused.clone())?;
    let row = issuer
        .store
        .client(client_id.as_str())
        .await
        .map_err(internal)?
        .ok_or(refused.clone())?;
    let stored = row
        .registration_token_hash
        .as_deref()
        .ok_or(refused.clone())?;
    if !constant_time_eq(stored, &token_hash(token)) {
        return Err(refused);
    }
    Ok(row)
}

fn stored_metadata(row: &ClientRow) -> Result<ClientMetadata, RegistrationError> {
    serde_json::from_str(&row.metadata).map_err(internal)
}

/// `GET /register/{client_id}` (RFC 7592 §2.1). The secret is not shown again: it is stored as a
/// keyed hash. The registration access token stays as it is.
pub async fn read(
    issuer: &Issuer,
    client_id: &str,
    token: Option<&str>,
) -> Result<Registered, RegistrationError> {
    let row = managed(issuer, client_id, token).await?;
    let metadata = stored_metadata(&row)?;
    Ok(answer(
        issuer,
        &row.client_id,
        row.created_at,
        &metadata,
        None,
        token.unwrap_or_default(),
    ))
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the whole metadata replaced, and a new
/// registration access token in the answer (the old one stops working).
pub async fn update(
    issuer: &Issuer,
    client_id: &str,
    token: Option<&str>,
    body: &Value,
    ip: IpAddr,
) -> Result<Registered, RegistrationError> {
    count_request(issuer, ip, issuer.clock.now().0).await?;
    let row = managed(issuer, client_id, token).await?;
    let read_token = row.registration_token_hash.clone().unwrap_or_default();
    let read_secret = row.secret_hash.clone();
    let (metadata, requested) = client_metadata(&issuer.registration, body)?;
    if requested.client_id.as_deref() != Some(client_id) {
        return Err(metadata_error(
            "the body must name this client's client_id (RFC 7592 §2.2)",
        ));
    }
    if let Some(given) = &requested.client_secret
        && !issuer
            .hasher
            .verify(&Secret::new(given.as_str()), row.secret_hash.as_deref())
    {
        return Err(metadata_error(
            "client_secret differs from the client's secret (RFC 7592 §2.2)",
        ));
    }
    let registration_token = random_token().map_err(internal)?;
    let created_at = row.created_at;
    // A client that becomes confidential gets a secret; one that becomes public loses its own.
    let mut row = row;
    let mut secret = None;
    if !metadata.has_secret() {
        row.secret_hash = None;
    } else if row.secret_hash.is_none() {
        secret = new_secret(&metadata)?;
        row.secret_hash = secret.as_ref().map(|s| issuer.hasher.hash(s));
    }
    row.metadata = serde_json::to_string(&metadata).map_err(internal)?;
    row.updated_at = issuer.clock.now().0;
    row.registration_token_hash = Some(token_hash(&registration_token));
    // Only if nothing changed the client since it was read: another update with the same
    // token, or an administrator.
    let saved = issuer
        .store
        .replace_registered_client(&row, &read_token, read_secret.as_deref())
        .await
        .map_err(internal)?;
    if !saved {
        return Err(RegistrationError::InvalidToken(
            "the registration access token is not valid",
        ));
    }
    issuer.revoked().await;
    tracing::info!(
        target: "portcullis::audit",
        event = "client_registration_updated",
        client_id,
        "a client replaced its registration"
    );
    Ok(answer(
        issuer,
        client_id,
        created_at,
        &metadata,
        secret.as_ref(),
        &registration_token,
    ))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client is gone. It can no longer
/// authenticate, so its refresh tokens are of no use; its access tokens run out within their
/// lifetime.
pub async fn delete(
    issuer: &Issuer,
    client_id: &str,
    token: Option<&str>,
    ip: IpAddr,
) -> Result<(), RegistrationError> {
    count_request(issuer, ip, issuer.clock.now().0).await?;
    let row = managed(issuer, client_id, token).await?;
    let deleted = issuer
        .store
        .delete_registered_client(client_id, &row.registration_token_hash.unwrap_or_default())
        .await
        .map_err(internal)?;
    if !deleted {
        return Err(RegistrationError::InvalidToken(
            "the registration access token is not valid",
        ));
    }
    issuer.revoked().await;
    tracing::info!(
        target: "portcullis::audit",
        event = "client_registration_deleted",
        client_id,
        "a client deleted its registration"
    );
    Ok(())
}
