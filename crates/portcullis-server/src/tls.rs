//! The optional TLS listener's certificate: read from PEM files and read again when they change,
//! so a renewed certificate (from certbot, cert-manager, …) is served without a restart. A pair
//! that does not load (half-written, mismatched) is logged and the previous one stays in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

/// How often the files' modification times are checked.
pub const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the pair.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert, e))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    let provider = aws_lc_rs::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)?;
    Ok(Arc::new(certified))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The certificate in use, swapped when its files change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Option<SystemTime>, Option<SystemTime>)>,
}

impl ReloadingCert {
    /// Loads the pair; start-up fails if it does not load.
    pub fn new(cert_path: PathBuf, key_path: PathBuf) -> Result<Arc<Self>, TlsError> {
        let key = load(&cert_path, &key_path)?;
        let stamps = (modified(&cert_path), modified(&key_path));
        Ok(Arc::new(ReloadingCert {
            current: RwLock::new((key, stamps.0, stamps.1)),
            cert_path,
            key_path,
        }))
    }

    /// Loads the files again if either changed; true if a new pair is now in use.
    pub fn reload_if_changed(&self) -> bool {
        let stamps = (modified(&self.cert_path), modified(&self.key_path));
        let unchanged = match self.current.read() {
            Ok(guard) => (guard.1, guard.2) == stamps,
            Err(_) => false,
        };
        if unchanged {
            return false;
        }
        match load(&self.cert_path, &self.key_path) {
            Ok(key) => {
                match self.current.write() {
                    Ok(mut guard) => *guard = (key, stamps.0, stamps.1),
                    Err(poisoned) => *poisoned.into_inner() = (key, stamps.0, stamps.1),
                }
                tracing::info!(cert = %self.cert_path.display(), "loaded a new TLS certificate");
                true
            }
            Err(error) => {
                // Often a renewal caught between writing the two files: the next check retries.
                tracing::warn!(%error, "new TLS certificate not loaded; keeping the current one");
                false
            }
        }
    }

    /// Checks the files every [`RELOAD_CHECK`] until the task is aborted.
    pub fn spawn_watcher(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(RELOAD_CHECK);
            loop {
                ticker.tick().await;
                let this = self.clone();
                let _ = tokio::task::spawn_blocking(move || this.reload_if_changed()).await;
            }
        })
    }

    /// A rustls server configuration serving this certificate (HTTP/1.1 over ALPN).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current.read() {
            Ok(guard) => Some(guard.0.clone()),
            Err(poisoned) => Some(poisoned.into_inner().0.clone()),
        }
    }
}
