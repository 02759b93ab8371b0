//! Python package versions (PEP 440), parsed, ordered and normalised exactly as
//! `packaging.version.Version` (packaging 22 and later) does.
//!
//! Reference: PEP 440 "Version Identification and Dependency Specification" and its living
//! copy, the PyPA "Version specifiers" specification; the algorithm is packaging's
//! `VERSION_PATTERN` regular expression (matched case-insensitively, surrounding whitespace
//! allowed) and its `_cmpkey` sort key (`packaging/version.py`).
//!
//! Format: `[v][N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spellings packaging
//! accepts: `alpha`/`beta`/`c`/`pre`/`preview` for pre-releases, `-N`, `rev` and `r` for post
//! releases, `-`, `_` or `.` (or nothing) before and after each label, and an implicit `0` when a
//! label has no number. Ordering: epoch, then the release with trailing zeros ignored
//! (`1.0 == 1.0.0`), then the pre-release (a dev release of a final, `1.0.dev1`, sorts before
//! every pre-release of it; a final sorts after them), then the post release (absent first), then
//! the dev release (absent last), then the local label (absent first; segment by segment,
//! alphanumeric segments before numeric ones, numeric ones by value).
//!
//! OpenStack's pbr versions (`29.0.0.0rc1`, `31.0.1.dev12`, `2024.1`) are ordinary PEP 440.
//!
//! Numbers in the epoch, release, pre, post and dev parts are `u64`; a larger number is
//! rejected with an error (Python's integers are unbounded). Numeric local segments have no
//! size limit. Only ASCII is accepted: packaging's case-insensitive regular expression also
//! lets the four non-ASCII letters `İ` `ı` `ſ` `K` (Kelvin sign) stand for `i`, `s` and `k`,
//! which nminus rejects (see `docs/version-schemes.md`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use smallvec::SmallVec;

use super::{Scheme, VersionError, VersionScheme};

/// The label of a pre-release, in packaging's normal spelling.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum PreKind {
    /// `a` (also spelled `alpha`).
    Alpha,
    /// `b` (also spelled `beta`).
    Beta,
    /// `rc` (also spelled `c`, `pre`, `preview`).
    Rc,
}

impl PreKind {
    /// The normal spelling: `a`, `b` or `rc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alpha => "a",
            Self::Beta => "b",
            Self::Rc => "rc",
        }
    }
}

/// One segment of a local version label (`+ubuntu.1` has two).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LocalSegment {
    /// A segment of digits only, as decimal without leading zeros (`"0"` for zero); any size.
    Numeric(Box<str>),
    /// A segment with at least one letter, lower-cased.
    Alphanumeric(Box<str>),
}

impl LocalSegment {
    /// The segment as packaging prints it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Numeric(s) | Self::Alphanumeric(s) => s,
        }
    }
}

