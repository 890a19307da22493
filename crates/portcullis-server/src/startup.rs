//! Putting the server together: open the store, make keys and the secret-hashing key on first start,
//! apply declarative clients, load the registry, bind, serve until told to stop.

use crate::admin::{AdminError, ClientAdmin};
use crate::client_secret::SecretHasher;
use crate::config::{Config, ConfigError};
use crate::http::pages::Pages;
use crate::http::{self, AppState};
use crate::keys::{self, KeysError};
use crate::oauth::settings::{TokenSettings, UserTokenSettings};
use crate::registry::Registry;
use crate::store::{self, Store, StoreError};
use crate::users::{PasswordHasher, PasswordSource, Profile, UserAdmin};
use portcullis_core::Clock;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How often the registry checks the database for changed clients and keys when the database
/// cannot notify it (SQLite).
pub const RELOAD_INTERVAL: Duration = Duration::from_millis(250);

/// The fallback poll when the database notifies of changes (PostgreSQL LISTEN/NOTIFY).
pub const RELOAD_INTERVAL_WITH_NOTIFY: Duration = Duration::from_secs(1);

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("database {url}: {reason}")]
    Store {
        /// The URL, password hidden.
        url: String,
        /// What went wrong.
        reason: StoreError,
    },
    /// Signing keys could not be made or loaded. (Not a `source`: the message already says it
    /// all, and the error chain would say it twice.)
    #[error("signing keys: {0}")]
    Keys(KeysError),
    /// A `[[clients]]` table could not be applied.
    #[error("configuration: clients[{index}] (client_id '{client_id}'): {reason}")]
    DeclaredClient {
        /// Position in the file.
        index: usize,
        /// The client it names.
        client_id: String,
        /// What went wrong.
        reason: AdminError,
    },
    /// A `[[users]]` table could not be applied.
    #[error("configuration: users[{index}] (username '{username}'): {reason}")]
    DeclaredUser {
        /// Position in the file.
        index: usize,
        /// The user it names.
        username: String,
        /// What went wrong.
        reason: crate::users::UserError,
    },
    /// The HTML templates or password hasher could not be set up.
    #[error("start-up: {0}")]
    Setup(String),
    /// The TLS certificate or key could not be loaded.
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        reason: std::io::Error,
    },
}

impl From<KeysError> for StartupError {
    fn from(e: KeysError) -> Self {
        StartupError::Keys(e)
    }
}

/// A server that is bound and ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    locks: Arc<crate::throttle::Locks>,
    state: Arc<AppState>,
    store: Arc<dyn Store>,
    limits: crate::listener::ConnectionLimits,
    cleanup: store::Cleanup,
    tls: Option<Arc<crate::tls::ReloadingCert>>,
}

