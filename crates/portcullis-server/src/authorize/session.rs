//! The browser side of signing in: the session cookie (a random value whose SHA-256 is stored) and
//! the CSRF cookie whose value every form must repeat.

use axum::http::{HeaderMap, HeaderValue, header};
use portcullis_core::secret::constant_time_eq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "portcullis_session";
/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "portcullis_csrf";

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when served over https.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<u64>,
    secure: bool,
) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).ok()
}

/// Whether the form's `csrf` field repeats the CSRF cookie.
pub fn csrf_ok(headers: &HeaderMap, form_value: Option<&str>) -> bool {
    match (cookie(headers, CSRF_COOKIE), form_value) {
        (Some(c), Some(f)) => constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
}
