//! RPM versions, ordered exactly as rpm 4.18 orders them.
//!
//! Format: `[epoch:]version[-release]` (an "EVR"). Splitting follows rpm's `parseEVR`
//! (lib/rpmver.c, used by `rpmverParse`): the epoch is the run of leading ASCII digits when a
//! `:` follows it (an empty epoch, as in `:1.0`, means `0`), and the release is everything after
//! the *last* `-`. A string like `a:1` or `1.m+e2:1` therefore has no epoch: the colon is part of
//! the version, as it is for rpm.
//!
//! Ordering is rpm's `rpmverCmp` (lib/rpmver.c; the same rules as Python's `rpm.labelCompare`
//! and Lua's `rpm.vercmp`): epochs compare numerically, a missing epoch being `0`; versions and
//! releases compare with [`rpmvercmp`] (rpmio/rpmvercmp.c); a **missing release sorts before any
//! release, even an empty one** (`1` < `1-` < `1-0`), which is what `rpm.labelCompare((e, v,
//! None), (e, v, r))` answers. Tools that treat a missing release as a wildcard (dnf's "match any
//! release" in requirements, `rpmverOverlap`) answer a different question: whether a range
//! matches; nminus asks for an order.
//!
//! `rpmvercmp` splits both strings into maximal runs of ASCII digits or ASCII letters; every other
//! byte (including any non-ASCII byte) is a separator whose identity does not matter. `~` sorts
//! before everything, even the end of the string (`1.0~rc1` < `1.0`); `^` sorts after the end
//! but before any other segment (`1.0` < `1.0^git1` < `1.0.1`); a numeric segment beats an
//! alphabetic one; numeric segments compare by value (leading zeros dropped, compared by length
//! then digits, so no overflow); alphabetic ones compare bytewise.
//!
//! Validity: rpm's comparison functions accept any string, so nminus only rejects what cannot be
//! an EVR at all: the empty string, whitespace and control characters, an empty version (`1:-2`),
//! and an epoch that does not fit rpm's 32-bit epoch tag. See `docs/version-schemes.md`.
//!
//! The module also parses and orders full `name-[epoch:]version-release[.arch]` strings
//! ([`parse_nevra`], [`Nevra::compare`]) the way claircore's `rpmver` package does.

use std::cmp::Ordering;
use std::fmt;

use super::{Scheme, VersionError, VersionScheme};

/// A parsed RPM EVR. Holds the input once; the parts are ranges into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmVersion {
    epoch: Option<u32>,
    text: Box<str>,
    version_start: usize,
    version_end: usize,
    release_start: Option<usize>,
}

impl RpmVersion {
    /// The epoch as written (`None` when absent; rpm treats absent as `0`).
    pub fn epoch(&self) -> Option<u32> {
        self.epoch
    }
    /// The version.
    pub fn version(&self) -> &str {
        &self.text[self.version_start..self.version_end]
    }
    /// The release (`None` when there is no `-`; `Some("")` for a trailing `-`).
    pub fn release(&self) -> Option<&str> {
        self.release_start.map(|s| &self.text[s..])
    }
    /// The string as parsed.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for RpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The RPM scheme.
#[derive(Debug)]
pub struct Rpm;

fn err(input: &str, reason: impl Into<String>) -> VersionError {
    VersionError::invalid(Scheme::Rpm, input, reason)
}

/// Rejects what no EVR or NEVRA may contain.
fn check_chars(input: &str) -> Result<(), VersionError> {
    if input.is_empty() {
        return Err(err(input, "expected a version, found an empty string"));
    }
    if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(
            input,
            format!("expected no whitespace or control characters, found {c:?}"),
        ));
    }
    Ok(())
}

/// Parses an epoch (decimal digits, possibly empty meaning `0`) into rpm's 32-bit epoch.
fn parse_epoch(input: &str, e: &str) -> Result<u32, VersionError> {
    if e.is_empty() {
        return Ok(0);
    }
    if !e.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            input,
            format!("expected a decimal epoch before `:`, found `{e}`"),
        ));
    }
    e.parse::<u32>().map_err(|_| {
        err(
            input,
            format!(
                "epoch `{e}` is too large: expected at most {} (rpm epochs are 32-bit)",
                u32::MAX
            ),
        )
    })
}

impl VersionScheme for Rpm {
    type Parsed = RpmVersion;
    const SCHEME: Scheme = Scheme::Rpm;

