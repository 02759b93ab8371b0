//! Version ranges, evaluated in each scheme's own ordering.
//!
//! - [`OsvRange`]: OSV `events` (`introduced`, `fixed`, `last_affected`, `limit`) and explicit
//!   `versions` lists, for any scheme ([`osv_affected`]).
//! - [`Pep440Specifiers`]: PEP 440 specifier sets (`>=,<=,<,>,==,!=,~=,===`, `==1.2.*`), with
//!   packaging's rules for pre-, post- and local releases; and [`Pep440AnyOf`], the form the
//!   OpenStack Security Advisories write (`>=17.0.0 <26.1.7, >=27.0.0 <29.0.6`: commas separate
//!   alternatives, blanks join conditions).
//! - [`SemverReq`]: Cargo/RustSec requirements (`^1.2`, `~1.2.3`, `>=1, <2`, `1.*`), through the
//!   `semver` crate, the implementation Cargo and RustSec use.
//! - [`DebRelation`]: Debian relations (`<<`, `<=`, `=`, `>=`, `>>`; the obsolete `<` and `>`
//!   mean `<=` and `>=`, as dpkg reads them).
//!
//! Matching a vulnerability includes pre-releases (a `rc` of an affected release is affected):
//! a specifier set here answers "is this version in the set", as packaging's
//! `SpecifierSet.contains(v, prereleases=True)` does.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::pep440::{Pep440, Pep440Version};
use super::{dpkg, Scheme, Version, VersionError, VersionScheme};

/// One OSV range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Affected from this version on (`"0"`: from the beginning).
    Introduced(String),
    /// Not affected from this version on.
    Fixed(String),
    /// Affected up to and including this version.
    LastAffected(String),
    /// Upper bound of the range (not affected from here on).
    Limit(String),
}

/// An OSV range in one scheme (OSV `ECOSYSTEM` or `SEMVER` ranges; `GIT` ranges are not
/// evaluable against an installed version and are kept only as evidence by callers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsvRange {
    /// Events, in any order.
    pub events: Vec<Event>,
}

fn parse_in(scheme: Scheme, s: &str) -> Result<Version, VersionError> {
    Version::parse(scheme, s)
}

