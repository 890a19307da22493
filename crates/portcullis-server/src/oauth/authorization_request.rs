//! The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1),
//! checked in the order that decides where an error may go: `client_id` and `redirect_uri` first,
//! because until both are known good the browser must not be sent anywhere (RFC 6749 §4.1.2.1).

use crate::client::Client;
use crate::registry::Snapshot;
use portcullis_core::pkce::{S256, is_valid_s256_challenge};
use portcullis_core::{ErrorCode, FormParams, GrantType, Scope};
use std::sync::Arc;

pub use super::authorization_response::{AuthorizationResponse, ResponseMode, redirect_with};

/// The parameters carried from page to page (login, consent) as hidden fields.
pub const PROTOCOL_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "response_mode",
    "dpop_jkt",
];

/// The `request_uri` prefix of pushed authorization requests (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// A request that came through the pushed authorization request endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The `request_uri`, carried from page to page instead of the parameters.
    pub request_uri: String,
    /// Its SHA-256, the stored row's key.
    pub request_hash: Vec<u8>,
}

/// `prompt` (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login`: authenticate again.
    pub login: bool,
    /// `consent`: ask again.
    pub consent: bool,
}

/// A valid authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Arc<Client>,
    /// Where the response goes.
    pub redirect_uri: String,
    /// Whether the request named it (then the token request must repeat it).
    pub redirect_uri_sent: bool,
    /// Echoed back.
    pub state: Option<String>,
    /// The scope asked for (or the client's default).
    pub scope: Scope,
    /// The S256 challenge.
    pub code_challenge: Option<String>,
    /// Echoed into the ID token.
    pub nonce: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// The original protocol parameters, for the hidden fields of the next form.
    pub params: Vec<(String, String)>,
    /// How the response goes back.
    pub response_mode: ResponseMode,
    /// The DPoP key the code is to be bound to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// Set when the request was pushed (RFC 9126); then `params` are only `client_id` and
    /// `request_uri`.
    pub pushed: Option<Pushed>,
}

/// What went wrong, and so where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; never a redirect.
    Page {
        /// The OAuth error code, shown on the page for the developer.
        code: ErrorCode,
        /// Heading.
        title: String,
        /// Explanation.
        message: String,
    },
    /// Our own failure (storage, randomness): a 500 page with a fixed message and the request
    /// id; the cause has been logged.
    Internal,
    /// Sent back to the client's redirect URI.
    Redirect {
        /// The checked redirect URI.
        redirect_uri: String,
        /// The client's state.
        state: Option<String>,
        /// The error code.
        code: ErrorCode,
        /// Why.
        description: String,
        /// How the error goes back.
        response_mode: ResponseMode,
    },
}

fn page(code: ErrorCode, title: &str, message: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        code,
        title: title.to_owned(),
        message: message.into(),
    }
}

pub use portcullis_core::redirect::redirect_uri_matches;

impl AuthorizationRequest {
    /// Checks a request sent straight to the authorization endpoint; `par_required` is the global
    /// setting that refuses those.
    pub fn parse(
        form: &FormParams,
        snapshot: &Snapshot,
        par_required: bool,
    ) -> Result<Self, AuthorizeError> {
        Self::parse_with(form, snapshot, par_required, None)
    }

