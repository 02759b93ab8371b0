//! Parsing and validation of a policy document: every problem at once, each with `file:line`
//! and the field path.

use serde_yaml::Value;
use time::Date;

use super::*;

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
    let rules = list(&mut c, m, "rules", "rules", rule);
    let waivers = waivers(&mut c, m);
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

/// The items of the list under `key`, each read by `item` (given its field path, `key[i]`);
/// a missing or null list is empty.
fn list<T>(
    c: &mut Ctx<'_>,
    m: &serde_yaml::Mapping,
    key: &str,
    what: &str,
    mut item: impl FnMut(&mut Ctx<'_>, &Value, &str) -> Option<T>,
) -> Vec<T> {
    match get(m, key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| item(c, v, &format!("{key}[{i}]")))
            .collect(),
        Some(v) => {
            c.err(
                key,
                format!("expected a list of {what}, found {}", kind_of(v)),
            );
            Vec::new()
        }
    }
}

const RULE_KEYS: [&str; 7] = [
    "name",
    "select",
    "series",
    "patch",
    "lifecycle",
    "upgrades",
    "constraints",
];

fn rule(c: &mut Ctx<'_>, v: &Value, p: &str) -> Option<Rule> {
    let rm = mapping(c, v, p, &RULE_KEYS)?;
    let name = string_field(c, rm, p, "name", true).unwrap_or_default();
    let select = selector(c, get(rm, "select"), &format!("{p}.select"));
    let series = get(rm, "series").and_then(|v| series_rule(c, v, &format!("{p}.series")));
    let patch = get(rm, "patch").and_then(|v| patch_rule(c, v, &format!("{p}.patch")));
    let lifecycle =
        get(rm, "lifecycle").and_then(|v| lifecycle_rule(c, v, &format!("{p}.lifecycle")));
    let upgrades = get(rm, "upgrades").and_then(|v| {
        let up = format!("{p}.upgrades");
        let um = mapping(c, v, &up, &["severity"])?;
        Some(severity_field(c, um, &up, "severity", Severity::Low))
    });
    let constraints = get(rm, "constraints")
        .and_then(|v| constraints_rule(c, v, &format!("{p}.constraints"), &select));
    if series.is_none()
        && patch.is_none()
        && lifecycle.is_none()
        && upgrades.is_none()
        && constraints.is_none()
    {
        c.err(p, "a rule must define at least one check: series, patch, lifecycle, upgrades or constraints");
    }
    Some(Rule {
        name,
        select,
        series,
        patch,
        lifecycle,
        upgrades,
        constraints,
    })
}

fn series_rule(c: &mut Ctx<'_>, v: &Value, sp: &str) -> Option<SeriesRule> {
    let keys = [
        "max_lag",
        "allow_previous_slurp",
        "require_maintained",
        "severity",
    ];
    let sm = mapping(c, v, sp, &keys)?;
    Some(SeriesRule {
        max_lag: u32_field(c, sm, sp, "max_lag").unwrap_or(1),
        allow_previous_slurp: bool_field(c, sm, sp, "allow_previous_slurp", false),
        require_maintained: bool_field(c, sm, sp, "require_maintained", true),
        severity: severity_field(c, sm, sp, "severity", Severity::Medium),
    })
}

fn patch_rule(c: &mut Ctx<'_>, v: &Value, pp: &str) -> Option<PatchRule> {
    let pm = mapping(c, v, pp, &["require_latest", "max_days_behind", "severity"])?;
    let r = PatchRule {
        require_latest: bool_field(c, pm, pp, "require_latest", false),
        max_days_behind: u32_field(c, pm, pp, "max_days_behind"),
        severity: severity_field(c, pm, pp, "severity", Severity::Low),
    };
    if !r.require_latest && r.max_days_behind.is_none() {
        c.err(pp, "expected `require_latest: true` or `max_days_behind: N`, found neither (the check would never fire)");
    }
    Some(r)
}

fn lifecycle_rule(c: &mut Ctx<'_>, v: &Value, lp: &str) -> Option<LifecycleRule> {
    let keys = ["forbid_eol", "warn_days", "severity", "os_support"];
    let lm = mapping(c, v, lp, &keys)?;
    let os_support = match string_field(c, lm, lp, "os_support", false) {
        None => OsSupport::default(),
        Some(s) => s.parse::<OsSupport>().unwrap_or_else(|e| {
            c.err(&join(lp, "os_support"), e);
            OsSupport::default()
        }),
    };
    Some(LifecycleRule {
        forbid_eol: bool_field(c, lm, lp, "forbid_eol", true),
        warn_days: u32_field(c, lm, lp, "warn_days").unwrap_or(0),
        severity: severity_field(c, lm, lp, "severity", Severity::High),
        os_support,
    })
}

fn waivers(c: &mut Ctx<'_>, m: &serde_yaml::Mapping) -> Vec<Waiver> {
    let mut ids = std::collections::BTreeSet::new();
    list(c, m, "waivers", "waivers", |c, v, p| {
        let w = waiver(c, v, p)?;
        if !w.id.is_empty() && !ids.insert(w.id.clone()) {
            c.err(
                &format!("{p}.id"),
                format!("waiver id `{}` is used twice", w.id),
            );
        }
        Some(w)
    })
}

const WAIVER_KEYS: [&str; 7] = [
    "id",
    "codes",
    "advisories",
    "select",
    "reason",
    "owner",
    "expires",
];

fn waiver(c: &mut Ctx<'_>, v: &Value, p: &str) -> Option<Waiver> {
    let wm = mapping(c, v, p, &WAIVER_KEYS)?;
    let id = string_field(c, wm, p, "id", true).unwrap_or_default();
    let mut codes = Vec::new();
    for (j, s) in string_list(c, wm, p, "codes").into_iter().enumerate() {
        match s.parse::<FindingCode>() {
            Ok(x) => codes.push(x),
            Err(e) => c.err(&format!("{p}.codes[{j}]"), e),
        }
    }
    let advisories = string_list(c, wm, p, "advisories");
    let select = selector(c, get(wm, "select"), &format!("{p}.select"));
    let reason = string_field(c, wm, p, "reason", true).unwrap_or_default();
    let owner = string_field(c, wm, p, "owner", true).unwrap_or_default();
    let expires = match string_field(c, wm, p, "expires", true) {
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
            p,
            "a waiver must say what it waives: codes, advisories or select",
        );
    }
    Some(Waiver {
        id,
        codes,
        advisories,
        select,
        reason,
        owner,
        expires,
        line: c.lines.line(p),
    })
}