    fn parse(input: &str) -> Result<RpmVersion, VersionError> {
        check_chars(input)?;
        let bytes = input.as_bytes();
        // rpm's parseEVR: leading digits followed by `:` are the epoch.
        let digits_end = bytes
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(bytes.len());
        let (epoch, version_start) = if bytes.get(digits_end) == Some(&b':') {
            (
                Some(parse_epoch(input, &input[..digits_end])?),
                digits_end + 1,
            )
        } else {
            (None, 0)
        };
        // The release starts after the last `-` (rpm's `strrchr`).
        let (version_end, release_start) = match input[version_start..].rfind('-') {
            Some(i) => (version_start + i, Some(version_start + i + 1)),
            None => (input.len(), None),
        };
        if version_end == version_start {
            let what = if release_start.is_some() {
                "before `-`"
            } else {
                "after the epoch"
            };
            return Err(err(
                input,
                format!("expected a version {what}, found nothing"),
            ));
        }
        Ok(RpmVersion {
            epoch,
            text: input.into(),
            version_start,
            version_end,
            release_start,
        })
    }

    fn compare(a: &RpmVersion, b: &RpmVersion) -> Ordering {
        cmp_evr(
            (a.epoch, a.version(), a.release()),
            (b.epoch, b.version(), b.release()),
        )
    }

    fn normalize(p: &RpmVersion) -> String {
        let mut out = String::with_capacity(p.text.len() + 2);
        if let Some(e) = p.epoch.filter(|e| *e != 0) {
            out.push_str(&e.to_string());
            out.push(':');
        }
        push_canonical(&mut out, p.version());
        if let Some(r) = p.release() {
            out.push('-');
            push_canonical(&mut out, r);
        }
        out
    }

    fn components(p: &RpmVersion) -> serde_json::Value {
        serde_json::json!({
            "epoch": p.epoch,
            "version": p.version(),
            "release": p.release(),
            "version_segments": segment_json(p.version()),
            "release_segments": p.release().map(segment_json),
        })
    }
}

/// rpm's `rpmverCmp`: epoch (absent = 0), version, then release (absent < present).
fn cmp_evr(a: (Option<u32>, &str, Option<&str>), b: (Option<u32>, &str, Option<&str>)) -> Ordering {
    a.0.unwrap_or(0)
        .cmp(&b.0.unwrap_or(0))
        .then_with(|| rpmvercmp(a.1, b.1))
        .then_with(|| match (a.2, b.2) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => rpmvercmp(x, y),
        })
}

/// Whether rpmvercmp looks at this byte (everything else is a separator).
#[inline]
fn significant(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'~' || c == b'^'
}

#[inline]
fn strip_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n..]
}

/// rpm's `rpmvercmp` (rpmio/rpmvercmp.c, rpm 4.18), over bytes, allocation-free.
///
/// Compares two version (or release) strings segment by segment: `~` sorts before everything,
/// including the end of the string; `^` sorts after the end but before any other segment;
/// numeric segments beat alphabetic ones and compare by value without overflow; alphabetic
/// segments compare bytewise; separators (any byte that is not an ASCII letter, digit, `~` or `^`)
/// only delimit segments. The C original stops at a NUL byte; here NUL is a separator like any
/// other.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return Ordering::Equal;
    }
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        while i < a.len() && !significant(a[i]) {
            i += 1;
        }
        while j < b.len() && !significant(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());

        // Tilde sorts before everything else, even the end.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret is like tilde, except that the end of the string sorts before it.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(first), Some(_)) = (ca, cb) else {
            break;
        };

        let (si, sj) = (i, j);
        let isnum = first.is_ascii_digit();
        if isnum {
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        } else {
            while i < a.len() && a[i].is_ascii_alphabetic() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
        }
        // Segments of different types: numeric is newer than alphabetic.
        if j == sj {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[si..i], &b[sj..j]);
        if isnum {
            sa = strip_zeros(sa);
            sb = strip_zeros(sb);
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    // Whichever string still has segments left wins.
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// One rpmvercmp segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Tilde,
    Caret,
    Alpha(&'a [u8]),
    /// Digits without leading zeros (empty for zero).
    Num(&'a [u8]),
}

/// The segments rpmvercmp sees, in order. rpmvercmp is the lexicographic order of these
/// sequences with `~` < end < `^` < letters < digits (a property the tests check).
struct Segments<'a> {
    s: &'a [u8],
    i: usize,
}

fn segments(s: &str) -> Segments<'_> {
    Segments {
        s: s.as_bytes(),
        i: 0,
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;
    fn next(&mut self) -> Option<Segment<'a>> {
        let s = self.s;
        while self.i < s.len() && !significant(s[self.i]) {
            self.i += 1;
        }
        let c = *s.get(self.i)?;
        let start = self.i;
        Some(match c {
            b'~' => {
                self.i += 1;
                Segment::Tilde
            }
            b'^' => {
                self.i += 1;
                Segment::Caret
            }
            c if c.is_ascii_digit() => {
                while self.i < s.len() && s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                Segment::Num(strip_zeros(&s[start..self.i]))
            }
            _ => {
                while self.i < s.len() && s[self.i].is_ascii_alphabetic() {
                    self.i += 1;
                }
                Segment::Alpha(&s[start..self.i])
            }
        })
    }
}