    /// Checks the parameters of a pushed request (`pushed` set), or of one sent straight to the
    /// endpoint.
    pub fn parse_with(
        form: &FormParams,
        snapshot: &Snapshot,
        par_required: bool,
        pushed: Option<Pushed>,
    ) -> Result<Self, AuthorizeError> {
        let one = |name: &str| {
            form.get(name)
                .map(|v| v.map(str::to_owned))
                .map_err(|_| format!("{name} is repeated"))
        };
        let client_id = one("client_id")
            .map_err(|m| page(ErrorCode::InvalidRequest, "Invalid request", m))?
            .ok_or_else(|| {
                page(
                    ErrorCode::InvalidRequest,
                    "Invalid request",
                    "The request does not name a client (client_id is missing).",
                )
            })?;
        let client = snapshot.client(&client_id).cloned().ok_or_else(|| {
            page(
                ErrorCode::InvalidClient,
                "Unknown application",
                "The application that sent you here is not registered with this server.",
            )
        })?;
        let given = one("redirect_uri")
            .map_err(|m| page(ErrorCode::InvalidRequest, "Invalid request", m))?;
        let registered = &client.metadata.redirect_uris;
        let (redirect_uri, redirect_uri_sent) = match &given {
            Some(uri)
                if registered
                    .iter()
                    .any(|r| redirect_uri_matches(r, uri, client.metadata.application_type())) =>
            {
                (uri.clone(), true)
            }
            Some(_) => {
                return Err(page(
                    ErrorCode::InvalidRequest,
                    "Invalid redirect",
                    "The application asked to send you to an address it has not registered, so you were not sent there.",
                ));
            }
            None if registered.len() == 1 => (registered[0].clone(), false),
            None => {
                return Err(page(
                    ErrorCode::InvalidRequest,
                    "Invalid request",
                    "The request has no redirect_uri and the application has several.",
                ));
            }
        };
        // From here on, errors go back to the client, in the response mode it asked for when
        // that is one we know.
        let state = form.get("state").ok().flatten().map(str::to_owned);
        let (response_mode, mode_problem) = match form.get("response_mode") {
            Ok(None | Some("query")) => (ResponseMode::Query, None),
            Ok(Some("form_post")) => (ResponseMode::FormPost, None),
            Ok(Some(_)) => (
                ResponseMode::Query,
                Some("response_mode must be query or form_post"),
            ),
            Err(_) => (ResponseMode::Query, Some("response_mode is repeated")),
        };
        // A self-registered client's redirect URI is vouched for by nobody: a request refused
        // before anyone signed in shows a page rather than send the browser there, or anyone
        // could register a client to make this server an open redirector (RFC 9700 §4.11.2).
        let self_registered = client.self_registered;
        let fail = |code: ErrorCode, description: &str| {
            if self_registered {
                return page(code, "Invalid request", description);
            }
            AuthorizeError::Redirect {
                redirect_uri: redirect_uri.clone(),
                state: state.clone(),
                code,
                description: description.to_owned(),
                response_mode,
            }
        };
        if let Some(problem) = mode_problem {
            return Err(fail(ErrorCode::InvalidRequest, problem));
        }
        if pushed.is_none()
            && (par_required || client.metadata.require_pushed_authorization_requests)
        {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "authorization requests must be pushed first: POST them to the pushed_authorization_request_endpoint (RFC 9126) and send only client_id and request_uri here",
            ));
        }
        if form.get("request").ok().flatten().is_some() {
            return Err(fail(
                ErrorCode::RequestNotSupported,
                "request objects are not supported; push the request (RFC 9126) instead",
            ));
        }
        for name in PROTOCOL_PARAMS {
            if form.get(name).is_err() {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    &format!("{name} is repeated"),
                ));
            }
        }
        let get = |name: &str| form.get(name).ok().flatten();
        match get("response_type") {
            None => return Err(fail(ErrorCode::InvalidRequest, "response_type is missing")),
            Some("code") => {}
            Some(_) => {
                return Err(fail(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        if !client
            .metadata
            .grant_types
            .contains(&GrantType::AuthorizationCode)
        {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "this client is not allowed to use the authorization code flow",
            ));
        }
        let scope = match get("scope") {
            None => client.default_scope.clone(),
            Some(text) => {
                Scope::parse(text).map_err(|e| fail(ErrorCode::InvalidScope, &e.to_string()))?
            }
        };
        if !scope.is_subset_of(&client.scope) {
            return Err(fail(
                ErrorCode::InvalidScope,
                "the scope asks for more than this client may have",
            ));
        }
        let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (Some(c), Some(S256)) if is_valid_s256_challenge(c) => Some(c.to_owned()),
            (Some(_), Some(S256)) => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "code_challenge is not a valid S256 challenge",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "only code_challenge_method=S256 is supported",
                ));
            }
            (Some(_), None) => {
                // RFC 7636 would read this as `plain`, which we refuse.
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method=S256 is required",
                ));
            }
            (None, Some(_)) => {
                return Err(fail(ErrorCode::InvalidRequest, "code_challenge is missing"));
            }
            (None, None) if client.metadata.require_pkce || client.metadata.is_public() => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                ));
            }
            (None, None) => None,
        };
        let mut prompt = Prompt::default();
        for value in get("prompt")
            .unwrap_or_default()
            .split(' ')
            .filter(|v| !v.is_empty())
        {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => {}
                _ => {
                    return Err(fail(
                        ErrorCode::InvalidRequest,
                        "prompt has an unknown value",
                    ));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "prompt=none cannot be combined with other values",
            ));
        }
        let max_age = match get("max_age") {
            None => None,
            Some(v) => Some(v.parse::<u32>().map(i64::from).map_err(|_| {
                fail(
                    ErrorCode::InvalidRequest,
                    "max_age must be a number of seconds",
                )
            })?),
        };
        let dpop_jkt = match get("dpop_jkt") {
            None => None,
            Some(jkt) if is_thumbprint(jkt) => Some(jkt.to_owned()),
            Some(_) => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "dpop_jkt must be the base64url SHA-256 thumbprint of a key (43 characters)",
                ));
            }
        };
        let params = match &pushed {
            Some(p) => vec![
                ("client_id".to_owned(), client.id.to_string()),
                ("request_uri".to_owned(), p.request_uri.clone()),
            ],
            None => PROTOCOL_PARAMS
                .iter()
                .filter_map(|name| get(name).map(|v| ((*name).to_owned(), v.to_owned())))
                .collect(),
        };
        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            redirect_uri_sent,
            nonce: get("nonce").map(str::to_owned),
            state,
            scope,
            code_challenge,
            prompt,
            max_age,
            params,
            response_mode,
            dpop_jkt,
            pushed,
        })
    }
}

