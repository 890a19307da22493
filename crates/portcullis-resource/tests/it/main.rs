//! The validator against a real Portcullis server on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod helpers;

mod layer;
mod validation;
