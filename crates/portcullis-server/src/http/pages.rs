//! HTML pages (login, consent, errors, signed out): minijinja templates compiled into the binary,
//! rendered with autoescaping, and sent with headers that keep them out of frames and caches.

use crate::oauth::authorization_request::{AuthorizationResponse, ResponseMode};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value, context};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "logged_out.html",
        include_str!("../../templates/logged_out.html"),
    ),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "form_post.html",
        include_str!("../../templates/form_post.html"),
    ),
    ("device.html", include_str!("../../templates/device.html")),
    (
        "device_done.html",
        include_str!("../../templates/device_done.html"),
    ),
];

/// The one script the form-post page runs; the page's CSP allows it by its hash and nothing else.
const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

const STYLESHEET: &str = include_str!("../../assets/portcullis.css");

/// The page renderer.
pub struct Pages {
    env: Environment<'static>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pages")
    }
}

impl Pages {
    /// Loads the built-in templates.
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Pages { env })
    }

    /// Renders a page with the security headers every page carries.
    pub fn render(&self, status: StatusCode, name: &str, ctx: Value) -> Response {
        let html = self.env.get_template(name).and_then(|t| t.render(ctx));
        let mut response = match html {
            Ok(html) => (status, html).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "cannot render page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be shown.".to_owned(),
                )
                    .into_response()
            }
        };
        page_headers(&mut response);
        response
    }

    /// The error page (`http::error::page_error` decides what it says and its status).
    pub fn error_page(
        &self,
        status: StatusCode,
        code: Option<&str>,
        title: &str,
        message: &str,
    ) -> Response {
        let request_id = super::observe::current_request_id();
        self.render(
            status,
            "error.html",
            context! { title, message, code, request_id },
        )
    }
}

/// The authorization response: a 303 to the redirect URI with the parameters in its query, or for
/// `response_mode=form_post` a page whose form POSTs them there. The page submits itself with
/// one script, and shows a button for a browser without JavaScript.
pub fn authorization_response(pages: &Pages, response: &AuthorizationResponse) -> Response {
    match response.response_mode {
        ResponseMode::Query => see_other(&response.location()),
        ResponseMode::FormPost => {
            let params: Vec<Value> = response
                .params
                .iter()
                .map(|(name, value)| context! { name, value })
                .collect();
            let mut page = pages.render(
                StatusCode::OK,
                "form_post.html",
                context! { action => response.redirect_uri, params, script => FORM_POST_SCRIPT },
            );
            let csp = format!(
                "default-src 'none'; script-src '{}'; style-src 'self'; form-action {}; \
                 frame-ancestors 'none'; base-uri 'none'",
                script_hash(FORM_POST_SCRIPT),
                form_action_source(&response.redirect_uri)
            );
            if let Ok(value) = HeaderValue::from_str(&csp) {
                page.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, value);
            }
            page
        }
    }
}

/// A CSP hash source for an inline script (CSP Level 3 §2.3.1).
fn script_hash(script: &str) -> String {
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The CSP source that lets the form post to exactly the redirect URI: its scheme, host, port and
/// path (a CSP source has no query). A path with characters a source expression cannot hold falls
/// back to the origin, and a URI of another scheme (a native app's) to that scheme.
fn form_action_source(redirect_uri: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-._~/:%!$&()+=[]".contains(c);
    let no_query = redirect_uri.split(['?', '#']).next().unwrap_or_default();
    if let Some((scheme, rest)) = no_query.split_once("://")
        && (scheme == "http" || scheme == "https")
    {
        if no_query.chars().all(safe) && !no_query.contains('[') {
            return no_query.to_owned();
        }
        let authority = rest.split('/').next().unwrap_or_default();
        // CSP host sources have no IPv6 literals: such a URI gets its scheme only, below.
        if authority.chars().all(safe) && !authority.contains('[') {
            return format!("{scheme}://{authority}");
        }
    }
    match redirect_uri.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            format!("{scheme}:")
        }
        _ => "'none'".to_owned(),
    }
}

/// A 303 to `location`, never cached: how the browser endpoints send the browser on.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `X-Frame-Options`, CSP `frame-ancestors 'none'` (no clickjacking), `no-store`, no referrer.
pub fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action *",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// `GET /assets/portcullis.css`.
pub async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
