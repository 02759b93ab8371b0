//! JUnit XML (Zuul, Jenkins, GitLab), valid against the Ant schema (`JUnit.xsd`): one
//! `<testsuite>` per node, one `<testcase>` per node and finding code. A testcase fails when
//! the node has findings of that code at or above the gate; the Ant schema allows one
//! `<failure>` per testcase, so it carries every failing finding, one per line. Codes without a
//! finding are passing testcases. Findings below the gate and waived findings (with their
//! waiver) are listed in the suite's `<system-out>`, the node's problems in `<system-err>`. A
//! last suite, `nminus`, has one testcase, `scan-complete`, which errors when the scan could not
//! judge everything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use super::util::{code_title, finding_id, gate_of, sorted, xml_escape as x, xml_text};
use super::{Format, ReportError, ReportWriter};
use crate::model::{Finding, FindingCode, Report};

/// The JUnit writer.
#[derive(Debug)]
pub(super) struct JunitWriter;

impl ReportWriter for JunitWriter {
    fn format(&self) -> Format {
        Format::Junit
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        out.write_all(junit(report).as_bytes())?;
        Ok(())
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (the schema's timestamp has no zone) from the report's time.
fn timestamp(r: &Report) -> String {
    let t: String = r.generated_at.chars().take(19).collect();
    let ok = t.len() == 19
        && t.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if ok {
        t
    } else {
        format!("{}T00:00:00", r.as_of.chars().take(10).collect::<String>())
    }
}

fn line(f: &Finding) -> String {
    let mut s = format!(
        "[{}] {} {} {}",
        f.severity.as_str(),
        f.subject.name,
        f.subject.version,
        finding_id(f)
    );
    if !f.fixed_in.is_empty() {
        let _ = write!(s, " (fixed in {})", f.fixed_in.join(", "));
    }
    let _ = write!(s, ": {}", f.evidence.message);
    if let Some(l) = &f.subject.location {
        let _ = write!(s, " [{l}]");
    }
    if let Some(w) = &f.waived_by {
        let _ = write!(
            s,
            " — waived by {} ({}, until {}): {}",
            w.id, w.owner, w.expires, w.reason
        );
    }
    s
}

/// A non-empty token for `name`-like attributes.
fn token(s: &str, fallback: &str) -> String {
    if s.trim().is_empty() {
        fallback.to_owned()
    } else {
        s.to_owned()
    }
}

fn junit(r: &Report) -> String {
    let gate = gate_of(r);
    let ts = timestamp(r);
    let mut by_node: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in sorted(&r.findings) {
        by_node.entry(f.node.as_str()).or_default().push(f);
    }
    let mut waived_by_node: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in sorted(&r.waived) {
        waived_by_node.entry(f.node.as_str()).or_default().push(f);
    }
    let mut nodes: Vec<&crate::model::NodeSummary> = r.nodes.iter().collect();
    nodes.sort_by(|a, b| (&a.site, &a.cell, &a.id).cmp(&(&b.site, &b.cell, &b.id)));

    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    let mut id = 0usize;
    for n in &nodes {
        let fs = by_node.get(n.id.as_str()).map_or(&[][..], Vec::as_slice);
        let ws = waived_by_node
            .get(n.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let name = token(&n.id, "(unnamed node)");
        let package = match (&n.site, &n.cell) {
            (Some(s), Some(c)) => format!("{s}.{c}"),
            (Some(s), None) => s.clone(),
            _ => "nminus".to_owned(),
        };
        let (cases, failures) = node_cases(r, &gate, fs, &package, &name);
        let mut out_lines: Vec<String> = fs
            .iter()
            .filter(|f| !gate.fails(f))
            .map(|f| format!("below the gate: {} {}", f.code, line(f)))
            .collect();
        out_lines.extend(ws.iter().map(|f| format!("waived: {} {}", f.code, line(f))));
        let err_lines: Vec<String> = r
            .problems
            .iter()
            .filter(|p| p.node.as_deref() == Some(n.id.as_str()))
            .map(ToString::to_string)
            .collect();
        let _ = write!(
            s,
            "  <testsuite name=\"{}\" package=\"{}\" id=\"{id}\" timestamp=\"{ts}\" hostname=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">\n    <properties>\n",
            x(&name),
            x(&package),
            x(&name),
            FindingCode::ALL.len(),
        );
        for (k, v) in [
            ("site", n.site.as_deref()),
            ("cell", n.cell.as_deref()),
            ("os", n.os.as_deref()),
            ("gate", Some(r.gate.as_str())),
            ("as_of", Some(r.as_of.as_str())),
        ] {
            if let Some(v) = v {
                let _ = writeln!(s, "      <property name=\"{k}\" value=\"{}\"/>", x(v));
            }
        }
        let _ = writeln!(
            s,
            "      <property name=\"packages\" value=\"{}\"/>",
            n.packages
        );
        s.push_str("    </properties>\n");
        s.push_str(&cases);
        let _ = write!(
            s,
            "    <system-out>{}</system-out>\n    <system-err>{}</system-err>\n  </testsuite>\n",
            xml_text(&out_lines.join("\n")),
            xml_text(&err_lines.join("\n"))
        );
        id += 1;
    }

    scan_suite(&mut s, r, id, &ts);
    s
}

/// One test case per finding code for a node: (the cases, how many fail).
fn node_cases(
    r: &Report,
    gate: &crate::policy::Gate,
    fs: &[&Finding],
    package: &str,
    name: &str,
) -> (String, usize) {
    let mut cases = String::new();
    let mut failures = 0;
    for code in FindingCode::ALL {
        let failing: Vec<&&Finding> = fs
            .iter()
            .filter(|f| f.code == code && gate.fails(f))
            .collect();
        let _ = write!(
            cases,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
            code.as_str(),
            x(&format!("{package}.{name}"))
        );
        if failing.is_empty() {
            cases.push_str("/>\n");
            continue;
        }
        failures += 1;
        let body: Vec<String> = failing.iter().map(|f| line(f)).collect();
        let _ = write!(
            cases,
            ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
            code.as_str(),
            x(&format!(
                "{} finding(s) at or above the gate `{}`: {}",
                failing.len(),
                r.gate,
                code_title(code)
            )),
            xml_text(&body.join("\n"))
        );
    }
    (cases, failures)
}

/// The scan itself: the verdict (`Report::verdict`), why it is incomplete, and each problem
/// behind that; the feeds.
fn scan_suite(s: &mut String, r: &Report, id: usize, ts: &str) {
    let reasons = r.incomplete_reasons();
    let incomplete: Vec<String> = reasons
        .iter()
        .map(|n| format!("not judged: {n}"))
        .chain(
            r.problems
                .iter()
                .filter(|p| p.leaves_incomplete())
                .map(ToString::to_string),
        )
        .collect();
    let _ = write!(
        s,
        "  <testsuite name=\"nminus\" package=\"nminus\" id=\"{id}\" timestamp=\"{ts}\" hostname=\"nminus\" tests=\"1\" failures=\"0\" errors=\"{}\" skipped=\"0\" time=\"0\">\n    <properties>\n      <property name=\"tool\" value=\"{} {}\"/>\n      <property name=\"gate\" value=\"{}\"/>\n      <property name=\"as_of\" value=\"{}\"/>\n      <property name=\"verdict\" value=\"{}\"/>\n    </properties>\n    <testcase name=\"scan-complete\" classname=\"nminus.scan\" time=\"0\"",
        usize::from(!reasons.is_empty()),
        x(&r.tool.name),
        x(&r.tool.version),
        x(&r.gate),
        x(&r.as_of),
        x(r.verdict().as_str()),
    );
    if reasons.is_empty() {
        s.push_str("/>\n");
    } else {
        let _ = write!(
            s,
            ">\n      <error type=\"incomplete\" message=\"{}\">{}</error>\n    </testcase>\n",
            x(&format!(
                "{}: the scan could not judge everything: {}",
                r.verdict().as_str(),
                reasons.join("; ")
            )),
            xml_text(&incomplete.join("\n"))
        );
    }
    let feeds: Vec<String> = r
        .feeds
        .iter()
        .map(|f| {
            format!(
                "feed {} ({}): {}",
                f.name,
                f.kind,
                if f.loaded {
                    format!("{} advisories", f.advisories)
                } else {
                    format!("not loaded: {}", f.note.as_deref().unwrap_or(""))
                }
            )
        })
        .collect();
    let _ = write!(
        s,
        "    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>\n</testsuites>\n",
        xml_text(&feeds.join("\n"))
    );
}
