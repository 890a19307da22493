//! Private signing keys encrypted at rest. With a master key (`master_key`, usually given as
//! `PORTCULLIS_MASTER_KEY`, or `master_key_file`), every private key is stored as AES-256-GCM
//! ciphertext bound to its `kid` and algorithm, under a key derived from the master key with HKDF-SHA-256. A check value in
//! `server_secrets` lets start-up tell a wrong master key from a right one before it writes
//! anything. Without a master key, keys are stored as plain PKCS#8, as before.
//!
//! The client-secret HMAC key (`server_secrets`, [`SEALED_SECRETS`]) is sealed the same way, bound
//! to its name. `portcullis keys rekey` ([`KeyVault::rekey`]) re-seals all of it under a new master
//! key in one transaction.

use super::KeysError;
use crate::store::{KeyRow, Store};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use portcullis_core::Secret;

// Marks a stored key as sealed; plain PKCS#8 DER starts with 0x30 and never with this. The store
// owns the prefix and the check value's row name, because it refuses plain keys itself.
use crate::store::{MASTER_KEY_CHECK as CHECK_NAME, SEALED_KEY_PREFIX as SEALED};
const CHECK_PLAINTEXT: &[u8] = b"portcullis master key check";
/// The `server_secrets` rows sealed under the master key.
pub const SEALED_SECRETS: &[&str] = &[crate::store::CLIENT_SECRET_HMAC_KEY];

/// Shortest master key accepted (characters).
pub const MIN_MASTER_KEY_LEN: usize = 32;

pub use crate::store::is_sealed;

/// Seals and opens private keys; without a master key it passes them through.
pub struct KeyVault {
    key: Option<LessSafeKey>,
    /// The check value this key was last found to match (or wrote): new key rows are inserted
    /// only while the database still has it (`Store::insert_signing_key`).
    verified: std::sync::Mutex<Option<Vec<u8>>>,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.key.is_some() {
            "[master key]"
        } else {
            "none"
        };
        f.debug_tuple("KeyVault").field(&state).finish()
    }
}

/// Why the vault cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The master key is too short to be a key.
    #[error("the master key must be at least {MIN_MASTER_KEY_LEN} characters")]
    TooShort,
    /// The database was sealed under another master key.
    #[error(
        "the master key does not match the one this database's secrets are sealed with (if the \
         database was rekeyed with `portcullis keys rekey`, start with the new master key); \
         nothing was changed"
    )]
    WrongKey,
    /// The database holds sealed keys and no master key was given.
    #[error(
        "the signing keys in this database are encrypted; set PORTCULLIS_MASTER_KEY or master_key_file"
    )]
    Missing,
    /// A sealed key did not open or a key could not be sealed.
    #[error("the stored {0} cannot be decrypted with this master key")]
    Corrupt(String),
    /// `rekey` was given no new master key to seal with.
    #[error("the new master key is missing")]
    NoNewKey,
}

impl KeyVault {
    /// No master key: keys stay plain.
    pub fn none() -> Self {
        KeyVault {
            key: None,
            verified: std::sync::Mutex::new(None),
        }
    }

    /// The master key in a file, as `master_key_file` and `keys rekey --new-master-key-file`
    /// read it: the first line, trimmed.
    pub fn read_master_key_file(path: &std::path::Path) -> std::io::Result<Secret> {
        let text = std::fs::read_to_string(path)?;
        Ok(Secret::new(text.lines().next().unwrap_or_default().trim()))
    }

    /// Derives the AEAD key from the master key.
    pub fn from_master_key(master: &Secret) -> Result<Self, VaultError> {
        let material = master.expose().trim();
        if material.chars().count() < MIN_MASTER_KEY_LEN {
            return Err(VaultError::TooShort);
        }
        let prk = Salt::new(HKDF_SHA256, b"portcullis key vault v1").extract(material.as_bytes());
        let okm = prk
            .expand(&[b"signing keys"], &AES_256_GCM)
            .map_err(|_| VaultError::TooShort)?;
        let key = UnboundKey::from(okm);
        Ok(KeyVault {
            key: Some(LessSafeKey::new(key)),
            verified: std::sync::Mutex::new(None),
        })
    }

