//! The grants the token endpoint runs once the client is authenticated. Each grant turns a
//! well-formed [`TokenRequest`](portcullis_core::TokenRequest) into a token response or a §5.2 error.

pub mod access_token;
pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod user_tokens;
