//! Integration tests: the real server on 127.0.0.1:0 with a temporary SQLite database, spoken to over
//! HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod helpers;

mod client_auth;
mod declarative;
mod discovery;
mod errors;
mod introspection;
mod jwt;
mod registry;
mod rotation;
mod selection;
pub mod sign_in;
