//! Alpine package versions, ordered exactly as apk-tools' `apk_version_compare` orders them.
//!
//! Format: `number{.number}...{letter}{_suffix{number}}...{~hash}{-rN}`, e.g. `1.2.3b_rc1_p2-r4`.
//! The algorithm is `token_first`/`token_next`/`token_cmp`/`apk_version_compare` of apk-tools 3
//! (src/version.c, the token-state rewrite that replaced 2.x's). Both strings are read in
//! lockstep as tokens: the first number, `.`-numbers, one letter, suffixes (`_alpha` < `_beta` <
//! `_pre` < `_rc` < no suffix < `_cvs` < `_svn` < `_git` < `_hg` < `_p`), suffix numbers, a `~`
//! commit hash and the `-rN` package release. While both have a token of the same kind, the tokens compare:
//! numbers by value, except that two `.`-numbers compare as strings when either starts with `0`
//! (`1.05` < `1.1`, `1.010` < `1.09`); letters, hashes and suffix names as above. When one version
//! runs out of tokens or the kinds differ, a pre-release suffix sorts first, then the version that
//! goes on with the earlier kind (number < letter < suffix < suffix number < hash < release < end)
//! is the greater one: `1.0` > `1`, `1_p1` > `1`, `1-r1` > `1`, but `1_rc1` < `1`.
//!
//! Validity is apk-tools 3's `apk_version_validate`, plus two legacy forms that apk-tools 2.x
//! accepted and that real Alpine security data (osv.dev's Alpine fixtures) still contains:
//! - digits after the letter (`6.6.2p1`), ordered as apk-tools 2.x orders them: letter, then
//!   number by value (apk-tools 3 rejects the string);
//! - `.rN` instead of `-rN` at the end (`10.2.22.r0`), read as the package release, the way
//!   osv.dev's Alpine converter reads it (apk-tools 3 rejects the string; apk-tools 2.x read it as
//!   an empty `.`-number, the letter `r` and a number, which orders `10.2.22.r0` above
//!   `10.2.22-r0` and `0.8.21.r2` above `0.8.21r2`).
//!
//! Numbers compare by value at any length (apk-tools parses them into a 32-bit integer and wraps
//! past 2^32). The test vectors generated with apk-tools 2.10 agree on every line; apk-tools 2.x
//! differs on `.`-numbers with leading zeros (it ranks by the count of zeros, then the value) and
//! orders `1.0_rc1` above `1.0` (its leading-zero path skips the suffix check). See
//! `docs/version-schemes.md`.

use std::cmp::Ordering;
use std::fmt;

use super::{Scheme, VersionError, VersionScheme};

/// A parsed Alpine version (validated; compared token by token on demand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkVersion {
    text: Box<str>,
    /// End of the version proper (start of `-r` or `.r`).
    version_end: usize,
    /// Start of the release digits.
    release_start: Option<usize>,
}

impl ApkVersion {
    /// The string as parsed.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The version without the `-rN` package release.
    pub fn version(&self) -> &str {
        &self.text[..self.version_end]
    }
    /// The package release digits after `-r` (`None` without one).
    pub fn release(&self) -> Option<&str> {
        self.release_start.map(|s| &self.text[s..])
    }
}

impl fmt::Display for ApkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The Alpine scheme.
#[derive(Debug)]
pub struct Apk;

fn err(input: &str, reason: impl Into<String>) -> VersionError {
    VersionError::invalid(Scheme::Apk, input, reason)
}

/// apk-tools 3 token kinds, in the order of its `enum PARTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    Revision,
    End,
    Invalid,
}

/// apk's `SUFFIX_*` values: pre-release suffixes are below [`SUFFIX_NONE`].
const SUFFIX_NONE: u8 = 5;
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 1),
    ("beta", 2),
    ("pre", 3),
    ("rc", 4),
    ("cvs", 6),
    ("svn", 7),
    ("git", 8),
    ("hg", 9),
    ("p", 10),
];

