//! The Device Authorization Grant (RFC 8628), up to the user's decision: the device authorization
//! endpoint (§3.1, §3.2), and what the verification page at `/device` does next (§3.3) as the
//! person types the code, signs in and approves or denies. The polling is a grant
//! (`grant/device_code.rs`); `http/device.rs` reads the requests and renders the pages.
//!
//! Like `/authorize`, each POST from the page carries the user code as a hidden field and is
//! checked again from the start, so the page keeps no half-finished state on the server. Every
//! lookup of a user code is counted against the address before it is made, and a wrong one is
//! kept (RFC 8628 §5.1), so a guesser gets `[device] max_failed_codes_per_address` tries per
//! window, on every instance together.
//!
//! The consent page is shown for every device, even for a first-party client or a user who
//! consented before: it names the client and shows the code, so that someone who was sent a code
//! by an attacker (RFC 8628 §5.4, remote phishing) sees what they are about to let in.

use super::Issuer;
use super::authorization_request::AuthorizeError;
use super::authorize::{LoginProblem, server_error, sign_in, start_session};
use super::error::TokenError;
use crate::client::Client;
use crate::crypto::{random_token, random_user_code, token_hash};
use crate::store::device::{Decision, DeviceCodeRow};
use crate::throttle::Reserved;
use portcullis_core::device::{display_user_code, normalize_user_code};
use portcullis_core::{ErrorCode, FormParams, GrantType, Scope, Secret};
use std::net::IpAddr;
use std::sync::Arc;

/// The answer of the device authorization endpoint (RFC 8628 §3.2). `Debug` leaves out the
/// device code.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceAuthorization {
    /// What the device polls with.
    pub device_code: String,
    /// What the person types, as `XXXX-XXXX`.
    pub user_code: String,
    /// The verification page.
    pub verification_uri: String,
    /// The page with the code filled in, for a QR code.
    pub verification_uri_complete: String,
    /// Seconds both codes work.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Counts a device authorization against its address; every one counts, answered or not.
async fn count_device_authorization(
    issuer: &Issuer,
    ip: IpAddr,
    now: i64,
) -> Result<(), TokenError> {
    let keys = issuer.device_authorization_keys(ip);
    match issuer
        .sign_in_throttle
        .count_attempt(&keys, now)
        .await
        .map_err(super::grant::store_error)?
    {
        None => Ok(()),
        Some(wait) => Err(TokenError::Throttled {
            retry_after: u64::try_from(wait).unwrap_or(1),
            what: "device authorizations from this address",
        }),
    }
}

/// The device authorization endpoint, once the client is authenticated: checks that it may use
/// the grant and the scope it asks for, counts the request against the address it came from
/// (every request stores a row for the codes' lifetime, and a public client_id is no secret), and
/// stores a new request.
pub async fn authorize_device(
    issuer: &Issuer,
    client: &Client,
    form: &FormParams,
    ip: IpAddr,
) -> Result<DeviceAuthorization, TokenError> {
    super::grant::require_grant(client, GrantType::DeviceCode)?;
    match form.get("client_id") {
        Ok(None) => {}
        Ok(Some(id)) if id == client.id.as_str() => {}
        Ok(Some(_)) => {
            return Err(TokenError::invalid_request(
                "client_id differs from the client that authenticated",
            ));
        }
        Err(e) => return Err(TokenError::invalid_request(e.to_string())),
    }
    let scope = match form
        .get("scope")
        .map_err(|e| TokenError::invalid_request(e.to_string()))?
    {
        Some(s) => {
            Scope::parse(s).map_err(|e| TokenError::new(ErrorCode::InvalidScope, e.to_string()))?
        }
        None => client.default_scope.clone(),
    };
    if !scope.is_subset_of(&client.scope) {
        return Err(TokenError::new(
            ErrorCode::InvalidScope,
            "the scope asks for more than this client may have",
        ));
    }
    let now = issuer.clock.now().0;
    count_device_authorization(issuer, ip, now).await?;
    let settings = issuer.device;
    let device_code = random_token()?;
    // A clash with a kept user code is unlikely (one in 2^34 per kept row); draw again.
    for _ in 0..5 {
        let user_code = random_user_code()?;
        let row = DeviceCodeRow {
            device_code_hash: token_hash(&device_code),
            user_code_hash: token_hash(&user_code),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            expires_at: now + settings.code_lifetime as i64,
            poll_interval: settings.interval as i64,
            last_polled_at: None,
            slowed: 0,
            user_id: None,
            auth_time: None,
            approved_at: None,
            denied_at: None,
            used_at: None,
        };
        let stored = issuer
            .store
            .insert_device_code(&row)
            .await
            .map_err(|e| TokenError::server(format!("storage: {e}")))?;
        if !stored {
            continue;
        }
        tracing::info!(
            target: "portcullis::audit",
            event = "device_authorization",
            client_id = client.id.as_str(),
            "device authorization started"
        );
        let shown = display_user_code(&user_code);
        let verification_uri = format!("{}/device", issuer.issuer());
        return Ok(DeviceAuthorization {
            device_code,
            verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
            verification_uri,
            user_code: shown,
            expires_in: settings.code_lifetime,
            interval: settings.interval,
        });
    }
    Err(TokenError::server("no free user code after 5 draws"))
}

