//! A best-effort ordering for version strings of schemes nminus does not know.
//!
//! This is a *guess*, and every result built on it says so ([`Scheme::is_exact`] is false and
//! [`Generic::components`] carries `"guess": true`). There is no reference implementation; the
//! rules borrow the common ground of dpkg, rpm and PEP 440 ordering:
//!
//! * The string is split into runs of ASCII digits and runs of letters (case-insensitive);
//!   everything else (`.`, `-`, `_`, `+`, `~`, `:`, spaces, other symbols) only separates runs,
//!   so `1.0-1`, `1.0.1` and `1_0_1` are the same version.
//! * Runs are compared left to right. Numbers compare by value (any size). The pre-release words
//!   `dev` < `alpha` < `beta` < `pre` < `preview` < `rc` sort before everything, including the
//!   end of the string (`1.0rc1 < 1.0`); other words sort after the end of the string and after
//!   zero but before any other number (`1.0 < 1.0a < 1.0.1`, as OpenSSL's `1.1.1k` needs), and
//!   among themselves lexically.
//! * A missing run counts as `0`, so trailing zeros do not matter (`1.0 == 1.0.0`).
//!
//! Parsing fails only when there is nothing to compare: an empty string or one with no letter
//! or digit.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::{Scheme, VersionError, VersionScheme};

/// One run of a generic version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    /// Digits, as decimal without leading zeros (`"0"` for zero); any size.
    Number(Box<str>),
    /// Letters, lower-cased.
    Word(Box<str>),
}

impl Token {
    /// The run as normalised (`007` gives `7`, `RC` gives `rc`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Number(s) | Self::Word(s) => s,
        }
    }

    /// The rank of a pre-release word, lowest first.
    fn pre_rank(&self) -> Option<u8> {
        match self {
            Self::Word(w) => match &**w {
                "dev" => Some(0),
                "alpha" => Some(1),
                "beta" => Some(2),
                "pre" | "preview" => Some(3),
                "rc" => Some(4),
                _ => None,
            },
            Self::Number(_) => None,
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Self::Number(n) if &**n == "0")
    }
}

/// Where a run (or the end of the string) sits in the order: pre-release words, then the end /
/// zero, then other words, then positive numbers.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Pre(u8, &'a str),
    Zero,
    Word(&'a str),
    Positive(usize, &'a str),
}

fn key(t: Option<&Token>) -> Key<'_> {
    match t {
        None => Key::Zero,
        Some(t) if t.is_zero() => Key::Zero,
        Some(t) => match (t.pre_rank(), t) {
            (Some(r), Token::Word(w)) => Key::Pre(r, w),
            (_, Token::Word(w)) => Key::Word(w),
            (_, Token::Number(n)) => Key::Positive(n.len(), n),
        },
    }
}

/// A letter's lower case when that is one letter (so normal forms re-parse to the same runs),
/// else the letter itself (`İ` lower-cases to `i` plus a combining dot, which is no letter).
fn lower(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) if x.is_alphabetic() => x,
        _ => c,
    }
}

/// A version split into runs for best-effort comparison.
///
/// `==`, `<` etc. follow [`Generic::compare`]; equal versions have equal normal forms.
#[derive(Debug, Clone)]
pub struct GenericVersion {
    tokens: Vec<Token>,
    /// The runs that matter: zeros at the end or just before a pre-release word are dropped.
    significant: Vec<Token>,
}

impl GenericVersion {
    /// All runs, in order (trailing zeros included).
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The runs ordering and the normal form use: zeros at the end or just before a pre-release
    /// word are dropped (`1.0.0rc1` gives `1 rc 1`).
    pub fn significant(&self) -> &[Token] {
        &self.significant
    }
}

fn significant(tokens: &[Token]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let drop_zeros = |out: &mut Vec<Token>| {
        while out.last().is_some_and(Token::is_zero) {
            out.pop();
        }
    };
    for t in tokens {
        if t.pre_rank().is_some() {
            drop_zeros(&mut out);
        }
        out.push(t.clone());
    }
    drop_zeros(&mut out);
    out
}

