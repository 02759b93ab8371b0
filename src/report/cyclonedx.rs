//! CycloneDX 1.6 JSON: the scanned inventory as SBOM (one component per package identity, the
//! nodes that have it as properties) and the advisory findings as VEX.
//!
//! Components come from the report's `inventory` (written by `nminus scan`) plus the subjects of
//! the findings, so a report saved without an inventory still yields a consistent BOM.
//! Vulnerabilities: one entry per advisory and analysis (the same advisory waived on one node
//! and open on another gives two entries). States: `vulnerable` → `exploitable` (response
//! `update` when a fix exists), `advisory-unevaluable` and `advisory-notice` → `in_triage`,
//! waived → `not_affected` with the waiver in `detail`; the justification is set only when the
//! waiver's reason starts with a CycloneDX justification (`code_not_reachable: …`), since a free
//! text reason cannot be mapped to one honestly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::util::sorted;
use super::{Format, ReportError, ReportWriter};
use crate::model::{Finding, FindingCode, Report, Severity, SubjectEcosystem};
use crate::util::hex;

/// The CycloneDX writer.
#[derive(Debug)]
pub(super) struct CycloneDxWriter;

impl ReportWriter for CycloneDxWriter {
    fn format(&self) -> Format {
        Format::Cyclonedx
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        serde_json::to_writer_pretty(&mut *out, &bom(report))?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

const JUSTIFICATIONS: [&str; 9] = [
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];

fn rating(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::None => "info",
        Severity::Unknown => "unknown",
    }
}

fn component_type(ecosystem: &SubjectEcosystem) -> &'static str {
    match ecosystem {
        SubjectEcosystem::OpenStack => "application",
        SubjectEcosystem::Other(o) if o == "os" => "operating-system",
        _ => "library",
    }
}

/// Component identity: ecosystem, name, version, purl.
type Key = (SubjectEcosystem, String, String, Option<String>);

#[derive(Default)]
struct Comp {
    nodes: BTreeSet<String>,
    codes: BTreeSet<&'static str>,
}

fn subject_key(f: &Finding) -> Key {
    (
        f.subject.ecosystem.clone(),
        f.subject.name.clone(),
        f.subject.version.clone(),
        f.subject.purl.clone().filter(|p| !p.is_empty()),
    )
}

