//! Redirect URI comparison (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3, RFC 8252 §7.3): exact string
//! match, with the one exception native apps need.

use crate::client::ApplicationType;

/// Whether `given` is the registered redirect URI: identical, character for character. For a native
/// app only (RFC 8252 §7.3), a loopback URI (`http://127.0.0.1/…`, `http://[::1]/…`) matches on
/// any port; a web app's must match its port too, or a code meant for one local service could be
/// delivered to another.
///
/// ```
/// use portcullis_core::ApplicationType::{Native, Web};
/// use portcullis_core::redirect::redirect_uri_matches;
/// let registered = "http://127.0.0.1:9999/cb";
/// assert!(redirect_uri_matches(registered, "http://127.0.0.1:10000/cb", Native));
/// assert!(!redirect_uri_matches(registered, "http://127.0.0.1:10000/cb", Web));
/// assert!(redirect_uri_matches(registered, registered, Web));
/// // Only ports a browser can use.
/// for odd in ["http://127.0.0.1:0/cb", "http://127.0.0.1:65536/cb", "http://127.0.0.1:09999/cb"] {
///     assert!(!redirect_uri_matches(registered, odd, Native));
/// }
/// ```
pub fn redirect_uri_matches(registered: &str, given: &str, application: ApplicationType) -> bool {
    if registered == given {
        return true;
    }
    if application != ApplicationType::Native {
        return false;
    }
    match (
        loopback_without_port(registered),
        loopback_without_port(given),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `http://127.0.0.1:PORT/rest` or `http://[::1]:PORT/rest` with the port removed.
fn loopback_without_port(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after_host) = if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else if let Some(r) = rest.strip_prefix("[::1]") {
        ("[::1]", r)
    } else {
        return None;
    };
    let path = match after_host.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            // A port a browser can connect to, written the one way: 1 to 65535, no leading zero.
            let port = p[..digits].parse::<u16>().ok()?;
            if port == 0 || p.starts_with('0') {
                return None;
            }
            &p[digits..]
        }
        None => after_host,
    };
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return None;
    }
    Some((host, path))
}
