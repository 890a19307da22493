//! The metadata a client may register (RFC 7591 §2, OpenID Connect Registration §2, RFC 8252 §7),
//! read from JSON and checked into `ClientMetadata`, or refused with the RFC 7591 §3.2.2 error.

use super::{RegistrationError, RegistrationSettings, metadata_error};
use crate::client::{ClientMetadata, public_jwk_set};
use portcullis_core::{Algorithm, ApplicationType, GrantType, Scope, TokenEndpointAuthMethod};
use serde::Deserialize;
use serde_json::Value;

/// Redirect URIs of each kind a registered client may have.
const MAX_URIS: usize = 20;
/// The longest redirect URI a registered client may register.
const MAX_URI_LENGTH: usize = 2000;

/// The metadata a client may send (RFC 7591 §2, OpenID Connect Registration). Members this server
/// does not understand are ignored, as RFC 7591 §2 says.
#[derive(Debug, Deserialize)]
pub(super) struct Requested {
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    application_type: Option<String>,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: Option<bool>,
    #[serde(default)]
    dpop_bound_access_tokens: Option<bool>,
    #[serde(default)]
    software_statement: Option<Value>,
    /// The client_id, which an update must name.
    #[serde(default)]
    pub(super) client_id: Option<String>,
    /// A client_secret, which an update may send and which must then be the secret.
    #[serde(default)]
    pub(super) client_secret: Option<String>,
}

/// Reads and checks the metadata of a registration or an update (RFC 7591 §2).
pub(super) fn client_metadata(
    settings: &RegistrationSettings,
    body: &Value,
) -> Result<(ClientMetadata, Requested), RegistrationError> {
    if !body.is_object() {
        return Err(metadata_error(
            "the body must be a JSON object of client metadata",
        ));
    }
    let r: Requested = serde_json::from_value(body.clone())
        .map_err(|e| metadata_error(format!("client metadata: {e}")))?;
    if r.software_statement.is_some() {
        return Err(RegistrationError::UnapprovedSoftwareStatement);
    }
    let auth_method = match r
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic")
    {
        "client_secret_basic" => TokenEndpointAuthMethod::ClientSecretBasic,
        "client_secret_post" => TokenEndpointAuthMethod::ClientSecretPost,
        "private_key_jwt" => TokenEndpointAuthMethod::PrivateKeyJwt,
        "none" => TokenEndpointAuthMethod::None,
        other => {
            return Err(metadata_error(format!(
                "token_endpoint_auth_method '{other}' is not supported: use client_secret_basic, \
                 client_secret_post, private_key_jwt or none"
            )));
        }
    };
    let mut grant_types = Vec::new();
    for name in r
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()])
    {
        let grant = match name.as_str() {
            "authorization_code" => GrantType::AuthorizationCode,
            "refresh_token" => GrantType::RefreshToken,
            "client_credentials" => GrantType::ClientCredentials,
            portcullis_core::grant::DEVICE_CODE => GrantType::DeviceCode,
            portcullis_core::grant::TOKEN_EXCHANGE => {
                return Err(metadata_error(
                    "token exchange clients are registered by an administrator: which audiences \
                     a client may exchange for is policy",
                ));
            }
            other => {
                return Err(metadata_error(format!(
                    "grant type '{other}' is not supported"
                )));
            }
        };
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    let code_flow = grant_types.contains(&GrantType::AuthorizationCode);
    let response_types = r.response_types.clone().unwrap_or_else(|| {
        if code_flow {
            vec!["code".into()]
        } else {
            Vec::new()
        }
    });
    if let Some(other) = response_types.iter().find(|t| *t != "code") {
        return Err(metadata_error(format!(
            "response type '{other}' is not supported: only code"
        )));
    }
    // RFC 7591 §2.1: the grant types and response types must go together.
    if code_flow != response_types.iter().any(|t| t == "code") {
        return Err(metadata_error(
            "the authorization_code grant and the code response type go together (RFC 7591 §2.1)",
        ));
    }
    let public = auth_method == TokenEndpointAuthMethod::None;
    let application_type = match r.application_type.as_deref() {
        None if public => ApplicationType::Native,
        None | Some("web") => ApplicationType::Web,
        Some("native") => ApplicationType::Native,
        Some(other) => {
            return Err(metadata_error(format!(
                "application_type '{other}' is not web or native"
            )));
        }
    };
    if let Some(uri) = &r.jwks_uri {
        check_jwks_uri(uri)?;
    }
    if r.redirect_uris.as_ref().is_some_and(|u| u.len() > MAX_URIS)
        || r.post_logout_redirect_uris
            .as_ref()
            .is_some_and(|u| u.len() > MAX_URIS)
        || r.redirect_uris
            .iter()
            .chain(r.post_logout_redirect_uris.iter())
            .flatten()
            .any(|u| u.len() > MAX_URI_LENGTH)
    {
        return Err(RegistrationError::InvalidRedirectUri(format!(
            "at most {MAX_URIS} redirect URIs of each kind, each at most {MAX_URI_LENGTH} characters"
        )));
    }
    let redirect_uris = r.redirect_uris.clone().unwrap_or_default();
    for uri in redirect_uris
        .iter()
        .chain(r.post_logout_redirect_uris.iter().flatten())
    {
        check_redirect_uri(uri, application_type)?;
    }
    if code_flow && redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "the authorization_code grant needs at least one redirect URI".into(),
        ));
    }
    let scope = match &r.scope {
        Some(s) => Scope::parse(s).map_err(|e| metadata_error(format!("scope: {e}")))?,
        None => settings.scope.clone(),
    };
    if !scope.is_subset_of(&settings.scope) {
        return Err(metadata_error(format!(
            "scope asks for more than a registered client may have ({})",
            settings.scope
        )));
    }
    let jwks = r
        .jwks
        .clone()
        .map(public_jwk_set)
        .transpose()
        .map_err(metadata_error)?;
    let id_token_signed_response_alg = r
        .id_token_signed_response_alg
        .as_deref()
        .map(|a| {
            Algorithm::ALL
                .iter()
                .copied()
                .find(|x| x.as_str() == a)
                .ok_or_else(|| {
                    metadata_error(format!("id_token_signed_response_alg '{a}' is not offered"))
                })
        })
        .transpose()?;
    let metadata = ClientMetadata {
        client_name: r.client_name.clone(),
        grant_types,
        redirect_uris,
        response_types,
        scope: scope.to_string(),
        token_endpoint_auth_method: Some(auth_method),
        id_token_signed_response_alg,
        post_logout_redirect_uris: r.post_logout_redirect_uris.clone().unwrap_or_default(),
        application_type: Some(application_type),
        jwks,
        jwks_uri: r.jwks_uri.clone(),
        require_pushed_authorization_requests: r
            .require_pushed_authorization_requests
            .unwrap_or(false),
        dpop_bound_access_tokens: r.dpop_bound_access_tokens.unwrap_or(false),
        ..ClientMetadata::default()
    };
    metadata.validate().map_err(|e| metadata_error(e.0))?;
    Ok((metadata, r))
}

