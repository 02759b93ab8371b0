//! What a node runs, as the planner sees it: components (from units, kolla images, packages
//! and role labels), their versions and series, the deployer, and the node's placement (site,
//! cell, aggregate, availability zone, tenant).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Ecosystem, Inventory, OsRelease};
use crate::releases::openstack::OpenStackCatalog;

use super::order;

/// How a node's OpenStack is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Deployer {
    /// kolla-ansible (containers from `openstack.kolla` images).
    Kolla,
    /// OpenStack-Ansible (venvs under `/openstack/venvs`).
    Osa,
    /// Distro packages (Ubuntu Cloud Archive, RDO, Debian).
    Distro,
    /// Not recognised.
    Unknown,
}

impl Deployer {
    /// `kolla`, `osa`, `distro`, `unknown`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Kolla => "kolla",
            Self::Osa => "osa",
            Self::Distro => "distro",
            Self::Unknown => "unknown",
        }
    }
}

/// A container image reference, split.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ImageInfo {
    /// `quay.io/openstack.kolla/nova-compute`.
    pub repository: String,
    /// `nova-compute`.
    pub name: String,
    /// `2024.1-ubuntu-jammy`.
    pub tag: String,
    /// `sha256:…`.
    pub digest: Option<String>,
}

impl ImageInfo {
    /// Split `repo/name:tag`.
    pub(crate) fn parse(reference: &str, digest: Option<&str>) -> Option<Self> {
        let reference = reference.split('@').next().unwrap_or(reference);
        let slash = reference.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match reference[slash..].rfind(':') {
            Some(i) => (&reference[..slash + i], &reference[slash + i + 1..]),
            None => (reference, "latest"),
        };
        let name = repository.rsplit('/').next().unwrap_or(repository);
        (!name.is_empty()).then(|| Self {
            repository: repository.to_owned(),
            name: name.to_owned(),
            tag: tag.to_owned(),
            digest: digest.map(str::to_owned),
        })
    }

    /// kolla tag parts: (`2024.1`, `ubuntu`, `jammy`) from `2024.1-ubuntu-jammy[suffix]`.
    pub(crate) fn kolla_tag_parts(&self) -> Option<(String, String, String)> {
        let mut it = self.tag.splitn(3, '-');
        let series = it.next()?;
        let distro = it.next()?;
        let version = it.next()?;
        Some((series.to_owned(), distro.to_owned(), version.to_owned()))
    }

    /// kolla-ansible's variable stem of the image (`nova_compute` → `nova_compute_tag`): the
    /// image name with `_`, except where the roles name it differently (`mariadb-server` →
    /// `mariadb`, `openvswitch-db-server` → `openvswitch_db`, `ovn-nb-db-server` → `ovn_nb_db`).
    pub(crate) fn var_stem(&self) -> String {
        let n = self.name.as_str();
        let n = n
            .strip_suffix("-server")
            .filter(|r| *r == "mariadb" || r.ends_with("-db"))
            .unwrap_or(n);
        n.replace('-', "_")
    }
}

/// One component installed on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    /// Component id (see [`order::components`]).
    pub component: &'static str,
    /// OpenStack deliverable.
    pub deliverable: Option<String>,
    /// Python distribution name.
    pub package: Option<String>,
    /// Version: the pbr version of a service, the package version of infrastructure, or the
    /// image tag when only the image is known.
    pub version: String,
    /// Series name (`caracal`), when known.
    pub series: Option<String>,
    /// Series ordinal.
    pub ordinal: Option<usize>,
    /// Whether `version` is a release (not a pbr dev build).
    pub exact: bool,
    /// For a dev build: the release it is based on.
    pub based_on: Option<String>,
    /// For a dev build: commits after `based_on`.
    pub commits_after: Option<u64>,
    /// How installed (`venv:/var/lib/kolla/venv`, `distro:python3-nova`, `image`, `package`).
    pub install: String,
    /// Its kolla images on this node.
    pub images: Vec<ImageInfo>,
    /// Its OS packages on this node: (ecosystem, name, version).
    pub packages: Vec<(Ecosystem, String, String)>,
}