/// Why the lexer stopped (byte offsets into the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    NoLeadingDigit,
    /// A byte that may not follow a token of this kind.
    Unexpected {
        at: usize,
        after: Kind,
    },
    EmptyNumber {
        at: usize,
    },
    UnknownSuffix {
        start: usize,
        end: usize,
    },
    EmptyHash {
        at: usize,
    },
    DashWithoutR {
        at: usize,
    },
    EmptyRelease {
        at: usize,
    },
}

/// One token: its kind and value bytes (digits, letter, suffix name or hash).
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    suffix: u8,
    /// Digits after a letter (legacy apk-tools 2.x form): always compared by value.
    after_letter: bool,
    /// Where the token's text starts.
    start: usize,
}

/// apk-tools 3's tokenizer, extended with the two legacy forms.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    tok: Token<'a>,
    bad: Option<Bad>,
}

fn digits_end(s: &[u8], from: usize) -> usize {
    from + s
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

impl<'a> Lexer<'a> {
    /// apk's `token_first`: the initial number.
    fn new(s: &'a str) -> Self {
        let s = s.as_bytes();
        let end = digits_end(s, 0);
        let mut lx = Self {
            s,
            pos: end,
            tok: Token {
                kind: Kind::InitialDigit,
                text: &s[..end],
                suffix: 0,
                after_letter: false,
                start: 0,
            },
            bad: None,
        };
        if end == 0 {
            lx.fail(Bad::NoLeadingDigit);
        }
        lx
    }

    fn fail(&mut self, why: Bad) {
        self.tok.kind = Kind::Invalid;
        self.bad = Some(why);
    }

    fn set(&mut self, kind: Kind, start: usize, end: usize) {
        self.tok.kind = kind;
        self.tok.start = start;
        self.tok.text = &self.s[start..end];
        self.pos = end;
    }

    /// apk's `token_next`: reads the token at `pos`, checking that it may follow the last one.
    fn advance(&mut self) {
        let s = self.s;
        let t = self.tok.kind;
        let at = self.pos;
        let Some(&c) = s.get(at) else {
            self.tok.kind = Kind::End;
            return;
        };
        self.tok.after_letter = false;
        match c {
            b'a'..=b'z' => {
                if t > Kind::Digit {
                    return self.fail(Bad::Unexpected { at, after: t });
                }
                self.set(Kind::Letter, at, at + 1);
            }
            b'.' | b'0'..=b'9' => {
                let mut start = at;
                if c == b'.' {
                    if t > Kind::Digit {
                        return self.fail(Bad::Unexpected { at, after: t });
                    }
                    // Legacy: `.rN` at the end is the package release.
                    if s.get(at + 1) == Some(&b'r')
                        && digits_end(s, at + 2) == s.len()
                        && s.len() > at + 2
                    {
                        return self.set(Kind::Revision, at + 2, s.len());
                    }
                    start += 1;
                }
                let kind = match t {
                    Kind::InitialDigit | Kind::Digit => Kind::Digit,
                    Kind::Suffix => Kind::SuffixNo,
                    // Legacy: digits after the letter.
                    Kind::Letter => {
                        self.tok.after_letter = true;
                        Kind::Digit
                    }
                    _ => return self.fail(Bad::Unexpected { at, after: t }),
                };
                let end = digits_end(s, start);
                if end == start {
                    return self.fail(Bad::EmptyNumber { at });
                }
                self.set(kind, start, end);
            }
            b'_' => {
                if t > Kind::SuffixNo {
                    return self.fail(Bad::Unexpected { at, after: t });
                }
                let start = at + 1;
                let end = start
                    + s[start..]
                        .iter()
                        .take_while(|c| c.is_ascii_lowercase())
                        .count();
                let name = &s[start..end];
                match SUFFIXES.iter().find(|(n, _)| n.as_bytes() == name) {
                    Some(&(_, v)) => {
                        self.set(Kind::Suffix, start, end);
                        self.tok.suffix = v;
                    }
                    None => self.fail(Bad::UnknownSuffix { start: at, end }),
                }
            }
            b'~' => {
                if t >= Kind::CommitHash {
                    return self.fail(Bad::Unexpected { at, after: t });
                }
                let start = at + 1;
                let end = start
                    + s[start..]
                        .iter()
                        .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                        .count();
                if end == start {
                    return self.fail(Bad::EmptyHash { at });
                }
                self.set(Kind::CommitHash, start, end);
            }
            b'-' => {
                if t >= Kind::Revision {
                    return self.fail(Bad::Unexpected { at, after: t });
                }
                if s.get(at + 1) != Some(&b'r') {
                    return self.fail(Bad::DashWithoutR { at });
                }
                let end = digits_end(s, at + 2);
                if end == at + 2 {
                    return self.fail(Bad::EmptyRelease { at: at + 2 });
                }
                self.set(Kind::Revision, at + 2, end);
            }
            _ => self.fail(Bad::Unexpected { at, after: t }),
        }
    }
}

/// Compares digit strings by value (no overflow).
fn num_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |d: &[u8]| {
        let n = d.iter().take_while(|&&c| c == b'0').count();
        (d.len() - n, n)
    };
    let ((la, za), (lb, zb)) = (strip(a), strip(b));
    la.cmp(&lb).then_with(|| a[za..].cmp(&b[zb..]))
}

