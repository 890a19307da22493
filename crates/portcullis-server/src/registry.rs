//! The in-memory view of clients, signing keys and revoked access tokens that the token endpoint,
//! introspection and `/userinfo` read, so the client_credentials hot path never touches the
//! database and checking an access token needs no query. A background task watches the store's
//! revision counter and swaps in a fresh snapshot when anything changed. On PostgreSQL it wakes on
//! `NOTIFY` and polls only as a fallback; on SQLite, which has no notifications, it polls.

use crate::client::Client;
use crate::keys::{KeySet, KeyVault};
use crate::store::{Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Everything the hot path reads, as of one revision.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The store revision this snapshot reflects.
    pub revision: i64,
    clients: HashMap<String, Arc<Client>>,
    /// Signing keys.
    pub keys: KeySet,
    /// The `jti` of every revoked access token (on its own or through its grant): introspection
    /// and `/userinfo` answer from here without asking the database.
    denied: HashSet<String>,
}

impl Snapshot {
    /// Whether the access token with this `jti` has been revoked.
    pub fn is_denied(&self, jti: &str) -> bool {
        self.denied.contains(jti)
    }

    /// A client by id.
    pub fn client(&self, client_id: &str) -> Option<&Arc<Client>> {
        self.clients.get(client_id)
    }
}

/// The current snapshot and the means to refresh it.
pub struct Registry {
    store: Arc<dyn Store>,
    vault: Arc<KeyVault>,
    current: RwLock<Arc<Snapshot>>,
    /// One reload at a time: the watcher and a revoking request may both reload, and a slower
    /// reload must not put back a snapshot older than the one a faster one installed.
    reloading: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Loads the first snapshot.
    pub async fn load(store: Arc<dyn Store>, vault: Arc<KeyVault>) -> Result<Self, StoreError> {
        let snapshot = read_snapshot(store.as_ref(), &vault, &KeySet::default()).await?;
        Ok(Registry {
            store,
            vault,
            current: RwLock::new(Arc::new(snapshot)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The current snapshot; cheap (one reference-count increment).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads when the store's revision moved; true if it did.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let _turn = self.reloading.lock().await;
        let revision = self.store.revision().await?;
        if revision == self.snapshot().revision {
            return Ok(false);
        }
        let previous = self.snapshot();
        let fresh =
            Arc::new(read_snapshot(self.store.as_ref(), &self.vault, &previous.keys).await?);
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Never back: with reloads in turn this holds anyway, and it costs nothing to be sure.
        if fresh.revision >= guard.revision {
            *guard = fresh;
        }
        Ok(true)
    }

    /// Watches for changes until the task is aborted: on every notification from the store's
    /// change feed, and every `poll` in any case (every `poll_with_feed` when there is a feed, as
    /// a fallback for notifications lost while its connection was down). Each wake-up also reads
    /// the failure locks other instances decided into `locks`.
    pub fn spawn_watcher(
        self: Arc<Self>,
        poll: Duration,
        poll_with_feed: Duration,
        locks: Arc<crate::throttle::Locks>,
        clock: Arc<dyn portcullis_core::Clock>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut feed = match self.store.change_feed().await {
                Ok(feed) => feed,
                Err(error) => {
                    tracing::warn!(%error, "no change notifications; polling instead");
                    None
                }
            };
            let interval = if feed.is_some() { poll_with_feed } else { poll };
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = wait_for_change(&mut feed) => {}
                }
                match self.refresh().await {
                    Ok(true) => tracing::debug!("reloaded clients and keys"),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, "could not check for client or key changes")
                    }
                }
                if let Err(error) = locks.sync(self.store.as_ref(), clock.now().0).await {
                    tracing::warn!(%error, "could not read failure locks");
                }
            }
        })
    }
}

async fn wait_for_change(feed: &mut Option<Box<dyn crate::store::ChangeFeed>>) {
    match feed {
        Some(feed) => feed.changed().await,
        None => std::future::pending().await,
    }
}

async fn read_snapshot(
    store: &dyn Store,
    vault: &KeyVault,
    previous: &KeySet,
) -> Result<Snapshot, StoreError> {
    // Revision first: a write that lands while we read makes the next poll reload again.
    let revision = store.revision().await?;
    let mut clients = HashMap::new();
    for row in store.clients().await? {
        match Client::from_row(&row) {
            Ok(client) => {
                clients.insert(row.client_id.clone(), Arc::new(client));
            }
            Err(error) => {
                tracing::error!(client_id = %row.client_id, %error, "skipping unreadable client");
            }
        }
    }
    let keys = KeySet::reload(&store.signing_keys().await?, vault, previous);
    let denied = store.denied_access_tokens().await?.into_iter().collect();
    Ok(Snapshot {
        revision,
        clients,
        keys,
        denied,
    })
}
