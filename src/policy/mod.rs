//! Policies (`policies/*.yaml`) → a validated [`Policy`]; waivers.
//!
//! A policy is a list of rules, each with a selector and the checks it applies (series lag,
//! lifecycle, patch currency, upgrades, upper-constraints), plus the gate, the maximum inventory age and waivers. Rules are
//! read in order; for each check, the first rule that selects a subject and defines that check
//! applies (so put specific rules first and catch-alls last). Validation reports every problem
//! at once, each with `file:line` and the field path. See `policies/default.yaml` (annotated)
//! and `docs/policies.md`.

mod gate;
mod parse;
mod yamlpath;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use time::Date;

use crate::model::{FindingCode, Severity};

pub use gate::{Gate, GateTerm};
pub use parse::parse;
pub(crate) use yamlpath::LineIndex;

/// What kind of subject a selector picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// An OpenStack deliverable (service, library, client) recognised on a node.
    Openstack,
    /// A product with a lifecycle (endoflife.date): the OS, MariaDB, RabbitMQ, Python…
    Product,
    /// A package of any ecosystem.
    Package,
}

impl SubjectKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "openstack" => Self::Openstack,
            "product" => Self::Product,
            "package" => Self::Package,
            _ => return None,
        })
    }
}

/// A glob over names: `*` any run, `?` one character, `[0-9]` a class (`[!…]` negated);
/// case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// A glob.
    pub fn new(s: &str) -> Self {
        Self(s.to_ascii_lowercase())
    }
    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        glob_match(self.0.as_bytes(), s.to_ascii_lowercase().as_bytes())
    }
}

/// Length of the pattern element at `p[i]` and whether it matches byte `c`: `?`, a class
/// `[a-z0-9]` (with `!` or `^` negation), or a literal byte.
fn element(p: &[u8], i: usize, c: u8) -> (usize, bool) {
    match p[i] {
        b'?' => (1, true),
        b'[' => {
            let mut j = i + 1;
            let neg = j < p.len() && (p[j] == b'!' || p[j] == b'^');
            if neg {
                j += 1;
            }
            let start = j;
            let mut hit = false;
            while j < p.len() && (p[j] != b']' || j == start) {
                if j + 2 < p.len() && p[j + 1] == b'-' && p[j + 2] != b']' {
                    hit |= p[j] <= c && c <= p[j + 2];
                    j += 3;
                } else {
                    hit |= p[j] == c;
                    j += 1;
                }
            }
            if j >= p.len() {
                // No closing bracket: a literal `[`.
                return (1, c == b'[');
            }
            (j + 1 - i, hit != neg)
        }
        b => (1, b == c),
    }
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] != b'*' {
            let (len, ok) = element(p, pi, s[si]);
            if ok {
                pi += len;
                si += 1;
                continue;
            }
        } else if pi < p.len() {
            star = Some(pi);
            mark = si;
            pi += 1;
            continue;
        }
        match star {
            Some(st) => {
                pi = st + 1;
                mark += 1;
                si = mark;
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Which subjects a rule or waiver applies to. Empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Subject kinds.
    pub kinds: Vec<SubjectKind>,
    /// Ecosystems (`deb`, `pypi`, `openstack`, `os` …).
    pub ecosystems: Vec<String>,
    /// Name globs (package, deliverable or product name).
    pub names: Vec<Glob>,
    /// Deliverable types (`service`, `library`, `client-library` …), for OpenStack subjects.
    pub deliverable_types: Vec<String>,
    /// purl globs.
    pub purls: Vec<Glob>,
    /// Node id globs.
    pub nodes: Vec<Glob>,
    /// Sites.
    pub sites: Vec<String>,
    /// Cells.
    pub cells: Vec<String>,
    /// Node labels that must all be present with these values.
    pub labels: BTreeMap<String, String>,
}

/// Facts about a subject a selector is matched against.
#[derive(Debug, Clone, Default)]
pub struct SubjectFacts<'a> {
    /// Kind.
    pub kind: Option<SubjectKind>,
    /// Ecosystem.
    pub ecosystem: &'a str,
    /// Name.
    pub name: &'a str,
    /// Deliverable type.
    pub deliverable_type: Option<&'a str>,
    /// purl.
    pub purl: Option<&'a str>,
    /// Node id.
    pub node: &'a str,
    /// Site.
    pub site: Option<&'a str>,
    /// Cell.
    pub cell: Option<&'a str>,
    /// Node labels.
    pub labels: Option<&'a BTreeMap<String, String>>,
}

