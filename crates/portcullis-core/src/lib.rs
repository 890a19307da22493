//! Protocol types shared by every Portcullis crate: the words of RFC 6749 and its extensions as Rust
//! types, and the rules that make a value of each type valid.
//!
//! This crate does no I/O and has no async code, so the client, the resource-server validator and the
//! server agree on the wire format without any of them pulling in the others' dependencies. Its one
//! heavier dependency is the crypto library that checks signatures: aws-lc-rs by default (feature
//! `aws-lc-rs`), which every other crate uses already, or the pure-Rust RustCrypto crates (feature
//! `rust-crypto`) for a resource server built without a C compiler. See [`verifying_key::Backend`].
#![forbid(unsafe_code)]

pub mod basic;
pub mod client;
pub mod client_assertion;
pub mod clock;
pub mod device;
pub mod dpop;
pub mod error;
pub mod form;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod grant;
pub mod hash;
pub mod issuer;
pub mod jose;
pub mod jws;
pub mod pkce;
pub mod redirect;
pub mod scope;
pub mod secret;
pub mod token;
pub mod verifying_key;

pub use client::{ApplicationType, ClientId, TokenEndpointAuthMethod};
pub use clock::{Clock, ManualClock, Stopwatch, SystemClock, UnixTime};
pub use error::{ErrorCode, ErrorResponse};
pub use form::{FormError, FormParams};
pub use grant::{GrantType, TokenRequest, TokenRequestError, TokenTypeId};
pub use jose::{Algorithm, Jwk, JwkSet, JwsAlgorithm};
pub use scope::{Scope, ScopeError};
pub use secret::Secret;
pub use token::{AccessTokenClaims, Audience, Confirmation, TokenResponse};
pub use verifying_key::VerifyingKey;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
