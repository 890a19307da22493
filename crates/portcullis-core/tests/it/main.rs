//! Property tests of the parsers, the fuzzers' saved corpus replayed as regression tests, and
//! every crypto backend checked against signatures OpenSSL made.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// Tests wait on real processes and sockets with real deadlines.
#![allow(clippy::disallowed_methods)]

mod corpus;
mod properties;
mod signatures;
