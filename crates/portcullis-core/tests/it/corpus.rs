//! Every input the fuzzers kept (`fuzz/corpus/TARGET/`), run through the same target body. A crash
//! the fuzzer once found stays found.

use portcullis_core::fuzz_targets;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the corpus is part of the repository",
            dir.display()
        )
    });
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        run(&data);
        count += 1;
    }
    assert!(count > 0, "no corpus for {target}");
}

#[test]
fn form() {
    replay("form", fuzz_targets::form);
}

#[test]
fn basic() {
    replay("basic", fuzz_targets::basic);
}

#[test]
fn scope() {
    replay("scope", fuzz_targets::scope);
}

#[test]
fn redirect_uri() {
    replay("redirect_uri", fuzz_targets::redirect_uri);
}

#[test]
fn jws() {
    replay("jws", fuzz_targets::jws);
}
