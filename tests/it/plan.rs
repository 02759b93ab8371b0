//! The planner: project-written fixture fleets (`fixtures/fleets/`, regenerated with
//! `NMINUS_BLESS=1`), the upgrade-order DAG in plan order, the SLURP path rules, canary
//! batches, rollback limits, scenarios 1 and 2 end to end through the CLI, renderer goldens
//! (`fixtures/golden/plan/`), and every generated playbook through `ansible-playbook`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use nminus::model::{
    plan_schema, Action, BatchKind, HopKind, LimitCode, Phase, Plan, Reversibility,
};
use nminus::OpenStackCatalog;
use nminus::{jump_kind, upgrade_path, PathOptions};
use nminus::{order_edges as edges, precedes};
use nminus::{parse_scope, Context, FileInput, PlanInput};
use nminus::{plan_replicate, Footprint, ReplicateOptions};
use nminus::{plan_rollback, RollbackOptions, RollbackTarget};
use nminus::{plan_upgrade, UpgradeOptions};
use nminus::{render, PlanFormat};

use crate::support::{nminus, shared_data};

pub const NOW: &str = "2026-08-21T00:00:00Z";

fn bless() -> bool {
    std::env::var_os("NMINUS_BLESS").is_some()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn catalog() -> &'static OpenStackCatalog {
    static CAT: OnceLock<OpenStackCatalog> = OnceLock::new();
    CAT.get_or_init(|| {
        OpenStackCatalog::load(&shared_data("openstack-releases"))
            .expect("openstack-releases")
            .0
    })
}

fn as_of() -> time::Date {
    time::macros::date!(2026 - 08 - 21)
}

fn ctx() -> Context<'static> {
    Context {
        catalog: catalog(),
        as_of: as_of(),
        generated_at: NOW,
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture fleets
// ---------------------------------------------------------------------------------------------

fn digest(s: &str) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn deb(name: &str, version: &str, source: &str) -> Value {
    json!({
        "ecosystem": "deb",
        "name": name,
        "version": version,
        "source": {"name": source, "version": version},
        "purl": format!("pkg:deb/ubuntu/{name}@{version}?arch=amd64"),
        "found_by": "dpkg",
        "location": {"path": "/var/lib/dpkg/status"},
        "meta": {"type": "deb", "arch": "amd64"}
    })
}

fn ubuntu(version: &str, codename: &str) -> Value {
    json!({"id": "ubuntu", "id_like": ["debian"], "version_id": version, "codename": codename, "pretty_name": format!("Ubuntu {version} LTS"), "source_file": "/etc/os-release"})
}

fn service(
    deliverable: &str,
    package: &str,
    version: &str,
    install: &str,
    units: &[&str],
) -> Value {
    json!({"deliverable": deliverable, "kind": "service", "package": package, "version": version, "install": install, "units": units})
}

struct NodeSpec<'a> {
    id: &'a str,
    site: &'a str,
    cell: Option<&'a str>,
    labels: &'a [(&'a str, &'a str)],
    collected_at: &'a str,
    os: Value,
    packages: Vec<Value>,
    images: Vec<Value>,
    services: Vec<Value>,
}

fn inventory(n: NodeSpec<'_>) -> Value {
    let labels: BTreeMap<&str, &str> = n.labels.iter().copied().collect();
    let mut node = json!({"id": n.id, "hostname": n.id, "site": n.site, "labels": labels});
    if let Some(c) = n.cell {
        node["cell"] = json!(c);
    }
    json!({
        "schema_version": 1,
        "node": node,
        "collected_at": n.collected_at,
        "agent": {"name": "nminus", "version": "0.1.0"},
        "root": "/",
        "os": n.os,
        "packages": n.packages,
        "images": n.images,
        "services": n.services,
        "problems": []
    })
}

/// kolla service versions per series (all releases in openstack/releases).
fn kolla_versions(series: &str) -> [(&'static str, &'static str, &'static str); 9] {
    match series {
        "2024.1" => [
            ("keystone", "keystone", "25.0.0"),
            ("glance", "glance", "28.1.0"),
            ("placement", "openstack-placement", "11.0.1"),
            ("nova", "nova", "29.2.0"),
            ("neutron", "neutron", "24.2.0"),
            ("cinder", "cinder", "24.3.0"),
            ("heat", "openstack-heat", "22.0.1"),
            ("horizon", "horizon", "24.0.1"),
            ("octavia", "octavia", "14.0.1"),
        ],
        _ => [
            ("keystone", "keystone", "27.0.1"),
            ("glance", "glance", "30.1.0"),
            ("placement", "openstack-placement", "13.0.0"),
            ("nova", "nova", "31.2.0"),
            ("neutron", "neutron", "26.0.3"),
            ("cinder", "cinder", "26.2.0"),
            ("heat", "openstack-heat", "24.1.0"),
            ("horizon", "horizon", "25.3.1"),
            ("octavia", "octavia", "16.0.1"),
        ],
    }
}

const CONTROLLER_IMAGES: &[&str] = &[
    "mariadb-server",
    "rabbitmq",
    "memcached",
    "haproxy",
    "keepalived",
    "keystone",
    "glance-api",
    "placement-api",
    "nova-api",
    "nova-conductor",
    "nova-scheduler",
    "nova-novncproxy",
    "neutron-server",
    "cinder-api",
    "cinder-scheduler",
    "heat-api",
    "heat-engine",
    "horizon",
    "octavia-api",
    "octavia-worker",
    "ovn-nb-db-server",
    "ovn-sb-db-server",
    "ovn-northd",
    "kolla-toolbox",
    "cron",
    "fluentd",
];
const STORAGE_IMAGES: &[&str] = &[
    "cinder-volume",
    "cinder-backup",
    "kolla-toolbox",
    "cron",
    "fluentd",
];
const COMPUTE_IMAGES: &[&str] = &[
    "nova-compute",
    "nova-libvirt",
    "nova-ssh",
    "ovn-controller",
    "openvswitch-vswitchd",
    "openvswitch-db-server",
    "neutron-ovn-metadata-agent",
    "kolla-toolbox",
    "cron",
    "fluentd",
];

fn kolla_node(
    id: &str,
    cell: Option<&str>,
    labels: &[(&str, &str)],
    series: &str,
    collected_at: &str,
) -> Value {
    let role = labels
        .iter()
        .find(|(k, _)| *k == "role")
        .map_or("compute", |(_, v)| *v);
    let base = if series == "2024.1" {
        "ubuntu-jammy"
    } else {
        "ubuntu-noble"
    };
    let (images, deliverables): (&[&str], &[&str]) = match role {
        "controller" => (
            CONTROLLER_IMAGES,
            &[
                "keystone",
                "glance",
                "placement",
                "nova",
                "neutron",
                "cinder",
                "heat",
                "horizon",
                "octavia",
            ],
        ),
        "storage" => (STORAGE_IMAGES, &["cinder"]),
        _ => (COMPUTE_IMAGES, &["nova", "neutron"]),
    };
    let images: Vec<Value> = images
        .iter()
        .map(|i| {
            let r = format!("quay.io/openstack.kolla/{i}:{series}-{base}");
            json!({"tags": [r.clone()], "digest": digest(&r)})
        })
        .collect();
    let services: Vec<Value> = kolla_versions(series)
        .iter()
        .filter(|(d, _, _)| deliverables.contains(d))
        .map(|(d, p, v)| service(d, p, v, "venv:/var/lib/kolla/venv", &[]))
        .collect();
    inventory(NodeSpec {
        id,
        site: "par1",
        cell,
        labels,
        collected_at,
        os: ubuntu("22.04", "jammy"),
        packages: vec![
            deb("docker-ce", "5:26.1.4-1~ubuntu.22.04~jammy", "docker-ce"),
            deb("python3", "3.10.6-1~22.04.1", "python3-defaults"),
            deb("openssl", "3.0.2-0ubuntu1.15", "openssl"),
        ],
        images,
        services,
    })
}

/// (id, cell, labels) of a par1 node.
type ParNode<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>);

/// par1 (kolla-ansible, Ubuntu jammy): 2 controllers, 1 storage, 6 computes in 2 cells, 4
/// aggregates (a canary, tenant acme's, acme's hold-back, tenant globex's), 2 AZs.
fn par1(series_of: impl Fn(&str) -> &'static str, collected_at: &str) -> Vec<(String, Value)> {
    let nodes: Vec<ParNode<'_>> = vec![
        ("par1-ctl-01", None, vec![("role", "controller")]),
        ("par1-ctl-02", None, vec![("role", "controller")]),
        ("par1-stor-01", None, vec![("role", "storage")]),
        (
            "par1-cmp-c1",
            Some("cell1"),
            vec![
                ("role", "compute"),
                ("aggregate", "agg-canary"),
                ("az", "az1"),
                ("canary", "true"),
            ],
        ),
        (
            "par1-cmp-a1",
            Some("cell1"),
            vec![
                ("role", "compute"),
                ("aggregate", "agg-acme"),
                ("az", "az1"),
                ("tenant", "acme"),
            ],
        ),
        (
            "par1-cmp-a2",
            Some("cell1"),
            vec![
                ("role", "compute"),
                ("aggregate", "agg-acme"),
                ("az", "az1"),
                ("tenant", "acme"),
            ],
        ),
        (
            "par1-cmp-h1",
            Some("cell1"),
            vec![
                ("role", "compute"),
                ("aggregate", "agg-acme-hold"),
                ("az", "az1"),
                ("tenant", "acme"),
            ],
        ),
        (
            "par1-cmp-g1",
            Some("cell2"),
            vec![
                ("role", "compute"),
                ("aggregate", "agg-globex"),
                ("az", "az2"),
                ("tenant", "globex"),
            ],
        ),
        (
            "par1-cmp-g2",
            Some("cell2"),
            vec![
                ("role", "compute"),
                ("aggregate", "agg-globex"),
                ("az", "az2"),
                ("tenant", "globex"),
            ],
        ),
    ];
    nodes
        .into_iter()
        .map(|(id, cell, labels)| {
            (
                format!("{id}.json"),
                kolla_node(id, cell, &labels, series_of(id), collected_at),
            )
        })
        .collect()
}

