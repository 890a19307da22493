//! Properties of the parsers over generated inputs (proptest).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::ApplicationType::{Native, Web};
use portcullis_core::basic::{decode_basic, encode_basic};
use portcullis_core::jws::CompactJws;
use portcullis_core::redirect::redirect_uri_matches;
use portcullis_core::{FormParams, Scope};
use proptest::prelude::*;
use std::collections::BTreeMap;

proptest! {
    #[test]
    fn any_bytes_are_a_form_or_an_error(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        portcullis_core::fuzz_targets::form(&data);
    }

    #[test]
    fn encoded_forms_read_back(pairs in proptest::collection::btree_map("[a-z_]{1,12}", any::<String>(), 0..20)) {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            body.append_pair(k, v);
        }
        let form = FormParams::parse(body.finish().as_bytes()).unwrap();
        for (k, v) in &pairs {
            let expected = if v.is_empty() { None } else { Some(v.as_str()) };
            prop_assert_eq!(form.get(k).unwrap(), expected);
        }
    }

    #[test]
    fn a_repeated_parameter_is_always_refused(name in "[a-z]{1,8}", a in ".*", b in ".*") {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair(&name, &a).append_pair(&name, &b);
        let form = FormParams::parse(body.finish().as_bytes()).unwrap();
        prop_assert!(form.get(&name).is_err());
    }

    #[test]
    fn basic_credentials_round_trip(id in any::<String>(), secret in any::<String>()) {
        let (got_id, got_secret) = decode_basic(&encode_basic(&id, &secret)).unwrap();
        prop_assert_eq!(got_id, id);
        prop_assert_eq!(got_secret.expose(), secret.as_str());
    }

    #[test]
    fn any_authorization_header_is_credentials_or_an_error(text in any::<String>()) {
        let _ = decode_basic(&text);
        let _ = decode_basic(&format!("Basic {text}"));
    }

    #[test]
    fn valid_scope_tokens_parse_and_print_back(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,10}", 0..8)) {
        let text = tokens.join(" ");
        let scope = Scope::parse(&text).unwrap();
        for t in &tokens {
            prop_assert!(scope.contains(t));
        }
        prop_assert_eq!(Scope::parse(&scope.to_string()).unwrap(), scope);
    }

    #[test]
    fn scope_tokens_with_forbidden_characters_are_refused(prefix in "[a-z]{0,5}", bad in "[\"\\\\\u{7f}\u{0}-\u{1f}\u{80}-\u{10ffff}]", suffix in "[a-z]{0,5}") {
        let token = format!("{prefix}{bad}{suffix}");
        prop_assume!(!token.contains(' '));
        prop_assert!(Scope::parse(&token).is_err());
    }

    #[test]
    fn any_string_is_a_scope_or_an_error(text in any::<String>()) {
        portcullis_core::fuzz_targets::scope(text.as_bytes());
    }

    #[test]
    fn redirect_uris_match_only_exactly(a in "https://[a-z]{1,8}\\.example/[a-z]{0,8}", b in "https://[a-z]{1,8}\\.example/[a-z]{0,8}") {
        for app in [Web, Native] {
            prop_assert!(redirect_uri_matches(&a, &a, app));
            prop_assert_eq!(redirect_uri_matches(&a, &b, app), a == b);
            // Prefixes, suffixes and case changes never match.
            let longer = format!("{a}x");
            prop_assert!(!redirect_uri_matches(&a, &longer, app));
            let upper = a.to_uppercase();
            prop_assert_eq!(redirect_uri_matches(&a, &upper, app), a == upper);
        }
    }

    #[test]
    fn loopback_redirect_uris_match_on_any_port_for_native_apps_only(p1 in 1u16.., p2 in 1u16.., path in "/[a-z]{0,8}") {
        let registered = format!("http://127.0.0.1{path}");
        let given = format!("http://127.0.0.1:{p1}{path}");
        let other_port = format!("http://127.0.0.1:{p2}{path}");
        let other_path = format!("http://127.0.0.1:{p1}{path}x");
        let other_host = format!("http://localhost:{p1}{path}");
        prop_assert!(redirect_uri_matches(&registered, &given, Native));
        prop_assert!(redirect_uri_matches(&other_port, &given, Native));
        prop_assert!(!redirect_uri_matches(&registered, &other_path, Native));
        prop_assert!(!redirect_uri_matches(&registered, &other_host, Native));
        prop_assert!(!redirect_uri_matches(&registered, &given, Web));
        prop_assert_eq!(redirect_uri_matches(&other_port, &given, Web), p1 == p2);
    }

    #[test]
    fn any_redirect_pair_keeps_the_invariants(a in any::<String>(), b in any::<String>()) {
        portcullis_core::fuzz_targets::redirect_uri(format!("{a}\n{b}").as_bytes());
    }

    #[test]
    fn encoded_jws_parse_back(
        header in proptest::collection::btree_map("[a-z]{1,6}", "[a-zA-Z0-9]{0,10}", 0..5),
        payload in proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..5),
        signature in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let h = B64.encode(serde_json::to_vec(&header).unwrap());
        let p = B64.encode(serde_json::to_vec(&payload).unwrap());
        let token = format!("{h}.{p}.{}", B64.encode(&signature));
        let jws = CompactJws::parse(&token).unwrap();
        let signed = format!("{h}.{p}");
        prop_assert_eq!(jws.signing_input, signed.as_bytes());
        prop_assert_eq!(&jws.signature, &signature);
        for (k, v) in &header {
            prop_assert_eq!(jws.header_str(k), Some(v.as_str()));
        }
        let claims: BTreeMap<String, i64> = jws.claims().unwrap().into_iter().map(|(k, v)| (k, v.as_i64().unwrap())).collect();
        prop_assert_eq!(claims, payload);
    }

    #[test]
    fn any_string_is_a_jws_or_an_error(text in any::<String>(), dots in 0usize..5) {
        let mut token = text.clone();
        for _ in 0..dots {
            token.push('.');
            token.push_str(&text);
        }
        portcullis_core::fuzz_targets::jws(token.as_bytes());
    }
}
