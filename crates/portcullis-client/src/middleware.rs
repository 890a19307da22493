//! Calling APIs with the token: a `reqwest-middleware` middleware, and a plain helper for reqwest
//! without it. Both set `Authorization: Bearer …` and, when the API answers 401, fetch a fresh token
//! once and send the request once more.

use crate::error::ClientError;
use crate::source::TokenSource;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Request, Response, StatusCode};

fn bearer(token: &crate::Token) -> Option<HeaderValue> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.access_token.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Sends `request` with the source's token, retrying once with a fresh token after a 401.
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
    mut request: Request,
) -> Result<Response, CallError> {
    let token = source.token().await?;
    let retry = request.try_clone();
    if let Some(v) = bearer(&token) {
        request.headers_mut().insert(AUTHORIZATION, v);
    }
    let response = http.execute(request).await?;
    let Some(mut again) = retry.filter(|_| response.status() == StatusCode::UNAUTHORIZED) else {
        return Ok(response);
    };
    source.invalidate(&token);
    let fresh = source.token().await?;
    if let Some(v) = bearer(&fresh) {
        again.headers_mut().insert(AUTHORIZATION, v);
    }
    Ok(http.execute(again).await?)
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
        let token = self.source.token().await.map_err(failed)?;
        let retry = request.try_clone();
        if let Some(v) = bearer(&token) {
            request.headers_mut().insert(AUTHORIZATION, v);
        }
        let response = next.clone().run(request, extensions).await?;
        let Some(mut again) = retry.filter(|_| response.status() == StatusCode::UNAUTHORIZED)
        else {
            return Ok(response);
        };
        self.source.invalidate(&token);
        let fresh = self.source.token().await.map_err(failed)?;
        if let Some(v) = bearer(&fresh) {
            again.headers_mut().insert(AUTHORIZATION, v);
        }
        next.run(again, extensions).await
    }
}
