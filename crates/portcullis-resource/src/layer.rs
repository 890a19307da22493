//! axum and tower glue: [`BearerLayer`] validates the bearer token of every request and puts the
//! [`AccessToken`] in the request's extensions, where the extractor finds it; [`require_scope`]
//! guards routes by scope. Refusals are RFC 6750 §3 answers.

use crate::claims::AccessToken;
use crate::error::ValidationError;
use crate::validator::Validator;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The realm of the [`BearerLayer`] in front, for refusals made further in.
#[derive(Debug, Clone)]
struct Realm(String);

fn realm_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<Realm>()
        .map_or_else(|| "api".to_owned(), |r| r.0.clone())
}

/// A refusal, answered per RFC 6750 §3.
#[derive(Debug, Clone)]
pub struct BearerRejection {
    /// Why.
    pub error: ValidationError,
    /// The realm named in `WWW-Authenticate`.
    pub realm: String,
}

impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        if let ValidationError::Unavailable(detail) = &self.error {
            tracing::warn!(%detail, "cannot check a bearer token: the authorization server is unavailable");
        }
        let description = self.error.public_description();
        let body = match self.error.code() {
            Some(code) => serde_json::json!({ "error": code, "error_description": description }),
            None => serde_json::json!({ "error_description": description }),
        };
        let mut response = (self.error.status(), axum::Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&self.error.challenge(&self.realm)) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The bearer token of a request (RFC 6750 §2.1): exactly one `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ValidationError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ValidationError::Missing);
    };
    if values.next().is_some() {
        return Err(ValidationError::Malformed);
    }
    let value = value.to_str().map_err(|_| ValidationError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(ValidationError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ValidationError::Missing);
    }
    let token = token.trim();
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err(ValidationError::Malformed);
    }
    Ok(token)
}

/// Validates every request's bearer token before the inner service sees it.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use portcullis_resource::{AccessToken, BearerLayer, Validator};
/// let validator = Validator::builder("https://id.example.com", "https://api.example.com").build();
/// let app: Router = Router::new()
///     .route("/data", get(|token: AccessToken| async move { token.subject }))
///     .layer(BearerLayer::new(validator, "api"));
/// ```
#[derive(Debug, Clone)]
pub struct BearerLayer {
    validator: Validator,
    realm: String,
}

impl BearerLayer {
    /// A layer with this validator; `realm` goes into `WWW-Authenticate`.
    pub fn new(validator: Validator, realm: &str) -> Self {
        BearerLayer {
            validator,
            realm: realm.to_owned(),
        }
    }
}

impl<S> tower::Layer<S> for BearerLayer {
    type Service = BearerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner,
            validator: self.validator.clone(),
            realm: self.realm.clone(),
        }
    }
}

/// The service [`BearerLayer`] makes.
#[derive(Debug, Clone)]
pub struct BearerService<S> {
    inner: S,
    validator: Validator,
    realm: String,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> tower::Service<Request> for BearerService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let validator = self.validator.clone();
        let realm = self.realm.clone();
        // The clone that was made ready is the one we call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let checked = match bearer_token(request.headers()) {
                Ok(token) => validator.validate(token).await,
                Err(e) => Err(e),
            };
            match checked {
                Ok(token) => {
                    request.extensions_mut().insert(token);
                    request.extensions_mut().insert(Realm(realm));
                    inner.call(request).await
                }
                Err(error) => Ok(BearerRejection { error, realm }.into_response()),
            }
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AccessToken>()
            .cloned()
            .ok_or_else(|| BearerRejection {
                error: ValidationError::Missing,
                realm: realm_of(&parts.extensions),
            })
    }
}

/// A layer that answers 403 `insufficient_scope` unless the validated token carries `scope`. Put
/// it inside (after) a [`BearerLayer`].
pub fn require_scope(scope: &str) -> RequireScope {
    RequireScope {
        scope: scope.to_owned(),
    }
}

/// See [`require_scope`].
#[derive(Debug, Clone)]
pub struct RequireScope {
    scope: String,
}

impl<S> tower::Layer<S> for RequireScope {
    type Service = RequireScopeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireScopeService {
            inner,
            scope: self.scope.clone(),
        }
    }
}

/// The service [`require_scope`] makes.
#[derive(Debug, Clone)]
pub struct RequireScopeService<S> {
    inner: S,
    scope: String,
}

impl<S> tower::Service<Request> for RequireScopeService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let allowed = request
            .extensions()
            .get::<AccessToken>()
            .map(|t| t.has_scope(&self.scope));
        let scope = self.scope.clone();
        let realm = realm_of(request.extensions());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match allowed {
                Some(true) => inner.call(request).await,
                Some(false) => Ok(BearerRejection {
                    error: ValidationError::InsufficientScope(scope),
                    realm,
                }
                .into_response()),
                None => Ok(BearerRejection {
                    error: ValidationError::Missing,
                    realm,
                }
                .into_response()),
            }
        })
    }
}