/// One node, as the planner sees it.
#[derive(Debug, Clone)]
pub(crate) struct NodeView {
    /// Node id.
    pub id: String,
    /// Site (`-` when the inventory has none).
    pub site: String,
    /// Cell.
    pub cell: Option<String>,
    /// Aggregate (label `aggregate=`).
    pub aggregate: Option<String>,
    /// Availability zone (label `az=`).
    pub az: Option<String>,
    /// Tenant the host is dedicated to (label `tenant=`).
    pub tenant: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Role (label `role=`, else inferred: compute, controller, network, storage, other).
    pub role: String,
    /// Deployer.
    pub deployer: Deployer,
    /// OS.
    pub os: Option<OsRelease>,
    /// kolla base distro and version (`ubuntu`, `jammy`), from image tags.
    pub kolla_base: Option<(String, String)>,
    /// Components.
    pub installed: Vec<Installed>,
    /// Hypervisor: (libvirt version, QEMU version), from packages.
    pub hypervisor: Option<(Option<String>, Option<String>)>,
    /// Every image on the node.
    pub images: Vec<ImageInfo>,
    /// Every OS package: (ecosystem, name, version).
    pub packages: Vec<(Ecosystem, String, String)>,
}

impl NodeView {
    /// The installed instance of a component.
    pub(crate) fn get(&self, component: &str) -> Option<&Installed> {
        self.installed.iter().find(|i| i.component == component)
    }

    /// Whether the node is in a canary group (label `canary=true|yes|1`).
    pub(crate) fn is_canary(&self) -> bool {
        self.labels
            .get("canary")
            .is_some_and(|v| matches!(v.as_str(), "true" | "yes" | "1"))
    }

    /// `site=par1 cell=cell1 aggregate=agg az=az1` (what compute batches group by).
    pub(crate) fn group(&self) -> String {
        let mut s = format!("site={}", self.site);
        for (k, v) in [
            ("cell", &self.cell),
            ("aggregate", &self.aggregate),
            ("az", &self.az),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {k}={v}"));
            }
        }
        s
    }

    /// Series ordinal of the node's control-plane or data-plane OpenStack services (lowest).
    pub(crate) fn min_ordinal(&self, phase: crate::model::Phase) -> Option<usize> {
        self.installed
            .iter()
            .filter(|i| {
                order::component(i.component)
                    .is_some_and(|c| c.phase == phase && c.deliverable.is_some())
            })
            .filter_map(|i| i.ordinal)
            .min()
    }
}

/// Unit / container / image name → component, for a deliverable with several components.
fn component_for_name(deliverable: &str, stem: &str) -> Option<&'static str> {
    let rest = stem
        .strip_prefix(deliverable)?
        .trim_start_matches(['-', '_']);
    let rest = rest.replace('_', "-");
    Some(match (deliverable, rest.as_str()) {
        ("nova", "conductor" | "super-conductor") => "nova-conductor",
        ("nova", "scheduler") => "nova-scheduler",
        (
            "nova",
            "api" | "api-metadata" | "metadata" | "novncproxy" | "spicehtml5proxy" | "serialproxy"
            | "consoleauth",
        ) => "nova-api",
        ("nova", "compute" | "compute-ironic" | "libvirt" | "ssh") => "nova-compute",
        ("neutron", "server" | "api" | "rpc-server" | "periodic-workers") => "neutron-server",
        (
            "neutron",
            "openvswitch-agent" | "linuxbridge-agent" | "sriov-agent" | "sriov-nic-agent"
            | "macvtap-agent",
        ) => "neutron-l2-agent",
        (
            "neutron",
            "l3-agent" | "dhcp-agent" | "metadata-agent" | "ovn-metadata-agent" | "ovn-agent"
            | "metering-agent",
        ) => "neutron-l3-agent",
        ("cinder", "scheduler") => "cinder-scheduler",
        ("cinder", "volume") => "cinder-volume",
        ("cinder", "backup") => "cinder-backup",
        ("cinder", "api") => "cinder-api",
        _ => return None,
    })
}

