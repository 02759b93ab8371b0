//! Debian package versions, ordered exactly as `dpkg --compare-versions` orders them.
//!
//! Format: `[epoch:]upstream_version[-debian_revision]`. The algorithm is dpkg's
//! `verrevcmp` (lib/dpkg/version.c): strings are compared in alternating non-digit and digit
//! runs; in non-digit runs `~` sorts before everything (even the end of the string), letters sort
//! before non-letters; digit runs compare numerically. Validity follows dpkg's `parseversion`:
//! epoch is a non-negative decimal that fits in an `i32`, the upstream version is non-empty and
//! starts with a digit, and only `[A-Za-z0-9.+~-:]` (upstream) and `[A-Za-z0-9.+~]` (revision)
//! are allowed. dpkg itself only *warns* for a non-digit first character; nminus rejects it like
//! `dpkg --compare-versions` does in its strict mode (see `docs/version-schemes.md`).

use std::cmp::Ordering;

use super::{Scheme, VersionError, VersionScheme};

/// A parsed Debian version. Holds the input once; the parts are ranges into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion {
    epoch: u32,
    text: Box<str>,
    upstream_start: usize,
    upstream_end: usize,
    revision_start: Option<usize>,
}

impl DebVersion {
    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    /// The upstream version.
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream_start..self.upstream_end]
    }
    /// The Debian revision (`""` when absent; dpkg treats absent and `0` alike).
    pub fn revision(&self) -> &str {
        match self.revision_start {
            Some(s) => &self.text[s..],
            None => "",
        }
    }
}

/// The Debian scheme.
#[derive(Debug)]
pub struct Dpkg;

fn err(input: &str, reason: impl Into<String>) -> VersionError {
    VersionError::invalid(Scheme::Deb, input, reason)
}

impl VersionScheme for Dpkg {
    type Parsed = DebVersion;
    const SCHEME: Scheme = Scheme::Deb;

    fn parse(input: &str) -> Result<DebVersion, VersionError> {
        // dpkg strips leading and trailing blanks; embedded blanks are an error.
        let s = input.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\n');
        if s.is_empty() {
            return Err(err(input, "expected a version, found an empty string"));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
            return Err(err(
                input,
                format!("expected no embedded whitespace, found {c:?}"),
            ));
        }
        let (epoch, rest_start) = match s.find(':') {
            Some(i) => {
                let e = &s[..i];
                if e.is_empty() {
                    return Err(err(input, "expected an epoch before `:`, found nothing"));
                }
                if !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(
                        input,
                        format!("expected a decimal epoch before `:`, found `{e}`"),
                    ));
                }
                let n: u32 = e
                    .parse()
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .ok_or_else(|| err(input, format!("epoch `{e}` is too large")))?;
                (n, i + 1)
            }
            None => (0, 0),
        };
        let rest = &s[rest_start..];
        let (upstream_end, revision_start) = match rest.rfind('-') {
            Some(i) => {
                if i + 1 == rest.len() {
                    return Err(err(
                        input,
                        "expected a revision after the last `-`, found nothing",
                    ));
                }
                (rest_start + i, Some(rest_start + i + 1))
            }
            None => (s.len(), None),
        };
        let upstream = &s[rest_start..upstream_end];
        if upstream.is_empty() {
            return Err(err(input, "expected an upstream version, found nothing"));
        }
        if !upstream.as_bytes()[0].is_ascii_digit() {
            return Err(err(
                input,
                format!(
                    "expected the upstream version to start with a digit, found `{}`",
                    upstream.chars().next().unwrap_or(' ')
                ),
            ));
        }
        if let Some(c) = upstream
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '~' | ':')))
        {
            return Err(err(
                input,
                format!("invalid character {c:?} in upstream version: expected letters, digits or `.+~-:`"),
            ));
        }
        if let Some(rs) = revision_start {
            if let Some(c) = s[rs..]
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')))
            {
                return Err(err(
                    input,
                    format!(
                        "invalid character {c:?} in revision: expected letters, digits or `.+~`"
                    ),
                ));
            }
        }
        Ok(DebVersion {
            epoch,
            text: s.into(),
            upstream_start: rest_start,
            upstream_end,
            revision_start,
        })
    }

    fn compare(a: &DebVersion, b: &DebVersion) -> Ordering {
        a.epoch
            .cmp(&b.epoch)
            .then_with(|| verrevcmp(a.upstream().as_bytes(), b.upstream().as_bytes()))
            .then_with(|| verrevcmp(a.revision().as_bytes(), b.revision().as_bytes()))
    }

    fn normalize(p: &DebVersion) -> String {
        let mut out = String::new();
        // An upstream version containing `:` needs its epoch written, even `0`: `0:24:1` is not
        // `24:1` (epoch 24). Found by the `version_parse` fuzz target.
        if p.epoch != 0 || p.upstream().contains(':') {
            out.push_str(&p.epoch.to_string());
            out.push(':');
        }
        out.push_str(p.upstream());
        if !p.revision().is_empty() {
            out.push('-');
            out.push_str(p.revision());
        }
        out
    }

    fn components(p: &DebVersion) -> serde_json::Value {
        serde_json::json!({
            "epoch": p.epoch,
            "upstream": p.upstream(),
            "revision": p.revision(),
        })
    }
}