/// lon1 (OpenStack-Ansible, 2024.2 dalmatian, non-SLURP): one infra/controller, two computes,
/// one of them running a pbr dev build of nova.
fn lon1() -> Vec<(String, Value)> {
    let at = "2026-05-01T06:10:00Z";
    let venv = |svc: &str| format!("venv:/openstack/venvs/{svc}-30.1.5");
    let ctl = inventory(NodeSpec {
        id: "lon1-infra-01",
        site: "lon1",
        cell: None,
        labels: &[("role", "controller")],
        collected_at: at,
        os: ubuntu("22.04", "jammy"),
        packages: vec![
            deb("mariadb-server", "1:10.11.9+maria~ubu2204", "mariadb"),
            deb("rabbitmq-server", "3.13.7-1", "rabbitmq-server"),
            deb("memcached", "1.6.14-1ubuntu0.1", "memcached"),
            deb("haproxy", "2.4.24-0ubuntu0.22.04.1", "haproxy"),
        ],
        images: Vec::new(),
        services: vec![
            service(
                "keystone",
                "keystone",
                "26.1.0",
                &venv("keystone"),
                &["keystone-wsgi-public.service"],
            ),
            service(
                "glance",
                "glance",
                "29.1.0",
                &venv("glance"),
                &["glance-api.service"],
            ),
            service(
                "placement",
                "openstack-placement",
                "12.0.1",
                &venv("placement"),
                &["placement-api.service"],
            ),
            service(
                "nova",
                "nova",
                "30.2.0",
                &venv("nova"),
                &[
                    "nova-api-os-compute.service",
                    "nova-conductor.service",
                    "nova-scheduler.service",
                    "nova-novncproxy.service",
                ],
            ),
            service(
                "neutron",
                "neutron",
                "25.2.0",
                &venv("neutron"),
                &["neutron-server.service"],
            ),
            service(
                "cinder",
                "cinder",
                "25.2.0",
                &venv("cinder"),
                &[
                    "cinder-api.service",
                    "cinder-scheduler.service",
                    "cinder-volume.service",
                ],
            ),
            service("horizon", "horizon", "25.1.0", &venv("horizon"), &[]),
        ],
    });
    let cmp = |id: &str, nova: &str| {
        inventory(NodeSpec {
            id,
            site: "lon1",
            cell: Some("cell1"),
            labels: &[
                ("role", "compute"),
                ("aggregate", "lon1-general"),
                ("az", "lon1-az1"),
            ],
            collected_at: at,
            os: ubuntu("22.04", "jammy"),
            packages: vec![
                deb(
                    "openvswitch-switch",
                    "2.17.9-0ubuntu0.22.04.1",
                    "openvswitch",
                ),
                deb("libvirt-daemon-system", "8.0.0-1ubuntu7.10", "libvirt"),
                deb("qemu-system-x86", "1:6.2+dfsg-2ubuntu6.22", "qemu"),
            ],
            images: Vec::new(),
            services: vec![
                service(
                    "nova",
                    "nova",
                    nova,
                    &venv("nova"),
                    &["nova-compute.service"],
                ),
                service(
                    "neutron",
                    "neutron",
                    "25.2.0",
                    &venv("neutron"),
                    &["neutron-openvswitch-agent.service"],
                ),
            ],
        })
    };
    vec![
        ("lon1-infra-01.json".into(), ctl),
        ("lon1-cmp-01.json".into(), cmp("lon1-cmp-01", "30.2.0")),
        ("lon1-cmp-02.json".into(), cmp("lon1-cmp-02", "30.2.1.dev4")),
    ]
}

/// fra1 (Ubuntu Cloud Archive packages, zed: before SLURP): one controller, two computes.
fn fra1() -> Vec<(String, Value)> {
    let at = "2026-05-01T06:20:00Z";
    let d = |svc: &str| format!("distro:python3-{svc}");
    let ctl = inventory(NodeSpec {
        id: "fra1-ctl-01",
        site: "fra1",
        cell: None,
        labels: &[("role", "controller")],
        collected_at: at,
        os: ubuntu("22.04", "jammy"),
        packages: vec![
            deb("keystone", "2:22.0.2-0ubuntu1~cloud0", "keystone"),
            deb("python3-keystone", "2:22.0.2-0ubuntu1~cloud0", "keystone"),
            deb("glance-api", "2:25.1.0-0ubuntu1~cloud0", "glance"),
            deb("python3-glance", "2:25.1.0-0ubuntu1~cloud0", "glance"),
            deb("placement-api", "1:8.0.0-0ubuntu1~cloud0", "placement"),
            deb("python3-placement", "1:8.0.0-0ubuntu1~cloud0", "placement"),
            deb("nova-api", "3:26.2.1-0ubuntu1~cloud0", "nova"),
            deb("nova-conductor", "3:26.2.1-0ubuntu1~cloud0", "nova"),
            deb("nova-scheduler", "3:26.2.1-0ubuntu1~cloud0", "nova"),
            deb("python3-nova", "3:26.2.1-0ubuntu1~cloud0", "nova"),
            deb("neutron-server", "2:21.2.0-0ubuntu1~cloud0", "neutron"),
            deb("python3-neutron", "2:21.2.0-0ubuntu1~cloud0", "neutron"),
            deb("mariadb-server", "1:10.6.16-0ubuntu0.22.04.1", "mariadb"),
            deb("rabbitmq-server", "3.9.27-0ubuntu0.1", "rabbitmq-server"),
            deb("memcached", "1.6.14-1ubuntu0.1", "memcached"),
        ],
        images: Vec::new(),
        services: vec![
            service(
                "keystone",
                "keystone",
                "22.0.2",
                &d("keystone"),
                &["apache2.service"],
            ),
            service(
                "glance",
                "glance",
                "25.1.0",
                &d("glance"),
                &["glance-api.service"],
            ),
            service(
                "placement",
                "openstack-placement",
                "8.0.0",
                &d("placement"),
                &[],
            ),
            service(
                "nova",
                "nova",
                "26.2.1",
                &d("nova"),
                &[
                    "nova-api.service",
                    "nova-conductor.service",
                    "nova-scheduler.service",
                ],
            ),
            service(
                "neutron",
                "neutron",
                "21.2.0",
                &d("neutron"),
                &["neutron-server.service"],
            ),
        ],
    });
    let cmp = |id: &str| {
        inventory(NodeSpec {
            id,
            site: "fra1",
            cell: Some("cell1"),
            labels: &[("role", "compute"), ("az", "fra1-az1")],
            collected_at: at,
            os: ubuntu("22.04", "jammy"),
            packages: vec![
                deb("nova-compute", "3:26.2.1-0ubuntu1~cloud0", "nova"),
                deb("python3-nova", "3:26.2.1-0ubuntu1~cloud0", "nova"),
                deb(
                    "neutron-openvswitch-agent",
                    "2:21.2.0-0ubuntu1~cloud0",
                    "neutron",
                ),
                deb("python3-neutron", "2:21.2.0-0ubuntu1~cloud0", "neutron"),
                deb(
                    "openvswitch-switch",
                    "2.17.9-0ubuntu0.22.04.1",
                    "openvswitch",
                ),
                deb("libvirt-daemon-system", "8.0.0-1ubuntu7.10", "libvirt"),
                deb("qemu-system-x86", "1:6.2+dfsg-2ubuntu6.22", "qemu"),
            ],
            images: Vec::new(),
            services: vec![
                service(
                    "nova",
                    "nova",
                    "26.2.1",
                    &d("nova"),
                    &["nova-compute.service"],
                ),
                service(
                    "neutron",
                    "neutron",
                    "21.2.0",
                    &d("neutron"),
                    &["neutron-openvswitch-agent.service"],
                ),
            ],
        })
    };
    vec![
        ("fra1-ctl-01.json".into(), ctl),
        ("fra1-cmp-01.json".into(), cmp("fra1-cmp-01")),
        ("fra1-cmp-02.json".into(), cmp("fra1-cmp-02")),
    ]
}

/// Every fixture file: relative path under `fixtures/fleets/` → inventory.
fn fleets() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let before = |_: &str| "2024.1";
    for (f, v) in par1(before, "2026-05-01T06:00:00Z") {
        out.push((format!("three-sites/par1/{f}"), v.clone()));
        out.push((format!("tenant-rollback/2026-05-01/{f}"), v));
    }
    // After the upgrade to 2025.1, tenant acme's hold-back aggregate was kept at 2024.1.
    let after = |id: &str| {
        if id == "par1-cmp-h1" {
            "2024.1"
        } else {
            "2025.1"
        }
    };
    for (f, v) in par1(after, "2026-08-01T06:00:00Z") {
        out.push((format!("tenant-rollback/2026-08-01/{f}"), v));
    }
    for (f, v) in lon1() {
        out.push((format!("three-sites/lon1/{f}"), v));
    }
    for (f, v) in fra1() {
        out.push((format!("three-sites/fra1/{f}"), v));
    }
    out
}

pub fn fleet_dir(name: &str) -> PathBuf {
    root().join("fixtures/fleets").join(name)
}