impl PartialEq for GenericVersion {
    fn eq(&self, other: &Self) -> bool {
        Generic::compare(self, other) == Ordering::Equal
    }
}
impl Eq for GenericVersion {}
impl PartialOrd for GenericVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for GenericVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        Generic::compare(self, other)
    }
}

impl fmt::Display for GenericVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Generic::normalize(self))
    }
}

impl FromStr for GenericVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Generic::parse(s)
    }
}

/// The generic (guessed) scheme.
#[derive(Debug)]
pub struct Generic;

impl VersionScheme for Generic {
    type Parsed = GenericVersion;
    const SCHEME: Scheme = Scheme::Generic;

    fn parse(input: &str) -> Result<GenericVersion, VersionError> {
        let mut tokens = Vec::new();
        let mut chars = input.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            let digit = c.is_ascii_digit();
            if !digit && !c.is_alphabetic() {
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                let same = if digit {
                    d.is_ascii_digit()
                } else {
                    d.is_alphabetic()
                };
                if !same {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let run = &input[start..end];
            tokens.push(if digit {
                let t = run.trim_start_matches('0');
                Token::Number(if t.is_empty() { "0" } else { t }.into())
            } else {
                Token::Word(run.chars().map(lower).collect::<String>().into())
            });
        }
        if tokens.is_empty() {
            let found = if input.is_empty() {
                "an empty string".to_owned()
            } else {
                format!("`{input}`")
            };
            return Err(VersionError::invalid(
                Scheme::Generic,
                input,
                format!("expected a version with at least one letter or digit, found {found}"),
            ));
        }
        Ok(GenericVersion {
            significant: significant(&tokens),
            tokens,
        })
    }

    fn compare(a: &GenericVersion, b: &GenericVersion) -> Ordering {
        let (a, b) = (&a.significant, &b.significant);
        (0..a.len().max(b.len()))
            .map(|i| key(a.get(i)).cmp(&key(b.get(i))))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// The significant runs joined with `.` (`1.0.1RC1` gives `1.0.1.rc.1`; `1.0.0` gives `1`;
    /// all-zero versions give `0`).
    fn normalize(p: &GenericVersion) -> String {
        let s = &p.significant;
        if s.is_empty() {
            return "0".to_owned();
        }
        s.iter().map(Token::as_str).collect::<Vec<_>>().join(".")
    }

    fn components(p: &GenericVersion) -> serde_json::Value {
        serde_json::json!({
            "guess": true,
            "tokens": p.tokens.iter().map(|t| match t {
                Token::Number(n) => serde_json::json!({ "number": n }),
                Token::Word(w) => serde_json::json!({
                    "word": w,
                    "pre_release": t.pre_rank().is_some(),
                }),
            }).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> GenericVersion {
        Generic::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        Generic::compare(&v(a), &v(b))
    }

    #[test]
    fn ordering_guesses() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0.0", Equal),
            ("1.0", "1.0.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0-1", "1.0.1", Equal),
            ("1.0rc1", "1.0", Less),
            ("1.0rc1", "1.0.0rc1", Equal),
            ("1.0.0.rc.0", "1.rc", Equal),
            ("1.0.1rc1", "1.0rc1", Greater),
            ("1.0.dev1", "1.0.alpha1", Less),
            ("1.0-alpha", "1.0-beta", Less),
            ("1.0-beta", "1.0-pre", Less),
            ("1.0-pre", "1.0-rc", Less),
            ("1.0-RC2", "1.0-rc10", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0.1", Less),
            ("1.1.1k", "1.1.1j", Greater),
            ("1.0-foo", "1.0-bar", Greater),
            ("1.0-final", "1.0-rc1", Greater),
            ("2024.1", "2023.2", Greater),
            (
                "99999999999999999999999",
                "99999999999999999999998",
                Greater,
            ),
            ("007", "7", Equal),
        ] {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn normal_form_and_components() {
        assert_eq!(Generic::normalize(&v("1.0RC1")), "1.rc.1");
        assert_eq!(Generic::normalize(&v("1.1-RC1")), "1.1.rc.1");
        assert_eq!(Generic::normalize(&v("v1.2.0.0")), "v.1.2");
        assert_eq!(Generic::normalize(&v("0.0")), "0");
        assert_eq!(Generic::normalize(&v("...x")), "x");
        assert_eq!(Generic::normalize(&v("ÄBC-İ")), "äbc.İ");
        let j = Generic::components(&v("1.0rc1"));
        assert_eq!(j["guess"], true);
        assert_eq!(j["tokens"][2]["word"], "rc");
        assert_eq!(j["tokens"][2]["pre_release"], true);
        assert_eq!(v("1.0").tokens().len(), 2);
    }

    #[test]
    fn only_empty_input_fails() {
        for s in ["", "...", "  ", "-+~"] {
            let e = Generic::parse(s).unwrap_err().to_string();
            assert!(
                e.contains("expected a version with at least one letter or digit"),
                "{e}"
            );
        }
        for s in [
            "x",
            "ünïcödé 3",
            "2013-01-21T20:33:09+0100",
            "-class.-jw.util.version",
        ] {
            assert!(Generic::parse(s).is_ok(), "{s:?}");
        }
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        "[vV]?[0-9]{1,3}([._~+-]?([0-9]{1,2}|alpha|beta|rc|pre|preview|dev|[a-zA-Z]{1,3}|00)){0,5}"
    }

    fn parsed() -> impl Strategy<Value = GenericVersion> {
        prop_oneof![
            version_strategy(),
            "[0-9a-zA-Z._-]{1,8}".prop_filter("needs a letter or digit", |s| s
                .chars()
                .any(char::is_alphanumeric)),
            "\\PC{1,6}".prop_filter("needs a letter or digit", |s| {
                s.chars().any(|c| c.is_ascii_digit() || c.is_alphabetic())
            }),
        ]
        .prop_map(|s| v(&s))
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let r = Generic::parse(&s);
            prop_assert_eq!(r.is_ok(), s.chars().any(|c| c.is_ascii_digit() || c.is_alphabetic()));
        }

        #[test]
        fn antisymmetric(a in parsed(), b in parsed()) {
            prop_assert_eq!(Generic::compare(&a, &b), Generic::compare(&b, &a).reverse());
        }

        #[test]
        fn transitive(a in parsed(), b in parsed(), c in parsed()) {
            let mut xs = [a, b, c];
            xs.sort_by(Generic::compare);
            prop_assert_ne!(Generic::compare(&xs[0], &xs[1]), Ordering::Greater);
            prop_assert_ne!(Generic::compare(&xs[1], &xs[2]), Ordering::Greater);
            prop_assert_ne!(Generic::compare(&xs[0], &xs[2]), Ordering::Greater);
            if Generic::compare(&xs[0], &xs[1]) == Ordering::Less || Generic::compare(&xs[1], &xs[2]) == Ordering::Less {
                prop_assert_eq!(Generic::compare(&xs[0], &xs[2]), Ordering::Less);
            }
        }

        #[test]
        fn normalize_round_trips(a in parsed()) {
            let n = Generic::normalize(&a);
            let b = Generic::parse(&n).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Generic::compare(&a, &b), Ordering::Equal);
            prop_assert_eq!(Generic::normalize(&b), n);
        }

        #[test]
        fn equal_iff_same_normal_form(a in parsed(), b in parsed()) {
            prop_assert_eq!(
                Generic::compare(&a, &b) == Ordering::Equal,
                Generic::normalize(&a) == Generic::normalize(&b)
            );
        }
    }
}
