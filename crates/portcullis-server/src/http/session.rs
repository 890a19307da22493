//! The browser side of signing in: the session cookie (a random value whose SHA-256 is stored) and
//! the CSRF cookie whose value every form must repeat.
//!
//! When the issuer is `https://`, both are `__Host-` cookies: the browser accepts them only with
//! `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot set one for us. Only the
//! prefixed names are read then; a cookie of the bare name (which a sibling can plant) is ignored.

use axum::http::{HeaderMap, HeaderValue, header};
use portcullis_core::secret::constant_time_eq;

const SESSION: &str = "portcullis_session";
const CSRF: &str = "portcullis_csrf";

/// The cookies this server sets and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    /// `__Host-` cookies when `secure` (the issuer is https), plain names otherwise (local
    /// development over http, where the prefix is not allowed).
    pub fn new(secure: bool) -> Self {
        Cookies { secure }
    }

    /// The session cookie's name.
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-portcullis_session"
        } else {
            SESSION
        }
    }

    /// The CSRF cookie's name.
    pub fn csrf_name(self) -> &'static str {
        if self.secure {
            "__Host-portcullis_csrf"
        } else {
            CSRF
        }
    }

    /// The session cookie's value.
    pub fn session(self, headers: &HeaderMap) -> Option<&str> {
        cookie(headers, self.session_name())
    }

    /// The CSRF cookie's value.
    pub fn csrf(self, headers: &HeaderMap) -> Option<&str> {
        cookie(headers, self.csrf_name())
    }

    /// A `Set-Cookie` for the session (`None` as `max_age` lasts as long as the browser).
    pub fn set_session(self, value: &str, max_age: Option<u64>) -> Option<HeaderValue> {
        set_cookie(self.session_name(), value, max_age, self.secure)
    }

    /// A `Set-Cookie` for the CSRF token.
    pub fn set_csrf(self, value: &str) -> Option<HeaderValue> {
        set_cookie(self.csrf_name(), value, None, self.secure)
    }

    /// Whether the form's `csrf` field repeats the CSRF cookie.
    pub fn csrf_ok(self, headers: &HeaderMap, form_value: Option<&str>) -> bool {
        match (self.csrf(headers), form_value) {
            (Some(c), Some(f)) => constant_time_eq(c.as_bytes(), f.as_bytes()),
            _ => false,
        }
    }
}

/// A cookie's value from the request: the first cookie of exactly this name.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/ and no Domain (so `__Host-` holds),
/// Secure when served over https.
fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, cookie.parse().unwrap());
        h
    }

    #[test]
    fn https_reads_only_the_prefixed_cookie() {
        let secure = Cookies::new(true);
        let planted = headers("portcullis_csrf=planted; __Host-portcullis_csrf=real");
        assert_eq!(secure.csrf(&planted), Some("real"));
        assert!(!secure.csrf_ok(&planted, Some("planted")));
        assert!(secure.csrf_ok(&planted, Some("real")));
        assert_eq!(secure.session(&headers("portcullis_session=planted")), None);
        let set = secure.set_session("v", None).unwrap();
        let set = set.to_str().unwrap();
        assert!(
            set.starts_with("__Host-portcullis_session=v; Path=/;"),
            "{set}"
        );
        assert!(
            set.ends_with("; Secure") && !set.contains("Domain"),
            "{set}"
        );
    }

    #[test]
    fn plain_http_keeps_the_plain_names() {
        let plain = Cookies::new(false);
        assert_eq!(plain.csrf(&headers("portcullis_csrf=x")), Some("x"));
        assert!(
            !plain
                .set_csrf("x")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
