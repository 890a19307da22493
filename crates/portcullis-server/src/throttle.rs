//! Limits on failed attempts (sign-in, client authentication) that hold across instances.
//!
//! Long because: counting, locking and the cross-instance lock table are one algorithm, read best
//! together with its unit tests at the bottom.
//!
//! Counters live in the store, so every instance adds to the same count. Each key has one counter
//! per fixed bucket of `window` seconds, and the count that is checked is the previous bucket's,
//! weighted by how much of it still lies inside the window, plus the current bucket's: a sliding
//! window, approximately. A key whose count reaches its limit is **locked** for at least one window
//! and until that count has fallen below the limit ([`Window::lock_until`]). Attempts refused while
//! locked still count against the address, and a lock whose address is still over its limit is
//! renewed, so a spray that goes on stays throttled; once it stops, the lock ends within two
//! windows.
//!
//! A lock is written to the store, announced on the change feed, and kept in each instance's memory
//! ([`Locks`]). Requests check only that memory, with one atomic load when nothing is locked, so
//! the token endpoint reads no database for a client that is doing nothing wrong. Sign-in also
//! counts each attempt in the store *before* the password is checked ([`Throttle::reserve`]), so a
//! burst of guesses, on any number of instances, gets no more checks than the limit.
//!
//! Keys are SHA-256 digests of what they count, so attacker-chosen text (a made-up username, or a
//! secret typed where the client_id goes) is never stored.

use crate::store::Counts;
use crate::store::{Store, StoreError};
use aws_lc_rs::digest;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Most keys kept in memory before expired entries are swept.
const MAX_TRACKED: usize = 100_000;

/// Refused attempts are written to the store at most this often per key; in between they are
/// added up in memory. A spray of refused requests thus costs one write a second, not one each.
const REFUSED_FLUSH_SECS: i64 = 1;

/// What one counter counts: a hash of its kind and value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.0)
    }
}

impl Key {
    /// Failed sign-ins for one username (whether or not it exists).
    pub fn username(username: &str) -> Key {
        Key::of("sign-in-user", username)
    }

    /// Failed sign-ins from one address.
    pub fn sign_in_address(ip: IpAddr) -> Key {
        Key::of("sign-in-address", &address(ip))
    }

    /// Registration requests (RFC 7591) from one address.
    pub fn registration_address(ip: IpAddr) -> Key {
        Key::of("registration-address", &address(ip))
    }

    /// Device authorizations (RFC 8628 §3.1) started from one address.
    pub fn device_authorization_address(ip: IpAddr) -> Key {
        Key::of("device-authorization-address", &address(ip))
    }

    /// Wrong user codes (RFC 8628) typed from one address.
    pub fn user_code_address(ip: IpAddr) -> Key {
        Key::of("user-code-address", &address(ip))
    }

    /// Failed authentications of one client_id from one address.
    pub fn client_at(client_id: &str, ip: IpAddr) -> Key {
        Key::of(
            "client-at-address",
            &format!("{}\n{client_id}", address(ip)),
        )
    }

    /// Failed client authentications from one address, whatever the client_id.
    pub fn client_address(ip: IpAddr) -> Key {
        Key::of("client-address", &address(ip))
    }

