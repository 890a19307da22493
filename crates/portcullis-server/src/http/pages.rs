//! HTML pages (login, consent, errors, signed out): minijinja templates compiled into the binary,
//! rendered with autoescaping, and sent with headers that keep them out of frames and caches.

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
];

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