pub fn list_files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    fn walk(base: &Path, d: &Path, out: &mut BTreeSet<String>) {
        if let Ok(rd) = fs_err::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else if let Ok(rel) = p.strip_prefix(base) {
                    out.insert(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

#[test]
fn fixture_fleets_are_current() {
    let base = root().join("fixtures/fleets");
    let want = fleets();
    for (rel, v) in &want {
        let path = base.join(rel);
        let text = serde_json::to_string_pretty(v).unwrap() + "\n";
        if bless() {
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, &text).unwrap();
        }
        let have = fs_err::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            have, text,
            "{rel} drifted from its generator: NMINUS_BLESS=1 cargo test --test it plan::fixture"
        );
        // Every fixture is a valid inventory.
        serde_json::from_str::<nminus::model::Inventory>(&have)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    let have: BTreeSet<String> = list_files(&base);
    let want: BTreeSet<String> = want.into_iter().map(|(r, _)| r).collect();
    assert_eq!(have, want, "stray or missing files under fixtures/fleets");
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn input(names: &[&str]) -> FileInput {
    let fi = FileInput::load(&names.iter().map(|n| fleet_dir(n)).collect::<Vec<_>>());
    assert!(fi.problems().is_empty(), "{:?}", fi.problems());
    assert!(!fi.inventories().is_empty());
    fi
}

fn upgrade(scope: &str, to: Option<&str>, hold: &[&str]) -> Plan {
    let opts = UpgradeOptions {
        scope: parse_scope(scope).unwrap(),
        to: to.map(str::to_owned),
        policy: None,
        canary: 1,
        batch_size: 0,
        hold_back: hold.iter().map(|h| parse_scope(h).unwrap()).collect(),
        adjacent_only: false,
        control_plane: None,
    };
    plan_upgrade(&input(&["three-sites"]), &ctx(), &opts).unwrap()
}

fn upgrade_steps<'a>(p: &'a Plan, site: &str, hop: u32) -> Vec<&'a nminus::model::Step> {
    p.steps
        .iter()
        .filter(|s| s.site.as_deref() == Some(site) && s.hop == Some(hop))
        .collect()
}

fn hops(p: &Plan, site: &str) -> Vec<(String, String, HopKind)> {
    p.paths
        .iter()
        .find(|x| x.site == site)
        .unwrap()
        .hops
        .iter()
        .map(|h| (h.from.id.clone(), h.to.id.clone(), h.kind))
        .collect()
}

/// Every DAG edge between components that have steps in the same site and hop holds: every
/// step of `before` comes before every step of `after`.
fn assert_dag_order(p: &Plan) {
    let mut checked = 0;
    for path in &p.paths {
        for hop in &path.hops {
            let steps = upgrade_steps(p, &path.site, hop.index);
            let pos: BTreeMap<&str, (usize, usize)> = {
                let mut m: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
                for (i, s) in steps.iter().enumerate() {
                    if !matches!(
                        s.phase,
                        Phase::Infrastructure | Phase::ControlPlane | Phase::DataPlane
                    ) || !matches!(
                        s.action,
                        Action::Upgrade | Action::DbExpand | Action::AmphoraFailover
                    ) {
                        continue;
                    }
                    let Some(c) = s.component.as_deref() else {
                        continue;
                    };
                    let e = m.entry(c).or_insert((i, i));
                    e.0 = e.0.min(i);
                    e.1 = e.1.max(i);
                }
                m
            };
            for e in edges() {
                if let (Some(b), Some(a)) = (pos.get(e.before), pos.get(e.after)) {
                    assert!(
                        b.1 < a.0,
                        "{} {}: edge {} {} → {} violated (steps {:?} / {:?})",
                        p.id,
                        path.site,
                        e.id,
                        e.before,
                        e.after,
                        b,
                        a
                    );
                    checked += 1;
                }
            }
            // The reasons name the edges from components earlier in the plan.
            for s in &steps {
                for r in &s.reason.edges {
                    assert!(
                        precedes(&r.before, &r.after),
                        "{}: reason edge {r:?} is not a DAG edge",
                        s.id
                    );
                    if let (Some(b), Some(c)) = (
                        pos.get(r.before.as_str()),
                        s.component.as_deref().and_then(|c| pos.get(c)),
                    ) {
                        assert!(
                            b.1 < c.0 || r.after != s.component.clone().unwrap_or_default(),
                            "{}: {r:?}",
                            s.id
                        );
                    }
                }
            }
        }
    }
    assert!(checked > 20, "too few edges checked ({checked})");
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

#[test]
fn plan_schema_is_published_and_current() {
    let path = root().join("reports/schema/plan-v1.json");
    let want = serde_json::to_string_pretty(&plan_schema()).unwrap() + "\n";
    if bless() {
        fs_err::write(&path, &want).unwrap();
    }
    let have = fs_err::read_to_string(&path).unwrap_or_default();
    assert_eq!(have, want, "reports/schema/plan-v1.json drifted from the types: NMINUS_BLESS=1 cargo test --test it plan_schema");
}

pub fn validate(plan_json: &Value) {
    let schema = plan_schema();
    let compiled = jsonschema::JSONSchema::compile(&schema).expect("schema compiles");
    let msgs: Vec<String> = match compiled.validate(plan_json) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(10)
            .collect(),
    };
    assert!(msgs.is_empty(), "plan does not match its schema: {msgs:#?}");
}

// ---------------------------------------------------------------------------------------------
// SLURP paths
// ---------------------------------------------------------------------------------------------

fn path_ids(from: &str, to: &str, adjacent_only: bool) -> Vec<(String, String, HopKind)> {
    let c = catalog();
    let f = c.series_named(from).unwrap();
    let t = c.series_named(to).unwrap();
    upgrade_path(c, f, t, PathOptions { adjacent_only })
        .unwrap()
        .into_iter()
        .map(|h| (h.from.id, h.to.id, h.kind))
        .collect()
}

fn hop(a: &str, b: &str, k: HopKind) -> (String, String, HopKind) {
    (a.to_owned(), b.to_owned(), k)
}

#[test]
fn slurp_path_rules() {
    use HopKind::{Adjacent, SlurpSkip};
    let c = catalog();
    // SLURP → next SLURP is allowed directly.
    assert_eq!(
        path_ids("2024.1", "2025.1", false),
        vec![hop("2024.1", "2025.1", SlurpSkip)]
    );
    assert_eq!(
        jump_kind(
            c,
            c.series_named("2024.1").unwrap(),
            c.series_named("2025.1").unwrap()
        ),
        Some(SlurpSkip)
    );
    // Non-SLURP → non-SLURP skip is not: 2024.2 → 2025.2 goes through 2025.1.
    assert_eq!(
        jump_kind(
            c,
            c.series_named("2024.2").unwrap(),
            c.series_named("2025.2").unwrap()
        ),
        None
    );
    assert_eq!(
        path_ids("2024.2", "2025.2", false),
        vec![
            hop("2024.2", "2025.1", Adjacent),
            hop("2025.1", "2025.2", Adjacent)
        ]
    );
    // More than one SLURP interval steps through each intermediate SLURP.
    assert_eq!(
        path_ids("2023.1", "2025.1", false),
        vec![
            hop("2023.1", "2024.1", SlurpSkip),
            hop("2024.1", "2025.1", SlurpSkip)
        ]
    );
    assert_eq!(
        jump_kind(
            c,
            c.series_named("2023.1").unwrap(),
            c.series_named("2025.1").unwrap()
        ),
        None
    );
    // SLURP → beyond the next SLURP: the skip, then adjacent.
    assert_eq!(
        path_ids("2024.1", "2025.2", false),
        vec![
            hop("2024.1", "2025.1", SlurpSkip),
            hop("2025.1", "2025.2", Adjacent)
        ]
    );
    // Pre-2023.1: N+1 only (yoga → 2023.1 is not a supported skip).
    assert_eq!(
        path_ids("yoga", "2023.1", false),
        vec![hop("yoga", "zed", Adjacent), hop("zed", "2023.1", Adjacent)]
    );
    assert_eq!(
        jump_kind(
            c,
            c.series_named("yoga").unwrap(),
            c.series_named("2023.1").unwrap()
        ),
        None
    );
    assert_eq!(
        path_ids("zed", "2025.1", false),
        vec![
            hop("zed", "2023.1", Adjacent),
            hop("2023.1", "2024.1", SlurpSkip),
            hop("2024.1", "2025.1", SlurpSkip)
        ]
    );
    // Adjacent only (tools that never skip).
    assert_eq!(
        path_ids("2024.1", "2025.1", true),
        vec![
            hop("2024.1", "2024.2", Adjacent),
            hop("2024.2", "2025.1", Adjacent)
        ]
    );
    // Every hop of every path between known series is a supported jump.
    let series: Vec<_> = c
        .series()
        .iter()
        .filter(|s| !s.is_independent() && s.ordinal + 8 > c.n().unwrap().ordinal)
        .collect();
    for f in &series {
        for t in series.iter().filter(|t| t.ordinal >= f.ordinal) {
            for h in upgrade_path(c, f, t, PathOptions::default()).unwrap() {
                let a = c.series_named(&h.from.name).unwrap();
                let b = c.series_named(&h.to.name).unwrap();
                assert_eq!(
                    jump_kind(c, a, b),
                    Some(h.kind),
                    "{} → {}: hop {} → {}",
                    f.id(),
                    t.id(),
                    a.id(),
                    b.id()
                );
            }
        }
    }
    // Downgrades are refused.
    assert!(upgrade_path(
        c,
        c.series_named("2025.1").unwrap(),
        c.series_named("2024.1").unwrap(),
        PathOptions::default()
    )
    .is_err());
}

#[test]
fn oldest_supported_compute_follows_slurp() {
    let c = catalog();
    let o = |s: &str| {
        nminus::oldest_supported_compute(c, c.series_named(s).unwrap())
            .id()
            .to_owned()
    };
    assert_eq!(o("2026.1"), "2025.1", "SLURP: N-2");
    assert_eq!(o("2025.2"), "2025.1", "non-SLURP: N-1 (the previous SLURP)");
    assert_eq!(o("2025.1"), "2024.1");
    assert_eq!(o("zed"), "yoga", "before 2023.1: N-1");
}

// ---------------------------------------------------------------------------------------------
// Upgrade plans
// ---------------------------------------------------------------------------------------------

#[test]
fn upgrade_plans_follow_the_dag_and_slurp_paths() {
    use HopKind::{Adjacent, SlurpSkip};
    let p = upgrade("", Some("2025.1"), &[]);
    validate(&serde_json::to_value(&p).unwrap());
    assert_eq!(hops(&p, "par1"), vec![hop("2024.1", "2025.1", SlurpSkip)]);
    assert_eq!(hops(&p, "lon1"), vec![hop("2024.2", "2025.1", Adjacent)]);
    assert_eq!(
        hops(&p, "fra1"),
        vec![
            hop("zed", "2023.1", Adjacent),
            hop("2023.1", "2024.1", SlurpSkip),
            hop("2024.1", "2025.1", SlurpSkip)
        ]
    );
    assert_dag_order(&p);
    // lon1 to 2025.2 goes through 2025.1.
    let p2 = upgrade("site=lon1", Some("2025.2"), &[]);
    assert_eq!(
        hops(&p2, "lon1"),
        vec![
            hop("2024.2", "2025.1", Adjacent),
            hop("2025.1", "2025.2", Adjacent)
        ]
    );
    assert_dag_order(&p2);
    // Landmarks of the order, par1.
    let s = upgrade_steps(&p, "par1", 1);
    let first = |c: &str| {
        s.iter()
            .position(|x| x.component.as_deref() == Some(c) && x.action == Action::Upgrade)
            .unwrap_or_else(|| panic!("no step for {c}"))
    };
    assert!(first("mariadb") < first("rabbitmq"));
    assert!(first("rabbitmq") < first("keystone"));
    assert!(first("keystone") < first("glance"));
    assert!(first("placement") < first("nova-conductor"));
    assert!(
        first("nova-conductor") < first("nova-scheduler")
            && first("nova-scheduler") < first("nova-api")
    );
    assert!(first("nova-api") < first("neutron-server"));
    assert!(
        first("cinder-scheduler") < first("cinder-volume")
            && first("cinder-backup") < first("cinder-api")
    );
    assert!(first("heat") < first("horizon") && first("octavia") < first("horizon"));
    assert!(first("horizon") < first("nova-compute"));
    // Prepare before everything, finalize after every data-plane step.
    let phase_pos = |ph: Phase| {
        s.iter()
            .enumerate()
            .filter(|(_, x)| x.phase == ph)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    assert!(phase_pos(Phase::Prepare).iter().max() < phase_pos(Phase::Infrastructure).iter().min());
    assert!(phase_pos(Phase::DataPlane).iter().max() < phase_pos(Phase::Finalize).iter().min());
    // Preconditions: backup, upgrade checks, previous online data migrations.
    assert!(s.iter().any(|x| x.action == Action::BackupDatabase));
    assert!(s.iter().any(|x| x.action == Action::VerifyDataMigrations));
    assert!(s.iter().any(|x| x.action == Action::UpgradeCheck
        && x.hints
            .commands
            .iter()
            .any(|c| c.starts_with("nova-status upgrade check"))));
    let conductor = &s[first("nova-conductor")];
    assert!(
        conductor
            .preconditions
            .iter()
            .any(|c| c.contains("nova-status upgrade check")),
        "{:?}",
        conductor.preconditions
    );
    assert!(
        conductor
            .reason
            .edges
            .iter()
            .any(|e| e.id == "E8" && e.before == "placement"),
        "{:?}",
        conductor.reason.edges
    );
    // Post-steps: online data migrations and SIGHUP close the window.
    let odm = s
        .iter()
        .find(|x| {
            x.action == Action::OnlineDataMigrations
                && x.component.as_deref() == Some("nova-conductor")
        })
        .unwrap();
    assert_eq!(odm.reversibility, Reversibility::NeedsDbRestore);
    assert!(s.iter().any(|x| x.action == Action::Reload
        && x.hints
            .kolla
            .as_ref()
            .is_some_and(|k| k.tags.contains(&"nova-reload".to_owned()))));
    // RabbitMQ 3.13 → 4.0 with kolla: one allowed hop, irreversible.
    let rmq: Vec<_> = s
        .iter()
        .filter(|x| x.component.as_deref() == Some("rabbitmq"))
        .collect();
    assert_eq!(rmq.len(), 1);
    assert_eq!(rmq[0].reversibility, Reversibility::Irreversible);
    assert!(rmq[0]
        .targets
        .iter()
        .all(|t| t.from.as_deref() == Some("3.13") && t.to.as_deref() == Some("4.0")));
    // kolla: SLURP jump tags, kolla-ansible version of the target.
    let stage = s.iter().find(|x| x.action == Action::StageCode).unwrap();
    let k = stage.hints.kolla.as_ref().unwrap();
    assert_eq!(
        k.globals.get("openstack_release").map(String::as_str),
        Some("2025.1")
    );
    assert!(
        k.commands.iter().any(|c| c.contains("kolla-ansible==20.")),
        "{:?}",
        k.commands
    );
    let nc = s
        .iter()
        .find(|x| x.component.as_deref() == Some("nova-compute"))
        .unwrap();
    assert!(
        nc.targets
            .iter()
            .any(|t| t.to.as_deref() == Some("2025.1-ubuntu-noble")),
        "{:?}",
        nc.targets
    );
    assert!(
        nc.targets.iter().any(|t| t.to.as_deref() == Some("31.3.1")),
        "{:?}",
        nc.targets
    );
    // fra1: distro pins with the Cloud Archive pocket of each hop's target.
    let f = upgrade_steps(&p, "fra1", 1);
    let nova_api = f
        .iter()
        .find(|x| x.component.as_deref() == Some("nova-api") && x.action == Action::Upgrade)
        .unwrap();
    assert!(
        nova_api
            .hints
            .packages
            .iter()
            .any(|pin| pin.name == "nova-api"
                && pin.version == "3:27.*"
                && pin.repo.as_deref() == Some("cloud-archive:antelope")),
        "{:?}",
        nova_api.hints.packages
    );
    // lon1: OSA install-branch SHAs of the target release; the dev build is stated.
    let l = upgrade_steps(&p, "lon1", 1);
    let nova_osa = l
        .iter()
        .find(|x| x.component.as_deref() == Some("nova-conductor") && x.action == Action::Upgrade)
        .unwrap();
    let sha = nova_osa
        .hints
        .osa
        .as_ref()
        .unwrap()
        .vars
        .get("nova_git_install_branch")
        .unwrap();
    assert_eq!(sha.len(), 40, "{sha}");
    assert!(
        p.limits
            .iter()
            .any(|l| l.code == LimitCode::UnreleasedBuild && l.nodes == ["lon1-cmp-02"]),
        "{:?}",
        p.limits
    );
}

#[test]
fn canary_batch_goes_first_and_batches_follow_cells_and_aggregates() {
    let p = upgrade("site=par1", Some("2025.1"), &[]);
    let batches: Vec<_> = p
        .steps
        .iter()
        .filter(|s| s.component.as_deref() == Some("nova-compute") && s.action == Action::Upgrade)
        .collect();
    assert!(batches.len() >= 3);
    let b0 = batches[0].batch.as_ref().unwrap();
    assert_eq!(b0.kind, BatchKind::Canary);
    assert_eq!(b0.index, 1);
    assert_eq!(
        batches[0]
            .targets
            .iter()
            .filter_map(|t| t.node.as_deref())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["par1-cmp-c1"]),
        "the canary=true host"
    );
    for b in &batches[1..] {
        assert_eq!(b.batch.as_ref().unwrap().kind, BatchKind::Batch);
        // One group per batch.
        let groups: BTreeSet<&str> = b
            .targets
            .iter()
            .filter_map(|t| t.node.as_deref())
            .map(|n| {
                if n.contains("cmp-g") {
                    "cell2"
                } else {
                    "cell1"
                }
            })
            .collect();
        assert_eq!(groups.len(), 1, "{}", b.title);
    }
    // Without a canary label: the first host, then the rest per group.
    let l = upgrade("site=lon1", Some("2025.1"), &[]);
    let lb: Vec<_> = l
        .steps
        .iter()
        .filter(|s| s.component.as_deref() == Some("nova-compute") && s.action == Action::Upgrade)
        .collect();
    assert_eq!(lb[0].batch.as_ref().unwrap().kind, BatchKind::Canary);
    assert_eq!(
        lb[0]
            .targets
            .iter()
            .filter_map(|t| t.node.as_deref())
            .collect::<Vec<_>>(),
        vec!["lon1-cmp-01"]
    );
    // Without a hold-back, the last batch makes every compute newer: irreversible, stated.
    assert_eq!(
        batches.last().unwrap().reversibility,
        Reversibility::Irreversible
    );
    assert!(p
        .limits
        .iter()
        .any(|x| x.code == LimitCode::ComputeServiceTooOld));
    // Every other batch is code-only.
    assert!(batches[..batches.len() - 1]
        .iter()
        .all(|b| b.reversibility == Reversibility::CodeOnly));
}

#[test]
fn hold_back_keeps_a_tenant_fallback_and_plans_the_cold_migration() {
    let p = upgrade("site=par1", Some("2025.1"), &["aggregate=agg-acme-hold"]);
    let held_touched = p
        .steps
        .iter()
        .filter(|s| s.action == Action::Upgrade)
        .any(|s| {
            s.targets
                .iter()
                .any(|t| t.node.as_deref() == Some("par1-cmp-h1"))
        });
    assert!(!held_touched, "the held host is not upgraded");
    let hold = p.steps.iter().find(|s| s.action == Action::Hold).unwrap();
    assert!(
        hold.blocked_by.is_empty(),
        "2024.1 is within the 2025.1 control plane's skew: {:?}",
        hold.blocked_by
    );
    let kv = &hold.hints.kolla.as_ref().unwrap().host_vars["par1-cmp-h1"];
    assert_eq!(
        kv.get("nova_compute_tag").map(String::as_str),
        Some("2024.1-ubuntu-jammy")
    );
    assert!(
        p.steps.iter().position(|s| s.action == Action::Hold)
            < p.steps
                .iter()
                .position(|s| s.phase == Phase::Infrastructure)
    );
    // With a hold-back, no batch is irreversible.
    assert!(p
        .steps
        .iter()
        .all(|s| s.reversibility != Reversibility::Irreversible
            || s.component.as_deref() == Some("rabbitmq")));
    // The rollback list starts with the tenant fallback: pin, then cold migration.
    assert_eq!(p.rollback[0].action, Action::ConfigureAggregate);
    assert_eq!(p.rollback[1].action, Action::ColdMigrate);
    assert!(p.rollback[1]
        .hints
        .commands
        .iter()
        .any(|c| c.contains("server migrate --host")));
    assert!(p
        .limits
        .iter()
        .any(|l| l.code == LimitCode::NoLiveMigrationToOlder));
    // Finalize waits for the fallback to be unneeded.
    let fin = p.steps.iter().find(|s| s.phase == Phase::Finalize).unwrap();
    assert!(fin
        .preconditions
        .iter()
        .any(|c| c.contains("tenant fallback")));
    // Holding a pre-SLURP-skew host is refused: fra1 computes at zed cannot stay behind 2023.1 → 2025.1.
    let f = upgrade("site=fra1", Some("2025.1"), &["node=fra1-cmp-02"]);
    let fh = f.steps.iter().find(|s| s.action == Action::Hold).unwrap();
    assert!(
        fh.blocked_by.is_empty(),
        "held one hop behind (2024.1), within 2025.1's skew: {:?}",
        fh.blocked_by
    );
    assert_eq!(fh.hop, Some(3));
    // A scope without the control plane cannot move computes past it.
    let c = upgrade("site=par1,aggregate=agg-globex", Some("2025.1"), &[]);
    assert!(
        c.warnings.iter().any(|w| w.contains("E19")),
        "{:?}",
        c.warnings
    );
    assert!(c.paths[0].hops.iter().all(|h| h.kind == HopKind::Patch));
}

#[test]
fn policy_picks_the_oldest_series_it_accepts() {
    let opts = UpgradeOptions {
        policy: Some(nminus::load_policy("default").unwrap()),
        canary: 1,
        ..UpgradeOptions::default()
    };
    let p = plan_upgrade(&input(&["three-sites"]), &ctx(), &opts).unwrap();
    // As of 2026-08-21: n = 2026.1, n-1 = 2025.2, previous SLURP = 2025.1 (maintained).
    for site in ["par1", "lon1", "fra1"] {
        let path = p.paths.iter().find(|x| x.site == site).unwrap();
        assert_eq!(path.to.id, "2025.1", "{site}");
    }
    assert_eq!(p.inputs.policy.as_deref(), Some("default"));
}

#[test]
fn patch_only_when_already_in_series() {
    let p = upgrade("site=par1", Some("2024.1"), &[]);
    assert!(p.paths[0].hops.iter().all(|h| h.kind == HopKind::Patch));
    assert!(
        p.steps
            .iter()
            .all(|s| s.reversibility == Reversibility::CodeOnly),
        "point releases are code-only"
    );
    let nova = p
        .steps
        .iter()
        .find(|s| s.component.as_deref() == Some("nova-conductor") && s.action == Action::Upgrade)
        .unwrap();
    assert!(nova
        .targets
        .iter()
        .any(|t| t.from.as_deref() == Some("29.2.0") && t.to.as_deref() == Some("29.4.0")));
    assert!(nova
        .hints
        .kolla
        .as_ref()
        .unwrap()
        .commands
        .iter()
        .any(|c| c.contains("kolla-ansible deploy")));
}

#[test]
fn impossible_requests_are_errors() {
    let fi = input(&["three-sites"]);
    let mk = |scope: &str, to: Option<&str>| UpgradeOptions {
        scope: parse_scope(scope).unwrap(),
        to: to.map(str::to_owned),
        canary: 1,
        ..UpgradeOptions::default()
    };
    let e = plan_upgrade(&fi, &ctx(), &mk("site=par1", Some("2023.1"))).unwrap_err();
    assert!(e.to_string().contains("older"), "{e}");
    let e = plan_upgrade(&fi, &ctx(), &mk("site=nowhere", Some("2025.1"))).unwrap_err();
    assert!(e.to_string().contains("matches no node"), "{e}");
    let e = plan_upgrade(&fi, &ctx(), &mk("site=par1", Some("no-such-series"))).unwrap_err();
    assert!(e.to_string().contains("unknown series"), "{e}");
    let e = plan_upgrade(&fi, &ctx(), &mk("site=par1", None)).unwrap_err();
    assert!(e.to_string().contains("--to"), "{e}");
    assert!(parse_scope("sight=par1").is_err());
    // Across sites, a site already past the target is left out, with a warning.
    let p = plan_upgrade(&fi, &ctx(), &mk("", Some("2024.1"))).unwrap();
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("lon1: already runs 2024.2")),
        "{:?}",
        p.warnings
    );
    assert!(!p.paths.iter().any(|x| x.site == "lon1"));
}

