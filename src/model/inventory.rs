//! The agent → analyzer contract. Versioned; the JSON schema is published at
//! `reports/schema/inventory-v1.json` and a test keeps it in step with these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Install, Location, Package, Problem, ProblemKind};

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
    pub install: Install,
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

/// Whether `s` may name a node, site, cell or label key: 1 to 253 ASCII letters, digits, `.`,
/// `-`, `_` or `:` (what a host name or an inventory group can hold). These names end up in
/// file names, shell command lines (`--limit`), YAML keys and report headings.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// Whether `s` may be a label value: up to 253 characters of what [`valid_name`] allows, plus
/// `/`, `@` and `+`; empty is allowed.
pub fn valid_label_value(s: &str) -> bool {
    s.len() <= 253
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'/' | b'@' | b'+')
        })
}

/// Why `s` cannot be a package name, version, service name or image reference, if it cannot:
/// no package manager or registry allows white space, control characters, quotes, backslashes,
/// `` ` ``, `<`, `>`, `$`, `;`, `|`, `&`, or template delimiters (`{{`, `{%`, `{#`) in them,
/// and each of those would let node data change a playbook, a shell line or a report.
pub fn token_problem(s: &str) -> Option<String> {
    if s.len() > 1024 {
        return Some(format!("{} bytes long (at most 1024)", s.len()));
    }
    if let Some(c) = s.chars().find(|c| {
        c.is_control()
            || c.is_whitespace()
            || matches!(
                c,
                '`' | '<' | '>' | '$' | ';' | '|' | '&' | '\'' | '"' | '\\'
            )
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}')
    }) {
        return Some(format!("contains {c:?}"));
    }
    for t in ["{{", "{%", "{#"] {
        if s.contains(t) {
            return Some(format!("contains the template delimiter `{t}`"));
        }
    }
    None
}

#[cfg(test)]
impl Inventory {
    /// A test inventory: node `id` (root `/`) with `packages` and nothing else.
    pub(crate) fn for_test(id: &str, packages: Vec<Package>) -> Self {
        Self {
            schema_version: INVENTORY_SCHEMA_VERSION,
            node: NodeInfo {
                id: id.into(),
                ..NodeInfo::default()
            },
            collected_at: String::new(),
            agent: AgentInfo::default(),
            root: "/".into(),
            os: None,
            packages,
            images: Vec::new(),
            services: Vec::new(),
            problems: Vec::new(),
        }
    }
}

impl Inventory {
    /// Fields that break the rules of [`valid_name`], [`valid_label_value`] and
    /// [`token_problem`], as (JSON path, why): what `serve` refuses and the planner does not
    /// plan from. Problems' messages and file locations are free text, escaped by every
    /// renderer, and not checked.
    pub fn unsafe_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let name = |out: &mut Vec<(String, String)>, path: String, v: &str| {
            if !valid_name(v) {
                out.push((
                    path,
                    format!("expected 1 to 253 letters, digits, `.`, `-`, `_` or `:`, found {v:?}"),
                ));
            }
        };
        name(&mut out, "node.id".into(), &self.node.id);
        if let Some(s) = &self.node.site {
            name(&mut out, "node.site".into(), s);
        }
        if let Some(c) = &self.node.cell {
            name(&mut out, "node.cell".into(), c);
        }
        for (k, v) in &self.node.labels {
            name(&mut out, format!("node.labels.{k}"), k);
            if !valid_label_value(v) {
                out.push((
                    format!("node.labels.{k}"),
                    format!("expected at most 253 letters, digits, `.`, `-`, `_`, `:`, `/`, `@` or `+`, found {v:?}"),
                ));
            }
        }
        let mut token = |path: String, v: &str| {
            if let Some(why) = token_problem(v) {
                out.push((path, why));
            }
        };
        if let Some(os) = &self.os {
            token("os.id".into(), &os.id);
            if let Some(v) = &os.version_id {
                token("os.version_id".into(), v);
            }
        }
        for (i, p) in self.packages.iter().enumerate() {
            for (path, v) in package_tokens(p) {
                token(format!("packages[{i}].{path}"), v);
            }
        }
        for (i, s) in self.services.iter().enumerate() {
            for (path, v) in service_tokens(s) {
                token(format!("services[{i}].{path}"), v);
            }
        }
        for (i, im) in self.images.iter().enumerate() {
            for (path, v) in image_tokens(im) {
                token(format!("images[{i}].{path}"), v);
            }
        }
        out
    }

    /// Move every package, service and image with a field [`token_problem`] refuses out of the
    /// inventory, each into a [`Problem`] that says which field and why (a collector's input is
    /// the node's, and one odd record must not make the whole inventory unusable).
    pub fn quarantine_unsafe(&mut self) {
        let mut problems = Vec::new();
        let root = Location::path(self.root.clone());
        quarantine(
            &mut self.packages,
            "package",
            package_tokens,
            |p| p.location.clone(),
            &mut problems,
        );
        quarantine(
            &mut self.services,
            "service",
            service_tokens,
            |_| root.clone(),
            &mut problems,
        );
        quarantine(
            &mut self.images,
            "image",
            image_tokens,
            |im| Location::path(im.source.clone().unwrap_or_default()),
            &mut problems,
        );
        if let Some(os) = &self.os {
            let bad =
                token_problem(&os.id).or_else(|| os.version_id.as_deref().and_then(token_problem));
            if let Some(w) = bad {
                problems.push(Problem::new(
                    Location::path(os.source_file.clone()),
                    ProblemKind::Malformed,
                    format!("operating system left out: its id or version {w}"),
                ));
                self.os = None;
            }
        }
        self.problems.extend(problems);
    }
}