/// Appends the canonical spelling of `s`: its segments, joined by `.` except around `~` and `^`
/// and between letters and the digits that follow them (`1.0-3.el9_2` stays `1.0-3.el9.2`,
/// `1.0a` becomes `1.0.a`). Two strings rpmvercmp calls equal get the same spelling.
fn push_canonical(out: &mut String, s: &str) {
    let mut prev: Option<Segment<'_>> = None;
    for seg in segments(s) {
        match seg {
            Segment::Tilde => out.push('~'),
            Segment::Caret => out.push('^'),
            Segment::Alpha(a) => {
                if matches!(prev, Some(Segment::Alpha(_) | Segment::Num(_))) {
                    out.push('.');
                }
                out.extend(a.iter().map(|&c| char::from(c)));
            }
            Segment::Num(n) => {
                if matches!(prev, Some(Segment::Num(_))) {
                    out.push('.');
                }
                if n.is_empty() {
                    out.push('0');
                } else {
                    out.extend(n.iter().map(|&c| char::from(c)));
                }
            }
        }
        prev = Some(seg);
    }
}

fn segment_json(s: &str) -> serde_json::Value {
    segments(s)
        .map(|seg| match seg {
            Segment::Tilde => serde_json::json!("~"),
            Segment::Caret => serde_json::json!("^"),
            Segment::Alpha(a) => serde_json::json!(String::from_utf8_lossy(a)),
            Segment::Num([]) => serde_json::json!("0"),
            Segment::Num(n) => serde_json::json!(String::from_utf8_lossy(n)),
        })
        .collect()
}

/// A parsed `name-[epoch:]version-release[.arch]` string.
///
/// Equality (`==`) is structural; [`Nevra::compare`] gives the RPM order, under which e.g.
/// `foo-0:1-1` and `foo-1-1` are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nevra {
    /// The package name (`""` when the input was a bare EVR).
    pub name: String,
    /// The epoch (`None` when absent, which orders as `0`).
    pub epoch: Option<u32>,
    /// The version.
    pub version: String,
    /// The release.
    pub release: String,
    /// The architecture, when the release ends in `.` and a known architecture.
    pub arch: Option<String>,
}

/// Architecture names recognised at the end of a NEVRA (rpm's rpmrc arches plus `src`/`nosrc`).
/// Anything else after the release's last `.` stays part of the release (`12.fc39`).
const ARCHES: &[&str] = &[
    "aarch64",
    "alpha",
    "alphaev6",
    "amd64",
    "armv5tel",
    "armv6hl",
    "armv6l",
    "armv7hl",
    "armv7hnl",
    "armv7l",
    "armv8l",
    "athlon",
    "geode",
    "i386",
    "i486",
    "i586",
    "i686",
    "ia32e",
    "ia64",
    "loongarch64",
    "mips",
    "mips64",
    "mips64el",
    "mipsel",
    "noarch",
    "nosrc",
    "pentium3",
    "pentium4",
    "ppc",
    "ppc64",
    "ppc64le",
    "ppc64p7",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "sparcv9",
    "src",
    "x86_64",
    "x86_64_v2",
    "x86_64_v3",
    "x86_64_v4",
];