/// The OpenStack component a kolla image runs (`nova-compute`, `keystone`, `heat-engine`).
fn image_component(name: &str) -> Option<&'static str> {
    let single = |d: &str| {
        order::components()
            .iter()
            .filter(|c| c.deliverable == Some(d) && c.id != "octavia-amphora")
            .count()
            == 1
    };
    order::components()
        .iter()
        .filter_map(|c| c.deliverable)
        .find_map(|d| component_for_name(d, name))
        .or_else(|| {
            order::components()
                .iter()
                .filter(|c| c.id != "octavia-amphora")
                .find(|c| {
                    c.deliverable.is_some_and(|d| {
                        single(d)
                            && (name == d
                                || name.strip_prefix(d).is_some_and(|r| r.starts_with('-')))
                    })
                })
                .map(|c| c.id)
        })
}

/// Infrastructure component of an OS package or image name.
fn infra_component(name: &str) -> Option<&'static str> {
    Some(match name {
        "mariadb-server" | "mariadb" | "mariadb-clustercheck" | "galera-4" => "mariadb",
        "rabbitmq-server" | "rabbitmq" => "rabbitmq",
        "memcached" => "memcached",
        "haproxy" | "keepalived" | "proxysql" => "haproxy",
        "openvswitch-switch" | "openvswitch" | "openvswitch-vswitchd" | "openvswitch-db-server" => {
            "openvswitch"
        }
        "ovn-host" | "ovn-controller" => "ovn-controller",
        "ovn-central" | "ovn-nb-db-server" | "ovn-sb-db-server" | "ovn-northd" => "ovn-db",
        "ceph-mon" => "ceph-mon",
        "ceph-osd" => "ceph-osd",
        _ => return None,
    })
}

/// The package whose version stands for an infrastructure component.
fn infra_primary(component: &str) -> &'static [&'static str] {
    match component {
        "mariadb" => &["mariadb-server"],
        "rabbitmq" => &["rabbitmq-server"],
        "memcached" => &["memcached"],
        "haproxy" => &["haproxy"],
        "openvswitch" => &["openvswitch-switch", "openvswitch"],
        "ovn-controller" => &["ovn-host"],
        "ovn-db" => &["ovn-central"],
        "ceph-mon" => &["ceph-mon"],
        "ceph-osd" => &["ceph-osd"],
        _ => &[],
    }
}

/// Whether an OS package belongs to a deliverable (`nova-compute`, `python3-nova`,
/// `openstack-nova-compute`, source package `nova`).
fn package_of(deliverable: &str, name: &str, source: Option<&str>) -> bool {
    let belongs = |n: &str| {
        n == deliverable
            || n.strip_prefix(deliverable)
                .is_some_and(|r| r.starts_with('-'))
    };
    source.is_some_and(|s| s == deliverable || s == format!("openstack-{deliverable}"))
        || belongs(name)
        || name.strip_prefix("python3-").is_some_and(belongs)
        || name.strip_prefix("openstack-").is_some_and(belongs)
}

fn unit_stem(unit: &str) -> String {
    let s = unit.strip_suffix(".service").unwrap_or(unit);
    let s = s.strip_prefix("openstack-").unwrap_or(s);
    // kolla systemd units: `kolla-nova_compute-container.service`.
    let s = s.strip_prefix("kolla-").unwrap_or(s);
    let s = s.strip_suffix("-container").unwrap_or(s);
    s.replace('_', "-")
}

/// An OS package of a node (not of an image): ecosystem, name, version, source package.
type OsPackage = (Ecosystem, String, String, Option<String>);

fn is_kolla_image(i: &ImageInfo) -> bool {
    i.repository.contains("kolla")
}

/// The node's OS packages, those of images left out.
fn os_packages_of(inv: &Inventory) -> Vec<OsPackage> {
    inv.packages
        .iter()
        .filter(|p| {
            matches!(p.ecosystem, Ecosystem::Deb | Ecosystem::Rpm)
                && !p.location.path.starts_with("image:")
        })
        .map(|p| {
            (
                p.ecosystem,
                p.name.clone(),
                p.version.clone(),
                p.source.as_ref().map(|s| s.name.clone()),
            )
        })
        .collect()
}

