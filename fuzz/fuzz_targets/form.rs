#![no_main]
//! See `portcullis_core::fuzz_targets::form`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzz_targets::form(data));