/// Parses `[name-][epoch:]version-release[.arch]`.
///
/// Follows claircore's `rpmver.Parse`: with two or more `-`, the name is everything before the
/// second-to-last one; with exactly one there is no name; without any `-` the string is rejected
/// (a NEVRA always has a release). The epoch is what precedes the first `:` of the
/// `epoch:version` part; the architecture is the release's last `.`-separated field when it is a
/// known architecture name.
pub fn parse_nevra(s: &str) -> Result<Nevra, VersionError> {
    check_chars(s)?;
    let last = s.rfind('-').ok_or_else(|| {
        err(
            s,
            "expected `[name-][epoch:]version-release[.arch]`, found no `-`",
        )
    })?;
    let (name, ev_start) = match s[..last].rfind('-') {
        Some(i) => {
            if i == 0 {
                return Err(err(
                    s,
                    "expected a package name before the first `-`, found nothing",
                ));
            }
            (&s[..i], i + 1)
        }
        None => ("", 0),
    };
    let ev = &s[ev_start..last];
    let ra = &s[last + 1..];
    let (epoch, version) = match ev.split_once(':') {
        Some((e, v)) => (Some(parse_epoch(s, e)?), v),
        None => (None, ev),
    };
    if version.is_empty() {
        return Err(err(
            s,
            "expected a version before the release's `-`, found nothing",
        ));
    }
    let (release, arch) = match ra.rsplit_once('.') {
        Some((r, a)) if ARCHES.contains(&a) => (r, Some(a.to_owned())),
        _ => (ra, None),
    };
    if release.is_empty() {
        return Err(err(
            s,
            "expected a release after the last `-`, found nothing",
        ));
    }
    Ok(Nevra {
        name: name.to_owned(),
        epoch,
        version: version.to_owned(),
        release: release.to_owned(),
        arch,
    })
}

impl Nevra {
    /// RPM order: name (bytewise; a missing name first), then the EVR as [`Rpm::compare`]
    /// orders it, then the architecture (bytewise; a missing one first).
    pub fn compare(&self, other: &Self) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| {
                cmp_evr(
                    (self.epoch, &self.version, Some(&self.release)),
                    (other.epoch, &other.version, Some(&other.release)),
                )
            })
            .then_with(|| self.arch.cmp(&other.arch))
    }

    /// The `[epoch:]version-release` part, as written.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }
}

