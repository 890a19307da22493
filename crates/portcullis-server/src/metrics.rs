//! Prometheus metrics, kept in atomics so recording costs a few nanoseconds and no lock, and their
//! text format. The middleware that records them and `GET /metrics` are in `http/observe.rs`.
//!
//! The per-request counters are kept in four copies, which recording threads take in turn, and
//! are summed when scraped. With one copy, every request's increments made the worker threads
//! take the same cache lines from each other, which costs more than the increments themselves; a
//! scrape is rare and may as well add up a few copies.

use crate::crypto::push_hex;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The endpoints metrics are kept for; anything else counts as `other`.
pub(crate) const ENDPOINTS: [&str; 18] = [
    "/token",
    "/par",
    "/device_authorization",
    "/device",
    "/register",
    "/authorize",
    "/introspect",
    "/revoke",
    "/userinfo",
    "/logout",
    "/jwks.json",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/assets/portcullis.css",
    "other",
];
const STATUSES: usize = 500; // 100..=599
/// Histogram bucket upper bounds, in microseconds.
const BUCKETS_US: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    5_000_000,
];
const GRANTS: [&str; 3] = ["client_credentials", "authorization_code", "refresh_token"];

struct Latency {
    buckets: [AtomicU64; BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// Copies of the per-request counters (see the module's comment).
const SHARDS: usize = 4;

/// One copy of the per-request counters; aligned so that two copies share no cache line.
#[repr(align(128))]
struct Shard {
    requests: Box<[AtomicU64]>,
    latency: Box<[Latency]>,
    tokens: [AtomicU64; GRANTS.len()],
    /// Request ids made by this shard's threads; the n-th is `n * SHARDS + shard`.
    request_ids: AtomicU64,
}

impl Shard {
    fn new() -> Self {
        Shard {
            requests: (0..ENDPOINTS.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..ENDPOINTS.len())
                .map(|_| Latency {
                    buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                    count: AtomicU64::new(0),
                    sum_us: AtomicU64::new(0),
                })
                .collect(),
            tokens: std::array::from_fn(|_| AtomicU64::new(0)),
            request_ids: AtomicU64::new(0),
        }
    }
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The shard this thread records into: threads take them in turn as they first record.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// Every counter the server keeps.
pub struct Metrics {
    shards: Box<[Shard]>,
    client_auth_failures: AtomicU64,
    sign_in_failures: AtomicU64,
    /// This instance's random prefix of request ids, 16 hex digits.
    request_prefix: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

pub(crate) fn endpoint_index(path: &str) -> usize {
    ENDPOINTS
        .iter()
        .position(|e| *e == path)
        .unwrap_or(ENDPOINTS.len() - 1)
}

impl Metrics {
    /// Zeroed counters; request ids start from a random prefix so they differ between instances.
    pub fn new() -> Self {
        Metrics {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
            client_auth_failures: AtomicU64::new(0),
            sign_in_failures: AtomicU64::new(0),
            request_prefix: crate::crypto::random_bytes::<8>()
                .map_or_else(|_| "0".repeat(16), |bytes| crate::crypto::hex(&bytes)),
        }
    }

    /// This thread's shard index and shard.
    fn shard(&self) -> (usize, &Shard) {
        let i = SHARD.with(|i| *i);
        (i, &self.shards[i % self.shards.len()])
    }

    /// A counter summed over the shards.
    fn sum(&self, counter: impl Fn(&Shard) -> Option<&AtomicU64>) -> u64 {
        self.shards
            .iter()
            .filter_map(counter)
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn record(&self, endpoint: usize, status: axum::http::StatusCode, micros: u64) {
        let status = usize::from(status.as_u16()).clamp(100, 599) - 100;
        let (_, shard) = self.shard();
        if let Some(c) = shard.requests.get(endpoint * STATUSES + status) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(l) = shard.latency.get(endpoint) {
            l.count.fetch_add(1, Ordering::Relaxed);
            l.sum_us.fetch_add(micros, Ordering::Relaxed);
            if let Some(i) = BUCKETS_US.iter().position(|b| micros <= *b)
                && let Some(bucket) = l.buckets.get(i)
            {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A token response was sent for this grant.
    pub fn token_issued(&self, grant: &str) {
        if let Some(i) = GRANTS.iter().position(|g| *g == grant)
            && let Some(c) = self.shard().1.tokens.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A client failed to authenticate.
    pub fn client_auth_failed(&self) {
        self.client_auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A sign-in failed.
    pub fn sign_in_failed(&self) {
        self.sign_in_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A new request id: this instance's random prefix and a number no other request of this
    /// instance has, in hex (24 digits until the number outgrows 8).
    pub(crate) fn next_request_id(&self) -> String {
        let (i, shard) = self.shard();
        let n = shard.request_ids.fetch_add(1, Ordering::Relaxed) * SHARDS as u64 + i as u64;
        let mut id = String::with_capacity(32);
        id.push_str(&self.request_prefix);
        push_hex(&mut id, n, 8);
        id
    }

    /// The Prometheus text exposition: the counters, then `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let pool = gauges.pool;
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP portcullis_http_requests_total HTTP requests by endpoint and status."
        );
        let _ = writeln!(out, "# TYPE portcullis_http_requests_total counter");
        for (e, endpoint) in ENDPOINTS.iter().enumerate() {
            for s in 0..STATUSES {
                let n = self.sum(|shard| shard.requests.get(e * STATUSES + s));
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "portcullis_http_requests_total{{endpoint=\"{endpoint}\",status=\"{}\"}} {n}",
                        s + 100
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_http_request_duration_seconds Time to answer, by endpoint."
        );
        let _ = writeln!(
            out,
            "# TYPE portcullis_http_request_duration_seconds histogram"
        );
        for (e, endpoint) in ENDPOINTS.iter().enumerate() {
            let count = self.sum(|shard| shard.latency.get(e).map(|l| &l.count));
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (b, bound) in BUCKETS_US.iter().enumerate() {
                cumulative += self.sum(|shard| shard.latency.get(e).and_then(|l| l.buckets.get(b)));
                let _ = writeln!(
                    out,
                    "portcullis_http_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e6
                );
            }
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {count}"
            );
            let sum = self.sum(|shard| shard.latency.get(e).map(|l| &l.sum_us)) as f64 / 1e6;
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_tokens_issued_total Token responses by grant type."
        );
        let _ = writeln!(out, "# TYPE portcullis_tokens_issued_total counter");
        for (g, grant) in GRANTS.iter().enumerate() {
            let _ = writeln!(
                out,
                "portcullis_tokens_issued_total{{grant=\"{grant}\"}} {}",
                self.sum(|shard| shard.tokens.get(g))
            );
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_client_authentication_failures_total Failed client authentications."
        );
        let _ = writeln!(
            out,
            "# TYPE portcullis_client_authentication_failures_total counter"
        );
        let _ = writeln!(
            out,
            "portcullis_client_authentication_failures_total {}",
            self.client_auth_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_sign_in_failures_total Failed sign-ins."
        );
        let _ = writeln!(out, "# TYPE portcullis_sign_in_failures_total counter");
        let _ = writeln!(
            out,
            "portcullis_sign_in_failures_total {}",
            self.sign_in_failures.load(Ordering::Relaxed)
        );
        if let Some(pool) = pool {
            let _ = writeln!(
                out,
                "# HELP portcullis_database_connections Database pool connections by state."
            );
            let _ = writeln!(out, "# TYPE portcullis_database_connections gauge");
            let _ = writeln!(
                out,
                "portcullis_database_connections{{state=\"idle\"}} {}",
                pool.idle
            );
            let _ = writeln!(
                out,
                "portcullis_database_connections{{state=\"in_use\"}} {}",
                pool.size.saturating_sub(pool.idle)
            );
            let _ = writeln!(
                out,
                "# HELP portcullis_database_connections_max The pool's limit."
            );
            let _ = writeln!(out, "# TYPE portcullis_database_connections_max gauge");
            let _ = writeln!(out, "portcullis_database_connections_max {}", pool.max);
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_signing_key_age_seconds Time since each algorithm's signing key began to sign."
        );
        let _ = writeln!(out, "# TYPE portcullis_signing_key_age_seconds gauge");
        for (alg, age) in &gauges.signing_key_ages {
            let _ = writeln!(
                out,
                "portcullis_signing_key_age_seconds{{alg=\"{alg}\"}} {age}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_locked_keys Usernames, clients and addresses locked after repeated failures."
        );
        let _ = writeln!(out, "# TYPE portcullis_locked_keys gauge");
        let _ = writeln!(out, "portcullis_locked_keys {}", gauges.locked_keys);
        let _ = writeln!(
            out,
            "# HELP portcullis_ready 1 when the database answers (as /health/ready), else 0."
        );
        let _ = writeln!(out, "# TYPE portcullis_ready gauge");
        let _ = writeln!(out, "portcullis_ready {}", u8::from(gauges.ready));
        out
    }
}

/// Values read when `/metrics` is scraped rather than counted as they happen.
#[derive(Debug, Default)]
pub struct Gauges {
    /// The database pool, when the store has one.
    pub pool: Option<crate::store::PoolStats>,
    /// Seconds since each algorithm's current signing key became active.
    pub signing_key_ages: Vec<(&'static str, i64)>,
    /// Keys locked by the failure throttles.
    pub locked_keys: usize,
    /// Whether the database answered a ping.
    pub ready: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn request_ids_are_hex_and_never_repeat_across_threads() {
        let metrics = Arc::new(Metrics::new());
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .map(|_| metrics.next_request_id())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let ids: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 6000);
        let prefix = &metrics.request_prefix;
        for id in &ids {
            assert_eq!(id.len(), 24, "{id}");
            assert!(id.starts_with(prefix.as_str()), "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        let mut wide = String::new();
        push_hex(&mut wide, 0x1_2345_6789, 8);
        assert_eq!(wide, "123456789");
    }

    #[test]
    fn what_every_thread_counted_is_summed_when_scraped() {
        let metrics = Arc::new(Metrics::new());
        let token = endpoint_index("/token");
        let threads: Vec<_> = (0..SHARDS + 2)
            .map(|_| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        metrics.record(token, axum::http::StatusCode::OK, 700);
                        metrics.token_issued("client_credentials");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = metrics.render(&Gauges::default());
        let n = (SHARDS + 2) * 100;
        for line in [
            format!("portcullis_http_requests_total{{endpoint=\"/token\",status=\"200\"}} {n}"),
            "portcullis_http_request_duration_seconds_bucket{endpoint=\"/token\",le=\"0.0005\"} 0"
                .to_string(),
            format!(
                "portcullis_http_request_duration_seconds_bucket{{endpoint=\"/token\",le=\"0.001\"}} {n}"
            ),
            format!("portcullis_http_request_duration_seconds_count{{endpoint=\"/token\"}} {n}"),
            format!("portcullis_tokens_issued_total{{grant=\"client_credentials\"}} {n}"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