    fn of(kind: &str, value: &str) -> Key {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(kind.as_bytes());
        context.update(b"\0");
        context.update(value.as_bytes());
        let hash = context.finish();
        Key(hash.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What counts as one address: an IPv4 address (also written IPv4-mapped in IPv6), or an IPv6
/// /64, since one host is usually handed a whole /64 and could otherwise take a fresh address for
/// every attempt.
fn address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// A key with the number of failures it is allowed within the window.
#[derive(Debug, Clone)]
pub struct Limited {
    /// The key.
    pub key: Key,
    /// Failures allowed; the next attempt is refused.
    pub limit: u64,
    /// Whether an attempt refused because of *any* key still counts against this one (true for
    /// addresses: a spray that goes on stays throttled).
    pub counts_refused: bool,
}

impl Limited {
    /// A key whose refused attempts do not count.
    pub fn new(key: Key, limit: u64) -> Self {
        Limited {
            key,
            limit,
            counts_refused: false,
        }
    }

    /// An address: refused attempts count against it too.
    pub fn address(key: Key, limit: u64) -> Self {
        Limited {
            key,
            limit,
            counts_refused: true,
        }
    }
}

/// The window of a throttle, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(i64);

impl Window {
    /// A window of `seconds` (at least 1).
    pub fn new(seconds: u64) -> Self {
        Window(i64::try_from(seconds).unwrap_or(i64::MAX).max(1))
    }

    /// The bucket `now` falls in.
    pub fn bucket(self, now: i64) -> i64 {
        now.div_euclid(self.0)
    }

    /// When a bucket's row can go: once it is no longer even the previous bucket.
    pub fn expires_at(self, bucket: i64) -> i64 {
        bucket.saturating_add(2).saturating_mul(self.0)
    }

    /// The weighted count at `now`: the previous bucket scaled by the share of it still inside the
    /// window, plus the current bucket.
    pub fn estimate(self, counts: Counts, now: i64) -> f64 {
        let elapsed = now.rem_euclid(self.0) as f64 / self.0 as f64;
        counts.previous as f64 * (1.0 - elapsed) + counts.current as f64
    }

    /// Whether the weighted count at `now` has reached `limit`.
    ///
    /// ```
    /// use portcullis_server::throttle::Window;
    /// use portcullis_server::store::Counts;
    /// let w = Window::new(60);
    /// // Five failures in the bucket that started at 600.
    /// assert!(w.over(Counts { previous: 0, current: 5 }, 610, 5));
    /// assert!(!w.over(Counts { previous: 0, current: 4 }, 610, 5));
    /// // Ten in the previous bucket, of which half still lie in the window at 630.
    /// assert!(w.over(Counts { previous: 10, current: 0 }, 630, 5));
    /// assert!(!w.over(Counts { previous: 10, current: 0 }, 631, 5));
    /// ```
    pub fn over(self, counts: Counts, now: i64, limit: u64) -> bool {
        self.estimate(counts, now) >= limit as f64
    }

    /// When the weighted count falls below `limit` if nothing more is counted (`now` if it is
    /// below already).
    pub fn free_at(self, counts: Counts, now: i64, limit: u64) -> i64 {
        if !self.over(counts, now, limit) {
            return now;
        }
        let limit = limit as f64;
        let start = self.bucket(now).saturating_mul(self.0);
        let width = self.0 as f64;
        let (previous, current) = (counts.previous as f64, counts.current as f64);
        let at = if current < limit && previous > 0.0 {
            // Inside this bucket, once enough of the previous one has slid out of the window.
            start as f64 + width * (1.0 - (limit - current) / previous)
        } else {
            // In the next bucket, once enough of this one has slid out.
            (start + self.0) as f64 + width * (1.0 - limit / current.max(1.0))
        };
        // The first whole second at which the count is strictly below the limit.
        (at.floor() as i64 + 1).max(now)
    }

    /// The end of a lock decided at `now`: at least one window, and until the weighted count has
    /// fallen below the limit, so that the key is not over it again the moment the lock ends. At
    /// most two windows after the last counted attempt.
    ///
    /// ```
    /// use portcullis_server::throttle::Window;
    /// use portcullis_server::store::Counts;
    /// let w = Window::new(60);
    /// // Five failures by 610 in the bucket from 600: one window from now.
    /// assert_eq!(w.lock_until(Counts { previous: 0, current: 5 }, 610, 5), 670);
    /// // Twenty (a spray) by 610: until enough of them have slid out of the next bucket.
    /// assert_eq!(w.lock_until(Counts { previous: 0, current: 20 }, 610, 5), 706);
    /// ```
    pub fn lock_until(self, counts: Counts, now: i64, limit: u64) -> i64 {
        now.saturating_add(self.0)
            .max(self.free_at(counts, now, limit))
    }
}

/// Locks in force on this instance: key → until. Filled by this instance's own failures and by
/// the locks other instances announce ([`Locks::sync`]).
#[derive(Debug, Default)]
pub struct Locks {
    map: Mutex<HashMap<Key, i64>>,
    // Mirrors the map's size, so that when nothing is locked the request path pays one atomic
    // load and takes no lock.
    tracked: AtomicUsize,
    // The highest lock sequence number read from the store.
    seen: AtomicI64,
}

/// Locks written by other instances may commit out of sequence order (PostgreSQL hands out
/// sequence numbers before commit), so each read looks this far back; re-reading a lock is
/// harmless.
const LOCK_LOOKBACK: i64 = 1000;

impl Locks {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Key, i64>) -> T) -> T {
        let mut guard = match self.map.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let out = f(&mut guard);
        self.tracked.store(guard.len(), Ordering::Relaxed);
        out
    }

    /// How many keys (usernames, clients, addresses) are locked, or were and have not been swept.
    pub fn len(&self) -> usize {
        self.tracked.load(Ordering::Relaxed)
    }

    /// Whether any key is locked (or was, and has not been swept): one atomic load.
    pub fn is_empty(&self) -> bool {
        self.tracked.load(Ordering::Relaxed) == 0
    }

    /// The latest `until` of these keys that is still ahead of `now`.
    pub fn until(&self, keys: &[&Key], now: i64) -> Option<i64> {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.with(|map| {
            keys.iter()
                .filter_map(|k| map.get(*k).copied())
                .filter(|until| *until > now)
                .max()
        })
    }

    /// Records a lock (keeping the later of two).
    pub fn insert(&self, key: Key, until: i64, now: i64) {
        self.with(|map| {
            if map.len() >= MAX_TRACKED {
                map.retain(|_, u| *u > now);
            }
            let entry = map.entry(key).or_insert(until);
            *entry = (*entry).max(until);
        });
    }

    /// Forgets the locks that have ended, so that once nothing is locked the request path is
    /// back to one atomic load.
    pub fn sweep(&self, now: i64) {
        if !self.is_empty() {
            self.with(|map| map.retain(|_, until| *until > now));
        }
    }

    /// Reads the locks other instances recorded since the last call, and forgets ended ones.
    pub async fn sync(&self, store: &dyn Store, now: i64) -> Result<(), StoreError> {
        self.sweep(now);
        let seen = self.seen.load(Ordering::Relaxed);
        let rows = store
            .locks_after(seen.saturating_sub(LOCK_LOOKBACK), now)
            .await?;
        let mut newest = seen;
        for row in rows {
            newest = newest.max(row.seq);
            self.insert(Key(row.key), row.until, now);
        }
        self.seen.store(newest, Ordering::Relaxed);
        Ok(())
    }
}

/// An attempt counted before it was made. It is either released (the attempt succeeded: exactly
/// its own count is taken back) or kept as a failure ([`Throttle::reservation_failed`]).
#[derive(Debug)]
#[must_use = "a reservation is either released or kept as a failure"]
pub struct Reservation {
    bucket: i64,
    keys: Vec<Limited>,
    counts: Vec<Counts>,
}

/// The result of [`Throttle::reserve`].
#[derive(Debug)]
pub enum Reserved {
    /// Go ahead and check the credentials.
    Go(Reservation),
    /// Over a limit: wait this many seconds.
    Wait(i64),
}

/// Refused attempts not yet written to the store.
#[derive(Debug, Default)]
struct Unwritten {
    count: i64,
    written_at: i64,
}

/// One throttle (sign-in or client authentication): its window, the store that counts, and the
/// lock table of this instance.
pub struct Throttle {
    store: Arc<dyn Store>,
    window: Window,
    locks: Arc<Locks>,
    unwritten: Mutex<HashMap<Key, Unwritten>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// A throttle counting in `store` over `window`, locking in `locks`.
    pub fn new(store: Arc<dyn Store>, window: Window, locks: Arc<Locks>) -> Self {
        Throttle {
            store,
            window,
            locks,
            unwritten: Mutex::new(HashMap::new()),
        }
    }

