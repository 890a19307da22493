//! Client secrets: stored only as HMAC-SHA-256 under a server key, verified in constant time
//! (`crypto::generate_secret` makes them, with 256 bits of entropy).
//!
//! A slow password hash (bcrypt, PBKDF2, Argon2) buys nothing for a secret nobody can guess and makes
//! every token request pay milliseconds of CPU: Hydra, Spring Authorization Server and Zitadel all
//! shipped slow token endpoints that way. A keyed hash keeps a stolen table useless without the key,
//! costs about a microsecond, and the 32-character minimum for secrets people choose themselves keeps
//! guessing out of reach. `docs/security.md` has the whole argument.

use crate::crypto::random_bytes;
use crate::keys::{KeyVault, KeysError};
use crate::store::{Store, StoreError};
use aws_lc_rs::hmac;
use portcullis_core::Secret;

/// Shortest secret a person may choose.
pub const MIN_SECRET_CHARS: usize = 32;

/// The `server_secrets` row holding the HMAC key (sealed under the master key when one is set).
pub const KEY_NAME: &str = crate::store::CLIENT_SECRET_HMAC_KEY;

/// Hashes and checks client secrets with the server's HMAC key.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
    // Compared against when the client is unknown, so that case costs the same as a wrong secret.
    dummy: Vec<u8>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

impl SecretHasher {
    /// Loads the server's key, making it on first use, in a database without a master key.
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        Self::load_with(store, &KeyVault::none())
            .await
            .map_err(|e| match e {
                KeysError::Store(e) => e,
                other => StoreError::Unreachable(other.to_string()),
            })
    }

    /// Loads the server's key, making it on first use (sealed under `vault`'s master key when it
    /// has one).
    pub async fn load_with(store: &dyn Store, vault: &KeyVault) -> Result<Self, KeysError> {
        let key = random_bytes::<32>().map_err(|e| StoreError::Conflict(e.to_string()))?;
        let candidate = vault.seal_secret(KEY_NAME, &key)?;
        let stored = store.server_secret(KEY_NAME, &candidate).await?;
        Ok(Self::from_key(&vault.open_secret(KEY_NAME, &stored)?))
    }

    /// A hasher with a given key.
    pub fn from_key(key: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let dummy = hmac::sign(&key, b"portcullis unknown client")
            .as_ref()
            .to_vec();
        SecretHasher { key, dummy }
    }

    /// A key for another purpose, derived from this one (HMAC of `label`), so that every instance
    /// sharing the database derives the same.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.key, label.as_bytes()).as_ref());
        out
    }

    /// The stored form of a secret.
    pub fn hash(&self, secret: &Secret) -> Vec<u8> {
        hmac::sign(&self.key, secret.expose().as_bytes())
            .as_ref()
            .to_vec()
    }

    /// Whether `secret` matches `stored`, in constant time. `None` (no such client) does the same
    /// work and answers false.
    pub fn verify(&self, secret: &Secret, stored: Option<&[u8]>) -> bool {
        let matches = hmac::verify(
            &self.key,
            secret.expose().as_bytes(),
            stored.unwrap_or(&self.dummy),
        )
        .is_ok();
        matches && stored.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::generate_secret;

    #[test]
    fn verify_accepts_only_the_right_secret() {
        let hasher = SecretHasher::from_key(b"k");
        let secret = generate_secret().unwrap();
        assert_eq!(secret.expose().len(), 43);
        let stored = hasher.hash(&secret);
        assert!(hasher.verify(&secret, Some(&stored)));
        assert!(!hasher.verify(&generate_secret().unwrap(), Some(&stored)));
        assert!(!hasher.verify(&secret, None));
        assert!(!SecretHasher::from_key(b"other").verify(&secret, Some(&stored)));
    }
}
