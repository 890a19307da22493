//! The clean-up of rows nothing can use any more: the background task, and what a round removed.

use super::Store;
use portcullis_core::Clock;
use std::sync::Arc;
use std::time::Duration;

/// How many rows the clean-up removed, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired authorization codes.
    pub codes: u64,
    /// Expired browser sessions.
    pub sessions: u64,
    /// Refresh tokens past their idle expiry.
    pub refresh_tokens: u64,
    /// Records of access tokens issued under a grant, once expired.
    pub grant_access_tokens: u64,
    /// Deny-list entries of access tokens that have expired anyway.
    pub revoked_access_tokens: u64,
    /// Grants that are expired or revoked and have nothing live left.
    pub grants: u64,
    /// Failed-attempt counters whose bucket has slid out of its window.
    pub throttle_counts: u64,
    /// Locks that have ended.
    pub throttle_locks: u64,
    /// Single-use values past the time they could be accepted.
    pub used_once: u64,
    /// Pushed authorization requests past their expiry.
    pub pushed_requests: u64,
    /// Device authorization requests an hour past their expiry.
    pub device_codes: u64,
    /// Expired initial access tokens.
    pub initial_access_tokens: u64,
}

impl Purged {
    /// The sum of two rounds.
    pub fn add(&self, other: &Purged) -> Purged {
        Purged {
            codes: self.codes + other.codes,
            sessions: self.sessions + other.sessions,
            refresh_tokens: self.refresh_tokens + other.refresh_tokens,
            grant_access_tokens: self.grant_access_tokens + other.grant_access_tokens,
            revoked_access_tokens: self.revoked_access_tokens + other.revoked_access_tokens,
            grants: self.grants + other.grants,
            throttle_counts: self.throttle_counts + other.throttle_counts,
            throttle_locks: self.throttle_locks + other.throttle_locks,
            used_once: self.used_once + other.used_once,
            pushed_requests: self.pushed_requests + other.pushed_requests,
            device_codes: self.device_codes + other.device_codes,
            initial_access_tokens: self.initial_access_tokens + other.initial_access_tokens,
        }
    }

    fn each(&self) -> [u64; 12] {
        [
            self.codes,
            self.sessions,
            self.refresh_tokens,
            self.grant_access_tokens,
            self.revoked_access_tokens,
            self.grants,
            self.throttle_counts,
            self.throttle_locks,
            self.used_once,
            self.pushed_requests,
            self.device_codes,
            self.initial_access_tokens,
        ]
    }

    /// Whether some table filled its batch, so another round may find more.
    pub fn may_have_more(&self, batch: i64) -> bool {
        let full = u64::try_from(batch).unwrap_or(u64::MAX);
        self.each().iter().any(|n| *n >= full)
    }

    /// All rows removed.
    pub fn total(&self) -> u64 {
        self.each().iter().sum()
    }
}

/// The background deletion of rows nothing can use any more.
#[derive(Debug, Clone, Copy)]
pub struct Cleanup {
    /// Time between rounds.
    pub interval: Duration,
    /// Rows per table per statement.
    pub batch: i64,
}

impl Cleanup {
    // At most this many batches per round, so one round cannot monopolize the database after a
    // long outage; the next round continues.
    const MAX_BATCHES: usize = 100;

    /// Runs a round every `interval`, for ever.
    pub fn spawn(
        self,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                self.round(store.as_ref(), clock.as_ref()).await;
            }
        })
    }

    async fn round(&self, store: &dyn Store, clock: &dyn Clock) {
        let mut total = Purged::default();
        for _ in 0..Self::MAX_BATCHES {
            match store.purge_expired(clock.now().0, self.batch).await {
                Ok(purged) => {
                    total = total.add(&purged);
                    if !purged.may_have_more(self.batch) {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "clean-up of expired rows failed; will retry");
                    break;
                }
            }
            // Let requests have the database between batches.
            tokio::task::yield_now().await;
        }
        if total.total() > 0 {
            tracing::info!(
                codes = total.codes,
                sessions = total.sessions,
                refresh_tokens = total.refresh_tokens,
                grant_access_tokens = total.grant_access_tokens,
                revoked_access_tokens = total.revoked_access_tokens,
                grants = total.grants,
                throttle_counts = total.throttle_counts,
                throttle_locks = total.throttle_locks,
                used_once = total.used_once,
                pushed_requests = total.pushed_requests,
                device_codes = total.device_codes,
                initial_access_tokens = total.initial_access_tokens,
                "deleted expired rows"
            );
        }
    }
}