/// packaging: alphanumeric segments sort before numeric ones; numbers by value; strings by code
/// point.
impl Ord for LocalSegment {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Numeric(a), Self::Numeric(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Self::Alphanumeric(a), Self::Alphanumeric(b)) => a.cmp(b),
            (Self::Alphanumeric(_), Self::Numeric(_)) => Ordering::Less,
            (Self::Numeric(_), Self::Alphanumeric(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for LocalSegment {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed PEP 440 version.
///
/// `==`, `<` etc. follow PEP 440 ordering (so `1.0 == 1.0.0`), consistent with
/// [`Pep440::compare`] and with equality of [`Pep440::normalize`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pep440Version {
    epoch: u64,
    release: SmallVec<[u64; 4]>,
    pre: Option<(PreKind, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalSegment>,
}

impl Pep440Version {
    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    /// The release numbers as written (trailing zeros kept: `1.0.0` gives `[1, 0, 0]`).
    pub fn release(&self) -> &[u64] {
        &self.release
    }
    /// The pre-release label and number (`rc1` gives `(Rc, 1)`).
    pub fn pre(&self) -> Option<(PreKind, u64)> {
        self.pre
    }
    /// The post-release number.
    pub fn post(&self) -> Option<u64> {
        self.post
    }
    /// The dev-release number.
    pub fn dev(&self) -> Option<u64> {
        self.dev
    }
    /// The local label as packaging prints it (`Some("ubuntu.1")`), if any.
    pub fn local(&self) -> Option<String> {
        if self.local.is_empty() {
            return None;
        }
        Some(
            self.local
                .iter()
                .map(LocalSegment::as_str)
                .collect::<Vec<_>>()
                .join("."),
        )
    }
    /// The segments of the local label (empty when there is none).
    pub fn local_segments(&self) -> &[LocalSegment] {
        &self.local
    }
    /// Whether this is a pre-release or a dev release (packaging's `is_prerelease`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }
    /// Whether this has a post-release part.
    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }
    /// Whether this has a dev-release part.
    pub fn is_devrelease(&self) -> bool {
        self.dev.is_some()
    }
    /// The epoch and release only (`1!2.0rc1.post3` gives `1!2.0`), as packaging prints it.
    pub fn base_version(&self) -> String {
        let mut out = String::new();
        self.write_base(&mut out);
        out
    }
    /// The normal form without the local label (packaging's `public`).
    pub fn public(&self) -> String {
        let mut out = String::new();
        self.write_public(&mut out);
        out
    }

    fn write_base(&self, out: &mut String) {
        use fmt::Write as _;
        if self.epoch != 0 {
            let _ = write!(out, "{}!", self.epoch);
        }
        for (i, n) in self.release.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            let _ = write!(out, "{n}");
        }
    }

    fn write_public(&self, out: &mut String) {
        use fmt::Write as _;
        self.write_base(out);
        if let Some((k, n)) = self.pre {
            let _ = write!(out, "{}{n}", k.as_str());
        }
        if let Some(n) = self.post {
            let _ = write!(out, ".post{n}");
        }
        if let Some(n) = self.dev {
            let _ = write!(out, ".dev{n}");
        }
    }

    /// The release without trailing zeros, as packaging's sort key has it.
    fn release_key(&self) -> &[u64] {
        let end = self
            .release
            .iter()
            .rposition(|n| *n != 0)
            .map_or(0, |i| i + 1);
        &self.release[..end]
    }
}

/// A sort-key slot with packaging's `NegativeInfinity` / `Infinity` sentinels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot<T> {
    NegInf,
    Val(T),
    Inf,
}

impl PartialEq for Pep440Version {
    fn eq(&self, other: &Self) -> bool {
        Pep440::compare(self, other) == Ordering::Equal
    }
}
impl Eq for Pep440Version {}
impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        Pep440::compare(self, other)
    }
}

impl fmt::Display for Pep440Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Pep440::normalize(self))
    }
}

impl FromStr for Pep440Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pep440::parse(s)
    }
}

/// The PEP 440 scheme.
#[derive(Debug)]
pub struct Pep440;

fn err(input: &str, reason: impl Into<String>) -> VersionError {
    VersionError::invalid(Scheme::Pep440, input, reason)
}

/// Python's `\s` (str patterns): Unicode white space plus the four ASCII separators 0x1C..0x1F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_sep(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'.')
}

/// A byte cursor over the lower-cased ASCII input.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_sep(&mut self) {
        if self.peek().is_some_and(is_sep) {
            self.i += 1;
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }
    fn digits(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }
}

/// A decimal run as a `u64`, or an error naming the part it belongs to.
fn number(input: &str, digits: &[u8], what: &str) -> Result<u64, VersionError> {
    digits
        .iter()
        .try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or_else(|| {
            err(
                input,
                format!(
                    "expected a {what} number of at most {}, found `{}`",
                    u64::MAX,
                    String::from_utf8_lossy(digits)
                ),
            )
        })
}

/// The optional `[-_.]?label[-_.]?N?` shape shared by pre, post and dev parts. Tries `labels`
/// in order (as the regular expression's alternation does); on no match leaves the cursor.
fn labelled<'a>(
    c: &mut Cursor<'a>,
    labels: &[&'static str],
) -> Option<(&'static str, Option<&'a [u8]>)> {
    let save = c.i;
    c.eat_sep();
    for &l in labels {
        if c.eat_word(l) {
            c.eat_sep();
            return Some((l, c.digits()));
        }
    }
    c.i = save;
    None
}

