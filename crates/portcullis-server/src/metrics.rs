//! Prometheus metrics, kept in atomics so recording costs a few nanoseconds and no lock, and their
//! text format. The middleware that records them and `GET /metrics` are in `http/observe.rs`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Every counter the server keeps.
pub struct Metrics {
    requests: Vec<AtomicU64>,
    latency: Vec<Latency>,
    tokens: [AtomicU64; GRANTS.len()],
    client_auth_failures: AtomicU64,
    sign_in_failures: AtomicU64,
    request_prefix: u64,
    request_counter: AtomicU64,
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
        let prefix = crate::crypto::random_bytes::<8>()
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        Metrics {
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
            client_auth_failures: AtomicU64::new(0),
            sign_in_failures: AtomicU64::new(0),
            request_prefix: prefix,
            request_counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, endpoint: usize, status: axum::http::StatusCode, micros: u64) {
        let status = usize::from(status.as_u16()).clamp(100, 599) - 100;
        if let Some(c) = self.requests.get(endpoint * STATUSES + status) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(l) = self.latency.get(endpoint) {
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
            && let Some(c) = self.tokens.get(i)
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

    pub(crate) fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:08x}", self.request_prefix)
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
                let n = self
                    .requests
                    .get(e * STATUSES + s)
                    .map_or(0, |c| c.load(Ordering::Relaxed));
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
        for (endpoint, l) in ENDPOINTS.iter().zip(&self.latency) {
            let count = l.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS_US.iter().zip(&l.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
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
            let sum = l.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
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
        for (grant, c) in GRANTS.iter().zip(&self.tokens) {
            let _ = writeln!(
                out,
                "portcullis_tokens_issued_total{{grant=\"{grant}\"}} {}",
                c.load(Ordering::Relaxed)
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
