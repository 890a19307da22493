//! Against a client no one here wrote: oauth4webapi (OpenID certified; it implements
//! private_key_jwt, DPoP and PAR), the npm package pinned in interop/oauth4webapi/package.json,
//! driven by interop/oauth4webapi/run.mjs against `portcullis serve`:
//!
//! - private_key_jwt with client_credentials, a bearer token and a DPoP-bound one;
//! - the authorization-code flow of a public client with PAR, DPoP and PKCE, the user played by
//!   form posts, then `/userinfo` and a refresh with DPoP, nonces fetched and retried as the
//!   library does;
//! - Token Exchange (RFC 8693) of the client_credentials token by a third client, for another
//!   audience;
//! - the Device Authorization Grant (RFC 8628) of a public client made with `portcullis client
//!   create`: `authorization_pending` and `slow_down` to polls at once, the person played by form
//!   posts at `/device` (the code, the sign-in, the consent page, always shown), tokens once they
//!   allowed, and `access_denied` for a second device they denied;
//! - a DPoP-bound call to the example protected API, examples/protected_api.rs, run as the binary
//!   `cargo test --workspace` builds (`/data` behind `BearerLayer` with the `read` scope). When
//!   only this crate's tests were built, its routes run in-process instead, with a nonce of their
//!   own; under `CI=true` the binary must be there.
//!
//! The package is installed by .ci/run (`npm ci`), or here when `npm` is on the PATH. Without Node
//! the test says so and skips, except with `CI=true`, where it fails.

use crate::client_proofs::write_p256_key;
use crate::helpers::{ServerProcess, portcullis, run};
use std::path::PathBuf;
use std::process::Command;

const API_AUDIENCE: &str = "https://api.example.com";
const PASSWORD: &str = "correct horse battery staple";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const EXCHANGER_SECRET: &str = "exchanger-secret-0123456789abcdef0123456789";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/oauth4webapi")
}

/// Whether Node and the pinned package are there, installing the package first if needed.
fn ready() -> bool {
    let dir = interop_dir();
    let installed = || dir.join("node_modules/oauth4webapi/package.json").exists();
    let node = Command::new("node").arg("--version").output();
    let why = if !node.as_ref().is_ok_and(|o| o.status.success()) {
        Some("node is not installed".to_owned())
    } else if installed() {
        None
    } else {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status();
        (!status.as_ref().is_ok_and(|s| s.success()) || !installed()).then(|| {
            format!(
                "oauth4webapi is not installed in {} and `npm ci` there failed ({status:?})",
                dir.display()
            )
        })
    };
    match why {
        None => true,
        Some(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: {why}"
            );
            eprintln!("skipping: {why}");
            false
        }
    }
}

/// The example API's binary, next to this test's when the workspace's examples were built.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let debug = exe.parent()?.parent()?;
    let path = debug.join("examples/protected_api");
    path.exists().then_some(path)
}

/// The example protected API, running as its own process; its base URL.
struct ExampleApi {
    child: std::process::Child,
    base: String,
}

