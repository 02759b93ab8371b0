//! Policies (`policies/*.yaml`) → a validated [`Policy`]; waivers.
//!
//! A policy is a list of rules, each with a selector and the checks it applies (series lag,
//! lifecycle, patch currency, upgrades, upper-constraints), plus the gate, the maximum inventory age and waivers. Rules are
//! read in order; for each check, the first rule that selects a subject and defines that check
//! applies (so put specific rules first and catch-alls last). Validation reports every problem
//! at once, each with `file:line` and the field path. See `policies/default.yaml` (annotated)
//! and `docs/policies.md`.

mod yamlpath;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_yaml::Value;
use time::Date;

use crate::analyze::GateTerm;
use crate::model::{FindingCode, Severity};

pub use yamlpath::LineIndex;

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
pub const BUILTIN: [(&str, &str); 3] = [
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

struct Ctx<'a> {
    file: &'a str,
    lines: LineIndex,
    problems: Vec<PolicyProblem>,
}

impl Ctx<'_> {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.problems.push(PolicyProblem {
            file: self.file.to_owned(),
            line: self.lines.line(path),
            path: path.to_owned(),
            message: msg.into(),
        });
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Check a mapping's keys against the allowed set; returns the mapping.
fn mapping<'v>(
    c: &mut Ctx<'_>,
    v: &'v Value,
    path: &str,
    allowed: &[&str],
) -> Option<&'v serde_yaml::Mapping> {
    let Value::Mapping(m) = v else {
        c.err(path, format!("expected a mapping, found {}", kind_of(v)));
        return None;
    };
    for k in m.keys() {
        let ks = scalar_string(k).unwrap_or_default();
        if !allowed.contains(&ks.as_str()) {
            let p = if path.is_empty() {
                ks.clone()
            } else {
                format!("{path}.{ks}")
            };
            c.err(
                &p,
                format!("unknown key `{ks}`: expected one of {}", allowed.join(", ")),
            );
        }
    }
    Some(m)
}

fn get<'v>(m: &'v serde_yaml::Mapping, k: &str) -> Option<&'v Value> {
    m.get(Value::String(k.to_owned()))
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_owned()
    } else {
        format!("{path}.{k}")
    }
}

fn string_field(
    c: &mut Ctx<'_>,
    m: &serde_yaml::Mapping,
    path: &str,
    k: &str,
    required: bool,
) -> Option<String> {
    let p = join(path, k);
    match get(m, k) {
        None | Some(Value::Null) if required => {
            c.err(&p, "required: expected a string, found nothing");
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() && required => {
            c.err(&p, "expected a non-empty string, found an empty one");
            None
        }
        Some(v) => scalar_string(v).or_else(|| {
            c.err(&p, format!("expected a string, found {}", kind_of(v)));
            None
        }),
    }
}

fn bool_field(
    c: &mut Ctx<'_>,
    m: &serde_yaml::Mapping,
    path: &str,
    k: &str,
    default: bool,
) -> bool {
    match get(m, k) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            c.err(
                &join(path, k),
                format!("expected true or false, found {}", kind_of(v)),
            );
            default
        }
    }
}

fn u32_field(c: &mut Ctx<'_>, m: &serde_yaml::Mapping, path: &str, k: &str) -> Option<u32> {
    match get(m, k) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64().and_then(|x| u32::try_from(x).ok()) {
            Some(x) => Some(x),
            None => {
                c.err(
                    &join(path, k),
                    format!("expected a whole number ≥ 0, found `{n}`"),
                );
                None
            }
        },
        Some(v) => {
            c.err(
                &join(path, k),
                format!("expected a whole number, found {}", kind_of(v)),
            );
            None
        }
    }
}

fn severity_field(
    c: &mut Ctx<'_>,
    m: &serde_yaml::Mapping,
    path: &str,
    k: &str,
    default: Severity,
) -> Severity {
    match string_field(c, m, path, k, false) {
        None => default,
        Some(s) => Severity::parse_word(&s).unwrap_or_else(|| {
            c.err(
                &join(path, k),
                format!(
                    "expected a severity (none, unknown, low, medium, high, critical), found `{s}`"
                ),
            );
            default
        }),
    }
}