// ---------------------------------------------------------------------------------------------
// Rollback plans
// ---------------------------------------------------------------------------------------------

fn rollback(fi: &FileInput, scope: &str, to: RollbackTarget) -> Plan {
    plan_rollback(
        fi,
        &ctx(),
        &RollbackOptions {
            scope: parse_scope(scope).unwrap(),
            to,
        },
    )
    .unwrap()
}

#[test]
fn rollback_limits_are_stated() {
    let fi = input(&["tenant-rollback"]);
    // A whole site back a series: database restore, RabbitMQ cannot go back.
    let p = rollback(
        &fi,
        "site=par1",
        RollbackTarget::Date(time::macros::date!(2026 - 05 - 01)),
    );
    validate(&serde_json::to_value(&p).unwrap());
    let codes: BTreeSet<LimitCode> = p.limits.iter().map(|l| l.code).collect();
    assert!(codes.contains(&LimitCode::NoDbDowngrade), "{codes:?}");
    assert!(codes.contains(&LimitCode::NoRabbitmqDowngrade), "{codes:?}");
    let restore = p
        .steps
        .iter()
        .position(|s| s.action == Action::RestoreDatabase)
        .expect("a restore step");
    let pos = |c: &str| {
        p.steps
            .iter()
            .position(|s| s.component.as_deref() == Some(c) && s.action == Action::Downgrade)
            .unwrap()
    };
    assert!(
        pos("nova-compute") < pos("nova-conductor"),
        "data plane goes back first"
    );
    assert!(restore < pos("keystone") && restore > pos("nova-compute"));
    assert_eq!(
        p.steps[pos("keystone")].reversibility,
        Reversibility::NeedsDbRestore
    );
    assert!(!p.steps[pos("rabbitmq")].blocked_by.is_empty());
    // The held host (still at 2024.1) keeps the older compute records alive: computes may go back.
    assert!(
        p.steps[pos("nova-compute")].blocked_by.is_empty(),
        "{:?}",
        p.steps[pos("nova-compute")].blocked_by
    );

    // Without the held host, every compute is newer: a compute rollback is blocked (ServiceTooOld).
    let no_hold: Vec<_> = fi
        .inventories()
        .iter()
        .filter(|i| i.node.id != "par1-cmp-h1")
        .cloned()
        .collect();
    let fi2 = FileInput::from_inventories(no_hold);
    let p = rollback(&fi2, "tenant=globex", RollbackTarget::Previous);
    let nc = p
        .steps
        .iter()
        .find(|s| s.component.as_deref() == Some("nova-compute"))
        .unwrap();
    assert!(
        nc.blocked_by.iter().any(|b| b.contains("ServiceTooOld")),
        "{:?}",
        nc.blocked_by
    );
    assert!(p
        .limits
        .iter()
        .any(|l| l.code == LimitCode::ComputeServiceTooOld));
    assert!(p
        .limits
        .iter()
        .any(|l| l.code == LimitCode::SharedControlPlane));
    // Hypervisor going back: the host is emptied by cold migration first.
    assert!(
        nc.preconditions.iter().any(|c| c.contains("live-migrate")),
        "{:?}",
        nc.preconditions
    );
}

