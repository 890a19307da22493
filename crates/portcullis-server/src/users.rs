//! People who sign in: Argon2id password hashing kept off the async workers and bounded in
//! concurrency, and the administration shared by `portcullis user …` and `[[users]]` tables.

use crate::crypto::{RandomUnavailable, random_bytes, random_id};
use crate::store::sign_in::{Ended, UserRow};
use crate::store::{Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use portcullis_core::{Secret, UnixTime};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes and verifies passwords with Argon2id (OWASP's parameters: 19 MiB, 2 passes). Each hash
/// runs on the blocking pool and at most `concurrency` run at once, so a burst of sign-ins queues
/// here instead of taking the threads that issue tokens.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    // Verified against when the user does not exist, so that costs the same as a wrong password.
    dummy: Arc<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not an Argon2 PHC string.
    #[error("the stored password hash is not a valid Argon2 PHC string")]
    BadHash,
    /// Hashing failed or its task died.
    #[error("password hashing failed")]
    Hashing,
    /// No randomness for the salt.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str, salt: [u8; 16]) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hashing)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Whether `phc` is an Argon2 PHC string this server can verify.
pub fn is_valid_phc(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

impl PasswordHasher {
    /// A hasher allowing `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> Result<Self, PasswordError> {
        let dummy = hash_now("portcullis-dummy-password", random_bytes::<16>()?)?;
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &Secret) -> Result<String, PasswordError> {
        let salt = random_bytes::<16>()?;
        let password = password.clone();
        self.run(move || hash_now(password.expose(), salt)).await?
    }

    /// Checks a password against a stored hash, or against a dummy when there is no user.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> bool {
        let exists = stored.is_some();
        let phc = stored.map_or_else(|| self.dummy.as_str().to_owned(), str::to_owned);
        let password = password.clone();
        let ok = self
            .run(move || {
                PasswordHash::new(&phc)
                    .map(|h| {
                        argon2()
                            .verify_password(password.expose().as_bytes(), &h)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await
            .unwrap_or(false);
        ok && exists
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Hashing)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| PasswordError::Hashing)
    }
}

/// The profile fields of a user, as the admin commands and `[[users]]` give them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// OIDC `email`.
    pub email: Option<String>,
    /// OIDC `email_verified`.
    pub email_verified: bool,
    /// OIDC `name`.
    pub name: Option<String>,
    /// OIDC `given_name`.
    pub given_name: Option<String>,
    /// OIDC `family_name`.
    pub family_name: Option<String>,
}

/// A password, or a hash made elsewhere.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// A plain password to hash.
    Plain(Secret),
    /// An Argon2 PHC string.
    Hash(String),
}

/// Why a user change was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Invalid input.
    #[error("{0}")]
    Invalid(String),
    /// No such user.
    #[error("no user named '{0}'")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// User administration.
pub struct UserAdmin<'a> {
    store: &'a dyn Store,
    hasher: &'a PasswordHasher,
    now: UnixTime,
}

impl<'a> UserAdmin<'a> {
    /// Administration over `store`.
    pub fn new(store: &'a dyn Store, hasher: &'a PasswordHasher, now: UnixTime) -> Self {
        UserAdmin { store, hasher, now }
    }

    async fn password_hash(&self, source: PasswordSource) -> Result<String, UserError> {
        match source {
            PasswordSource::Plain(p) if p.expose().chars().count() < MIN_PASSWORD_CHARS => {
                Err(UserError::Invalid(format!(
                    "a password must be at least {MIN_PASSWORD_CHARS} characters long"
                )))
            }
            PasswordSource::Plain(p) => Ok(self.hasher.hash(&p).await?),
            PasswordSource::Hash(h) if is_valid_phc(&h) => Ok(h),
            PasswordSource::Hash(_) => Err(UserError::Invalid(
                "password_hash must be an Argon2 PHC string ($argon2id$...)".into(),
            )),
        }
    }

    fn check_username(username: &str) -> Result<(), UserError> {
        let ok = !username.is_empty()
            && username.chars().count() <= 128
            && !username
                .chars()
                .any(|c| c.is_control() || c.is_whitespace());
        if ok {
            Ok(())
        } else {
            Err(UserError::Invalid(
                "a username must be 1 to 128 characters without spaces".into(),
            ))
        }
    }

