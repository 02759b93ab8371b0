//! The report: what `nminus scan` writes and every output format renders. The JSON schema of
//! this type is published at `reports/schema/report-v1.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Finding, Problem, Severity};

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
    pub problems: Vec<Problem>,
    /// Records of the feeds that could not be read (the rest of each feed was used).
    #[serde(default)]
    pub feed_problems: Vec<Problem>,
    /// Things the scan could not judge and how to fix that (`no advisory feed loaded: run nminus sync`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<String>,
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
