//! OpenStack Security Advisories (<https://security.openstack.org>): the `openstack/ossa`
//! repository's `ossa/OSSA-*.yaml` (any `*.yaml` under the feed folder is read).
//!
//! One OSSA file → one [`Advisory`]: `title` → summary, `vulnerabilities[].cve-id` → aliases
//! (text after the id, as in `CVE-2016-0737 (client to proxy)`, is dropped; placeholders such as
//! `CVE-2026-pending` are not ids and are left out), the worst `impact-assessment.rating` →
//! severity and its CVSS v2 vector → `cvss` (only the 2011–2014 advisories have one), `date` →
//! published, the newest `errata_history` date → modified, URL
//! `https://security.openstack.org/ossa/<id>.html`.
//!
//! Each `affected-products[]` entry → one [`Affected`] with ecosystem `OpenStack`, package the
//! deliverable name in lower case (`Nova` → `nova`), ranges [`AffectedRanges::Pep440AnyOf`]
//! holding the version text as [`normalize_version`] rewrites it, and fixed versions the `<`
//! bounds. A version text that cannot be read is a [`ProblemKind::VersionUnparseable`] problem
//! with the reason, and that product is left out (the advisory still loads, with its CVE
//! aliases); the free-text ranges of the early advisories (`All versions`, `Essex, Folsom`,
//! `up to 2013.2.3, and 2014.1 to 2014.1.1`) are such cases: they name series that ended years
//! ago and are not guessed at.
//!
//! ## Recovery rules
//!
//! The version strings are written by hand. [`normalize_version`] repairs only forms whose
//! meaning is unambiguous; each rule names the advisories that need it ([`Rule`]):
//!
//! | rule | example | advisories |
//! | --- | --- | --- |
//! | [`Rule::AndSeparator`] | `<=5.0.3, >=6.0.0 <=6.1.0 and ==7.0.0` | OSSA-2016-013 |
//! | [`Rule::GluedSpecifiers`] | `<17.0.12,>=18.0.0<18.2.2` | OSSA-2019-003, OSSA-2019-004, OSSA-2020-001 |
//! | [`Rule::BareVersion`] | `>=1.15.0<1.15.2, 1.16.0` | OSSA-2019-004 |
//! | [`Rule::SingleEquals`] | `<16.3.3, >=17.0.0 <17.1.3, =18.0.0` | OSSA-2021-001 |
//! | [`Rule::SplitRange`] | `<=2014.2.3, >=2015.1.0, <=2015.1.1` | OSSA-2015-019, OSSA-2015-020, OSSA-2015-021, OSSA-2024-004, OSSA-2025-001 |
//! | per-product versions ([`split_products`], before the rules) | product `Cinder, Glance, Nova`, version `Cinder <19.1.2, …; Glance …; Nova …` | OSSA-2023-002 |

use std::cmp::Ordering;
use std::path::Path;

use serde::Deserialize;

use super::{
    max_severity, nullable, one_line, push_unique, walk, AdvisorySource, FeedFile, Loaded, Scalar,
    SourceError, TapField,
};
use crate::model::{
    Advisory, AdvisoryKind, Affected, AffectedRanges, Problem, ProblemKind, Severity,
};
use crate::version::pep440::Pep440;
use crate::version::range::Pep440AnyOf;
use crate::version::VersionScheme;

/// The `ossa` feed reader.
#[derive(Debug, Clone)]
pub(crate) struct OssaSource {
    name: String,
}

