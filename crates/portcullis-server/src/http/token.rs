//! `POST /token` (RFC 6749 §3.2): checks the method, content type and size, reads the form, and
//! hands it to `oauth::client_auth` and `oauth::grant`.

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{json_body, no_store};
use crate::client::Client;
use crate::oauth::client_auth::{self, AuthenticatedClient};
use crate::oauth::error::TokenError;
use crate::oauth::grant;
use crate::registry::Snapshot;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use portcullis_core::FormParams;
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
    /// The `DPoP` header (RFC 9449 §4.1), unchecked; the endpoints that take one check it.
    pub dpop: Option<String>,
}

/// The one `DPoP` header of a request, if any (RFC 9449 §4.3: more than one is an error).
pub fn dpop_header(headers: &HeaderMap) -> Result<Option<String>, String> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("send one DPoP header, not several".into());
    }
    first
        .to_str()
        .map(|v| Some(v.trim().to_owned()))
        .map_err(|_| "the DPoP header is not a JWT".into())
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
    let dpop = dpop_header(headers)
        .map_err(|m| TokenError::new(portcullis_core::ErrorCode::InvalidDpopProof, m))?;
    let AuthenticatedClient { client, snapshot } =
        client_auth::authenticate(&state.issuer, authorization, &form, ip).await?;
    Ok(AuthenticatedForm {
        form,
        client,
        snapshot,
        ip,
        dpop,
    })
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
        dpop,
    } = authenticated;
    let response = grant::token(
        &state.issuer,
        &client,
        &snapshot,
        &form,
        ip,
        dpop.as_deref(),
    )
    .await?;
    let body = serde_json::to_vec(&response)
        .map_err(|e| TokenError::server(format!("cannot serialize the response: {e}")))?;
    let mut answer = json_body(StatusCode::OK, body);
    no_store(&mut answer);
    next_dpop_nonce(state, &mut answer, dpop.is_some());
    Ok(answer)
}

/// A client using DPoP gets the nonce for its next proof with every answer (RFC 9449 §8.2), when
/// nonces are required.
pub fn next_dpop_nonce(state: &AppState, answer: &mut Response, used_dpop: bool) {
    if used_dpop && state.issuer.dpop_nonces.required {
        let now = state.issuer.clock.now().0;
        super::error::dpop_nonce_header(answer, &state.issuer.dpop_nonces.current(now));
    }
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
