//! Client administration shared by the `portcullis client` commands and the declarative `[[clients]]`
//! tables: every path that writes a client goes through here, so the rules are checked once.

use crate::client::{ClientMetadata, InvalidMetadata};
use crate::client_secret::{MIN_SECRET_CHARS, SecretHasher};
use crate::crypto::{self, RandomUnavailable};
use crate::store::{ClientRow, Store, StoreError};
use portcullis_core::{ClientId, Secret, UnixTime};

/// Why an administrative change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The metadata or secret breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// No client has this id.
    #[error("no client with client_id '{0}'")]
    NotFound(String),
    /// Storage failed or the id is taken.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness for a new secret or id.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

impl From<InvalidMetadata> for AdminError {
    fn from(e: InvalidMetadata) -> Self {
        AdminError::Invalid(e.0)
    }
}

/// Where a confidential client's secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Generate one with 256 bits of entropy (the default).
    Generate,
    /// Use this one; it must have at least 32 characters.
    Given(Secret),
}

/// A client that was just written, with its secret when one was generated or set.
#[derive(Debug)]
pub struct Saved {
    /// The client's id.
    pub client_id: ClientId,
    /// The new secret, to show once; `None` for public clients and unchanged secrets.
    pub secret: Option<Secret>,
}

/// Client administration over a store.
pub struct ClientAdmin<'a> {
    store: &'a dyn Store,
    hasher: &'a SecretHasher,
    now: UnixTime,
}

impl<'a> ClientAdmin<'a> {
    /// Administration as of `now`.
    pub fn new(store: &'a dyn Store, hasher: &'a SecretHasher, now: UnixTime) -> Self {
        ClientAdmin { store, hasher, now }
    }

    /// Registers a client; its id is generated when not given.
    pub async fn create(
        &self,
        client_id: Option<ClientId>,
        metadata: ClientMetadata,
        secret: SecretSource,
    ) -> Result<Saved, AdminError> {
        metadata.validate()?;
        let client_id = match client_id {
            Some(id) => id,
            None => ClientId::parse(&crypto::generate_client_id()?)
                .map_err(|e| AdminError::Invalid(e.to_string()))?,
        };
        let (secret_hash, secret) = self.secret_for(&metadata, secret)?;
        let row = ClientRow {
            client_id: client_id.as_str().to_owned(),
            secret_hash,
            metadata: to_json(&metadata)?,
            created_at: self.now.0,
            updated_at: self.now.0,
            registration_token_hash: None,
        };
        self.store.insert_client(&row).await?;
        Ok(Saved { client_id, secret })
    }

    /// Replaces a client's metadata, keeping its secret. A client that becomes public loses its
    /// secret; one that stops being public must be given one with [`ClientAdmin::rotate_secret`].
    /// A client that registered itself is taken over: its registration access token stops
    /// working, so its next update (RFC 7592) cannot undo the administrator's.
    pub async fn update(
        &self,
        client_id: &ClientId,
        metadata: ClientMetadata,
    ) -> Result<(), AdminError> {
        metadata.validate()?;
        let mut row = self.existing(client_id).await?;
        if !metadata.has_secret() {
            row.secret_hash = None;
        } else if row.secret_hash.is_none() {
            return Err(AdminError::Invalid(
                "a confidential client needs a secret: run rotate-secret after changing it".into(),
            ));
        }
        row.metadata = to_json(&metadata)?;
        row.updated_at = self.now.0;
        row.registration_token_hash = None;
        self.save(row).await
    }

    /// Gives a confidential client a new secret; the old one stops working at once.
    pub async fn rotate_secret(
        &self,
        client_id: &ClientId,
        secret: SecretSource,
    ) -> Result<Secret, AdminError> {
        let mut row = self.existing(client_id).await?;
        let metadata: ClientMetadata = serde_json::from_str(&row.metadata)
            .map_err(|e| AdminError::Invalid(format!("stored metadata: {e}")))?;
        if !metadata.has_secret() {
            return Err(AdminError::Invalid(
                "this client has no secret to rotate (it is public or uses private_key_jwt)".into(),
            ));
        }
        let (hash, secret) = self.secret_for(&metadata, secret)?;
        row.secret_hash = hash;
        row.updated_at = self.now.0;
        self.save(row).await?;
        secret.ok_or_else(|| AdminError::Invalid("no secret was made".into()))
    }

