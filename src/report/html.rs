//! HTML: one self-contained file (inline CSS, JS and server-drawn SVG charts; no network at all)
//! rendered with handlebars from `reports/templates/` (or an operator's `--template`).
//!
//! Everything that came from a node is untrusted. Templates print it with `{{ }}` only, which
//! HTML-escapes (`< > & " ' ` =`), and always inside quoted attributes; the client-side data is a
//! `<script type="application/json">` block written by the `nminus_json` helper with `<`, `>`,
//! `&`, U+2028 and U+2029 as `\uXXXX` escapes, read with `JSON.parse` and put in the page with
//! `textContent` only. A Content-Security-Policy meta tag allows exactly the shipped style and
//! script by their SHA-256 hashes, so an injected script would not run even if escaping failed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::OnceLock;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::util::{base64, code_title, finding_id, sorted, SEVERITIES_DESC};
use super::{Format, ReportError, ReportWriter, WriterOptions};
use crate::model::{Finding, HistoryPoint, Report, Severity};

const TEMPLATE: &str = include_str!("../../reports/templates/report.hbs");
const FINDINGS_PARTIAL: &str = include_str!("../../reports/templates/findings.hbs");
const CSS: &str = include_str!("../../reports/templates/report.css");
const JS: &str = include_str!("../../reports/templates/report.js");

/// The HTML writer.
#[derive(Debug)]
pub(super) struct HtmlWriter(pub(super) WriterOptions);

impl ReportWriter for HtmlWriter {
    fn format(&self) -> Format {
        Format::Html
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
        static SHIPPED: OnceLock<Handlebars<'static>> = OnceLock::new();
        let custom;
        let hb = match self.0.template.as_deref() {
            Some(t) => {
                custom = registry(Some(t))?;
                &custom
            }
            None => match SHIPPED.get() {
                Some(hb) => hb,
                None => {
                    let hb = registry(None)?;
                    SHIPPED.get_or_init(|| hb)
                }
            },
        };
        let view = view(report);
        let html = hb
            .render("report", &view)
            .map_err(|e| ReportError::Template(e.to_string()))?;
        out.write_all(html.as_bytes())?;
        Ok(())
    }
}

fn registry(custom: Option<&str>) -> Result<Handlebars<'static>, ReportError> {
    let mut hb = Handlebars::new();
    hb.register_template_string("report", custom.unwrap_or(TEMPLATE))
        .map_err(|e| ReportError::Template(e.to_string()))?;
    hb.register_partial("findings", FINDINGS_PARTIAL)
        .map_err(|e| ReportError::Template(e.to_string()))?;
    hb.register_partial("controlplane", super::controlplane::HTML_PARTIAL)
        .map_err(|e| ReportError::Template(e.to_string()))?;
    hb.register_helper("nminus_style", Box::new(style_helper));
    hb.register_helper("nminus_script", Box::new(script_helper));
    hb.register_helper("nminus_json", Box::new(json_helper));
    Ok(hb)
}

fn style_helper(
    _: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    out.write(CSS)?;
    Ok(())
}

fn script_helper(
    _: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    out.write(JS)?;
    Ok(())
}

/// `{{nminus_json value}}`: `value` as JSON that is inert inside `<script type="application/json">`.
fn json_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let v = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("nminus_json", 0))?;
    let text = serde_json::to_string(v.value())
        .map_err(|e| RenderErrorReason::Other(format!("nminus_json: {e}")))?;
    out.write(&json_for_script(&text))?;
    Ok(())
}

/// JSON text made inert inside a `<script>` element: `<`, `>`, `&`, U+2028 and U+2029 (which
/// can only occur inside JSON strings) written as `\uXXXX` escapes, so no `</script>` or `<!--`
/// can appear.
pub(super) fn json_for_script(json: &str) -> String {
    let mut s = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => s.push_str("\\u003c"),
            '>' => s.push_str("\\u003e"),
            '&' => s.push_str("\\u0026"),
            '\u{2028}' => s.push_str("\\u2028"),
            '\u{2029}' => s.push_str("\\u2029"),
            c => s.push(c),
        }
    }
    s
}

fn sha256_b64(s: &str) -> String {
    base64(&Sha256::digest(s.as_bytes()))
}

/// The Content-Security-Policy: nothing but the shipped style and script (by hash) and data:
/// images.
fn csp() -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'",
        sha256_b64(CSS),
        sha256_b64(JS)
    )
}