impl Drop for ExampleApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_example(binary: &std::path::Path, issuer: &str) -> ExampleApi {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(binary)
        .env("ISSUER", issuer)
        .env("AUDIENCE", API_AUDIENCE)
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // It prints one line once it listens.
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(line.contains("protected API on"), "{line}");
    ExampleApi {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The example protected API's routes (examples/protected_api.rs), in-process on port 0, trusting
/// `issuer`; with a DPoP nonce of their own.
async fn example_api(issuer: &str) -> String {
    use portcullis_resource::{AccessToken, BearerLayer, Validator, require_scope};
    let validator = Validator::builder(issuer, API_AUDIENCE)
        .dpop_nonce_secret(b"the example API's nonce secret, 32+ bytes")
        .build();
    let app = axum::Router::new()
        .route(
            "/data",
            axum::routing::get(|token: AccessToken| async move {
                axum::Json(serde_json::json!({ "data": [1, 2, 3], "for": token.subject }))
            })
            .layer(require_scope("read")),
        )
        .layer(BearerLayer::new(validator, "example-api"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth4webapi_signs_pushes_and_proves_against_portcullis() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("svc.pem");
    write_p256_key(&key);
    let mut jwks = portcullis_client::PrivateKey::from_pem_file(&key)
        .unwrap()
        .public_jwk_set();
    jwks.keys[0].alg = None;
    let jwks = serde_json::to_string(&jwks).unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!(
            r#"
[[clients]]
client_id = "svc-jwt"
token_endpoint_auth_method = "private_key_jwt"
jwks = '{jwks}'
grant_types = ["client_credentials"]
scope = "read write"
default_scope = "read"
audience = ["{API_AUDIENCE}"]

[[clients]]
client_id = "app"
token_endpoint_auth_method = "none"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["{REDIRECT_URI}"]
scope = "openid profile email offline_access"
require_pushed_authorization_requests = true

[[clients]]
client_id = "exchanger"
client_secret = "{EXCHANGER_SECRET}"
grant_types = ["urn:ietf:params:oauth:grant-type:token-exchange"]
audience = ["{API_AUDIENCE}", "https://billing.example"]

[[users]]
username = "alice"
password = "{PASSWORD}"
email = "alice@example.com"
email_verified = true
"#
        ),
    )
    .unwrap();
    let config = dir.path().join("portcullis.toml");
    // The device client is made as an operator makes one, with `portcullis client create`, in the
    // database the server then opens (only `serve` and `migrate` create it): it is there from the
    // server's first request on.
    let (ok, _, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_CONFIG", &config)
        .arg("migrate"));
    assert!(ok, "{err}");
    let (ok, out, err) = run(portcullis(dir.path())
        .env("PORTCULLIS_CONFIG", &config)
        .args(["client", "create", "--json", "--auth-method", "none"])
        .args(["--grant-type", DEVICE_CODE_GRANT])
        .args(["--grant-type", "refresh_token"])
        .args(["--scope", "openid profile offline_access", "--name", "TV"]));
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(created["client_secret"].is_null(), "a public client: {out}");
    let device_client = created["client_id"].as_str().unwrap().to_owned();
    let mut command = portcullis(dir.path());
    command.env("PORTCULLIS_CONFIG", &config);
    let server = ServerProcess::start(command, dir.path());
    let binary = example_binary();
    if binary.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: examples/protected_api is not built (cargo test --workspace builds it)"
        );
        eprintln!("the example API's binary is not built: its routes run in-process instead");
    }
    let (_example, api) = match &binary {
        Some(path) => {
            let example = start_example(path, &server.base);
            let base = example.base.clone();
            (Some(example), base)
        }
        None => (None, example_api(&server.base).await),
    };
    let mut node = Command::new("node");
    node.arg("run.mjs")
        .current_dir(interop_dir())
        .env("ISSUER", &server.base)
        .env("CLIENT_ID", "svc-jwt")
        .env("PRIVATE_KEY_FILE", &key)
        .env("APP_CLIENT_ID", "app")
        .env("APP_REDIRECT_URI", REDIRECT_URI)
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD)
        .env("API_URL", format!("{api}/data"))
        .env("EXCHANGE_CLIENT_ID", "exchanger")
        .env("EXCHANGE_CLIENT_SECRET", EXCHANGER_SECRET)
        .env("EXCHANGE_AUDIENCE", "https://billing.example")
        .env("DEVICE_CLIENT_ID", &device_client);
    let output = tokio::task::spawn_blocking(move || node.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("run.mjs printed no result: {stdout}\n{stderr}"));
    assert!(
        output.status.success() && result["ok"] == true,
        "{result:#}\n{stderr}\nserver: {}",
        server.stderr()
    );
    assert_eq!(
        result["client_credentials"]["token_type"], "Bearer",
        "{result:#}"
    );
    assert_eq!(
        result["client_credentials_dpop"]["token_type"], "DPoP",
        "{result:#}"
    );
    let flow = &result["code_flow"];
    assert_eq!(flow["token_type"], "DPoP", "{result:#}");
    assert_eq!(flow["refreshed_token_type"], "DPoP", "{result:#}");
    assert!(flow["userinfo_sub"].is_string(), "{result:#}");
    assert_eq!(result["api"]["status"], 200, "{result:#}");
    assert_eq!(result["api"]["token"], "client_credentials", "{result:#}");
    let exchanged = &result["token_exchange"];
    assert_eq!(
        exchanged["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token",
        "{result:#}"
    );
    assert_eq!(exchanged["sub"], "svc-jwt", "{result:#}");
    assert_eq!(exchanged["client_id"], "exchanger", "{result:#}");
    assert_eq!(exchanged["aud"], "https://billing.example", "{result:#}");
    // The device flow: pending, then slow_down to a poll too soon; tokens once the person allowed
    // (after the code page, the sign-in and the consent page); access_denied once they denied,
    // the consent page shown again though they had just allowed the same client.
    let device = &result["device_flow"];
    assert_eq!(
        device["first_poll"]["error"], "authorization_pending",
        "{result:#}"
    );
    assert_eq!(device["second_poll"]["error"], "slow_down", "{result:#}");
    assert_eq!(
        device["pages"],
        serde_json::json!(["code", "login", "consent"]),
        "{result:#}"
    );
    assert_eq!(device["return_to_device"], true, "{result:#}");
    assert_eq!(device["token_type"], "Bearer", "{result:#}");
    assert_eq!(device["refresh_token"], true, "{result:#}");
    assert_eq!(
        device["access_token"]["client_id"],
        device_client.as_str(),
        "{result:#}"
    );
    assert_eq!(device["access_token"]["rs_validated"], true, "{result:#}");
    assert_eq!(
        device["id_token"]["aud"],
        device_client.as_str(),
        "{result:#}"
    );
    assert_eq!(device["same_user_as_code_flow"], true, "{result:#}");
    let denied = &device["denied"];
    assert_eq!(
        denied["first_poll"]["error"], "authorization_pending",
        "{result:#}"
    );
    assert!(
        denied["pages"]
            .as_array()
            .is_some_and(|pages| pages.iter().any(|p| p == "consent")),
        "{result:#}"
    );
    assert_eq!(denied["poll_error"], "access_denied", "{result:#}");
    // The in-process stand-in also asks for a nonce of its own, and the library retried with it.
    if binary.is_none() {
        assert_eq!(
            result["api"]["dpop_nonce_retry"], true,
            "the API's own nonce: {result:#}"
        );
    }
}