/// What the person did on the verification page. The caller has checked the form's CSRF token.
#[derive(Debug)]
pub enum DeviceAction {
    /// Typed (or confirmed) the user code.
    Code,
    /// Signed in.
    Login {
        /// As typed.
        username: String,
        /// As typed.
        password: Secret,
    },
    /// Allowed the device.
    Allow,
    /// Denied it.
    Deny,
}

impl DeviceAction {
    /// The action of a form POSTed from the page; none for anything else.
    pub fn from_form(form: &FormParams) -> Option<Self> {
        let get = |name| form.get(name).ok().flatten();
        match get("action")? {
            "code" => Some(DeviceAction::Code),
            "login" => Some(DeviceAction::Login {
                username: get("username").unwrap_or_default().to_owned(),
                password: Secret::new(get("password").unwrap_or_default()),
            }),
            "allow" => Some(DeviceAction::Allow),
            "deny" => Some(DeviceAction::Deny),
            _ => None,
        }
    }
}

/// One visit to the verification page. `Debug` leaves out the session cookie's value.
pub struct DeviceVisit<'a> {
    /// `user_code`, as typed or as the link carried it.
    pub user_code: Option<&'a str>,
    /// The value of the session cookie, if the browser sent one.
    pub session: Option<&'a str>,
    /// What the person did, if this is a POST from the page.
    pub action: Option<DeviceAction>,
    /// The browser's address, as the throttles see it.
    pub ip: IpAddr,
}

impl std::fmt::Debug for DeviceVisit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceVisit")
            .field("user_code", &self.user_code)
            .field("session", &self.session.map(|_| "[redacted]"))
            .field("action", &self.action)
            .field("ip", &self.ip)
            .finish()
    }
}

/// Why the code page is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// No request waits for this code: mistyped, expired, or decided already.
    Unknown,
    /// Too many wrong codes from this address: try again in this many seconds.
    Locked {
        /// Seconds.
        retry_after: i64,
    },
}

/// The request a good user code names, for the pages.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    /// The client that asked.
    pub client: Arc<Client>,
    /// The scope it asked for.
    pub scope: Scope,
    /// The user code, as `XXXX-XXXX`.
    pub user_code: String,
}

/// What the page does next.
#[derive(Debug)]
pub enum DeviceStep {
    /// Ask for the code (filled in with `user_code`).
    EnterCode {
        /// What to fill in.
        user_code: String,
        /// Why it is asked again, if it is.
        problem: Option<CodeProblem>,
    },
    /// Show the login page.
    Login {
        /// The request.
        request: DeviceRequest,
        /// Why it is shown again, if it is.
        problem: Option<LoginProblem>,
        /// The username to fill in.
        username: String,
    },
    /// Ask the signed-in user to allow the device.
    Consent {
        /// The request.
        request: DeviceRequest,
        /// The user's name (or username).
        user_name: String,
    },
    /// Allowed: the device gets its tokens at its next poll.
    Approved(DeviceRequest),
    /// Denied: the device hears `access_denied`.
    Denied(DeviceRequest),
    /// Our own failure.
    Fail(AuthorizeError),
}

/// The step, and a new browser session when the user just signed in.
#[derive(Debug)]
pub struct DeviceOutcome {
    /// What to do.
    pub step: DeviceStep,
    /// The value of a new session cookie to set.
    pub new_session: Option<Secret>,
}

/// Decides the next step of the verification page.
pub async fn verify(issuer: &Issuer, visit: DeviceVisit<'_>) -> DeviceOutcome {
    let mut new_session = None;
    let step = decide(issuer, visit, &mut new_session)
        .await
        .unwrap_or_else(DeviceStep::Fail);
    DeviceOutcome { step, new_session }
}

