//! Deployer facts the plans use: kolla-ansible image tags and base distributions, the
//! infrastructure versions kolla ships per series, RabbitMQ's allowed upgrade hops, release
//! commits for OpenStack-Ansible pins, and distro package pins.
//!
//! Tables here are deployer data (what kolla ships), cited from the domain notes
//! (`shared/docs/openstack-domain.md` §2.1, §4.2, §6.1: KA-COMMON, KA-RMQ, KO); series status
//! and SLURP flags never come from here.

use crate::model::{Ecosystem, PackageManager, PackagePin};
use crate::releases::openstack::{OpenStackCatalog, Series, Tag};
use crate::version::pep440::Pep440Version;

use super::fleet::NodeView;

/// `2025.1` → (2025, 1); `None` for codename-only series.
fn release_key(s: &Series) -> Option<(u32, u32)> {
    let (y, n) = s.release_id.as_deref()?.split_once('.')?;
    Some((y.parse().ok()?, n.parse().ok()?))
}

/// kolla's default base distribution version for a series, given the one in use
/// (KA-COMMON: 2025.1 moves Ubuntu to noble, 2025.2 Rocky to 10, 2026.1 Debian to trixie).
pub(crate) fn kolla_base_for(series: &Series, distro: &str, current: &str) -> String {
    let Some(key) = release_key(series) else {
        return current.to_owned();
    };
    let table: &[((u32, u32), &str, &str)] = &[
        ((2025, 1), "ubuntu", "noble"),
        ((2025, 2), "rocky", "10"),
        ((2026, 1), "debian", "trixie"),
    ];
    let mut v = current.to_owned();
    for (from, d, ver) in table {
        if *d == distro && key >= *from {
            v = (*ver).to_owned();
        }
    }
    v
}

/// `openstack_tag` of a series: `2025.1-ubuntu-noble`.
pub(crate) fn kolla_tag(series: &Series, distro: &str, current_version: &str) -> String {
    format!(
        "{}-{}-{}",
        series.id(),
        distro,
        kolla_base_for(series, distro, current_version)
    )
}

/// The RabbitMQ minor kolla ships with a series (KO §6.1).
pub(crate) fn kolla_rabbitmq_minor(series: &Series) -> Option<&'static str> {
    Some(match release_key(series)? {
        (2024, 1) => "3.13",
        (2024, 2) => "3.13",
        (2025, 1) => "4.0",
        (2025, 2) => "4.1",
        (2026, 1) => "4.2",
        k if k >= (2026, 2) => "4.3",
        _ => return None,
    })
}

/// The MariaDB minor kolla ships with a series (KO §6.1).
pub(crate) fn kolla_mariadb_minor(series: &Series) -> Option<&'static str> {
    Some(match release_key(series)? {
        k if k >= (2025, 2) => "11.4",
        k if k >= (2024, 1) => "10.11",
        _ => return None,
    })
}

/// `major.minor` of a package or upstream version (`3.13.7-1` → `3.13`, `1:10.11.6-0+deb12u1`
/// → `10.11`).
pub(crate) fn minor_of(version: &str) -> Option<String> {
    let v = version.split_once(':').map_or(version, |(_, r)| r);
    let mut it = v.split(['.', '-', '+', '~']);
    let a: u32 = it.next()?.parse().ok()?;
    let b: u32 = it.next()?.parse().ok()?;
    Some(format!("{a}.{b}"))
}

const RABBITMQ_MINORS: &[&str] = &[
    "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "4.0", "4.1", "4.2", "4.3",
];

/// `rabbitmq_allowed_upgrades` (KA-RMQ): multi-minor jumps kolla allows; otherwise one minor
/// at a time.
const RABBITMQ_ALLOWED: &[(&str, &[&str])] =
    &[("3.13", &["4.0", "4.1", "4.2"]), ("4.0", &["4.1", "4.2"])];

