//! OpenStack recognition: which installed Python distributions are OpenStack deliverables
//! (services, libraries, clients), how each is installed (distro package, OpenStack-Ansible or
//! kolla virtualenv, pip into a site directory), and which of its services the node runs
//! (systemd units). The analyzer maps `(deliverable, version)` to a release series from
//! openstack/releases; the agent only recognises.
//!
//! The name table `openstack_deliverables.tsv` is generated from the deliverable files of
//! openstack/releases (`../shared/data/openstack-releases`) by the test
//! `deliverable_table_matches_openstack_releases` (`NMINUS_BLESS=1` rewrites it), so it cannot
//! silently drift from the data.

use std::collections::{BTreeMap, BTreeSet};

use super::{Collected, Collector, Root};
use crate::model::{Ecosystem, PackageMeta, ServiceInstance};

/// `normalized PyPI name \t deliverable \t type`, generated (see the module docs).
const TABLE: &str = include_str!("openstack_deliverables.tsv");

/// Series whose deliverable files feed [`TABLE`].
pub const TABLE_SERIES: [&str; 8] = [
    "zed",
    "antelope",
    "bobcat",
    "caracal",
    "dalmatian",
    "epoxy",
    "flamingo",
    "gazpacho",
];

/// Where systemd units live.
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/etc/systemd/system/multi-user.target.wants",
];

/// A recognised deliverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deliverable {
    /// Deliverable name in openstack/releases.
    pub name: &'static str,
    /// `service`, `library`, `client-library`, `horizon-plugin`, `trailing`, `other`.
    pub kind: &'static str,
}

/// Look up a PEP 503-normalised PyPI name.
pub fn lookup(normalized: &str) -> Option<Deliverable> {
    TABLE.lines().find_map(|l| {
        let mut it = l.split('\t');
        let (n, d, k) = (it.next()?, it.next()?, it.next()?);
        (n == normalized).then_some(Deliverable { name: d, kind: k })
    })
}

/// The OpenStack collector (runs after the package collectors).
#[derive(Debug, Default)]
pub struct OpenStackCollector;

impl Collector for OpenStackCollector {
    fn name(&self) -> &'static str {
        "openstack"
    }

    fn applies(&self, _root: &Root) -> bool {
        true
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let units = systemd_units(root);
        let table: BTreeMap<&str, Deliverable> = TABLE
            .lines()
            .filter_map(|l| {
                let mut it = l.split('\t');
                let n = it.next()?;
                Some((
                    n,
                    Deliverable {
                        name: it.next()?,
                        kind: it.next()?,
                    },
                ))
            })
            .collect();
        let mut seen = BTreeSet::new();
        for p in &out.packages {
            if p.ecosystem != Ecosystem::Pypi {
                continue;
            }
            let Some(d) = table.get(p.name.as_str()) else {
                continue;
            };
            let install = match &p.meta {
                PackageMeta::Python {
                    os_owner: Some(o), ..
                } => format!("distro:{o}"),
                PackageMeta::Python {
                    environment: Some(e),
                    ..
                } => {
                    if e.contains("/openstack/venvs/")
                        || e.contains("/var/lib/kolla/venv")
                        || e.contains("/venv")
                    {
                        format!("venv:{}", venv_root(e))
                    } else {
                        format!("site:{e}")
                    }
                }
                _ => "site".to_owned(),
            };
            if !seen.insert((d.name, install.clone(), p.version.clone())) {
                continue;
            }
            let my_units: Vec<String> = if d.kind == "service" {
                units
                    .iter()
                    .filter(|u| unit_belongs(u, d.name))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            out.services.push(ServiceInstance {
                deliverable: d.name.to_owned(),
                kind: d.kind.to_owned(),
                package: p.name.clone(),
                version: p.version.clone(),
                install,
                units: my_units,
            });
        }
    }
}

/// Whether a unit file belongs to a deliverable: Debian/Ubuntu `nova-compute.service`, RDO
/// `openstack-nova-compute.service`, plain `swift.service`.
fn unit_belongs(unit: &str, deliverable: &str) -> bool {
    let stem = unit.strip_suffix(".service").unwrap_or(unit);
    let stem = stem.strip_prefix("openstack-").unwrap_or(stem);
    stem == deliverable
        || stem
            .strip_prefix(deliverable)
            .is_some_and(|r| r.starts_with('-'))
}