/// apk's `token_cmp` for two tokens of the same kind.
fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        Kind::Digit
            if !(a.after_letter && b.after_letter)
                && (a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0')) =>
        {
            // A leading zero on either side: raw string order (apk_blob_sort), as Gentoo does.
            a.text.cmp(b.text)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::Revision => {
            num_cmp(a.text, b.text)
        }
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.text.cmp(b.text),
    }
}

/// apk's `apk_version_compare` on two strings, allocation-free.
fn apk_version_compare(a: &str, b: &str) -> Ordering {
    let (mut ta, mut tb) = (Lexer::new(a), Lexer::new(b));
    while ta.tok.kind == tb.tok.kind && ta.tok.kind < Kind::End {
        match token_cmp(&ta.tok, &tb.tok) {
            Ordering::Equal => {}
            o => return o,
        }
        ta.advance();
        tb.advance();
    }
    let (ka, kb) = (ta.tok.kind, tb.tok.kind);
    if ka == kb {
        return Ordering::Equal;
    }
    // The leading tokens are equal: the version that goes on is greater, unless it goes on
    // with a pre-release suffix or with a later kind of token.
    if ka == Kind::Suffix && ta.tok.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if kb == Kind::Suffix && tb.tok.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    kb.cmp(&ka)
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::InitialDigit | Kind::Digit => "the number",
        Kind::Letter => "the letter",
        Kind::Suffix => "the suffix",
        Kind::SuffixNo => "the suffix number",
        Kind::CommitHash => "the commit hash",
        Kind::Revision => "the package release",
        Kind::End | Kind::Invalid => "the end",
    }
}

/// Says what was expected and what was found.
fn describe(input: &str, why: Bad) -> String {
    let found = |i: usize| {
        input
            .get(i..)
            .and_then(|r| r.chars().next())
            .map_or_else(|| "the end".to_owned(), |c| format!("`{c}`"))
    };
    match why {
        Bad::NoLeadingDigit => format!("expected the version to start with a digit, found {}", found(0)),
        Bad::Unexpected { at, after: Kind::Revision } => format!(
            "expected the package release to end the version, found `{}` after it at byte {at}",
            input.get(at..).unwrap_or_default()
        ),
        Bad::Unexpected { at, after } => format!(
            "expected `number{{.number}}[letter]{{_suffix[number]}}[~hash][-rN]`, found `{}` after {} at byte {at}",
            input.get(at..).unwrap_or_default(),
            kind_name(after)
        ),
        Bad::EmptyNumber { at } => {
            format!("expected a number after the `.` at byte {at}, found {}", found(at + 1))
        }
        Bad::UnknownSuffix { start, end } => format!(
            "unknown suffix `{}`: expected one of _alpha, _beta, _pre, _rc, _cvs, _svn, _git, _hg, _p",
            input.get(start..end).unwrap_or_default()
        ),
        Bad::EmptyHash { at } => {
            format!("expected a lower-case hexadecimal commit hash after the `~` at byte {at}, found {}", found(at + 1))
        }
        Bad::DashWithoutR { at } => format!(
            "expected `-r` and the package release after `-`, found `{}`",
            input.get(at..(at + 2).min(input.len())).unwrap_or_default()
        ),
        Bad::EmptyRelease { at } => {
            format!("expected the package release number after `-r`, found {}", found(at))
        }
    }
}