async fn decide(
    issuer: &Issuer,
    visit: DeviceVisit<'_>,
    new_session: &mut Option<Secret>,
) -> Result<DeviceStep, AuthorizeError> {
    let DeviceVisit {
        user_code,
        session,
        action,
        ip,
    } = visit;
    let typed = user_code.unwrap_or_default().trim();
    let Some(action) = action else {
        return Ok(DeviceStep::EnterCode {
            user_code: typed.chars().take(20).collect(),
            problem: None,
        });
    };
    let now = issuer.clock.now().0;
    let request = match find_request(issuer, typed, ip, now).await? {
        Ok(request) => request,
        Err(problem) => {
            return Ok(DeviceStep::EnterCode {
                user_code: typed.chars().take(20).collect(),
                problem: Some(problem),
            });
        }
    };
    let store = issuer.store.as_ref();
    let mut signed_in = match session {
        Some(value) => store
            .session(&token_hash(value), now)
            .await
            .map_err(server_error)?,
        None => None,
    };
    match action {
        // Only the signed-in user cancels: someone who merely saw the code on the TV may not.
        DeviceAction::Deny => {
            if let Some((user_id, _)) = &signed_in {
                return decided(issuer, request, Decision::Deny, now, (user_id, ip)).await;
            }
        }
        DeviceAction::Login { username, password } => {
            let client_id = request.client.id.to_string();
            match sign_in(issuer, &client_id, &username, &password, ip, now).await? {
                Ok(user_id) => {
                    *new_session = Some(start_session(issuer, &user_id, now).await?);
                    signed_in = Some((user_id, now));
                }
                Err(problem) => {
                    return Ok(DeviceStep::Login {
                        request,
                        problem: Some(problem),
                        username,
                    });
                }
            }
        }
        DeviceAction::Allow => {
            if let Some((user_id, auth_time)) = &signed_in {
                let decision = Decision::Approve {
                    user_id,
                    auth_time: *auth_time,
                };
                return decided(issuer, request, decision, now, (user_id, ip)).await;
            }
        }
        DeviceAction::Code => {}
    }
    let Some((user_id, _)) = signed_in else {
        return Ok(DeviceStep::Login {
            request,
            problem: None,
            username: String::new(),
        });
    };
    let user_name = store
        .user_by_id(&user_id)
        .await
        .map_err(server_error)?
        .map(|u| u.name.unwrap_or(u.username))
        .unwrap_or_default();
    Ok(DeviceStep::Consent { request, user_name })
}

/// The pending request of a typed user code, under the per-address throttle: counted before the
/// lookup, given back when the code was good.
async fn find_request(
    issuer: &Issuer,
    typed: &str,
    ip: IpAddr,
    now: i64,
) -> Result<Result<DeviceRequest, CodeProblem>, AuthorizeError> {
    let throttle = &issuer.sign_in_throttle;
    let keys = issuer.user_code_keys(ip);
    let reservation = match throttle.admit(&keys, now).await.map_err(server_error)? {
        Reserved::Go(reservation) => reservation,
        Reserved::Wait(wait) => return Ok(Err(CodeProblem::Locked { retry_after: wait })),
    };
    let row = match normalize_user_code(typed) {
        Some(code) => issuer
            .store
            .pending_device_code(&token_hash(&code), now)
            .await
            .map_err(server_error)?,
        None => None,
    };
    let snapshot = issuer.registry.snapshot();
    let found = row.and_then(|row| {
        let client = snapshot.client(&row.client_id).cloned()?;
        let scope = Scope::parse(&row.scope).ok()?;
        Some((client, scope))
    });
    let Some((client, scope)) = found else {
        if let Err(error) = throttle.reservation_failed(reservation, now).await {
            tracing::warn!(%error, "could not count a wrong user code");
        }
        tracing::info!(
            target: "portcullis::audit",
            event = "user_code_wrong",
            %ip,
            "a user code that no device is waiting for was typed"
        );
        return Ok(Err(CodeProblem::Unknown));
    };
    if let Err(error) = throttle.release(reservation).await {
        tracing::warn!(%error, "could not give back a user code reservation");
    }
    Ok(Ok(DeviceRequest {
        client,
        scope,
        user_code: display_user_code(&normalize_user_code(typed).unwrap_or_default()),
    }))
}

/// Records the decision; a request decided meanwhile (another tab) or expired is asked for again.
async fn decided(
    issuer: &Issuer,
    request: DeviceRequest,
    decision: Decision<'_>,
    now: i64,
    (user_id, ip): (&str, IpAddr),
) -> Result<DeviceStep, AuthorizeError> {
    let code = normalize_user_code(&request.user_code).unwrap_or_default();
    let changed = issuer
        .store
        .decide_device_code(&token_hash(&code), decision, now)
        .await
        .map_err(server_error)?;
    if !changed {
        return Ok(DeviceStep::EnterCode {
            user_code: request.user_code,
            problem: Some(CodeProblem::Unknown),
        });
    }
    let approved = matches!(decision, Decision::Approve { .. });
    let event = if approved {
        "device_approved"
    } else {
        "device_denied"
    };
    tracing::info!(
        target: "portcullis::audit",
        event,
        client_id = request.client.id.as_str(),
        user_id,
        %ip,
        "device authorization decided"
    );
    Ok(if approved {
        DeviceStep::Approved(request)
    } else {
        DeviceStep::Denied(request)
    })
}
