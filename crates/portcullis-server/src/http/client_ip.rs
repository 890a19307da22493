//! The address a request came from. The TCP peer, unless the peer is one of the configured
//! `trusted_proxies`: then `X-Forwarded-For` is read from the right, skipping trusted hops, and the
//! first untrusted address is the client; entries further left are never read. From anyone else
//! the header is ignored, since it is whatever the sender chose to write. Throttling and logs key
//! on this address.

use super::AppState;
use crate::config::IpNet;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client address as the throttles and logs see it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Works out the client address from the peer and the headers: the list is walked from the right
/// (the entries the trusted proxies appended), trusted proxies are skipped, and the first
/// untrusted address is the client. What lies further left was written by the client and is never
/// read, so a malformed entry there changes nothing. Only an unparsable entry in the deciding
/// position falls back to the peer (the proxy), with a warning logged once.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let values: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    // Later header lines were appended later, so the walk starts at the last line's last entry.
    let hops = values
        .iter()
        .rev()
        .flat_map(|line| line.rsplit(|b| *b == b','));
    let mut client = peer;
    for hop in hops {
        let parsed = std::str::from_utf8(hop)
            .ok()
            .and_then(|h| forwarded_address(h.trim()));
        let Some(ip) = parsed else {
            warn_once_unparsable();
            return peer;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or an address with the port some proxies append
/// (`198.51.100.7:51234`, `[2001:db8::7]:51234`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

fn warn_once_unparsable() {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "a trusted proxy sent X-Forwarded-For with an unparsable address where the client's \
             should be; such requests count as coming from the proxy (logged once)"
        );
    }
}

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_trusted_peers_may_name_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let forged = headers(&["198.51.100.1"]);
        assert_eq!(client_ip(stranger, &forged, &trusted), stranger);
        assert_eq!(
            client_ip(proxy, &forged, &trusted),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        // The client prepends a fake hop; the proxy appends the real one.
        let chain = headers(&["1.1.1.1, 198.51.100.7", "10.0.0.9"]);
        assert_eq!(
            client_ip(proxy, &chain, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, &headers(&["garbage"]), &trusted), proxy);
        // Junk the client wrote further left is never read.
        assert_eq!(
            client_ip(proxy, &headers(&["garbage, 198.51.100.7"]), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(
                proxy,
                &headers(&["junk", "198.51.100.7, 10.0.0.3"]),
                &trusted
            ),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Some proxies append the client's port.
        assert_eq!(
            client_ip(proxy, &headers(&["198.51.100.7:51234"]), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(proxy, &headers(&["[2001:db8::7]:443"]), &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        // Junk in the deciding position: the proxy's own address.
        assert_eq!(
            client_ip(proxy, &headers(&["198.51.100.7, junk, 10.0.0.3"]), &trusted),
            proxy
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &forged, &[]), proxy);
    }
}