/// `/openstack/venvs/nova-29.0.1/lib/python3.10/site-packages` → `/openstack/venvs/nova-29.0.1`.
fn venv_root(site: &str) -> &str {
    match site.find("/lib/python") {
        Some(i) => &site[..i],
        None => site,
    }
}

/// Unit files present (`nova-compute.service`), sorted and unique.
fn systemd_units(root: &Root) -> BTreeSet<String> {
    UNIT_DIRS
        .iter()
        .flat_map(|d| root.list(d))
        .filter(|n| n.ends_with(".service"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PEP 503 normalisation (lower case, runs of `-_.` become `-`).
    fn pep503(s: &str) -> String {
        let mut out = String::new();
        let mut sep = false;
        for c in s.chars() {
            if matches!(c, '-' | '_' | '.') {
                sep = true;
            } else {
                if sep && !out.is_empty() {
                    out.push('-');
                }
                sep = false;
                out.push(c.to_ascii_lowercase());
            }
        }
        out
    }

    /// Regenerates the table from openstack/releases (with `NMINUS_BLESS=1`) or checks it.
    #[test]
    fn deliverable_table_matches_openstack_releases() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/openstack-releases/deliverables");
        assert!(
            base.is_dir(),
            "missing {} — ../shared must sit beside the repository",
            base.display()
        );
        let mut rows: BTreeMap<String, (String, String)> = BTreeMap::new();
        for series in TABLE_SERIES {
            let mut files: Vec<_> = fs_err::read_dir(base.join(series))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            for f in files {
                let Some(stem) = f
                    .file_name()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.strip_suffix(".yaml"))
                else {
                    continue;
                };
                let text = fs_err::read_to_string(&f).unwrap();
                let ty = text
                    .lines()
                    .find_map(|l| l.strip_prefix("type:"))
                    .map(str::trim)
                    .unwrap_or("other");
                if ty == "tempest-plugin" {
                    continue;
                }
                let mut in_repos = false;
                for l in text.lines() {
                    if l.starts_with("repository-settings:") {
                        in_repos = true;
                        continue;
                    }
                    if in_repos {
                        if let Some(r) = l.strip_prefix("  openstack/") {
                            let repo = r.split(':').next().unwrap_or("").trim();
                            let norm = pep503(repo);
                            rows.insert(norm, (stem.to_owned(), ty.to_owned()));
                        } else if let Some(n) = l
                            .trim_start()
                            .strip_prefix("pypi-name:")
                            .or_else(|| l.trim_start().strip_prefix("tarball-base:"))
                        {
                            // The distribution name on PyPI when it differs from the repository
                            // (`openstack-placement`, `openstack-heat`).
                            rows.insert(pep503(n.trim()), (stem.to_owned(), ty.to_owned()));
                        } else if !l.starts_with("    ") {
                            in_repos = false;
                        }
                    }
                }
            }
        }
        let text: String = rows
            .iter()
            .map(|(n, (d, t))| format!("{n}\t{d}\t{t}\n"))
            .collect();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/collect/openstack_deliverables.tsv");
        if std::env::var_os("NMINUS_BLESS").is_some() {
            fs_err::write(&path, &text).unwrap();
        }
        assert_eq!(
            TABLE, text,
            "run `NMINUS_BLESS=1 cargo test deliverable_table` to regenerate"
        );
    }

    #[test]
    fn well_known_names() {
        assert_eq!(
            lookup("nova"),
            Some(Deliverable {
                name: "nova",
                kind: "service"
            })
        );
        assert_eq!(lookup("oslo-config").unwrap().name, "oslo.config");
        assert_eq!(lookup("python-novaclient").unwrap().kind, "client-library");
        assert_eq!(lookup("django"), None);
        assert_eq!(lookup("openstack-placement").unwrap().name, "placement");
        assert_eq!(lookup("openstack-heat").unwrap().name, "heat");
    }
}
