//! `GET/POST /userinfo` (OpenID Connect Core §5.3): reads the bearer token from the header or the
//! form (RFC 6750 §2.1, §2.2), and answers what `oauth::userinfo` decides.

use super::AppState;
use super::error::json_body;
use crate::oauth::error::BearerError;
use crate::oauth::userinfo;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use portcullis_core::FormParams;
use std::sync::Arc;

/// The handler.
pub async fn userinfo(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, BearerError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // A body that cannot be read or parsed carries no token; the header may still.
    let form = if method == Method::POST {
        let bytes = axum::body::to_bytes(body, state.max_body_bytes)
            .await
            .unwrap_or_default();
        FormParams::parse(&bytes).ok()
    } else {
        None
    };
    let presented = userinfo::bearer_token(authorization, form.as_ref())?;
    let refused = |e: BearerError| Ok(super::error::bearer_response(e, presented.dpop));
    let dpop = match super::token::dpop_header(&headers) {
        Ok(dpop) => dpop,
        Err(m) => return refused(BearerError::DpopProof(m)),
    };
    let out = match userinfo::userinfo(
        &state.issuer,
        &presented,
        userinfo::Request {
            method: method.as_str(),
            dpop: dpop.as_deref(),
        },
    )
    .await
    {
        Ok(out) => out,
        Err(e) => return refused(e),
    };
    let mut response = json_body(
        StatusCode::OK,
        serde_json::Value::Object(out).to_string().into_bytes(),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
