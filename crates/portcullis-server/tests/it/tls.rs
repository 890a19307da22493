//! The TLS listener: HTTPS with the configured certificate, and a renewed certificate served
//! without a restart. Certificates come from the `openssl` command; where it is missing the test
//! says so and skips, except with `CI=true`.

use crate::helpers::spawn_with;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn make_cert(dir: &Path, name: &str) -> Option<(Vec<u8>, std::path::PathBuf, std::path::PathBuf)> {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A self-signed leaf, not a CA: webpki refuses a CA certificate as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match status {
        Ok(out) if out.status.success() => Some((std::fs::read(&cert).unwrap(), cert, key)),
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and openssl cannot make a test certificate: {other:?}"
            );
            eprintln!("skipping the TLS test: openssl is not available ({other:?})");
            None
        }
    }
}

fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem).unwrap()])
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn status_with(pem: &[u8], url: &str) -> Option<u16> {
    trusting(pem)
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn https_with_a_certificate_that_is_reloaded_when_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let Some((first_pem, cert, key)) = make_cert(dir.path(), "first") else {
        return;
    };
    let (c, k) = (cert.clone(), key.clone());
    let app = spawn_with(move |config| {
        config.tls.cert_file = Some(c);
        config.tls.key_file = Some(k);
    })
    .await;
    assert!(
        app.issuer.starts_with("https://127.0.0.1:"),
        "{}",
        app.issuer
    );
    let url = format!("{}/.well-known/openid-configuration", app.issuer);
    let doc: serde_json::Value = trusting(&first_pem)
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert!(
        reqwest::get(url.replace("https://", "http://"))
            .await
            .is_err(),
        "plain HTTP is not served on the TLS port"
    );

    // Renewal: the new pair replaces the old files.
    let (second_pem, new_cert, new_key) = make_cert(dir.path(), "second").unwrap();
    std::fs::rename(&new_key, &key).unwrap();
    std::fs::rename(&new_cert, &cert).unwrap();
    let start = Instant::now();
    while status_with(&second_pem, &url).await != Some(200) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the renewed certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status_with(&first_pem, &url).await,
        None,
        "the old certificate is gone"
    );

    // A broken file is not loaded: the current certificate stays.
    std::fs::write(&cert, b"-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status_with(&second_pem, &url).await, Some(200));
}
