//! The validator against a real Portcullis server on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// Tests wait on real processes and sockets with real deadlines.
#![allow(clippy::disallowed_methods)]

mod fixtures;
mod helpers;

mod dpop;
mod layer;
mod providers;
mod validation;