#[test]
fn rollback_to_given_inventories() {
    let fi = input(&["tenant-rollback"]);
    let before = FileInput::load(&[fleet_dir("tenant-rollback/2026-05-01/par1-cmp-g1.json")]);
    let p = rollback(
        &fi,
        "node=par1-cmp-g1",
        RollbackTarget::Inventories(before.inventories().to_vec()),
    );
    let nodes: BTreeSet<&str> = p
        .steps
        .iter()
        .flat_map(|s| s.targets.iter().filter_map(|t| t.node.as_deref()))
        .collect();
    assert_eq!(nodes, BTreeSet::from(["par1-cmp-g1"]));
    assert!(p.steps.iter().any(|s| s
        .targets
        .iter()
        .any(|t| t.from.as_deref() == Some("31.2.0") && t.to.as_deref() == Some("29.2.0"))));
    // No history at all: stated.
    let one = FileInput::from_inventories(before.inventories().to_vec());
    let p = rollback(&one, "node=par1-cmp-g1", RollbackTarget::Previous);
    assert!(
        p.limits.iter().any(|l| l.code == LimitCode::NoHistory),
        "{:?}",
        p.limits
    );
}

// ---------------------------------------------------------------------------------------------
// Replication
// ---------------------------------------------------------------------------------------------