/// dpkg's character weight in a non-digit run: `~` < end < letters < everything else.
#[inline]
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`, over bytes, allocation-free, with no numeric overflow (digit runs are
/// compared by length after stripping leading zeros, then lexically).
pub(crate) fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[si..i], &b[sj..j]);
        let c = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        Dpkg::compare(&Dpkg::parse(a).unwrap(), &Dpkg::parse(b).unwrap())
    }

    #[test]
    fn tilde_sorts_before_everything() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0~~", "1.0~"), Ordering::Less);
        assert_eq!(cmp("1.0~", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0+b1"), Ordering::Less);
        assert_eq!(cmp("1.0a", "1.0+"), Ordering::Less);
    }

    #[test]
    fn epochs_and_revisions() {
        assert_eq!(cmp("1:1.0", "2.0"), Ordering::Greater);
        assert_eq!(cmp("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(cmp("1.0-0", "1.0"), Ordering::Equal);
        assert_eq!(cmp("1.0-1", "1.0"), Ordering::Greater);
        assert_eq!(cmp("2:26.2.2-1~deb12u5", "2:26.2.2-1"), Ordering::Less);
        assert_eq!(cmp("1.2-3-4", "1.2-3"), Ordering::Greater);
        assert_eq!(cmp("00001", "1"), Ordering::Equal);
        assert_eq!(
            cmp("99999999999999999999999999", "99999999999999999999999998"),
            Ordering::Greater
        );
    }

    #[test]
    fn normal_form_keeps_a_needed_zero_epoch() {
        let v = Dpkg::parse("0:24:1").unwrap();
        assert_eq!(Dpkg::normalize(&v), "0:24:1");
        assert_eq!(Dpkg::normalize(&Dpkg::parse("0:24").unwrap()), "24");
    }

    #[test]
    fn parts() {
        let v = Dpkg::parse("2:26.2.2-1~deb12u5").unwrap();
        assert_eq!(v.epoch(), 2);
        assert_eq!(v.upstream(), "26.2.2");
        assert_eq!(v.revision(), "1~deb12u5");
        let v = Dpkg::parse("1:2:3-4-5").unwrap();
        assert_eq!(v.epoch(), 1);
        assert_eq!(v.upstream(), "2:3-4");
        assert_eq!(v.revision(), "5");
    }

    #[test]
    fn invalid_inputs_say_why() {
        for (s, want) in [
            ("", "empty"),
            ("a1.0", "start with a digit"),
            ("1.0-", "revision after"),
            (":1.0", "epoch before"),
            ("x:1.0", "decimal epoch"),
            ("1.0 2", "whitespace"),
            ("1.0_1", "invalid character"),
            ("1.0-a_b", "in revision"),
            ("99999999999:1", "too large"),
        ] {
            let e = Dpkg::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }
}
