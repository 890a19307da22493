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

pub(crate) fn realm_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<Realm>()
        .map_or_else(|| "api".to_owned(), |r| r.0.clone())
}

/// A refusal, answered per RFC 6750 §3.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BearerRejection {
    /// Why.
    pub error: ValidationError,
    /// The realm named in `WWW-Authenticate`.
    pub realm: String,
    /// The request sent its token as `Authorization: DPoP`: the challenge uses that scheme.
    pub dpop_scheme: bool,
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
        if let Ok(value) =
            HeaderValue::from_str(&self.error.challenge_for(&self.realm, self.dpop_scheme))
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        // Without a token, say that DPoP is accepted too (RFC 9449 §7.1).
        if matches!(self.error, ValidationError::Missing)
            && let Ok(value) = HeaderValue::from_str(&format!(
                "DPoP realm=\"{}\", algs=\"{}\"",
                self.realm.replace('"', ""),
                crate::error::dpop_algs()
            ))
        {
            response
                .headers_mut()
                .append(header::WWW_AUTHENTICATE, value);
        }
        if let ValidationError::DpopNonce(nonce) = &self.error
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            response.headers_mut().insert("dpop-nonce", value);
        }
        response
    }
}

/// Whether the request sent its token as `Authorization: DPoP`, so refusals challenge with DPoP.
pub(crate) fn used_dpop(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..5))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("dpop "))
}

/// The bearer token of a request (RFC 6750 §2.1): exactly one `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ValidationError> {
    match crate::dpop::presented(headers)? {
        (token, crate::dpop::Scheme::Bearer) => Ok(token),
        (_, crate::dpop::Scheme::Dpop) => Err(ValidationError::Missing),
    }
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
    optional: bool,
}

impl BearerLayer {
    /// A layer with this validator; `realm` goes into `WWW-Authenticate`. A request without a
    /// bearer token is refused (401).
    pub fn new(validator: Validator, realm: &str) -> Self {
        BearerLayer {
            validator,
            realm: realm.to_owned(),
            optional: false,
        }
    }

    /// A layer for routes where a token is optional: a request with no `Authorization` header
    /// goes through with no [`AccessToken`], which handlers take as `Option<AccessToken>`. A
    /// token that is present must still be valid: a bad one is refused, never treated as none.
    ///
    /// ```no_run
    /// use axum::{Router, routing::get};
    /// use portcullis_resource::{AccessToken, BearerLayer, Validator};
    /// let validator = Validator::builder("https://id.example.com", "https://api.example.com").build();
    /// let app: Router = Router::new()
    ///     .route("/greeting", get(|token: Option<AccessToken>| async move {
    ///         token.map_or("hello, stranger".to_owned(), |t| format!("hello, {}", t.subject))
    ///     }))
    ///     .layer(BearerLayer::optional(validator, "api"));
    /// ```
    pub fn optional(validator: Validator, realm: &str) -> Self {
        BearerLayer {
            optional: true,
            ..BearerLayer::new(validator, realm)
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
            optional: self.optional,
        }
    }
}

/// The service [`BearerLayer`] makes.
#[derive(Debug, Clone)]
pub struct BearerService<S> {
    inner: S,
    validator: Validator,
    realm: String,
    optional: bool,
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
        let optional = self.optional;
        // The clone that was made ready is the one we call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            // Inside a nested router the URI has lost its prefix; the proof names the full URL.
            let uri = request
                .extensions()
                .get::<axum::extract::OriginalUri>()
                .map_or_else(|| request.uri().clone(), |o| o.0.clone());
            let checked = validator
                .validate_request(request.method(), &uri, request.headers())
                .await;
            if optional
                && matches!(checked, Err(ValidationError::Missing))
                && !request.headers().contains_key(header::AUTHORIZATION)
            {
                request.extensions_mut().insert(Realm(realm));
                return inner.call(request).await;
            }
            match checked {
                Ok(token) => {
                    request.extensions_mut().insert(token);
                    request.extensions_mut().insert(Realm(realm));
                    inner.call(request).await
                }
                Err(error) => Ok(BearerRejection {
                    error,
                    realm,
                    dpop_scheme: used_dpop(request.headers()),
                }
                .into_response()),
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
                dpop_scheme: used_dpop(&parts.headers),
            })
    }
}

