//! The terminal table: summary, findings grouped by node, problems and what was not judged.

use std::io::Write;

use super::{Format, ReportError, ReportWriter, WriterOptions};
use crate::model::{Report, Severity};

/// The table writer.
#[derive(Debug)]
pub(super) struct TableWriter(pub(super) WriterOptions);

fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

fn sev_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Unknown => "35",
        Severity::None => "2",
    }
}

/// Cut `s` to `w` characters, with an ellipsis. Control characters from node data are replaced
/// so that a hostile package name cannot drive the terminal.
/// Problems and notes are printed whole up to this many characters.
const PROBLEM_WIDTH: usize = 2000;

fn cell(s: &str, w: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() <= w {
        clean
    } else {
        let mut t: String = clean.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The last `w` characters of a path, with a leading ellipsis when cut.
fn tail(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_owned();
    }
    let t: String = s.chars().skip(n - w + 1).collect();
    format!("…{t}")
}

impl ReportWriter for TableWriter {
    fn format(&self) -> Format {
        Format::Table
    }

    fn write(&self, r: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        let c = self.0.color;
        let width = if self.0.width == 0 {
            120
        } else {
            self.0.width.max(60)
        };
        let s = &r.summary;
        let v = r.verdict();
        let verdict = paint(
            c,
            match v.class() {
                "ok" => "32",
                "warn" => "1;33",
                _ => "1;31",
            },
            v.as_str(),
        );
        writeln!(
            out,
            "{verdict}  {} nodes, {} packages, {} findings ({} waived), {} problems  [gate: {}; as of {}]",
            s.nodes, s.packages, s.findings, s.waived, s.problems, r.gate, r.as_of
        )?;
        if !s.by_severity.is_empty() {
            let parts: Vec<String> = s
                .by_severity
                .iter()
                .rev()
                .map(|(k, v)| paint(c, sev_color(*k), &format!("{} {v}", k.as_str())))
                .collect();
            writeln!(out, "by severity: {}", parts.join(", "))?;
        }
        let loaded: Vec<String> = r
            .feeds
            .iter()
            .filter(|f| f.loaded)
            .map(|f| format!("{} ({})", f.name, f.advisories))
            .collect();
        writeln!(
            out,
            "feeds: {}",
            if loaded.is_empty() {
                "none".to_owned()
            } else {
                loaded.join(", ")
            }
        )?;
        for n in &r.nodes {
            writeln!(out)?;
            // A node without a failing finding in a report that could not judge everything
            // is not "ok": what was not judged is listed below.
            let mark = if !n.compliant {
                paint(c, "31", "FAIL")
            } else if r.is_complete() {
                paint(c, "32", "ok")
            } else {
                paint(c, "33", "incomplete")
            };
            writeln!(
                out,
                "node {} [{mark}]  {}  {} packages, {} findings",
                cell(&n.id, 60),
                cell(n.os.as_deref().unwrap_or("unknown OS"), 40),
                n.packages,
                n.findings
            )?;
            let fs: Vec<_> = r.findings.iter().filter(|f| f.node == n.id).collect();
            if fs.is_empty() {
                continue;
            }
            let wpkg = 28usize;
            let wver = 18usize;
            let wid = 20usize;
            let rest = width.saturating_sub(wpkg + wver + wid + 10 + 8 + 6).max(20);
            writeln!(
                out,
                "  {:<8}  {:<wpkg$}  {:<wver$}  {:<wid$}  FIXED IN / DETAIL  [WHERE]",
                "SEVERITY", "PACKAGE", "INSTALLED", "ID"
            )?;
            for f in fs {
                let id = f
                    .advisory
                    .as_ref()
                    .map_or_else(|| f.code.as_str().to_owned(), |a| a.id.clone());
                let mut detail = if f.fixed_in.is_empty() {
                    f.evidence.message.clone()
                } else {
                    f.fixed_in.join(", ")
                };
                if let Some(l) = &f.subject.location {
                    detail.push_str(&format!("  [{}]", tail(&l.path, 48)));
                }
                let sev = format!("{:<8}", f.severity.as_str());
                writeln!(
                    out,
                    "  {}  {:<wpkg$}  {:<wver$}  {:<wid$}  {}",
                    paint(c, sev_color(f.severity), &sev),
                    cell(&f.subject.name, wpkg),
                    cell(&f.subject.version, wver),
                    cell(&id, wid),
                    cell(&detail, rest)
                )?;
            }
        }
        if !r.openstack.is_empty() {
            write_openstack(out, r)?;
        }
        // Findings of no listed node (waiver-expired, waiver-unused: the policy's own) are
        // counted in the summary, so they are listed too.
        let policy_findings: Vec<_> = r
            .findings
            .iter()
            .filter(|f| !r.nodes.iter().any(|n| n.id == f.node))
            .collect();
        if !policy_findings.is_empty() {
            writeln!(out, "\npolicy ({}):", policy_findings.len())?;
            for f in policy_findings {
                let sev = format!("{:<8}", f.severity.as_str());
                writeln!(
                    out,
                    "  {}  {:<16}  {}",
                    paint(c, sev_color(f.severity), &sev),
                    f.code.as_str(),
                    cell(&f.evidence.message, width.saturating_sub(30).max(40))
                )?;
            }
        }
        if !r.waived.is_empty() {
            writeln!(out, "\nwaived:")?;
            for f in &r.waived {
                let w = f
                    .waived_by
                    .as_ref()
                    .map(|w| format!("{} until {} ({})", w.id, w.expires, w.reason))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {} {} {}: {}",
                    cell(&f.node, 30),
                    cell(&f.subject.name, 30),
                    f.code,
                    cell(&w, 80)
                )?;
            }
        }
        if !r.problems.is_empty() {
            writeln!(out, "\nproblems ({}):", r.problems.len())?;
            for p in r.problems.iter().take(30) {
                // Whole: the reason is at the end of a line that starts with a path, and a
                // log or a CI page does not wrap for us.
                writeln!(out, "  {}", cell(&p.to_string(), PROBLEM_WIDTH))?;
            }
            if r.problems.len() > 30 {
                writeln!(out, "  … {} more in the JSON report", r.problems.len() - 30)?;
            }
        }
        if !r.feed_problems.is_empty() {
            writeln!(
                out,
                "\n{} feed records could not be read (the rest of each feed was used; see `feed_problems` in the JSON report)",
                r.feed_problems.len()
            )?;
        }
        for n in &r.not_judged {
            writeln!(
                out,
                "\n{}: {}",
                paint(c, "33", "not judged"),
                cell(n, PROBLEM_WIDTH)
            )?;
        }
        Ok(())
    }
}

