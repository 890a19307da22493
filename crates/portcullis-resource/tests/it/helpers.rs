use portcullis_core::{Algorithm, Clock, ManualClock, SystemClock};
use portcullis_resource::Validator;
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use portcullis_server::client_secret::SecretHasher;
use portcullis_server::keys::KeySet;
use portcullis_server::registry::Registry;
use portcullis_server::store::Store;
use portcullis_server::{Config, Server};
use std::sync::Arc;

pub const API: &str = "https://api.example.com";

pub struct Issuer {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn issuer() -> Issuer {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", dir.path().join("r.db").display()),
        ..Config::default()
    };
    let clock = ManualClock::new(SystemClock.now());
    let server = Server::build(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let base = server.issuer().to_owned();
    let (store, registry) = (server.store(), server.registry());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    Issuer {
        base,
        store,
        registry,
        clock,
        http: reqwest::Client::new(),
        _dir: dir,
        _stop: tx,
    }
}

impl Issuer {
    pub async fn client(&self, metadata: ClientMetadata) -> (String, String) {
        let hasher = SecretHasher::load(self.store.as_ref()).await.unwrap();
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

    /// The issuer's published key set.
    pub async fn jwks<T: serde::de::DeserializeOwned>(&self) -> T {
        self.http
            .get(format!("{}/jwks.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A client_credentials token for the API with `scope`, signed with `alg`.
    pub async fn token(&self, scope: &str, alg: Algorithm) -> String {
        let (id, secret) = self
            .client(ClientMetadata {
                scope: scope.into(),
                audience: vec![API.into()],
                access_token_signed_response_alg: Some(alg),
                ..ClientMetadata::default()
            })
            .await;
        let body: serde_json::Value = self
            .http
            .post(format!("{}/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Signs arbitrary claims with the issuer's active key for `alg`, as the issuer would.
    pub async fn sign(
        &self,
        alg: Algorithm,
        claims: serde_json::Value,
        id_token_typ: bool,
    ) -> String {
        let keys = KeySet::from_rows(
            &self.store.signing_keys().await.unwrap(),
            &portcullis_server::keys::KeyVault::none(),
        );
        let key = keys.signer(alg, self.clock.now()).unwrap();
        if id_token_typ {
            key.sign_id_token(&claims).unwrap()
        } else {
            key.sign_access_token(&claims).unwrap()
        }
    }

    pub fn validator(&self) -> portcullis_resource::ValidatorBuilder {
        Validator::builder(&self.base, API).clock(Arc::new(self.clock.clone()))
    }
}