fn string_list(c: &mut Ctx<'_>, m: &serde_yaml::Mapping, path: &str, k: &str) -> Vec<String> {
    let p = join(path, k);
    match get(m, k) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                scalar_string(v).or_else(|| {
                    c.err(
                        &format!("{p}[{i}]"),
                        format!("expected a string, found {}", kind_of(v)),
                    );
                    None
                })
            })
            .collect(),
        Some(v) => match scalar_string(v) {
            Some(s) => vec![s],
            None => {
                c.err(
                    &p,
                    format!("expected a list of strings, found {}", kind_of(v)),
                );
                Vec::new()
            }
        },
    }
}

const SELECT_KEYS: [&str; 9] = [
    "kinds",
    "ecosystems",
    "names",
    "deliverable_types",
    "purls",
    "nodes",
    "sites",
    "cells",
    "labels",
];
const DELIVERABLE_TYPES: [&str; 7] = [
    "service",
    "library",
    "client-library",
    "horizon-plugin",
    "tempest-plugin",
    "trailing",
    "other",
];

fn selector(c: &mut Ctx<'_>, v: Option<&Value>, path: &str) -> Selector {
    let Some(v) = v else {
        return Selector::default();
    };
    let Some(m) = mapping(c, v, path, &SELECT_KEYS) else {
        return Selector::default();
    };
    let mut s = Selector::default();
    for (i, k) in string_list(c, m, path, "kinds").into_iter().enumerate() {
        match SubjectKind::parse(&k) {
            Some(x) => s.kinds.push(x),
            None => c.err(
                &format!("{path}.kinds[{i}]"),
                format!("unknown kind `{k}`: expected openstack, product or package"),
            ),
        }
    }
    s.ecosystems = string_list(c, m, path, "ecosystems");
    s.names = string_list(c, m, path, "names")
        .iter()
        .map(|g| Glob::new(g))
        .collect();
    for (i, t) in string_list(c, m, path, "deliverable_types")
        .into_iter()
        .enumerate()
    {
        if DELIVERABLE_TYPES.contains(&t.as_str()) {
            s.deliverable_types.push(t);
        } else {
            c.err(
                &format!("{path}.deliverable_types[{i}]"),
                format!(
                    "unknown deliverable type `{t}`: expected one of {}",
                    DELIVERABLE_TYPES.join(", ")
                ),
            );
        }
    }
    s.purls = string_list(c, m, path, "purls")
        .iter()
        .map(|g| Glob::new(g))
        .collect();
    s.nodes = string_list(c, m, path, "nodes")
        .iter()
        .map(|g| Glob::new(g))
        .collect();
    s.sites = string_list(c, m, path, "sites");
    s.cells = string_list(c, m, path, "cells");
    match get(m, "labels") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(lm)) => {
            for (k, v) in lm {
                match (scalar_string(k), scalar_string(v)) {
                    (Some(k), Some(v)) => {
                        s.labels.insert(k, v);
                    }
                    _ => c.err(
                        &format!("{path}.labels"),
                        "expected `key: value` pairs of strings",
                    ),
                }
            }
        }
        Some(v) => c.err(
            &format!("{path}.labels"),
            format!("expected a mapping of label: value, found {}", kind_of(v)),
        ),
    }
    s
}

