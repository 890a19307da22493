//! Integration tests: the real server on 127.0.0.1:0 with a temporary database, spoken to over
//! HTTP. SQLite by default; `PORTCULLIS_TEST_DATABASE=postgres` runs every test on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// Tests wait on real processes and sockets with real deadlines.
#![allow(clippy::disallowed_methods)]

mod databases;
mod helpers;

mod attacks;
mod backup;
mod cleanup;
mod client_auth;
mod client_proofs;
mod declarative;
pub mod device;
mod discovery;
mod errors;
mod exchange;
mod hardening;
mod introspection;
mod jwt;
mod postgres_tls;
mod registration;
mod registry;
mod rekey;
mod rotation;
mod selection;
pub mod sign_in;
mod storage;
mod structure;
mod tls;
mod vault;
