//! Tests of the `portcullis` binary itself: the real process, its flags, environment, output and
//! signals.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// Tests wait on real processes and sockets with real deadlines.
#![allow(clippy::disallowed_methods)]

mod helpers;
mod postgres;

mod admin;
mod cli_edges;
pub mod client_cli;
pub mod client_proofs;
mod config;
mod database;
mod device;
mod first_day;
mod foreign_tokens;
mod instances;
mod keys;
mod logs;
mod master_key;
mod node_oidc_provider;
mod oauth4webapi;
mod ops;
#[cfg(feature = "otel")]
mod otel;
mod registration;
mod serve;
mod users;
