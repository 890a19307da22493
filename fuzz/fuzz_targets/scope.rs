#![no_main]
//! See `portcullis_core::fuzz_targets::scope`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzz_targets::scope(data));
