//! Signing keys over time. A key is published in the JWKS from the moment it is made, starts signing
//! only at `activates_at` (so resource servers that cache the JWKS have seen it first), stops signing
//! at `retires_at`, and stays published until every token it signed has expired.

mod signing_key;
mod vault;

pub use signing_key::{KeyError, SigningKey, generate_private_der};
pub use vault::{KeyVault, MIN_MASTER_KEY_LEN, SEALED_SECRETS, VaultError, is_sealed};

use crate::store::{KeyRow, Store, StoreError};
use portcullis_core::{Algorithm, JwkSet, UnixTime};
use std::sync::Arc;

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Pending,
    /// Signing (unless a newer active key of the same algorithm exists).
    Active,
    /// No longer signing; published while tokens it signed may still be valid.
    Retired,
    /// No longer published.
    Expired,
}

impl KeyState {
    /// The state at `now` of a key with this schedule, given the longest lifetime of a token it
    /// may have signed. Needs no key material, so listing keys needs no master key.
    pub fn of(
        activates_at: UnixTime,
        retires_at: Option<UnixTime>,
        now: UnixTime,
        max_token_lifetime: u64,
    ) -> KeyState {
        match retires_at {
            _ if now < activates_at => KeyState::Pending,
            None => KeyState::Active,
            Some(r) if now < r => KeyState::Active,
            Some(r) if now < r.plus(max_token_lifetime) => KeyState::Retired,
            Some(_) => KeyState::Expired,
        }
    }

    /// Lower-case name for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }
}

/// A loaded key with its schedule.
#[derive(Debug, Clone)]
pub struct ScheduledKey {
    /// The parsed key.
    pub key: Arc<SigningKey>,
    /// When it was made and first published.
    pub created_at: UnixTime,
    /// When it starts signing.
    pub activates_at: UnixTime,
    /// When it stops signing.
    pub retires_at: Option<UnixTime>,
}

impl ScheduledKey {
    /// The key's state at `now`, given the longest lifetime of a token it may have signed.
    pub fn state(&self, now: UnixTime, max_token_lifetime: u64) -> KeyState {
        KeyState::of(self.activates_at, self.retires_at, now, max_token_lifetime)
    }
}

/// Every key, parsed, in the order they were made.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<ScheduledKey>,
}

impl KeySet {
    /// Parses stored keys. A key that does not parse is skipped and reported, so one damaged row
    /// cannot take the server down.
    pub fn from_rows(rows: &[KeyRow], vault: &KeyVault) -> Self {
        Self::reload(rows, vault, &KeySet::default())
    }

    /// As [`from_rows`](Self::from_rows), except that a row `vault` cannot open whose key is in
    /// `previous` keeps that key: after `portcullis keys rekey` the rows are sealed under a master
    /// key a running server does not have, and it goes on with the keys it holds until it is
    /// restarted with the new one.
    pub fn reload(rows: &[KeyRow], vault: &KeyVault, previous: &KeySet) -> Self {
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let known = previous.keys.iter().find(|k| k.key.kid() == row.kid);
            let parsed = row
                .alg
                .parse::<Algorithm>()
                .map_err(|_| KeyError::Crypto)
                .and_then(|alg| match vault.open(row) {
                    Ok(der) => SigningKey::from_der(alg, &der).map(Arc::new),
                    Err(_) => known.map(|k| k.key.clone()).ok_or(KeyError::Crypto),
                });
            match parsed {
                Ok(key) => keys.push(ScheduledKey {
                    key,
                    created_at: UnixTime(row.created_at),
                    activates_at: UnixTime(row.activates_at),
                    retires_at: row.retires_at.map(UnixTime),
                }),
                Err(error) => {
                    tracing::error!(kid = %row.kid, %error, "skipping unreadable signing key")
                }
            }
        }
        KeySet { keys }
    }

    /// The key that signs `alg` tokens at `now`: the most recently activated one that is not retired.
    pub fn signer(&self, alg: Algorithm, now: UnixTime) -> Option<&Arc<SigningKey>> {
        self.active(alg, now).map(|k| &k.key)
    }

    /// The signer of `alg` at `now` with its schedule (for the key-age metric).
    pub fn active(&self, alg: Algorithm, now: UnixTime) -> Option<&ScheduledKey> {
        self.keys
            .iter()
            .filter(|k| k.key.alg() == alg && k.state(now, 0) == KeyState::Active)
            .max_by_key(|k| k.activates_at)
    }

    /// The JWKS at `now`: pending, active and retired keys.
    pub fn published(&self, now: UnixTime, max_token_lifetime: u64) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.state(now, max_token_lifetime) != KeyState::Expired)
                .map(|k| k.key.jwk().clone())
                .collect(),
        }
    }

    /// The published key with this `kid`, for checking tokens this server signed.
    pub fn verifier(
        &self,
        kid: &str,
        now: UnixTime,
        max_token_lifetime: u64,
    ) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .find(|k| k.key.kid() == kid && k.state(now, max_token_lifetime) != KeyState::Expired)
            .map(|k| &k.key)
    }

    /// Every key with its schedule.
    pub fn iter(&self) -> impl Iterator<Item = &ScheduledKey> {
        self.keys.iter()
    }
}

