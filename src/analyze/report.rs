//! Assemble a [`Report`] from judged inventories, and the CI gate.

use std::collections::BTreeMap;

use crate::model::{
    FeedStatus, Finding, Inventory, NodeSummary, Problem, Report, ReportProblem, Severity, Summary,
    ToolInfo, REPORT_SCHEMA_VERSION,
};
use crate::policy::Gate;

/// Inputs of [`build_report`].
#[derive(Debug)]
pub struct ReportInput<'a> {
    /// Judged inventories, each with its findings.
    pub nodes: Vec<(&'a Inventory, Vec<Finding>)>,
    /// Feeds used.
    pub feeds: Vec<FeedStatus>,
    /// Problems outside the inventories (unreadable targets).
    pub problems: Vec<Problem>,
    /// Problems inside feeds.
    pub feed_problems: Vec<Problem>,
    /// The gate.
    pub gate: &'a Gate,
    /// `generated_at`.
    pub generated_at: String,
    /// `as_of`.
    pub as_of: String,
    /// What could not be judged.
    pub not_judged: Vec<String>,
}

/// Build the report: findings split into waived and not, summaries per node and overall.
pub fn build_report(input: ReportInput<'_>) -> Report {
    let mut findings = Vec::new();
    let mut waived = Vec::new();
    let mut nodes = Vec::new();
    let mut problems: Vec<ReportProblem> = input
        .problems
        .into_iter()
        .map(ReportProblem::scan)
        .collect();
    let mut packages = 0;
    let inventory = crate::model::report_inventory(input.nodes.iter().map(|(inv, _)| *inv));
    for (inv, fs) in input.nodes {
        packages += inv.packages.len();
        let (w, open): (Vec<Finding>, Vec<Finding>) =
            fs.into_iter().partition(|f| f.waived_by.is_some());
        nodes.push(NodeSummary {
            id: inv.node.id.clone(),
            site: inv.node.site.clone(),
            cell: inv.node.cell.clone(),
            os: inv
                .os
                .as_ref()
                .map(|o| o.pretty_name.clone().unwrap_or_else(|| o.id.clone())),
            packages: inv.packages.len(),
            findings: open.len(),
            compliant: !open.iter().any(|f| input.gate.fails(f)),
        });
        // The report's problems are the whole fleet's: each keeps its node.
        problems.extend(
            inv.problems
                .iter()
                .map(|p| ReportProblem::of_node(&inv.node.id, p.clone())),
        );
        findings.extend(open);
        waived.extend(w);
    }
    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        *by_severity.entry(f.severity).or_default() += 1;
        *by_code.entry(f.code.as_str().to_owned()).or_default() += 1;
    }
    let compliant = nodes.iter().all(|n| n.compliant) && input.not_judged.is_empty();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        generated_at: input.generated_at,
        as_of: input.as_of,
        tool: ToolInfo::default(),
        gate: input.gate.to_string(),
        summary: Summary {
            nodes: nodes.len(),
            packages,
            findings: findings.len(),
            waived: waived.len(),
            by_severity,
            by_code,
            problems: problems.len(),
            feed_problems: input.feed_problems.len(),
            compliant,
        },
        nodes,
        findings,
        waived,
        feeds: input.feeds,
        problems,
        feed_problems: input.feed_problems,
        not_judged: input.not_judged,
        inventory,
        openstack: Vec::new(),
        control_plane: None,
        history: Vec::new(),
    }
}
