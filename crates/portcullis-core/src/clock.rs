//! Time as an injected dependency, so expiry is tested by moving a clock rather than by sleeping.
//! This is the only module that may read the system's clocks: `clippy.toml` bans
//! `SystemTime::now` and `Instant::now` everywhere else.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, the unit of every JWT time claim (RFC 7519 §2 NumericDate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// This time plus a number of seconds.
    pub fn plus(self, seconds: u64) -> UnixTime {
        UnixTime(
            self.0
                .saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)),
        )
    }

    /// The time as RFC 3339 in UTC, to the second.
    ///
    /// ```
    /// use portcullis_core::UnixTime;
    /// assert_eq!(UnixTime(0).rfc3339(), "1970-01-01T00:00:00Z");
    /// assert_eq!(UnixTime(1_796_220_705).rfc3339(), "2026-12-02T14:11:45Z");
    /// assert_eq!(UnixTime(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
    /// ```
    pub fn rfc3339(self) -> String {
        let days = self.0.div_euclid(86_400);
        let second_of_day = self.0.rem_euclid(86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        )
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        UnixTime(i64::try_from(now).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until it is moved; clones share one time.
///
/// ```
/// use portcullis_core::{Clock, ManualClock, UnixTime};
/// let clock = ManualClock::new(UnixTime(1_000));
/// clock.advance(60);
/// assert_eq!(clock.now(), UnixTime(1_060));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: UnixTime) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.0)))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        let step = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.0.fetch_add(step, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

/// Elapsed time on the monotonic clock, for latency figures and retry budgets: durations, never
/// dates, so they need no injected [`Clock`].
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts timing now.
    pub fn start() -> Self {
        #[allow(clippy::disallowed_methods)] // the one place that reads the monotonic clock
        Stopwatch(std::time::Instant::now())
    }

    /// The time since [`Stopwatch::start`].
    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}
