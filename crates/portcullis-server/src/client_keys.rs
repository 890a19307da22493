//! The public keys of `private_key_jwt` clients that publish them at a `jwks_uri` (RFC 7591 §2):
//! fetched when first needed, kept for a while, and fetched again when an assertion names a key we
//! do not hold, at most once per interval per URL, so that a stream of assertions with made-up
//! `kid`s cannot turn the server into a client of someone else's server.
//!
//! A self-registered client's `jwks_uri` is fetched only from public addresses, checked when the
//! host's name is resolved for the connection: its host was public when the client registered,
//! but a name can be pointed anywhere afterwards, and anyone who may register must not be able to
//! make the server send requests into its own network.

use portcullis_core::verifying_key::{candidates, keys_of};
use portcullis_core::{Clock, JwkSet, JwsAlgorithm, VerifyingKey};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long fetched keys are used before they are fetched again anyway.
const MAX_AGE: i64 = 300;
/// The least time between two fetches of one URL.
const MIN_REFETCH: i64 = 30;
/// The largest key set read.
const MAX_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
struct Fetched {
    keys: Arc<Vec<VerifyingKey>>,
    /// Unix seconds of the last attempt, successful or not.
    at: i64,
    /// Why the last attempt failed, if it did.
    failed: Option<String>,
}

/// The cache, shared by every request.
pub struct ClientKeys {
    http: Result<reqwest::Client, String>,
    /// For self-registered clients: connects only to public addresses ([`PublicOnly`]).
    public_http: Result<reqwest::Client, String>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Fetched>>,
    /// One fetch at a time per URL: concurrent requests for one URL wait for the first one's
    /// answer, and a slow host holds up only its own clients.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKeys")
    }
}

impl ClientKeys {
    /// A cache that fetches with a 5-second timeout and follows no redirects.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
        };
        let built = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        ClientKeys {
            http: built(builder()),
            // No proxy from the environment (HTTPS_PROXY…) either: a proxy would resolve the
            // name itself, where the resolver cannot look.
            public_http: built(builder().no_proxy().dns_resolver(Arc::new(PublicOnly))),
            clock,
            cache: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, uri: &str) -> Option<Fetched> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(uri).cloned()
    }

    fn turn(&self, uri: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(uri.to_owned()).or_default().clone()
    }

    /// The keys at `uri` that may have signed with `alg` under `kid`: from the cache when it has
    /// one that fits, else fetched (when the last fetch is old enough). The error, for the log, is
    /// why the keys could not be fetched: then no key fits, and the caller answers "try later"
    /// rather than blaming the client. Keys fetched before are kept while the host is down.
    /// `public_only` (a self-registered client) fetches only from public addresses, and keeps
    /// its keys apart from those of an administrator's client with the same `jwks_uri`.
    pub async fn keys_for(
        &self,
        uri: &str,
        public_only: bool,
        kid: Option<&str>,
        alg: JwsAlgorithm,
    ) -> Result<Arc<Vec<VerifyingKey>>, String> {
        let key = &if public_only {
            format!("public\n{uri}")
        } else {
            uri.to_owned()
        };
        let now = self.clock.now().0;
        let fits = |f: &Fetched| candidates(&f.keys, kid, alg).next().is_some();
        let usable = |f: &Fetched| now - f.at < MAX_AGE && fits(f);
        let recent = |f: &Fetched| now - f.at < MIN_REFETCH;
        let answer = |f: Fetched| match f.failed {
            Some(why) if !fits(&f) => Err(why),
            _ => Ok(f.keys),
        };
        if let Some(f) = self.cached(key).filter(|f| usable(f) || recent(f)) {
            return answer(f);
        }
        let turn = self.turn(key);
        let _turn = turn.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(f) = self.cached(key).filter(|f| usable(f) || recent(f)) {
            return answer(f);
        }
        let fetched = self.fetch(uri, public_only).await;
        let previous = self.cached(key).map(|f| f.keys).unwrap_or_default();
        let entry = match fetched {
            Ok(set) => Fetched {
                keys: Arc::new(keys_of(&set)),
                at: now,
                failed: None,
            },
            // Keep what we had: the client's keys did not change because its server is down.
            Err(why) => Fetched {
                keys: previous,
                at: now,
                failed: Some(why),
            },
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(key.to_owned(), entry.clone());
        drop(cache);
        answer(entry)
    }

    async fn fetch(&self, uri: &str, public_only: bool) -> Result<JwkSet, String> {
        let http = if public_only {
            // An address written in the URL is not resolved, so it is checked here.
            let literal = reqwest::Url::parse(uri).ok().and_then(|u| {
                let host = u.host_str()?.trim_start_matches('[').trim_end_matches(']');
                host.parse::<IpAddr>().ok()
            });
            if literal.is_some_and(is_local_address) {
                return Err(format!("{uri} is not on a public address"));
            }
            &self.public_http
        } else {
            &self.http
        };
        let http = http.as_ref().map_err(Clone::clone)?;
        let mut response = http
            .get(uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch {uri}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{uri} answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("cannot read {uri}: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(format!("{uri} is larger than {MAX_BYTES} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("{uri} is not a JWK Set: {e}"))
    }
}

/// Whether an address is not one of the public internet's: this machine, a private or shared
/// network, link-local, unspecified, multicast, reserved, benchmarking or documentation ranges, and
/// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) when that address is
/// one of those, or always when the gateway decides where it goes (Teredo, local NAT64).
pub fn is_local_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0
                || a == 10
                || a == 127
                || a >= 224
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || (a == 192 && b == 0 && (c == 0 || c == 2))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [h1, h2] = hi.to_be_bytes();
                let [l1, l2] = lo.to_be_bytes();
                is_local_address(IpAddr::V4(std::net::Ipv4Addr::new(h1, h2, l1, l2)))
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local_address(IpAddr::V4(v4));
            }
            match s {
                // ::/96 (unspecified, loopback, IPv4-compatible): none is a public address.
                [0, 0, 0, 0, 0, 0, _, _] => true,
                // NAT64 (RFC 6052): the IPv4 address inside decides.
                [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
                // Local-use NAT64 (RFC 8215) and Teredo: where it goes is the gateway's choice.
                [0x64, 0xff9b, 1, ..] | [0x2001, 0, ..] => true,
                // 6to4 (RFC 3056): the IPv4 address inside decides.
                [0x2002, hi, lo, ..] => embedded(hi, lo),
                // Documentation (2001:db8::/32).
                [0x2001, 0xdb8, ..] => true,
                // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10),
                // multicast (ff00::/8).
                [first, ..] => {
                    (first & 0xfe00) == 0xfc00
                        || (first & 0xff00) == 0xff00
                        || (first & 0xffc0) == 0xfe80
                        || (first & 0xffc0) == 0xfec0
                }
            }
        }
    }
}

/// Resolves a host name to its public addresses only, and fails when it has none.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_local_address(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_local_address;

    #[test]
    fn only_public_internet_addresses_are_public() {
        for local in [
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2001::1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "2001:db8::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(
                is_local_address(local.parse().unwrap()),
                "{local} counts as public"
            );
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(
                !is_local_address(public.parse().unwrap()),
                "{public} counts as local"
            );
        }
    }
}
