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

/// A container image the node runs or holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageRef {
    /// Repository tags.
    pub tags: Vec<String>,
    /// Content digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
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