impl OssaSource {
    /// A reader whose advisories carry feed name `name`.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl AdvisorySource for OssaSource {
    fn kind(&self) -> &'static str {
        "ossa"
    }

    fn load(&self, dir: &Path) -> Result<Loaded, SourceError> {
        let mut out = Loaded::default();
        let files = walk(
            dir,
            |f| matches!(f.ext().as_str(), "yaml" | "yml"),
            &mut out.problems,
        )?;
        for f in &files {
            let (adv, problems) = load_file(f, &self.name);
            out.advisories.extend(adv);
            out.problems.extend(problems);
        }
        Ok(out)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OssaWire {
    id: String,
    date: Option<String>,
    title: String,
    #[serde(rename = "affected-products", deserialize_with = "nullable")]
    affected_products: Vec<ProductWire>,
    #[serde(deserialize_with = "nullable")]
    vulnerabilities: Vec<VulnWire>,
    #[serde(deserialize_with = "nullable")]
    errata_history: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProductWire {
    product: String,
    version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VulnWire {
    #[serde(rename = "cve-id")]
    cve_id: String,
    #[serde(rename = "impact-assessment")]
    impact: Option<ImpactWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ImpactWire {
    rating: Option<String>,
    assessment: Option<AssessmentWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AssessmentWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    score: Option<Scalar>,
    detail: Option<String>,
}

fn load_file(f: &FeedFile, source: &str) -> (Option<Advisory>, Vec<Problem>) {
    let text = match f.read() {
        Ok(t) => t,
        Err(p) => return (None, vec![p]),
    };
    let w: OssaWire = match super::from_yaml(f, "an OSSA document (a YAML mapping)", &text) {
        Ok(w) => w,
        Err(p) => return (None, vec![p]),
    };
    let mut problems = Vec::new();
    let id = w.id.trim().to_owned();
    if id.is_empty() {
        problems.push(
            f.problem(
                ProblemKind::Malformed,
                "expected an `id` such as `OSSA-2026-012`, found none",
            )
            .tap_field("id"),
        );
        return (None, problems);
    }
    let mut aliases = Vec::new();
    let mut severity = None;
    let mut cvss = None;
    for v in &w.vulnerabilities {
        if let Some(cve) = v.cve_id.split_whitespace().next().filter(|c| is_cve(c)) {
            push_unique(&mut aliases, cve);
        }
        if let Some(imp) = &v.impact {
            severity = max_severity(
                severity,
                imp.rating.as_deref().and_then(Severity::parse_word),
            );
            if let Some(a) = &imp.assessment {
                if cvss.is_none() {
                    cvss = match (a.kind.as_deref(), &a.detail, &a.score) {
                        (Some(k), Some(d), _) if k.eq_ignore_ascii_case("CVSS2") => {
                            Some(format!("CVSS:2.0/{d}"))
                        }
                        (_, Some(d), _) => Some(d.clone()),
                        (_, None, Some(s)) => Some(s.text()),
                        _ => None,
                    };
                }
            }
        }
    }
    let mut affected = Vec::new();
    for (pi, p) in w.affected_products.iter().enumerate() {
        let field = format!("affected-products[{pi}].version");
        let parts = match split_products(&p.product, &p.version) {
            Ok(parts) => parts,
            Err(reason) => {
                problems.push(
                    f.problem(ProblemKind::VersionUnparseable, format!("{id}: {reason}"))
                        .tap_field(field),
                );
                continue;
            }
        };
        for (deliverable, version) in parts {
            if deliverable.is_empty() {
                problems.push(
                    f.problem(
                        ProblemKind::Malformed,
                        format!("{id}: expected a product name, found none"),
                    )
                    .tap_field(format!("affected-products[{pi}].product")),
                );
                continue;
            }
            match normalize_version(&version) {
                Ok(n) => affected.push(Affected {
                    ecosystem: "OpenStack".to_owned(),
                    package: deliverable,
                    ranges: AffectedRanges::Pep440AnyOf { spec: n.spec },
                    fixed: n.fixed,
                }),
                // Before 2016 every OpenStack project still numbered its releases by date, so
                // an early advisory's free text (`All versions`, `Essex, Folsom`) can only be
                // about the date era: it is read as exactly that, never as every version.
                Err(_) if date_era_advisory(&id, w.date.as_deref()) => affected.push(Affected {
                    ecosystem: "OpenStack".to_owned(),
                    package: deliverable,
                    ranges: AffectedRanges::OpenStackDateEra {
                        text: one_line(&version),
                        through_year: published_year(&id, w.date.as_deref()),
                    },
                    fixed: Vec::new(),
                }),
                Err(reason) => problems.push(
                    f.problem(
                        ProblemKind::VersionUnparseable,
                        format!("{id} ({deliverable}): {reason}"),
                    )
                    .tap_field(field.clone()),
                ),
            }
        }
    }
    let modified = w
        .errata_history
        .iter()
        .filter_map(|e| e.split_whitespace().next())
        .filter(|d| d.len() == 10 && d.as_bytes()[4] == b'-')
        .max()
        .map(str::to_owned);
    let adv = Advisory {
        url: Some(format!("https://security.openstack.org/ossa/{id}.html")),
        id,
        aliases,
        source: source.to_owned(),
        kind: AdvisoryKind::Vulnerability,
        summary: one_line(&w.title),
        severity,
        cvss,
        affected,
        published: w.date.filter(|d| !d.trim().is_empty()),
        modified,
        withdrawn: None,
        file: f.rel.clone(),
    };
    (Some(adv), problems)
}

/// Whether an advisory was published before the projects left date numbering (Liberty,
/// October 2015; the first advisory of 2016 is the first that can only be about semantic
/// versions): by its `date`, else the year in its id (`OSSA-2014-015`).
fn date_era_advisory(id: &str, date: Option<&str>) -> bool {
    published_year(id, date).is_some_and(|y| y < 2016)
}

/// The year an advisory was published: its `date`, else the year in its id.
fn published_year(id: &str, date: Option<&str>) -> Option<u64> {
    let year = |s: &str| s.get(..4).and_then(|y| y.parse::<u64>().ok());
    date.map(str::trim)
        .and_then(year)
        .or_else(|| id.strip_prefix("OSSA-").and_then(year))
}

fn is_cve(s: &str) -> bool {
    let mut p = s.splitn(3, '-');
    p.next() == Some("CVE")
        && p.next()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        && p.next()
            .is_some_and(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Why an OSSA's `affected-products[]` entry gives no version range (the message names the
/// text; the caller adds the advisory, file and field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OssaVersionError {
    /// An empty version text.
    #[error("expected PEP 440 ranges such as `>=17.0.0 <26.1.7, >=27.0.0 <29.0.6`, found an empty version")]
    Empty,
    /// Words, not ranges.
    #[error("free text `{0}` is not a version range: expected PEP 440 ranges such as `>=17.0.0 <26.1.7, >=27.0.0 <29.0.6`")]
    FreeText(String),
    /// A version without any operator.
    #[error("bare version `{0}` without an operator: ambiguous (that release, or its whole series?); expected `==`, `<`, `>=` … ranges")]
    BareVersion(String),
    /// An operator PEP 440 does not have.
    #[error("unknown operator `{op}` in `{text}`: expected one of ==, !=, <, <=, >, >=, ~=, ===")]
    UnknownOperator {
        /// The operator.
        op: String,
        /// The version text.
        text: String,
    },
    /// An operator without a version after it.
    #[error("expected a version after `{op}` in `{text}`, found nothing")]
    NoVersion {
        /// The operator.
        op: String,
        /// The version text.
        text: String,
    },
    /// The rewritten ranges do not read as PEP 440.
    #[error("`{text}`: {source}")]
    Ranges {
        /// The version text.
        text: String,
        /// Why.
        source: crate::version::VersionError,
    },
    /// A product list whose version text does not give one part per product.
    #[error("product list `{product}` needs one `Name <ranges>` part per product in the version, separated by `;`; found {found}")]
    ProductList {
        /// The product list.
        product: String,
        /// What was found instead (a part, or how many of how many).
        found: String,
    },
}

/// Deliverables and their version texts: one product, or (OSSA-2023-002) a comma-separated
/// product list whose version text gives `Name <ranges>` per product, separated by `;`.
fn split_products(product: &str, version: &str) -> Result<Vec<(String, String)>, OssaVersionError> {
    let names: Vec<String> = product
        .split(',')
        .map(|n| n.trim().to_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() <= 1 {
        return Ok(vec![(
            names.into_iter().next().unwrap_or_default(),
            version.to_owned(),
        )]);
    }
    let segments: Vec<&str> = version
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = Vec::new();
    for seg in &segments {
        let (head, rest) = seg.split_once(char::is_whitespace).unwrap_or((seg, ""));
        let head = head.to_lowercase();
        if !names.contains(&head) || out.iter().any(|(n, _)| n == &head) {
            return Err(OssaVersionError::ProductList {
                product: product.to_owned(),
                found: format!("`{seg}`"),
            });
        }
        out.push((head, rest.trim().to_owned()));
    }
    if out.len() != names.len() {
        return Err(OssaVersionError::ProductList {
            product: product.to_owned(),
            found: format!("{} of {}", out.len(), names.len()),
        });
    }
    Ok(out)
}

/// A recovery applied to an OSSA version text (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `and` between specifiers separates alternatives, like a comma (the intersection would
    /// be empty): OSSA-2016-013 `<=5.0.3, >=6.0.0 <=6.1.0 and ==7.0.0`.
    AndSeparator,
    /// A specifier glued to the previous version gets its blank back: OSSA-2019-003 and
    /// OSSA-2020-001 `>=18.0.0<18.2.2`, OSSA-2019-004 `>=1.15.0<1.15.2`.
    GluedSpecifiers,
    /// A full `X.Y.Z` version alone as an alternative, in a text that otherwise uses
    /// operators, means that release: OSSA-2019-004 `…, 1.16.0` → `==1.16.0`. A text without
    /// any operator (OSSA-2014-015 `2014.1`: that release, or the 2014.1 series?) is not read.
    BareVersion,
    /// `=X` means `==X`: OSSA-2021-001 `=18.0.0`.
    SingleEquals,
    /// A lone lower bound followed by a lone, higher upper bound is one range, not two (read
    /// as two, their union would be every version): OSSA-2015-019/020/021
    /// `<=2014.2.3, >=2015.1.0, <=2015.1.1`, OSSA-2024-004 `…, >=25.0.0, <26.1.0`,
    /// OSSA-2025-001 `…, >=27.0.0, <29.0.1`.
    SplitRange,
}

/// An OSSA version text rewritten into the form [`Pep440AnyOf`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normalized {
    /// `>=17.0.0 <26.1.7, >=27.0.0 <29.0.6`: alternatives separated by `, `.
    pub spec: String,
    /// The `<` bounds: the first fixed version of each series.
    pub fixed: Vec<String>,
    /// Recovery rules applied.
    pub rules: Vec<Rule>,
}

const OPS: [&str; 8] = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!' | '~')
}

/// Rewrite an OSSA `affected-products[].version` text into [`Pep440AnyOf`] form, repairing the
/// unambiguous sloppy forms listed under [`Rule`]; `Err` says why the text cannot be read.
pub(crate) fn normalize_version(raw: &str) -> Result<Normalized, OssaVersionError> {
    let mut rules = Vec::new();
    let text = raw.trim();
    if text.is_empty() {
        return Err(OssaVersionError::Empty);
    }
    let has_op = text.chars().any(is_op_char);
    let free_text = || OssaVersionError::FreeText(text.to_owned());
    if !has_op {
        if text.chars().next().is_some_and(|c| c.is_ascii_digit())
            && !text.contains(char::is_whitespace)
        {
            return Err(OssaVersionError::BareVersion(text.to_owned()));
        }
        return Err(free_text());
    }
    // Rule: `and` as a separator.
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = if words.contains(&"and") {
        rules.push(Rule::AndSeparator);
        words
            .iter()
            .map(|w| if *w == "and" { "," } else { w })
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        text.to_owned()
    };
    let mut alts: Vec<Vec<(String, String)>> = Vec::new();
    for alt in joined.split(',') {
        let alt = alt.trim();
        if alt.is_empty() {
            continue;
        }
        // Rule: glued specifiers get a blank before the operator.
        let mut spaced = String::with_capacity(alt.len() + 4);
        let mut prev: Option<char> = None;
        for c in alt.chars() {
            if is_op_char(c) && prev.is_some_and(|p| !is_op_char(p) && !p.is_whitespace()) {
                spaced.push(' ');
                if !rules.contains(&Rule::GluedSpecifiers) {
                    rules.push(Rule::GluedSpecifiers);
                }
            }
            spaced.push(c);
            prev = Some(c);
        }
        let mut specs: Vec<(String, String)> = Vec::new();
        let mut pending = String::new();
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        for tok in &tokens {
            pending.push_str(tok);
            if tok.chars().all(is_op_char) {
                continue;
            }
            let op_len = pending.chars().take_while(|c| is_op_char(*c)).count();
            let (op, ver) = pending.split_at(op_len);
            let op = match op {
                "" => {
                    // Rule: a bare full release alone in its alternative.
                    if is_full_release(ver) && tokens.len() == 1 {
                        rules.push(Rule::BareVersion);
                        "=="
                    } else {
                        return Err(free_text());
                    }
                }
                "=" => {
                    rules.push(Rule::SingleEquals);
                    "=="
                }
                o if OPS.contains(&o) => o,
                o => {
                    return Err(OssaVersionError::UnknownOperator {
                        op: o.to_owned(),
                        text: text.to_owned(),
                    })
                }
            };
            if ver.is_empty() {
                return Err(OssaVersionError::NoVersion {
                    op: op.to_owned(),
                    text: text.to_owned(),
                });
            }
            specs.push((op.to_owned(), ver.to_owned()));
            pending.clear();
        }
        if !pending.is_empty() {
            return Err(OssaVersionError::NoVersion {
                op: pending,
                text: text.to_owned(),
            });
        }
        alts.push(specs);
    }
    // Rule: a lone lower bound and a lone higher upper bound are one range.
    let mut merged: Vec<Vec<(String, String)>> = Vec::new();
    let mut i = 0;
    while i < alts.len() {
        if let Some(next) = alts.get(i + 1) {
            if only(&alts[i], &[">=", ">"]) && only(next, &["<", "<="]) && below(&alts[i], next) {
                let mut m = alts[i].clone();
                m.extend(next.iter().cloned());
                merged.push(m);
                if !rules.contains(&Rule::SplitRange) {
                    rules.push(Rule::SplitRange);
                }
                i += 2;
                continue;
            }
        }
        merged.push(alts[i].clone());
        i += 1;
    }
    let spec = merged
        .iter()
        .map(|a| {
            a.iter()
                .map(|(o, v)| format!("{o}{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(", ");
    Pep440AnyOf::parse(&spec).map_err(|source| OssaVersionError::Ranges {
        text: text.to_owned(),
        source,
    })?;
    let mut fixed = Vec::new();
    for (o, v) in merged.iter().flatten() {
        if o == "<" {
            push_unique(&mut fixed, v);
        }
    }
    Ok(Normalized { spec, fixed, rules })
}

/// `X.Y.Z` (or longer), digits only.
fn is_full_release(v: &str) -> bool {
    v.split('.').count() >= 3
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn only(specs: &[(String, String)], ops: &[&str]) -> bool {
    !specs.is_empty() && specs.iter().all(|(o, _)| ops.contains(&o.as_str()))
}

/// Every lower bound of `lo` is below every upper bound of `hi` (PEP 440 order).
fn below(lo: &[(String, String)], hi: &[(String, String)]) -> bool {
    lo.iter().all(|(_, l)| {
        hi.iter()
            .all(|(_, h)| match (Pep440::parse(l), Pep440::parse(h)) {
                (Ok(a), Ok(b)) => Pep440::compare(&a, &b) == Ordering::Less,
                _ => false,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, shared};
    use super::*;
    use crate::version::pep440::Pep440Version;
    use proptest::prelude::*;

    fn pv(s: &str) -> Pep440Version {
        Pep440::parse(s).unwrap()
    }

    fn contains(spec: &str, v: &str) -> bool {
        Pep440AnyOf::parse(spec).unwrap().contains(&pv(v))
    }

    /// Free-text and otherwise unreadable version texts in the real OSSA archive, as observed:
    /// `OSSA id (deliverable)`, 127 product entries of 117 advisories, all from
    /// OSSA-2011-001 to OSSA-2015-018 (before the VMT wrote PEP 440 ranges). Each is read as
    /// the date era ([`AffectedRanges::OpenStackDateEra`]); everything else loads as ranges.
    const UNREADABLE: &[&str] = &[
        "OSSA-2011-001 (nova)",
        "OSSA-2012-001 (nova)",
        "OSSA-2012-002 (keystone)",
        "OSSA-2012-003 (nova)",
        "OSSA-2012-004 (horizon)",
        "OSSA-2012-005 (nova)",
        "OSSA-2012-006 (horizon)",
        "OSSA-2012-007 (nova)",
        "OSSA-2012-008 (nova)",
        "OSSA-2012-009 (nova)",
        "OSSA-2012-010 (keystone)",
        "OSSA-2012-011 (nova)",
        "OSSA-2012-012 (horizon)",
        "OSSA-2012-013 (keystone)",
        "OSSA-2012-014 (keystone)",
        "OSSA-2012-015 (keystone)",
        "OSSA-2012-016 (keystone)",
        "OSSA-2012-017 (glance)",
        "OSSA-2012-018 (keystone)",
        "OSSA-2012-019 (keystone)",
        "OSSA-2012-020 (nova)",
        "OSSA-2013-001 (nova)",
        "OSSA-2013-002 (glance)",
        "OSSA-2013-003 (keystone)",
        "OSSA-2013-004 (cinder)",
        "OSSA-2013-004 (keystone)",
        "OSSA-2013-004 (nova)",
        "OSSA-2013-005 (keystone)",
        "OSSA-2013-006 (nova)",
        "OSSA-2013-007 (glance)",
        "OSSA-2013-008 (nova)",
        "OSSA-2013-009 (keystone)",
        "OSSA-2013-010 (nova)",
        "OSSA-2013-011 (keystone)",
        "OSSA-2013-012 (nova)",
        "OSSA-2013-013 (python-keystoneclient)",
        "OSSA-2013-014 (keystone)",
        "OSSA-2013-014 (python-keystoneclient)",
        "OSSA-2013-015 (keystone)",
        "OSSA-2013-016 (swift)",
        "OSSA-2013-017 (python-keystoneclient)",
        "OSSA-2013-018 (python-glanceclient)",
        "OSSA-2013-019 (nova)",
        "OSSA-2013-020 (nova)",
        "OSSA-2013-021 (cinder)",
        "OSSA-2013-022 (swift)",
        "OSSA-2013-023 (cinder)",
        "OSSA-2013-023 (nova)",
        "OSSA-2013-024 (nova)",
        "OSSA-2013-025 (keystone)",
        "OSSA-2013-026 (nova)",
        "OSSA-2013-027 (glance)",
        "OSSA-2013-028 (keystone)",
        "OSSA-2013-029 (nova)",
        "OSSA-2013-030 (nova)",
        "OSSA-2013-031 (ceilometer)",
        "OSSA-2013-032 (keystone)",
        "OSSA-2013-033 (neutron)",
        "OSSA-2013-033 (nova)",
        "OSSA-2013-034 (heat)",
        "OSSA-2013-035 (heat)",
        "OSSA-2013-036 (horizon)",
        "OSSA-2013-037 (nova)",
        "OSSA-2014-001 (nova)",
        "OSSA-2014-002 (swift)",
        "OSSA-2014-003 (nova)",
        "OSSA-2014-004 (glance)",
        "OSSA-2014-005 (python-swiftclient)",
        "OSSA-2014-006 (keystone)",
        "OSSA-2014-007 (python-keystoneclient)",
        "OSSA-2014-008 (neutron)",
        "OSSA-2014-009 (nova)",
        "OSSA-2014-010 (horizon)",
        "OSSA-2014-011 (nova)",
        "OSSA-2014-012 (glance)",
        "OSSA-2014-013 (keystone)",
        "OSSA-2014-014 (neutron)",
        "OSSA-2014-015 (keystone)",
        "OSSA-2014-016 (heat)",
        "OSSA-2014-017 (nova)",
        "OSSA-2014-018 (keystone)",
        "OSSA-2014-019 (neutron)",
        "OSSA-2014-020 (swift)",
        "OSSA-2014-021 (ceilometer)",
        "OSSA-2014-021 (neutron)",
        "OSSA-2014-022 (keystone)",
        "OSSA-2014-023 (horizon)",
        "OSSA-2014-024 (nova)",
        "OSSA-2014-025 (neutron)",
        "OSSA-2014-026 (keystone)",
        "OSSA-2014-027 (horizon)",
        "OSSA-2014-028 (glance)",
        "OSSA-2014-029 (keystone)",
        "OSSA-2014-030 (keystonemiddleware)",
        "OSSA-2014-030 (python-keystoneclient)",
        "OSSA-2014-031 (neutron)",
        "OSSA-2014-032 (nova)",
        "OSSA-2014-033 (cinder)",
        "OSSA-2014-034 (swift)",
        "OSSA-2014-035 (nova)",
        "OSSA-2014-036 (cinder)",
        "OSSA-2014-036 (nova)",
        "OSSA-2014-036 (trove)",
        "OSSA-2014-037 (nova)",
        "OSSA-2014-038 (nova)",
        "OSSA-2014-039 (neutron)",
        "OSSA-2014-040 (horizon)",
        "OSSA-2014-041 (glance)",
        "OSSA-2015-001 (neutron)",
        "OSSA-2015-002 (glance)",
        "OSSA-2015-003 (glance)",
        "OSSA-2015-004 (glance)",
        "OSSA-2015-005 (nova)",
        "OSSA-2015-006 (swift)",
        "OSSA-2015-007 (keystonemiddleware)",
        "OSSA-2015-007 (python-keystoneclient)",
        "OSSA-2015-008 (keystone)",
        "OSSA-2015-009 (horizon)",
        "OSSA-2015-010 (horizon)",
        "OSSA-2015-011 (cinder)",
        "OSSA-2015-012 (neutron)",
        "OSSA-2015-013 (glance)",
        "OSSA-2015-014 (glance)",
        "OSSA-2015-015 (nova)",
        "OSSA-2015-016 (swift)",
        "OSSA-2015-017 (nova)",
        "OSSA-2015-018 (neutron)",
    ];

    #[test]
    fn every_ossa_loads_or_says_why() {
        let l = OssaSource::new("ossa")
            .load(&shared("openstack-ossa/ossa"))
            .unwrap();
        assert_eq!(l.advisories.len(), 183);
        assert!(l.problems.is_empty(), "{:#?}", l.problems);
        // The free texts are all from before 2016 and are read as the date era.
        let mut bad: Vec<String> = l
            .advisories
            .iter()
            .flat_map(|a| {
                a.affected
                    .iter()
                    .filter(|x| matches!(x.ranges, AffectedRanges::OpenStackDateEra { .. }))
                    .map(|x| format!("{} ({})", a.id, x.package))
            })
            .collect();
        bad.sort();
        assert_eq!(bad, UNREADABLE, "{bad:#?}");
        let ranged: usize = l.advisories.iter().map(|a| a.affected.len()).sum();
        eprintln!(
            "OSSA: {} advisories, {ranged} affected products read, {} free text (date era)",
            l.advisories.len(),
            bad.len()
        );
        // Every stored spec parses for the matcher.
        for a in &l.advisories {
            assert_eq!(
                a.url.as_deref(),
                Some(format!("https://security.openstack.org/ossa/{}.html", a.id).as_str())
            );
            for x in &a.affected {
                assert_eq!(x.ecosystem, "OpenStack");
                assert_eq!(x.package, x.package.to_lowercase());
                match &x.ranges {
                    AffectedRanges::Pep440AnyOf { spec } => {
                        Pep440AnyOf::parse(spec).unwrap();
                    }
                    AffectedRanges::OpenStackDateEra { text, .. } => {
                        assert!(date_era_advisory(&a.id, a.published.as_deref()), "{text}");
                    }
                    r => panic!("{r:?}"),
                }
            }
        }
        let by = |id: &str| l.advisories.iter().find(|a| a.id == id).unwrap();

        let ironic = by("OSSA-2026-012");
        assert_eq!(ironic.aliases, ["CVE-2026-44916"]);
        assert_eq!(
            ironic.summary,
            "Remote Code Execution in Ironic conductor when Anaconda driver enabled"
        );
        assert_eq!(ironic.published.as_deref(), Some("2026-05-11"));
        assert_eq!(ironic.file, "OSSA-2026-012.yaml");
        let x = &ironic.affected[0];
        assert_eq!(x.package, "ironic");
        assert_eq!(x.fixed, ["26.1.7", "29.0.6", "32.0.2", "35.0.2"]);
        let AffectedRanges::Pep440AnyOf { spec } = &x.ranges else {
            panic!()
        };
        for (v, want) in [
            ("16.9.0", false),
            ("17.0.0", true),
            ("26.1.6", true),
            ("26.1.7", false),
            ("29.0.5", true),
            ("29.0.6", false),
            ("32.0.1", true),
            ("35.0.1", true),
            ("35.0.2", false),
        ] {
            assert_eq!(contains(spec, v), want, "ironic {v}");
        }

        // A nova OSSA affecting 29.0.0 (2024.1 caracal's first release).
        let nova = by("OSSA-2024-001");
        let n = nova.affected.iter().find(|x| x.package == "nova").unwrap();
        let AffectedRanges::Pep440AnyOf { spec } = &n.ranges else {
            panic!()
        };
        assert!(
            contains(spec, "29.0.0") && contains(spec, "29.0.2") && !contains(spec, "29.0.3"),
            "{spec}"
        );
        assert_eq!(
            nova.affected
                .iter()
                .map(|x| x.package.as_str())
                .collect::<Vec<_>>(),
            ["cinder", "glance", "nova"]
        );

        // Recovered forms.
        let multi = by("OSSA-2023-002");
        assert_eq!(
            multi
                .affected
                .iter()
                .map(|x| x.package.as_str())
                .collect::<Vec<_>>(),
            ["cinder", "glance", "nova"]
        );
        let spec_of = |id: &str, pkg: &str| match &by(id)
            .affected
            .iter()
            .find(|x| x.package == pkg)
            .unwrap()
            .ranges
        {
            AffectedRanges::Pep440AnyOf { spec } => spec.clone(),
            _ => unreachable!(),
        };
        assert_eq!(
            spec_of("OSSA-2023-002", "glance"),
            "<23.0.1, >=24.0.0 <24.1.1, ==25.0.0"
        );
        assert_eq!(
            spec_of("OSSA-2019-003", "nova"),
            "<17.0.12, >=18.0.0 <18.2.2, >=19.0.0 <19.0.2"
        );
        assert_eq!(
            spec_of("OSSA-2019-004", "os-vif"),
            ">=1.15.0 <1.15.2, ==1.16.0"
        );
        assert_eq!(
            spec_of("OSSA-2021-001", "neutron"),
            "<16.3.3, >=17.0.0 <17.1.3, ==18.0.0"
        );
        assert_eq!(
            spec_of("OSSA-2015-019", "glance"),
            "<=2014.2.3, >=2015.1.0 <=2015.1.1"
        );
        assert_eq!(
            spec_of("OSSA-2024-004", "ironic"),
            "<21.4.4, >=22.0.0 <23.0.3, >=23.1.0 <24.1.3, >=25.0.0 <26.1.0"
        );
        assert_eq!(
            spec_of("OSSA-2016-013", "heat"),
            "<=5.0.3, >=6.0.0 <=6.1.0, ==7.0.0"
        );
        assert_eq!(
            spec_of("OSSA-2024-003", "ironic-python-agent"),
            "<9.4.2, >=9.5.0 <9.7.1, >=9.8.0 <9.11.1, >=9.12.0 <9.13.1"
        );

        // Early advisories carry a Red Hat rating and CVSS v2 vector.
        let old = by("OSSA-2011-001");
        assert_eq!(old.severity, Some(Severity::Medium));
        assert_eq!(
            old.cvss.as_deref(),
            Some("CVSS:2.0/AV:N/AC:M/Au:N/C:P/I:P/A:N")
        );
        assert_eq!(
            by("OSSA-2016-004").aliases,
            ["CVE-2016-0737", "CVE-2016-0738"]
        );
        assert_eq!(by("OSSA-2026-008").modified.as_deref(), Some("2026-04-29"));
    }

    #[test]
    fn rules_and_reasons() {
        let ok = |s: &str| normalize_version(s).unwrap();
        assert_eq!(ok(">=17.0.0 <26.1.7, >=27.0.0 <29.0.6").rules, []);
        assert_eq!(
            ok(" <15.3.2, >=16.0.0 <16.2.1").spec,
            "<15.3.2, >=16.0.0 <16.2.1"
        );
        assert_eq!(
            ok(">=2014.2 <= 2015.1.2, == 12.0.0").spec,
            ">=2014.2 <=2015.1.2, ==12.0.0"
        );
        assert_eq!(ok("<=2015.1.2, ==12.0.0").fixed, Vec::<String>::new());
        assert_eq!(ok("<10.0.8, >=11.0.0 <11.0.7").fixed, ["10.0.8", "11.0.7"]);
        assert_eq!(
            ok(">=1.15.0<1.15.2, 1.16.0").rules,
            [Rule::GluedSpecifiers, Rule::BareVersion]
        );
        assert_eq!(ok("<16.3.3, =18.0.0").rules, [Rule::SingleEquals]);
        assert_eq!(
            ok("<=5.0.3, >=6.0.0 <=6.1.0 and ==7.0.0").rules,
            [Rule::AndSeparator]
        );
        // A lone lower bound not followed by a higher upper bound stays as written.
        assert_eq!(ok("<1.0, >=2.0").spec, "<1.0, >=2.0");
        assert_eq!(ok(">=3.0, <2.0").spec, ">=3.0, <2.0");
        for (s, why) in [
            ("All versions", "free text"),
            ("Essex, Folsom", "free text"),
            ("up to 2013.2.3, and 2014.1 to 2014.1.1", "free text"),
            ("2014.1", "ambiguous"),
            ("TODO", "free text"),
            ("", "empty"),
            ("<", "expected a version"),
            (">=1.0, 2.0", "free text"),
            ("=>1.0", "unknown operator"),
            ("<1.0.0.*", "only allowed with"),
        ] {
            let e = normalize_version(s).unwrap_err().to_string();
            assert!(e.contains(why), "{s:?}: {e}");
        }
    }

    #[test]
    fn malformed_ossa_files() {
        let l = OssaSource::new("t")
            .load(&fixture("ossa-malformed"))
            .unwrap();
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["OSSA-2099-001", "OSSA-2099-003"]);
        let mut seen: Vec<String> = l
            .problems
            .iter()
            .map(|p| format!("{}|{:?}", p.location.path, p.kind))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                "OSSA-2099-002.yaml|Malformed",
                "OSSA-2099-003.yaml|VersionUnparseable",
                "OSSA-2099-004.yaml|Malformed"
            ],
            "{:#?}",
            l.problems
        );
        let a = &l.advisories[1];
        assert_eq!(
            a.affected.len(),
            1,
            "the readable product of OSSA-2099-003 loads"
        );
        assert!(l
            .problems
            .iter()
            .any(|p| p.location.path == "OSSA-2099-002.yaml" && p.location.line.is_some()));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = normalize_version(&s);
        }

        #[test]
        fn never_panics_on_near_specs(parts in proptest::collection::vec("(>=|<=|<|>|==|=|!=|~=|and|,| )?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(rc1|\\.\\*)?", 0..8)) {
            let s = parts.join(" ");
            if let Ok(n) = normalize_version(&s) {
                prop_assert!(Pep440AnyOf::parse(&n.spec).is_ok());
            }
        }
    }
}
