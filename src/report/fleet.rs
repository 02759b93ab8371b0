//! The fleet HTML for large fleets: a directory of small pages instead of one file.
//! `index.html` is the summary (the verdict first, then why it is incomplete, counts by site and
//! severity, the worst nodes); `sites/<site>-<k>.html` list a site's nodes a page at a time;
//! `nodes/<node>.html` hold one node's findings. The summary's size follows the number of sites
//! and [`WORST`], not of nodes; a site page holds at most [`SITE_PAGE`] nodes.
//!
//! Node data is untrusted: printed with `{{ }}` (escaped) in quoted attributes only, in file
//! names only through [`file_name`]; each page carries a Content-Security-Policy allowing its
//! style alone (no script).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::util::{base64, finding_id, sorted, SEVERITIES_DESC};
use super::ReportError;
use crate::model::{Finding, NodeSummary, Report, Severity};

const INDEX: &str = include_str!("../../reports/templates/fleet-index.hbs");
const LIST: &str = include_str!("../../reports/templates/fleet-list.hbs");
const NODE: &str = include_str!("../../reports/templates/fleet-node.hbs");
const CSS: &str = include_str!("../../reports/templates/fleet.css");

/// Nodes on the summary's list of the worst.
pub(crate) const WORST: usize = 100;
/// Nodes per site page.
pub const SITE_PAGE: usize = 1000;
const NO_SITE: &str = "(no site)";

/// What [`write_fleet_pages`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPages {
    /// The summary page.
    pub index: PathBuf,
    /// Site pages written.
    pub site_pages: usize,
    /// Node pages written.
    pub node_pages: usize,
}

/// A file name for untrusted `name`: letters, digits, `-` and `_` kept, everything else `.xx`
/// (hex of each byte), so no name can climb out of its directory or read as a URL scheme.
pub(crate) fn file_name(name: &str) -> String {
    let mut o = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            o.push(char::from(b));
        } else {
            o.push_str(&format!(".{b:02x}"));
        }
    }
    if o.is_empty() {
        o.push_str(".empty");
    }
    o
}

fn csp() -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; base-uri 'none'; form-action 'none'",
        base64(&Sha256::digest(CSS.as_bytes()))
    )
}

fn registry() -> Result<Handlebars<'static>, ReportError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    for (name, t) in [("index", INDEX), ("list", LIST), ("node", NODE)] {
        hb.register_template_string(name, t)
            .map_err(|e| ReportError::Template(e.to_string()))?;
    }
    Ok(hb)
}

fn render(
    hb: &Handlebars<'_>,
    name: &str,
    view: &impl Serialize,
    to: &Path,
) -> Result<(), ReportError> {
    let html = hb
        .render(name, view)
        .map_err(|e| ReportError::Template(e.to_string()))?;
    fs_err::write(to, html)?;
    Ok(())
}

#[derive(Serialize)]
struct Count {
    sev: &'static str,
    n: usize,
}

#[derive(Serialize)]
struct SiteRow {
    name: String,
    href: String,
    nodes: usize,
    noncompliant: usize,
    counts: Vec<Count>,
}

#[derive(Serialize)]
struct NodeRow {
    id: String,
    href: String,
    site: String,
    cell: String,
    os: String,
    packages: usize,
    findings: usize,
    worst: &'static str,
    compliant: bool,
}

#[derive(Serialize)]
struct Summary {
    nodes: usize,
    compliant: usize,
    noncompliant: usize,
    findings: usize,
    waived: usize,
    problems: usize,
}

