//! The loader's rules, from TOML text and a made-up environment.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_need_no_file() {
    let c = Config::from_sources("", env(&[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database, "sqlite://portcullis.db");
    assert_eq!(c.tokens.signing_alg, Algorithm::ES256);
}

#[test]
fn env_overrides_file_and_errors_name_the_variable() {
    let c = Config::from_sources(
        "[tokens]\nsigning_alg = \"RS256\"",
        env(&[("PORTCULLIS_TOKENS__SIGNING_ALG", "EdDSA")]),
    )
    .unwrap();
    assert_eq!(c.tokens.signing_alg, Algorithm::EdDSA);
    let e = Config::from_sources(
        "",
        env(&[("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME", "x")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("tokens.access_token_lifetime"), "{e}");
    assert!(
        e.contains("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME"),
        "{e}"
    );
}

#[test]
fn range_errors_name_the_variable_too() {
    let e = Config::from_sources("", env(&[("PORTCULLIS_LIMITS__MAX_BODY_BYTES", "10")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'limits.max_body_bytes' (from PORTCULLIS_LIMITS__MAX_BODY_BYTES)"),
        "{e}"
    );
}

#[test]
fn unknown_keys_are_named() {
    let e = Config::from_sources("[tokens]\nlifetime = 3", env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("lifetime") && e.contains("tokens"), "{e}");
}

#[test]
fn the_master_key_comes_from_the_environment_with_the_rules_of_the_key() {
    let key = "k".repeat(32);
    let c = Config::from_sources("", env(&[("PORTCULLIS_MASTER_KEY", key.as_str())])).unwrap();
    assert!(c.key_vault().unwrap().is_sealing());
    let e = Config::from_sources("", env(&[("PORTCULLIS_MASTER_KEY", "short")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'master_key' (from PORTCULLIS_MASTER_KEY)") && e.contains("at least 32"),
        "{e}"
    );
    let both = Config::from_sources(
        "master_key_file = \"/nonexistent\"",
        env(&[("PORTCULLIS_MASTER_KEY", key.as_str())]),
    )
    .unwrap()
    .key_vault()
    .unwrap_err()
    .to_string();
    assert!(both.contains("not both"), "{both}");
}

#[test]
fn the_test_suites_variables_are_not_settings() {
    let c = Config::from_sources(
        "",
        env(&[
            ("PORTCULLIS_TEST_POSTGRES", "postgres://x@y/z"),
            ("PORTCULLIS_TEST_DATABASE", "postgres"),
        ]),
    );
    assert!(c.is_ok(), "{:?}", c.err());
}

#[test]
fn list_keys_come_from_the_environment_as_commas_or_json() {
    let c = Config::from_sources(
        "",
        env(&[
            ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
            (
                "PORTCULLIS_CORS__ALLOWED_ORIGINS",
                r#"["https://a.example", "https://b.example"]"#,
            ),
        ]),
    )
    .unwrap();
    let nets = |list: &[&str]| -> Vec<IpNet> { list.iter().map(|n| n.parse().unwrap()).collect() };
    assert_eq!(c.trusted_proxies, nets(&["10.0.0.0/8", "192.0.2.7"]));
    let origins: Vec<&str> = c.cors.allowed_origins.iter().map(Origin::as_str).collect();
    assert_eq!(origins, ["https://a.example", "https://b.example"]);
    let c = Config::from_sources("trusted_proxies = [\"10.0.0.1\"]", env(&[])).unwrap();
    assert_eq!(c.trusted_proxies, nets(&["10.0.0.1"]));
    let e = Config::from_sources("", env(&[("PORTCULLIS_TRUSTED_PROXIES", "[oops")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("trusted_proxies") && e.contains("PORTCULLIS_TRUSTED_PROXIES"),
        "{e}"
    );
}

#[test]
fn durations() {
    assert_eq!("15m".parse::<Seconds>(), Ok(Seconds(900)));
    assert_eq!("2h".parse::<Seconds>(), Ok(Seconds(7200)));
    assert_eq!("30".parse::<Seconds>(), Ok(Seconds(30)));
    assert!("15 minutes".parse::<Seconds>().is_err());
    assert!("-1s".parse::<Seconds>().is_err());
}

#[test]
fn issuers() {
    assert!(check_issuer("https://id.example.com").is_ok());
    assert!(check_issuer("https://id.example.com/").is_err());
    assert!(check_issuer("https://id.example.com?x=1").is_err());
    assert!(check_issuer("ftp://id.example.com").is_err());
}

#[test]
fn database_passwords_are_hidden() {
    assert_eq!(
        redact_url("postgres://u:pw@h/db"),
        "postgres://u:***@h/db".to_string()
    );
}

#[test]
fn the_effective_issuer_follows_tls_and_the_bound_address() {
    let bound: SocketAddr = "127.0.0.1:4321".parse().unwrap();
    let plain = Config::from_sources("", env(&[])).unwrap();
    assert_eq!(plain.effective_issuer(bound), "http://127.0.0.1:4321");
    let mut tls = plain.clone();
    tls.tls.cert_file = Some("cert.pem".into());
    assert_eq!(tls.effective_issuer(bound), "https://127.0.0.1:4321");
    let named = Config::from_sources("issuer = \"https://id.example\"", env(&[])).unwrap();
    assert_eq!(named.effective_issuer(bound), "https://id.example");
}

/// The issuer, origins and proxies are parsed when the configuration is read: a bad one stops the
/// load with its key, its variable and why, and nothing is dropped.
#[test]
fn typed_values_are_parsed_at_load_and_errors_name_key_and_variable() {
    let cases = [
        (
            "PORTCULLIS_ISSUER",
            "https://id.example.com/",
            "issuer",
            "must not end with '/'",
        ),
        (
            "PORTCULLIS_TRUSTED_PROXIES",
            "10.0.0.0/8, 10.0.0.0/40",
            "trusted_proxies",
            "'10.0.0.0/40' is not an address or ADDRESS/PREFIX network",
        ),
        (
            "PORTCULLIS_CORS__ALLOWED_ORIGINS",
            "https://a.example/path",
            "cors.allowed_origins",
            "is not an origin",
        ),
    ];
    for (variable, value, key, why) in cases {
        let e = Config::from_sources("", env(&[(variable, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("key '{key}' (from {variable})")) && e.contains(why),
            "{e}"
        );
    }
    let c = Config::from_sources(
        "issuer = \"https://id.example.com\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]",
        env(&[]),
    )
    .unwrap();
    assert_eq!(c.issuer.unwrap().as_str(), "https://id.example.com");
    assert_eq!(c.trusted_proxies.len(), 2);
    assert!(c.trusted_proxies[0].contains("10.9.8.7".parse().unwrap()));
}

/// A `[[clients]]` table's client_id is checked when the file is read, not after the database has
/// been opened and migrated.
#[test]
fn a_declared_client_id_is_checked_at_load() {
    let e = Config::from_sources("[[clients]]\nclient_id = \"has space\"", env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key 'clients[0].client_id'") && e.contains("printable ASCII"),
        "{e}"
    );
    let c = Config::from_sources("[[clients]]\nclient_id = \"web\"", env(&[])).unwrap();
    assert_eq!(c.clients[0].client_id.as_str(), "web");
}

#[test]
fn device_settings_have_their_floors() {
    let c = Config::from_sources(
        "[device]\ninterval = \"7s\"\ncode_lifetime = \"15m\"",
        env(&[]),
    )
    .unwrap();
    assert_eq!((c.device.interval.0, c.device.code_lifetime.0), (7, 900));
    assert_eq!(c.device.max_failed_codes_per_address, 20);
    assert_eq!(c.device.max_requests_per_address, 100);
    for bad in [
        "[device]\nmax_requests_per_address = 0",
        "[device]\ninterval = 0",
        "[device]\ncode_lifetime = \"30s\"",
        "[device]\nmax_failed_codes_per_address = 0",
    ] {
        let e = Config::from_sources(bad, env(&[])).unwrap_err().to_string();
        assert!(e.contains("device."), "{bad}: {e}");
    }
}
