//! Shared helpers with no home of their own (layer 1: uses nothing else of the crate):
//! lower-case hex, atomic file writes, PEP 503 name normalisation, the YAML nesting pre-check,
//! `key=value` label parsing, and [`Millis`], the time of records and spools.

mod fs;
mod label;
mod millis;
mod pep503;
pub(crate) mod yaml;

pub(crate) use fs::{write_atomic, Atomic};
pub(crate) use label::parse_label;
pub use millis::Millis;
pub(crate) use pep503::normalize_name;

/// Lower-case hex of `bytes`, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Give the heap's free memory back to the system (glibc keeps pages a large piece of work
/// freed, so a server's resident memory would stay at its peak between fleet rounds). A no-op
/// where the C library is not glibc.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of glibc's own arenas; it takes no
    // pointer and is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// An error and its sources as one line, `a: b: c`, each cause once (many errors already
/// carry their source's text).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        let all: Vec<u8> = (0..=255).collect();
        let want: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), want);
    }
}