/// Makes a key for each algorithm that has no key still in service, active at once. Runs at start.
pub async fn ensure_signing_keys(
    store: &dyn Store,
    vault: &KeyVault,
    now: UnixTime,
) -> Result<(), KeysError> {
    let rows = store.signing_keys().await?;
    for alg in Algorithm::ALL {
        let in_service = rows
            .iter()
            .any(|r| r.alg == alg.as_str() && r.retires_at.is_none_or(|t| t > now.0));
        if !in_service {
            let row = new_key_row(alg, now, now, vault).await?;
            if store
                .insert_initial_signing_key(&row, vault.verified_check().as_deref())
                .await?
            {
                tracing::info!(kid = %row.kid, %alg, "generated signing key");
            }
        }
    }
    Ok(())
}

/// Adds a new key for `alg` that is published now and signs from `now + activation_delay`; the keys
/// it replaces retire at that moment. Returns the new key's row.
pub async fn rotate(
    store: &dyn Store,
    vault: &KeyVault,
    alg: Algorithm,
    now: UnixTime,
    activation_delay: u64,
) -> Result<KeyRow, KeysError> {
    let row = new_key_row(alg, now, now.plus(activation_delay), vault).await?;
    store
        .insert_signing_key(&row, true, vault.verified_check().as_deref())
        .await?;
    tracing::info!(
        target: "portcullis::audit",
        event = "key_rotated",
        kid = %row.kid,
        %alg,
        activates_at = row.activates_at,
        "rotated signing key"
    );
    Ok(row)
}

async fn new_key_row(
    alg: Algorithm,
    now: UnixTime,
    activates_at: UnixTime,
    vault: &KeyVault,
) -> Result<KeyRow, KeysError> {
    // RSA key generation takes tens of milliseconds: keep it off the async workers.
    let (der, kid) = tokio::task::spawn_blocking(move || {
        let der = generate_private_der(alg)?;
        let kid = SigningKey::from_der(alg, &der)?.kid().to_owned();
        Ok::<_, KeyError>((der, kid))
    })
    .await
    .map_err(|_| KeysError::Key(KeyError::Crypto))??;
    let private_der = vault.seal(&kid, alg.as_str(), &der)?;
    Ok(KeyRow {
        kid,
        alg: alg.as_str().to_owned(),
        private_der,
        created_at: now.0,
        activates_at: activates_at.0,
        retires_at: None,
    })
}

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The master key is wrong or missing.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kid: &str, alg: &str, private_der: Vec<u8>) -> KeyRow {
        KeyRow {
            kid: kid.into(),
            alg: alg.into(),
            private_der,
            created_at: 0,
            activates_at: 0,
            retires_at: None,
        }
    }

    /// One damaged row (an unknown algorithm, bytes that are no key) is skipped, and the good key
    /// beside it still signs: a bad row cannot take the server down.
    #[test]
    fn a_damaged_key_row_is_skipped() {
        let good = signing_key::generate_private_der(Algorithm::ES256).unwrap();
        let rows = [
            row("bad-alg", "HS256", good.clone()),
            row("bad-der", "ES256", b"not a key".to_vec()),
            row("good", "ES256", good),
        ];
        let set = KeySet::from_rows(&rows, &KeyVault::none());
        assert_eq!(set.keys.len(), 1);
        assert!(set.signer(Algorithm::ES256, UnixTime(1)).is_some());
    }
}
