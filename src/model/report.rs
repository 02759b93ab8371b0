//! The report: what `nminus scan` writes and every output format renders. The JSON schema of
//! this type is published at `reports/schema/report-v1.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Ecosystem, Finding, Inventory, Problem, ReportProblem, Severity};

/// Current report schema version.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The tool that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolInfo {
    /// `nminus`.
    pub name: String,
    /// Version.
    pub version: String,
}

impl Default for ToolInfo {
    fn default() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// One feed as used by the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FeedStatus {
    /// Feed name.
    pub name: String,
    /// Kind (`osv`, `rustsec`, `ossa` …).
    pub kind: String,
    /// Whether it was loaded.
    pub loaded: bool,
    /// Advisories loaded.
    pub advisories: usize,
    /// Why it was not loaded, or how old it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Per-node summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeSummary {
    /// Node id.
    pub id: String,
    /// Site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// OS pretty name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Packages inventoried.
    pub packages: usize,
    /// Findings (not waived).
    pub findings: usize,
    /// Whether the node has no finding at or above the gate.
    pub compliant: bool,
}

/// The overall verdict of a report ([`Report::verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything judged, no node fails the gate.
    Compliant,
    /// Some node fails the gate; everything was judged.
    NotCompliant,
    /// Some node fails the gate, and something could not be judged.
    NotCompliantIncomplete,
    /// No node fails what could be judged, but something could not be judged.
    Incomplete,
}

impl Verdict {
    /// `COMPLIANT`, `NOT COMPLIANT`, `NOT COMPLIANT (INCOMPLETE)`, `INCOMPLETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "COMPLIANT",
            Self::NotCompliant => "NOT COMPLIANT",
            Self::NotCompliantIncomplete => "NOT COMPLIANT (INCOMPLETE)",
            Self::Incomplete => "INCOMPLETE",
        }
    }

    /// `ok`, `bad` or `warn` (the colour of the badge).
    pub fn class(self) -> &'static str {
        match self {
            Self::Compliant => "ok",
            Self::NotCompliant | Self::NotCompliantIncomplete => "bad",
            Self::Incomplete => "warn",
        }
    }
}

/// One OpenStack deliverable of one node, placed in openstack/releases: the currency view of
/// every report (compliant or not). Computed by `fleet::currency`, the one place a version is
/// mapped to a series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliverableCurrency {
    /// Node id.
    pub node: String,
    /// Deliverable (`nova`, `keystoneauth`).
    pub deliverable: String,
    /// The installed distribution (`nova`, `keystoneauth1`).
    pub package: String,
    /// Installed version.
    pub version: String,
    /// How it is installed (`distro:dpkg`, `venv:/openstack/venvs/nova-31.0.0`, `site:…`).
    pub install: super::Install,
    /// Deliverable type (`service`, `library`, `client-library`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Release model (`cycle-with-rc`, `cycle-with-intermediary`, `independent`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_model: Option<String>,
    /// Series codename (`gazpacho`; `independent`); absent when the version is in no release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Release id (`2026.1`), from 2023.1 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_id: Option<String>,
    /// The deliverable's own status in its series (its marker tags first), as of the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The series is a SLURP.
    #[serde(default)]
    pub slurp: bool,
    /// Released independently of the series (`_independent`): no series rule applies.
    #[serde(default)]
    pub independent: bool,
    /// Series behind n (0 = n); absent for independents and unknown versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<u32>,
    /// The newest final release of the deliverable in its series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_in_series: Option<String>,
    /// Final releases of its series newer than the installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<u32>,
    /// The version equals a release.
    #[serde(default)]
    pub exact: bool,
    /// For a pbr dev build: the release it is based on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub based_on: Option<String>,
    /// For a pbr dev build: commits after `based_on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits_after: Option<u64>,
    /// Other `series/deliverable` files that list the same version (upstream ambiguities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_in: Vec<String>,
}

impl DeliverableCurrency {
    /// `2026.1 gazpacho`, `victoria`, `independent`, `unknown`; a dev build adds its base
    /// (`2025.1 epoxy (build on 31.0.0 +12)`).
    pub fn series_label(&self) -> String {
        let series = match (&self.series, &self.release_id) {
            (Some(s), Some(id)) => format!("{id} {s}"),
            (Some(s), None) => s.clone(),
            _ => "unknown".to_owned(),
        };
        match (&self.based_on, self.commits_after) {
            (Some(b), Some(c)) => format!("{series} (build on {b} +{c})"),
            _ => series,
        }
    }

    /// `n`, `n-2`, or `-` (independent or unknown).
    pub fn lag_label(&self) -> String {
        match self.lag {
            Some(0) => "n".to_owned(),
            Some(l) => format!("n-{l}"),
            None => "-".to_owned(),
        }
    }
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Nodes scanned.
    pub nodes: usize,
    /// Packages judged.
    pub packages: usize,
    /// Findings (not waived).
    pub findings: usize,
    /// Waived findings.
    pub waived: usize,
    /// Findings by severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// Findings by code.
    pub by_code: BTreeMap<String, usize>,
    /// Problems on the scanned nodes and targets (unreadable or malformed files).
    pub problems: usize,
    /// Records of the feeds that could not be read.
    #[serde(default)]
    pub feed_problems: usize,
    /// Whether every node is compliant and nothing stopped the scan from judging.
    pub compliant: bool,
}