impl Server {
    /// Builds and binds the server. The issuer defaults to `http://` + the bound address, so a test
    /// that listens on port 0 gets an issuer with the real port.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Server, StartupError> {
        let vault = Arc::new(config.key_vault()?);
        // The port first: a port in use stops start-up before a database file is made.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|reason| StartupError::Bind {
                addr: config.listen,
                reason,
            })?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|reason| StartupError::Bind { addr, reason })?,
            ),
            None => None,
        };
        let store_err = |reason| StartupError::Store {
            url: crate::config::redact_url(&config.database),
            reason,
        };
        let options = store::StoreOptions {
            migrate: false,
            ..store_options(&config)
        };
        let store = open_store(&config.database, &options).await?;
        // Before anything is written, migrations included: a start refused for a missing or
        // wrong master key leaves the database as it was.
        if store.migration_status().await.map_err(store_err)?.current > 0 {
            vault.check(store.as_ref()).await?;
        }
        store.migrate().await.map_err(store_err)?;
        vault.unlock(store.as_ref()).await?;
        let hasher = SecretHasher::load_with(store.as_ref(), &vault).await?;
        keys::ensure_signing_keys(store.as_ref(), &vault, clock.now()).await?;
        apply_declared_clients(&config, store.as_ref(), &hasher, clock.as_ref()).await?;
        let passwords = PasswordHasher::new(
            usize::try_from(config.sign_in.password_hash_concurrency).unwrap_or(1),
        )
        .map_err(|e| StartupError::Setup(e.to_string()))?;
        apply_declared_users(&config, store.as_ref(), &passwords, clock.as_ref()).await?;
        let pages = Pages::new().map_err(|e| StartupError::Setup(e.to_string()))?;
        let local = listener.local_addr().map_err(|reason| StartupError::Bind {
            addr: config.listen,
            reason,
        })?;
        let tls = match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert), Some(key)) => {
                Some(crate::tls::ReloadingCert::new(cert.clone(), key.clone())?)
            }
            _ => None,
        };
        let issuer = config.effective_issuer(local);
        let registry = Arc::new(
            Registry::load(store.clone(), vault.clone())
                .await
                .map_err(store_err)?,
        );
        let tokens = TokenSettings {
            issuer,
            access_token_lifetime: config.tokens.access_token_lifetime.0,
            default_alg: config.tokens.signing_alg,
        };
        let metadata = crate::oauth::metadata::metadata_document(
            &tokens,
            config.sign_in.require_pushed_authorization_requests,
            config.registration.enabled,
        );
        let cookies = crate::http::session::Cookies::new(tokens.issuer.starts_with("https://"));
        let locks = Arc::new(crate::throttle::Locks::default());
        let throttle = |window: u64| {
            crate::throttle::Throttle::new(
                store.clone(),
                crate::throttle::Window::new(window),
                locks.clone(),
            )
        };
        let user_tokens = UserTokenSettings {
            code_lifetime: config.tokens.code_lifetime.0,
            id_token_alg: config.tokens.id_token_signing_alg,
            id_token_lifetime: config.tokens.id_token_lifetime.0,
            refresh_idle: config.tokens.refresh_token_idle_lifetime.0,
            refresh_absolute: config.tokens.refresh_token_absolute_lifetime.0,
            refresh_grace: config.tokens.refresh_token_reuse_grace.0,
        };
        let dpop_nonce_key = hasher.derive("portcullis dpop nonce v1");
        let issuer = crate::oauth::Issuer {
            registry,
            store: store.clone(),
            clock: clock.clone(),
            hasher,
            passwords,
            tokens,
            user_tokens,
            sign_in_throttle: throttle(config.sign_in.failure_window.0),
            client_auth_throttle: throttle(config.client_auth.failure_window.0),
            limits: crate::oauth::FailureLimits {
                sign_in_per_username: config.sign_in.max_failed_attempts,
                sign_in_per_address: config.sign_in.max_failed_attempts_per_address,
                client_per_address: config.client_auth.max_failures_per_client,
                client_address: config.client_auth.max_failures_per_ip,
                user_code_per_address: config.device.max_failed_codes_per_address,
                device_authorization_per_address: config.device.max_requests_per_address,
            },
            session_lifetime: config.sign_in.session_lifetime.0,
            metrics: crate::metrics::Metrics::new(),
            verified: Default::default(),
            client_keys: crate::client_keys::ClientKeys::new(clock.clone()),
            par_required: config.sign_in.require_pushed_authorization_requests,
            dpop_nonces: crate::oauth::dpop::DpopNonces::new(
                &dpop_nonce_key,
                config.dpop.require_nonce,
            ),
            device: crate::oauth::settings::DeviceSettings {
                code_lifetime: config.device.code_lifetime.0,
                interval: config.device.interval.0,
            },
            registration: crate::oauth::registration::RegistrationSettings {
                enabled: config.registration.enabled,
                token_required: config.registration.initial_access_token
                    == crate::config::InitialAccessToken::Required,
                // Checked when the configuration was read.
                scope: portcullis_core::Scope::parse(&config.registration.scope)
                    .unwrap_or_default(),
                per_address: config.registration.max_per_address,
            },
            registration_throttle: throttle(config.registration.window.0),
        };
        // Spans for traces, or for text logs, which print them; JSON logs read the task-local.
        let spans =
            config.otel_endpoint.is_some() || config.log_format == crate::config::LogFormat::Text;
        if config.otel_endpoint.is_some() {
            crate::spans::enable_otel();
        } else if spans {
            crate::spans::enable();
        }
        let state = Arc::new(AppState {
            issuer,
            max_body_bytes: usize::try_from(config.limits.max_body_bytes).unwrap_or(usize::MAX),
            activation_delay: config.keys.activation_delay.0,
            metadata_json: serde_json::to_vec(&metadata).unwrap_or_default().into(),
            pages,
            cookies,
            trusted_proxies: config.trusted_proxies.clone(),
            cors_origins: config.cors.allowed_origins.clone(),
            request_spans: spans,
            scope_descriptions: config
                .scopes
                .iter()
                .map(|(name, s)| (name.clone(), s.description.trim().to_owned()))
                .collect(),
        });
        Ok(Server {
            listener,
            metrics_listener,
            locks,
            state,
            store,
            limits: crate::listener::ConnectionLimits {
                header_timeout: Duration::from_secs(config.limits.header_timeout.0),
                request_timeout: Duration::from_secs(config.limits.request_timeout.0),
                max_header_bytes: usize::try_from(config.limits.max_header_bytes)
                    .unwrap_or(16 * 1024),
            },
            tls,
            cleanup: store::Cleanup {
                interval: Duration::from_secs(config.cleanup.interval.0),
                batch: i64::try_from(config.cleanup.batch_size).unwrap_or(500),
            },
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the `metrics_listen` listener, when one is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The URL the listener answers on: `https://` when `[tls]` is set.
    pub fn url(&self) -> std::io::Result<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        Ok(format!("{scheme}://{}", self.local_addr()?))
    }

    /// The issuer identifier in use.
    pub fn issuer(&self) -> &str {
        &self.state.issuer.tokens.issuer
    }

    /// The in-memory registry; tests refresh it instead of waiting for the poll.
    pub fn registry(&self) -> Arc<Registry> {
        self.state.issuer.registry.clone()
    }

    /// The store the server uses (tests and admin tools share it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let watcher = self.state.issuer.registry.clone().spawn_watcher(
            RELOAD_INTERVAL,
            RELOAD_INTERVAL_WITH_NOTIFY,
            self.locks.clone(),
            self.state.issuer.clock.clone(),
        );
        let cleanup = self
            .cleanup
            .spawn(self.store.clone(), self.state.issuer.clock.clone());
        // One shutdown for both listeners: the public one's future tells the metrics one.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shutdown = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                let _ = stop.send(true);
            }
        };
        let metrics = self.metrics_listener.map(|listener| {
            let mut stopped = stopped.clone();
            tokio::spawn(crate::listener::serve(
                listener,
                http::metrics_router(self.state.clone()),
                self.limits,
                None,
                async move {
                    let _ = stopped.wait_for(|&s| s).await;
                },
            ))
        });
        let app = http::router(self.state, metrics.is_none());
        let (acceptor, cert_watcher) = match &self.tls {
            Some(cert) => {
                let config = cert.server_config().map_err(std::io::Error::other)?;
                (
                    Some(tokio_rustls::TlsAcceptor::from(config)),
                    Some(cert.clone().spawn_watcher()),
                )
            }
            None => (None, None),
        };
        let result =
            crate::listener::serve(self.listener, app, self.limits, acceptor, shutdown).await;
        if let Some(w) = cert_watcher {
            w.abort();
        }
        // Also when the public listener ended on an error, not on the shutdown signal.
        let _ = stop.send(true);
        if let Some(metrics) = metrics
            && let Ok(Err(error)) = metrics.await
        {
            tracing::warn!(%error, "metrics listener failed");
        }
        watcher.abort();
        cleanup.abort();
        result
    }
}