fn sev_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#991b1b",
        Severity::High => "#dc2626",
        Severity::Medium => "#d97706",
        Severity::Low => "#2563eb",
        Severity::Unknown => "#7c3aed",
        Severity::None => "#6b7280",
    }
}

/// Only plain web links become `href`s (never `javascript:` or `data:`).
fn safe_url(u: Option<&String>) -> Option<String> {
    u.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .cloned()
}

fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

#[derive(Serialize)]
struct View<'a> {
    title: String,
    tool_name: &'a str,
    tool_version: &'a str,
    generated_at: &'a str,
    as_of: &'a str,
    gate: &'a str,
    compliant: bool,
    verdict: &'static str,
    verdict_class: &'static str,
    incomplete_reasons: Vec<String>,
    csp: String,
    summary: SummaryView,
    severities: Vec<SevView>,
    donut: Donut,
    codes: Chart,
    sites: SitesView,
    history: Option<HistoryView>,
    nodes: Vec<NodeView>,
    openstack: &'a [crate::model::DeliverableCurrency],
    control_plane: Option<&'a crate::model::controlplane::ControlPlaneView>,
    packages: Vec<PackageView>,
    waived: Vec<FindingView>,
    problems: Vec<ProblemView>,
    feed_problems: usize,
    not_judged: &'a [String],
    feeds: Vec<FeedView>,
    filter_codes: Vec<&'static str>,
    filter_sites: Vec<String>,
    data: Blob,
}

#[derive(Serialize)]
struct SummaryView {
    nodes: usize,
    compliant_nodes: usize,
    /// What a node without a failing finding is called: "compliant nodes", or, when something
    /// was not judged, "passing what was judged" (never "compliant" in an incomplete report).
    passing_label: &'static str,
    /// The colour of those nodes in the site chart (green, or amber when incomplete).
    passing_color: &'static str,
    noncompliant_nodes: usize,
    packages: usize,
    findings: usize,
    waived: usize,
    problems: usize,
}

#[derive(Serialize)]
struct SevView {
    name: &'static str,
    rank: usize,
    count: usize,
    color: &'static str,
}

#[derive(Serialize)]
struct Donut {
    total: usize,
    slices: Vec<Slice>,
}

#[derive(Serialize)]
struct Slice {
    name: &'static str,
    count: usize,
    color: &'static str,
    dash: String,
    offset: String,
}

#[derive(Serialize)]
struct Chart {
    height: usize,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    title: &'static str,
    count: usize,
    y: usize,
    text_y: usize,
    width: String,
    count_x: String,
}

#[derive(Serialize)]
struct SitesView {
    height: usize,
    rows: Vec<SiteRow>,
}

#[derive(Serialize)]
struct SiteRow {
    site: String,
    cells: String,
    nodes: usize,
    compliant: usize,
    noncompliant: usize,
    findings: usize,
    waived: usize,
    worst: &'static str,
    y: usize,
    text_y: usize,
    ok_width: String,
    bad_x: String,
    bad_width: String,
    count_x: String,
}

#[derive(Serialize)]
struct HistoryView {
    width: usize,
    points: Vec<HistoryBar>,
    line: String,
}

#[derive(Serialize)]
struct HistoryBar {
    date: String,
    nodes: usize,
    compliant_nodes: usize,
    findings: usize,
    percent: String,
    x: String,
    y: String,
    height: String,
    width: String,
    label_x: String,
    show_label: bool,
}

#[derive(Serialize)]
struct NodeView {
    id: String,
    site: String,
    cell: String,
    os: String,
    packages: usize,
    findings: usize,
    waived: usize,
    compliant: bool,
    worst: &'static str,
    rows: Vec<FindingView>,
    waived_rows: Vec<FindingView>,
    search: String,
}

#[derive(Serialize)]
struct PackageView {
    name: String,
    ecosystem: String,
    versions: String,
    nodes: usize,
    findings: usize,
    worst: &'static str,
    rows: Vec<PackageRow>,
}

/// One finding of a package as found on one or more nodes (same version, code, advisory and
/// waiver).
#[derive(Serialize)]
struct PackageRow {
    severity: &'static str,
    version: String,
    code: &'static str,
    code_title: &'static str,
    id: String,
    url: Option<String>,
    summary: String,
    fixed: String,
    node_count: usize,
    nodes: String,
    waiver: Option<WaiverView>,
}

