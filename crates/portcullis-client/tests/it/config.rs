//! Settings from the environment.

use portcullis_client::{AuthMethod, ClientCredentials, ClientError, Endpoint};
use std::collections::HashMap;

fn from(pairs: &[(&str, &str)]) -> Result<ClientCredentials, ClientError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ClientCredentials::from_vars(|name| map.get(name).cloned())
}

#[test]
fn one_error_names_every_missing_variable() {
    let Err(ClientError::Config(problems)) = from(&[]) else {
        panic!()
    };
    let text = problems.join("; ");
    for name in ["CLIENT_ID", "CLIENT_SECRET", "TOKEN_URL"] {
        assert!(text.contains(name), "{text}");
    }
    let Err(ClientError::Config(problems)) = from(&[
        ("CLIENT_ID", "a"),
        ("CLIENT_SECRET", "b"),
        ("TOKEN_URL", "ftp://x"),
    ]) else {
        panic!()
    };
    assert!(problems[0].contains("TOKEN_URL must be an http(s) URL"));
}

#[test]
fn the_seed_names_and_the_optional_ones() {
    let c = from(&[
        ("CLIENT_ID", "id"),
        ("CLIENT_SECRET", "secret"),
        ("TOKEN_URL", "https://id.example.com/token"),
        ("SCOPE", "read write"),
        ("AUDIENCE", "https://a https://b"),
        ("TOKEN_AUTH_METHOD", "post"),
    ])
    .unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::TokenUrl("https://id.example.com/token".into())
    );
    assert_eq!(c.scope.as_deref(), Some("read write"));
    assert_eq!(c.audience, ["https://a", "https://b"]);
    assert_eq!(c.auth_method, AuthMethod::Post);
    let c = from(&[
        ("CLIENT_ID", "id"),
        ("CLIENT_SECRET", "s"),
        ("ISSUER", "https://id.example.com"),
    ])
    .unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Issuer("https://id.example.com".into())
    );
    assert!(
        !format!("{c:?}").contains("\"s\""),
        "the secret is not printed"
    );
}