impl Selector {
    /// Whether the subject is selected.
    pub fn matches(&self, f: &SubjectFacts<'_>) -> bool {
        (self.kinds.is_empty() || f.kind.is_some_and(|k| self.kinds.contains(&k)))
            && (self.ecosystems.is_empty()
                || self
                    .ecosystems
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(f.ecosystem)))
            && (self.names.is_empty() || self.names.iter().any(|g| g.matches(f.name)))
            && (self.deliverable_types.is_empty()
                || f.deliverable_type
                    .is_some_and(|t| self.deliverable_types.iter().any(|d| d == t)))
            && (self.purls.is_empty()
                || f.purl
                    .is_some_and(|p| self.purls.iter().any(|g| g.matches(p))))
            && (self.nodes.is_empty() || self.nodes.iter().any(|g| g.matches(f.node)))
            && (self.sites.is_empty() || f.site.is_some_and(|s| self.sites.iter().any(|x| x == s)))
            && (self.cells.is_empty() || f.cell.is_some_and(|s| self.cells.iter().any(|x| x == s)))
            && self
                .labels
                .iter()
                .all(|(k, v)| f.labels.and_then(|l| l.get(k)) == Some(v))
    }
}

/// Series-lag check (OpenStack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRule {
    /// Series allowed behind n (0 = n only, 1 = n or n-1).
    pub max_lag: u32,
    /// Also accept the newest SLURP older than n.
    pub allow_previous_slurp: bool,
    /// The deliverable's effective status must be maintained (not unmaintained / EOL).
    pub require_maintained: bool,
    /// Severity of `series-behind`.
    pub severity: Severity,
}

/// Patch currency within the installed series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRule {
    /// Require the latest point release of the series.
    pub require_latest: bool,
    /// Or allow up to this many days behind the latest release.
    pub max_days_behind: Option<u32>,
    /// Severity of `patch-behind`.
    pub severity: Severity,
}

/// Lifecycle check (endoflife.date products, OpenStack series end of life).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRule {
    /// An end-of-life cycle is a finding (`eol`).
    pub forbid_eol: bool,
    /// Look-ahead: `eol-soon` this many days before the end of life (0 = off).
    pub warn_days: u32,
    /// Severity of `eol`.
    pub severity: Severity,
    /// Which support of a distribution release counts as supported (`os_support`): for the
    /// OS's own lifecycle and for the distribution's packages, which follow it.
    pub os_support: OsSupport,
}

/// Which support of a distribution release (Debian's and Ubuntu's distro-info data) counts.
/// A level a release lacks falls back to the one below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum OsSupport {
    /// `regular`: the release's own security support (Debian's `eol`, Ubuntu's standard
    /// support).
    Regular,
    /// `lts` (default): Debian LTS (free, community-run, after the regular end); for Ubuntu
    /// the same as `regular` (its LTS releases' standard support).
    #[default]
    Lts,
    /// `elts` / `esm`: Debian ELTS or Ubuntu ESM (Ubuntu Pro), paid extended support.
    Extended,
}

impl std::str::FromStr for OsSupport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "regular" => Ok(Self::Regular),
            "lts" => Ok(Self::Lts),
            "elts" | "esm" => Ok(Self::Extended),
            other => Err(format!(
                "expected one of regular, lts, elts, esm; found `{other}`"
            )),
        }
    }
}

impl fmt::Display for OsSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Regular => "regular",
            Self::Lts => "lts",
            Self::Extended => "elts/esm",
        })
    }
}

/// Upper-constraints check: Python distributions installed beside an OpenStack service (same
/// site directory, not owned by the OS package manager) against the version the service's
/// series pins in openstack/requirements (`constraint-mismatch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintsRule {
    /// An installed version older than the pin is accepted.
    pub allow_older: bool,
    /// An installed version newer than the pin is accepted.
    pub allow_newer: bool,
    /// Severity of `constraint-mismatch`.
    pub severity: Severity,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Name (shown in evidence).
    pub name: String,
    /// Selector.
    pub select: Selector,
    /// Series lag.
    pub series: Option<SeriesRule>,
    /// Patch currency.
    pub patch: Option<PatchRule>,
    /// Lifecycle.
    pub lifecycle: Option<LifecycleRule>,
    /// A newer version available from the node's repositories is a finding.
    pub upgrades: Option<Severity>,
    /// Python dependencies against their series' upper-constraints.
    pub constraints: Option<ConstraintsRule>,
}