#[derive(Serialize)]
struct FindingView {
    node: String,
    site: String,
    code: &'static str,
    code_title: &'static str,
    severity: &'static str,
    ecosystem: String,
    name: String,
    version: String,
    id: String,
    url: Option<String>,
    summary: String,
    fixed: String,
    message: String,
    location: String,
    fingerprint: String,
    waiver: Option<WaiverView>,
}

#[derive(Serialize)]
struct WaiverView {
    id: String,
    reason: String,
    owner: String,
    expires: String,
}

#[derive(Serialize)]
struct ProblemView {
    location: String,
    kind: String,
    message: String,
}

#[derive(Serialize)]
struct FeedView {
    name: String,
    kind: String,
    loaded: bool,
    advisories: usize,
    note: String,
}

/// One explorer row: `[severity rank, code, node, site, package, version, id, fixed, waived,
/// message]`.
type BlobRow = (
    usize,
    &'static str,
    String,
    String,
    String,
    String,
    String,
    String,
    u8,
    String,
);

/// What the client-side explorer reads: severity names, then one compact row per finding.
#[derive(Serialize)]
struct Blob {
    severities: Vec<&'static str>,
    rows: Vec<BlobRow>,
}

fn sev_rank(s: Severity) -> usize {
    SEVERITIES_DESC.iter().position(|x| *x == s).unwrap_or(0)
}

fn finding_view(f: &Finding, site: &str) -> FindingView {
    FindingView {
        node: f.node.clone(),
        site: site.to_owned(),
        code: f.code.as_str(),
        code_title: code_title(f.code),
        severity: f.severity.as_str(),
        ecosystem: f.subject.ecosystem.to_string(),
        name: f.subject.name.clone(),
        version: f.subject.version.clone(),
        id: finding_id(f).to_owned(),
        url: f.advisory.as_ref().and_then(|a| safe_url(a.url.as_ref())),
        summary: f
            .advisory
            .as_ref()
            .map(|a| a.summary.clone())
            .unwrap_or_default(),
        fixed: f.fixed_in.join(", "),
        message: f.evidence.message.clone(),
        location: f
            .subject
            .location
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        fingerprint: f.fingerprint.clone(),
        waiver: f.waived_by.as_ref().map(|w| WaiverView {
            id: w.id.clone(),
            reason: w.reason.clone(),
            owner: w.owner.clone(),
            expires: w.expires.clone(),
        }),
    }
}

const NO_SITE: &str = "(no site)";

fn codes_chart(r: &Report) -> Chart {
    let mut by_code: BTreeMap<crate::model::FindingCode, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_code.entry(f.code).or_default() += 1;
    }
    let max_code = by_code.values().copied().max().unwrap_or(0).max(1);
    let mut code_rows: Vec<(crate::model::FindingCode, usize)> = by_code.into_iter().collect();
    code_rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Chart {
        height: code_rows.len() * 26 + 4,
        bars: code_rows
            .iter()
            .enumerate()
            .map(|(i, (c, n))| {
                let w = 300.0 * *n as f64 / max_code as f64;
                Bar {
                    label: c.as_str().to_owned(),
                    title: code_title(*c),
                    count: *n,
                    y: i * 26 + 2,
                    text_y: i * 26 + 17,
                    width: num(w.max(1.0)),
                    count_x: num(170.0 + w.max(1.0) + 6.0),
                }
            })
            .collect(),
    }
}

