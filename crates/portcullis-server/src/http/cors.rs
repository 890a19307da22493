//! CORS (the Fetch standard's protocol) for browser apps. The discovery documents and the JWKS are
//! public, so any origin may read them. The token, userinfo, introspection and revocation endpoints
//! answer cross-origin requests only for the origins in `cors.allowed_origins`, which is empty by
//! default. Credentials (cookies) are never allowed cross-origin: these endpoints authenticate by
//! header or form, and the sign-in pages are not CORS resources at all.

use super::AppState;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use tower::Service;

enum Policy {
    Public,
    Restricted,
    None,
}

fn policy(path: &str) -> Policy {
    match path {
        "/jwks.json"
        | "/.well-known/openid-configuration"
        | "/.well-known/oauth-authorization-server" => Policy::Public,
        "/token" | "/userinfo" | "/introspect" | "/revoke" | "/par" => Policy::Restricted,
        _ => Policy::None,
    }
}

fn methods(path: &str) -> &'static str {
    match path {
        "/userinfo" => "GET, POST",
        "/token" | "/introspect" | "/revoke" | "/par" => "POST",
        _ => "GET",
    }
}

/// Answers a preflight, or runs the request and adds the CORS headers its origin may have.
/// Part of the one middleware, [`super::observe::Observe`]; `inner` is the route, readied.
pub async fn cors<S>(state: &AppState, request: Request, mut inner: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let mut next = move |request| {
        let answer = inner.call(request);
        async move { answer.await.unwrap_or_else(|never| match never {}) }
    };
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next(request).await;
    };
    let path = request.uri().path().to_owned();
    let allow = match policy(&path) {
        Policy::None => return next(request).await,
        Policy::Public => Some(HeaderValue::from_static("*")),
        Policy::Restricted => state
            .cors_origins
            .iter()
            .any(|allowed| allowed.as_str() == origin)
            .then(|| HeaderValue::from_str(&origin).ok())
            .flatten(),
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let Some(allow) = allow else {
            // No CORS headers: the browser refuses the real request.
            return StatusCode::FORBIDDEN.into_response();
        };
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        add_common(headers, allow);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods(&path)),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, dpop"),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(600));
        return response;
    }
    let mut response = next(request).await;
    if let Some(allow) = allow {
        add_common(response.headers_mut(), allow);
    }
    response
}

fn add_common(headers: &mut HeaderMap, allow: HeaderValue) {
    let wildcard = allow == "*";
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    if !wildcard {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("www-authenticate, retry-after, x-request-id, dpop-nonce"),
    );
}