/// A scan report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// RFC 3339 time of the scan.
    pub generated_at: String,
    /// The date the verdicts are made for (`--as-of`), `YYYY-MM-DD`.
    pub as_of: String,
    /// The tool.
    pub tool: ToolInfo,
    /// The gate: findings at or above it make the scan fail (`--fail-on`).
    pub gate: String,
    /// Totals.
    pub summary: Summary,
    /// Per node.
    pub nodes: Vec<NodeSummary>,
    /// Findings not waived.
    pub findings: Vec<Finding>,
    /// Waived findings, with their waiver.
    pub waived: Vec<Finding>,
    /// Feeds used.
    pub feeds: Vec<FeedStatus>,
    /// What could not be read on the scanned nodes and targets.
    pub problems: Vec<ReportProblem>,
    /// Records of the feeds that could not be read (the rest of each feed was used).
    #[serde(default)]
    pub feed_problems: Vec<Problem>,
    /// Things the scan could not judge and how to fix that (`no advisory feed loaded: run nminus sync`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<String>,
    /// Every package of the scanned inventories, once per identity, with the nodes that have it
    /// (the SBOM of `--format cyclonedx`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<ReportComponent>,
    /// Every OpenStack deliverable of every node with its series, status, lag and patch
    /// currency, compliant or not (when openstack/releases was loaded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openstack: Vec<DeliverableCurrency>,
    /// The control plane as discovery last saw it (`serve --discover-cloud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<super::controlplane::ControlPlaneView>,
    /// Compliance of earlier scans, oldest first (`nminus report --history`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryPoint>,
}

/// One package identity of the scanned inventories and the nodes that have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReportComponent {
    /// `deb`, `rpm`, `apk`, `pypi`, `cargo` …
    #[schemars(with = "String")]
    pub ecosystem: Ecosystem,
    /// Package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Nodes where it is installed, sorted.
    pub nodes: Vec<String>,
}

/// Compliance at one earlier scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistoryPoint {
    /// The scan's `as_of` date, `YYYY-MM-DD`.
    pub date: String,
    /// Nodes scanned.
    pub nodes: usize,
    /// Nodes with no finding at or above the gate.
    pub compliant_nodes: usize,
    /// Findings (not waived).
    #[serde(default)]
    pub findings: usize,
}

impl Report {
    /// Whether everything was judged: no input left unread ([`Problem::leaves_incomplete`]) and
    /// no data missing (`not_judged`). `scan` exits 2 when it is not; reports say so.
    pub fn is_complete(&self) -> bool {
        self.not_judged.is_empty() && !self.problems.iter().any(ReportProblem::leaves_incomplete)
    }

    /// The one verdict every format shows: a node that fails the gate makes it not compliant;
    /// otherwise a report that could not judge everything is incomplete (never "not
    /// compliant" above a list of compliant nodes); else compliant.
    pub fn verdict(&self) -> Verdict {
        let failing = self.nodes.iter().any(|n| !n.compliant);
        match (failing, self.is_complete(), self.summary.compliant) {
            (true, true, _) => Verdict::NotCompliant,
            (true, false, _) => Verdict::NotCompliantIncomplete,
            (false, false, _) => Verdict::Incomplete,
            (false, true, true) => Verdict::Compliant,
            (false, true, false) => Verdict::NotCompliant,
        }
    }

    /// Why the report is incomplete, one line each (empty when it is complete): what was not
    /// judged, and how many node problems leave it incomplete.
    pub fn incomplete_reasons(&self) -> Vec<String> {
        let mut out = self.not_judged.clone();
        let n = self
            .problems
            .iter()
            .filter(|p| p.leaves_incomplete())
            .count();
        if n > 0 {
            out.push(format!(
                "{n} problem(s) on the scanned nodes left their inventory incomplete (see problems)"
            ));
        }
        out
    }

    /// This report as one point of a compliance history.
    pub fn history_point(&self) -> HistoryPoint {
        HistoryPoint {
            date: self.as_of.clone(),
            nodes: self.nodes.len(),
            compliant_nodes: self.nodes.iter().filter(|n| n.compliant).count(),
            findings: self.findings.len(),
        }
    }
}

/// The packages of `inventories`, one entry per (ecosystem, name, version, purl), sorted, each
/// with the sorted ids of the nodes that have it.
pub fn report_inventory<'a>(
    inventories: impl IntoIterator<Item = &'a Inventory>,
) -> Vec<ReportComponent> {
    // Sorted by the ecosystem's name (`apk` < `cargo` < `deb` …), as the report always was.
    type Key = (&'static str, Ecosystem, String, String, String);
    let mut map: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    for inv in inventories {
        for p in &inv.packages {
            let key = (
                p.ecosystem.as_str(),
                p.ecosystem,
                p.name.clone(),
                p.version.clone(),
                p.purl.clone(),
            );
            map.entry(key).or_default().push(inv.node.id.clone());
        }
    }
    map.into_iter()
        .map(|((_, ecosystem, name, version, purl), mut nodes)| {
            nodes.sort();
            nodes.dedup();
            ReportComponent {
                ecosystem,
                name,
                version,
                purl: (!purl.is_empty()).then_some(purl),
                nodes,
            }
        })
        .collect()
}

/// The JSON schema of [`Report`], as published in `reports/schema/report-v1.json`.
pub fn report_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(Report)).unwrap_or_default();
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$id".to_owned(),
            serde_json::Value::String("urn:nminus:schema:report-v1".to_owned()),
        );
    }
    s
}
