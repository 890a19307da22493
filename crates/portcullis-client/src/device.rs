//! The device authorization grant (RFC 8628), for signing in where no browser can come back to
//! the app (a shell over SSH, a container, a TV): the server hands out a short user code, the
//! user enters it on a phone or laptop at the verification URI, and meanwhile the app polls the
//! token endpoint until the user has approved or declined, or the code has expired.
//!
//! ```no_run
//! # async fn run() -> Result<(), portcullis_client::ClientError> {
//! use portcullis_client::{LoginSettings, device};
//! let settings = LoginSettings::new("https://id.example.com", "my-cli");
//! let authorization = device::start(&settings).await?;
//! eprintln!(
//!     "Visit {} and enter the code {}",
//!     authorization.verification_uri, authorization.user_code
//! );
//! let _tokens =
//!     device::poll(&settings, &authorization, &portcullis_core::SystemClock, |_| {}).await?;
//! # Ok(()) }
//! ```

use crate::error::ClientError;
use crate::login::{LoginSettings, add_audiences, exchange};
use crate::store::StoredTokens;
use portcullis_core::{Clock, Secret, Stopwatch};
use serde_json::{Map, Value};
use std::time::Duration;

/// The grant type of the polling token requests (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The interval between polls when the server names none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: u64 = 5;

/// How much longer every later poll waits after a `slow_down` (RFC 8628 §3.5).
const SLOW_DOWN_STEP: u64 = 5;

/// What the device authorization endpoint handed out: what to show the user, and the device code
/// to poll with. The device code is kept as a [`Secret`], out of `Debug`: whoever holds it collects
/// the tokens once the user approves.
#[derive(Clone)]
pub struct DeviceAuthorization {
    /// The code the user enters at the verification URI (`BCDF-GHJK`).
    pub user_code: String,
    /// Where the user enters it.
    pub verification_uri: String,
    /// The verification URI with the code in it, for a QR code or a link: the user then only
    /// confirms. Optional in RFC 8628.
    pub verification_uri_complete: Option<String>,
    /// Seconds, from the answer, until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls, as the server asked (5 when it did not say).
    pub interval: u64,
    device_code: Secret,
    /// The token endpoint and key set of the issuer that handed the codes out, so that polling
    /// needs no second discovery.
    token_endpoint: String,
    jwks_uri: Option<String>,
    /// Started when the answer came: the code's lifetime counts from then, not from the first poll.
    issued: Stopwatch,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field("device_code", &self.device_code)
            .finish_non_exhaustive()
    }
}

/// Where the polling stands, told before each wait (for a spinner, or a line in a log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Waiting {
    /// The user has not approved yet (nothing asked so far, or `authorization_pending`).
    Pending {
        /// The wait before the next poll.
        interval: Duration,
        /// The time left before the code expires.
        expires_in: Duration,
    },
    /// The server answered `slow_down`: this and every later poll waits 5 seconds longer.
    SlowedDown {
        /// The wait before the next poll, now longer.
        interval: Duration,
        /// The time left before the code expires.
        expires_in: Duration,
    },
}

/// Asks the issuer's device authorization endpoint for a device code and a user code (RFC 8628
/// §3.1), with the settings' scope and any `resource`/`audience`, as the authorization request of
/// the code flow carries them. A confidential client authenticates with Basic, as at the token
/// endpoint. Show the user [`DeviceAuthorization::verification_uri`] and
/// [`DeviceAuthorization::user_code`], then call [`poll`].
pub async fn start(settings: &LoginSettings) -> Result<DeviceAuthorization, ClientError> {
    let http = crate::error::http_client(Duration::from_secs(30))?;
    let issuer = &settings.issuer;
    portcullis_core::issuer::valid_issuer(issuer).map_err(|why| {
        ClientError::Config(vec![format!("the issuer must be an issuer URL: {why}")])
    })?;
    let doc = crate::discovery::metadata(&http, issuer).await?;
    let text = |name: &str| doc[name].as_str().map(str::to_owned);
    // Not every server offers the grant: say so, rather than post to a guessed URL.
    let endpoint = text("device_authorization_endpoint").ok_or_else(|| {
        ClientError::Config(vec![format!(
            "{issuer} publishes no device_authorization_endpoint: it does not offer sign-in on \
             another device (RFC 8628); sign in through the browser instead"
        )])
    })?;
    let token_endpoint = text("token_endpoint")
        .ok_or_else(|| ClientError::Discovery(format!("{issuer} publishes no token_endpoint")))?;
    let mut form = vec![("scope", settings.scope.clone())];
    add_audiences(&mut form, &settings.resources, settings.audience.as_deref());
    let mut request = http
        .post(endpoint.as_str())
        .header("accept", "application/json");
    match &settings.client_secret {
        Some(secret) => {
            request = request.header(
                "authorization",
                portcullis_core::basic::encode_basic(&settings.client_id, secret.expose()),
            )
        }
        None => form.push(("client_id", settings.client_id.clone())),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| ClientError::Network {
            url: endpoint.clone(),
            reason: crate::error::describe_error(&e),
        })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let mut authorization = read_authorization(&endpoint, status, &body)?;
    authorization.token_endpoint = token_endpoint;
    authorization.jwks_uri = text("jwks_uri");
    Ok(authorization)
}