    /// The check value this key was last found to match, for [`Store::insert_signing_key`].
    pub fn verified_check(&self) -> Option<Vec<u8>> {
        match self.verified.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_verified(&self, check: Option<Vec<u8>>) {
        match self.verified.lock() {
            Ok(mut guard) => *guard = check,
            Err(poisoned) => *poisoned.into_inner() = check,
        }
    }

    /// Whether a master key is set.
    pub fn is_sealing(&self) -> bool {
        self.key.is_some()
    }

    fn seal_bytes(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let Some(key) = &self.key else {
            return Ok(plain.to_vec());
        };
        let nonce_bytes = crate::crypto::random_bytes::<NONCE_LEN>()
            .map_err(|_| VaultError::Corrupt("(new)".into()))?;
        let mut in_out = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut in_out,
        )
        .map_err(|_| VaultError::Corrupt("(new)".into()))?;
        let mut out = Vec::with_capacity(SEALED.len() + NONCE_LEN + in_out.len());
        out.extend_from_slice(SEALED);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    fn open_bytes(&self, aad: &[u8], stored: &[u8]) -> Option<Vec<u8>> {
        let body = stored.strip_prefix(SEALED.as_slice())?;
        let key = self.key.as_ref()?;
        let (nonce, cipher) = body.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = cipher.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(aad), &mut in_out).ok()?;
        Some(plain.to_vec())
    }

    fn aad(kid: &str, alg: &str) -> Vec<u8> {
        format!("{kid}\n{alg}").into_bytes()
    }

    /// The stored form of a new key's private part.
    pub fn seal(&self, kid: &str, alg: &str, der: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.seal_bytes(&Self::aad(kid, alg), der)
    }

    /// The PKCS#8 DER of a stored key.
    pub fn open(&self, row: &KeyRow) -> Result<Vec<u8>, VaultError> {
        if !is_sealed(&row.private_der) {
            return Ok(row.private_der.clone());
        }
        if self.key.is_none() {
            return Err(VaultError::Missing);
        }
        self.open_bytes(&Self::aad(&row.kid, &row.alg), &row.private_der)
            .ok_or_else(|| VaultError::Corrupt(row.kid.clone()))
    }

    /// The stored form of a server secret named `name` (sealed, bound to its name, when a master
    /// key is set).
    pub fn seal_secret(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.seal_bytes(name.as_bytes(), value)
    }

    /// The value of a stored server secret named `name`.
    pub fn open_secret(&self, name: &str, stored: &[u8]) -> Result<Vec<u8>, VaultError> {
        if !is_sealed(stored) {
            return Ok(stored.to_vec());
        }
        if self.key.is_none() {
            return Err(VaultError::Missing);
        }
        self.open_bytes(name.as_bytes(), stored)
            .ok_or_else(|| VaultError::Corrupt(name.to_owned()))
    }

    /// Checks the master key against the database and works out what sealing is due, writing
    /// nothing: a wrong key, or none for a sealed database, fails here.
    async fn decide(&self, store: &dyn Store) -> Result<Option<Sealing>, KeysError> {
        let secrets = store.server_secrets().await?;
        let check = secrets
            .iter()
            .find(|(name, _)| name == CHECK_NAME)
            .map(|(_, value)| value.clone());
        let secrets: Vec<(String, Vec<u8>)> = secrets
            .into_iter()
            .filter(|(name, _)| SEALED_SECRETS.contains(&name.as_str()))
            .collect();
        let keys = store.signing_keys().await?;
        let new_check = match (&self.key, check) {
            (None, Some(_)) => return Err(VaultError::Missing.into()),
            (None, None)
                if keys.iter().any(|k| is_sealed(&k.private_der))
                    || secrets.iter().any(|(_, v)| is_sealed(v)) =>
            {
                return Err(VaultError::Missing.into());
            }
            (None, None) => return Ok(None),
            (Some(_), Some(check)) => match self.open_bytes(CHECK_NAME.as_bytes(), &check) {
                Some(plain) if plain == CHECK_PLAINTEXT => {
                    self.set_verified(Some(check));
                    None
                }
                _ => return Err(VaultError::WrongKey.into()),
            },
            // Sealed keys without a check value (copied in by hand): they must open with this key,
            // or a check value made now would bless the wrong one.
            (Some(_), None)
                if keys
                    .iter()
                    .filter(|k| is_sealed(&k.private_der))
                    .any(|k| self.open(k).is_err())
                    || secrets
                        .iter()
                        .filter(|(_, v)| is_sealed(v))
                        .any(|(name, v)| self.open_secret(name, v).is_err()) =>
            {
                return Err(VaultError::WrongKey.into());
            }
            (Some(_), None) => Some(self.seal_bytes(CHECK_NAME.as_bytes(), CHECK_PLAINTEXT)?),
        };
        let mut sealed = Vec::new();
        for row in keys.iter().filter(|k| !is_sealed(&k.private_der)) {
            sealed.push((
                row.kid.clone(),
                self.seal(&row.kid, &row.alg, &row.private_der)?,
            ));
        }
        let mut sealed_secrets = Vec::new();
        for (name, value) in secrets.iter().filter(|(_, v)| !is_sealed(v)) {
            sealed_secrets.push((name.clone(), self.seal_secret(name, value)?));
        }
        Ok(Some(Sealing {
            new_check,
            sealed,
            sealed_secrets,
        }))
    }

