//! The grants the token endpoint runs once the client is authenticated. Each grant turns a
//! well-formed [`TokenRequest`](portcullis_core::TokenRequest) into a token response or a §5.2 error.

pub mod access_token;
pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod user_tokens;

use crate::error::TokenError;
use portcullis_core::ErrorCode;

/// `invalid_grant`: the code or refresh token is not (or no longer) good.
fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(ErrorCode::InvalidGrant, description)
}

/// A storage failure on a grant path: our fault, never the request's.
fn store_error(e: crate::store::StoreError) -> TokenError {
    TokenError::server(format!("storage: {e}"))
}

/// `unauthorized_client` unless the client is registered for `grant` (RFC 6749 §5.2).
fn require_grant(
    client: &crate::client::Client,
    grant: portcullis_core::GrantType,
) -> Result<(), TokenError> {
    if client.metadata.grant_types.contains(&grant) {
        Ok(())
    } else {
        Err(TokenError::new(
            ErrorCode::UnauthorizedClient,
            format!(
                "this client is not allowed to use the {} grant",
                grant.as_str()
            ),
        ))
    }
}