/// Who deployed the node's OpenStack: kolla images or venvs, OSA venvs, distro packages.
fn deployer_of(inv: &Inventory, images: &[ImageInfo]) -> Deployer {
    let installed_in = |p: &str| inv.services.iter().any(|s| s.install.contains(p));
    if images.iter().any(is_kolla_image) || installed_in("/var/lib/kolla/venv") {
        Deployer::Kolla
    } else if installed_in("/openstack/venvs/") {
        Deployer::Osa
    } else if inv.services.iter().any(|s| s.install.starts_with("distro")) {
        Deployer::Distro
    } else {
        Deployer::Unknown
    }
}

/// The components one deliverable's service record stands for: its only component, else those
/// its units and kolla images name, else a guess from the node's role label.
fn components_of_service(
    d: &str,
    units: &[String],
    images: &[ImageInfo],
    role_label: Option<&str>,
) -> BTreeSet<&'static str> {
    let comps_of_d: Vec<&'static str> = order::components()
        .iter()
        .filter(|c| c.deliverable == Some(d) && c.id != "octavia-amphora")
        .map(|c| c.id)
        .collect();
    let mut comps: BTreeSet<&'static str> = BTreeSet::new();
    if comps_of_d.len() <= 1 {
        comps.extend(comps_of_d);
        return comps;
    }
    let named = units.iter().map(|u| unit_stem(u)).chain(
        images
            .iter()
            .filter(|i| is_kolla_image(i))
            .map(|i| i.name.clone()),
    );
    comps.extend(named.filter_map(|n| component_for_name(d, &n)));
    if comps.is_empty() {
        let role = role_label.unwrap_or("controller");
        let pick: &[&'static str] = match (d, role) {
            ("nova", r) if r.contains("compute") => &["nova-compute"],
            ("neutron", r) if r.contains("compute") => &["neutron-l2-agent"],
            ("neutron", r) if r.contains("network") => &["neutron-l2-agent", "neutron-l3-agent"],
            ("cinder", r) if r.contains("storage") => &["cinder-volume", "cinder-backup"],
            ("nova", _) => &["nova-conductor", "nova-scheduler", "nova-api"],
            ("neutron", _) => &["neutron-server"],
            ("cinder", _) => &["cinder-scheduler", "cinder-api"],
            _ => &[],
        };
        comps.extend(pick.iter().copied());
    }
    comps
}

/// The OpenStack components the node's service records show, each once (the first record
/// naming it wins), with the series its version is placed in.
fn service_installs(
    inv: &Inventory,
    cat: &OpenStackCatalog,
    images: &[ImageInfo],
    os_packages: &[OsPackage],
    role_label: Option<&str>,
) -> Vec<Installed> {
    let mut installed = Vec::new();
    let mut seen = BTreeSet::new();
    for svc in inv.services.iter().filter(|s| s.kind == "service") {
        let d = svc.deliverable.as_str();
        let comps = components_of_service(d, &svc.units, images, role_label);
        if comps.is_empty() {
            continue;
        }
        let m = crate::fleet::place(cat, &svc.package, &svc.version);
        let series = m
            .as_ref()
            .and_then(|m| cat.series_named(&m.series))
            .filter(|s| !s.is_independent());
        let pkgs: Vec<(Ecosystem, String, String)> = os_packages
            .iter()
            .filter(|(_, n, _, src)| package_of(d, n, src.as_deref()))
            .map(|(e, n, v, _)| (*e, n.clone(), v.clone()))
            .collect();
        for comp in comps {
            if !seen.insert(comp) {
                continue;
            }
            let imgs: Vec<ImageInfo> = images
                .iter()
                .filter(|i| is_kolla_image(i) && image_component(&i.name) == Some(comp))
                .cloned()
                .collect();
            installed.push(Installed {
                component: comp,
                deliverable: Some(d.to_owned()),
                package: Some(svc.package.clone()),
                version: svc.version.clone(),
                series: series.map(|s| s.name.clone()),
                ordinal: series.map(|s| s.ordinal),
                exact: m.as_ref().is_some_and(|m| m.exact),
                based_on: m.as_ref().and_then(|m| m.based_on.clone()),
                commits_after: m.as_ref().and_then(|m| m.commits_after),
                install: svc.install.clone(),
                images: imgs,
                packages: pkgs.clone(),
            });
        }
    }
    installed
}

