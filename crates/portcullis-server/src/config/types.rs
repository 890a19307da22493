//! The values of the configuration that are more than strings, parsed once when the configuration
//! is read: the issuer identifier, origins and networks. A value that does not parse stops the load
//! with the key that holds it; nothing later parses them again.

use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;

/// Implements `TryFrom<String>` (for serde) and `Display` for a type parsed with `FromStr`.
macro_rules! parsed_from_string {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                value.parse()
            }
        }
    };
}

/// The issuer identifier (RFC 8414 §2): an `https://` (or `http://`, for development) URL with a
/// host, no query, no fragment and no trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IssuerUrl(String);

impl std::str::FromStr for IssuerUrl {
    type Err = String;

    /// ```
    /// use portcullis_server::config::IssuerUrl;
    /// assert!("https://id.example.com".parse::<IssuerUrl>().is_ok());
    /// assert!("https://id.example.com/".parse::<IssuerUrl>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        super::check_issuer(s)?;
        Ok(IssuerUrl(s.to_owned()))
    }
}
parsed_from_string!(IssuerUrl);

impl IssuerUrl {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A web origin (`scheme://host[:port]`) allowed to make cross-origin calls: no path, no wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Origin(String);

impl std::str::FromStr for Origin {
    type Err = String;

    /// ```
    /// use portcullis_server::config::Origin;
    /// assert!("https://app.example.com".parse::<Origin>().is_ok());
    /// assert!("https://app.example.com/".parse::<Origin>().is_err());
    /// assert!("https://*.example.com".parse::<Origin>().is_err());
    /// ```
    fn from_str(origin: &str) -> Result<Self, String> {
        let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.ends_with('/')
            && origin.matches('/').count() == 2
            && !origin.contains('*');
        if !ok {
            return Err(format!(
                "'{origin}' is not an origin: write scheme://host[:port] with no path or wildcard"
            ));
        }
        Ok(Origin(origin.to_owned()))
    }
}
parsed_from_string!(Origin);

impl Origin {
    /// The origin as a browser sends it in `Origin`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One `ADDRESS/PREFIX` network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    /// ```
    /// use portcullis_server::config::IpNet;
    /// let net: IpNet = "10.0.0.0/8".parse().unwrap();
    /// assert!(net.contains("10.1.2.3".parse().unwrap()));
    /// assert!(!net.contains("11.0.0.1".parse().unwrap()));
    /// assert!("::1".parse::<IpNet>().unwrap().contains("::1".parse().unwrap()));
    /// assert!("10.0.0.0/33".parse::<IpNet>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an address or ADDRESS/PREFIX network");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is in this network. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}
parsed_from_string!(IpNet);
