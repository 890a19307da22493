//! Calling APIs with the token: a `reqwest-middleware` middleware, and a plain helper for reqwest
//! without it. Both set `Authorization: Bearer …` (or `DPoP …` with a proof, for a DPoP-bound
//! token), send the request once more with the API's DPoP nonce when it asks for one, and, when
//! the API answers 401, fetch a fresh token once and send the request once more.

use crate::error::ClientError;
use crate::source::TokenSource;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Request, Response, StatusCode};

/// Puts the token on the request: `Authorization: Bearer`, or for a DPoP-bound token from a
/// source with a DPoP key, `Authorization: DPoP` and a proof for this method and URL.
fn authorize(
    request: &mut Request,
    source: &TokenSource,
    token: &crate::Token,
) -> Result<(), ClientError> {
    let secret = token.access_token.expose();
    let dpop = source
        .dpop_key()
        .filter(|_| token.token_type.eq_ignore_ascii_case("dpop"));
    let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
    if let Some(key) = dpop {
        let now = source.now();
        let proof = key.proof(
            request.method().as_str(),
            request.url().as_str(),
            Some(secret),
            now,
        )?;
        if let Ok(v) = HeaderValue::from_str(&proof) {
            request.headers_mut().insert("dpop", v);
        }
    }
    if let Ok(mut value) = HeaderValue::from_str(&format!("{scheme} {secret}")) {
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(())
}

/// Whether the API asked for another try: its DPoP nonce (kept now), once.
fn wants_nonce(source: &TokenSource, request_url: &str, response: &Response) -> bool {
    match source.dpop_key() {
        Some(key) => {
            let asked =
                crate::dpop::is_nonce_challenge(response.status().as_u16(), response.headers());
            key.remember_nonce(request_url, response.headers());
            asked
        }
        None => false,
    }
}

/// Sends `request` with the source's token, retrying once with the API's DPoP nonce when it asks
/// for one, and once with a fresh token after a 401.
///
/// ```no_run
/// # async fn run(source: portcullis_client::TokenSource) -> Result<(), Box<dyn std::error::Error>> {
/// let http = reqwest::Client::new();
/// let request = http.get("https://api.example.com/data").build()?;
/// let response = portcullis_client::send_with_token(&http, &source, request).await?;
/// # Ok(()) }
/// ```
pub async fn send_with_token(
    http: &reqwest::Client,
    source: &TokenSource,
    request: Request,
) -> Result<Response, CallError> {
    let url = request.url().to_string();
    let template = request.try_clone();
    let mut token = source.token().await?;
    let mut request = request;
    authorize(&mut request, source, &token)?;
    let mut response = http.execute(request).await?;
    let mut fresh_token_tried = false;
    let mut nonce_tried = false;
    loop {
        let Some(mut again) = template.as_ref().and_then(Request::try_clone) else {
            return Ok(response);
        };
        if !nonce_tried && wants_nonce(source, &url, &response) {
            nonce_tried = true;
        } else if !fresh_token_tried && response.status() == StatusCode::UNAUTHORIZED {
            fresh_token_tried = true;
            source.invalidate(&token);
            token = source.token().await?;
        } else {
            return Ok(response);
        }
        authorize(&mut again, source, &token)?;
        response = http.execute(again).await?;
    }
}

/// Why an API call failed before it got an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No token.
    #[error(transparent)]
    Token(#[from] ClientError),
    /// The API could not be reached.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// The `reqwest-middleware` middleware.
///
/// ```no_run
/// # fn build(source: portcullis_client::TokenSource) {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(portcullis_client::BearerAuth::new(source))
///     .build();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BearerAuth {
    source: TokenSource,
}

impl BearerAuth {
    /// A middleware taking tokens from `source`.
    pub fn new(source: TokenSource) -> Self {
        BearerAuth { source }
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for BearerAuth {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let failed = |e: ClientError| reqwest_middleware::Error::middleware(e);
        let url = request.url().to_string();
        let template = request.try_clone();
        let mut token = self.source.token().await.map_err(failed)?;
        authorize(&mut request, &self.source, &token).map_err(failed)?;
        let mut response = next.clone().run(request, extensions).await?;
        let mut fresh_token_tried = false;
        let mut nonce_tried = false;
        loop {
            let Some(mut again) = template.as_ref().and_then(Request::try_clone) else {
                return Ok(response);
            };
            if !nonce_tried && wants_nonce(&self.source, &url, &response) {
                nonce_tried = true;
            } else if !fresh_token_tried && response.status() == StatusCode::UNAUTHORIZED {
                fresh_token_tried = true;
                self.source.invalidate(&token);
                token = self.source.token().await.map_err(failed)?;
            } else {
                return Ok(response);
            }
            authorize(&mut again, &self.source, &token).map_err(failed)?;
            response = next.clone().run(again, extensions).await?;
        }
    }
}
