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

/// What a plan checks its steps against: the catalog endpoints of one discovery round (`nminus
/// discover`'s JSON, or the newest round `serve --discover-cloud` stored) and upstream's
/// per-series maximum versions of the services catalogued (`<data>/openstack-api`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanControlPlane {
    /// The cloud discovered.
    pub cloud: String,
    /// When (RFC 3339).
    pub discovered_at: String,
    /// Where the round was read (`discovery.json`, `the database …`, `the server at …`).
    pub source: String,
    /// The catalog's endpoints and what each answered.
    pub endpoints: Vec<CatalogEndpoint>,
    /// Each series' maximum, per project catalogued.
    pub maxima: Vec<SeriesMaximum>,
}

/// How a service tells its code: microversions, or version ids.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum VersionKind {
    /// A maximum microversion (`2.100` for nova).
    Microversion,
    /// The highest version id of the major (`3.14` for keystone).
    VersionId,
}

impl VersionKind {
    /// In words: `max microversion`, `version id`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Microversion => "max microversion",
            Self::VersionId => "version id",
        }
    }
}

/// One catalog endpoint, as a plan reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CatalogEndpoint {
    /// Official service type (`block-storage`).
    pub service_type: String,
    /// The catalog's type (`volumev3`).
    pub catalog_type: String,
    /// The catalog's service name (`cinderv3`).
    pub service_name: String,
    /// Project serving it (`cinder`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Region.
    pub region: String,
    /// Site (the region unless mapped).
    pub site: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// The catalog URL.
    pub url: String,
    /// The version document a check reads (the versioned root, else the root), when the URL
    /// gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_url: Option<String>,
    /// Catalog endpoint id.
    pub endpoint_id: String,
    /// `ok`, `no-version-document`, `unreachable`.
    pub status: String,
    /// What the maximum is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_kind: Option<VersionKind>,
    /// The maximum answered (`2.96`, `3.14`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// Series whose code serves that maximum, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<String>,
}

/// One series' maximum version of one project, from its code at the series' final ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeriesMaximum {
    /// Project (`nova`).
    pub project: String,
    /// Series codename, lowercase (`epoxy`).
    pub series: String,
    /// Microversion or version id.
    pub kind: VersionKind,
    /// The maximum (`2.100`).
    pub value: String,
    /// Where it is stated (`max-per-series-code.tsv:22 (stable/2025.1)`).
    pub source: String,
    /// What upstream's history document states for the series when it differs, and which
    /// source wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
}
