#![no_main]
//! Harness: `nminus::fuzzing::run("image_reader", _)` (shared with the corpus-replay test).

libfuzzer_sys::fuzz_target!(|data: &[u8]| nminus::fuzzing::run("image_reader", data));