/// The OpenStack currency of every deliverable of every node, compliant or not.
fn write_openstack(out: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "\nOpenStack currency ({} deliverables):",
        r.openstack.len()
    )?;
    writeln!(
        out,
        "  {:<16}  {:<18}  {:<14}  {:<22}  {:<12}  {:>4}  {:<10}  {:>6}",
        "NODE", "DELIVERABLE", "INSTALLED", "SERIES", "STATUS", "LAG", "NEWEST", "BEHIND"
    )?;
    for d in &r.openstack {
        let series = match (&d.series, &d.release_id) {
            (Some(s), Some(id)) => format!("{id} {s}"),
            (Some(s), None) => s.clone(),
            _ => "unknown".to_owned(),
        };
        let series = match (&d.based_on, d.commits_after) {
            (Some(b), Some(c)) => format!("{series} ({b}+{c})"),
            _ => series,
        };
        let lag = d.lag.map_or_else(
            || "-".to_owned(),
            |l| {
                if l == 0 {
                    "n".to_owned()
                } else {
                    format!("n-{l}")
                }
            },
        );
        writeln!(
            out,
            "  {:<16}  {:<18}  {:<14}  {:<22}  {:<12}  {:>4}  {:<10}  {:>6}",
            cell(&d.node, 16),
            cell(&d.deliverable, 18),
            cell(&d.version, 14),
            cell(&series, 22),
            cell(d.status.as_deref().unwrap_or("-"), 12),
            lag,
            cell(d.newest_in_series.as_deref().unwrap_or("-"), 10),
            d.behind.map_or_else(|| "-".to_owned(), |b| b.to_string())
        )?;
    }
    Ok(())
}
