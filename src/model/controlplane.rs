//! The control plane as the report shows it: the newest discovery round of `serve
//! --discover-cloud` (endpoints, versions, implied series, findings), condensed for readers.

use serde::{Deserialize, Serialize};

/// The control-plane section of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ControlPlaneView {
    /// The cloud discovered.
    pub cloud: String,
    /// When (RFC 3339).
    pub discovered_at: String,
    /// Regions catalogued.
    pub regions: Vec<String>,
    /// Endpoints.
    pub endpoints: Vec<ControlPlaneEndpoint>,
    /// Findings (codes of `nminus discover`).
    pub findings: Vec<ControlPlaneFinding>,
}

/// One endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ControlPlaneEndpoint {
    /// Official service type.
    pub service_type: String,
    /// Project serving it (`nova`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Region.
    pub region: String,
    /// Site.
    pub site: String,
    /// Interface.
    pub interface: String,
    /// URL.
    pub url: String,
    /// `ok`, `no-version-document`, `unreachable`.
    pub status: String,
    /// Maximum microversion, or version id (`2.96`, `3.14`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// The series the maximum implies (oldest to newest candidate: `2024.2..2025.1` as names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<String>,
}

/// One finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ControlPlaneFinding {
    /// Code (`undiscovered-service`).
    pub code: String,
    /// `info`, `warning`, `high`.
    pub severity: String,
    /// Service type (empty for a whole region).
    pub service_type: String,
    /// Region.
    pub region: String,
    /// What and why.
    pub message: String,
}
