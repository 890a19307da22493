//! Failed sign-ins counted per username and per client IP in a fixed window. After too many, further
//! attempts for that key are refused until the window ends, even with the right password, so guessing
//! is slow; a legitimate user waits at most one window.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most keys tracked before old windows are swept, so a flood of usernames cannot grow memory.
const MAX_KEYS: usize = 100_000;

/// Counters of failed sign-ins.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u64,
    window: i64,
    counters: Mutex<HashMap<String, (u64, i64)>>,
}

impl LoginThrottle {
    /// `max_failures` per key within `window` seconds.
    pub fn new(max_failures: u64, window: u64) -> Self {
        LoginThrottle {
            max_failures,
            window: i64::try_from(window).unwrap_or(i64::MAX),
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (u64, i64)>) -> T) -> T {
        match self.counters.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Seconds to wait if any key is over its limit.
    pub fn retry_after(&self, keys: &[String], now: i64) -> Option<i64> {
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