#[derive(Serialize)]
struct IndexView {
    title: String,
    csp: String,
    css: &'static str,
    verdict: &'static str,
    verdict_class: &'static str,
    incomplete_reasons: Vec<String>,
    gate: String,
    as_of: String,
    generated_at: String,
    summary: Summary,
    severities: Vec<&'static str>,
    sites: Vec<SiteRow>,
    totals: Vec<Count>,
    worst_count: usize,
    worst: Vec<NodeRow>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct ListView {
    title: String,
    csp: String,
    css: &'static str,
    prev: Option<String>,
    next: Option<String>,
    nodes: Vec<NodeRow>,
}

#[derive(Serialize)]
struct FindingRow {
    severity: &'static str,
    code: &'static str,
    name: String,
    version: String,
    id: String,
    url: Option<String>,
    fixed: String,
    message: String,
    waiver: String,
}

#[derive(Serialize)]
struct NodeView {
    title: String,
    csp: String,
    css: &'static str,
    site: String,
    site_href: String,
    cell: String,
    os: String,
    packages: usize,
    findings: usize,
    compliant: bool,
    waived_count: usize,
    open: Vec<FindingRow>,
    waived: Vec<FindingRow>,
}

fn site_name(n: &NodeSummary) -> &str {
    n.site.as_deref().unwrap_or(NO_SITE)
}

fn finding_row(f: &Finding) -> FindingRow {
    FindingRow {
        severity: f.severity.as_str(),
        code: f.code.as_str(),
        name: f.subject.name.clone(),
        version: f.subject.version.clone(),
        id: finding_id(f).to_owned(),
        url: f
            .advisory
            .as_ref()
            .and_then(|a| a.url.clone())
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        fixed: f.fixed_in.join(", "),
        message: f.evidence.message.clone(),
        waiver: f
            .waived_by
            .as_ref()
            .map(|w| format!("{} ({}, until {})", w.id, w.owner, w.expires))
            .unwrap_or_default(),
    }
}

/// The findings of each node, most severe first.
fn by_node(fs: &[Finding]) -> BTreeMap<&str, Vec<&Finding>> {
    let mut m: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in sorted(fs) {
        m.entry(f.node.as_str()).or_default().push(f);
    }
    m
}

fn node_row(n: &NodeSummary, worst: Option<Severity>, prefix: &str) -> NodeRow {
    NodeRow {
        id: n.id.clone(),
        href: format!("{prefix}nodes/{}.html", file_name(&n.id)),
        site: site_name(n).to_owned(),
        cell: n.cell.clone().unwrap_or_default(),
        os: n.os.clone().unwrap_or_default(),
        packages: n.packages,
        findings: n.findings,
        worst: worst.map_or("", Severity::as_str),
        compliant: n.compliant,
    }
}

/// Write the fleet pages of `r` into `dir` (created; existing pages of the same names are
/// replaced).
pub fn write_fleet_pages(r: &Report, dir: &Path) -> Result<FleetPages, ReportError> {
    let hb = registry()?;
    fs_err::create_dir_all(dir.join("sites"))?;
    fs_err::create_dir_all(dir.join("nodes"))?;
    let open = by_node(&r.findings);
    let waived = by_node(&r.waived);
    let worst_of = |id: &str| open.get(id).and_then(|v| v.first()).map(|f| f.severity);
    let mut sites: BTreeMap<&str, Vec<&NodeSummary>> = BTreeMap::new();
    for n in &r.nodes {
        sites.entry(site_name(n)).or_default().push(n);
    }
    let site_pages = write_sites(&hb, r, dir, &mut sites, &worst_of)?;
    for n in &r.nodes {
        let site = site_name(n);
        let view = NodeView {
            title: format!("node {}", n.id),
            csp: csp(),
            css: CSS,
            site: site.to_owned(),
            site_href: format!("../sites/{}-1.html", file_name(site)),
            cell: n.cell.clone().unwrap_or_default(),
            os: n.os.clone().unwrap_or_default(),
            packages: n.packages,
            findings: n.findings,
            compliant: n.compliant,
            waived_count: waived.get(n.id.as_str()).map_or(0, Vec::len),
            open: open
                .get(n.id.as_str())
                .map(|v| v.iter().map(|f| finding_row(f)).collect())
                .unwrap_or_default(),
            waived: waived
                .get(n.id.as_str())
                .map(|v| v.iter().map(|f| finding_row(f)).collect())
                .unwrap_or_default(),
        };
        let to = dir.join("nodes").join(format!("{}.html", file_name(&n.id)));
        render(&hb, "node", &view, &to)?;
    }
    let index = dir.join("index.html");
    render(&hb, "index", &index_view(r, &sites, &worst_of), &index)?;
    Ok(FleetPages {
        index,
        site_pages,
        node_pages: r.nodes.len(),
    })
}

/// The site pages, [`SITE_PAGE`] nodes each (nodes sorted by cell and id in place).
fn write_sites(
    hb: &Handlebars<'_>,
    r: &Report,
    dir: &Path,
    sites: &mut BTreeMap<&str, Vec<&NodeSummary>>,
    worst_of: &dyn Fn(&str) -> Option<Severity>,
) -> Result<usize, ReportError> {
    let mut written = 0;
    for (site, nodes) in sites.iter_mut() {
        nodes.sort_by(|a, b| (&a.cell, &a.id).cmp(&(&b.cell, &b.id)));
        let pages = nodes.len().div_ceil(SITE_PAGE).max(1);
        let page_name = |k: usize| format!("{}-{k}.html", file_name(site));
        for (k, chunk) in nodes.chunks(SITE_PAGE).enumerate() {
            let k = k + 1;
            let view = ListView {
                title: format!(
                    "site {site}: nodes {} to {} of {} ({})",
                    (k - 1) * SITE_PAGE + 1,
                    (k - 1) * SITE_PAGE + chunk.len(),
                    nodes.len(),
                    r.as_of
                ),
                csp: csp(),
                css: CSS,
                prev: (k > 1).then(|| page_name(k - 1)),
                next: (k < pages).then(|| page_name(k + 1)),
                nodes: chunk
                    .iter()
                    .map(|n| node_row(n, worst_of(&n.id), "../"))
                    .collect(),
            };
            render(hb, "list", &view, &dir.join("sites").join(page_name(k)))?;
            written += 1;
        }
    }
    Ok(written)
}

fn index_view(
    r: &Report,
    sites: &BTreeMap<&str, Vec<&NodeSummary>>,
    worst_of: &dyn Fn(&str) -> Option<Severity>,
) -> IndexView {
    let site_of: BTreeMap<&str, &str> = r
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), site_name(n)))
        .collect();
    let mut counts: BTreeMap<(&str, Severity), usize> = BTreeMap::new();
    let mut totals: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        let site = site_of.get(f.node.as_str()).copied().unwrap_or(NO_SITE);
        *counts.entry((site, f.severity)).or_default() += 1;
        *totals.entry(f.severity).or_default() += 1;
    }
    let row = |c: &dyn Fn(Severity) -> usize| -> Vec<Count> {
        SEVERITIES_DESC
            .iter()
            .map(|s| Count {
                sev: s.as_str(),
                n: c(*s),
            })
            .collect()
    };
    let mut worst: Vec<(&NodeSummary, Option<Severity>)> =
        r.nodes.iter().map(|n| (n, worst_of(&n.id))).collect();
    worst.sort_by(|(a, wa), (b, wb)| {
        (
            a.compliant,
            std::cmp::Reverse(*wa),
            std::cmp::Reverse(a.findings),
            &a.id,
        )
            .cmp(&(
                b.compliant,
                std::cmp::Reverse(*wb),
                std::cmp::Reverse(b.findings),
                &b.id,
            ))
    });
    worst.truncate(WORST);
    let compliant = r.nodes.iter().filter(|n| n.compliant).count();
    IndexView {
        title: format!("nminus fleet compliance, {}", r.as_of),
        csp: csp(),
        css: CSS,
        verdict: r.verdict().as_str(),
        verdict_class: r.verdict().class(),
        incomplete_reasons: r.incomplete_reasons(),
        gate: r.gate.clone(),
        as_of: r.as_of.clone(),
        generated_at: r.generated_at.clone(),
        summary: Summary {
            nodes: r.nodes.len(),
            compliant,
            noncompliant: r.nodes.len() - compliant,
            findings: r.findings.len(),
            waived: r.waived.len(),
            problems: r.problems.len(),
        },
        severities: SEVERITIES_DESC.iter().map(|s| s.as_str()).collect(),
        sites: sites
            .iter()
            .map(|(site, nodes)| SiteRow {
                name: (*site).to_owned(),
                href: format!("sites/{}-1.html", file_name(site)),
                nodes: nodes.len(),
                noncompliant: nodes.iter().filter(|n| !n.compliant).count(),
                counts: row(&|s| counts.get(&(*site, s)).copied().unwrap_or(0)),
            })
            .collect(),
        totals: row(&|s| totals.get(&s).copied().unwrap_or(0)),
        worst_count: worst.len(),
        worst: worst.into_iter().map(|(n, w)| node_row(n, w, "")).collect(),
        problems: r
            .problems
            .iter()
            .take(WORST)
            .map(ToString::to_string)
            .collect(),
    }
}
