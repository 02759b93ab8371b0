#![no_main]
//! Harness: `nminus::fuzzing::run("version_parse", _)` (shared with the corpus-replay test).

libfuzzer_sys::fuzz_target!(|data: &[u8]| nminus::fuzzing::run("version_parse", data));