    /// Creates the client, or brings an existing one in line with the declaration. The secret is
    /// replaced only when it differs from the stored one, so restarts change nothing.
    pub async fn apply_declared(
        &self,
        client_id: ClientId,
        metadata: ClientMetadata,
        secret: Option<Secret>,
    ) -> Result<(), AdminError> {
        metadata.validate()?;
        let source = match (&secret, !metadata.has_secret()) {
            (Some(_), true) => {
                return Err(AdminError::Invalid(
                    "a public client or one using private_key_jwt must not have a client_secret"
                        .into(),
                ));
            }
            (None, false) => {
                return Err(AdminError::Invalid(
                    "client_secret is required for a confidential client (use env:VARIABLE to keep it out of the file)".into(),
                ));
            }
            (Some(s), false) => SecretSource::Given(s.clone()),
            (None, true) => SecretSource::Generate,
        };
        let Some(mut row) = self.store.client(client_id.as_str()).await? else {
            self.create(Some(client_id), metadata, source).await?;
            return Ok(());
        };
        let (hash, _) = self.secret_for(&metadata, source)?;
        let json = to_json(&metadata)?;
        if row.metadata == json && row.secret_hash == hash {
            return Ok(());
        }
        row.metadata = json;
        row.secret_hash = hash;
        row.updated_at = self.now.0;
        self.save(row).await
    }

    /// Removes a client.
    pub async fn delete(&self, client_id: &ClientId) -> Result<(), AdminError> {
        if self.store.delete_client(client_id.as_str()).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound(client_id.to_string()))
        }
    }

    /// Every client with its metadata. Secrets are never returned: only their hashes are stored.
    pub async fn list(&self) -> Result<Vec<(ClientRow, ClientMetadata)>, AdminError> {
        let mut out = Vec::new();
        for row in self.store.clients().await? {
            let metadata = serde_json::from_str(&row.metadata)
                .map_err(|e| AdminError::Invalid(format!("stored metadata: {e}")))?;
            out.push((row, metadata));
        }
        Ok(out)
    }

    /// One client with its metadata.
    pub async fn show(
        &self,
        client_id: &ClientId,
    ) -> Result<(ClientRow, ClientMetadata), AdminError> {
        let row = self.existing(client_id).await?;
        let metadata = serde_json::from_str(&row.metadata)
            .map_err(|e| AdminError::Invalid(format!("stored metadata: {e}")))?;
        Ok((row, metadata))
    }

    async fn existing(&self, client_id: &ClientId) -> Result<ClientRow, AdminError> {
        self.store
            .client(client_id.as_str())
            .await?
            .ok_or_else(|| AdminError::NotFound(client_id.to_string()))
    }

    async fn save(&self, row: ClientRow) -> Result<(), AdminError> {
        if self.store.update_client(&row).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound(row.client_id))
        }
    }

    #[allow(clippy::type_complexity)]
    fn secret_for(
        &self,
        metadata: &ClientMetadata,
        source: SecretSource,
    ) -> Result<(Option<Vec<u8>>, Option<Secret>), AdminError> {
        if !metadata.has_secret() {
            return Ok((None, None));
        }
        let secret = match source {
            SecretSource::Generate => crypto::generate_secret()?,
            SecretSource::Given(s) => {
                if s.expose().chars().count() < MIN_SECRET_CHARS {
                    return Err(AdminError::Invalid(format!(
                        "a client secret must be at least {MIN_SECRET_CHARS} characters long"
                    )));
                }
                s
            }
        };
        Ok((Some(self.hasher.hash(&secret)), Some(secret)))
    }
}

fn to_json(metadata: &ClientMetadata) -> Result<String, AdminError> {
    serde_json::to_string(metadata).map_err(|e| AdminError::Invalid(e.to_string()))
}

/// Makes an initial access token for dynamic registration (RFC 7591 §3): good for `lifetime`
/// seconds from `now` and, with `max_uses`, that many registrations. Only its SHA-256 is stored;
/// the token is shown once.
pub async fn create_initial_access_token(
    store: &dyn Store,
    now: UnixTime,
    lifetime: u64,
    max_uses: Option<u64>,
) -> Result<Secret, AdminError> {
    let token = crypto::random_token()?;
    store
        .insert_initial_access_token(&crate::store::registration::InitialAccessTokenRow {
            token_hash: crypto::token_hash(&token),
            created_at: now.0,
            expires_at: now.plus(lifetime).0,
            max_uses: max_uses.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            uses: 0,
        })
        .await?;
    Ok(Secret::new(token))
}