/// `constraints: {allow_older, allow_newer, severity}`. The check judges Python packages, so a
/// selector whose `kinds` or `ecosystems` exclude `package` / `pypi` is an error (the check
/// would never apply), as is allowing both directions (it would never fire).
fn constraints_rule(
    c: &mut Ctx<'_>,
    v: &Value,
    path: &str,
    select: &Selector,
) -> Option<ConstraintsRule> {
    let m = mapping(c, v, path, &["allow_older", "allow_newer", "severity"])?;
    let r = ConstraintsRule {
        allow_older: bool_field(c, m, path, "allow_older", false),
        allow_newer: bool_field(c, m, path, "allow_newer", false),
        severity: severity_field(c, m, path, "severity", Severity::Low),
    };
    if r.allow_older && r.allow_newer {
        c.err(
            path,
            "expected at most one of `allow_older: true` and `allow_newer: true`, found both (the check would never fire)",
        );
    }
    if !select.kinds.is_empty() && !select.kinds.contains(&SubjectKind::Package) {
        c.err(
            path,
            "constraints judges Python packages (kind `package`), but this rule's `select.kinds` leaves them out",
        );
    }
    if !select.ecosystems.is_empty()
        && !select
            .ecosystems
            .iter()
            .any(|e| e.eq_ignore_ascii_case("pypi"))
    {
        c.err(
            path,
            "constraints judges Python packages (ecosystem `pypi`), but this rule's `select.ecosystems` leaves them out",
        );
    }
    Some(r)
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// Parse and validate a policy document. Every problem is reported at once.
pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyErrors> {
    if let Some(line) = crate::util::yaml::too_deep(text) {
        return Err(PolicyErrors(vec![PolicyProblem {
            file: file.to_owned(),
            line: Some(line),
            path: String::new(),
            message: crate::util::yaml::nesting_message(),
        }]));
    }
    let mut c = Ctx {
        file,
        lines: LineIndex::new(text),
        problems: Vec::new(),
    };
    let doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(PolicyErrors(vec![PolicyProblem {
                file: file.to_owned(),
                line: e.location().map(|l| l.line()),
                path: String::new(),
                message: format!("not valid YAML: {e}"),
            }]))
        }
    };
    let top = [
        "version",
        "name",
        "description",
        "fail_on",
        "inventory",
        "rules",
        "waivers",
    ];
    let Some(m) = mapping(&mut c, &doc, "", &top) else {
        return Err(PolicyErrors(c.problems));
    };
    match get(m, "version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(v) => c.err(
            "version",
            format!(
                "expected 1, found {}",
                scalar_string(v).unwrap_or_else(|| kind_of(v).to_owned())
            ),
        ),
        None => c.err("version", "required: expected `version: 1`"),
    }
    let name = string_field(&mut c, m, "", "name", false).unwrap_or_else(|| file.to_owned());
    let _ = string_field(&mut c, m, "", "description", false);
    let mut gate = Vec::new();
    for (i, g) in string_list(&mut c, m, "", "fail_on")
        .into_iter()
        .enumerate()
    {
        match g.parse::<GateTerm>() {
            Ok(t) => gate.push(t),
            Err(e) => c.err(&format!("fail_on[{i}]"), e),
        }
    }
    let mut max_inventory_age_hours = None;
    if let Some(v) = get(m, "inventory") {
        if let Some(im) = mapping(&mut c, v, "inventory", &["max_age_hours"]) {
            max_inventory_age_hours = u32_field(&mut c, im, "inventory", "max_age_hours");
        }
    }
    let mut rules = Vec::new();
    match get(m, "rules") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("rules[{i}]");
                let Some(rm) = mapping(
                    &mut c,
                    v,
                    &p,
                    &[
                        "name",
                        "select",
                        "series",
                        "patch",
                        "lifecycle",
                        "upgrades",
                        "constraints",
                    ],
                ) else {
                    continue;
                };
                let name = string_field(&mut c, rm, &p, "name", true).unwrap_or_default();
                let select = selector(&mut c, get(rm, "select"), &format!("{p}.select"));
                let series = get(rm, "series").and_then(|v| {
                    let sp = format!("{p}.series");
                    let sm = mapping(
                        &mut c,
                        v,
                        &sp,
                        &[
                            "max_lag",
                            "allow_previous_slurp",
                            "require_maintained",
                            "severity",
                        ],
                    )?;
                    Some(SeriesRule {
                        max_lag: u32_field(&mut c, sm, &sp, "max_lag").unwrap_or(1),
                        allow_previous_slurp: bool_field(
                            &mut c,
                            sm,
                            &sp,
                            "allow_previous_slurp",
                            false,
                        ),
                        require_maintained: bool_field(&mut c, sm, &sp, "require_maintained", true),
                        severity: severity_field(&mut c, sm, &sp, "severity", Severity::Medium),
                    })
                });
                let patch = get(rm, "patch").and_then(|v| {
                    let pp = format!("{p}.patch");
                    let pm = mapping(&mut c, v, &pp, &["require_latest", "max_days_behind", "severity"])?;
                    let r = PatchRule {
                        require_latest: bool_field(&mut c, pm, &pp, "require_latest", false),
                        max_days_behind: u32_field(&mut c, pm, &pp, "max_days_behind"),
                        severity: severity_field(&mut c, pm, &pp, "severity", Severity::Low),
                    };
                    if !r.require_latest && r.max_days_behind.is_none() {
                        c.err(&pp, "expected `require_latest: true` or `max_days_behind: N`, found neither (the check would never fire)");
                    }
                    Some(r)
                });
                let lifecycle = get(rm, "lifecycle").and_then(|v| {
                    let lp = format!("{p}.lifecycle");
                    let lm = mapping(&mut c, v, &lp, &["forbid_eol", "warn_days", "severity"])?;
                    Some(LifecycleRule {
                        forbid_eol: bool_field(&mut c, lm, &lp, "forbid_eol", true),
                        warn_days: u32_field(&mut c, lm, &lp, "warn_days").unwrap_or(0),
                        severity: severity_field(&mut c, lm, &lp, "severity", Severity::High),
                    })
                });
                let upgrades = get(rm, "upgrades").and_then(|v| {
                    let up = format!("{p}.upgrades");
                    let um = mapping(&mut c, v, &up, &["severity"])?;
                    Some(severity_field(&mut c, um, &up, "severity", Severity::Low))
                });
                let constraints = get(rm, "constraints").and_then(|v| {
                    constraints_rule(&mut c, v, &format!("{p}.constraints"), &select)
                });
                if series.is_none()
                    && patch.is_none()
                    && lifecycle.is_none()
                    && upgrades.is_none()
                    && constraints.is_none()
                {
                    c.err(&p, "a rule must define at least one check: series, patch, lifecycle, upgrades or constraints");
                }
                rules.push(Rule {
                    name,
                    select,
                    series,
                    patch,
                    lifecycle,
                    upgrades,
                    constraints,
                });
            }
        }
        Some(v) => c.err(
            "rules",
            format!("expected a list of rules, found {}", kind_of(v)),
        ),
    }
    let mut waivers = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    match get(m, "waivers") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("waivers[{i}]");
                let Some(wm) = mapping(
                    &mut c,
                    v,
                    &p,
                    &[
                        "id",
                        "codes",
                        "advisories",
                        "select",
                        "reason",
                        "owner",
                        "expires",
                    ],
                ) else {
                    continue;
                };
                let id = string_field(&mut c, wm, &p, "id", true).unwrap_or_default();
                if !id.is_empty() && !ids.insert(id.clone()) {
                    c.err(
                        &format!("{p}.id"),
                        format!("waiver id `{id}` is used twice"),
                    );
                }
                let mut codes = Vec::new();
                for (j, s) in string_list(&mut c, wm, &p, "codes").into_iter().enumerate() {
                    match s.parse::<FindingCode>() {
                        Ok(x) => codes.push(x),
                        Err(e) => c.err(&format!("{p}.codes[{j}]"), e),
                    }
                }
                let advisories = string_list(&mut c, wm, &p, "advisories");
                let select = selector(&mut c, get(wm, "select"), &format!("{p}.select"));
                let reason = string_field(&mut c, wm, &p, "reason", true).unwrap_or_default();
                let owner = string_field(&mut c, wm, &p, "owner", true).unwrap_or_default();
                let expires = match string_field(&mut c, wm, &p, "expires", true) {
                    Some(s) => parse_date(&s).unwrap_or_else(|| {
                        c.err(
                            &format!("{p}.expires"),
                            format!("expected a date YYYY-MM-DD, found `{s}`"),
                        );
                        Date::MIN
                    }),
                    None => Date::MIN,
                };
                if codes.is_empty() && advisories.is_empty() && select == Selector::default() {
                    c.err(
                        &p,
                        "a waiver must say what it waives: codes, advisories or select",
                    );
                }
                waivers.push(Waiver {
                    id,
                    codes,
                    advisories,
                    select,
                    reason,
                    owner,
                    expires,
                    line: c.lines.line(&p),
                });
            }
        }
        Some(v) => c.err(
            "waivers",
            format!("expected a list of waivers, found {}", kind_of(v)),
        ),
    }
    if !c.problems.is_empty() {
        return Err(PolicyErrors(c.problems));
    }
    Ok(Policy {
        name,
        file: file.to_owned(),
        rules,
        gate,
        max_inventory_age_hours,
        waivers,
    })
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