    async fn count(&self, bucket: i64, changes: &[(&Key, i64)]) -> Result<Vec<Counts>, StoreError> {
        let changes: Vec<(&str, i64)> = changes.iter().map(|(k, d)| (k.as_str(), *d)).collect();
        self.store
            .count_attempts(bucket, self.window.expires_at(bucket), &changes)
            .await
    }

    /// Locks, for one window from `now`, every key whose count has reached its limit: here at
    /// once, and everywhere through the store. Returns the seconds to wait, if any key is locked.
    async fn lock_over_limit(
        &self,
        keys: &[Limited],
        counts: &[Counts],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut wait = None;
        for (limited, counts) in keys.iter().zip(counts) {
            if self.window.over(*counts, now, limited.limit) {
                let until = self.window.lock_until(*counts, now, limited.limit);
                self.locks.insert(limited.key.clone(), until, now);
                self.store.lock_key(limited.key.as_str(), until).await?;
                wait = Some(until - now);
            }
        }
        Ok(wait)
    }

    /// Whether anything at all is locked on this instance: one atomic load, so that the token
    /// endpoint need not even hash its keys while nobody is misbehaving.
    pub fn any_locked(&self) -> bool {
        !self.locks.is_empty()
    }

    /// How many keys this instance holds locked (for the metric; the two throttles share one
    /// lock table).
    pub fn locked_keys(&self) -> usize {
        self.locks.len()
    }