/// kolla images of services the inventory has no service record for: series from the tag.
fn image_only_installs(
    images: &[ImageInfo],
    cat: &OpenStackCatalog,
    installed: &mut Vec<Installed>,
) {
    for i in images.iter().filter(|i| is_kolla_image(i)) {
        let Some(comp) = image_component(&i.name) else {
            continue;
        };
        if installed.iter().any(|x| x.component == comp) {
            continue;
        }
        let series = i
            .kolla_tag_parts()
            .and_then(|(s, _, _)| cat.series_named(&s))
            .filter(|s| !s.is_independent());
        installed.push(Installed {
            component: comp,
            deliverable: order::component(comp)
                .and_then(|c| c.deliverable)
                .map(str::to_owned),
            package: None,
            version: i.tag.clone(),
            series: series.map(|s| s.name.clone()),
            ordinal: series.map(|s| s.ordinal),
            exact: false,
            based_on: None,
            commits_after: None,
            install: "image".to_owned(),
            images: vec![i.clone()],
            packages: Vec::new(),
        });
    }
}

/// An infrastructure component as first seen: no version yet.
fn infra_install(component: &'static str, from_package: bool) -> Installed {
    Installed {
        component,
        deliverable: None,
        package: None,
        version: String::new(),
        series: None,
        ordinal: None,
        exact: from_package,
        based_on: None,
        commits_after: None,
        install: if from_package { "package" } else { "image" }.to_owned(),
        images: Vec::new(),
        packages: Vec::new(),
    }
}

/// Infrastructure (database, queue, caches, OVS/OVN, Ceph) from OS packages and images.
fn infra_installs(os_packages: &[OsPackage], images: &[ImageInfo]) -> Vec<Installed> {
    let mut infra: BTreeMap<&'static str, Installed> = BTreeMap::new();
    for (e, n, v, _) in os_packages {
        if let Some(comp) = infra_component(n) {
            let entry = infra
                .entry(comp)
                .or_insert_with(|| infra_install(comp, true));
            entry.packages.push((*e, n.clone(), v.clone()));
            if infra_primary(comp).contains(&n.as_str()) {
                entry.version = v.clone();
            }
        }
    }
    for i in images {
        if let Some(comp) = infra_component(&i.name) {
            let entry = infra
                .entry(comp)
                .or_insert_with(|| infra_install(comp, false));
            entry.images.push(i.clone());
            if entry.version.is_empty() {
                entry.version = i.tag.clone();
            }
            if entry.install == "package" {
                entry.install = "image".to_owned();
            }
        }
    }
    infra
        .into_values()
        .map(|mut i| {
            if i.version.is_empty() {
                i.version = i.packages.first().map(|p| p.2.clone()).unwrap_or_default();
            }
            i
        })
        .collect()
}

/// The hypervisor's (libvirt, QEMU) versions, when either is installed.
fn hypervisor_of(os_packages: &[OsPackage]) -> Option<(Option<String>, Option<String>)> {
    let hv = |names: &[&str]| {
        os_packages
            .iter()
            .find(|(_, n, _, _)| names.contains(&n.as_str()))
            .map(|(_, _, v, _)| v.clone())
    };
    let libvirt = hv(&[
        "libvirt-daemon-system",
        "libvirt-daemon",
        "libvirt-daemon-kvm",
        "libvirt0",
    ]);
    let qemu = hv(&[
        "qemu-system-x86",
        "qemu-kvm",
        "qemu-kvm-core",
        "qemu-system-x86-core",
    ]);
    (libvirt.is_some() || qemu.is_some()).then_some((libvirt, qemu))
}

/// The node's role when no label says it: from what it runs.
fn role_of(installed: &[Installed]) -> String {
    let has = |c: &str| installed.iter().any(|i| i.component == c);
    if has("nova-compute") {
        "compute"
    } else if installed.iter().any(|i| {
        order::component(i.component).is_some_and(|c| c.phase == crate::model::Phase::ControlPlane)
    }) || has("mariadb")
    {
        "controller"
    } else if has("neutron-l3-agent") || has("ovn-db") {
        "network"
    } else if has("cinder-volume") || has("ceph-osd") {
        "storage"
    } else {
        "other"
    }
    .to_owned()
}