/// `Option<AccessToken>`: `None` where [`BearerLayer::optional`] let a request without a token
/// through.
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for AccessToken {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AccessToken>().cloned())
    }
}

/// A layer that answers 403 `insufficient_scope` unless the validated token carries `scope`. Put
/// it inside (after) a [`BearerLayer`]. Guards compose: [`RequireScope::and`] and
/// [`RequireScope::or`] build a rule, and several guard layers on one route must all pass.
///
/// ```
/// use portcullis_resource::require_scope;
/// // "orders:write", or else "admin"; and in either case "orders:read".
/// let guard = require_scope("orders:write").or("admin").and("orders:read");
/// assert_eq!(guard.to_string(), "(orders:write or admin) and orders:read");
/// ```
pub fn require_scope(scope: &str) -> RequireScope {
    RequireScope {
        rule: Rule::Scope(scope.to_owned()),
    }
}

/// See [`require_scope`].
#[derive(Debug, Clone)]
pub struct RequireScope {
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Scope(String),
    All(Vec<Rule>),
    Any(Vec<Rule>),
}

impl Rule {
    fn allows(&self, token: &AccessToken) -> bool {
        match self {
            Rule::Scope(scope) => token.has_scope(scope),
            Rule::All(rules) => rules.iter().all(|r| r.allows(token)),
            Rule::Any(rules) => rules.iter().any(|r| r.allows(token)),
        }
    }

    /// The scopes that would satisfy the rule, for the challenge's `scope` (RFC 6750 §3): every
    /// scope of an `and`, the first way of an `or`.
    fn enough(&self, out: &mut Vec<String>) {
        match self {
            Rule::Scope(scope) => {
                if !out.contains(scope) {
                    out.push(scope.clone());
                }
            }
            Rule::All(rules) => rules.iter().for_each(|r| r.enough(out)),
            Rule::Any(rules) => {
                if let Some(first) = rules.first() {
                    first.enough(out);
                }
            }
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, rules: &[Rule], word: &str| {
            for (i, rule) in rules.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match rule {
                    Rule::Scope(s) => f.write_str(s)?,
                    nested => write!(f, "({nested})")?,
                }
            }
            Ok(())
        };
        match self {
            Rule::Scope(scope) => f.write_str(scope),
            Rule::All(rules) => join(f, rules, "and"),
            Rule::Any(rules) => join(f, rules, "or"),
        }
    }
}

impl std::fmt::Display for RequireScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.rule.fmt(f)
    }
}

impl RequireScope {
    /// The token must also carry `scope`.
    pub fn and(self, scope: &str) -> Self {
        self.and_rule(require_scope(scope))
    }

    /// The token may carry `scope` instead.
    pub fn or(self, scope: &str) -> Self {
        self.or_rule(require_scope(scope))
    }

    /// The token must also pass `other`.
    pub fn and_rule(self, other: RequireScope) -> Self {
        RequireScope {
            rule: Rule::All(vec![self.rule, other.rule]),
        }
    }

    /// The token may pass `other` instead.
    pub fn or_rule(self, other: RequireScope) -> Self {
        RequireScope {
            rule: Rule::Any(vec![self.rule, other.rule]),
        }
    }

    /// Whether `token` passes.
    pub fn allows(&self, token: &AccessToken) -> bool {
        self.rule.allows(token)
    }
}

impl<S> tower::Layer<S> for RequireScope {
    type Service = RequireScopeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireScopeService {
            inner,
            rule: self.rule.clone(),
        }
    }
}

/// The service [`require_scope`] makes.
#[derive(Debug, Clone)]
pub struct RequireScopeService<S> {
    inner: S,
    rule: Rule,
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
            .map(|t| self.rule.allows(t));
        let mut enough = Vec::new();
        self.rule.enough(&mut enough);
        let scope = enough.join(" ");
        let realm = realm_of(request.extensions());
        let dpop_scheme = used_dpop(request.headers());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match allowed {
                Some(true) => inner.call(request).await,
                Some(false) => Ok(BearerRejection {
                    error: ValidationError::InsufficientScope(scope),
                    realm,
                    dpop_scheme,
                }
                .into_response()),
                None => Ok(BearerRejection {
                    error: ValidationError::Missing,
                    realm,
                    dpop_scheme,
                }
                .into_response()),
            }
        })
    }
}
