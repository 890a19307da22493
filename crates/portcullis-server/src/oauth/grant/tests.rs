//! The grants, introspection and revocation called directly, with no socket: a real store in a
//! temporary directory, a manual clock, and tokens checked with the same verifier the endpoints use.

use super::token;
use crate::client::ClientMetadata;
use crate::oauth::authorization_request::AuthorizeError;
use crate::oauth::authorize::{Action, LoginProblem, Step, Visit};
use crate::oauth::bearer::verify_access_token;
use crate::oauth::error::TokenError;
use crate::oauth::testing::{IP, ISSUER, REDIRECT, TestIssuer, VERIFIER};
use crate::oauth::{introspection, revocation};
use portcullis_core::{Clock, ErrorCode, GrantType, Secret, TokenResponse};

/// Runs the token endpoint's grant for an already authenticated client.
async fn grant(
    t: &TestIssuer,
    client_id: &str,
    pairs: &[(&str, &str)],
) -> Result<TokenResponse, TokenError> {
    let snapshot = t.snapshot();
    let client = snapshot.client(client_id).unwrap().clone();
    token(
        &t.issuer,
        &client,
        &snapshot,
        &TestIssuer::form(pairs),
        IP,
        None,
    )
    .await
}

async fn exchange_code(t: &TestIssuer, code: &str) -> Result<TokenResponse, TokenError> {
    grant(
        t,
        "web",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn refresh(t: &TestIssuer, refresh_token: &str) -> Result<TokenResponse, TokenError> {
    grant(
        t,
        "web",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// An issuer with the first-party client `web` and the user `alice`, and a code alice's browser
/// got for `scope`.
async fn signed_in(grace: u64, scope: &str) -> (TestIssuer, String) {
    let t = TestIssuer::new(grace).await;
    t.code_client("web").await;
    let user = t.user("alice").await;
    let code = t.code("web", &user, scope).await;
    (t, code)
}

/// As [`signed_in`], with the code exchanged: the refresh token.
async fn refresh_token_for(grace: u64, scope: &str) -> (TestIssuer, String) {
    let (t, code) = signed_in(grace, scope).await;
    let tokens = exchange_code(&t, &code).await.unwrap();
    (t, tokens.refresh_token.expect("a refresh token"))
}

fn code_of(result: Result<TokenResponse, TokenError>) -> ErrorCode {
    result.unwrap_err().code()
}

#[tokio::test]
async fn client_credentials_issues_an_access_token_the_verifier_accepts() {
    let t = TestIssuer::new(0).await;
    t.client(
        "svc",
        ClientMetadata {
            scope: "api".into(),
            ..ClientMetadata::default()
        },
    )
    .await;
    let response = grant(&t, "svc", &[("grant_type", "client_credentials")])
        .await
        .unwrap();
    assert_eq!(response.token_type, "Bearer");
    assert!(response.refresh_token.is_none());
    let verified = verify_access_token(
        &response.access_token,
        &t.snapshot().keys,
        ISSUER,
        t.clock.now(),
        t.issuer.max_token_lifetime(),
    )
    .expect("an access token of ours");
    assert_eq!(verified.text("client_id"), Some("svc"));
    assert_eq!(verified.scope().to_string(), "api");
    // A scope the client was not registered for is refused.
    let wider = grant(
        &t,
        "svc",
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(code_of(wider), ErrorCode::InvalidScope);
}

#[tokio::test]
async fn a_client_uses_only_its_registered_grants() {
    let t = TestIssuer::new(0).await;
    t.client("svc", ClientMetadata::default()).await;
    let refused = grant(
        &t,
        "svc",
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(code_of(refused), ErrorCode::UnauthorizedClient);
}

#[tokio::test]
async fn a_code_is_exchanged_once_and_its_replay_revokes_what_it_granted() {
    let (t, code) = signed_in(0, "openid offline_access").await;
    let tokens = exchange_code(&t, &code).await.unwrap();
    assert!(tokens.id_token.is_some());
    let refresh_token = tokens
        .refresh_token
        .expect("offline_access gives a refresh token");
    // The replay is refused, and the refresh token from the first exchange dies with it.
    assert_eq!(
        code_of(exchange_code(&t, &code).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        code_of(refresh(&t, &refresh_token).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn a_code_with_the_wrong_verifier_is_refused_and_stays_usable() {
    let (t, code) = signed_in(0, "openid").await;
    let wrong = grant(
        &t,
        "web",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "not-the-verifier-not-the-verifier-not-the-verifier",
            ),
        ],
    )
    .await;
    assert_eq!(code_of(wrong), ErrorCode::InvalidGrant);
    exchange_code(&t, &code)
        .await
        .expect("the right verifier still works");
}

#[tokio::test]
async fn a_code_expires() {
    let (t, code) = signed_in(0, "openid").await;
    t.clock.advance(61);
    assert_eq!(
        code_of(exchange_code(&t, &code).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn a_refresh_token_rotates_and_a_reused_one_revokes_the_grant() {
    let (t, first) = refresh_token_for(0, "openid offline_access").await;
    let second = refresh(&t, &first).await.unwrap().refresh_token.unwrap();
    assert_ne!(first, second);
    // The old token again: a replay, so the whole grant ends, the new token with it.
    assert_eq!(code_of(refresh(&t, &first).await), ErrorCode::InvalidGrant);
    assert_eq!(code_of(refresh(&t, &second).await), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn a_rotated_refresh_token_may_be_exchanged_once_more_within_the_grace_period() {
    let (t, first) = refresh_token_for(30, "openid offline_access").await;
    refresh(&t, &first).await.unwrap();
    let retried = refresh(&t, &first).await.unwrap().refresh_token.unwrap();
    // Once only: the third use is a replay.
    assert_eq!(code_of(refresh(&t, &first).await), ErrorCode::InvalidGrant);
    assert_eq!(
        code_of(refresh(&t, &retried).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let (t, token) = refresh_token_for(0, "openid offline_access api").await;
    let narrowed = grant(
        &t,
        "web",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &token),
            ("scope", "api"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(narrowed.scope.as_deref(), Some("api"));
    let next = narrowed.refresh_token.unwrap();
    let wider = grant(
        &t,
        "web",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &next),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(code_of(wider), ErrorCode::InvalidScope);
}

#[tokio::test]
async fn introspection_sees_a_token_until_it_is_revoked() {
    let (t, code) = signed_in(0, "openid offline_access").await;
    let tokens = exchange_code(&t, &code).await.unwrap();
    let snapshot = t.snapshot();
    let client = snapshot.client("web").unwrap().clone();
    // Each request reads the registry's snapshot of its moment, as the endpoints do.
    let ask = |token: String| {
        let (t, client) = (&t, client.clone());
        async move {
            let form = TestIssuer::form(&[("token", &token)]);
            introspection::introspect(&t.issuer, &client, &t.snapshot(), &form)
                .await
                .unwrap()["active"]
                .clone()
        }
    };
    assert_eq!(ask(tokens.access_token.clone()).await, true);
    let refresh_token = tokens.refresh_token.unwrap();
    assert_eq!(ask(refresh_token.clone()).await, true);
    for token in [&tokens.access_token, &refresh_token] {
        let form = TestIssuer::form(&[("token", token)]);
        revocation::revoke(&t.issuer, &client, &snapshot, &form)
            .await
            .unwrap();
    }
    assert_eq!(ask(tokens.access_token).await, false);
    assert_eq!(ask(refresh_token).await, false);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let (t, refresh_token) = refresh_token_for(0, "openid offline_access").await;
    let other = t.code_client("other").await;
    let form = TestIssuer::form(&[("token", &refresh_token)]);
    let refused = revocation::revoke(&t.issuer, &other, &t.snapshot(), &form).await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::UnauthorizedClient);
    refresh(&t, &refresh_token).await.expect("left alone");
}

#[tokio::test]
async fn authorize_asks_for_a_login_or_consent_and_prompt_none_goes_back_to_the_client() {
    let t = TestIssuer::new(0).await;
    let metadata = ClientMetadata {
        grant_types: vec![GrantType::AuthorizationCode],
        redirect_uris: vec![REDIRECT.into()],
        response_types: vec!["code".into()],
        scope: "openid api".into(),
        ..ClientMetadata::default()
    };
    t.client("third", metadata).await;
    let request = t.request("third", "openid api");
    let visit = |session, action| Visit {
        request: &request,
        session,
        action,
        ip: IP,
    };
    // Nobody signed in: the login page.
    let outcome = crate::oauth::authorize::authorize(&t.issuer, visit(None, None)).await;
    assert!(
        matches!(outcome.step, Step::Login { problem: None, .. }),
        "{outcome:?}"
    );
    // A wrong password: the login page again, and no session.
    let user = t.user("alice").await;
    let wrong = Action::Login {
        username: "alice".into(),
        password: Secret::new("wrong password"),
    };
    let outcome = crate::oauth::authorize::authorize(&t.issuer, visit(None, Some(wrong))).await;
    assert!(
        matches!(
            outcome.step,
            Step::Login {
                problem: Some(LoginProblem::WrongCredentials),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(outcome.new_session.is_none());
    // Signed in, a third-party client: consent first.
    let session = t.session(&user).await;
    let outcome = t.authorize(&request, &session).await;
    assert!(matches!(outcome.step, Step::Consent { .. }), "{outcome:?}");
    // Allowed: a code, with state and iss (RFC 9207).
    let allow = Action::Allow { login_time: None };
    let shown_visit = format!("{:?}", visit(Some(&session), None));
    assert!(!shown_visit.contains(&session), "{shown_visit}");
    let outcome =
        crate::oauth::authorize::authorize(&t.issuer, visit(Some(&session), Some(allow))).await;
    let shown = format!("{outcome:?}");
    let Step::IssueCode { response } = outcome.step else {
        panic!("expected a code: {outcome:?}");
    };
    let location = response.location();
    assert!(location.starts_with(REDIRECT), "{location}");
    let iss = crate::oauth::testing::url_param(&location, "iss");
    assert_eq!(iss.as_deref(), Some(ISSUER));
    // Debug shows neither the code nor the session.
    let code = crate::oauth::testing::url_param(&location, "code").unwrap();
    assert!(!shown.contains(&code), "{shown}");
    // prompt=none with nobody signed in: login_required, back at the client.
    let mut silent = request.clone();
    silent.prompt.none = true;
    let outcome = crate::oauth::authorize::authorize(
        &t.issuer,
        Visit {
            request: &silent,
            session: None,
            action: None,
            ip: IP,
        },
    )
    .await;
    assert!(
        matches!(
            outcome.step,
            Step::Fail(AuthorizeError::Redirect {
                code: ErrorCode::LoginRequired,
                ..
            })
        ),
        "{outcome:?}"
    );
}

/// A verified access token is remembered, but its expiry is checked on every use.
#[tokio::test]
async fn a_remembered_access_token_still_expires() {
    let (t, code) = signed_in(0, "openid").await;
    let access = exchange_code(&t, &code).await.unwrap().access_token;
    let client = t.snapshot().client("web").unwrap().clone();
    let active = || {
        let (t, client, access) = (&t, client.clone(), access.clone());
        async move {
            let form = TestIssuer::form(&[("token", &access)]);
            introspection::introspect(&t.issuer, &client, &t.snapshot(), &form)
                .await
                .unwrap()["active"]
                == true
        }
    };
    assert!(active().await);
    assert!(active().await, "the second check, from the cache");
    assert!(
        t.issuer
            .verify_access_token(&access, &t.snapshot())
            .is_some(),
        "remembered"
    );
    t.clock.advance(301);
    assert!(!active().await, "expired, cached or not");
}

/// A pushed request resolved by two visits at once (both read it before either issued a code)
/// still gives one code: issuing one marks the request used in the same store call that decides.
#[tokio::test]
async fn a_pushed_request_read_twice_gives_one_code() {
    let t = TestIssuer::new(0).await;
    let client = t.code_client("web").await;
    let user = t.user("alice").await;
    let session = t.session(&user).await;
    let query = format!(
        "response_type=code&redirect_uri={}&scope=openid&state=s\
         &code_challenge={}&code_challenge_method=S256",
        form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        crate::oauth::testing::CHALLENGE
    );
    let pushed = crate::oauth::par::push(
        &t.issuer,
        &client,
        &t.snapshot(),
        &portcullis_core::FormParams::parse(query.as_bytes()).unwrap(),
        None,
    )
    .await
    .unwrap();
    let visit = TestIssuer::form(&[("client_id", "web"), ("request_uri", &pushed.request_uri)]);
    let first = crate::oauth::par::resolve(&t.issuer, &visit).await.unwrap();
    let second = crate::oauth::par::resolve(&t.issuer, &visit).await.unwrap();
    assert!(matches!(
        t.authorize(&first, &session).await.step,
        Step::IssueCode { .. }
    ));
    let outcome = t.authorize(&second, &session).await;
    assert!(
        matches!(
            &outcome.step,
            Step::Fail(AuthorizeError::Redirect {
                code: ErrorCode::InvalidRequest,
                ..
            })
        ),
        "{outcome:?}"
    );
    // Now that it is used, it no longer resolves at all.
    assert!(crate::oauth::par::resolve(&t.issuer, &visit).await.is_err());
}