/// Build the planner's view of one inventory.
pub(crate) fn node_view(inv: &Inventory, cat: &OpenStackCatalog) -> NodeView {
    let labels = inv.node.labels.clone();
    let images: Vec<ImageInfo> = inv
        .images
        .iter()
        .filter_map(|i| {
            i.tags
                .first()
                .and_then(|t| ImageInfo::parse(t, i.digest.as_deref()))
        })
        .collect();
    let os_packages = os_packages_of(inv);
    let deployer = deployer_of(inv, &images);
    let kolla_base = images
        .iter()
        .filter(|i| is_kolla_image(i))
        .find_map(|i| i.kolla_tag_parts().map(|(_, d, v)| (d, v)));
    let role_label = labels.get("role").cloned();
    let mut installed = service_installs(inv, cat, &images, &os_packages, role_label.as_deref());
    image_only_installs(&images, cat, &mut installed);
    installed.extend(infra_installs(&os_packages, &images));
    installed.sort_by_key(|i| (order::position(i.component), i.component));
    let hypervisor = hypervisor_of(&os_packages);
    let role = role_label.unwrap_or_else(|| role_of(&installed));
    NodeView {
        id: inv.node.id.clone(),
        site: inv.node.site.clone().unwrap_or_else(|| "-".to_owned()),
        cell: inv.node.cell.clone(),
        aggregate: labels.get("aggregate").cloned(),
        az: labels.get("az").cloned(),
        tenant: labels.get("tenant").cloned(),
        labels,
        role,
        deployer,
        os: inv.os.clone(),
        kolla_base,
        installed,
        hypervisor,
        images,
        packages: os_packages
            .into_iter()
            .map(|(e, n, v, _)| (e, n, v))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let i = ImageInfo::parse(
            "quay.io/openstack.kolla/nova-compute:2024.1-ubuntu-jammy",
            Some("sha256:ab"),
        )
        .unwrap();
        assert_eq!(i.repository, "quay.io/openstack.kolla/nova-compute");
        assert_eq!(i.name, "nova-compute");
        assert_eq!(i.tag, "2024.1-ubuntu-jammy");
        assert_eq!(
            i.kolla_tag_parts().unwrap(),
            ("2024.1".into(), "ubuntu".into(), "jammy".into())
        );
        assert_eq!(i.var_stem(), "nova_compute");
        for (img, stem) in [
            ("mariadb-server", "mariadb"),
            ("openvswitch-db-server", "openvswitch_db"),
            ("ovn-sb-db-server", "ovn_sb_db"),
            ("neutron-server", "neutron_server"),
        ] {
            let i = ImageInfo::parse(
                &format!("quay.io/openstack.kolla/{img}:2024.1-rocky-9"),
                None,
            )
            .unwrap();
            assert_eq!(i.var_stem(), stem);
        }
        let i = ImageInfo::parse("registry:5000/kolla/rabbitmq", None).unwrap();
        assert_eq!(
            (i.repository.as_str(), i.tag.as_str()),
            ("registry:5000/kolla/rabbitmq", "latest")
        );
    }

    #[test]
    fn names_to_components() {
        assert_eq!(
            component_for_name("nova", "nova-super-conductor"),
            Some("nova-conductor")
        );
        assert_eq!(
            component_for_name("nova", "nova_compute"),
            Some("nova-compute")
        );
        assert_eq!(
            component_for_name("neutron", "neutron-ovn-metadata-agent"),
            Some("neutron-l3-agent")
        );
        assert_eq!(component_for_name("nova", "neutron-server"), None);
        assert_eq!(
            unit_stem("kolla-nova_compute-container.service"),
            "nova-compute"
        );
        assert_eq!(unit_stem("openstack-nova-api.service"), "nova-api");
        assert!(package_of("nova", "python3-nova", None));
        assert!(package_of("nova", "openstack-nova-compute", None));
        assert!(!package_of("nova", "novas", None));
    }
}
