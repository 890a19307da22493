//! Failures counted per key (a username, a client_id, an IP) in a fixed window. After too many,
//! further attempts for that key are refused until the window ends, even with the right password or
//! secret, so guessing is slow; a legitimate user or client waits at most one window. Used for
//! sign-in and for client authentication.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most keys tracked before old windows are swept, so a flood of usernames cannot grow memory.
const MAX_KEYS: usize = 100_000;

/// Counters of failed sign-ins.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u64,
    window: i64,
    counters: Mutex<HashMap<String, (u64, i64)>>,
    // Mirrors the map's size, so the common case (no failures anywhere) costs one atomic load
    // and no lock on the token endpoint's hot path.
    tracked: AtomicUsize,
}

impl LoginThrottle {
    /// `max_failures` per key within `window` seconds.
    pub fn new(max_failures: u64, window: u64) -> Self {
        LoginThrottle {
            max_failures,
            window: i64::try_from(window).unwrap_or(i64::MAX),
            counters: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (u64, i64)>) -> T) -> T {
        let mut guard = match self.counters.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let out = f(&mut guard);
        self.tracked.store(guard.len(), Ordering::Relaxed);
        out
    }

    /// Seconds to wait if any key is over its limit.
    pub fn retry_after(&self, keys: &[String], now: i64) -> Option<i64> {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.with(|map| {
            keys.iter()
                .filter_map(|k| map.get(k))
                .filter(|(count, start)| *count >= self.max_failures && now < start + self.window)
                .map(|(_, start)| start + self.window - now)
                .max()
        })
    }

    /// Counts a failure against every key.
    pub fn failed(&self, keys: &[String], now: i64) {
        let window = self.window;
        self.with(|map| {
            if map.len() >= MAX_KEYS {
                map.retain(|_, (_, start)| now < *start + window);
            }
            for key in keys {
                let entry = map.entry(key.clone()).or_insert((0, now));
                if now >= entry.1 + window {
                    *entry = (0, now);
                }
                entry.0 += 1;
            }
        });
    }

    /// Forgets a key's failures after a successful sign-in.
    pub fn succeeded(&self, key: &str) {
        self.with(|map| map.remove(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_opens_after_the_window() {
        let t = LoginThrottle::new(3, 60);
        let keys = vec!["user:a".to_string(), "ip:1".to_string()];
        for _ in 0..3 {
            assert_eq!(t.retry_after(&keys, 100), None);
            t.failed(&keys, 100);
        }
        assert_eq!(t.retry_after(&keys, 110), Some(50));
        assert_eq!(
            t.retry_after(&["user:b".into(), "ip:1".into()], 110),
            Some(50)
        );
        assert_eq!(t.retry_after(&keys, 160), None);
    }
}