/// The RabbitMQ versions to go through from `from` to `to` (minors), each hop allowed: the
/// furthest allow-listed minor not past the target, else the next minor. Empty when equal or
/// unknown.
pub(crate) fn rabbitmq_hops(from: &str, to: &str) -> Vec<String> {
    let pos = |m: &str| RABBITMQ_MINORS.iter().position(|x| *x == m);
    let (Some(mut cur), Some(end)) = (pos(from), pos(to)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while cur < end {
        let allowed = RABBITMQ_ALLOWED
            .iter()
            .find(|(f, _)| *f == RABBITMQ_MINORS[cur])
            .map_or(&[][..], |(_, a)| *a);
        let next = allowed
            .iter()
            .filter_map(|m| pos(m))
            .filter(|p| *p <= end)
            .max()
            .unwrap_or(cur + 1);
        out.push(RABBITMQ_MINORS[next].to_owned());
        cur = next;
    }
    out
}

/// The commit a release tagged (openstack/releases `projects[].hash`), preferring the
/// deliverable's own repository.
pub(crate) fn release_commit(
    cat: &OpenStackCatalog,
    deliverable: &str,
    series: &str,
    version: &str,
) -> Option<String> {
    let d = cat.deliverable(deliverable, series)?;
    let want: Pep440Version = version.parse().ok()?;
    let r = d
        .releases
        .iter()
        .find(|r| matches!(&r.tag, Tag::Version(v) if *v == want))?;
    r.projects
        .iter()
        .find(|(repo, _)| repo.rsplit('/').next() == Some(deliverable))
        .or_else(|| r.projects.first())
        .map(|(_, h)| h.clone())
        .filter(|h| !h.is_empty())
}

/// Epoch prefix of a distro version (`2:`), or empty.
pub(crate) fn epoch_of(version: &str) -> &str {
    match version.find(':') {
        Some(i) if version[..i].bytes().all(|b| b.is_ascii_digit()) => &version[..=i],
        _ => "",
    }
}

/// The package manager of a node, from its OS packages.
pub(crate) fn manager_of(n: &NodeView) -> Option<PackageManager> {
    if n.packages.iter().any(|p| p.0 == Ecosystem::Deb) {
        Some(PackageManager::Apt)
    } else if n.packages.iter().any(|p| p.0 == Ecosystem::Rpm) {
        Some(PackageManager::Dnf)
    } else {
        n.os.as_ref().map(|o| {
            if ["debian", "ubuntu"].contains(&o.id.as_str())
                || o.id_like.iter().any(|x| x == "debian")
            {
                PackageManager::Apt
            } else {
                PackageManager::Dnf
            }
        })
    }
}

/// The repository that carries a series for a node's distro: the Ubuntu Cloud Archive pocket
/// (`cloud-archive:epoxy`) or the RDO release package (`centos-release-openstack-epoxy`).
pub(crate) fn distro_repo(n: &NodeView, series: &Series) -> Option<String> {
    let os = n.os.as_ref()?;
    match os.id.as_str() {
        "ubuntu" => Some(format!("cloud-archive:{}", series.name)),
        "rhel" | "rocky" | "centos" | "almalinux" => {
            Some(format!("centos-release-openstack-{}", series.name))
        }
        _ => None,
    }
}

/// Pins of a component's distro packages on one node, to a glob of the target upstream
/// version (`2:31.*`: the distro revision of the target is not known in advance).
pub(crate) fn glob_pins(
    host: &str,
    mgr: PackageManager,
    packages: &[(Ecosystem, String, String)],
    upstream_major: &str,
    repo: Option<String>,
) -> Vec<PackagePin> {
    packages
        .iter()
        .map(|(_, name, v)| PackagePin {
            hosts: vec![host.to_owned()],
            manager: mgr,
            name: name.clone(),
            version: format!("{}{upstream_major}.*", epoch_of(v)),
            exact: false,
            hold: true,
            repo: repo.clone(),
        })
        .collect()
}

/// Exact pins (rollback, replication, hold-back).
pub(crate) fn exact_pins(
    hosts: &[String],
    mgr: PackageManager,
    packages: &[(Ecosystem, String, String)],
) -> Vec<PackagePin> {
    packages
        .iter()
        .map(|(_, name, v)| PackagePin {
            hosts: hosts.to_vec(),
            manager: mgr,
            name: name.clone(),
            version: v.clone(),
            exact: true,
            hold: true,
            repo: None,
        })
        .collect()
}

/// Merge pins of the same (manager, name, version) across hosts.
pub(crate) fn merge_pins(mut pins: Vec<PackagePin>) -> Vec<PackagePin> {
    pins.sort_by(|a, b| (a.manager, &a.name, &a.version).cmp(&(b.manager, &b.name, &b.version)));
    let mut out: Vec<PackagePin> = Vec::new();
    for p in pins {
        match out.last_mut() {
            Some(l) if l.manager == p.manager && l.name == p.name && l.version == p.version => {
                l.hosts.extend(p.hosts);
                l.hosts.sort();
                l.hosts.dedup();
            }
            _ => out.push(p),
        }
    }
    out
}

/// The first number of a pbr version (`31.2.0` → `31`).
pub(crate) fn upstream_major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rabbitmq_goes_through_allowed_versions() {
        assert_eq!(rabbitmq_hops("3.13", "4.0"), vec!["4.0"]);
        assert_eq!(rabbitmq_hops("3.13", "4.2"), vec!["4.2"]);
        assert_eq!(rabbitmq_hops("3.12", "4.1"), vec!["3.13", "4.1"]);
        assert_eq!(rabbitmq_hops("4.0", "4.3"), vec!["4.2", "4.3"]);
        assert_eq!(rabbitmq_hops("4.1", "4.3"), vec!["4.2", "4.3"]);
        assert!(rabbitmq_hops("4.1", "4.1").is_empty());
        assert!(rabbitmq_hops("9.9", "4.1").is_empty());
    }

    #[test]
    fn versions() {
        assert_eq!(minor_of("3.13.7-1").as_deref(), Some("3.13"));
        assert_eq!(minor_of("1:10.11.6-0+deb12u1").as_deref(), Some("10.11"));
        assert_eq!(minor_of("x"), None);
        assert_eq!(epoch_of("2:29.2.0-0ubuntu1"), "2:");
        assert_eq!(epoch_of("29.2.0-0ubuntu1"), "");
        assert_eq!(upstream_major("31.2.0"), "31");
    }
}