    /// Seconds to wait if any of these keys is locked on this instance. No I/O: the token endpoint
    /// asks this on every request (once [`Throttle::any_locked`] says there is something to ask).
    pub fn retry_after(&self, keys: &[Limited], now: i64) -> Option<i64> {
        let keys: Vec<&Key> = keys.iter().map(|l| &l.key).collect();
        self.locks.until(&keys, now).map(|until| until - now)
    }

    /// What every throttled attempt starts with: refused at once if a key is locked on this
    /// instance (the refusal counted, best effort, without waiting for the store), else counted
    /// before it is made ([`Throttle::reserve`]).
    pub async fn admit(&self, keys: &[Limited], now: i64) -> Result<Reserved, StoreError> {
        if let Some(wait) = self.retry_after(keys, now) {
            if let Err(error) = self.refused(keys, now).await {
                tracing::warn!(%error, "could not count a refused attempt");
            }
            return Ok(Reserved::Wait(wait));
        }
        self.reserve(keys, now).await
    }

    /// An attempt that counts whether it succeeds or not (a request that stores something):
    /// admitted as by [`Throttle::admit`] and its count kept. `Some(seconds to wait)` when over a
    /// limit. Locking a key that reached its limit is best effort: its count is written already.
    pub async fn count_attempt(
        &self,
        keys: &[Limited],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        match self.admit(keys, now).await? {
            Reserved::Go(reservation) => {
                if let Err(error) = self.reservation_failed(reservation, now).await {
                    tracing::warn!(%error, "could not lock a key over its limit");
                }
                Ok(None)
            }
            Reserved::Wait(wait) => Ok(Some(wait)),
        }
    }

    /// A failure, counted against every key; a key that reaches its limit is locked everywhere.
    pub async fn failed(&self, keys: &[Limited], now: i64) -> Result<(), StoreError> {
        let bucket = self.window.bucket(now);
        let changes: Vec<(&Key, i64)> = keys.iter().map(|l| (&l.key, 1)).collect();
        let counts = self.count(bucket, &changes).await?;
        self.lock_over_limit(keys, &counts, now).await?;
        Ok(())
    }

    /// An attempt refused by a lock, counted against the keys that count refusals (addresses).
    /// Refusals are added up in memory and written at most once a second per key; a write that
    /// finds the count still over the limit renews the lock.
    pub async fn refused(&self, keys: &[Limited], now: i64) -> Result<(), StoreError> {
        for limited in keys.iter().filter(|l| l.counts_refused) {
            let pending = {
                let mut unwritten = match self.unwritten.lock() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                if unwritten.len() >= MAX_TRACKED {
                    unwritten.retain(|_, u| now - u.written_at < REFUSED_FLUSH_SECS);
                }
                let entry = unwritten.entry(limited.key.clone()).or_default();
                entry.count += 1;
                if now - entry.written_at < REFUSED_FLUSH_SECS {
                    continue;
                }
                entry.written_at = now;
                std::mem::take(&mut entry.count)
            };
            let bucket = self.window.bucket(now);
            let counts = self.count(bucket, &[(&limited.key, pending)]).await?;
            self.lock_over_limit(std::slice::from_ref(limited), &counts, now)
                .await?;
        }
        Ok(())
    }