/// Whether `v` is affected by OSV `ranges` or listed in `versions`.
///
/// Interval semantics, independent of event order: `v` is affected by a range when some
/// `introduced` I ≤ v exists such that no `fixed` F has I ≤ F ≤ v and no `last_affected` L has
/// I ≤ L < v, and v is below every `limit`. An event version that does not parse is an error
/// (the caller reports it; it is never read as "not affected").
pub fn osv_affected(
    v: &Version,
    ranges: &[OsvRange],
    versions: &[String],
) -> Result<bool, VersionError> {
    let scheme = v.scheme();
    for listed in versions {
        if let Ok(l) = parse_in(scheme, listed) {
            if v.compare(&l)? == Ordering::Equal {
                return Ok(true);
            }
        } else if listed == v.raw() {
            return Ok(true);
        }
    }
    for r in ranges {
        if range_contains(v, r)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn range_contains(v: &Version, r: &OsvRange) -> Result<bool, VersionError> {
    let scheme = v.scheme();
    let mut intro: Vec<Option<Version>> = Vec::new(); // None = "0", the beginning
    let mut fixed = Vec::new();
    let mut last = Vec::new();
    for e in &r.events {
        match e {
            Event::Introduced(s) if s == "0" => intro.push(None),
            Event::Introduced(s) => intro.push(Some(parse_in(scheme, s)?)),
            Event::Fixed(s) => fixed.push(parse_in(scheme, s)?),
            Event::LastAffected(s) => last.push(parse_in(scheme, s)?),
            Event::Limit(s) if s == "*" => {}
            Event::Limit(s) => {
                let l = parse_in(scheme, s)?;
                if v.compare(&l)? != Ordering::Less {
                    return Ok(false);
                }
            }
        }
    }
    'intro: for i in &intro {
        if let Some(i) = i {
            if v.compare(i)? == Ordering::Less {
                continue;
            }
        }
        for f in &fixed {
            let after_i = match i {
                Some(i) => f.compare(i)? != Ordering::Less,
                None => true,
            };
            if after_i && f.compare(v)? != Ordering::Greater {
                continue 'intro;
            }
        }
        for l in &last {
            let after_i = match i {
                Some(i) => l.compare(i)? != Ordering::Less,
                None => true,
            };
            if after_i && l.compare(v)? == Ordering::Less {
                continue 'intro;
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// A PEP 440 comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pep440Op {
    /// `~=`
    Compatible,
    /// `==`
    Equal,
    /// `==…*`
    EqualPrefix,
    /// `!=`
    NotEqual,
    /// `!=…*`
    NotEqualPrefix,
    /// `<=`
    LessEqual,
    /// `>=`
    GreaterEqual,
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `===`
    Arbitrary,
}

/// One PEP 440 specifier.
#[derive(Debug, Clone)]
pub struct Pep440Specifier {
    op: Pep440Op,
    raw: String,
    version: Option<Pep440Version>,
}

fn spec_err(input: &str, reason: impl Into<String>) -> VersionError {
    VersionError::invalid(Scheme::Pep440, input, reason)
}

impl Pep440Specifier {
    /// Parse one specifier (`>=1.0`, `==2.*`, `~=2.2`).
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let s = input.trim();
        let ops: [(&str, Pep440Op); 8] = [
            ("===", Pep440Op::Arbitrary),
            ("~=", Pep440Op::Compatible),
            ("==", Pep440Op::Equal),
            ("!=", Pep440Op::NotEqual),
            ("<=", Pep440Op::LessEqual),
            (">=", Pep440Op::GreaterEqual),
            ("<", Pep440Op::Less),
            (">", Pep440Op::Greater),
        ];
        let Some((op_s, mut op)) = ops.iter().copied().find(|(o, _)| s.starts_with(o)) else {
            return Err(spec_err(input, format!("expected an operator (`>=`, `<`, `==`, `~=`, …) before the version, found `{s}`")));
        };
        let rest = s[op_s.len()..].trim();
        if rest.is_empty() {
            return Err(spec_err(
                input,
                format!("expected a version after `{op_s}`, found nothing"),
            ));
        }
        if op == Pep440Op::Arbitrary {
            return Ok(Self {
                op,
                raw: rest.to_owned(),
                version: None,
            });
        }
        let mut vtext = rest;
        if let Some(prefix) = rest.strip_suffix(".*") {
            op = match op {
                Pep440Op::Equal => Pep440Op::EqualPrefix,
                Pep440Op::NotEqual => Pep440Op::NotEqualPrefix,
                _ => {
                    return Err(spec_err(
                        input,
                        format!("a `.*` suffix is only allowed with `==` and `!=`, found `{op_s}`"),
                    ))
                }
            };
            vtext = prefix;
        }
        let v = Pep440::parse(vtext)?;
        match op {
            Pep440Op::Compatible if v.release().len() < 2 => {
                return Err(spec_err(
                    input,
                    "`~=` needs a version with at least two release numbers, such as `~=2.2`",
                ));
            }
            Pep440Op::EqualPrefix | Pep440Op::NotEqualPrefix
                if v.local().is_some() || v.is_prerelease() || v.is_postrelease() =>
            {
                return Err(spec_err(
                    input,
                    "a `.*` prefix match takes release numbers only",
                ));
            }
            Pep440Op::Less
            | Pep440Op::Greater
            | Pep440Op::LessEqual
            | Pep440Op::GreaterEqual
            | Pep440Op::Compatible
                if v.local().is_some() =>
            {
                return Err(spec_err(
                    input,
                    "a local version label (`+…`) is only allowed with `==` and `!=`",
                ));
            }
            _ => {}
        }
        Ok(Self {
            op,
            raw: rest.to_owned(),
            version: Some(v),
        })
    }

    /// Whether `v` satisfies this specifier (pre-releases included).
    pub fn contains(&self, v: &Pep440Version) -> bool {
        let Some(s) = &self.version else {
            return v.to_string().eq_ignore_ascii_case(&self.raw);
        };
        match self.op {
            Pep440Op::Equal => equal(v, s),
            Pep440Op::NotEqual => !equal(v, s),
            Pep440Op::EqualPrefix => prefix_match(v, s),
            Pep440Op::NotEqualPrefix => !prefix_match(v, s),
            Pep440Op::LessEqual => public(v) <= *s,
            Pep440Op::GreaterEqual => public(v) >= *s,
            Pep440Op::Less => {
                v < s && !(!s.is_prerelease() && v.is_prerelease() && base(v) == base(s))
            }
            Pep440Op::Greater => {
                v > s
                    && !(!s.is_postrelease() && v.is_postrelease() && base(v) == base(s))
                    && !(v.local().is_some() && base(v) == base(s))
            }
            Pep440Op::Compatible => {
                let n = s.release().len() - 1;
                let prefix = Pep440::parse(
                    &s.release()[..n]
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join("."),
                );
                public(v) >= *s && prefix.is_ok_and(|p| prefix_match(v, &with_epoch(&p, s.epoch())))
            }
            // `===` never carries a parsed version; handled above.
            Pep440Op::Arbitrary => false,
        }
    }
}

fn with_epoch(p: &Pep440Version, epoch: u64) -> Pep440Version {
    if epoch == 0 {
        return p.clone();
    }
    Pep440::parse(&format!("{epoch}!{p}")).unwrap_or_else(|_| p.clone())
}

fn public(v: &Pep440Version) -> Pep440Version {
    if v.local().is_none() {
        return v.clone();
    }
    Pep440::parse(&v.public()).unwrap_or_else(|_| v.clone())
}

fn base(v: &Pep440Version) -> Pep440Version {
    Pep440::parse(&v.base_version()).unwrap_or_else(|_| v.clone())
}

fn equal(v: &Pep440Version, s: &Pep440Version) -> bool {
    if s.local().is_some() {
        v == s
    } else {
        public(v) == *s
    }
}

/// `==1.2.*`: epoch equal and the release, zero-padded, starts with the prefix.
fn prefix_match(v: &Pep440Version, prefix: &Pep440Version) -> bool {
    if v.epoch() != prefix.epoch() {
        return false;
    }
    let p = prefix.release();
    let r = v.release();
    // packaging pads the candidate's release with zeros to the prefix length, and a candidate
    // pre/dev release of the prefixed version matches (`1.2rc1` in `==1.2.*`).
    (0..p.len()).all(|i| r.get(i).copied().unwrap_or(0) == p[i])
}

/// A PEP 440 specifier set: every specifier must hold (commas join).
#[derive(Debug, Clone, Default)]
pub struct Pep440Specifiers {
    specs: Vec<Pep440Specifier>,
}

impl Pep440Specifiers {
    /// Parse `>=1.0,<2.0` (commas join; blanks around operators allowed). Empty = everything.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let mut specs = Vec::new();
        for part in input.split(',') {
            if part.trim().is_empty() {
                if input.trim().is_empty() {
                    continue;
                }
                return Err(spec_err(
                    input,
                    "expected a specifier between commas, found nothing",
                ));
            }
            specs.push(Pep440Specifier::parse(part)?);
        }
        Ok(Self { specs })
    }

    /// Whether `v` is in the set.
    pub fn contains(&self, v: &Pep440Version) -> bool {
        self.specs.iter().all(|s| s.contains(v))
    }
}

/// Alternatives of specifier sets, as OSSA writes them: `>=17.0.0 <26.1.7, >=27.0.0 <29.0.6`
/// (commas separate alternatives; blanks join conditions within one) — also `<26.1.7` alone, and
/// `==29.0.0`. `v` is in it when any alternative contains it.
///
/// **OpenStack numbering eras.** OpenStack projects numbered their releases by date until
/// Kilo (`2011.1` … `2015.1.x`), then restarted with semantic numbers (nova `12.0.0` is
/// Liberty). Every date-era version comes *before* every later one, so bounds are compared
/// era first ([`OpenStackEra`]): `<=2014.2.3` holds for nova `2014.1` but not for `33.0.2`
/// (which PEP 440 alone would put below 2014), and `<12.0.0` holds for every date-era release.
/// Within one era the comparison is exactly PEP 440's.
#[derive(Debug, Clone, Default)]
pub struct Pep440AnyOf {
    alternatives: Vec<(String, Pep440Specifiers)>,
}

/// Which numbering era of an OpenStack project a version belongs to (see [`Pep440AnyOf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpenStackEra {
    /// `2010.1` … `2015.1.x`: the release number is the year and the release of that year.
    Date,
    /// Everything else (semantic versions, from nova 12.0.0 / Liberty on).
    Semantic,
}

impl OpenStackEra {
    /// The era of `v`: a first release number from 2010 to 2015 is a date.
    pub fn of(v: &Pep440Version) -> Self {
        match v.release().first() {
            Some(m) if (2010..=2015).contains(m) => Self::Date,
            _ => Self::Semantic,
        }
    }
}

impl Pep440Specifier {
    /// [`Self::contains`] with bounds of another [`OpenStackEra`] compared era first.
    fn contains_in_eras(&self, v: &Pep440Version) -> bool {
        let Some(s) = &self.version else {
            return self.contains(v);
        };
        let (ev, es) = (OpenStackEra::of(v), OpenStackEra::of(s));
        if ev == es {
            return self.contains(v);
        }
        match self.op {
            Pep440Op::Less | Pep440Op::LessEqual => ev < es,
            Pep440Op::Greater | Pep440Op::GreaterEqual => ev > es,
            Pep440Op::NotEqual | Pep440Op::NotEqualPrefix => true,
            _ => false,
        }
    }
}

impl Pep440AnyOf {
    /// Parse the OSSA form.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let mut alternatives = Vec::new();
        for alt in input.split(',') {
            let alt = alt.trim();
            if alt.is_empty() {
                continue;
            }
            // Re-join an operator separated from its version by a blank (`>= 1.0`).
            let mut specs = Vec::new();
            let mut pending = String::new();
            for tok in alt.split_whitespace() {
                pending.push_str(tok);
                if tok
                    .chars()
                    .all(|c| matches!(c, '<' | '>' | '=' | '!' | '~'))
                {
                    continue;
                }
                specs.push(Pep440Specifier::parse(&pending)?);
                pending.clear();
            }
            if !pending.is_empty() {
                return Err(spec_err(
                    input,
                    format!("expected a version after `{pending}`, found nothing"),
                ));
            }
            alternatives.push((alt.to_owned(), Pep440Specifiers { specs }));
        }
        if alternatives.is_empty() {
            return Err(spec_err(
                input,
                "expected at least one range such as `<26.1.7`, found nothing",
            ));
        }
        Ok(Self { alternatives })
    }

    /// Whether any alternative contains `v` (eras compared first, see the type's docs).
    pub fn contains(&self, v: &Pep440Version) -> bool {
        self.alternatives
            .iter()
            .any(|(_, a)| a.specs.iter().all(|s| s.contains_in_eras(v)))
    }

    /// The first alternative that contains `v`: its text as written (`>=27.0.0 <29.0.6`) and its
    /// `<` bounds, the first fixed release of that range (`29.0.6`).
    pub fn matching(&self, v: &Pep440Version) -> Option<(&str, Vec<String>)> {
        let (text, alt) = self
            .alternatives
            .iter()
            .find(|(_, a)| a.specs.iter().all(|s| s.contains_in_eras(v)))?;
        let below = alt
            .specs
            .iter()
            .filter(|s| s.op == Pep440Op::Less)
            .map(|s| s.raw.clone())
            .collect();
        Some((text.as_str(), below))
    }
}

