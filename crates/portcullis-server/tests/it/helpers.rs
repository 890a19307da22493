use portcullis_core::{Clock, ManualClock, SystemClock};
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use portcullis_server::client_secret::SecretHasher;
use portcullis_server::registry::Registry;
use portcullis_server::store::Store;
use portcullis_server::{Config, Server};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::Arc;

pub struct TestApp {
    /// Where the server listens.
    pub base: String,
    /// The issuer it puts in tokens (the same as `base` unless configured).
    pub issuer: String,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    /// The master-key vault of the configuration (the HMAC key for client secrets is sealed
    /// under it).
    pub vault: Arc<portcullis_server::keys::KeyVault>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    // Last, so the server is told to stop before its database goes.
    pub database: crate::databases::TestDatabase,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    try_spawn_with(configure).await.expect("server starts")
}

pub async fn try_spawn_with(
    configure: impl FnOnce(&mut Config),
) -> Result<TestApp, portcullis_server::startup::StartupError> {
    let database = crate::databases::TestDatabase::for_suite().await;
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: database.url.clone(),
        ..Config::default()
    };
    configure(&mut config);
    let vault = Arc::new(config.key_vault()?);
    let clock = ManualClock::new(SystemClock.now());
    let server = Server::build(config, Arc::new(clock.clone())).await?;
    let base = format!("http://{}", server.local_addr().unwrap());
    let issuer = server.issuer().to_owned();
    let store = server.store();
    let registry = server.registry();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    Ok(TestApp {
        base,
        issuer,
        store,
        registry,
        clock,
        http: reqwest::Client::new(),
        vault,
        database,
        _shutdown: tx,
    })
}

impl TestApp {
    pub async fn hasher(&self) -> SecretHasher {
        SecretHasher::load_with(self.store.as_ref(), &self.vault)
            .await
            .unwrap()
    }

    /// Registers a client and waits until the server has loaded it.
    pub async fn create_client(&self, metadata: ClientMetadata) -> (String, String) {
        let hasher = self.hasher().await;
        let saved = ClientAdmin::new(self.store.as_ref(), &hasher, self.clock.now())
            .create(None, metadata, SecretSource::Generate)
            .await
            .unwrap();
        self.registry.refresh().await.unwrap();
        (
            saved.client_id.to_string(),
            saved.secret.unwrap().expose().to_owned(),
        )
    }

    pub async fn post_token(&self, form: &[(&str, &str)]) -> Answer {
        self.send(self.token_request().form(form)).await
    }

    pub async fn post_token_basic(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Answer {
        let header = portcullis_core::basic::encode_basic(id, secret);
        self.send(
            self.token_request()
                .header("authorization", header)
                .form(form),
        )
        .await
    }

    /// `grant_type=client_credentials` with client_secret_post, as the seed scripts send it.
    pub async fn client_credentials(&self, id: &str, secret: &str) -> Answer {
        self.post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .await
    }

    pub fn token_request(&self) -> reqwest::RequestBuilder {
        self.http.post(format!("{}/token", self.base))
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("body is not JSON ({status}): {text:?}"));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get_json(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// A confidential client_credentials client with the given scope.
    pub async fn service_client(&self, scope: &str) -> (String, String) {
        self.create_client(ClientMetadata {
            scope: scope.into(),
            ..ClientMetadata::default()
        })
        .await
    }
}

impl Answer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error()),
            (status, error),
            "body: {}",
            self.body
        );
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert!(
            self.body["error_description"].is_string(),
            "a description helps: {}",
            self.body
        );
    }
}

/// The claims of a JWT, unchecked: for looking at what the server put in a token.
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}
