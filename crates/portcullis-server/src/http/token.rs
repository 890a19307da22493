//! `POST /token` (RFC 6749 §3.2): reads the form, authenticates the client, runs the grant.

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{json_body, no_store};
use crate::client::Client;
use crate::client_auth::ClientAuthentication;
use crate::error::TokenError;
use crate::grant::{authorization_code, client_credentials, refresh_token};
use crate::registry::Snapshot;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use portcullis_core::{FormParams, Secret, TokenRequest};
use std::net::IpAddr;
use std::sync::Arc;

/// The token endpoint handler; every method is routed here so that a GET gets a §5.2 answer too.
pub async fn token(
    State(state): State<Arc<AppState>>,
    authenticated: AuthenticatedForm,
) -> Result<Response, TokenError> {
    handle(&state, authenticated).await
}

/// A POSTed form from an authenticated client: what the token, introspection and revocation
/// endpoints all start from (RFC 6749 §2.3, RFC 7662 §2.1, RFC 7009 §2.1).
pub struct AuthenticatedForm {
    /// The form.
    pub form: FormParams,
    /// The client that sent it.
    pub client: Arc<Client>,
    /// The registry snapshot the client was found in.
    pub snapshot: Arc<Snapshot>,
    /// The client's address, as the throttles and logs see it.
    pub ip: IpAddr,
}

/// The extractor the token, introspection and revocation handlers take: a request that is not a
/// POSTed form from an authenticated client is answered with its RFC 6749 §5.2 error before the
/// handler runs.
impl FromRequest<Arc<AppState>> for AuthenticatedForm {
    type Rejection = TokenError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, TokenError> {
        let (mut parts, body) = request.into_parts();
        let ClientIp(ip) = match ClientIp::from_request_parts(&mut parts, state).await {
            Ok(ip) => ip,
            Err(never) => match never {},
        };
        authenticated_form(state, parts.method, &parts.uri, &parts.headers, body, ip).await
    }
}

/// Checks method, content type and size, reads the form and authenticates the client.
async fn authenticated_form(
    state: &AppState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    ip: IpAddr,
) -> Result<AuthenticatedForm, TokenError> {
    if method != Method::POST {
        return Err(TokenError::invalid_request(format!(
            "this endpoint accepts only POST, not {method}"
        )));
    }
    if uri.query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "client_secret")
    }) {
        return Err(TokenError::invalid_request(
            "client_secret must not be sent in the URL",
        ));
    }
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = read_body(headers, body, state.max_body_bytes).await?;
    let form = FormParams::parse(&bytes).map_err(|e| TokenError::invalid_request(e.to_string()))?;
    let authorization = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| TokenError::client_authentication_failed(true))?,
        ),
    };
    let presented = ClientAuthentication::from_request(authorization, &form)?;
    let now = state.clock.now().0;
    let snapshot = state.registry.snapshot();
    let throttle = &state.client_auth_throttle;
    // Nothing locked anywhere (the usual case): no hashing, no lock, no I/O.
    if throttle.any_locked() {
        let keys = state.client_auth_keys(presented.client_id(), ip);
        if let Some(seconds) = throttle.retry_after(&keys, now) {
            // Refused attempts still count against the address: a spray that goes on stays
            // throttled.
            if let Err(error) = throttle.refused(&keys, now).await {
                tracing::warn!(%error, "could not count a refused client authentication");
            }
            let (client_id, client_id_sha256) = loggable_client_id(&snapshot, &presented);
            tracing::info!(
                target: "portcullis::audit",
                event = "client_authentication_throttled",
                client_id = client_id.as_deref(),
                client_id_sha256 = client_id_sha256.as_deref(),
                %ip,
                retry_after = seconds,
            );
            return Err(TokenError::throttled(u64::try_from(seconds).unwrap_or(1)));
        }
    }
    let client = match presented.authenticate(&snapshot, &state.hasher) {
        Ok(client) => client,
        Err(error) => {
            if matches!(error, TokenError::Client { .. }) {
                let keys = state.client_auth_keys(presented.client_id(), ip);
                if let Err(error) = throttle.failed(&keys, now).await {
                    tracing::warn!(%error, "could not count a failed client authentication");
                }
                state.metrics.client_auth_failed();
                let (client_id, client_id_sha256) = loggable_client_id(&snapshot, &presented);
                tracing::info!(
                    target: "portcullis::audit",
                    event = "client_authentication_failed",
                    client_id = client_id.as_deref(),
                    client_id_sha256 = client_id_sha256.as_deref(),
                    %ip,
                    reason = %error.description(),
                    "client authentication failed"
                );
            }
            return Err(error);
        }
    };
    Ok(AuthenticatedForm {
        form,
        client,
        snapshot,
        ip,
    })
}

/// What the audit log may say of a presented client_id: the id itself when it names a registered
/// client, otherwise only a short hash of it, since a caller that swapped id and secret put its
/// secret there.
fn loggable_client_id(
    snapshot: &Snapshot,
    presented: &ClientAuthentication,
) -> (Option<String>, Option<String>) {
    let id = presented.client_id();
    if snapshot.client(id).is_some() {
        return (Some(id.to_owned()), None);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes());
    let short = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (None, Some(short))
}

async fn handle(
    state: &AppState,
    authenticated: AuthenticatedForm,
) -> Result<Response, TokenError> {
    let AuthenticatedForm {
        form,
        client,
        snapshot,
        ip,
    } = authenticated;
    let now = state.clock.now();
    let request = TokenRequest::from_form(&form)?;
    let grant = request.grant_type();
    let response = match request {
        TokenRequest::ClientCredentials { scope, audiences } => client_credentials::issue(
            &state.tokens,
            &snapshot.keys,
            now,
            &client,
            scope,
            audiences,
        )?,
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            audiences,
        } => {
            authorization_code::exchange(
                state,
                &snapshot,
                &client,
                code.expose(),
                redirect_uri.as_deref(),
                code_verifier.as_ref().map(Secret::expose),
                &audiences,
            )
            .await?
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            audiences,
        } => {
            refresh_token::exchange(
                state,
                &snapshot,
                &client,
                refresh_token.expose(),
                scope,
                &audiences,
            )
            .await?
        }
    };
    state.metrics.token_issued(grant.as_str());
    tracing::info!(
        target: "portcullis::audit",
        event = "token_issued",
        client_id = %client.id,
        grant = grant.as_str(),
        %ip,
        "issued tokens"
    );
    let body = serde_json::to_vec(&response)
        .map_err(|e| TokenError::server(format!("cannot serialize the response: {e}")))?;
    let mut answer = json_body(StatusCode::OK, body);
    no_store(&mut answer);
    Ok(answer)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, TokenError> {
    let too_large = || TokenError::TooLarge {
        description: format!("the request body is larger than {limit} bytes"),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(TokenError::invalid_request(
            "the request body could not be read",
        )),
    }
}
