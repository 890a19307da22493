#![no_main]
//! See `portcullis_core::fuzz_targets::basic`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_core::fuzz_targets::basic(data));
