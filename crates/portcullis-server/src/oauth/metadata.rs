//! Authorization server metadata (RFC 8414 §2, OpenID Connect Discovery §3): what this server
//! offers, in one document built once at start. A new grant, authentication method or endpoint is
//! announced here.

use super::settings::TokenSettings;
use portcullis_core::{Algorithm, TokenRequest};
use serde_json::json;

/// The metadata document, built once at start.
pub fn metadata_document(tokens: &TokenSettings) -> serde_json::Value {
    let issuer = &tokens.issuer;
    let algs: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "jwks_uri": format!("{issuer}/jwks.json"),
        "grant_types_supported": TokenRequest::SUPPORTED.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
            "preferred_username", "name", "given_name", "family_name", "email", "email_verified"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "access_token_signing_alg_values_supported": algs,
    })
}
