//! OpenStack recognition: which installed Python distributions are OpenStack deliverables
//! (services, libraries, clients), how each is installed (distro package, OpenStack-Ansible or
//! kolla virtualenv, pip into a site directory), and which of its services the node runs
//! (systemd units). The analyzer maps `(deliverable, version)` to a release series from
//! openstack/releases; the agent only recognises.
//!
//! The name table (`model/openstack_deliverables.tsv`, [`crate::model::openstack_names`], shared
//! with the analyzer) is generated from openstack/releases
//! (`../shared/data/openstack-releases`, every series from austin to the newest and
//! `_independent`) by the analyzer's own index ([`OpenStackCatalog::name_table`], names as
//! upstream resolves them: `pypi-name`, else `tarball-base`, else the repository basename),
//! in the test `deliverable_table_matches_openstack_releases` (`NMINUS_BLESS=1` rewrites it):
//! the agent recognises exactly the names the analyzer can map.
//!
//! [`OpenStackCatalog::name_table`]: crate::releases::openstack::OpenStackCatalog::name_table

use std::collections::BTreeSet;

use super::files::FilePattern;
use super::{Collected, Collector, Root};
pub(crate) use crate::model::openstack_names::lookup;
use crate::model::{
    Ecosystem, Install, InstallKind, PackageMeta, PythonEnvironment, ServiceInstance,
};

/// Where systemd units live.
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/etc/systemd/system/multi-user.target.wants",
];

/// The OpenStack collector (runs after the package collectors).
#[derive(Debug, Default)]
pub(crate) struct OpenStackCollector;

/// The OpenStack collector reads no file's contents: it lists systemd unit directories and
/// reads the Python collector's results.
pub(crate) const READS: &[FilePattern] = &[];