#[test]
fn replicate_pins_exact_versions_for_a_smaller_site() {
    let opts = ReplicateOptions {
        from: "par1".into(),
        to: "ber1".into(),
        footprint: Footprint::Small,
        own_keystone: false,
        control_plane: None,
    };
    let p = plan_replicate(&input(&["three-sites"]), &ctx(), &opts).unwrap();
    validate(&serde_json::to_value(&p).unwrap());
    let m = p.manifest.as_ref().unwrap();
    let count = |role: &str| {
        m.roles
            .iter()
            .find(|r| r.role == role)
            .map(|r| r.hosts.len())
            .unwrap()
    };
    assert_eq!(
        (count("controller"), count("storage"), count("compute")),
        (1, 1, 2)
    );
    assert!(m.services.iter().any(|s| s.deliverable == "nova"
        && s.version == "29.2.0"
        && s.commit.as_ref().is_some_and(|c| c.len() == 40)));
    assert!(m
        .images
        .iter()
        .all(|i| i.digest.is_some() && i.tag == "2024.1-ubuntu-jammy"));
    assert!(m
        .packages
        .iter()
        .any(|x| x.name == "docker-ce" && x.version.starts_with("5:26.1.4")));
    // keystone is shared (new region), everything else deployed in DAG order with digest pins.
    assert!(p.steps.iter().any(|s| s.action == Action::RegisterRegion));
    assert!(!p
        .steps
        .iter()
        .any(|s| s.component.as_deref() == Some("keystone") && s.action == Action::Deploy));
    let nc = p
        .steps
        .iter()
        .find(|s| s.component.as_deref() == Some("nova-compute"))
        .unwrap();
    let hv = &nc.hints.kolla.as_ref().unwrap().host_vars["ber1-compute-01"];
    assert!(
        hv["nova_compute_image_full"].starts_with("quay.io/openstack.kolla/nova-compute@sha256:")
    );
    let pos = |c: &str| {
        p.steps
            .iter()
            .position(|s| s.component.as_deref() == Some(c))
            .unwrap()
    };
    assert!(
        pos("mariadb") < pos("placement")
            && pos("placement") < pos("nova-conductor")
            && pos("nova-conductor") < pos("nova-compute")
    );
    // A dev build is stated as such (lon1).
    let opts = ReplicateOptions {
        from: "lon1".into(),
        to: "dub1".into(),
        footprint: Footprint::Same,
        own_keystone: true,
        control_plane: None,
    };
    let p = plan_replicate(&input(&["three-sites"]), &ctx(), &opts).unwrap();
    assert!(
        p.limits
            .iter()
            .any(|l| l.code == LimitCode::UnreleasedBuild),
        "{:?}",
        p.limits
    );
    assert!(
        p.warnings.iter().any(|w| w.contains("30.2.1.dev4")),
        "{:?}",
        p.warnings
    );
}

// ---------------------------------------------------------------------------------------------
// Renderer goldens
// ---------------------------------------------------------------------------------------------

fn golden_cases() -> Vec<(&'static str, Plan)> {
    let replicate = plan_replicate(
        &input(&["three-sites"]),
        &ctx(),
        &ReplicateOptions {
            from: "par1".into(),
            to: "ber1".into(),
            footprint: Footprint::Small,
            own_keystone: false,
            control_plane: None,
        },
    )
    .unwrap();
    vec![
        (
            "upgrade-par1-hold",
            upgrade("site=par1", Some("2025.1"), &["aggregate=agg-acme-hold"]),
        ),
        ("upgrade-lon1", upgrade("site=lon1", Some("2025.2"), &[])),
        ("upgrade-fra1", upgrade("site=fra1", Some("2024.1"), &[])),
        (
            "rollback-acme",
            rollback(
                &input(&["tenant-rollback"]),
                "tenant=acme",
                RollbackTarget::Previous,
            ),
        ),
        ("replicate-par1-ber1", replicate),
    ]
}

const FORMATS: [PlanFormat; 5] = [
    PlanFormat::Json,
    PlanFormat::Markdown,
    PlanFormat::Ansible,
    PlanFormat::Kolla,
    PlanFormat::Osa,
];