/// Reads the device authorization endpoint's answer (RFC 8628 §3.2) into the codes, or its error
/// (RFC 6749 §5.2) into [`ClientError::OAuth`]; the endpoints are left for the caller to fill.
fn read_authorization(
    url: &str,
    status: u16,
    body: &str,
) -> Result<DeviceAuthorization, ClientError> {
    let unexpected = |what: &str| ClientError::Unexpected {
        url: url.to_owned(),
        status,
        what: what.to_owned(),
        body: body.chars().take(200).collect(),
    };
    let Ok(answer) = serde_json::from_str::<Map<String, Value>>(body) else {
        return Err(unexpected(if body.trim().is_empty() {
            "an empty body instead of a device authorization"
        } else {
            "a body that is not a JSON object"
        }));
    };
    let text = |name: &str| {
        answer
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(error) = text("error") {
        return Err(ClientError::OAuth {
            error,
            description: text("error_description"),
            uri: text("error_uri"),
            status,
            body: body.to_owned(),
        });
    }
    if !(200..300).contains(&status) {
        return Err(unexpected("an error status without an OAuth error body"));
    }
    let (Some(device_code), Some(user_code)) = (text("device_code"), text("user_code")) else {
        return Err(unexpected(
            "an answer without a device_code and a user_code",
        ));
    };
    // Some servers still say verification_url, as drafts of RFC 8628 did.
    let verification_uri = text("verification_uri")
        .or_else(|| text("verification_url"))
        .ok_or_else(|| unexpected("an answer without a verification_uri"))?;
    let expires_in = seconds(answer.get("expires_in"))
        .ok_or_else(|| unexpected("an answer without expires_in"))?;
    Ok(DeviceAuthorization {
        user_code,
        verification_uri,
        verification_uri_complete: text("verification_uri_complete"),
        expires_in,
        // At least a second, so that a server saying 0 is not asked in a tight loop.
        interval: seconds(answer.get("interval"))
            .unwrap_or(DEFAULT_INTERVAL)
            .max(1),
        device_code: Secret::new(device_code),
        token_endpoint: String::new(),
        jwks_uri: None,
        issued: Stopwatch::start(),
    })
}

/// A number of seconds as servers send it: a number, or a string holding one.
fn seconds(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .map(|d| d.as_secs())
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Polls the token endpoint until the user has approved on the other device (RFC 8628 §3.4, §3.5),
/// and returns the tokens, with the issuer, client and audiences filled in as [`crate::login()`]
/// fills them, ready for a [`crate::TokenStore`].
///
/// Waits [`DeviceAuthorization::interval`] before each poll, and 5 seconds more for this and every
/// later poll after each `slow_down`; `on_wait` hears before each wait how things stand.
/// `authorization_pending` goes on polling; `access_denied` (the user declined), `expired_token`
/// and any other error end it as they came (mostly [`ClientError::OAuth`]). When the code's
/// `expires_in` has passed without an answer, it ends with [`ClientError::SignIn`] saying so. With
/// `openid` in the scope, the ID token is checked as the code flow checks it, less the nonce, which
/// this grant does not send.
pub async fn poll(
    settings: &LoginSettings,
    authorization: &DeviceAuthorization,
    clock: &dyn Clock,
    mut on_wait: impl FnMut(Waiting),
) -> Result<StoredTokens, ClientError> {
    let http = crate::error::http_client(Duration::from_secs(30))?;
    let token_endpoint = &authorization.token_endpoint;
    let expired = || {
        ClientError::SignIn(
            "the code expired before the sign-in was approved on the other device: start again"
                .into(),
        )
    };
    // The lifetime counts from when the codes were handed out; the clock then says when it ends.
    let left = authorization
        .expires_in
        .saturating_sub(authorization.issued.elapsed().as_secs());
    let deadline = clock.now().plus(left);
    let mut interval = authorization.interval;
    let mut slowed_down = false;
    let tokens = loop {
        let remaining = u64::try_from(deadline.0.saturating_sub(clock.now().0)).unwrap_or(0);
        if remaining == 0 {
            return Err(expired());
        }
        let (wait, expires_in) = (
            Duration::from_secs(interval),
            Duration::from_secs(remaining),
        );
        on_wait(if slowed_down {
            Waiting::SlowedDown {
                interval: wait,
                expires_in,
            }
        } else {
            Waiting::Pending {
                interval: wait,
                expires_in,
            }
        });
        // Never past the deadline: a poll after it could only hear `expired_token`.
        tokio::time::sleep(wait.min(expires_in)).await;
        if clock.now() >= deadline {
            return Err(expired());
        }
        let mut form = vec![
            ("grant_type", GRANT_TYPE.to_owned()),
            ("device_code", authorization.device_code.expose().to_owned()),
        ];
        add_audiences(&mut form, &settings.resources, settings.audience.as_deref());
        let answer = exchange(
            &http,
            token_endpoint,
            &settings.client_id,
            settings.client_secret.as_ref(),
            &mut form,
            clock,
        )
        .await;
        match answer {
            Ok(tokens) => break tokens,
            Err(ClientError::OAuth { error, .. }) if error == "authorization_pending" => {
                slowed_down = false;
            }
            Err(ClientError::OAuth { error, .. }) if error == "slow_down" => {
                interval = interval.saturating_add(SLOW_DOWN_STEP);
                slowed_down = true;
            }
            Err(other) => return Err(other),
        }
    };
    if settings.scope.split(' ').any(|s| s == "openid") {
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            ClientError::IdToken("the scope has openid but the answer has no id_token".into())
        })?;
        crate::id_token::check(
            &http,
            id_token,
            &crate::id_token::Expected {
                issuer: &settings.issuer,
                client_id: &settings.client_id,
                nonce: None,
                jwks_uri: authorization.jwks_uri.as_deref(),
            },
            clock,
        )
        .await?;
    }
    Ok(StoredTokens {
        issuer: settings.issuer.clone(),
        token_endpoint: token_endpoint.clone(),
        client_id: settings.client_id.clone(),
        resources: settings.resources.clone(),
        audience: settings.audience.clone(),
        ..tokens
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://id.example.com/device_authorization";

    #[test]
    fn an_answer_gives_the_codes_and_keeps_the_device_code_out_of_debug() {
        let body = r#"{"device_code":"the-device-code","user_code":"BCDF-GHJK",
            "verification_uri":"https://id.example.com/device",
            "verification_uri_complete":"https://id.example.com/device?user_code=BCDF-GHJK",
            "expires_in":600,"interval":5}"#;
        let a = read_authorization(URL, 200, body).unwrap();
        assert_eq!(a.user_code, "BCDF-GHJK");
        assert_eq!(a.verification_uri, "https://id.example.com/device");
        assert_eq!(
            a.verification_uri_complete.as_deref(),
            Some("https://id.example.com/device?user_code=BCDF-GHJK")
        );
        assert_eq!((a.expires_in, a.interval), (600, 5));
        assert_eq!(a.device_code.expose(), "the-device-code");
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("the-device-code") && shown.contains("BCDF-GHJK"),
            "{shown}"
        );
    }

    #[test]
    fn the_optional_fields_and_the_forms_servers_use() {
        // No interval (5 s), no complete URI, expires_in as a string, the draft's verification_url.
        let body = r#"{"device_code":"d","user_code":"U","verification_url":"https://x/device",
            "expires_in":"1800"}"#;
        let a = read_authorization(URL, 200, body).unwrap();
        assert_eq!(a.verification_uri, "https://x/device");
        assert_eq!(a.verification_uri_complete, None);
        assert_eq!((a.expires_in, a.interval), (1800, DEFAULT_INTERVAL));
        // An interval of 0 would be a tight loop.
        let body = r#"{"device_code":"d","user_code":"U","verification_uri":"https://x/device",
            "expires_in":60,"interval":0}"#;
        assert_eq!(read_authorization(URL, 200, body).unwrap().interval, 1);
    }

    #[test]
    fn errors_are_typed() {
        let body = r#"{"error":"unauthorized_client","error_description":"no device grant"}"#;
        match read_authorization(URL, 400, body) {
            Err(ClientError::OAuth {
                error,
                description,
                status,
                ..
            }) => {
                assert_eq!(error, "unauthorized_client");
                assert_eq!(description.as_deref(), Some("no device grant"));
                assert_eq!(status, 400);
            }
            other => panic!("{other:?}"),
        }
        for (status, body, says) in [
            (404, "<html>Not Found</html>", "not a JSON object"),
            (200, "", "empty body"),
            (500, "{}", "error status"),
            (200, r#"{"user_code":"U"}"#, "device_code"),
            (
                200,
                r#"{"device_code":"d","user_code":"U","expires_in":60}"#,
                "verification_uri",
            ),
            (
                200,
                r#"{"device_code":"d","user_code":"U","verification_uri":"https://x"}"#,
                "expires_in",
            ),
        ] {
            match read_authorization(URL, status, body) {
                Err(ClientError::Unexpected { what, .. }) => {
                    assert!(what.contains(says), "{body}: {what}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn polling_can_run_on_any_thread() {
        fn send<T: Send>(_: T) {}
        let settings = LoginSettings::new("https://id.example.com", "tv-app");
        let body = r#"{"device_code":"d","user_code":"U","verification_uri":"https://x/device",
            "expires_in":60}"#;
        let authorization = read_authorization(URL, 200, body).unwrap();
        send(start(&settings));
        send(poll(
            &settings,
            &authorization,
            &portcullis_core::SystemClock,
            |_| {},
        ));
    }
}
