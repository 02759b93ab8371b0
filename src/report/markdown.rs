//! GitHub-flavoured Markdown for merge-request comments: verdict, summary tables, the top
//! findings, then one collapsible section per node. Node data is escaped: Markdown punctuation
//! with backslashes and `<`, `>`, `&` as entities in table cells and text, HTML escaping inside
//! the `<summary>` elements (where Markdown is not parsed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use super::util::{finding_id, sorted, SEVERITIES_DESC};
use super::{Format, ReportError, ReportWriter};
use crate::model::{Finding, Report, Verdict};

/// The Markdown writer.
#[derive(Debug)]
pub(super) struct MarkdownWriter;

impl ReportWriter for MarkdownWriter {
    fn format(&self) -> Format {
        Format::Markdown
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        out.write_all(markdown(report).as_bytes())?;
        Ok(())
    }
}

/// How many findings the "top findings" table lists.
const TOP: usize = 20;

/// Text safe in Markdown inline content and table cells: ASCII punctuation that Markdown or
/// GitHub give a meaning to is backslash-escaped, `<`, `>`, `&` become entities, line breaks
/// become spaces.
fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '~' | '!' | '{' | '}'
            | '@' | '$' | ':' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' | '\t' => o.push(' '),
            c if c.is_control() => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Text safe inside HTML elements (the `<summary>` of a collapsible section).
fn html(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\n' | '\r' | '\t' => o.push(' '),
            c if c.is_control() => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn row(f: &Finding, with_node: bool) -> String {
    let mut s = format!("| {} ", f.severity.as_str());
    if with_node {
        let _ = write!(s, "| {} ", md(&f.node));
    }
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} |",
        md(&f.subject.name),
        md(&f.subject.version),
        f.code.as_str(),
        md(finding_id(f)),
        md(&f.fixed_in.join(", ")),
        md(&f.evidence.message)
    );
    s
}

fn header(with_node: bool) -> &'static str {
    if with_node {
        "| severity | node | package | installed | code | id | fixed in | evidence |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    } else {
        "| severity | package | installed | code | id | fixed in | evidence |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    }
}

fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let passing = head(&mut s, r);
    by_severity_and_code(&mut s, r);
    by_site(&mut s, r, passing);
    let open = sorted(&r.findings);
    top_findings(&mut s, &open);
    per_node(&mut s, r, &open);
    openstack(&mut s, r);
    if let Some(v) = &r.control_plane {
        super::controlplane::markdown(v, &mut s, md);
    }
    waived_section(&mut s, r);
    problems(&mut s, r);
    s
}

/// The verdict, its reasons, the gate and the totals; the word for nodes that pass.
fn head(s: &mut String, r: &Report) -> &'static str {
    let s_ = &r.summary;
    let compliant_nodes = r.nodes.iter().filter(|n| n.compliant).count();
    // Nodes that pass what was judged are not "compliant" when something was not judged.
    let passing = if r.is_complete() {
        "compliant"
    } else {
        "passing what was judged"
    };
    // One verdict for every format (`Report::verdict`), its reasons right under it: a report
    // that could not judge everything never reads as compliant.
    let verdict = r.verdict();
    let _ = writeln!(
        s,
        "## nminus: {} {} as of {}\n",
        match verdict {
            Verdict::Compliant => "✅",
            Verdict::Incomplete => "⚠️",
            Verdict::NotCompliant | Verdict::NotCompliantIncomplete => "❌",
        },
        verdict.as_str(),
        md(&r.as_of)
    );
    for why in r.incomplete_reasons() {
        let _ = writeln!(s, "> **Not judged:** {}\n", md(&why));
    }
    let _ = writeln!(
        s,
        "Gate `{}` · {} {} · generated {}\n",
        r.gate.replace('`', "'"),
        md(&r.tool.name),
        md(&r.tool.version),
        md(&r.generated_at)
    );
    let _ = writeln!(
        s,
        "| nodes | {} | packages | findings | waived | problems |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n| {} | {} | {} | {} | {} | {} |\n",
        passing,
        r.nodes.len(),
        compliant_nodes,
        s_.packages,
        r.findings.len(),
        r.waived.len(),
        r.problems.len()
    );
    passing
}

/// Findings by severity and by code.
fn by_severity_and_code(s: &mut String, r: &Report) {
    let mut by_sev: BTreeMap<crate::model::Severity, usize> = BTreeMap::new();
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_sev.entry(f.severity).or_default() += 1;
        *by_code.entry(f.code.as_str()).or_default() += 1;
    }
    if !r.findings.is_empty() {
        s.push_str("| severity | findings |\n| --- | ---: |\n");
        for sev in SEVERITIES_DESC {
            if let Some(n) = by_sev.get(&sev) {
                let _ = writeln!(s, "| {} | {n} |", sev.as_str());
            }
        }
        s.push_str("\n| code | findings |\n| --- | ---: |\n");
        for (c, n) in &by_code {
            let _ = writeln!(s, "| `{c}` | {n} |");
        }
        s.push('\n');
    }
}