#[test]
fn renderer_goldens() {
    let base = root().join("fixtures/golden/plan");
    let mut want_files = BTreeSet::new();
    for (case, plan) in golden_cases() {
        for f in FORMATS {
            for file in render(&plan, f) {
                let rel = format!("{case}/{}", file.path);
                let path = base.join(&rel);
                if bless() {
                    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
                    fs_err::write(&path, &file.content).unwrap();
                }
                let have = fs_err::read_to_string(&path).unwrap_or_default();
                if have != file.content {
                    let line = have
                        .lines()
                        .zip(file.content.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    panic!(
                        "{rel} differs from the renderer (first difference at line {}):\n  golden: {:?}\n  now:    {:?}\nregenerate with NMINUS_BLESS=1 cargo test --test it plan::renderer_goldens",
                        line + 1,
                        have.lines().nth(line),
                        file.content.lines().nth(line)
                    );
                }
                want_files.insert(rel);
            }
        }
    }
    assert_eq!(
        list_files(&base),
        want_files,
        "stray or missing golden files under fixtures/golden/plan"
    );
}

#[test]
fn rendered_files_parse() {
    for (case, plan) in golden_cases() {
        for f in FORMATS {
            for file in render(&plan, f) {
                let what = format!("{case}/{}", file.path);
                if file.path.ends_with(".json") {
                    let v: Value = serde_json::from_str(&file.content).unwrap();
                    validate(&v);
                } else if file.path.ends_with(".yml") {
                    serde_yaml::from_str::<serde_yaml::Value>(&file.content)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                } else if file.path.ends_with(".sh") {
                    let dir = tempfile::tempdir().unwrap();
                    let p = dir.path().join("x.sh");
                    fs_err::write(&p, &file.content).unwrap();
                    let o = std::process::Command::new("bash")
                        .arg("-n")
                        .arg(&p)
                        .output()
                        .unwrap();
                    assert!(
                        o.status.success(),
                        "{what}: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Playbooks through ansible-playbook
// ---------------------------------------------------------------------------------------------

fn ansible_playbook(dir: &Path, args: &[&str]) -> std::process::Output {
    let home = dir.join("ansible-home");
    fs_err::create_dir_all(&home).unwrap();
    std::process::Command::new("ansible-playbook")
        .args(args)
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
        .output()
        .unwrap_or_else(|e| panic!("ansible-playbook is required (Debian package `ansible`, installed by scripts/test.sh): {e}"))
}

#[test]
fn every_playbook_passes_ansible_syntax_and_check_mode() {
    let dir = tempfile::tempdir().unwrap();
    let cases = golden_cases();
    let ran: usize = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(case, plan)| {
                let d = dir.path().join(case);
                sc.spawn(move || {
                    fs_err::create_dir_all(&d).unwrap();
                    let mut ran = 0;
                    for file in render(plan, PlanFormat::Ansible) {
                        let path = d.join("playbook.yml");
                        fs_err::write(&path, &file.content).unwrap();
                        let pb = path.to_str().unwrap();
                        let o = ansible_playbook(
                            &d,
                            &["--syntax-check", "-i", "localhost,", "-c", "local", pb],
                        );
                        assert!(
                            o.status.success(),
                            "{case}: syntax-check failed:\n{}\n{}",
                            String::from_utf8_lossy(&o.stdout),
                            String::from_utf8_lossy(&o.stderr)
                        );
                        // Check mode as this host, then as a node the plan pins packages on.
                        let node = plan
                            .steps
                            .iter()
                            .flat_map(|s| s.hints.packages.iter().flat_map(|p| p.hosts.iter()))
                            .next()
                            .cloned();
                        let mut runs = vec![vec!["--check".to_owned()]];
                        if let Some(n) = node {
                            runs.push(vec![
                                "--check".to_owned(),
                                "-e".to_owned(),
                                format!("nminus_node_id={n}"),
                            ]);
                        }
                        for extra in runs {
                            let mut args: Vec<&str> = vec!["-i", "localhost,", "-c", "local"];
                            args.extend(extra.iter().map(String::as_str));
                            args.push(pb);
                            let o = ansible_playbook(&d, &args);
                            let out = String::from_utf8_lossy(&o.stdout);
                            assert!(
                                o.status.success(),
                                "{case} {extra:?}: check mode failed:\n{out}\n{}",
                                String::from_utf8_lossy(&o.stderr)
                            );
                            assert!(
                                out.contains("PLAY RECAP") && out.contains("failed=0"),
                                "{case} {extra:?}: {out}"
                            );
                            ran += 1;
                        }
                    }
                    ran
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(ran >= 7, "{ran}");
}

// ---------------------------------------------------------------------------------------------
// Scenarios end to end through the CLI
// ---------------------------------------------------------------------------------------------

fn cli(args: &[&str]) -> std::process::Output {
    let data = shared_data("openstack-releases");
    let data = data.parent().unwrap().to_str().unwrap().to_owned();
    nminus()
        .args(["plan"])
        .args(args)
        .args(["--data", &data, "--as-of", "2026-08-21"])
        .env("NMINUS_NOW", NOW)
        .env_remove("NMINUS_DATA")
        .output()
        .unwrap()
}

fn cli_plan(args: &[&str]) -> Plan {
    let o = cli(args);
    assert!(
        o.status.success(),
        "nminus plan {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    validate(&v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn scenario_1_replicate_a_site_at_small_footprint() {
    let fleet = fleet_dir("three-sites");
    let f = fleet.to_str().unwrap();
    let p = cli_plan(&[
        "replicate",
        "--inventories",
        f,
        "--from",
        "par1",
        "--to",
        "ber1",
        "--footprint",
        "small",
    ]);
    let m = p.manifest.unwrap();
    assert_eq!(m.source_site, "par1");
    assert_eq!(m.target_site, "ber1");
    let hosts: usize = m.roles.iter().map(|r| r.hosts.len()).sum();
    let source: usize = m.roles.iter().map(|r| r.source_nodes.len()).sum();
    assert!(hosts < source, "{hosts} < {source}");
    // Every service version of the source is pinned exactly, never as a series name.
    for s in &m.services {
        assert!(
            s.version.chars().next().unwrap().is_ascii_digit() && s.version.contains('.'),
            "{s:?}"
        );
    }
    // kolla rendering into a directory: globals, group/host vars, commands.
    let out = tempfile::tempdir().unwrap();
    let o = cli(&[
        "replicate",
        "--inventories",
        f,
        "--from",
        "par1",
        "--to",
        "ber1",
        "--format",
        "kolla",
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g = fs_err::read_to_string(out.path().join("kolla/ber1/globals.yml")).unwrap();
    assert!(
        g.contains("openstack_region_name: !unsafe \"ber1\"")
            && g.contains("openstack_release: !unsafe \"2024.1\""),
        "{g}"
    );
    let hv = fs_err::read_to_string(
        out.path()
            .join("kolla/ber1/inventory/host_vars/ber1-compute-02.yml"),
    )
    .unwrap();
    assert!(
        hv.contains(
            "nova_compute_image_full: !unsafe \"quay.io/openstack.kolla/nova-compute@sha256:"
        ),
        "{hv}"
    );
    let sh = out.path().join("kolla/ber1/commands.sh");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs_err::metadata(&sh).unwrap().permissions().mode() & 0o111,
        0o111
    );
    // The three sites after expansion: the new one plans like the others.
    let md = cli(&[
        "replicate",
        "--inventories",
        f,
        "--from",
        "par1",
        "--to",
        "ber1",
        "--format",
        "markdown",
    ]);
    assert!(String::from_utf8_lossy(&md.stdout).contains("## Bill of materials: par1 → ber1"));
}

#[test]
fn scenario_2_roll_back_one_tenant_while_another_keeps_n() {
    let hist = fleet_dir("tenant-rollback");
    let h = hist.to_str().unwrap();
    // Planned before the upgrade: acme's hold-back aggregate stays at N-1.
    let three = fleet_dir("three-sites");
    let up = cli_plan(&[
        "upgrade",
        "--inventories",
        three.to_str().unwrap(),
        "--scope",
        "site=par1",
        "--to",
        "2025.1",
        "--hold-back",
        "aggregate=agg-acme-hold",
    ]);
    assert!(up.steps.iter().any(|s| s.action == Action::Hold));
    assert!(up.rollback.iter().any(|s| s.action == Action::ColdMigrate));
    // After the upgrade, acme breaks: roll acme back, globex keeps 2025.1.
    let p = cli_plan(&["rollback", "--inventories", h, "--scope", "tenant=acme"]);
    let touched: BTreeSet<&str> = p
        .steps
        .iter()
        .flat_map(|s| s.targets.iter().filter_map(|t| t.node.as_deref()))
        .collect();
    assert!(
        touched
            .iter()
            .all(|n| ["par1-cmp-a1", "par1-cmp-a2", "par1-cmp-h1"].contains(n)),
        "{touched:?}"
    );
    assert!(
        !touched
            .iter()
            .any(|n| n.contains("cmp-g") || n.contains("ctl")),
        "globex and the control plane keep N: {touched:?}"
    );
    // Fallback first: pin acme to its held-back aggregate, cold-migrate onto it.
    assert_eq!(p.steps[0].action, Action::ConfigureAggregate);
    assert!(
        p.steps[0].title.contains("agg-acme-hold"),
        "{}",
        p.steps[0].title
    );
    assert_eq!(p.steps[1].action, Action::ColdMigrate);
    let codes: BTreeSet<LimitCode> = p.limits.iter().map(|l| l.code).collect();
    assert!(
        codes.contains(&LimitCode::SharedControlPlane)
            && codes.contains(&LimitCode::NoLiveMigrationToOlder),
        "{codes:?}"
    );
    // acme's upgraded computes may go back (the held host keeps 2024.1 records alive).
    let nc = p
        .steps
        .iter()
        .find(|s| s.component.as_deref() == Some("nova-compute") && s.action == Action::Downgrade)
        .unwrap();
    assert!(nc.blocked_by.is_empty(), "{:?}", nc.blocked_by);
    assert!(nc
        .targets
        .iter()
        .all(|t| t.node.as_deref() != Some("par1-cmp-h1")));
    // The same through the generic playbook and kolla renderers.
    let o = cli(&[
        "rollback",
        "--inventories",
        h,
        "--scope",
        "tenant=acme",
        "--format",
        "kolla",
    ]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("# ==> kolla/par1/inventory/host_vars/par1-cmp-a1.yml <=="),
        "{text}"
    );
    assert!(text.contains("nova_compute_tag: !unsafe \"2024.1-ubuntu-jammy\""));
}

#[test]
fn cli_reports_bad_input() {
    let three = fleet_dir("three-sites");
    let o = cli(&[
        "upgrade",
        "--inventories",
        three.to_str().unwrap(),
        "--to",
        "2099.9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown series"));
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("broken.json"), "{").unwrap();
    fs_err::copy(
        three.join("fra1/fra1-ctl-01.json"),
        dir.path().join("fra1-ctl-01.json"),
    )
    .unwrap();
    let o = cli(&[
        "upgrade",
        "--inventories",
        dir.path().to_str().unwrap(),
        "--to",
        "2023.1",
    ]);
    assert_eq!(o.status.code(), Some(2), "completed with problems");
    let p: Plan = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("broken.json")),
        "{:?}",
        p.warnings
    );
    let help = nminus()
        .args(["plan", "upgrade", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("SLURP"));
}

#[test]
fn docs_name_every_dag_edge_and_limit() {
    let doc = fs_err::read_to_string(root().join("docs/planner.md")).unwrap();
    for e in edges() {
        let id = e.id.trim_end_matches(char::is_numeric);
        assert!(
            doc.contains(e.id) || (id.starts_with("I-CINDER") && doc.contains("I-CINDER-1..3")),
            "docs/planner.md does not name edge {}",
            e.id
        );
    }
    for code in [
        "no-db-downgrade",
        "compute-service-too-old",
        "compute-skew",
        "no-live-migration-to-older",
        "shared-control-plane",
        "no-rabbitmq-downgrade",
        "no-history",
        "unreleased-build",
        "unknown-series",
    ] {
        assert!(
            doc.contains(&format!("`{code}`")),
            "docs/planner.md does not explain limit {code}"
        );
        let v = serde_json::to_value(code).unwrap();
        serde_json::from_value::<LimitCode>(v).unwrap_or_else(|e| panic!("{code}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Node data never becomes code in what the planner writes
// ---------------------------------------------------------------------------------------------

/// An inventory whose names or package strings could change a playbook, a shell line or a file
/// path is not planned from: it is a problem naming the field, and the other nodes proceed.
#[test]
fn inventories_with_unsafe_names_are_not_planned() {
    let dir = tempfile::tempdir().unwrap();
    let src = fleet_dir("three-sites").join("par1");
    let mut names = Vec::new();
    for e in fs_err::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        names.push(p.file_name().unwrap().to_owned());
        fs_err::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    names.sort();
    // (field as reported, JSON pointer, hostile value)
    let hostile = [
        ("node.id", "/node/id", json!("../../etc/kolla/globals")),
        (
            "node.labels.aggregate",
            "/node/labels/aggregate",
            json!("agg\ntouch /tmp/x\n#"),
        ),
        (
            "packages[0].version",
            "/packages/0/version",
            json!("1.0{{ lookup('pipe','id') }}"),
        ),
        ("node.site", "/node/site", json!("par1$(touch /tmp/x)")),
    ];
    for (i, (_, ptr, value)) in hostile.iter().enumerate() {
        let f = dir.path().join(&names[i]);
        let mut v: Value = serde_json::from_slice(&fs_err::read(&f).unwrap()).unwrap();
        if ptr.starts_with("/node/labels") && v["node"]["labels"].is_null() {
            v["node"]["labels"] = json!({});
        }
        match v.pointer_mut(ptr) {
            Some(slot) => *slot = value.clone(),
            None => v["node"]["labels"]["aggregate"] = value.clone(),
        }
        fs_err::write(&f, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let input = FileInput::load(&[dir.path().to_path_buf()]);
    assert_eq!(input.inventories().len(), names.len() - hostile.len());
    for (field, _, _) in &hostile {
        assert!(
            input
                .problems()
                .iter()
                .any(|p| p.message.contains("not planned") && p.message.contains(field)),
            "{field}: {:?}",
            input.problems()
        );
    }
}

/// Defence in depth, for data that got past the checks: rendered with hostile strings in pins,
/// hosts, titles and kolla variables, nothing runs. Ansible is run in check mode as the hostile
/// host (its `{{ lookup('pipe', …) }}` would create a file), the command scripts keep every
/// node-written line a comment or quoted, no file leaves the output directory, and the
/// Markdown holds no live markup.
#[test]
fn hostile_strings_in_a_plan_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    let pwned = dir.path().join("PWNED");
    let jinja = format!("{{{{ lookup('pipe', 'touch {}') }}}}", pwned.display());
    let host = "cmp1$(touch /tmp/nminus-never)".to_owned();
    let (_, mut plan) = golden_cases()
        .into_iter()
        .find(|(c, _)| *c == "rollback-acme")
        .unwrap();
    let step = plan
        .steps
        .iter_mut()
        .find(|s| !s.hints.packages.is_empty() || s.hints.kolla.is_some())
        .expect("a step with deployer hints");
    step.title = format!(
        "{}\ntouch /tmp/nminus-never\n# <script>alert(1)</script> ``` [x](javascript:alert(1))",
        step.title
    );
    step.hints.packages.push(nminus::model::PackagePin {
        hosts: vec![host.clone()],
        manager: nminus::model::PackageManager::Apt,
        name: jinja.clone(),
        version: format!("1.0\nPackage: *\n{jinja}"),
        exact: true,
        hold: false,
        repo: None,
    });
    let k = step.hints.kolla.get_or_insert_with(Default::default);
    k.host_vars.insert(
        "../../../escape".to_owned(),
        BTreeMap::from([("nova_compute_tag\nevil: 1".to_owned(), jinja.clone())]),
    );
    k.commands.push(format!(
        "kolla-ansible deploy -i INVENTORY --limit {}",
        nminus::shell_word(&host)
    ));
    // Ansible: syntax, then check mode as the hostile host.
    let pb = dir.path().join("playbook.yml");
    let files = render(&plan, PlanFormat::Ansible);
    fs_err::write(&pb, &files[0].content).unwrap();
    let pb = pb.to_str().unwrap();
    let o = ansible_playbook(
        dir.path(),
        &["--syntax-check", "-i", "localhost,", "-c", "local", pb],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let node = format!("nminus_node_id={host}");
    let o = ansible_playbook(
        dir.path(),
        &[
            "--check",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            &node,
            pb,
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("PLAY RECAP"),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!pwned.exists(), "a template in a package name ran");
    // kolla: the variables file is one key per line, under host_vars/, value tagged !unsafe.
    for f in render(&plan, PlanFormat::Kolla) {
        let p = Path::new(&f.path);
        assert!(
            p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{}",
            f.path
        );
        if f.path.ends_with("commands.sh") {
            for line in f.content.lines() {
                let t = line.trim_start();
                assert!(!t.starts_with("touch"), "{}: {line}", f.path);
                if t.contains("--limit") {
                    assert!(
                        t.contains("'cmp1$(touch /tmp/nminus-never)'") || !t.contains("cmp1$"),
                        "{line}"
                    );
                }
            }
        }
        if f.path.contains("host_vars") && f.content.contains("lookup") {
            for line in f.content.lines().filter(|l| l.contains("lookup")) {
                assert!(
                    line.starts_with("nova_compute_tag_evil__1: !unsafe \""),
                    "{line}"
                );
            }
        }
    }
    let md = &render(&plan, PlanFormat::Markdown)[0].content;
    assert!(!md.contains("<script>"), "raw HTML in the Markdown plan");
    assert!(
        !md.contains("[x](javascript:"),
        "a live link in the Markdown plan"
    );
    assert!(
        !md.lines().any(|l| l.starts_with("touch ")),
        "a line break in a title made a line"
    );
}

/// A tenant scope that takes in a node also running the control plane (a hyperconverged
/// controller labelled with the tenant) rolls back only that node's data plane: the shared
/// control plane and its database stay, as the shared-control-plane limit says, and a warning
/// names what stays.
#[test]
fn a_tenant_rollback_leaves_the_shared_control_plane_alone() {
    let dir = tempfile::tempdir().unwrap();
    for day in ["2026-05-01", "2026-08-01"] {
        let src = fleet_dir("tenant-rollback").join(day);
        let dst = dir.path().join(day);
        fs_err::create_dir_all(&dst).unwrap();
        for e in fs_err::read_dir(&src).unwrap() {
            let p = e.unwrap().path();
            let mut v: Value = serde_json::from_slice(&fs_err::read(&p).unwrap()).unwrap();
            if v["node"]["id"] == "par1-ctl-01" {
                v["node"]["labels"]["tenant"] = json!("acme");
            }
            fs_err::write(
                dst.join(p.file_name().unwrap()),
                serde_json::to_vec(&v).unwrap(),
            )
            .unwrap();
        }
    }
    let fi = FileInput::load(&[dir.path().to_path_buf()]);
    let p = rollback(&fi, "tenant=acme", RollbackTarget::Previous);
    assert!(
        p.limits
            .iter()
            .any(|l| l.code == LimitCode::SharedControlPlane),
        "{:?}",
        p.limits
    );
    for s in &p.steps {
        assert!(
            !matches!(s.phase, Phase::ControlPlane | Phase::Restore),
            "{}: {}",
            s.id,
            s.title
        );
        assert!(!s.title.contains("database"), "{}", s.title);
    }
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("par1-ctl-01:") && w.contains("shared control plane")),
        "{:?}",
        p.warnings
    );
    // The tenant's computes still go back.
    assert!(
        p.steps
            .iter()
            .any(|s| s.component.as_deref() == Some("nova-compute")),
        "{:?}",
        p.steps.iter().map(|s| &s.title).collect::<Vec<_>>()
    );
}

/// Mixed sites as real clouds have them: a held compute that already runs an older series than
/// its control plane keeps that series in the plan, and falls below what the target control
/// plane supports (compute-skew); OpenStack-Ansible's RabbitMQ and MariaDB upgrades are not
/// "code-only"; a target series without releases is refused, naming the newest that has them.
#[test]
fn mixed_sites_keep_each_hosts_series_and_deployer_reversibility() {
    // par1 (kolla, 2024.1) with its held compute on 2023.1.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("par1");
    fs_err::create_dir_all(&dir).unwrap();
    for e in fs_err::read_dir(fleet_dir("three-sites").join("par1")).unwrap() {
        let e = e.unwrap();
        let mut inv: Value = serde_json::from_slice(&fs_err::read(e.path()).unwrap()).unwrap();
        if inv["node"]["id"] == "par1-cmp-h1" {
            for s in inv["services"].as_array_mut().unwrap() {
                let v = match s["deliverable"].as_str().unwrap() {
                    "nova" => "27.5.1",
                    "neutron" => "22.2.1",
                    o => panic!("{o}"),
                };
                s["version"] = json!(v);
            }
            let text = serde_json::to_string(&inv)
                .unwrap()
                .replace(":2024.1-ubuntu-jammy", ":2023.1-ubuntu-jammy");
            inv = serde_json::from_str(&text).unwrap();
        }
        fs_err::write(dir.join(e.file_name()), serde_json::to_vec(&inv).unwrap()).unwrap();
    }
    let fi = FileInput::load(&[dir]);
    assert!(fi.problems().is_empty(), "{:?}", fi.problems());
    let opts = |to: &str, hold: &[&str]| UpgradeOptions {
        scope: parse_scope("site=par1").unwrap(),
        to: Some(to.to_owned()),
        policy: None,
        canary: 1,
        batch_size: 0,
        hold_back: hold.iter().map(|h| parse_scope(h).unwrap()).collect(),
        adjacent_only: false,
        control_plane: None,
    };
    let p = plan_upgrade(&fi, &ctx(), &opts("2025.1", &["aggregate=agg-acme-hold"])).unwrap();
    let hold = p.steps.iter().find(|s| s.action == Action::Hold).unwrap();
    assert!(hold.title.contains("at 2023.1"), "{}", hold.title);
    assert!(!hold.title.contains("2024.1"), "{}", hold.title);
    let skew: Vec<_> = p
        .limits
        .iter()
        .filter(|l| l.code == LimitCode::ComputeSkew)
        .collect();
    assert_eq!(skew.len(), 1, "{:#?}", p.limits);
    assert_eq!(skew[0].nodes, ["par1-cmp-h1"]);
    assert!(!hold.blocked_by.is_empty());

    // lon1 (OpenStack-Ansible, 2024.2): RabbitMQ irreversible, MariaDB needs a restore.
    let p = upgrade("site=lon1", Some("2025.2"), &[]);
    let infra = |c: &str| {
        p.steps
            .iter()
            .find(|s| s.action == Action::Upgrade && s.component.as_deref() == Some(c))
            .unwrap_or_else(|| panic!("no {c} upgrade"))
    };
    assert_eq!(infra("rabbitmq").reversibility, Reversibility::Irreversible);
    assert_eq!(
        infra("mariadb").reversibility,
        Reversibility::NeedsDbRestore
    );
    assert!(p.limits.iter().any(
        |l| l.code == LimitCode::NoRabbitmqDowngrade && l.steps.contains(&infra("rabbitmq").id)
    ));
    let md: String = render(&p, PlanFormat::Markdown)
        .into_iter()
        .map(|f| f.content)
        .collect();
    assert!(
        !md.contains("SlurpSkip") && !md.contains("(Adjacent)"),
        "{md}"
    );

    // A series with no release in the data.
    let err = plan_upgrade(&input(&["three-sites"]), &ctx(), &opts("2026.2", &[]))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no releases") && err.contains("2026.1 gazpacho"),
        "{err}"
    );
}