fn sites_view(r: &Report, site_of: &BTreeMap<&str, &str>) -> SitesView {
    #[derive(Default)]
    struct Acc<'a> {
        cells: BTreeSet<&'a str>,
        nodes: usize,
        compliant: usize,
        findings: usize,
        waived: usize,
        worst: Option<Severity>,
    }
    let mut sites: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    for n in &r.nodes {
        let a = sites
            .entry(n.site.as_deref().unwrap_or(NO_SITE))
            .or_default();
        a.nodes += 1;
        a.compliant += usize::from(n.compliant);
        if let Some(c) = &n.cell {
            a.cells.insert(c);
        }
    }
    for f in &r.findings {
        let a = sites
            .entry(site_of.get(f.node.as_str()).copied().unwrap_or(NO_SITE))
            .or_default();
        a.findings += 1;
        a.worst = a.worst.max(Some(f.severity));
    }
    for f in &r.waived {
        sites
            .entry(site_of.get(f.node.as_str()).copied().unwrap_or(NO_SITE))
            .or_default()
            .waived += 1;
    }
    let max_nodes = sites.values().map(|a| a.nodes).max().unwrap_or(0).max(1);
    let site_rows: Vec<SiteRow> = sites
        .iter()
        .enumerate()
        .map(|(i, (s, a))| {
            let ok = 300.0 * a.compliant as f64 / max_nodes as f64;
            let bad = 300.0 * (a.nodes - a.compliant) as f64 / max_nodes as f64;
            SiteRow {
                site: (*s).to_owned(),
                cells: a.cells.iter().copied().collect::<Vec<_>>().join(", "),
                nodes: a.nodes,
                compliant: a.compliant,
                noncompliant: a.nodes - a.compliant,
                findings: a.findings,
                waived: a.waived,
                worst: a.worst.map_or("", Severity::as_str),
                y: i * 26 + 2,
                text_y: i * 26 + 17,
                ok_width: num(ok),
                bad_x: num(170.0 + ok),
                bad_width: num(bad),
                count_x: num(170.0 + ok + bad + 6.0),
            }
        })
        .collect();
    SitesView {
        height: site_rows.len() * 26 + 4,
        rows: site_rows,
    }
}

fn nodes_view(r: &Report, open: &[&Finding], waived: &[&Finding]) -> Vec<NodeView> {
    let mut open_by_node: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in open {
        open_by_node.entry(f.node.as_str()).or_default().push(f);
    }
    let mut waived_by_node: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in waived {
        waived_by_node.entry(f.node.as_str()).or_default().push(f);
    }
    let mut node_list: Vec<&crate::model::NodeSummary> = r.nodes.iter().collect();
    node_list.sort_by(|a, b| (&a.site, &a.cell, &a.id).cmp(&(&b.site, &b.cell, &b.id)));
    node_list
        .iter()
        .map(|n| {
            let site = n.site.clone().unwrap_or_default();
            let rows: Vec<FindingView> = open_by_node
                .get(n.id.as_str())
                .map(|v| v.iter().map(|f| finding_view(f, &site)).collect())
                .unwrap_or_default();
            let waived_rows: Vec<FindingView> = waived_by_node
                .get(n.id.as_str())
                .map(|v| v.iter().map(|f| finding_view(f, &site)).collect())
                .unwrap_or_default();
            let worst = open_by_node
                .get(n.id.as_str())
                .and_then(|v| v.first())
                .map_or("", |f| f.severity.as_str());
            NodeView {
                id: n.id.clone(),
                site: site.clone(),
                cell: n.cell.clone().unwrap_or_default(),
                os: n.os.clone().unwrap_or_default(),
                packages: n.packages,
                findings: n.findings,
                waived: waived_rows.len(),
                compliant: n.compliant,
                worst,
                search: node_search(n, &rows, &waived_rows),
                rows,
                waived_rows,
            }
        })
        .collect()
}

fn packages_view(open: &[&Finding], waived: &[&Finding]) -> Vec<PackageView> {
    let mut by_pkg: BTreeMap<(&str, &str), Vec<&Finding>> = BTreeMap::new();
    for f in open.iter().chain(waived.iter()) {
        by_pkg
            .entry((f.subject.name.as_str(), f.subject.ecosystem.as_str()))
            .or_default()
            .push(f);
    }
    let mut packages: Vec<PackageView> = by_pkg
        .into_iter()
        .map(|((name, eco), fs)| {
            let versions: BTreeSet<&str> = fs.iter().map(|f| f.subject.version.as_str()).collect();
            let nodes: BTreeSet<&str> = fs.iter().map(|f| f.node.as_str()).collect();
            let worst = fs
                .iter()
                .filter(|f| f.waived_by.is_none())
                .map(|f| f.severity)
                .max();
            PackageView {
                name: name.to_owned(),
                ecosystem: eco.to_owned(),
                versions: versions.into_iter().collect::<Vec<_>>().join(", "),
                nodes: nodes.len(),
                findings: fs.iter().filter(|f| f.waived_by.is_none()).count(),
                worst: worst.map_or("", Severity::as_str),
                rows: package_rows(&fs),
            }
        })
        .collect();
    packages.sort_by(|a, b| {
        (std::cmp::Reverse(sev_order(a.worst)), &a.name, &a.ecosystem).cmp(&(
            std::cmp::Reverse(sev_order(b.worst)),
            &b.name,
            &b.ecosystem,
        ))
    });
    packages
}