/// The host of `scheme://authority/…`, lower case, without port or trailing dot; `None` for a
/// URI with user info or a backslash (which browsers read as `/`, so `http://evil\\@127.0.0.1/`
/// would go to evil), or without an authority.
fn host_of(uri: &str) -> Option<String> {
    if uri.contains('\\') {
        return None;
    }
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or_default()),
        None => authority.split(':').next().unwrap_or_default().to_owned(),
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether a host names this machine or a private network: a loopback, private, link-local or
/// unspecified address, a name under `localhost`, `local` or `internal`, or a number a browser
/// would read as an address (`127.1`).
fn is_local(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return crate::client_keys::is_local_address(ip);
    }
    // `127.1`, `2130706433` or `0x7f.1`: browsers read these as addresses.
    let numeric = !bare.is_empty()
        && (bare.chars().all(|c| c.is_ascii_digit() || c == '.')
            || bare.split('.').any(|part| part.starts_with("0x")));
    numeric
        || bare == "localhost"
        || [".localhost", ".local", ".internal"]
            .iter()
            .any(|suffix| bare.ends_with(suffix))
}

/// A self-registered client's `jwks_uri` is fetched by the server, so it must be https to a
/// public host: not this machine, not a private network (which would let anyone who registers
/// make the server send requests there).
fn check_jwks_uri(uri: &str) -> Result<(), RegistrationError> {
    match host_of(uri) {
        Some(host) if uri.starts_with("https://") && !is_local(&host) => Ok(()),
        _ => Err(metadata_error(
            "a registered client's jwks_uri is https on a public host (not localhost, not a \
             private address, no user info)",
        )),
    }
}

/// OpenID Connect Registration §2 and RFC 8252 §7: a web client's redirect URIs are https and
/// not on this machine; a native client's are https, http on a loopback address, or a private
/// scheme named after a domain (`com.example.app:/callback`).
fn check_redirect_uri(
    uri: &str,
    application_type: ApplicationType,
) -> Result<(), RegistrationError> {
    let bad = |why: &str| {
        Err(RegistrationError::InvalidRedirectUri(format!(
            "{uri}: {why}"
        )))
    };
    if uri.contains('#') || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a redirect URI has no fragment and no spaces");
    }
    let Some((scheme, _)) = uri.split_once(':') else {
        return bad("not an absolute URI");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "https" || scheme == "http" {
        let Some(host) = host_of(uri) else {
            return bad("a redirect URI has a host, and no user info or backslash");
        };
        let loopback = matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost");
        return match (application_type, scheme.as_str()) {
            (ApplicationType::Web, "https") if is_local(&host) => {
                bad("a web client's redirect URI is not on this machine or a private network")
            }
            (_, "https") => Ok(()),
            (ApplicationType::Web, _) => bad("a web client's redirect URIs use https"),
            (ApplicationType::Native, _) if loopback => Ok(()),
            (ApplicationType::Native, _) => bad(
                "a native client's http redirect URI is on 127.0.0.1, [::1] or localhost \
                 (RFC 8252 §7.3)",
            ),
        };
    }
    let private_use = scheme.contains('.')
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && uri.contains(":/")
        && !uri.contains('\\');
    match application_type {
        ApplicationType::Native if private_use => Ok(()),
        ApplicationType::Native => bad(
            "a native client's private-use scheme is a reversed domain name, such as \
             com.example.app:/callback (RFC 8252 §7.1)",
        ),
        ApplicationType::Web => bad("a web client's redirect URIs use https"),
    }
}
