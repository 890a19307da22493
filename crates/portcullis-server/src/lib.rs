//! The Portcullis OAuth 2.0 authorization server as a library.
//!
//! The binary in `crates/portcullis` is a thin shell over [`startup::Server`];
//! tests spawn the same server on port 0.
#![forbid(unsafe_code)]

pub mod admin;
pub mod client;
pub mod client_keys;
pub mod client_secret;
pub mod config;
pub mod crypto;
pub mod http;
pub mod keys;
pub mod listener;
pub mod metrics;
pub mod oauth;
pub mod registry;
pub mod spans;
pub mod startup;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod users;

pub use config::Config;
pub use startup::Server;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