impl VersionScheme for Apk {
    type Parsed = ApkVersion;
    const SCHEME: Scheme = Scheme::Apk;

    fn parse(input: &str) -> Result<ApkVersion, VersionError> {
        if input.is_empty() {
            return Err(err(input, "expected a version, found an empty string"));
        }
        if let Some(c) = input.chars().find(|c| {
            !(c.is_ascii_digit() || c.is_ascii_lowercase() || matches!(c, '.' | '_' | '~' | '-'))
        }) {
            let hint = if c.is_ascii_uppercase() {
                " (letters must be lower-case)"
            } else {
                ""
            };
            return Err(err(
                input,
                format!(
                    "invalid character {c:?}: expected digits, lower-case letters or `._~-`{hint}"
                ),
            ));
        }
        // apk_version_validate.
        let mut lx = Lexer::new(input);
        let mut release = None;
        while lx.tok.kind < Kind::End {
            if lx.tok.kind == Kind::Revision {
                let start = lx.tok.start;
                release = Some((start - 2, start));
            }
            lx.advance();
        }
        if let Some(why) = lx.bad {
            return Err(err(input, describe(input, why)));
        }
        Ok(ApkVersion {
            text: input.into(),
            version_end: release.map_or(input.len(), |(v, _)| v),
            release_start: release.map(|(_, r)| r),
        })
    }

    fn compare(a: &ApkVersion, b: &ApkVersion) -> Ordering {
        apk_version_compare(&a.text, &b.text)
    }

    /// Numbers that apk compares by value lose their leading zeros and `.rN` becomes `-rN`;
    /// everything else is kept, so versions apk calls equal get equal normal forms.
    fn normalize(p: &ApkVersion) -> String {
        fn push_number(out: &mut String, d: &[u8]) {
            let n = d.iter().take_while(|&&c| c == b'0').count();
            let d = if n == d.len() {
                &d[d.len().saturating_sub(1)..]
            } else {
                &d[n..]
            };
            out.extend(d.iter().map(|&c| char::from(c)));
        }
        let mut out = String::with_capacity(p.text.len());
        let mut lx = Lexer::new(&p.text);
        while lx.tok.kind < Kind::End {
            let t = lx.tok;
            let text = t.text.iter().map(|&c| char::from(c));
            match t.kind {
                Kind::InitialDigit | Kind::SuffixNo => push_number(&mut out, t.text),
                Kind::Digit if t.after_letter => push_number(&mut out, t.text),
                Kind::Digit => {
                    out.push('.');
                    out.extend(text);
                }
                Kind::Letter => out.extend(text),
                Kind::Suffix => {
                    out.push('_');
                    out.extend(text);
                }
                Kind::CommitHash => {
                    out.push('~');
                    out.extend(text);
                }
                Kind::Revision => {
                    out.push_str("-r");
                    push_number(&mut out, t.text);
                }
                Kind::End | Kind::Invalid => {}
            }
            lx.advance();
        }
        out
    }