    /// Creates a user; returns the new user_id.
    pub async fn create(
        &self,
        username: &str,
        password: PasswordSource,
        profile: Profile,
    ) -> Result<String, UserError> {
        Self::check_username(username)?;
        let password_hash = self.password_hash(password).await?;
        let id = random_id().map_err(PasswordError::from)?;
        let row = UserRow {
            user_id: id.clone(),
            username: username.to_owned(),
            password_hash,
            email: profile.email,
            email_verified: profile.email_verified,
            name: profile.name,
            given_name: profile.given_name,
            family_name: profile.family_name,
            created_at: self.now.0,
            updated_at: self.now.0,
            disabled_at: None,
        };
        self.store.insert_user(&row).await?;
        Ok(id)
    }

    /// Replaces a user's password and ends what the old one started: the user's browser sessions
    /// and grants (refresh tokens, and the access tokens on record).
    pub async fn set_password(
        &self,
        username: &str,
        password: PasswordSource,
    ) -> Result<Ended, UserError> {
        let mut row = self.show(username).await?;
        row.password_hash = self.password_hash(password).await?;
        row.updated_at = self.now.0;
        self.save_ending(&row).await
    }

    /// Disables a user: no more sign-ins, and their sessions and grants end now.
    pub async fn disable(&self, username: &str) -> Result<Ended, UserError> {
        let mut row = self.show(username).await?;
        row.disabled_at = Some(row.disabled_at.unwrap_or(self.now.0));
        row.updated_at = self.now.0;
        self.save_ending(&row).await
    }

    /// Lets a disabled user sign in again.
    pub async fn enable(&self, username: &str) -> Result<(), UserError> {
        let mut row = self.show(username).await?;
        row.disabled_at = None;
        row.updated_at = self.now.0;
        self.store
            .update_user(&row, None)
            .await?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))?;
        Ok(())
    }

    async fn save_ending(&self, row: &UserRow) -> Result<Ended, UserError> {
        self.store
            .update_user(row, Some(self.now.0))
            .await?
            .ok_or_else(|| UserError::NotFound(row.username.clone()))
    }

    /// Creates the user or brings an existing one in line with the declaration.
    pub async fn apply_declared(
        &self,
        username: &str,
        password: PasswordSource,
        profile: Profile,
    ) -> Result<(), UserError> {
        let Some(mut row) = self.store.user_by_username(username).await? else {
            self.create(username, password, profile).await?;
            return Ok(());
        };
        // Re-hash only when the declared password no longer matches, so restarts change nothing.
        let keep = match &password {
            PasswordSource::Plain(p) => self.hasher.verify(p, Some(&row.password_hash)).await,
            PasswordSource::Hash(h) => *h == row.password_hash,
        };
        if !keep {
            row.password_hash = self.password_hash(password).await?;
        }
        let unchanged = keep
            && row.email == profile.email
            && row.email_verified == profile.email_verified
            && row.name == profile.name
            && row.given_name == profile.given_name
            && row.family_name == profile.family_name;
        if unchanged {
            return Ok(());
        }
        row.email = profile.email;
        row.email_verified = profile.email_verified;
        row.name = profile.name;
        row.given_name = profile.given_name;
        row.family_name = profile.family_name;
        row.updated_at = self.now.0;
        // A declared password that changed ends what the old one started, as set-password does.
        let end_sign_ins = (!keep).then_some(self.now.0);
        self.store.update_user(&row, end_sign_ins).await?;
        Ok(())
    }

    /// One user.
    pub async fn show(&self, username: &str) -> Result<UserRow, UserError> {
        self.store
            .user_by_username(username)
            .await?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))
    }

    /// Every user.
    pub async fn list(&self) -> Result<Vec<UserRow>, UserError> {
        Ok(self.store.users().await?)
    }

    /// Deletes a user with their sessions and consents, and revokes their grants.
    pub async fn delete(&self, username: &str) -> Result<Ended, UserError> {
        self.store
            .delete_user(username, self.now.0)
            .await?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))
    }
}