impl Collector for OpenStackCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

    fn name(&self) -> &'static str {
        "openstack"
    }

    fn applies(&self, _root: &Root) -> bool {
        true
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let units = systemd_units(root);
        let mut seen = BTreeSet::new();
        for p in &out.packages {
            if p.ecosystem != Ecosystem::Pypi {
                continue;
            }
            let Some(d) = lookup(p.name.as_str()) else {
                continue;
            };
            let kind = match &p.meta {
                PackageMeta::Python {
                    os_owner: Some(o), ..
                } => InstallKind::Distro {
                    owner: Some(o.clone()),
                },
                PackageMeta::Python {
                    environment: Some(e),
                    ..
                } => install_kind(e),
                _ => InstallKind::Site { dir: None },
            };
            let install = Install::host(kind);
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
/// How a distribution found in `env` is installed: a virtualenv's root is a `venv:`; a site
/// directory is a `site:`, unless it lies in a folder named like a virtualenv's (`/venv`,
/// OpenStack-Ansible's `/openstack/venvs/`: virtualenvs made before `pyvenv.cfg` existed), whose
/// root it then names.
fn install_kind(env: &PythonEnvironment) -> InstallKind {
    match env {
        PythonEnvironment::Venv { root } => InstallKind::Venv { root: root.clone() },
        PythonEnvironment::Site { dir } if dir.contains("/venv") => InstallKind::Venv {
            root: venv_root(dir).to_owned(),
        },
        PythonEnvironment::Site { dir } => InstallKind::Site {
            dir: Some(dir.clone()),
        },
    }
}

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
    use std::path::Path;

    use super::*;
    use crate::model::openstack_names::Deliverable;

    /// Regenerates the table from openstack/releases (with `NMINUS_BLESS=1`) or checks it:
    /// the agent's table and the analyzer's index come from the same rule, over every series.
    #[test]
    fn deliverable_table_matches_openstack_releases() {
        let (cat, _) = crate::releases::openstack::OpenStackCatalog::load(
            &crate::releases::test_data::shared("openstack-releases"),
        )
        .unwrap();
        let text: String = cat
            .name_table()
            .iter()
            .map(|(n, (d, t))| format!("{n}\t{d}\t{}\n", t.as_str()))
            .collect();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/model/openstack_deliverables.tsv");
        if std::env::var_os("NMINUS_BLESS").is_some() {
            fs_err::write(&path, &text).unwrap();
        }
        assert_eq!(
            crate::model::openstack_names::TABLE,
            text,
            "run `NMINUS_BLESS=1 cargo test deliverable_table` to regenerate"
        );
        // Every name the analyzer can map, the agent recognises, as the same deliverable.
        for (name, (d, _)) in cat.name_table() {
            assert_eq!(lookup(&name).map(|x| x.name), Some(d.as_str()), "{name}");
        }
    }

    /// Every `"environment": "…"` string of the JSON files under `dir`.
    fn wire_environments(dir: &Path, out: &mut BTreeSet<String>) {
        for e in fs_err::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|k| k.is_dir()) {
                wire_environments(&p, out);
            } else if let Ok(text) = fs_err::read_to_string(&p) {
                for (i, _) in text.match_indices("\"environment\"") {
                    let value = text[i + 13..].trim_start();
                    let Some(value) = value.strip_prefix(':').map(str::trim_start) else {
                        continue;
                    };
                    let mut strings = serde_json::Deserializer::from_str(value).into_iter();
                    if let Some(Ok(s)) = strings.next() {
                        out.insert(s);
                    }
                }
            }
        }
    }

    /// The environments the python collector sets on the shared Debian root, the fixture
    /// roots and virtualenv layouts, and every one the fixtures, goldens and tests write, read
    /// back as the same value and written again as the same string; the install each gives.
    #[test]
    fn every_environment_reads_back_as_written() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let t = tempfile::tempdir().unwrap();
        for (venv, cfg) in [
            ("openstack/venvs/nova-31.0.0", true),
            ("opt/app", true),
            ("srv/py2/venv", false),
        ] {
            let sp = t.path().join(venv).join("lib/python3.12/site-packages");
            fs_err::create_dir_all(sp.join("nova-31.0.0.dist-info")).unwrap();
            let meta = "Metadata-Version: 2.1\nName: nova\nVersion: 31.0.0\n\n";
            fs_err::write(sp.join("nova-31.0.0.dist-info/METADATA"), meta).unwrap();
            if cfg {
                fs_err::write(t.path().join(venv).join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            }
        }
        let mut roots = vec![
            t.path().to_owned(),
            manifest.join("../shared/data/fixtures/python/debian12-openstack-packages/root"),
        ];
        for d in fs_err::read_dir(manifest.join("fixtures/roots/openstack-truth")).unwrap() {
            roots.push(d.unwrap().path());
        }
        let mut collected = BTreeSet::new();
        let mut installs = BTreeSet::new();
        for r in &roots {
            let mut out = Collected::default();
            let root = Root::new(r);
            crate::collect::python::PythonCollector.collect(&root, &mut out);
            OpenStackCollector.collect(&root, &mut out);
            for p in &out.packages {
                if let PackageMeta::Python {
                    environment: Some(e),
                    ..
                } = &p.meta
                {
                    collected.insert(e.clone());
                }
            }
            installs.extend(out.services.iter().map(|s| s.install.to_string()));
        }
        let mut wire = BTreeSet::new();
        for d in ["fixtures", "reports", "tests"] {
            wire_environments(&manifest.join(d), &mut wire);
        }
        assert!(collected.len() >= 4, "{collected:?}");
        let strings = collected.iter().map(ToString::to_string).chain(wire);
        for s in strings {
            let e: PythonEnvironment = serde_json::from_value(serde_json::json!(s)).unwrap();
            assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!(s));
            let again: PythonEnvironment =
                serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
            assert_eq!(again, e, "{s:?}");
        }
        // What the collector built is what the string reads back as.
        for e in &collected {
            assert_eq!(&PythonEnvironment::from(e.path()), e);
        }
        assert!(collected.contains(&PythonEnvironment::Venv {
            root: "/opt/app".into()
        }));
        assert!(collected.contains(&PythonEnvironment::Site {
            dir: "/usr/lib/python3/dist-packages".into()
        }));
        for i in [
            "venv:/openstack/venvs/nova-31.0.0",
            "venv:/opt/app",
            "venv:/srv/py2/venv",
        ] {
            assert!(installs.contains(i), "{i} not in {installs:?}");
        }
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
        assert_eq!(lookup("keystoneauth1").unwrap().name, "keystoneauth");
        assert_eq!(lookup("aodhclient").unwrap().name, "python-aodhclient");
        for independent in [
            "pbr",
            "tooz",
            "osprofiler",
            "futurist",
            "debtcollector",
            "pycadf",
        ] {
            assert_eq!(lookup(independent).unwrap().name, independent);
        }
        assert_eq!(lookup("os-traits").unwrap().name, "os-traits");
        assert_eq!(
            lookup("microversion-parse").unwrap().name,
            "microversion-parse"
        );
    }
}
