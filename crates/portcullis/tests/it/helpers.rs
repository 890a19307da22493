use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// A command for the binary in `dir`, with no PORTCULLIS_* variables inherited from the test runner.
pub fn portcullis(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("PORTCULLIS_") {
            command.env_remove(name);
        }
    }
    command.env("PORTCULLIS_LISTEN", "127.0.0.1:0");
    command
}

/// A temporary directory with a new, migrated `portcullis.db` in it: what the admin commands
/// expect to find (only `serve` and `migrate` create a database).
pub fn with_database() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(portcullis(dir.path()).arg("migrate"));
    assert!(ok, "{err}");
    dir
}

/// Runs a command to completion, returning its output as text.
pub fn run(command: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.success(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// `portcullis serve`, running.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    pub stdout_first_lines: Vec<String>,
    pub stderr_path: PathBuf,
}

impl ServerProcess {
    pub fn start(mut command: Command, dir: &Path) -> ServerProcess {
        let stderr_path = dir.join("server.stderr");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = command
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!(
                "serve printed nothing; stderr: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            ),
        };
        let second = lines.next().and_then(Result::ok).unwrap_or_default();
        // "Portcullis is listening on http://127.0.0.1:PORT (issuer ...)"
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        ServerProcess {
            child,
            base,
            stdout_first_lines: vec![first, second],
            stderr_path,
        }
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap()
    }

    pub async fn token(&self, id: &str, secret: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Polls until the token endpoint answers `want` for these credentials.
    pub async fn wait_for_token_status(
        &self,
        id: &str,
        secret: &str,
        want: u16,
    ) -> serde_json::Value {
        let start = std::time::Instant::now();
        loop {
            let (status, body) = self.token(id, secret).await;
            if status == want {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(1),
                    "took {:?}",
                    start.elapsed()
                );
                return body;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(3),
                "still {status}: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `client create --json` in `dir`; returns (client_id, client_secret).
pub fn create_client(dir: &Path, args: &[&str]) -> (String, String) {
    create_client_with(&mut portcullis(dir), args)
}

/// `client create --json` with a prepared command (for example one naming another database).
pub fn create_client_with(command: &mut Command, args: &[&str]) -> (String, String) {
    let (ok, out, err) = run(command.args(["client", "create", "--json"]).args(args));
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        json["client_id"].as_str().unwrap().to_owned(),
        json["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The `kid` in a JWT's header.
pub fn kid_of(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["kid"].as_str().unwrap().to_owned()
}
