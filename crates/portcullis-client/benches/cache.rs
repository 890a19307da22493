//! `cargo bench -p portcullis-client`: a cache hit, and a thousand callers on a cold cache.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
fn main() {}