/// A waiver: suppresses matching findings until it expires; keeps them in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// Id.
    pub id: String,
    /// Finding codes (empty = any).
    pub codes: Vec<FindingCode>,
    /// Advisory ids (matched against id and aliases; empty = any).
    pub advisories: Vec<String>,
    /// Which subjects.
    pub select: Selector,
    /// Why.
    pub reason: String,
    /// Who.
    pub owner: String,
    /// Until (inclusive).
    pub expires: Date,
    /// Line in the policy file.
    pub line: Option<usize>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Name.
    pub name: String,
    /// File it came from.
    pub file: String,
    /// Rules, in order.
    pub rules: Vec<Rule>,
    /// The gate (`fail_on`).
    pub gate: Vec<GateTerm>,
    /// Maximum inventory age in hours (`inventory-stale`).
    pub max_inventory_age_hours: Option<u32>,
    /// Waivers.
    pub waivers: Vec<Waiver>,
}

impl Policy {
    /// The first rule that selects the subject and defines the check `pick` returns.
    pub fn rule_for<'a, T>(
        &'a self,
        f: &SubjectFacts<'_>,
        pick: impl Fn(&'a Rule) -> Option<&'a T>,
    ) -> Option<(&'a Rule, &'a T)> {
        self.rules.iter().find_map(|r| {
            if r.select.matches(f) {
                pick(r).map(|t| (r, t))
            } else {
                None
            }
        })
    }
}

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// File.
    pub file: String,
    /// Line, when known.
    pub line: Option<usize>,
    /// Field path (`rules[0].series.max_lag`).
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.path.is_empty()) {
            (Some(l), false) => write!(f, "{}:{}: {}: {}", self.file, l, self.path, self.message),
            (Some(l), true) => write!(f, "{}:{}: {}", self.file, l, self.message),
            (None, false) => write!(f, "{}: {}: {}", self.file, self.path, self.message),
            (None, true) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem of a policy file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct PolicyErrors(pub Vec<PolicyProblem>);

/// The shipped policies, by name.
pub(crate) const BUILTIN: [(&str, &str); 3] = [
    ("default", include_str!("../../policies/default.yaml")),
    (
        "openstack-n1",
        include_str!("../../policies/openstack-n1.yaml"),
    ),
    ("strict", include_str!("../../policies/strict.yaml")),
];

/// Load a policy: a shipped name (`default`, `openstack-n1`, `strict`) or a file path.
pub fn load(name_or_path: &str) -> Result<Policy, PolicyErrors> {
    if let Some((n, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("policies/{n}.yaml"));
    }
    let text = fs_err::read_to_string(Path::new(name_or_path)).map_err(|e| {
        let shipped: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no such file, and not a shipped policy (those are: {})",
                shipped.join(", ")
            )
        } else {
            e.to_string()
        };
        PolicyErrors(vec![PolicyProblem {
            file: name_or_path.to_owned(),
            line: None,
            path: String::new(),
            message,
        }])
    })?;
    parse(&text, name_or_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policies_are_valid() {
        for (n, text) in BUILTIN {
            let p = parse(text, n).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert!(!p.rules.is_empty(), "{n}");
        }
    }

    #[test]
    fn every_problem_at_once_with_lines() {
        let text = "version: 2\nname: x\nrules:\n  - name: a\n    select:\n      kinds: [openstack, vm]\n    series:\n      max_lag: -1\n      colour: red\n  - name: b\nwaivers:\n  - id: w1\n    codes: [vulnerable, nope]\n    reason: r\n    owner: o\n    expires: 2026-13-01\nfail_on: [banana]\n";
        let e = parse(text, "p.yaml").unwrap_err();
        let s = e.to_string();
        for want in [
            "p.yaml:1: version: expected 1, found 2",
            "p.yaml:6: rules[0].select.kinds[1]: unknown kind `vm`",
            "p.yaml:8: rules[0].series.max_lag: expected a whole number ≥ 0, found `-1`",
            "p.yaml:9: rules[0].series.colour: unknown key `colour`",
            "p.yaml:10: rules[1]: a rule must define at least one check",
            "p.yaml:13: waivers[0].codes[1]: unknown finding code `nope`",
            "p.yaml:16: waivers[0].expires: expected a date YYYY-MM-DD, found `2026-13-01`",
            "p.yaml:17: fail_on[0]: expected a severity",
        ] {
            assert!(s.contains(want), "missing {want:?} in:\n{s}");
        }
        assert_eq!(e.0.len(), 8, "{s}");
    }

    #[test]
    fn os_support_levels() {
        let rule = |v: &str| {
            format!("version: 1\nrules:\n  - name: l\n    select: {{kinds: [product]}}\n    lifecycle:\n      forbid_eol: true\n      os_support: {v}\n")
        };
        for (v, want) in [
            ("regular", OsSupport::Regular),
            ("lts", OsSupport::Lts),
            ("elts", OsSupport::Extended),
            ("ESM", OsSupport::Extended),
        ] {
            let p = parse(&rule(v), "p.yaml").unwrap();
            assert_eq!(
                p.rules[0].lifecycle.as_ref().unwrap().os_support,
                want,
                "{v}"
            );
        }
        let p = parse(
            "version: 1\nrules:\n  - name: l\n    lifecycle: {}\n",
            "p.yaml",
        )
        .unwrap();
        assert_eq!(
            p.rules[0].lifecycle.as_ref().unwrap().os_support,
            OsSupport::Lts
        );
        let e = parse(&rule("forever"), "p.yaml").unwrap_err().to_string();
        assert_eq!(
            e,
            "p.yaml:7: rules[0].lifecycle.os_support: expected one of regular, lts, elts, esm; found `forever`"
        );
    }

    #[test]
    fn constraints_check() {
        let ok = "version: 1\nrules:\n  - name: deps\n    select: {kinds: [package], ecosystems: [pypi]}\n    constraints: {allow_newer: true, severity: medium}\n  - name: all\n    constraints: {}\n";
        let p = parse(ok, "ok.yaml").unwrap();
        assert_eq!(
            p.rules[0].constraints,
            Some(ConstraintsRule {
                allow_older: false,
                allow_newer: true,
                severity: Severity::Medium
            })
        );
        assert_eq!(
            p.rules[1].constraints,
            Some(ConstraintsRule {
                allow_older: false,
                allow_newer: false,
                severity: Severity::Low
            })
        );
        let bad = "version: 1\nrules:\n  - name: a\n    constraints:\n      allow_older: true\n      allow_newer: true\n  - name: b\n    select: {kinds: [openstack]}\n    constraints: {severity: urgent}\n  - name: c\n    select: {ecosystems: [deb]}\n    constraints:\n      tested: yes\n  - name: d\n    constraints: true\n";
        let e = parse(bad, "bad.yaml").unwrap_err();
        let s = e.to_string();
        for want in [
            "bad.yaml:4: rules[0].constraints: expected at most one of `allow_older: true` and `allow_newer: true`, found both",
            "bad.yaml:9: rules[1].constraints.severity: expected a severity",
            "bad.yaml:9: rules[1].constraints: constraints judges Python packages (kind `package`)",
            "bad.yaml:12: rules[2].constraints: constraints judges Python packages (ecosystem `pypi`)",
            "bad.yaml:13: rules[2].constraints.tested: unknown key `tested`",
            "bad.yaml:15: rules[3].constraints: expected a mapping, found a boolean",
            "bad.yaml:14: rules[3]: a rule must define at least one check: series, patch, lifecycle, upgrades or constraints",
        ] {
            assert!(s.contains(want), "missing {want:?} in:\n{s}");
        }
        assert_eq!(e.0.len(), 7, "{s}");
    }

    #[test]
    fn globs_and_selectors() {
        assert!(Glob::new("oslo.*").matches("oslo.config"));
        assert!(Glob::new("python-*client").matches("python-novaclient"));
        assert!(!Glob::new("nova").matches("nova-compute"));
        assert!(Glob::new("n?va").matches("NOVA"));
        assert!(Glob::new("postgresql-[0-9]*").matches("postgresql-15"));
        assert!(!Glob::new("postgresql-[0-9]*").matches("postgresql-common"));
        assert!(Glob::new("python3.[0-9]*").matches("python3.11"));
        assert!(Glob::new("[!a]x").matches("bx") && !Glob::new("[!a]x").matches("ax"));
        assert!(Glob::new("a[").matches("a["));
        let mut labels = BTreeMap::new();
        labels.insert("role".to_owned(), "compute".to_owned());
        let s = Selector {
            sites: vec!["par1".into()],
            labels: labels.clone(),
            ..Selector::default()
        };
        let f = SubjectFacts {
            site: Some("par1"),
            labels: Some(&labels),
            ..SubjectFacts::default()
        };
        assert!(s.matches(&f));
        let f2 = SubjectFacts {
            site: Some("fra1"),
            labels: Some(&labels),
            ..SubjectFacts::default()
        };
        assert!(!s.matches(&f2));
    }
}