fn view(r: &Report) -> View<'_> {
    let site_of: BTreeMap<&str, &str> = r
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.site.as_deref().unwrap_or(NO_SITE)))
        .collect();
    let site = |node: &str| site_of.get(node).copied().unwrap_or(NO_SITE).to_owned();
    let open = sorted(&r.findings);
    let waived = sorted(&r.waived);

    // Severities (counted from the findings, so the page always agrees with itself).
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_sev.entry(f.severity).or_default() += 1;
    }
    let severities: Vec<SevView> = SEVERITIES_DESC
        .iter()
        .map(|s| SevView {
            name: s.as_str(),
            rank: sev_rank(*s),
            count: by_sev.get(s).copied().unwrap_or(0),
            color: sev_color(*s),
        })
        .collect();
    let donut = donut(&severities, r.findings.len());

    let codes = codes_chart(r);

    let sites_view = sites_view(r, &site_of);

    let nodes = nodes_view(r, &open, &waived);

    let packages = packages_view(&open, &waived);

    // History: the earlier points, then this report (unless already recorded for its date).
    let mut points: Vec<HistoryPoint> = r.history.clone();
    if points.last().is_none_or(|p| p.date != r.as_of) {
        points.push(r.history_point());
    }
    let history = (points.len() > 1).then(|| history(&points));

    let compliant_nodes = r.nodes.iter().filter(|n| n.compliant).count();
    let data = Blob {
        severities: SEVERITIES_DESC.iter().map(|s| s.as_str()).collect(),
        rows: open
            .iter()
            .chain(waived.iter())
            .map(|f| {
                (
                    sev_rank(f.severity),
                    f.code.as_str(),
                    f.node.clone(),
                    site(&f.node),
                    f.subject.name.clone(),
                    f.subject.version.clone(),
                    finding_id(f).to_owned(),
                    f.fixed_in.join(", "),
                    u8::from(f.waived_by.is_some()),
                    f.evidence.message.clone(),
                )
            })
            .collect(),
    };
    let mut filter_codes: Vec<&'static str> = r
        .findings
        .iter()
        .chain(&r.waived)
        .map(|f| f.code.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    filter_codes.sort_unstable();
    View {
        title: format!("nminus compliance report, {}", r.as_of),
        tool_name: &r.tool.name,
        tool_version: &r.tool.version,
        generated_at: &r.generated_at,
        as_of: &r.as_of,
        gate: &r.gate,
        compliant: r.summary.compliant,
        verdict: r.verdict().as_str(),
        verdict_class: r.verdict().class(),
        incomplete_reasons: r.incomplete_reasons(),
        csp: csp(),
        summary: SummaryView {
            nodes: r.nodes.len(),
            compliant_nodes,
            passing_label: if r.is_complete() {
                "compliant nodes"
            } else {
                "passing what was judged"
            },
            passing_color: if r.is_complete() {
                "#15803d"
            } else {
                "#b45309"
            },
            noncompliant_nodes: r.nodes.len() - compliant_nodes,
            packages: r.summary.packages,
            findings: r.findings.len(),
            waived: r.waived.len(),
            problems: r.problems.len(),
        },
        severities,
        donut,
        codes,
        filter_sites: sites_view.rows.iter().map(|s| s.site.clone()).collect(),
        sites: sites_view,
        history,
        nodes,
        openstack: &r.openstack,
        control_plane: r.control_plane.as_ref(),
        packages,
        waived: waived
            .iter()
            .map(|f| finding_view(f, &site(&f.node)))
            .collect(),
        problems: r
            .problems
            .iter()
            .map(|p| ProblemView {
                location: p.report_location().to_string(),
                kind: serde_json::to_value(p.problem.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                message: p.problem.message.clone(),
            })
            .collect(),
        feed_problems: r.feed_problems.len(),
        not_judged: &r.not_judged,
        feeds: r
            .feeds
            .iter()
            .map(|f| FeedView {
                name: f.name.clone(),
                kind: f.kind.clone(),
                loaded: f.loaded,
                advisories: f.advisories,
                note: f.note.clone().unwrap_or_default(),
            })
            .collect(),
        filter_codes,
        data,
    }
}

/// The findings of one package grouped by version, code, advisory and waiver, most severe first,
/// each with the nodes that have it.
fn package_rows(fs: &[&Finding]) -> Vec<PackageRow> {
    type Key<'a> = (
        std::cmp::Reverse<Severity>,
        &'a str,
        crate::model::FindingCode,
        &'a str,
        Option<&'a str>,
    );
    let mut groups: BTreeMap<Key<'_>, Vec<&Finding>> = BTreeMap::new();
    for f in fs {
        groups
            .entry((
                std::cmp::Reverse(f.severity),
                f.subject.version.as_str(),
                f.code,
                finding_id(f),
                f.waived_by.as_ref().map(|w| w.id.as_str()),
            ))
            .or_default()
            .push(f);
    }
    groups
        .into_values()
        .map(|g| {
            let f = g[0];
            let v = finding_view(f, "");
            let nodes: BTreeSet<&str> = g.iter().map(|f| f.node.as_str()).collect();
            PackageRow {
                severity: v.severity,
                version: v.version,
                code: v.code,
                code_title: v.code_title,
                id: v.id,
                url: v.url,
                summary: v.summary,
                fixed: v.fixed,
                node_count: nodes.len(),
                nodes: nodes.into_iter().collect::<Vec<_>>().join(", "),
                waiver: v.waiver,
            }
        })
        .collect()
}

