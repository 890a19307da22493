//! The bodies of the fuzz targets under `fuzz/`, kept here so the saved corpus runs as ordinary
//! regression tests too (`tests/it/corpus.rs`). Each takes arbitrary bytes, feeds them to a parser,
//! and panics only if an invariant breaks: parsers must answer `Err`, never panic.
// Panicking on a broken invariant is how a fuzz target reports it; nothing here serves requests.
#![allow(clippy::expect_used)]

use crate::basic::{decode_basic, encode_basic};
use crate::client::ApplicationType;
use crate::jws::CompactJws;
use crate::redirect::redirect_uri_matches;
use crate::{FormParams, Scope};

/// Form bodies: parse, look every name up, and re-parse the re-encoded pairs identically.
pub fn form(data: &[u8]) {
    let Ok(form) = FormParams::parse(data) else {
        return;
    };
    let mut names = Vec::new();
    for (name, _) in form_urlencoded::parse(data) {
        let _ = form.get(&name);
        let _ = form.get_all(&name).count();
        names.push(name.into_owned());
    }
    let mut again = form_urlencoded::Serializer::new(String::new());
    for (n, v) in form_urlencoded::parse(data) {
        again.append_pair(&n, &v);
    }
    let again = again.finish();
    let reparsed = FormParams::parse(again.as_bytes()).expect("re-encoded form parses");
    for name in &names {
        assert_eq!(reparsed.get(name).ok(), form.get(name).ok(), "{name}");
    }
}

/// `Authorization: Basic` values, and the encode/decode round trip of any id and secret.
pub fn basic(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decode_basic(text);
    let (id, secret) = text.split_once('\n').unwrap_or((text, ""));
    let (got_id, got_secret) = decode_basic(&encode_basic(id, secret)).expect("round trip");
    assert_eq!(got_id, id);
    assert_eq!(got_secret.expose(), secret);
}

/// Scope strings: a parsed scope prints back to a string that parses to the same scope.
pub fn scope(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scope) = Scope::parse(text) {
        let printed = scope.to_string();
        assert_eq!(Scope::parse(&printed).expect("printed scope parses"), scope);
        assert!(scope.is_subset_of(&scope));
    }
}

/// Redirect URIs: equal strings match, and anything that matches but differs is a loopback URI
/// differing only in its port.
pub fn redirect_uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, given) = text.split_once('\n').unwrap_or((text, text));
    for application in [ApplicationType::Web, ApplicationType::Native] {
        assert!(redirect_uri_matches(registered, registered, application));
    }
    // A web app's redirect URI matches only itself.
    assert_eq!(
        redirect_uri_matches(registered, given, ApplicationType::Web),
        registered == given
    );
    if redirect_uri_matches(registered, given, ApplicationType::Native) && registered != given {
        for uri in [registered, given] {
            assert!(
                uri.starts_with("http://127.0.0.1") || uri.starts_with("http://[::1]"),
                "{registered:?} matched {given:?}"
            );
        }
        assert!(
            redirect_uri_matches(given, registered, ApplicationType::Native),
            "symmetric"
        );
    }
}

/// Compact JWS: parsing never panics, and what parses gives back the signing input it was cut from.
pub fn jws(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jws) = CompactJws::parse(text) {
        assert!(text.as_bytes().starts_with(jws.signing_input));
        let _ = jws.claims();
        let _ = jws.header_str("alg");
    }
}
