#![no_main]
//! Every scheme's parser and comparator on arbitrary input: no panics, and a parsed version
//! compares equal to itself and to its normal form.

use libfuzzer_sys::fuzz_target;
use nminus::{Scheme, Version};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (a, b) = s.split_once('\t').unwrap_or((s, "1.0"));
    for scheme in Scheme::ALL {
        if let Ok(v) = Version::parse(scheme, a) {
            assert_eq!(v.compare(&v).unwrap(), std::cmp::Ordering::Equal);
            let n = v.normalized();
            if let Ok(w) = Version::parse(scheme, &n) {
                assert_eq!(v.compare(&w).unwrap(), std::cmp::Ordering::Equal, "{scheme} {a:?} vs normal form {n:?}");
            }
            if let Ok(x) = Version::parse(scheme, b) {
                assert_eq!(v.compare(&x).unwrap(), x.compare(&v).unwrap().reverse());
            }
        }
    }
});
