//! A real [`Issuer`] for unit tests of the protocol layer: a fresh SQLite database in a temporary
//! directory, generated keys, a manual clock, and no socket. The tests call `oauth/` directly.

use super::authorization_request::AuthorizationRequest;
use super::authorize::{Outcome, Step, Visit};
use super::settings::{TokenSettings, UserTokenSettings};
use super::{FailureLimits, Issuer};
use crate::admin::{ClientAdmin, SecretSource};
use crate::client::{Client, ClientMetadata};
use crate::client_secret::SecretHasher;
use crate::crypto::{random_token, token_hash};
use crate::keys::{self, KeyVault};
use crate::registry::{Registry, Snapshot};
use crate::store::{self, Store};
use crate::throttle::{Locks, Throttle, Window};
use crate::users::{PasswordHasher, PasswordSource, Profile, UserAdmin};
use portcullis_core::{Algorithm, Clock, FormParams, GrantType, ManualClock, UnixTime};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The issuer identifier of the test issuer.
pub const ISSUER: &str = "https://issuer.test";
/// Where the test clients are sent back.
pub const REDIRECT: &str = "https://app.test/cb";
/// The address every test request comes from.
pub const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// A PKCE verifier and its S256 challenge (RFC 7636 appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The challenge of [`VERIFIER`].
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An issuer over a fresh database, and the handles a test needs.
pub struct TestIssuer {
    /// The issuer under test.
    pub issuer: Issuer,
    /// Its clock, to move time on.
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
}

impl TestIssuer {
    /// A new issuer at a fixed time, with a grace period for rotated refresh tokens of `grace`.
    pub async fn new(grace: u64) -> TestIssuer {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("oauth.db").display());
        let store: Arc<dyn Store> = store::open(&url).await.unwrap();
        let clock = ManualClock::new(UnixTime(1_800_000_000));
        let vault = Arc::new(KeyVault::none());
        keys::ensure_signing_keys(store.as_ref(), &vault, clock.now())
            .await
            .unwrap();
        let hasher = SecretHasher::load(store.as_ref()).await.unwrap();
        let registry = Arc::new(Registry::load(store.clone(), vault).await.unwrap());
        let locks = Arc::new(Locks::default());
        let throttle = || Throttle::new(store.clone(), Window::new(900), locks.clone());
        let issuer = Issuer {
            registry,
            store: store.clone(),
            clock: Arc::new(clock.clone()),
            hasher,
            passwords: PasswordHasher::new(1).unwrap(),
            tokens: TokenSettings {
                issuer: ISSUER.into(),
                access_token_lifetime: 300,
                default_alg: Algorithm::ES256,
            },
            user_tokens: UserTokenSettings {
                code_lifetime: 60,
                id_token_alg: Algorithm::ES256,
                id_token_lifetime: 300,
                refresh_idle: 3600,
                refresh_absolute: 86_400,
                refresh_grace: grace,
            },
            sign_in_throttle: throttle(),
            client_auth_throttle: throttle(),
            limits: FailureLimits {
                sign_in_per_username: 5,
                sign_in_per_address: 100,
                client_per_address: 10,
                client_address: 100,
                user_code_per_address: 20,
                device_authorization_per_address: 100,
            },
            session_lifetime: 3600,
            metrics: crate::metrics::Metrics::new(),
            verified: Default::default(),
            client_keys: crate::client_keys::ClientKeys::new(Arc::new(clock.clone())),
            par_required: false,
            dpop_nonces: crate::oauth::dpop::DpopNonces::new(b"test nonce key", false),
            device: crate::oauth::settings::DeviceSettings {
                code_lifetime: 600,
                interval: 5,
            },
            registration: crate::oauth::registration::RegistrationSettings {
                enabled: false,
                token_required: true,
                scope: portcullis_core::Scope::default(),
                per_address: 10,
            },
            registration_throttle: throttle(),
        };
        TestIssuer {
            issuer,
            clock,
            _dir: dir,
        }
    }

    /// Registers a client and returns it, as the registry now holds it.
    pub async fn client(&self, id: &str, metadata: ClientMetadata) -> Arc<Client> {
        let admin = ClientAdmin::new(
            self.issuer.store.as_ref(),
            &self.issuer.hasher,
            self.clock.now(),
        );
        admin
            .create(
                Some(portcullis_core::ClientId::parse(id).unwrap()),
                metadata,
                SecretSource::Generate,
            )
            .await
            .unwrap();
        self.issuer.registry.refresh().await.unwrap();
        self.snapshot().client(id).unwrap().clone()
    }

    /// A confidential first-party client of the code flow with refresh tokens.
    pub async fn code_client(&self, id: &str) -> Arc<Client> {
        self.client(
            id,
            ClientMetadata {
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                redirect_uris: vec![REDIRECT.into()],
                response_types: vec!["code".into()],
                scope: "openid profile offline_access api".into(),
                first_party: true,
                ..ClientMetadata::default()
            },
        )
        .await
    }

    /// The registry's current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.issuer.registry.snapshot()
    }

    /// Creates a user and returns its id. The password is a stored hash that no password matches:
    /// these tests sign in through a session, so no Argon2 runs.
    pub async fn user(&self, username: &str) -> String {
        let passwords = &self.issuer.passwords;
        let admin = UserAdmin::new(self.issuer.store.as_ref(), passwords, self.clock.now());
        let phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                   AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        admin
            .create(
                username,
                PasswordSource::Hash(phc.into()),
                Profile::default(),
            )
            .await
            .unwrap()
    }

    /// A browser session for `user_id`, signed in now; the cookie value.
    pub async fn session(&self, user_id: &str) -> String {
        let value = random_token().unwrap();
        let now = self.clock.now().0;
        self.issuer
            .store
            .insert_session(&token_hash(&value), user_id, now, now + 3600)
            .await
            .unwrap();
        value
    }

    /// An authorization request of `client_id` with PKCE, as the browser would send it.
    pub fn request(&self, client_id: &str, scope: &str) -> AuthorizationRequest {
        let query = format!(
            "response_type=code&client_id={client_id}&redirect_uri={}&scope={}\
             &state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256",
            form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
        );
        let form = FormParams::parse(query.as_bytes()).unwrap();
        AuthorizationRequest::parse(&form, &self.snapshot(), false).unwrap()
    }

    /// Runs the authorization endpoint's decision for a signed-in browser.
    pub async fn authorize(&self, request: &AuthorizationRequest, session: &str) -> Outcome {
        super::authorize::authorize(
            &self.issuer,
            Visit {
                request,
                session: Some(session),
                action: None,
                ip: IP,
            },
        )
        .await
    }

    /// A code for `user_id` from the whole authorization decision, as the redirect carries it.
    pub async fn code(&self, client_id: &str, user_id: &str, scope: &str) -> String {
        let session = self.session(user_id).await;
        let request = self.request(client_id, scope);
        match self.authorize(&request, &session).await.step {
            Step::IssueCode { response } => url_param(&response.location(), "code").unwrap(),
            other => panic!("expected a code, got {other:?}"),
        }
    }

    /// A token request form.
    pub fn form(pairs: &[(&str, &str)]) -> FormParams {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        FormParams::parse(body.as_bytes()).unwrap()
    }
}

/// One query parameter of a URL.
pub fn url_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}