/// Keep the items whose fields [`token_problem`] accepts; each other one becomes a problem at
/// `location(item)` saying which field and why.
fn quarantine<T>(
    items: &mut Vec<T>,
    what: &str,
    fields: fn(&T) -> Vec<(&'static str, &str)>,
    location: impl Fn(&T) -> Location,
    problems: &mut Vec<Problem>,
) {
    items.retain(|item| {
        let why = fields(item)
            .into_iter()
            .find_map(|(f, v)| token_problem(v).map(|w| format!("{f} {w}")));
        match why {
            None => true,
            Some(w) => {
                problems.push(Problem::new(
                    location(item),
                    ProblemKind::Malformed,
                    format!("{what} left out: its {w}"),
                ));
                false
            }
        }
    });
}

fn package_tokens(p: &Package) -> Vec<(&'static str, &str)> {
    let mut v = vec![("name", p.name.as_str()), ("version", p.version.as_str())];
    if let Some(s) = &p.source {
        v.push(("source.name", s.name.as_str()));
        v.push(("source.version", s.version.as_str()));
    }
    v
}

fn service_tokens(s: &ServiceInstance) -> Vec<(&'static str, &str)> {
    vec![
        ("deliverable", s.deliverable.as_str()),
        ("package", s.package.as_str()),
        ("version", s.version.as_str()),
    ]
}

fn image_tokens(im: &ImageRef) -> Vec<(&'static str, &str)> {
    let mut v = vec![("reference", im.reference.as_str())];
    v.extend(im.tags.iter().map(|t| ("tags[]", t.as_str())));
    if let Some(d) = &im.digest {
        v.push(("digest", d.as_str()));
    }
    if let Some(k) = &im.kolla {
        for (f, x) in [
            ("kolla.tag_series", &k.tag_series),
            ("kolla.tag_distro", &k.tag_distro),
            ("kolla.kolla_version", &k.kolla_version),
            ("kolla.service", &k.service),
            ("kolla.package", &k.package),
            ("kolla.version", &k.version),
            ("kolla.series", &k.series),
        ] {
            if let Some(x) = x {
                v.push((f, x.as_str()));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ecosystem, PackageMeta};

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            ecosystem: Ecosystem::Deb,
            name: name.into(),
            version: version.into(),
            source: None,
            purl: format!("pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12"),
            found_by: "dpkg".into(),
            location: Location::path("/var/lib/dpkg/status"),
            meta: PackageMeta::Lock { source: None },
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn real_versions_pass_and_markup_does_not() {
        for ok in [
            "2:26.2.2-1~deb12u5",
            "1.0^20230101git",
            "3.1.4+local.1",
            "1:2.3-1%{dist}",
            "quay.io/openstack.kolla/nova-compute:2024.1-ubuntu-jammy",
            "sha256:0123abcd",
            "perl(Foo::Bar)",
        ] {
            assert_eq!(token_problem(ok), None, "{ok}");
        }
        for bad in [
            "1.0\nPackage: *",
            "1{{ x }}",
            "{% if %}",
            "a b",
            "$(id)",
            "a;b",
            "`id`",
            "<script>",
            "x\u{1b}[2J",
            "x\u{9b}",
            "x\u{2028}y",
        ] {
            assert!(token_problem(bad).is_some(), "{bad:?}");
        }
        assert!(valid_name("par1-cmp-a1.example:1"));
        for bad in ["", "../etc", "a b", "a\nb", "a$b", &"x".repeat(254)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_label_value("") && valid_label_value("r1/u12"));
        assert!(!valid_label_value("a\nb"));
    }

    #[test]
    fn quarantine_keeps_the_rest_and_says_why() {
        let mut inv =
            Inventory::for_test("n1", vec![pkg("bash", "5.2-1"), pkg("evil", "1\n{{ x }}")]);
        assert_eq!(
            inv.unsafe_fields()
                .iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>(),
            ["packages[1].version"]
        );
        inv.quarantine_unsafe();
        assert_eq!(inv.packages.len(), 1);
        assert_eq!(inv.problems.len(), 1);
        assert!(
            inv.problems[0].message.contains("version"),
            "{:?}",
            inv.problems
        );
        assert!(inv.unsafe_fields().is_empty());
        inv.node.site = Some("par 1".into());
        assert_eq!(inv.unsafe_fields()[0].0, "node.site");
    }
}