/// The local label after `+` (`seg([-_.]seg)*`), which must end the version.
fn local_label(
    c: &mut Cursor<'_>,
    input: &str,
    trimmed: &str,
    lower: &str,
) -> Result<Vec<LocalSegment>, VersionError> {
    let rest = |i: usize| &trimmed[i..];
    let mut local = Vec::new();
    if c.peek() == Some(b'+') {
        let plus = c.i;
        c.i += 1;
        loop {
            let start = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                c.i += 1;
            }
            if c.i == start {
                return Err(err(
                    input,
                    format!(
                        "expected a local label of letters and digits separated by `.`, `-` or `_` after `+`, found `{}`",
                        rest(plus + 1)
                    ),
                ));
            }
            let seg = &lower[start..c.i];
            local.push(if seg.bytes().all(|b| b.is_ascii_digit()) {
                let t = seg.trim_start_matches('0');
                LocalSegment::Numeric(if t.is_empty() { "0" } else { t }.into())
            } else {
                LocalSegment::Alphanumeric(seg.into())
            });
            if c.peek().is_some_and(is_sep)
                && c.peek_at(1).is_some_and(|b| b.is_ascii_alphanumeric())
            {
                c.i += 1;
            } else {
                break;
            }
        }
        if c.i < c.s.len() {
            return Err(err(
                input,
                format!(
                    "expected a local label of letters and digits separated by `.`, `-` or `_` after `+`, found `{}`",
                    rest(plus + 1)
                ),
            ));
        }
    }
    Ok(local)
}

impl VersionScheme for Pep440 {
    type Parsed = Pep440Version;
    const SCHEME: Scheme = Scheme::Pep440;

    fn parse(input: &str) -> Result<Pep440Version, VersionError> {
        let trimmed = input.trim_matches(is_py_space);
        if trimmed.is_empty() {
            return Err(err(input, "expected a version, found an empty string"));
        }
        if let Some(ch) = trimmed.chars().find(|c| !c.is_ascii()) {
            return Err(err(
                input,
                format!("expected only ASCII letters, digits and `.-_+!`, found {ch:?}"),
            ));
        }
        // Safe to index by byte from here on: the text is ASCII.
        let lower = trimmed.to_ascii_lowercase();
        let mut c = Cursor {
            s: lower.as_bytes(),
            i: 0,
        };
        let rest = |i: usize| &trimmed[i..];

        c.eat(b'v');

        // Epoch: `N!`.
        let mut epoch = 0;
        let save = c.i;
        if let Some(d) = c.digits() {
            if c.eat(b'!') {
                epoch = number(input, d, "epoch")?;
            } else {
                c.i = save;
            }
        }

        // Release: `N(.N)*`.
        let mut release = SmallVec::new();
        let Some(d) = c.digits() else {
            let found = rest(c.i);
            let found = if found.is_empty() {
                "nothing".to_owned()
            } else {
                format!("`{found}`")
            };
            return Err(err(
                input,
                format!("expected a release number such as `1.0`, found {found}"),
            ));
        };
        release.push(number(input, d, "release")?);
        while c.peek() == Some(b'.') && c.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            c.i += 1;
            let d = c.digits().unwrap_or_default();
            release.push(number(input, d, "release")?);
        }

        // Pre-release.
        let pre = match labelled(
            &mut c,
            &["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"],
        ) {
            Some((l, n)) => {
                let kind = match l {
                    "alpha" | "a" => PreKind::Alpha,
                    "beta" | "b" => PreKind::Beta,
                    _ => PreKind::Rc,
                };
                let n = match n {
                    Some(d) => number(input, d, "pre-release")?,
                    None => 0,
                };
                Some((kind, n))
            }
            None => None,
        };

        // Post release: `-N` first, then the labelled forms.
        let save = c.i;
        let post = if c.eat(b'-') && c.peek().is_some_and(|b| b.is_ascii_digit()) {
            let d = c.digits().unwrap_or_default();
            Some(number(input, d, "post-release")?)
        } else {
            c.i = save;
            match labelled(&mut c, &["post", "rev", "r"]) {
                Some((_, Some(d))) => Some(number(input, d, "post-release")?),
                Some((_, None)) => Some(0),
                None => None,
            }
        };

        // Dev release.
        let dev = match labelled(&mut c, &["dev"]) {
            Some((_, Some(d))) => Some(number(input, d, "dev-release")?),
            Some((_, None)) => Some(0),
            None => None,
        };

        // Local label: `+seg([-_.]seg)*`.
        let local = local_label(&mut c, input, trimmed, &lower)?;