/// A Cargo / RustSec version requirement.
#[derive(Debug, Clone)]
pub struct SemverReq(semver::VersionReq);

impl SemverReq {
    /// Parse `^1.2.3`, `>=1.0, <2`, `~1.2`, `1.*`, `=0.3.1`.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        semver::VersionReq::parse(input).map(Self).map_err(|e| {
            VersionError::invalid(
                Scheme::Semver,
                input,
                format!("expected a Cargo version requirement: {e}"),
            )
        })
    }

    /// Whether `v` (a strict SemVer string) matches, with Cargo's pre-release rule (a
    /// pre-release matches only a comparator naming the same major.minor.patch with a
    /// pre-release).
    pub fn matches(&self, v: &str) -> Result<bool, VersionError> {
        let sv = semver::Version::parse(v).map_err(|e| {
            VersionError::invalid(
                Scheme::Semver,
                v,
                format!("expected MAJOR.MINOR.PATCH: {e}"),
            )
        })?;
        Ok(self.0.matches(&sv))
    }
}

impl fmt::Display for SemverReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Debian version relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebOp {
    /// `<<`
    Less,
    /// `<=` (and obsolete `<`)
    LessEqual,
    /// `=`
    Equal,
    /// `>=` (and obsolete `>`)
    GreaterEqual,
    /// `>>`
    Greater,
}

