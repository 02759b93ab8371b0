//! SARIF 2.1.0 (GitHub and GitLab code scanning): one rule per finding code, one result per
//! finding (waived ones with an accepted external suppression carrying the waiver), the package's
//! file as physical location and `node/package` as logical location, the finding's fingerprint as
//! partial fingerprint. Problems and what was not judged become tool execution notifications.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Map, Value};

use super::util::{code_title, sorted};
use super::{Format, ReportError, ReportWriter};
use crate::model::{Finding, FindingCode, Location, ProblemKind, Report, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF writer.
#[derive(Debug)]
pub(super) struct SarifWriter;

impl ReportWriter for SarifWriter {
    fn format(&self) -> Format {
        Format::Sarif
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        serde_json::to_writer_pretty(&mut *out, &sarif(report))?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Unknown => "warning",
        Severity::Low | Severity::None => "note",
    }
}

/// The score GitHub code scanning maps back to the severity (`security-severity`).
fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("2.0"),
        Severity::Unknown | Severity::None => None,
    }
}

fn tags(c: FindingCode) -> Vec<&'static str> {
    match c {
        FindingCode::Vulnerable | FindingCode::AdvisoryUnevaluable => vec!["security"],
        FindingCode::AdvisoryNotice => vec!["security", "maintenance"],
        FindingCode::VersionUnparseable | FindingCode::InventoryStale => vec!["coverage"],
        FindingCode::WaiverExpired | FindingCode::WaiverUnused => vec!["policy"],
        _ => vec!["currency"],
    }
}

/// A path as a URI reference: unreserved characters and `/` kept, everything else
/// percent-encoded (so a `:` cannot turn a relative path into a scheme).
fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

fn physical(l: &Location) -> Value {
    let mut p = json!({ "artifactLocation": { "uri": uri(&l.wire_path()) } });
    if let Some(line) = l.line.filter(|l| *l > 0) {
        p["region"] = json!({ "startLine": line });
    }
    p
}

fn message(f: &Finding) -> String {
    let mut m = format!(
        "{} {} on {}: {}",
        f.subject.name, f.subject.version, f.node, f.evidence.message
    );
    if let Some(a) = &f.advisory {
        if !a.summary.is_empty() && !f.evidence.message.contains(&a.summary) {
            m.push_str(&format!(" ({}: {})", a.id, a.summary));
        }
    }
    if !f.fixed_in.is_empty() {
        m.push_str(&format!("; fixed in {}", f.fixed_in.join(", ")));
    }
    m
}

fn result(f: &Finding, rule_index: usize, site: Option<&str>) -> Value {
    let mut loc = Map::new();
    if let Some(l) = &f.subject.location {
        loc.insert("physicalLocation".into(), physical(l));
    }
    loc.insert(
        "logicalLocations".into(),
        json!([{
            "name": f.subject.name,
            "fullyQualifiedName": format!("{}/{}", f.node, f.subject.name),
            "kind": "module",
        }]),
    );
    let mut props = Map::new();
    props.insert("node".into(), json!(f.node));
    if let Some(s) = site {
        props.insert("site".into(), json!(s));
    }
    props.insert("severity".into(), json!(f.severity.as_str()));
    if let Some(s) = security_severity(f.severity) {
        props.insert("security-severity".into(), json!(s));
    }
    props.insert("ecosystem".into(), json!(f.subject.ecosystem));
    props.insert("package".into(), json!(f.subject.name));
    props.insert("version".into(), json!(f.subject.version));
    if let Some(p) = &f.subject.purl {
        props.insert("purl".into(), json!(p));
    }
    if let Some(a) = &f.advisory {
        props.insert("advisory".into(), json!(a.id));
        if !a.aliases.is_empty() {
            props.insert("aliases".into(), json!(a.aliases));
        }
        if let Some(u) = &a.url {
            props.insert("advisoryUrl".into(), json!(u));
        }
    }
    if !f.fixed_in.is_empty() {
        props.insert("fixedIn".into(), json!(f.fixed_in));
    }
    let mut r = json!({
        "ruleId": f.code.as_str(),
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": message(f) },
        "locations": [Value::Object(loc)],
        "partialFingerprints": { "nminusFingerprint/v1": f.fingerprint },
        "properties": Value::Object(props),
    });
    if let Some(w) = &f.waived_by {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!("{} (waiver {}, owner {}, until {})", w.reason, w.id, w.owner, w.expires),
            "properties": { "waiver": w.id, "owner": w.owner, "expires": w.expires },
        }]);
    }
    r
}

fn sarif(r: &Report) -> Value {
    let site_of: BTreeMap<&str, &str> = r
        .nodes
        .iter()
        .filter_map(|n| n.site.as_deref().map(|s| (n.id.as_str(), s)))
        .collect();
    let open = sorted(&r.findings);
    let waived = sorted(&r.waived);
    // Rules: the codes present, in documentation order.
    let codes: Vec<FindingCode> = FindingCode::ALL
        .into_iter()
        .filter(|c| open.iter().chain(&waived).any(|f| f.code == *c))
        .collect();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.as_str(),
                "shortDescription": { "text": code_title(*c) },
                "fullDescription": { "text": format!("nminus finding `{}`: {}.", c.as_str(), code_title(*c)) },
                "help": { "text": format!("See docs/findings.md#{} in the nminus repository.", c.as_str()) },
                "properties": { "tags": tags(*c) },
            })
        })
        .collect();
    let index = |c: FindingCode| codes.iter().position(|x| *x == c).unwrap_or(0);
    let results: Vec<Value> = open
        .iter()
        .chain(&waived)
        .map(|f| result(f, index(f.code), site_of.get(f.node.as_str()).copied()))
        .collect();
    let mut notes: Vec<Value> = r
        .not_judged
        .iter()
        .map(|n| json!({ "level": "error", "message": { "text": format!("not judged: {n}") } }))
        .collect();
    notes.extend(r.problems.iter().map(|p| {
        json!({
            "level": if p.problem.kind == ProblemKind::Skipped { "note" } else { "warning" },
            "message": { "text": p.problem.message },
            "locations": [{ "physicalLocation": physical(&p.report_location()) }],
        })
    }));
    let complete = r.is_complete();
    let mut invocation = json!({
        "executionSuccessful": complete,
        "endTimeUtc": r.generated_at,
    });
    if !notes.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notes);
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": r.tool.name,
                "version": r.tool.version,
                "semanticVersion": r.tool.version,
                "rules": rules,
            }},
            "invocations": [invocation],
            "results": results,
            "properties": {
                "asOf": r.as_of,
                "gate": r.gate,
                "nodes": r.nodes.len(),
                "compliant": r.summary.compliant,
                "verdict": r.verdict().as_str(),
                "incompleteReasons": r.incomplete_reasons(),
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn uris_are_encoded_references() {
        assert_eq!(uri("/var/lib/dpkg/status"), "/var/lib/dpkg/status");
        assert_eq!(uri("ctl1:/a b/<x>"), "ctl1%3A/a%20b/%3Cx%3E");
        assert_eq!(uri(""), ".");
    }
}
