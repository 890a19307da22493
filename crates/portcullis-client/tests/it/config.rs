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

#[test]
fn a_dotenv_file_is_read_and_real_variables_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = "CLIENT_ID=from-file\nCLIENT_SECRET=file-secret\n# a comment\nTOKEN_URL=https://id.example.com/token\n";
    std::fs::write(dir.path().join(".env"), file).unwrap();
    let c = ClientCredentials::from_env_in(dir.path()).unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::TokenUrl("https://id.example.com/token".into())
    );
    if std::env::var("CLIENT_ID").is_err() {
        assert_eq!(c.client_id, "from-file");
    }
    let pairs = vec![
        ("CLIENT_ID".to_string(), "file-id".to_string()),
        ("CLIENT_SECRET".to_string(), "file-secret".to_string()),
        (
            "TOKEN_URL".to_string(),
            "https://file.example.com/token".to_string(),
        ),
    ];
    let env = |name: &str| (name == "CLIENT_ID").then(|| "env-id".to_string());
    let c = ClientCredentials::from_sources(env, &pairs).unwrap();
    assert_eq!(c.client_id, "env-id", "the environment wins");
    assert_eq!(
        c.client_secret.expose(),
        "file-secret",
        "the file fills the rest"
    );
}