/// A version 4-shaped UUID from the hash of the report's identity, so the same report always
/// gets the same serial number.
fn serial(r: &Report) -> String {
    let mut h = Sha256::new();
    h.update(r.generated_at.as_bytes());
    h.update([0]);
    h.update(r.as_of.as_bytes());
    for f in r.findings.iter().chain(&r.waived) {
        h.update(f.fingerprint.as_bytes());
    }
    for n in &r.nodes {
        h.update(n.id.as_bytes());
        h.update([0]);
    }
    let mut b: [u8; 16] = [0; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex(&b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn bom(r: &Report) -> Value {
    // Components.
    let mut comps: BTreeMap<Key, Comp> = BTreeMap::new();
    for c in &r.inventory {
        let e = comps
            .entry((
                SubjectEcosystem::from(c.ecosystem),
                c.name.clone(),
                c.version.clone(),
                c.purl.clone().filter(|p| !p.is_empty()),
            ))
            .or_default();
        e.nodes.extend(c.nodes.iter().cloned());
    }
    // A finding belongs to the inventory component with its purl (a currency finding names the
    // deliverable, `openstack/nova`, of the `pypi/nova` package), else to its own subject.
    let by_purl: BTreeMap<String, Key> = comps
        .keys()
        .filter_map(|k| k.3.clone().map(|p| (p, k.clone())))
        .collect();
    let key_of = |f: &Finding| -> Key {
        f.subject
            .purl
            .as_ref()
            .and_then(|p| by_purl.get(p).cloned())
            .unwrap_or_else(|| subject_key(f))
    };
    for f in r.findings.iter().chain(&r.waived) {
        let e = comps.entry(key_of(f)).or_default();
        e.nodes.insert(f.node.clone());
        e.codes.insert(f.code.as_str());
    }
    // bom-refs: the purl when it names one component only, else a synthetic unique ref.
    let mut purl_uses: BTreeMap<&str, usize> = BTreeMap::new();
    for k in comps.keys() {
        if let Some(p) = &k.3 {
            *purl_uses.entry(p.as_str()).or_default() += 1;
        }
    }
    let mut refs: BTreeMap<&Key, String> = BTreeMap::new();
    let mut components = Vec::with_capacity(comps.len());
    for (i, (k, c)) in comps.iter().enumerate() {
        let bom_ref = match &k.3 {
            Some(p) if purl_uses.get(p.as_str()) == Some(&1) => p.clone(),
            _ => format!("nminus:component:{i}:{}:{}@{}", k.0, k.1, k.2),
        };
        let mut props: Vec<Value> = vec![json!({"name": "nminus:ecosystem", "value": k.0})];
        props.extend(
            c.nodes
                .iter()
                .map(|n| json!({"name": "nminus:node", "value": n})),
        );
        props.extend(
            c.codes
                .iter()
                .map(|code| json!({"name": "nminus:finding", "value": code})),
        );
        let mut o = Map::new();
        o.insert("type".into(), json!(component_type(&k.0)));
        o.insert("bom-ref".into(), json!(bom_ref));
        o.insert("name".into(), json!(k.1));
        o.insert("version".into(), json!(k.2));
        if let Some(p) = &k.3 {
            o.insert("purl".into(), json!(p));
        }
        o.insert("properties".into(), Value::Array(props));
        components.push(Value::Object(o));
        refs.insert(k, bom_ref);
    }

    // Vulnerabilities: advisory findings grouped by advisory and analysis.
    let mut vulns: BTreeMap<(String, String), Vuln<'_>> = BTreeMap::new();
    for f in sorted(&r.findings).into_iter().chain(sorted(&r.waived)) {
        let Some(a) = &f.advisory else { continue };
        let state = analysis_key(f);
        let v = vulns.entry((a.id.clone(), state)).or_default();
        v.first.get_or_insert(f);
        if let Some(rf) = refs.get(&key_of(f)) {
            v.affects.insert(rf.clone());
        }
        v.nodes.insert(&f.node);
        v.fixed.extend(f.fixed_in.iter().map(String::as_str));
        v.severity = v.severity.max(Some(f.severity));
    }
    let vulnerabilities: Vec<Value> = vulns
        .iter()
        .enumerate()
        .filter_map(|(i, ((id, _), v))| vulnerability(i, id, v))
        .collect();

    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial(r),
        "version": 1,
        "metadata": {
            "timestamp": r.generated_at,
            "tools": { "components": [{
                "type": "application",
                "name": r.tool.name,
                "version": r.tool.version,
            }]},
            "properties": [
                {"name": "nminus:as_of", "value": r.as_of},
                {"name": "nminus:gate", "value": r.gate},
                {"name": "nminus:nodes", "value": r.nodes.len().to_string()},
                {"name": "nminus:compliant", "value": r.summary.compliant.to_string()},
            ],
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}

/// An advisory's findings grouped (one analysis state), for one vulnerability entry.
#[derive(Default)]
struct Vuln<'a> {
    first: Option<&'a Finding>,
    affects: BTreeSet<String>,
    nodes: BTreeSet<&'a str>,
    fixed: BTreeSet<&'a str>,
    severity: Option<Severity>,
}

/// The `i`th vulnerability entry (advisory `id`).
fn vulnerability(i: usize, id: &str, v: &Vuln<'_>) -> Option<Value> {
    let f = v.first?;
    let a = f.advisory.as_ref()?;
    let mut o = Map::new();
    o.insert(
        "bom-ref".into(),
        json!(format!("nminus:vulnerability:{i}:{id}")),
    );
    o.insert("id".into(), json!(id));
    let mut source = Map::new();
    source.insert("name".into(), json!(a.sources.join(", ")));
    if let Some(u) = &a.url {
        source.insert("url".into(), json!(u));
    }
    o.insert("source".into(), Value::Object(source));
    if !a.aliases.is_empty() {
        o.insert(
            "references".into(),
            Value::Array(
                a.aliases
                    .iter()
                    .map(|al| json!({"id": al, "source": {"name": alias_source(al)}}))
                    .collect(),
            ),
        );
    }
    o.insert(
        "ratings".into(),
        json!([{ "severity": rating(v.severity.unwrap_or(Severity::Unknown)) }]),
    );
    if !a.summary.is_empty() {
        o.insert("description".into(), json!(a.summary));
    }
    if !v.fixed.is_empty() {
        o.insert(
            "recommendation".into(),
            json!(format!(
                "Upgrade to {}",
                v.fixed.iter().copied().collect::<Vec<_>>().join(" or ")
            )),
        );
    }
    if let Some(u) = &a.url {
        o.insert("advisories".into(), json!([{ "url": u }]));
    }
    o.insert("analysis".into(), analysis(f, !v.fixed.is_empty()));
    o.insert(
        "affects".into(),
        Value::Array(v.affects.iter().map(|r| json!({ "ref": r })).collect()),
    );
    let mut props = vec![json!({"name": "nminus:code", "value": f.code.as_str()})];
    props.extend(
        v.nodes
            .iter()
            .map(|n| json!({"name": "nminus:node", "value": n})),
    );
    o.insert("properties".into(), Value::Array(props));
    Some(Value::Object(o))
}

fn alias_source(id: &str) -> &'static str {
    if id.starts_with("CVE-") {
        "NVD"
    } else if id.starts_with("GHSA-") {
        "GitHub"
    } else if id.starts_with("PYSEC-") {
        "PyPA"
    } else if id.starts_with("RUSTSEC-") {
        "RustSec"
    } else {
        "OSV"
    }
}

/// Findings with the same analysis share one vulnerability entry.
fn analysis_key(f: &Finding) -> String {
    match &f.waived_by {
        Some(w) => format!("waived:{}", w.id),
        None => state(f).to_owned(),
    }
}

fn state(f: &Finding) -> &'static str {
    if f.waived_by.is_some() {
        "not_affected"
    } else if f.code == FindingCode::Vulnerable {
        "exploitable"
    } else {
        "in_triage"
    }
}

fn analysis(f: &Finding, has_fix: bool) -> Value {
    let mut o = Map::new();
    o.insert("state".into(), json!(state(f)));
    match &f.waived_by {
        Some(w) => {
            let reason = w.reason.trim();
            if let Some(j) = JUSTIFICATIONS.iter().find(|j| {
                reason
                    .strip_prefix(**j)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ', ',', '.']))
            }) {
                o.insert("justification".into(), json!(j));
            }
            o.insert(
                "detail".into(),
                json!(format!(
                    "waived by {} (owner {}, until {}): {}",
                    w.id, w.owner, w.expires, w.reason
                )),
            );
        }
        None => {
            if f.code == FindingCode::Vulnerable && has_fix {
                o.insert("response".into(), json!(["update"]));
            }
            o.insert("detail".into(), json!(f.evidence.message));
        }
    }
    Value::Object(o)
}
