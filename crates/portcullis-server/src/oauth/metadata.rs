//! Authorization server metadata (RFC 8414 §2, OpenID Connect Discovery §3): what this server
//! offers, in one document built once at start. A new grant, authentication method or endpoint is
//! announced here.

use super::settings::TokenSettings;
use portcullis_core::client_assertion::ALGORITHMS as ASSERTION_ALGORITHMS;
use portcullis_core::{Algorithm, TokenRequest};
use serde_json::json;

/// How clients may authenticate at the token, introspection, revocation and PAR endpoints.
/// `client_secret_jwt` is left out on purpose: secrets are stored as keyed hashes, so the server
/// could not check an HMAC made with one.
const CLIENT_AUTH_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// The metadata document, built once at start. `par_required` is the global
/// `require_pushed_authorization_requests`.
pub fn metadata_document(
    tokens: &TokenSettings,
    par_required: bool,
    registration: bool,
) -> serde_json::Value {
    let issuer = &tokens.issuer;
    let algs: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
    let assertion_algs: Vec<&str> = ASSERTION_ALGORITHMS.iter().map(|a| a.as_str()).collect();
    let mut token_auth: Vec<&str> = CLIENT_AUTH_METHODS.to_vec();
    token_auth.push("none");
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "require_pushed_authorization_requests": par_required,
        // Request objects, by value or by reference, are not supported; a pushed request's
        // request_uri always is (RFC 9126 §4).
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "grant_types_supported": TokenRequest::SUPPORTED.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
            "preferred_username", "name", "given_name", "family_name", "email", "email_verified"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": token_auth,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "access_token_signing_alg_values_supported": algs,
        "dpop_signing_alg_values_supported": portcullis_core::dpop::ALGORITHMS.map(|a| a.as_str()),
    });
    if registration {
        document["registration_endpoint"] = json!(format!("{issuer}/register"));
    }
    document
}
