//! Property tests of the parsers, and the fuzzers' saved corpus replayed as regression tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// Tests wait on real processes and sockets with real deadlines.
#![allow(clippy::disallowed_methods)]

mod corpus;
mod properties;
