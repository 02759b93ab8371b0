#![no_main]
use libfuzzer_sys::fuzz_target;
use nminus::collect::dpkg::{parse_status, Ctx};

fuzz_target!(|data: &[u8]| {
    let _ = parse_status(data, "/var/lib/dpkg/status", false, &Ctx::default());
    let _ = parse_status(data, "/var/lib/dpkg/status.d/x", true, &Ctx::default());
});