/// The pool and migration settings a configuration asks for.
pub fn store_options(config: &Config) -> store::StoreOptions {
    store::StoreOptions {
        max_connections: config
            .database_pool
            .max_connections
            .and_then(|n| u32::try_from(n).ok()),
        acquire_timeout: Duration::from_secs(config.database_pool.acquire_timeout.0),
        migrate: true,
        create: true,
    }
}

async fn open_store(
    url: &str,
    options: &store::StoreOptions,
) -> Result<Arc<dyn Store>, StartupError> {
    store::open_with(url, options)
        .await
        .map_err(|reason| StartupError::Store {
            url: crate::config::redact_url(url),
            reason,
        })
}

async fn apply_declared_clients(
    config: &Config,
    store: &dyn Store,
    hasher: &SecretHasher,
    clock: &dyn Clock,
) -> Result<(), StartupError> {
    let admin = ClientAdmin::new(store, hasher, clock.now());
    for (index, declared) in config.clients.iter().enumerate() {
        let fail = |reason| StartupError::DeclaredClient {
            index,
            client_id: declared.client_id.to_string(),
            reason,
        };
        let client_id = declared.client_id.clone();
        let secret = declared
            .secret()
            .map_err(|e| fail(AdminError::Invalid(format!("client_secret: {e}"))))?;
        admin
            .apply_declared(client_id, declared.metadata(), secret)
            .await
            .map_err(fail)?;
    }
    Ok(())
}

async fn apply_declared_users(
    config: &Config,
    store: &dyn Store,
    passwords: &PasswordHasher,
    clock: &dyn Clock,
) -> Result<(), StartupError> {
    let admin = UserAdmin::new(store, passwords, clock.now());
    for (index, declared) in config.users.iter().enumerate() {
        let fail = |reason| StartupError::DeclaredUser {
            index,
            username: declared.username.clone(),
            reason,
        };
        let password = match (declared.password(), &declared.password_hash) {
            (Ok(Some(p)), _) => PasswordSource::Plain(p),
            (Ok(None), Some(h)) => PasswordSource::Hash(h.clone()),
            (Ok(None), None) => {
                return Err(fail(crate::users::UserError::Invalid(
                    "give password or password_hash".into(),
                )));
            }
            (Err(e), _) => {
                return Err(fail(crate::users::UserError::Invalid(format!(
                    "password: {e}"
                ))));
            }
        };
        let profile = Profile {
            email: declared.email.clone(),
            email_verified: declared.email_verified,
            name: declared.name.clone(),
            given_name: declared.given_name.clone(),
            family_name: declared.family_name.clone(),
        };
        admin
            .apply_declared(&declared.username, password, profile)
            .await
            .map_err(fail)?;
    }
    Ok(())
}