/// `(<< 1.2-3)` as in Depends, Breaks, or a tracker's "fixed in".
#[derive(Debug, Clone)]
pub struct DebRelation {
    op: DebOp,
    version: dpkg::DebVersion,
}

impl DebRelation {
    /// Parse `<< 1.2-3`, `(>= 2:1.0)`, `= 1.0`.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let s = input
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        let ops: [(&str, DebOp); 7] = [
            ("<<", DebOp::Less),
            ("<=", DebOp::LessEqual),
            (">>", DebOp::Greater),
            (">=", DebOp::GreaterEqual),
            ("=", DebOp::Equal),
            ("<", DebOp::LessEqual),
            (">", DebOp::GreaterEqual),
        ];
        let Some((o, op)) = ops.iter().copied().find(|(o, _)| s.starts_with(o)) else {
            return Err(VersionError::invalid(Scheme::Deb, input, format!("expected a relation (`<<`, `<=`, `=`, `>=`, `>>`) before the version, found `{s}`")));
        };
        let version = dpkg::Dpkg::parse(s[o.len()..].trim())?;
        Ok(Self { op, version })
    }

    /// Whether `v` satisfies the relation.
    pub fn satisfied_by(&self, v: &dpkg::DebVersion) -> bool {
        let c = dpkg::Dpkg::compare(v, &self.version);
        match self.op {
            DebOp::Less => c == Ordering::Less,
            DebOp::LessEqual => c != Ordering::Greater,
            DebOp::Equal => c == Ordering::Equal,
            DebOp::GreaterEqual => c != Ordering::Less,
            DebOp::Greater => c == Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(s: &str) -> Pep440Version {
        Pep440::parse(s).unwrap()
    }

    fn osv(scheme: Scheme, v: &str, events: &[Event]) -> bool {
        osv_affected(
            &Version::parse(scheme, v).unwrap(),
            &[OsvRange {
                events: events.to_vec(),
            }],
            &[],
        )
        .unwrap()
    }

    #[test]
    fn osv_events_in_any_order() {
        use Event::*;
        let ev = [
            Fixed("1.2.0".into()),
            Introduced("0".into()),
            Introduced("2.0.0".into()),
            Fixed("2.0.5".into()),
        ];
        for (v, want) in [
            ("0.1", true),
            ("1.1.9", true),
            ("1.2.0", false),
            ("1.9", false),
            ("2.0.0", true),
            ("2.0.4", true),
            ("2.0.5", false),
            ("3", false),
        ] {
            assert_eq!(osv(Scheme::Pep440, v, &ev), want, "{v}");
        }
        let last = [Introduced("1.0".into()), LastAffected("1.4".into())];
        assert!(osv(Scheme::Pep440, "1.4", &last));
        assert!(!osv(Scheme::Pep440, "1.4.1", &last));
        assert!(!osv(Scheme::Pep440, "0.9", &last));
        let lim = [Introduced("0".into()), Limit("2.0".into())];
        assert!(osv(Scheme::Pep440, "1.9", &lim));
        assert!(!osv(Scheme::Pep440, "2.0", &lim));
        // Debian: the tilde backport is below the fix.
        let deb = [Introduced("0".into()), Fixed("2:26.2.2-1~deb12u6".into())];
        assert!(osv(Scheme::Deb, "2:26.2.2-1~deb12u5", &deb));
        assert!(!osv(Scheme::Deb, "2:26.2.2-1", &deb));
    }

    #[test]
    fn osv_versions_list_and_bad_events() {
        let v = Version::parse(Scheme::Pep440, "1.0.0").unwrap();
        assert!(osv_affected(&v, &[], &["1.0".to_owned()]).unwrap());
        let bad = OsvRange {
            events: vec![
                Event::Introduced("0".into()),
                Event::Fixed("not a version".into()),
            ],
        };
        assert!(osv_affected(&v, &[bad], &[]).is_err());
    }

    /// Cases from packaging's tests/test_specifiers.py (`test_specifiers`), with
    /// `prereleases=True` where packaging's default would exclude them.
    #[test]
    fn pep440_specifiers_like_packaging() {
        let cases: &[(&str, &str, bool)] = &[
            ("2.0", "==2", true),
            ("2.0", "==2.0", true),
            ("2.0+deadbeef", "==2", true),
            ("2.0+deadbeef", "==2.0+deadbeef", true),
            ("2.0", "==2.0+deadbeef", false),
            ("2.0", "==2.*", true),
            ("2.1rc1", "==2.*", true),
            ("3.0", "==2.*", false),
            ("2.0.1", "==2.0.*", true),
            ("2.0", "==2.0.*", true),
            ("1!2.0", "==2.*", false),
            ("2.0", "!=2.1", true),
            ("2.1", "!=2.1", false),
            ("2.0", "~=2.0", true),
            ("2.5", "~=2.0", true),
            ("3.0", "~=2.0", false),
            ("2.0.5", "~=2.0.0", true),
            ("2.1", "~=2.0.0", false),
            ("2.0", "<=2", true),
            ("2.0+local", "<=2", true),
            ("1.0", "<2", true),
            ("2.0.dev1", "<2", false),
            ("2.0a1", "<2", false),
            ("2.0a1", "<2rc1", true),
            ("1.9", "<2", true),
            ("3", ">2", true),
            ("2.0.post1", ">2", false),
            ("2.0.post2", ">2.0.post1", true),
            ("2.0+local", ">2", false),
            ("2.1", ">2", true),
            ("2.0", ">=2", true),
            ("2.0+local", ">=2", true),
            ("1.0", "===1.0", true),
            ("1.0.0", "===1.0", false),
        ];
        for (v, spec, want) in cases {
            let s = Pep440Specifiers::parse(spec).unwrap();
            assert_eq!(s.contains(&pv(v)), *want, "{v} in {spec}");
        }
        assert!(Pep440Specifiers::parse(">=1.0,<2.0")
            .unwrap()
            .contains(&pv("1.5")));
        assert!(!Pep440Specifiers::parse(">=1.0,<2.0")
            .unwrap()
            .contains(&pv("2.0")));
        assert!(Pep440Specifiers::parse("").unwrap().contains(&pv("9")));
    }

    #[test]
    fn pep440_specifier_errors_say_why() {
        for (s, want) in [
            ("1.0", "expected an operator"),
            (">=", "expected a version"),
            ("~=1", "two release numbers"),
            (">=1.*", "only allowed with"),
            (">1.0+local", "local version"),
            (">=1.0,,<2", "between commas"),
        ] {
            let e = Pep440Specifiers::parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn ossa_alternatives() {
        let r = Pep440AnyOf::parse(">=17.0.0 <26.1.7, >=27.0.0 <29.0.6").unwrap();
        for (v, want) in [
            ("16.9", false),
            ("17.0.0", true),
            ("26.1.6", true),
            ("26.1.7", false),
            ("26.5", false),
            ("27.0.0", true),
            ("29.0.5", true),
            ("29.0.6", false),
            ("29.0.0.0rc1", true),
        ] {
            assert_eq!(r.contains(&pv(v)), want, "{v}");
        }
        assert!(Pep440AnyOf::parse("<26.1.7")
            .unwrap()
            .contains(&pv("26.1.6")));
        assert!(Pep440AnyOf::parse(">= 27.0.0 < 29.0.6")
            .unwrap()
            .contains(&pv("28")));
        // Eras: date-numbered bounds never reach semantic versions, and semantic lower bounds
        // never reach back into the date era.
        let r = Pep440AnyOf::parse("<=2014.2.3, >=2015.1.0 <=2015.1.1").unwrap();
        for (v, want) in [
            ("2014.1", true),
            ("2014.2.3", true),
            ("2014.2.4", false),
            ("2015.1.1", true),
            ("12.0.0", false),
            ("33.0.2", false),
        ] {
            assert_eq!(r.contains(&v.parse().unwrap()), want, "{v}");
        }
        let r = Pep440AnyOf::parse("<13.0.0").unwrap();
        assert!(r.contains(&"2015.1.0".parse().unwrap()));
        assert!(r.contains(&"12.0.4".parse().unwrap()));
        let r = Pep440AnyOf::parse(">=12.0.0").unwrap();
        assert!(!r.contains(&"2015.1.0".parse().unwrap()));
        let r = Pep440AnyOf::parse("!=2014.1").unwrap();
        assert!(r.contains(&"29.0.0".parse().unwrap()));
        assert_eq!(
            Pep440AnyOf::parse("<=5.0.3, >=6.0.0 <=6.1.0")
                .unwrap()
                .matching(&"6.0.2".parse().unwrap()),
            Some((">=6.0.0 <=6.1.0", Vec::new()))
        );
        let r = Pep440AnyOf::parse(">=27.0.0 <29.0.6, <=26.1.0").unwrap();
        assert_eq!(
            r.matching(&"28.0.0".parse().unwrap()),
            Some((">=27.0.0 <29.0.6", vec!["29.0.6".to_owned()]))
        );
        assert_eq!(
            r.matching(&"26.0.0".parse().unwrap()),
            Some(("<=26.1.0", Vec::new()))
        );
        assert!(Pep440AnyOf::parse("").is_err());
        assert!(Pep440AnyOf::parse("<=").is_err());
    }

    #[test]
    fn semver_requirements_like_cargo() {
        let r = SemverReq::parse("^1.2.3").unwrap();
        assert!(r.matches("1.9.0").unwrap());
        assert!(!r.matches("2.0.0").unwrap());
        assert!(!r.matches("1.3.0-alpha.1").unwrap());
        assert!(SemverReq::parse(">=0.3, <0.3.5")
            .unwrap()
            .matches("0.3.4")
            .unwrap());
        assert!(SemverReq::parse("<0.3.5, >=0.3")
            .unwrap()
            .matches("0.3.4")
            .unwrap());
        assert!(SemverReq::parse("~1.2").unwrap().matches("1.2.9").unwrap());
        assert!(!SemverReq::parse("~1.2").unwrap().matches("1.3.0").unwrap());
        assert!(SemverReq::parse("bad req").is_err());
        assert!(r.matches("v1.2.3").is_err());
    }

    #[test]
    fn debian_relations() {
        let v = |s| dpkg::Dpkg::parse(s).unwrap();
        assert!(DebRelation::parse("<< 1.2-3")
            .unwrap()
            .satisfied_by(&v("1.2-2")));
        assert!(!DebRelation::parse("<< 1.2-3")
            .unwrap()
            .satisfied_by(&v("1.2-3")));
        assert!(DebRelation::parse("(>= 2:1.0)")
            .unwrap()
            .satisfied_by(&v("2:1.0")));
        assert!(
            DebRelation::parse("< 1.0").unwrap().satisfied_by(&v("1.0")),
            "obsolete `<` means `<=`"
        );
        assert!(DebRelation::parse(">> 1.0~rc1")
            .unwrap()
            .satisfied_by(&v("1.0")));
        assert!(DebRelation::parse("= 1.0")
            .unwrap()
            .satisfied_by(&v("1.0-0")));
        assert!(DebRelation::parse("~ 1.0").is_err());
    }
}
