#![no_main]
//! Harness: `nminus::fuzzing::run("git_http", _)` (shared with the corpus-replay test).

libfuzzer_sys::fuzz_target!(|data: &[u8]| nminus::fuzzing::run("git_http", data));