    /// Checks the master key against an existing database without writing anything, so that a
    /// start that is refused (no key, or the wrong one) leaves the database exactly as it was,
    /// schema included: start-up runs this before the migrations.
    pub async fn check(&self, store: &dyn Store) -> Result<(), KeysError> {
        self.decide(store).await.map(|_| ())
    }

    /// Start-up (and every admin command that touches keys): checks the master key as
    /// [`KeyVault::check`] does, then seals every key still stored plain, in one transaction: a
    /// database used without a master key is sealed at the first start with one, and while a key
    /// is set no key row stays plain.
    pub async fn unlock(&self, store: &dyn Store) -> Result<(), KeysError> {
        let Some(Sealing {
            new_check,
            sealed,
            sealed_secrets,
        }) = self.decide(store).await?
        else {
            return Ok(());
        };
        if new_check.is_none() && sealed.is_empty() && sealed_secrets.is_empty() {
            return Ok(());
        }
        store
            .seal_signing_keys(new_check.as_deref(), &sealed, &sealed_secrets)
            .await?;
        if new_check.is_some() {
            self.set_verified(new_check);
        }
        if !sealed.is_empty() {
            tracing::info!(
                count = sealed.len(),
                "encrypted stored signing keys with the master key"
            );
        }
        Ok(())
    }
}

/// What [`KeyVault::unlock`] has to write.
struct Sealing {
    /// The check value to record, on the first start with a master key.
    new_check: Option<Vec<u8>>,
    /// Key rows stored plain, sealed: (kid, stored form).
    sealed: Vec<(String, Vec<u8>)>,
    /// [`SEALED_SECRETS`] stored plain, sealed: (name, stored form).
    sealed_secrets: Vec<(String, Vec<u8>)>,
}

impl KeyVault {
    /// Re-seals every signing key and every [`SEALED_SECRETS`] row under `new`, with a new check
    /// value, in one transaction; returns how many rows it re-sealed. `self` must be the key the
    /// database is sealed with now (or none, for a database not sealed yet). A failure at any
    /// point, an interrupted transaction included, leaves everything under the old key. A server
    /// already running keeps the keys it has loaded (see [`KeySet::reload`](super::KeySet::reload))
    /// until it is restarted with `new`; one started with the old key is refused.
    pub async fn rekey(&self, new: &KeyVault, store: &dyn Store) -> Result<usize, KeysError> {
        if !new.is_sealing() {
            return Err(VaultError::NoNewKey.into());
        }
        self.check(store).await?;
        let secrets = store.server_secrets().await?;
        let old_check = secrets
            .iter()
            .find(|(name, _)| name == CHECK_NAME)
            .map(|(_, value)| value.clone());
        let mut keys = Vec::new();
        for row in store.signing_keys().await? {
            let der = self.open(&row)?;
            keys.push((row.kid.clone(), new.seal(&row.kid, &row.alg, &der)?));
        }
        let mut sealed_secrets = Vec::new();
        for (name, stored) in secrets
            .iter()
            .filter(|(name, _)| SEALED_SECRETS.contains(&name.as_str()))
        {
            let value = self.open_secret(name, stored)?;
            sealed_secrets.push((name.clone(), new.seal_secret(name, &value)?));
        }
        let new_check = new.seal_bytes(CHECK_NAME.as_bytes(), CHECK_PLAINTEXT)?;
        store
            .reseal(old_check.as_deref(), &new_check, &keys, &sealed_secrets)
            .await?;
        tracing::info!(
            target: "portcullis::audit",
            event = "master_key_rotated",
            keys = keys.len(),
            secrets = sealed_secrets.len(),
            "re-sealed the stored secrets under the new master key"
        );
        Ok(keys.len() + sealed_secrets.len())
    }
}