    fn components(p: &ApkVersion) -> serde_json::Value {
        let mut tokens = Vec::new();
        let mut lx = Lexer::new(&p.text);
        while lx.tok.kind < Kind::End {
            let t = lx.tok;
            let kind = match t.kind {
                Kind::InitialDigit | Kind::Digit => "number",
                Kind::Letter => "letter",
                Kind::Suffix => "suffix",
                Kind::SuffixNo => "suffix_number",
                Kind::CommitHash => "commit_hash",
                _ => "release",
            };
            tokens.push(serde_json::json!({
                "kind": kind,
                "text": String::from_utf8_lossy(t.text),
            }));
            lx.advance();
        }
        serde_json::json!({
            "version": p.version(),
            "release": p.release(),
            "tokens": tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> ApkVersion {
        Apk::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        Apk::compare(&parse(a), &parse(b))
    }

    fn norm(s: &str) -> String {
        Apk::normalize(&parse(s))
    }

    fn op(o: Ordering) -> &'static str {
        crate::version::ordering_symbol(o)
    }

    fn data_lines(rel: &str) -> Vec<String> {
        let path = format!(
            "{}/../shared/data/version-compare/{rel}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = fs_err::read_to_string(&path).unwrap_or_else(|e| {
            panic!("test vectors missing: {e} (expected the shared data checkout at ../shared/data beside the crate)")
        });
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    /// Checks every `a OP b` line; returns (lines compared, distinct strings rejected).
    fn run_vectors(rel: &str) -> (usize, Vec<String>) {
        let mut compared = 0;
        let mut rejected = Vec::new();
        let mut bad = Vec::new();
        for l in data_lines(rel) {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(
                f.len() == 3 && matches!(f[1], "<" | "=" | ">"),
                "malformed line {l:?} in {rel}"
            );
            let (a, want, b) = (f[0], f[1], f[2]);
            match (Apk::parse(a), Apk::parse(b)) {
                (Ok(x), Ok(y)) => {
                    compared += 1;
                    let got = Apk::compare(&x, &y);
                    if op(got) != want || Apk::compare(&y, &x) != got.reverse() {
                        bad.push(format!("{a} {want} {b} (got {})", op(got)));
                    }
                    let same = Apk::normalize(&x) == Apk::normalize(&y);
                    if same != (got == Ordering::Equal) {
                        bad.push(format!("{a} / {b}: normal forms disagree with the order"));
                    }
                }
                (x, y) => {
                    for (s, r) in [(a, x.is_err()), (b, y.is_err())] {
                        if r && !rejected.iter().any(|t| t == s) {
                            rejected.push(s.to_owned());
                        }
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{} disagreements in {rel}:\n{}",
            bad.len(),
            bad.join("\n")
        );
        rejected.sort();
        (compared, rejected)
    }

    #[test]
    fn osv_scalibr_generated_vectors() {
        // Generated by osv-scalibr with `apk version -t` of Alpine 3.10 (apk-tools 2.10) over
        // every version in the Alpine OSV feed. 32 lines use the legacy `6.6.2p1` form.
        let (compared, rejected) =
            run_vectors("osv-scalibr-semantic/alpine-versions-generated.txt");
        assert!(rejected.is_empty(), "rejected: {rejected:?}");
        assert_eq!(compared, 13_979);
    }

    #[test]
    fn osv_scalibr_handwritten_vectors() {
        // Lines whose strings apk-tools 3 rejects are not compared: upper case, `-r-`, unknown
        // suffixes (`_blah`, `_csv`), an empty `.`-number, a bare `-r`, a letter after a letter,
        // no leading digit. The file's own comments call most of them invalid.
        const REJECTED: [&str; 33] = [
            ".1",
            ".2",
            "0...1...0",
            "0...1...0.r1",
            "0...1...0.r2",
            "0...1...0r1",
            "0...1...0r2",
            "0...1...1",
            "0...8",
            "0..1..0",
            "0..1..1",
            "0..8",
            "1--ruff1",
            "1-r",
            "1-r-0",
            "1-r-1",
            "1-r-2",
            "1-r0-1",
            "1-r0-2",
            "1-r0-ruff1",
            "1-r0-ruff2",
            "1-ruff",
            "1-ruff1",
            "1-ruff2",
            "1.0bc",
            "1.2.0A",
            "1.2.0D",
            "1.2_blah",
            "1.2_csv2",
            "23_foo",
            "a",
            "b",
            "c",
        ];
        let (compared, rejected) = run_vectors("osv-scalibr-semantic/alpine-versions.txt");
        assert_eq!(rejected, REJECTED);
        assert_eq!(compared, 749);
    }

    #[test]
    fn osv_dev_valid_versions_parse() {
        let v = data_lines("osv.dev-alpine/valid_versions.txt");
        for s in &v {
            parse(s);
        }
        assert_eq!(v.len(), 185);
    }

    #[test]
    fn osv_dev_invalid_versions_are_rejected() {
        // apk-tools 2.x accepted `1.18.-r2`, `2.15.r-r1`, `1.7.5.-r1` and `1.0.4.-r0` (an empty
        // `.`-number, which it read as 0); apk-tools 3 rejects them, and so does nminus.
        let v = data_lines("osv.dev-alpine/invalid_versions.txt");
        for s in &v {
            assert!(Apk::parse(s).is_err(), "{s} was accepted");
        }
        assert_eq!(v.len(), 11);
    }

    #[test]
    fn suffix_release_and_hash_order() {
        let ordered = [
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_cvs1",
            "1.0_svn1",
            "1.0_git1",
            "1.0_hg1",
            "1.0_p1",
            "1.0_p1-r1",
            "1.0_p1~ab",
            "1.0a",
            "1.0b",
            "1.0.0_rc1",
            "1.0.0",
            "1.0.1",
            "1.1_rc1",
            "1.1",
        ];
        for w in ordered.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(cmp("1-r1", "1-r01"), Ordering::Equal);
        assert_eq!(cmp("006", "6"), Ordering::Equal);
        // `.`-numbers with a leading zero compare as strings.
        assert_eq!(cmp("1.01", "1.1"), Ordering::Less);
        assert_eq!(cmp("1.001", "1.01"), Ordering::Less);
        assert_eq!(cmp("1.010", "1.09"), Ordering::Less);
        assert_eq!(cmp("1.00", "1.0"), Ordering::Greater);
        // Commit hashes compare as strings and sort below the release.
        assert_eq!(cmp("1.0~abc", "1.0~abd"), Ordering::Less);
        assert_eq!(cmp("1.0~abc", "1.0~ab"), Ordering::Greater);
        assert_eq!(cmp("1.0~abc-r1", "1.0~abc"), Ordering::Greater);
        assert_eq!(cmp("1.0~abc", "1.0-r1"), Ordering::Greater);
        // Legacy forms.
        assert_eq!(cmp("6.6.2p1", "6.6.2p2"), Ordering::Less);
        assert_eq!(cmp("6.6.2p1", "6.6.2_p2"), Ordering::Greater);
        assert_eq!(cmp("1a01", "1a1"), Ordering::Equal);
        assert_eq!(cmp("10.2.22.r0", "10.2.22-r0"), Ordering::Equal);
        assert_eq!(cmp("10.2.22.r0", "10.2.24.r0"), Ordering::Less);
        assert_eq!(cmp("0.8.21.r2", "0.8.21r2"), Ordering::Less);
        // No overflow.
        assert_eq!(
            cmp("1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0"),
            Ordering::Less
        );
        assert_eq!(
            cmp("99999999999999999999999", "99999999999999999999998"),
            Ordering::Greater
        );
        assert_eq!(
            cmp("1-r99999999999999999999", "1-r4294967296"),
            Ordering::Greater
        );
    }

    #[test]
    fn parts_and_components() {
        let v = parse("1.2.05b_rc1_p~0af-r3");
        assert_eq!(v.version(), "1.2.05b_rc1_p~0af");
        assert_eq!(v.release(), Some("3"));
        let j = Apk::components(&v);
        assert_eq!(j["version"], "1.2.05b_rc1_p~0af");
        assert_eq!(j["release"], "3");
        let got: Vec<(String, String)> = j["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["kind"].as_str().unwrap().to_owned(),
                    t["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want = [
            ("number", "1"),
            ("number", "2"),
            ("number", "05"),
            ("letter", "b"),
            ("suffix", "rc"),
            ("suffix_number", "1"),
            ("suffix", "p"),
            ("commit_hash", "0af"),
            ("release", "3"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((k, t), (wk, wt)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), t.as_str()), (wk, wt));
        }
        let v = parse("2.0");
        assert_eq!((v.version(), v.release()), ("2.0", None));
        assert!(Apk::components(&v)["release"].is_null());
        let v = parse("10.2.22.r0");
        assert_eq!((v.version(), v.release()), ("10.2.22", Some("0")));
    }

    #[test]
    fn normal_forms() {
        assert_eq!(norm("001.02.3a04_rc005-r006"), "1.02.3a4_rc5-r6");
        assert_eq!(norm("0"), "0");
        assert_eq!(norm("1.0.0"), "1.0.0");
        assert_eq!(norm("1a0"), "1a0");
        assert_eq!(norm("1a00"), "1a0");
        assert_eq!(norm("1_p00"), "1_p0");
        assert_eq!(norm("1.0~0ab-r00"), "1.0~0ab-r0");
        assert_eq!(norm("10.2.22.r0"), "10.2.22-r0");
    }

    #[test]
    fn invalid_inputs_say_why() {
        for (s, want) in [
            ("", "empty string"),
            ("a1.0", "start with a digit, found `a`"),
            (".1", "start with a digit"),
            ("1.2.0A", "lower-case"),
            ("1.0 ", "invalid character ' '"),
            ("1.2_blah", "unknown suffix `_blah`"),
            ("1.2_", "unknown suffix `_`"),
            ("1.2_pa", "unknown suffix `_pa`"),
            ("1_-r1", "unknown suffix `_`"),
            ("1-r", "release number after `-r`, found the end"),
            ("1-rx", "release number after `-r`, found `x`"),
            ("1-r1x", "end the version, found `x`"),
            ("1-r1-r2", "end the version, found `-r2`"),
            ("57-1-r2", "expected `-r`"),
            ("1ab", "found `b` after the letter"),
            ("1a.2", "found `.2` after the letter"),
            ("1_rc1.2", "found `.2` after the suffix number"),
            ("1~", "commit hash after the `~`"),
            ("1~ab~cd", "found `~cd` after the commit hash"),
            ("1.18.-r2", "number after the `.` at byte 4, found `-`"),
            ("1.", "found the end"),
            ("1..2", "number after the `.` at byte 1, found `.`"),
            ("2.15.r-r1", "number after the `.`"),
            ("1.a2", "number after the `.`"),
        ] {
            let e = Apk::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
            assert!(e.contains("invalid apk version"), "{e}");
        }
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}[a-z]?[0-9]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(~[0-9a-f]{1,3})?([-.]r[0-9]{1,2})?",
            "0?[0-2](\\.0?[0-2]){0,2}([ap]0?[0-1]?)?(_(rc|p)0?1?)?(~[ab])?(-r0?1?)?",
            "[0-9][0-9a-z._~-]{0,9}",
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*", t in any::<String>(), u in "[0-9a-z._~-]{0,12}") {
            let _ = Apk::parse(&s);
            let _ = Apk::parse(&t);
            if let Ok(v) = Apk::parse(&u) {
                let _ = Apk::normalize(&v);
                let _ = Apk::components(&v);
            }
        }

        #[test]
        fn antisymmetric(a in version_strategy(), b in version_strategy()) {
            if let (Ok(x), Ok(y)) = (Apk::parse(&a), Apk::parse(&b)) {
                prop_assert_eq!(Apk::compare(&x, &y), Apk::compare(&y, &x).reverse());
            }
        }

        #[test]
        fn transitive(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            if let (Ok(x), Ok(y), Ok(z)) = (Apk::parse(&a), Apk::parse(&b), Apk::parse(&c)) {
                let mut v = [x, y, z];
                v.sort_by(Apk::compare);
                prop_assert!(Apk::compare(&v[0], &v[1]) != Ordering::Greater);
                prop_assert!(Apk::compare(&v[1], &v[2]) != Ordering::Greater);
                prop_assert!(Apk::compare(&v[0], &v[2]) != Ordering::Greater);
                if Apk::compare(&v[0], &v[2]) == Ordering::Equal {
                    prop_assert_eq!(Apk::compare(&v[0], &v[1]), Ordering::Equal);
                }
            }
        }

        #[test]
        fn normal_form_is_canonical(a in version_strategy(), b in version_strategy()) {
            if let (Ok(x), Ok(y)) = (Apk::parse(&a), Apk::parse(&b)) {
                let (nx, ny) = (Apk::normalize(&x), Apk::normalize(&y));
                prop_assert_eq!(nx == ny, Apk::compare(&x, &y) == Ordering::Equal, "{} {}", nx, ny);
                let n = Apk::parse(&nx).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(Apk::compare(&n, &x), Ordering::Equal);
                prop_assert_eq!(Apk::normalize(&n), nx);
            }
        }
    }
}