fn sev_order(name: &str) -> Option<Severity> {
    Severity::parse_word(name)
}

/// What the search box matches a node on: its id, site, cell, OS, and its findings' packages
/// and ids, lower-case.
fn node_search(
    n: &crate::model::NodeSummary,
    rows: &[FindingView],
    waived: &[FindingView],
) -> String {
    let mut words: BTreeSet<String> = BTreeSet::new();
    for w in [Some(&n.id), n.site.as_ref(), n.cell.as_ref(), n.os.as_ref()]
        .into_iter()
        .flatten()
    {
        words.insert(w.to_lowercase());
    }
    for f in rows.iter().chain(waived) {
        words.insert(f.name.to_lowercase());
        words.insert(f.id.to_lowercase());
    }
    words.into_iter().collect::<Vec<_>>().join(" ")
}

/// A donut of `r = 60` around (80, 80): one stroked circle per severity, its dash as long as
/// its share of the circumference.
fn donut(sevs: &[SevView], total: usize) -> Donut {
    let circ = 2.0 * std::f64::consts::PI * 60.0;
    let mut acc = 0.0;
    let mut slices = Vec::new();
    if total > 0 {
        for s in sevs.iter().filter(|s| s.count > 0) {
            let len = circ * s.count as f64 / total as f64;
            slices.push(Slice {
                name: s.name,
                count: s.count,
                color: s.color,
                dash: format!("{} {}", num(len), num(circ - len)),
                offset: num(-acc),
            });
            acc += len;
        }
    }
    Donut { total, slices }
}

/// Bars of the compliant share of nodes per scan, 160 px high, with a line through their tops.
fn history(points: &[HistoryPoint]) -> HistoryView {
    let n = points.len();
    let step = (960.0 / n as f64).clamp(8.0, 90.0);
    let bar = (step * 0.7).max(4.0);
    // Date labels are about 70 px wide: one every `every` bars keeps them apart.
    let every = ((80.0 / step).ceil() as usize).max(1);
    let mut line = Vec::new();
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let pct = if p.nodes == 0 {
                100.0
            } else {
                100.0 * p.compliant_nodes as f64 / p.nodes as f64
            };
            let h = 1.6 * pct;
            let x = 56.0 + step * i as f64;
            line.push(format!("{},{}", num(x + bar / 2.0), num(170.0 - h)));
            HistoryBar {
                date: p.date.clone(),
                nodes: p.nodes,
                compliant_nodes: p.compliant_nodes,
                findings: p.findings,
                percent: format!("{pct:.0}"),
                x: num(x),
                y: num(170.0 - h),
                height: num(h.max(0.5)),
                width: num(bar),
                label_x: num(x + bar / 2.0),
                show_label: i % every == 0 || i + 1 == n,
            }
        })
        .collect();
    HistoryView {
        width: (56.0 + step * n as f64 + 40.0).ceil() as usize,
        points: bars,
        line: line.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_for_script_cannot_close_the_element() {
        let j = serde_json::to_string("</script><!-- & \u{2028}").unwrap();
        let s = json_for_script(&j);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert_eq!(
            serde_json::from_str::<String>(&s).unwrap(),
            "</script><!-- & \u{2028}"
        );
    }

    #[test]
    fn shipped_assets_cannot_close_their_elements() {
        assert!(!JS.contains("</script"));
        assert!(!CSS.contains("</style"));
    }
}
