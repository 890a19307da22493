//! Protect an API with OAuth 2.0 bearer tokens.
//!
//! [`Validator`] checks RFC 9068 JWT access tokens locally (keys from the issuer's discovery document
//! and JWKS, cached, refetched on an unknown `kid` at most once per interval) or asks the issuer's
//! RFC 7662 introspection endpoint. [`BearerLayer`] puts it in front of axum routes, the
//! [`AccessToken`] extractor hands the result to handlers, and [`require_scope`] guards routes.
//! Refusals follow RFC 6750: 401 `invalid_token`, 403 `insufficient_scope`, 400 `invalid_request`.
//! Tokens bound to a key (DPoP, RFC 9449) are accepted only with a proof by that key
//! ([`Validator::validate_request`]).
#![forbid(unsafe_code)]

mod claims;
mod dpop;
mod error;
mod extract;
pub mod jwks;
mod layer;
mod typ_policy;
mod validator;

pub use claims::AccessToken;
pub use error::ValidationError;
pub use extract::Claims;
pub use layer::{
    BearerLayer, BearerRejection, BearerService, RequireScope, RequireScopeService, bearer_token,
    require_scope,
};
pub use validator::{TypPolicy, Validator, ValidatorBuilder};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
