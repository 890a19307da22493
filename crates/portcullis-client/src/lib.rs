//! The OAuth 2.0 client side of Portcullis: get, cache and refresh tokens with no hand-written HTTP.
//!
//! ```no_run
//! # async fn run() -> Result<(), portcullis_client::ClientError> {
//! use portcullis_client::{ClientCredentials, TokenSource};
//! let source = TokenSource::new(ClientCredentials::from_env()?);
//! let token = source.token().await?;
//! println!("{} token, {} chars", token.token_type, token.access_token.expose().len());
//! # Ok(()) }
//! ```
//!
//! Works against any standards-compliant authorization server, not only Portcullis: `expires_in` may
//! be a string or missing, `token_type` missing or in another case, errors come typed.
#![forbid(unsafe_code)]

mod callback_page;
mod config;
pub mod device;
pub mod discovery;
pub mod dpop;
mod error;
pub mod id_token;
pub mod login;
mod middleware;
pub mod private_key;
mod source;
pub mod store;
mod token;

pub use config::{AuthMethod, ClientCredentials, Endpoint};
pub use device::{DeviceAuthorization, Waiting};
pub use dpop::DpopKey;
pub use error::{ClientError, describe_error, http_client};
pub use login::{LoginSettings, access_token, login};
pub use middleware::{BearerAuth, CallError, send_with_token};
pub use private_key::PrivateKey;
pub use source::TokenSource;
pub use store::{FileTokenStore, StoredTokens, TokenStore};
pub use token::{Token, read_answer};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