impl fmt::Display for Nevra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.name.is_empty() {
            write!(f, "{}-", self.name)?;
        }
        f.write_str(&self.evr())?;
        if let Some(a) = &self.arch {
            write!(f, ".{a}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> RpmVersion {
        Rpm::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        Rpm::compare(&parse(a), &parse(b))
    }

    fn norm(s: &str) -> String {
        Rpm::normalize(&parse(s))
    }

    fn op(o: Ordering) -> &'static str {
        crate::version::ordering_symbol(o)
    }

    fn data_file(rel: &str) -> String {
        let path = format!(
            "{}/../shared/data/version-compare/{rel}",
            env!("CARGO_MANIFEST_DIR")
        );
        fs_err::read_to_string(&path).unwrap_or_else(|e| {
            panic!("test vectors missing: {e} (expected the shared data checkout at ../shared/data beside the crate)")
        })
    }

    /// Non-blank, non-comment lines split on whitespace.
    fn lines(rel: &str) -> Vec<Vec<String>> {
        data_file(rel)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    /// `a OP b` lines; OP is `<`, `>`, `=` or `==`.
    fn op_lines(rel: &str) -> Vec<(String, Ordering, String)> {
        lines(rel)
            .into_iter()
            .map(|f| {
                assert_eq!(f.len(), 3, "malformed line {f:?} in {rel}");
                let o = match f[1].as_str() {
                    "<" => Ordering::Less,
                    ">" => Ordering::Greater,
                    "=" | "==" => Ordering::Equal,
                    other => panic!("unknown operator {other:?} in {rel}"),
                };
                (f[0].clone(), o, f[2].clone())
            })
            .collect()
    }

    #[test]
    fn claircore_rpmvercmp_vectors() {
        let mut bad = Vec::new();
        let v = op_lines("claircore-rpmver/rpmvercmp");
        for (a, want, b) in &v {
            let got = rpmvercmp(a, b);
            if got != *want || rpmvercmp(b, a) != want.reverse() {
                bad.push(format!("{a} {} {b} (got {})", op(*want), op(got)));
            }
        }
        assert!(
            bad.is_empty(),
            "{} disagreements:\n{}",
            bad.len(),
            bad.join("\n")
        );
        assert_eq!(v.len(), 113);
    }

    #[test]
    fn osv_scalibr_redhat_vectors() {
        let mut bad = Vec::new();
        let v = op_lines("osv-scalibr-semantic/redhat-versions.txt");
        for (a, want, b) in &v {
            let (x, y) = (parse(a), parse(b));
            let got = Rpm::compare(&x, &y);
            if got != *want || Rpm::compare(&y, &x) != want.reverse() {
                bad.push(format!("{a} {} {b} (got {})", op(*want), op(got)));
            }
            // Equal versions have equal normal forms, and only they do.
            let same = Rpm::normalize(&x) == Rpm::normalize(&y);
            if same != (got == Ordering::Equal) {
                bad.push(format!(
                    "{a} / {b}: normal forms {:?} {:?}",
                    Rpm::normalize(&x),
                    Rpm::normalize(&y)
                ));
            }
        }
        assert!(
            bad.is_empty(),
            "{} disagreements:\n{}",
            bad.len(),
            bad.join("\n")
        );
        assert_eq!(v.len(), 165);
    }

    #[test]
    fn claircore_nevra_compare_vectors() {
        let mut bad = Vec::new();
        let v = op_lines("claircore-rpmver/compare");
        for (a, want, b) in &v {
            let x = parse_nevra(a).unwrap_or_else(|e| panic!("{a}: {e}"));
            let y = parse_nevra(b).unwrap_or_else(|e| panic!("{b}: {e}"));
            let got = x.compare(&y);
            if got != *want || y.compare(&x) != want.reverse() {
                bad.push(format!("{a} {} {b} (got {})", op(*want), op(got)));
            }
        }
        assert!(
            bad.is_empty(),
            "{} disagreements:\n{}",
            bad.len(),
            bad.join("\n")
        );
        assert_eq!(v.len(), 12);
    }

    #[test]
    fn claircore_nevra_parse_vectors() {
        let absent = |s: &str| s == "''" || s == "\"\"";
        let v = lines("claircore-rpmver/parse");
        for f in &v {
            assert_eq!(f.len(), 6, "malformed line {f:?}");
            let n = parse_nevra(&f[0]).unwrap_or_else(|e| panic!("{}: {e}", f[0]));
            let want_name = if absent(&f[1]) { "" } else { f[1].as_str() };
            let want_epoch = if absent(&f[2]) {
                None
            } else {
                Some(f[2].parse::<u32>().unwrap())
            };
            let want_arch = if absent(&f[5]) {
                None
            } else {
                Some(f[5].clone())
            };
            assert_eq!(n.name, want_name, "{}", f[0]);
            assert_eq!(n.epoch, want_epoch, "{}", f[0]);
            assert_eq!(n.version, f[3], "{}", f[0]);
            assert_eq!(n.release, f[4], "{}", f[0]);
            assert_eq!(n.arch, want_arch, "{}", f[0]);
            assert_eq!(n.to_string(), f[0], "display round-trips");
        }
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn evr_splitting_follows_rpm() {
        let v = parse("1:2.0.5-12.fc39");
        assert_eq!(
            (v.epoch(), v.version(), v.release()),
            (Some(1), "2.0.5", Some("12.fc39"))
        );
        // The release starts after the last `-`.
        let v = parse("1:2:3-4-5");
        assert_eq!(
            (v.epoch(), v.version(), v.release()),
            (Some(1), "2:3-4", Some("5"))
        );
        // Not an epoch: the characters before `:` are not all digits.
        let v = parse("1.m+e2:1");
        assert_eq!(
            (v.epoch(), v.version(), v.release()),
            (None, "1.m+e2:1", None)
        );
        let v = parse("a:1");
        assert_eq!((v.epoch(), v.version()), (None, "a:1"));
        // An empty epoch is rpm's `0`.
        let v = parse(":1");
        assert_eq!((v.epoch(), v.version()), (Some(0), "1"));
        let v = parse("1-");
        assert_eq!(v.release(), Some(""));
        assert_eq!(parse("013:5").epoch(), Some(13));
    }

    #[test]
    fn release_and_epoch_rules() {
        // Checked against rpm 4.18 (`rpm.labelCompare`, Lua `rpm.vercmp`).
        assert_eq!(cmp("1", "1-"), Ordering::Less);
        assert_eq!(cmp("1-", "1-0"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0-1"), Ordering::Less);
        assert_eq!(cmp("1:1-1", "1:1"), Ordering::Greater);
        assert_eq!(cmp(":1", "0:1"), Ordering::Equal);
        assert_eq!(cmp("0:1", "1"), Ordering::Equal);
        assert_eq!(cmp("1-1.", "1-1"), Ordering::Equal);
        assert_eq!(cmp("3", "1:2"), Ordering::Less);
        assert_eq!(cmp("4294967295:1", "4294967294:9"), Ordering::Greater);
    }

    #[test]
    fn rpmvercmp_edges() {
        assert_eq!(rpmvercmp("", ""), Ordering::Equal);
        assert_eq!(rpmvercmp("", "a"), Ordering::Less);
        assert_eq!(rpmvercmp("~", ""), Ordering::Less);
        assert_eq!(rpmvercmp("^", ""), Ordering::Greater);
        assert_eq!(rpmvercmp("1^", "1~"), Ordering::Greater);
        assert_eq!(rpmvercmp("1^a", "1.a"), Ordering::Less);
        assert_eq!(rpmvercmp("a1", "1"), Ordering::Less);
        assert_eq!(rpmvercmp("1.1.α", "1.1"), Ordering::Equal);
        assert_eq!(
            rpmvercmp(
                "100000000000000000000000000001",
                "99999999999999999999999999999"
            ),
            Ordering::Greater
        );
        assert_eq!(
            rpmvercmp("0000000000000000000000000000001", "1"),
            Ordering::Equal
        );
    }

    #[test]
    fn normal_forms() {
        assert_eq!(norm("0:1.0-1"), "1.0-1");
        assert_eq!(norm("1.0-1"), "1.0-1");
        assert_eq!(norm("01:01a_b~rc^2-0001.el9_2."), "1:1.a.b~rc^2-1.el9.2");
        assert_eq!(norm("5.5p1"), "5.5.p1");
        assert_eq!(norm("1_100z"), norm("1.100.z"));
        assert_eq!(norm("1-"), "1-");
        assert_eq!(norm("1.0^git1~pre"), "1.0^git1~pre");
        assert_eq!(norm("10.0001"), "10.1");
        assert_eq!(norm("a:1"), "a1");
        assert_eq!(norm("1.1.α"), "1.1");
    }

    #[test]
    fn components_json() {
        let j = Rpm::components(&parse("2:1.0a-3.el9"));
        assert_eq!(j["epoch"], 2);
        assert_eq!(j["version"], "1.0a");
        assert_eq!(j["release"], "3.el9");
        assert_eq!(j["version_segments"], serde_json::json!(["1", "0", "a"]));
        let j = Rpm::components(&parse("1.0"));
        assert!(j["epoch"].is_null() && j["release"].is_null() && j["release_segments"].is_null());
    }

    #[test]
    fn invalid_inputs_say_why() {
        for (s, want) in [
            ("", "empty"),
            ("1.0 1", "whitespace"),
            ("1.0\t", "whitespace"),
            ("1.0\u{0}", "control"),
            ("1:-2", "version before `-`"),
            ("-2", "version before `-`"),
            ("3:", "after the epoch"),
            ("99999999999:1", "too large"),
        ] {
            let e = Rpm::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
            assert!(e.contains("invalid rpm version"), "{e}");
        }
    }

    #[test]
    fn invalid_nevras_say_why() {
        for (s, want) in [
            ("", "empty"),
            ("foo", "no `-`"),
            ("-1-1", "package name"),
            ("foo--1", "version before"),
            ("foo-1-", "release after"),
            ("foo-1-.x86_64", "release after"),
            ("foo-x:1-1", "decimal epoch"),
            ("foo-99999999999:1-1", "too large"),
            ("foo bar-1-1", "whitespace"),
        ] {
            let e = parse_nevra(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }

    #[test]
    fn nevra_parts() {
        let n = parse_nevra("kernel-core-0:5.14.0-362.8.1.el9_3.x86_64").unwrap();
        assert_eq!(n.name, "kernel-core");
        assert_eq!(n.epoch, Some(0));
        assert_eq!(n.version, "5.14.0");
        assert_eq!(n.release, "362.8.1.el9_3");
        assert_eq!(n.arch.as_deref(), Some("x86_64"));
        assert_eq!(n.evr(), "0:5.14.0-362.8.1.el9_3");
        let n = parse_nevra("bash-5.1.8-6.el9_1.src").unwrap();
        assert_eq!(n.arch.as_deref(), Some("src"));
        let n = parse_nevra("a-1-1.fc39").unwrap();
        assert_eq!((n.release.as_str(), n.arch), ("1.fc39", None));
    }

    /// An independent model of rpmvercmp: the lexicographic order of segment sequences with
    /// `~` < end < `^` < letters < digits.
    fn model_cmp(a: &str, b: &str) -> Ordering {
        fn key(s: Option<Segment<'_>>) -> (u8, usize, &[u8]) {
            match s {
                Some(Segment::Tilde) => (0, 0, &[]),
                None => (1, 0, &[]),
                Some(Segment::Caret) => (2, 0, &[]),
                Some(Segment::Alpha(x)) => (3, 0, x),
                Some(Segment::Num(n)) => (4, n.len(), n),
            }
        }
        let (mut x, mut y) = (segments(a), segments(b));
        loop {
            let (p, q) = (x.next(), y.next());
            if p.is_none() && q.is_none() {
                return Ordering::Equal;
            }
            match key(p).cmp(&key(q)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
    }

    fn evr_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "([0-9]{1,2}:)?[0-9a-c]{1,3}([.~^_+][0-9a-c]{0,3}){0,3}(-[0-9a-c.~^]{0,5})?",
            "[0-9a-b.~^:_-]{1,8}",
            "[0-2]{0,2}[.~^]{0,2}[0-2a]{0,2}(-[0-2~^.]{0,3})?",
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*", t in any::<String>()) {
            let _ = Rpm::parse(&s);
            let _ = Rpm::parse(&t);
            let _ = parse_nevra(&s);
            let _ = parse_nevra(&t);
            let _ = rpmvercmp(&s, &t);
        }

        #[test]
        fn rpmvercmp_matches_segment_model(a in "[0-9a-c.~^_α]{0,8}", b in "[0-9a-c.~^_α]{0,8}") {
            prop_assert_eq!(rpmvercmp(&a, &b), model_cmp(&a, &b));
        }

        #[test]
        fn antisymmetric(a in evr_strategy(), b in evr_strategy()) {
            if let (Ok(x), Ok(y)) = (Rpm::parse(&a), Rpm::parse(&b)) {
                prop_assert_eq!(Rpm::compare(&x, &y), Rpm::compare(&y, &x).reverse());
                prop_assert_eq!(rpmvercmp(&a, &b), rpmvercmp(&b, &a).reverse());
            }
        }

        #[test]
        fn transitive(a in evr_strategy(), b in evr_strategy(), c in evr_strategy()) {
            if let (Ok(x), Ok(y), Ok(z)) = (Rpm::parse(&a), Rpm::parse(&b), Rpm::parse(&c)) {
                let mut v = [x, y, z];
                v.sort_by(Rpm::compare);
                prop_assert!(Rpm::compare(&v[0], &v[1]) != Ordering::Greater);
                prop_assert!(Rpm::compare(&v[1], &v[2]) != Ordering::Greater);
                prop_assert!(Rpm::compare(&v[0], &v[2]) != Ordering::Greater);
                if Rpm::compare(&v[0], &v[2]) == Ordering::Equal {
                    prop_assert_eq!(Rpm::compare(&v[0], &v[1]), Ordering::Equal);
                }
            }
        }

        #[test]
        fn normal_form_is_canonical(a in evr_strategy(), b in evr_strategy()) {
            if let (Ok(x), Ok(y)) = (Rpm::parse(&a), Rpm::parse(&b)) {
                let (nx, ny) = (Rpm::normalize(&x), Rpm::normalize(&y));
                prop_assert_eq!(nx == ny, Rpm::compare(&x, &y) == Ordering::Equal, "{} {}", nx, ny);
                // The normal form re-parses to an equal version whenever the version has a
                // segment (`+` alone normalizes to nothing).
                if let Ok(n) = Rpm::parse(&nx) {
                    prop_assert_eq!(Rpm::compare(&n, &x), Ordering::Equal);
                    prop_assert_eq!(Rpm::normalize(&n), nx);
                }
            }
        }

        #[test]
        fn nevra_compare_is_antisymmetric(a in "[a-b]{0,2}-?[0-9]:?[0-9a.]{1,3}-[0-9a.]{1,3}(\\.noarch)?",
                                          b in "[a-b]{0,2}-?[0-9]:?[0-9a.]{1,3}-[0-9a.]{1,3}(\\.noarch)?") {
            if let (Ok(x), Ok(y)) = (parse_nevra(&a), parse_nevra(&b)) {
                prop_assert_eq!(x.compare(&y), y.compare(&x).reverse());
            }
        }
    }
}
