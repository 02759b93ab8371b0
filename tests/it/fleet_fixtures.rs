//! A fleet built from the shared data's real package databases (dpkg, rpm, apk, Python
//! site-packages with OpenStack services), each node a real inventory with a share of its
//! versions varied, per site. Shared by `tests/it/fleet_scale.rs` and `benches/reanalyze.rs`
//! (which includes this file by path; each uses part of it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use nminus::model::{Ecosystem, Inventory, NodeInfo};
use nminus::{collect_root, CollectOptions, Root};

/// A path under `../shared/data` (panics with a clear message when it is missing).
pub(crate) fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "missing shared data {}: clone ../shared beside the repository",
        p.display()
    );
    p
}

fn collect(root: &Path, id: &str) -> Inventory {
    collect_root(
        &Root::new(root),
        &CollectOptions {
            node: NodeInfo {
                id: id.into(),
                ..NodeInfo::default()
            },
            collected_at: "2026-01-01T00:00:00Z".into(),
        },
    )
}

/// A root in `tmp/name` holding `files` (shared-data path → path in the root).
fn root_of(tmp: &Path, name: &str, files: &[(&str, &str)], os_release: &str) -> PathBuf {
    let root = tmp.join(name);
    for (from, to) in files {
        let to = root.join(to);
        fs_err::create_dir_all(to.parent().unwrap_or(&root)).unwrap();
        fs_err::copy(shared(from), &to).unwrap();
    }
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::write(root.join("etc/os-release"), os_release).unwrap();
    root
}

const DEBIAN12: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// One real inventory per kind of node: a Debian 12 host (dpkg), a Debian 12 host with its
/// real postgresql packages, an Ubuntu 22.04 host, a Rocky Linux 9 host (a real rpm database
/// of CBL-Mariner 2.0, labelled Rocky so that a distro feed judges it), an
/// Alpine 3.10 host (apk), the Debian-packaged OpenStack Python tree, and three OpenStack
/// venv trees (yoga, flamingo, gazpacho).
pub(crate) fn base_inventories(tmp: &Path) -> Vec<Inventory> {
    let deb = root_of(
        tmp,
        "debian12",
        &[("fixtures/dpkg/this-debian12/status", "var/lib/dpkg/status")],
        DEBIAN12,
    );
    let pg = root_of(
        tmp,
        "debian12-pg",
        &[(
            "fixtures/dpkg/claircore/postgresql.status",
            "var/lib/dpkg/status",
        )],
        DEBIAN12,
    );
    let ubuntu = root_of(
        tmp,
        "ubuntu",
        &[("fixtures/dpkg/this-debian12/status", "var/lib/dpkg/status")],
        "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\nID=ubuntu\n",
    );
    let rocky = root_of(
        tmp,
        "rocky9",
        &[(
            "fixtures/rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
            "var/lib/rpm/rpmdb.sqlite",
        )],
        "NAME=\"Rocky Linux\"\nVERSION_ID=\"9.3\"\nID=rocky\n",
    );
    let alpine = root_of(
        tmp,
        "alpine",
        &[("fixtures/apk/fanal/apk", "lib/apk/db/installed")],
        "NAME=\"Alpine Linux\"\nVERSION_ID=3.10.9\nID=alpine\n",
    );
    let mut out = vec![
        collect(&deb, "debian12"),
        collect(&pg, "debian12-pg"),
        collect(&ubuntu, "ubuntu"),
        collect(&rocky, "rocky9"),
        collect(&alpine, "alpine"),
        collect(
            &shared("fixtures/python/debian12-openstack-packages/root"),
            "debian-openstack",
        ),
    ];
    for set in ["2022.1-yoga", "2025.2-flamingo", "2026.1-gazpacho"] {
        out.push(collect(
            &shared(&format!("fixtures/python/openstack-site-packages/{set}")),
            set,
        ));
    }
    out
}

/// A Debian 12 OpenStack node of the size the benchmarks use: this machine's dpkg database
/// and its real postgresql packages, the Debian-packaged OpenStack Python tree and three
/// OpenStack venvs (about 1,500
/// packages), with the services recognised in them.
pub(crate) fn large_inventory(tmp: &Path) -> Inventory {
    let bases = base_inventories(tmp);
    let mut inv = bases[0].clone();
    for b in bases[1..2].iter().chain(&bases[5..]) {
        inv.packages.extend(b.packages.iter().cloned());
        inv.services.extend(b.services.iter().cloned());
    }
    inv
}

/// xorshift: reproducible choices without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded (never zero).
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// Another version of the same package, variant `k` (0..4): older or newer spellings in its
/// own scheme, the source version moved along (distro advisories match on it), some of them
/// old enough to be affected by advisories.
fn variant(p: &mut nminus::model::Package, k: usize) {
    let v = match (p.ecosystem, k) {
        (Ecosystem::Pypi | Ecosystem::Cargo, 0) => "0.1".to_owned(),
        (Ecosystem::Pypi | Ecosystem::Cargo, 1) => "1.0.0".to_owned(),
        (Ecosystem::Pypi, 2) => format!("{}.post1", p.version),
        (Ecosystem::Apk, 0) => "1.0-r0".to_owned(),
        (Ecosystem::Deb | Ecosystem::Rpm, 0) => "1:0.1-1".to_owned(),
        (Ecosystem::Deb, _) => format!("{}~bpo{k}", p.version),
        (_, _) => format!("{}.{k}", p.version),
    };
    if let Some(s) = p.source.as_mut() {
        if p.ecosystem == Ecosystem::Deb {
            s.version.clone_from(&v);
        }
    }
    p.version = v;
}

/// Node `i` of a fleet of `sites` sites from `base`: each site runs its own variants of about
/// `share` of the packages (a site's spread), and each node a few more of its own (about a
/// tenth of that share).
pub(crate) fn node(base: &Inventory, i: usize, sites: usize, share: f64) -> Inventory {
    let mut inv = base.clone();
    let site = i % sites.max(1);
    inv.node = NodeInfo {
        id: format!("{}-n{i:05}", base.node.id),
        hostname: Some(format!("n{i:05}")),
        site: Some(format!("site{site}")),
        cell: Some(format!("cell{}", i % 7)),
        labels: [("role".to_owned(), "compute".to_owned())].into(),
    };
    let n = inv.packages.len();
    let per_site = ((n as f64) * share).ceil() as usize;
    let mut rng = Rng::new(site as u64 + 1);
    for _ in 0..per_site {
        let k = rng.below(n);
        let which = rng.below(4);
        variant(&mut inv.packages[k], which);
    }
    let mut rng = Rng::new(1_000_003 + i as u64);
    for _ in 0..(per_site / 10).max(1) {
        let k = rng.below(n);
        let which = rng.below(4);
        variant(&mut inv.packages[k], which);
    }
    inv
}
