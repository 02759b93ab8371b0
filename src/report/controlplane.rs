//! The control-plane section of the Markdown and HTML reports (the newest discovery round of
//! `serve --discover-cloud`): findings first, then every endpoint with its version and series.
//! The HTML side is the `controlplane` partial (`reports/templates/controlplane.hbs`).

use std::fmt::Write as _;

use crate::model::controlplane::ControlPlaneView;

/// The partial the HTML template includes.
pub(super) const HTML_PARTIAL: &str = include_str!("../../reports/templates/controlplane.hbs");

/// The Markdown section, appended to `s`; `md` escapes a cell.
pub(super) fn markdown(v: &ControlPlaneView, s: &mut String, md: impl Fn(&str) -> String) {
    let _ = writeln!(
        s,
        "### Control plane ({}, discovered {})\n",
        md(&v.cloud),
        md(&v.discovered_at)
    );
    let _ = writeln!(
        s,
        "{} endpoints in {} regions, {} findings.\n",
        v.endpoints.len(),
        v.regions.len(),
        v.findings.len()
    );
    if !v.findings.is_empty() {
        s.push_str(
            "| severity | finding | service | region | what |\n| --- | --- | --- | --- | --- |\n",
        );
        for f in &v.findings {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                md(&f.severity),
                md(&f.code),
                md(&f.service_type),
                md(&f.region),
                md(&f.message)
            );
        }
        s.push('\n');
    }
    s.push_str("| service | region | interface | status | max version | series | URL |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for e in &v.endpoints {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md(&e.service_type),
            md(&e.region),
            md(&e.interface),
            md(&e.status),
            md(e.max_version.as_deref().unwrap_or("–")),
            md(&e.series.join(", ")),
            md(&e.url)
        );
    }
    s.push('\n');
}
