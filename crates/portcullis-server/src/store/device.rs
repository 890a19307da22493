//! Storage for the Device Authorization Grant (RFC 8628): device authorization requests, found by
//! their device code (the device polling) or their user code (the person at `/device`). Both
//! codes are stored only as SHA-256 digests.

use super::StoreError;
use super::sign_in::{GrantRow, IssuedTokens};
use async_trait::async_trait;

/// A device authorization request as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceCodeRow {
    /// SHA-256 of the device code.
    pub device_code_hash: Vec<u8>,
    /// SHA-256 of the normalized user code (`portcullis_core::device`).
    pub user_code_hash: Vec<u8>,
    /// The client that asked.
    pub client_id: String,
    /// The scope asked for, checked against the client's.
    pub scope: String,
    /// When both codes stop working.
    pub expires_at: i64,
    /// Seconds the device must wait between polls; grows by 5 with each `slow_down`.
    pub poll_interval: i64,
    /// The last poll.
    pub last_polled_at: Option<i64>,
    /// 1 when the poll that last wrote the row came too soon (and was answered `slow_down`).
    pub slowed: i64,
    /// The user who approved.
    pub user_id: Option<String>,
    /// When that user signed in.
    pub auth_time: Option<i64>,
    /// Set when approved.
    pub approved_at: Option<i64>,
    /// Set when denied.
    pub denied_at: Option<i64>,
    /// Set when tokens were issued for it.
    pub used_at: Option<i64>,
}

/// A user's decision at `/device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Approved by this user, signed in at `auth_time`.
    Approve {
        /// The user.
        user_id: &'a str,
        /// When they signed in.
        auth_time: i64,
    },
    /// Denied.
    Deny,
}

/// Device authorization requests. Each change of state is one conditional statement, so of two
/// concurrent callers, on one instance or two, exactly one changes a row.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new request; false (writing nothing) when a kept row has the same user code, so
    /// the caller draws another.
    async fn insert_device_code(&self, row: &DeviceCodeRow) -> Result<bool, StoreError>;
    /// The undecided, unexpired request with this user code.
    async fn pending_device_code(
        &self,
        user_code_hash: &[u8],
        now: i64,
    ) -> Result<Option<DeviceCodeRow>, StoreError>;
    /// Records the user's decision; false if the request was decided already or has expired.
    async fn decide_device_code(
        &self,
        user_code_hash: &[u8],
        decision: Decision<'_>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Records a poll by `client_id` and returns the row as this poll left it: `slowed` is 1 when
    /// it came sooner than `poll_interval` after the last one, and then `poll_interval` has grown
    /// by 5. `None` when there is no such device code for this client.
    async fn poll_device_code(
        &self,
        device_code_hash: &[u8],
        client_id: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>, StoreError>;
    /// Marks an approved request used and stores the grant and its tokens, in one transaction;
    /// false (writing nothing) if it was used already.
    async fn redeem_device_code(
        &self,
        device_code_hash: &[u8],
        now: i64,
        grant: &GrantRow,
        tokens: &IssuedTokens,
    ) -> Result<bool, StoreError>;
}