/// Nodes, passing nodes and findings by site.
fn by_site(s: &mut String, r: &Report, passing: &str) {
    let mut sites: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let site_of: BTreeMap<&str, String> = r
        .nodes
        .iter()
        .map(|n| {
            (
                n.id.as_str(),
                n.site.clone().unwrap_or_else(|| "(no site)".to_owned()),
            )
        })
        .collect();
    for n in &r.nodes {
        let e = sites.entry(site_of[n.id.as_str()].clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(n.compliant);
    }
    for f in &r.findings {
        let site = site_of
            .get(f.node.as_str())
            .cloned()
            .unwrap_or_else(|| "(no site)".to_owned());
        sites.entry(site).or_default().2 += 1;
    }
    if !sites.is_empty() {
        let _ = writeln!(
            s,
            "| site | nodes | {passing} | findings |\n| --- | ---: | ---: | ---: |"
        );
        for (site, (n, ok, f)) in &sites {
            let _ = writeln!(s, "| {} | {n} | {ok} | {f} |", md(site));
        }
        s.push('\n');
    }
}

/// The most severe findings.
fn top_findings(s: &mut String, open: &[&Finding]) {
    if !open.is_empty() {
        let _ = writeln!(
            s,
            "### Top findings{}\n",
            if open.len() > TOP {
                format!(" ({TOP} of {})", open.len())
            } else {
                String::new()
            }
        );
        s.push_str(header(true));
        for f in open.iter().take(TOP) {
            s.push_str(&row(f, true));
        }
        s.push('\n');
    }
}

/// Each node's findings, folded.
fn per_node(s: &mut String, r: &Report, open: &[&Finding]) {
    let mut by_node: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in open {
        by_node.entry(f.node.as_str()).or_default().push(f);
    }
    let mut nodes: Vec<&crate::model::NodeSummary> = r.nodes.iter().collect();
    nodes.sort_by(|a, b| (&a.site, &a.cell, &a.id).cmp(&(&b.site, &b.cell, &b.id)));
    if !nodes.is_empty() {
        s.push_str("### Nodes\n\n");
    }
    for n in nodes {
        let fs = by_node.get(n.id.as_str()).map_or(&[][..], Vec::as_slice);
        let place = match (&n.site, &n.cell) {
            (Some(s), Some(c)) => format!(" ({s} / {c})"),
            (Some(s), None) => format!(" ({s})"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "<details><summary>{} <code>{}</code>{} · {} findings</summary>\n",
            match (n.compliant, r.is_complete()) {
                (false, _) => "❌",
                (true, true) => "✅",
                (true, false) => "⚠️",
            },
            html(&n.id),
            html(&place),
            n.findings
        );
        if fs.is_empty() {
            s.push_str("No findings.\n\n");
        } else {
            s.push_str(header(false));
            for f in fs {
                s.push_str(&row(f, false));
            }
            s.push('\n');
        }
        s.push_str("</details>\n\n");
    }
}

/// OpenStack currency, compliant or not.
fn openstack(s: &mut String, r: &Report) {
    if !r.openstack.is_empty() {
        let _ = writeln!(s, "### OpenStack currency ({})\n", r.openstack.len());
        s.push_str("| node | deliverable | installed | series | status | lag | newest in series | behind |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for d in &r.openstack {
            let series = d.series_label();
            let lag = d.lag_label();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&d.node),
                md(&d.deliverable),
                md(&d.version),
                md(&series),
                md(d.status.as_deref().unwrap_or("–")),
                lag,
                md(d.newest_in_series.as_deref().unwrap_or("–")),
                d.behind.map_or_else(|| "–".to_owned(), |b| b.to_string())
            );
        }
        s.push('\n');
    }
}

/// Waived findings.
fn waived_section(s: &mut String, r: &Report) {
    let waived = sorted(&r.waived);
    if !waived.is_empty() {
        let _ = writeln!(s, "### Waived ({})\n", waived.len());
        s.push_str("| node | package | installed | code | id | waiver | owner | until | reason |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for f in waived {
            let (id, owner, until, reason) =
                f.waived_by.as_ref().map_or_else(Default::default, |w| {
                    (md(&w.id), md(&w.owner), md(&w.expires), md(&w.reason))
                });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {id} | {owner} | {until} | {reason} |",
                md(&f.node),
                md(&f.subject.name),
                md(&f.subject.version),
                f.code.as_str(),
                md(finding_id(f))
            );
        }
        s.push('\n');
    }
}

/// Problems.
fn problems(s: &mut String, r: &Report) {
    if !r.problems.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>{} problems</summary>\n",
            r.problems.len()
        );
        for p in &r.problems {
            let _ = writeln!(s, "- {}", md(&p.to_string()));
        }
        s.push_str("\n</details>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn md_escapes_markup_from_nodes() {
        assert_eq!(
            md("<img src=x onerror=alert(1)> | `x` *y*"),
            "&lt;img src=x onerror=alert\\(1\\)&gt; \\| \\`x\\` \\*y\\*"
        );
    }
}
