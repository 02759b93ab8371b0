#![no_main]
//! Harness: `nminus::fuzzing::run("policy", _)` (shared with the corpus-replay test).

libfuzzer_sys::fuzz_target!(|data: &[u8]| nminus::fuzzing::run("policy", data));
