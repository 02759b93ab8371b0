//! The agent → analyzer contract. Versioned; the JSON schema is published at
//! `reports/schema/inventory-v1.json` and a test keeps it in step with these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Package, Problem};

/// The current inventory schema version.
pub const INVENTORY_SCHEMA_VERSION: u32 = 1;

/// Who a node is and where it sits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeInfo {
    /// Stable node id (defaults to the hostname).
    pub id: String,
    /// Hostname as read from the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Site (region / data centre).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Nova cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// Free labels (`role=compute`, `aggregate=gpu`, `az=az1`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The agent that collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentInfo {
    /// `nminus`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Default for AgentInfo {
    fn default() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The operating system, from `os-release` or its fallbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `rhel`, `alpine` …).
    pub id: String,
    /// `ID_LIKE`, split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`12`, `22.04`, `3.18.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`, `jammy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `PRETTY_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// The file it was read from.
    pub source_file: String,
}

/// An OpenStack (or other recognised) service installed on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceInstance {
    /// Deliverable name in openstack/releases (`nova`, `neutron`, `oslo.config`).
    pub deliverable: String,
    /// `service`, `library` or `client`.
    pub kind: String,
    /// The Python distribution it was recognised from (PEP 503 name).
    pub package: String,
    /// Installed version.
    pub version: String,
    /// How it was installed: `distro` (dpkg/rpm), `venv:<path>`, `site:<path>`.
    pub install: String,
    /// Which systemd units / processes of it are configured on the node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
}

/// A container image the node runs or holds. Its packages are in [`Inventory::packages`] with
/// `location.path` = `image:<reference>:<path in the image>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageRef {
    /// Repository tags.
    pub tags: Vec<String>,
    /// Content digest: the manifest digest (OCI layouts, registry digests), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Image id: `sha256:` of the config blob (what `docker images --no-trunc` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The name its packages' and problems' locations use (`image:<reference>:…`): the first
    /// tag, else the id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// Where it was read from (an archive path, `docker:<socket>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Build time from the config (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// CPU architecture from the config (`amd64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Base distribution, from the image's os-release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRelease>,
    /// Labels worth keeping (`kolla_version`, `name`, `build-date`, `org.opencontainers.image.*` …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Number of packages found in it.
    #[serde(default)]
    pub packages: usize,
    /// Containers running it (names), when read from a container runtime.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// Kolla view: series by tag and by the service's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kolla: Option<KollaImage>,
}

/// What a kolla image claims (its tag) and holds (its service's version).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KollaImage {
    /// Series from the tag (`2024.1`, `master`, `zed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_series: Option<String>,
    /// The rest of the tag (`ubuntu-jammy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_distro: Option<String>,
    /// The `kolla_version` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kolla_version: Option<String>,
    /// The OpenStack service deliverable the image is for (`nova`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Its Python distribution (`nova`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Its installed version, from the dist-info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The series of that version per openstack/releases (`caracal`), when a catalog was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Whether the version is exactly a release (not a dev build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    /// The tag's series and the service's series differ.
    #[serde(default)]
    pub mismatch: bool,
    /// Why, or why the check could not be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Everything an agent saw on one node.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Inventory {
    /// [`INVENTORY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The node.
    pub node: NodeInfo,
    /// RFC 3339 UTC time of collection.
    pub collected_at: String,
    /// The agent.
    pub agent: AgentInfo,
    /// The collected root (`/` on a live node).
    pub root: String,
    /// Operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRelease>,
    /// Packages, sorted by (ecosystem, name, version, location).
    pub packages: Vec<Package>,
    /// Container images.
    #[serde(default)]
    pub images: Vec<ImageRef>,
    /// Recognised services.
    #[serde(default)]
    pub services: Vec<ServiceInstance>,
    /// What could not be read.
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// The JSON schema of [`Inventory`], as published in `reports/schema/inventory-v1.json`.
pub fn inventory_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(Inventory)).unwrap_or_default();
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$id".to_owned(),
            serde_json::Value::String("urn:nminus:schema:inventory-v1".to_owned()),
        );
    }
    s
}
