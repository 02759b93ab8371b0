#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = nminus::collect::osrelease::parse_os_release(&s, "/etc/os-release");
    let _ = nminus::collect::osrelease::parse_release_line(&s, "", "/etc/redhat-release");
});
