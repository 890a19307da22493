//! Property tests of the parsers, and the fuzzers' saved corpus replayed as regression tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod corpus;
mod properties;