/// Whether `value` looks like an RFC 7638 SHA-256 thumbprint: 43 base64url characters.
fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        use portcullis_core::ApplicationType::{Native, Web};
        // A web client's loopback URI keeps its port.
        assert!(!redirect_uri_matches(
            "http://127.0.0.1:9999/cb",
            "http://127.0.0.1:10000/cb",
            Web
        ));
        let r = "https://app.example.com/cb";
        assert!(redirect_uri_matches(r, r, Native));
        for trick in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb/../cb",
            "https://app.example.com/cb#x",
            "https://user@app.example.com/cb",
            "https://app.example.com.evil.com/cb",
            "https://app.example.com:443/cb",
            "https://app.example.com/cbx",
        ] {
            assert!(!redirect_uri_matches(r, trick, Native), "{trick}");
        }
        let loopback = "http://127.0.0.1/callback";
        assert!(redirect_uri_matches(
            loopback,
            "http://127.0.0.1:53111/callback",
            Native
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:1/cb",
            "http://[::1]:65000/cb",
            Native
        ));
        assert!(!redirect_uri_matches(
            loopback,
            "http://127.0.0.1:53111/other",
            Native
        ));
        assert!(!redirect_uri_matches(
            loopback,
            "http://127.0.0.1.evil.com:80/callback",
            Native
        ));
        assert!(!redirect_uri_matches(
            loopback,
            "http://127.0.0.1:80@evil.com/callback",
            Native
        ));
        assert!(!redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:8000/cb",
            Native
        ));
        assert!(!redirect_uri_matches(
            loopback,
            "https://127.0.0.1:5/callback",
            Native
        ));
    }

    #[test]
    fn redirect_keeps_an_existing_query() {
        assert_eq!(
            redirect_with("https://a.example/cb?x=1", &[("code", "a b")]),
            "https://a.example/cb?x=1&code=a+b"
        );
    }
}
