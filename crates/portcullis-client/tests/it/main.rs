//! The client against a real Portcullis server and against a deliberately non-standard token
//! endpoint started in the test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// Tests wait on real processes and sockets with real deadlines.
#![allow(clippy::disallowed_methods)]

mod fake;

mod against_portcullis;
mod config;
mod device;
mod embedding;
mod id_token;
mod stored;
mod tolerance;
