//! Configuration errors stop start-up with a message naming the key.

use crate::helpers::{portcullis, run};

/// Runs `serve` and expects it to exit with an error; a server that starts anyway is killed.
fn serve_fails(command: &mut std::process::Command) -> String {
    let mut child = command
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("start-up should fail but the server is running");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "start-up should fail: {err}");
    err
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    for (toml, expect) in [
        ("isuer = \"https://x\"", "isuer"),
        (
            "[tokens]\naccess_token_lifetime = \"soon\"",
            "tokens.access_token_lifetime",
        ),
        ("[tokens]\nsigning_alg = \"HS256\"", "tokens.signing_alg"),
        ("issuer = \"https://id.example.com/\"", "issuer"),
        ("database = \"mysql://x\"", "database"),
        ("[limits]\nmax_body = 3", "max_body"),
        (
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"short\"",
            "at least 32 characters",
        ),
        ("this is not toml", "not valid TOML"),
    ] {
        std::fs::write(&file, toml).unwrap();
        let err = serve_fails(portcullis(dir.path()).arg("--config").arg(&file));
        assert!(err.contains(expect), "{toml:?} → {err}");
        // The cause is said once, not repeated by every layer that passes it on.
        if expect == "at least 32 characters" {
            assert_eq!(err.matches(expect).count(), 1, "said once: {err}");
        }
    }
}

#[test]
fn environment_overrides_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let err = serve_fails(
        portcullis(dir.path()).env("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME", "ten minutes"),
    );
    assert!(
        err.contains("PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME"),
        "{err}"
    );
    assert!(err.contains("tokens.access_token_lifetime"), "{err}");
    let err = serve_fails(portcullis(dir.path()).env("PORTCULLIS_LISTEN", "nowhere"));
    assert!(err.contains("'listen' (from PORTCULLIS_LISTEN)"), "{err}");
    let err = serve_fails(portcullis(dir.path()).env("PORTCULLIS_LISTNE", "127.0.0.1:1"));
    assert!(err.contains("listne"), "{err}");
    let err = serve_fails(
        portcullis(dir.path()).env("PORTCULLIS_CONFIG", dir.path().join("missing.toml")),
    );
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn the_environment_wins_over_the_file() {
    let dir = crate::helpers::with_database();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, "[tokens]\nsigning_alg = \"RS256\"\n").unwrap();
    let (ok, out, err) = run(portcullis(dir.path())
        .arg("--config")
        .arg(&file)
        .env("PORTCULLIS_TOKENS__SIGNING_ALG", "EdDSA")
        .args(["keys", "rotate", "--json"]));
    assert!(ok, "{err}");
    assert!(out.contains("\"alg\":\"EdDSA\""), "{out}");
}