    /// Counts an attempt before it is made, atomically in the store: of any number of attempts
    /// at once, on any instance, at most the limit go ahead. A refused attempt keeps its count only
    /// on the keys that count refusals, and locks the keys that are over their limit.
    pub async fn reserve(&self, keys: &[Limited], now: i64) -> Result<Reserved, StoreError> {
        let bucket = self.window.bucket(now);
        let changes: Vec<(&Key, i64)> = keys.iter().map(|l| (&l.key, 1)).collect();
        let counts = self.count(bucket, &changes).await?;
        let before: Vec<Counts> = counts
            .iter()
            .map(|c| Counts {
                previous: c.previous,
                current: c.current - 1,
            })
            .collect();
        let refused = keys
            .iter()
            .zip(&before)
            .any(|(l, c)| self.window.over(*c, now, l.limit));
        if !refused {
            return Ok(Reserved::Go(Reservation {
                bucket,
                keys: keys.to_vec(),
                counts,
            }));
        }
        let back: Vec<(&Key, i64)> = keys
            .iter()
            .filter(|l| !l.counts_refused)
            .map(|l| (&l.key, -1))
            .collect();
        if !back.is_empty() {
            self.count(bucket, &back).await?;
        }
        let wait = self.lock_over_limit(keys, &before, now).await?;
        Ok(Reserved::Wait(wait.unwrap_or(1).max(1)))
    }

    /// Takes back a reservation whose attempt succeeded: only its own count, never anyone else's.
    pub async fn release(&self, reservation: Reservation) -> Result<(), StoreError> {
        let back: Vec<(&Key, i64)> = reservation.keys.iter().map(|l| (&l.key, -1)).collect();
        self.count(reservation.bucket, &back).await?;
        Ok(())
    }

    /// Keeps a reservation whose attempt failed; a key it brought to its limit is locked.
    pub async fn reservation_failed(
        &self,
        reservation: Reservation,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock_over_limit(&reservation.keys, &reservation.counts, now)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(previous: i64, current: i64) -> Counts {
        Counts { previous, current }
    }

    #[test]
    fn the_weighted_count_slides() {
        let w = Window::new(100);
        assert_eq!(w.estimate(counts(10, 2), 1000), 12.0);
        assert_eq!(w.estimate(counts(10, 2), 1050), 7.0);
        assert!(!w.over(counts(0, 2), 1050, 3));
        assert!(w.over(counts(0, 3), 1099, 3));
        // The previous bucket fades out as the window slides over it.
        assert!(w.over(counts(6, 0), 1050, 3));
        assert!(!w.over(counts(6, 0), 1051, 3));
        assert!(w.over(counts(6, 1), 1066, 3));
        assert!(!w.over(counts(6, 1), 1067, 3));
        assert_eq!(w.lock_until(counts(0, 3), 1050, 3), 1150);
        // At the limit late in a bucket: free once the window has passed the failures.
        assert_eq!(w.free_at(counts(0, 3), 1099, 3), 1101);
        assert_eq!(w.free_at(counts(0, 12), 1050, 3), 1176);
        assert_eq!(w.lock_until(counts(0, 12), 1050, 3), 1176);
        assert_eq!(w.free_at(counts(6, 1), 1010, 3), 1067);
        assert_eq!(w.free_at(counts(0, 2), 1010, 3), 1010);
        assert_eq!(w.expires_at(w.bucket(1050)), 1200);
    }

    #[test]
    fn an_address_is_an_ipv4_address_or_an_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(address(ip("198.51.100.1")), "198.51.100.1");
        assert_eq!(address(ip("::ffff:198.51.100.1")), "198.51.100.1");
        assert_eq!(address(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(
            Key::sign_in_address(ip("2001:db8:1:2::1")),
            Key::sign_in_address(ip("2001:db8:1:2:ffff::78"))
        );
        assert_ne!(
            Key::sign_in_address(ip("2001:db8:1:2::1")),
            Key::sign_in_address(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn keys_are_hashes_and_kinds_do_not_collide() {
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        assert_ne!(Key::sign_in_address(ip), Key::client_address(ip));
        assert_eq!(Key::username("alice").as_str().len(), 32);
        assert!(!format!("{:?}", Key::username("alice")).contains("alice"));
    }

    #[test]
    fn locks_answer_without_a_lock_when_empty() {
        let locks = Locks::default();
        let key = Key::username("a");
        assert!(locks.is_empty());
        assert_eq!(locks.until(&[&key], 10), None);
        locks.insert(key.clone(), 20, 10);
        locks.insert(key.clone(), 15, 10);
        assert_eq!(locks.until(&[&key], 10), Some(20));
        assert_eq!(locks.until(&[&key], 20), None);
        assert!(!locks.is_empty());
        locks.sweep(20);
        assert!(
            locks.is_empty(),
            "an ended lock no longer costs the request path"
        );
    }
}
