#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nminus::collect::apk::parse_installed(data, "/lib/apk/db/installed", Some("alpine-3.20"));
});
