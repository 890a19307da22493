//! Storage for people signing in: users, sessions, consents, authorization codes, grants and refresh
//! tokens. Codes, sessions and refresh tokens are stored only as SHA-256 digests of their values.

use super::StoreError;
use async_trait::async_trait;

/// A user as stored; also an export line.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct UserRow {
    /// Stable subject identifier (the `sub` claim).
    pub user_id: String,
    /// The name the user signs in with.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
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
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Set while an administrator has disabled the user: no sign-in (absent in exports of older
    /// versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// An authorization code and everything the token request must match.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeRow {
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who approved it.
    pub user_id: String,
    /// The redirect URI it was delivered to.
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request must too).
    pub redirect_uri_sent: bool,
    /// The S256 challenge; `None` only for confidential clients registered without PKCE.
    pub code_challenge: Option<String>,
    /// The granted scope.
    pub scope: String,
    /// The OIDC nonce to put in the ID token.
    pub nonce: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// When the code stops working.
    pub expires_at: i64,
    /// Set when redeemed.
    pub used_at: Option<i64>,
    /// The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10): the token request must
    /// come with a proof by that key.
    pub dpop_jkt: Option<String>,
}

/// A grant: the result of one code redemption; its tokens live and die with it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRow {
    /// Random identifier.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The scope granted; refreshes may narrow it, never widen it.
    pub scope: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Creation time.
    pub created_at: i64,
    /// Absolute end of the grant's refresh tokens.
    pub expires_at: i64,
    /// Set when revoked.
    pub revoked_at: Option<i64>,
    /// The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The grant it belongs to.
    pub grant_id: String,
    /// When it was issued.
    pub issued_at: i64,
    /// It stops working if not used by then.
    pub idle_expires_at: i64,
    /// Set when exchanged for a new one.
    pub rotated_at: Option<i64>,
    /// Set when a grace-period re-exchange of its predecessor replaced it: presenting it again
    /// revokes the grant.
    pub superseded_at: Option<i64>,
    /// Set when this rotated token used its one grace-period re-exchange.
    pub grace_used_at: Option<i64>,
}

/// A refresh token as found, with what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRefresh {
    /// The token.
    pub refresh: RefreshRow,
    /// Its grant.
    pub grant: GrantRow,
    /// The grant's user; `None` if the user is gone.
    pub user: Option<UserRow>,
}

/// An access token recorded against its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedAccessToken {
    /// The `jti`.
    pub jti: String,
    /// When it expires (the record can go then).
    pub expires_at: i64,
}

/// What a redemption or rotation writes, all in one transaction.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The new refresh token, if one is issued.
    pub refresh: Option<RefreshRow>,
    /// The access token.
    pub access: IssuedAccessToken,
}

/// What ending a user's sign-ins did: sessions ended and grants revoked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Browser sessions deleted.
    pub sessions: u64,
    /// Grants revoked, with every refresh token and recorded access token under them.
    pub grants: u64,
}

/// Storage for the sign-in flows.
#[async_trait]
pub trait SignInStore: Send + Sync {
    /// Adds a user; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError>;
    /// Replaces a user's row; `None` if there is none. With `end_sign_ins` (the time now), the
    /// same transaction ends the user's sessions and revokes their grants: what the old password
    /// started ends with it.
    async fn update_user(
        &self,
        user: &UserRow,
        end_sign_ins: Option<i64>,
    ) -> Result<Option<Ended>, StoreError>;
    /// Deletes a user with their sessions and consents, and revokes their grants, in one
    /// transaction; `None` if there was no such user.
    async fn delete_user(&self, username: &str, now: i64) -> Result<Option<Ended>, StoreError>;
    /// Looks a user up by username.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError>;
    /// Looks a user up by id.
    async fn user_by_id(&self, user_id: &str) -> Result<Option<UserRow>, StoreError>;
    /// Every user, by username.
    async fn users(&self) -> Result<Vec<UserRow>, StoreError>;

    /// Starts a session.
    async fn insert_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        auth_time: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// The user and auth_time of a live session.
    async fn session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> Result<Option<(String, i64)>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, session_hash: &[u8]) -> Result<(), StoreError>;

    /// The scope a user has allowed a client.
    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError>;
    /// Records (replaces) a consent.
    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Stores a new code.
    async fn insert_code(&self, code: &CodeRow) -> Result<(), StoreError>;
    /// Looks a code up.
    async fn code(&self, code_hash: &[u8]) -> Result<Option<CodeRow>, StoreError>;
    /// Marks the code used and creates the grant and its first tokens, in one transaction. False
    /// (and nothing written) when the code was already used: of two redemptions, one wins.
    async fn redeem_code(
        &self,
        code_hash: &[u8],
        now: i64,
        grant: &GrantRow,
        tokens: &IssuedTokens,
    ) -> Result<bool, StoreError>;
    /// Revokes the grant a used code started (a replayed code means it leaked).
    async fn revoke_grant_of_code(&self, code_hash: &[u8], now: i64) -> Result<(), StoreError>;

    /// A refresh token with its grant and the grant's user, in one read: the refresh grant
    /// needs all three, and every round trip to the database counts there.
    async fn refresh_token(&self, token_hash: &[u8]) -> Result<Option<FoundRefresh>, StoreError>;
    /// Exchanges a refresh token: marks it rotated and stores its successor in one transaction.
    /// False (and nothing written) if it was already rotated. With `grace`, the grace-period
    /// re-exchange of an already rotated token: allowed once per token (false the second time),
    /// and the grant's current token is kept as superseded rather than deleted, so that whoever
    /// presents it later revokes the grant.
    async fn rotate_refresh(
        &self,
        token_hash: &[u8],
        now: i64,
        tokens: &IssuedTokens,
        grace: bool,
    ) -> Result<bool, StoreError>;
    /// Revokes a grant and so every refresh and access token issued under it.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError>;
    /// Whether an access token was revoked on its own or through its grant.
    async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;
    /// Puts an access token on the deny list until `expires_at`.
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// The `jti` of every access token that is revoked, on its own or through its grant, and not
    /// yet cleaned up: the deny list each instance keeps in memory. Every revocation bumps the
    /// revision, so the registry reloads it.
    async fn denied_access_tokens(&self) -> Result<Vec<String>, StoreError>;
}