        if c.i < c.s.len() {
            return Err(err(
                input,
                format!(
                    "expected a pre-release (aN, bN, rcN), post release (.postN), dev release (.devN) or local label (+label), in that order, after `{}`, found `{}`",
                    &trimmed[..c.i],
                    rest(c.i)
                ),
            ));
        }

        Ok(Pep440Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    fn compare(a: &Pep440Version, b: &Pep440Version) -> Ordering {
        fn pre_key(v: &Pep440Version) -> Slot<(PreKind, u64)> {
            match (v.pre, v.post, v.dev) {
                (None, None, Some(_)) => Slot::NegInf,
                (None, _, _) => Slot::Inf,
                (Some(p), _, _) => Slot::Val(p),
            }
        }
        fn post_key(v: &Pep440Version) -> Slot<u64> {
            v.post.map_or(Slot::NegInf, Slot::Val)
        }
        fn dev_key(v: &Pep440Version) -> Slot<u64> {
            v.dev.map_or(Slot::Inf, Slot::Val)
        }
        fn local_key(v: &Pep440Version) -> Option<&[LocalSegment]> {
            (!v.local.is_empty()).then_some(v.local.as_slice())
        }
        a.epoch
            .cmp(&b.epoch)
            .then_with(|| a.release_key().cmp(b.release_key()))
            .then_with(|| pre_key(a).cmp(&pre_key(b)))
            .then_with(|| post_key(a).cmp(&post_key(b)))
            .then_with(|| dev_key(a).cmp(&dev_key(b)))
            .then_with(|| local_key(a).cmp(&local_key(b)))
    }

    /// packaging's `str(Version(...))`. Note that `1.0` and `1.0.0` compare equal but keep their
    /// release lengths, exactly as packaging prints them.
    fn normalize(p: &Pep440Version) -> String {
        let mut out = String::new();
        p.write_public(&mut out);
        if let Some(l) = p.local() {
            out.push('+');
            out.push_str(&l);
        }
        out
    }

    fn components(p: &Pep440Version) -> serde_json::Value {
        serde_json::json!({
            "epoch": p.epoch,
            "release": p.release.as_slice(),
            "pre": p.pre.map(|(k, n)| serde_json::json!({ "label": k.as_str(), "number": n })),
            "post": p.post,
            "dev": p.dev,
            "local": p.local(),
            "public": p.public(),
            "base_version": p.base_version(),
            "is_prerelease": p.is_prerelease(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Pep440Version {
        Pep440::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        Pep440::compare(&v(a), &v(b))
    }

    fn norm(s: &str) -> String {
        Pep440::normalize(&v(s))
    }

    #[test]
    fn normal_forms_match_packaging() {
        // Each pair checked against `str(packaging.version.Version(a))` (packaging 23).
        for (a, want) in [
            ("1.0", "1.0"),
            ("v1.0", "1.0"),
            ("V1.0", "1.0"),
            ("  1.0\n", "1.0"),
            ("01.02", "1.2"),
            ("0!1.0", "1.0"),
            ("1!1.0", "1!1.0"),
            ("1.0a", "1.0a0"),
            ("1.0alpha1", "1.0a1"),
            ("1.0-beta.2", "1.0b2"),
            ("1.0.c1", "1.0rc1"),
            ("1.0pre", "1.0rc0"),
            ("1.0_preview_3", "1.0rc3"),
            ("1.0RC1", "1.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("1.0-0", "1.0.post0"),
            ("1.0rev", "1.0.post0"),
            ("1.0r", "1.0.post0"),
            ("1.0.r.1", "1.0.post1"),
            ("1.0_post_1", "1.0.post1"),
            ("1.0.dev", "1.0.dev0"),
            ("1.0.dev-", "1.0.dev0"),
            ("1.0a-", "1.0a0"),
            ("1.0a.", "1.0a0"),
            ("1.0a-.post1", "1.0a0.post1"),
            ("1.0a1-1.dev2", "1.0a1.post1.dev2"),
            ("01.02+007.A", "1.2+7.a"),
            ("1.0+abc_DEF-1", "1.0+abc.def.1"),
            ("1.0+000", "1.0+0"),
            ("29.0.0.0rc1", "29.0.0.0rc1"),
            ("31.0.1.dev12", "31.0.1.dev12"),
            ("2024.1", "2024.1"),
            ("1.0.0+local.0.1", "1.0.0+local.0.1"),
        ] {
            assert_eq!(norm(a), want, "{a:?}");
        }
    }

    #[test]
    fn ordering_rules() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0.0", Equal),
            ("1.0", "1.0.0.1", Less),
            ("1.0.dev1", "1.0a0", Less),
            ("1.0.dev1", "1.0", Less),
            ("1.0a1", "1.0a1.post1", Less),
            ("1.0a1.dev1", "1.0a1", Less),
            ("1.0a2", "1.0b1", Less),
            ("1.0b9", "1.0rc1", Less),
            ("1.0rc1", "1.0", Less),
            ("1.0", "1.0.post0.dev0", Less),
            ("1.0.post1.dev1", "1.0.post1", Less),
            ("1.0.post1", "1.0.1", Less),
            ("1.0", "1.0+local", Less),
            ("1.0+a", "1.0+1", Less),
            ("1.0+local.0", "1.0+local.0.1", Less),
            ("1.0+2", "1.0+10", Less),
            ("1.0+07", "1.0+7", Equal),
            ("1.0+ABC", "1.0+abc", Equal),
            ("1.0+a-b", "1.0+a.b", Equal),
            ("1!0.1", "2.0", Greater),
            ("29.0.0.0rc1", "29.0.0", Less),
            ("29.0.0.0rc1", "28.2.1", Greater),
            ("31.0.1.dev12", "31.0.1", Less),
            ("31.0.1.dev12", "31.0.0", Greater),
            ("2024.1", "2023.2", Greater),
            (
                "1.0+99999999999999999999999",
                "1.0+99999999999999999999998",
                Greater,
            ),
        ] {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn accessors() {
        let p = v("1!2.0.3rc4.post5.dev6+Ubuntu.01");
        assert_eq!(p.epoch(), 1);
        assert_eq!(p.release(), &[2, 0, 3]);
        assert_eq!(p.pre(), Some((PreKind::Rc, 4)));
        assert_eq!(p.post(), Some(5));
        assert_eq!(p.dev(), Some(6));
        assert_eq!(p.local().as_deref(), Some("ubuntu.1"));
        assert!(p.is_prerelease() && p.is_postrelease() && p.is_devrelease());
        assert_eq!(p.base_version(), "1!2.0.3");
        assert_eq!(p.public(), "1!2.0.3rc4.post5.dev6");
        assert!(!v("1.0.post1").is_prerelease());
        assert!(v("1.0.dev1").is_prerelease());
        let j = Pep440::components(&p);
        assert_eq!(j["pre"]["label"], "rc");
        assert_eq!(j["local"], "ubuntu.1");
    }

    #[test]
    fn invalid_inputs_say_why() {
        for (s, want) in [
            ("", "empty string"),
            ("   ", "empty string"),
            ("v", "release number such as `1.0`, found nothing"),
            ("1!", "release number"),
            ("abc", "found `abc`"),
            ("1.0-", "found `-`"),
            ("1.0+", "local label"),
            ("1.0+a..b", "local label"),
            ("1.0+a.", "local label"),
            ("1.0.post1a1", "in that order"),
            ("0.3m1", "found `m1`"),
            ("1.0poſt1", "ASCII"),
            ("1.0+\u{212a}", "ASCII"),
            ("1.0+\u{130}", "ASCII"),
            ("99999999999999999999.0", "release number of at most"),
            ("99999999999999999999!1.0", "epoch number"),
            ("1.0a99999999999999999999", "pre-release number"),
            ("1.0-99999999999999999999", "post-release number"),
            ("1.0.dev99999999999999999999", "dev-release number"),
            ("2013-01-21T20:33:09+0100", "after `2013-01`, found `-21T20"),
        ] {
            let e = Pep440::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
            assert!(e.contains("invalid pep440 version"), "{e}");
        }
    }

    /// The `a OP b` lines of one osv-scalibr test file, with comments and blanks dropped.
    fn vector_lines(file: &str) -> Vec<(String, String, String)> {
        let path = format!(
            "{}/../shared/data/version-compare/osv-scalibr-semantic/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = fs_err::read_to_string(&path).unwrap_or_else(|e| {
            panic!("test vectors missing: {e} (expected the shared data checkout beside the crate)")
        });
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert!(
                    f.len() == 3 && matches!(f[1], "<" | "=" | ">"),
                    "malformed line {l:?} in {file}"
                );
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
            })
            .collect()
    }

    fn op(o: Ordering) -> &'static str {
        crate::version::ordering_symbol(o)
    }

    /// Returns (valid lines checked, lines with a non-PEP 440 version).
    fn run_vectors(file: &str) -> (usize, usize) {
        let mut ok = 0;
        let mut rejected = 0;
        let mut bad = Vec::new();
        for (a, o, b) in vector_lines(file) {
            match (Pep440::parse(&a), Pep440::parse(&b)) {
                (Ok(x), Ok(y)) => {
                    ok += 1;
                    let got = Pep440::compare(&x, &y);
                    if op(got) != o || Pep440::compare(&y, &x) != got.reverse() {
                        bad.push(format!("{a} {o} {b} (got {})", op(got)));
                    }
                }
                _ => rejected += 1,
            }
        }
        assert!(
            bad.is_empty(),
            "{} disagreements in {file}:\n{}",
            bad.len(),
            bad.join("\n")
        );
        (ok, rejected)
    }

    #[test]
    fn osv_scalibr_pypi_vectors() {
        // packaging rejects exactly these lines' versions too (`0.1-bulbasaur`, `-class.-jw…`).
        assert_eq!(run_vectors("pypi-versions.txt"), (26, 11));
    }

    #[test]
    fn osv_scalibr_pypi_generated_vectors() {
        // The data README: 69 lines use non-PEP 440 versions (`0.3m1`, `2.0.1rc2-git`, dates…).
        assert_eq!(run_vectors("pypi-versions-generated.txt"), (12_306, 69));
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        "[vV]?([0-9]{1,2}!)?[0-9]{1,3}(\\.[0-9]{1,2}){0,3}([-_.]?(a|alpha|b|beta|c|rc|pre|preview|A|RC)[-_.]?[0-9]{0,2})?((-[0-9]{1,2})|([-_.]?(post|rev|r|POST)[-_.]?[0-9]{0,2}))?([-_.]?(dev|DEV)[-_.]?[0-9]{0,2})?(\\+[a-zA-Z0-9]{1,3}([-_.][a-zA-Z0-9]{1,3}){0,2})?"
    }

    fn parsed() -> impl Strategy<Value = Pep440Version> {
        version_strategy().prop_map(|s| v(&s))
    }

    proptest! {
        #[test]
        fn generated_versions_parse(s in version_strategy()) {
            prop_assert!(Pep440::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Pep440::parse(&s);
        }

        #[test]
        fn parse_never_panics_near_versions(s in "[0-9a-zA-Z.!+_ -]{0,20}") {
            let _ = Pep440::parse(&s);
        }

        #[test]
        fn antisymmetric(a in parsed(), b in parsed()) {
            prop_assert_eq!(Pep440::compare(&a, &b), Pep440::compare(&b, &a).reverse());
        }

        #[test]
        fn transitive(a in parsed(), b in parsed(), c in parsed()) {
            let mut xs = [a, b, c];
            xs.sort_by(Pep440::compare);
            prop_assert_ne!(Pep440::compare(&xs[0], &xs[1]), Ordering::Greater);
            prop_assert_ne!(Pep440::compare(&xs[1], &xs[2]), Ordering::Greater);
            prop_assert_ne!(Pep440::compare(&xs[0], &xs[2]), Ordering::Greater);
            if Pep440::compare(&xs[0], &xs[1]) == Ordering::Less || Pep440::compare(&xs[1], &xs[2]) == Ordering::Less {
                prop_assert_eq!(Pep440::compare(&xs[0], &xs[2]), Ordering::Less);
            }
        }

        #[test]
        fn normalize_round_trips(a in parsed()) {
            let n = Pep440::normalize(&a);
            let b = Pep440::parse(&n).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Pep440::compare(&a, &b), Ordering::Equal);
            prop_assert_eq!(Pep440::normalize(&b), n);
        }

        #[test]
        fn equal_iff_same_normal_form_up_to_trailing_zeros(a in parsed(), b in parsed()) {
            // packaging keeps the release length in the normal form, so compare with the release
            // padded to the same length.
            let pad = |p: &Pep440Version| {
                let mut q = p.clone();
                let n = q.release.len().max(8);
                q.release.resize(n, 0);
                Pep440::normalize(&q)
            };
            prop_assert_eq!(Pep440::compare(&a, &b) == Ordering::Equal, pad(&a) == pad(&b));
        }
    }
}
