//! Currency end to end on real data: OpenStack series and upper-constraints for the three
//! site-packages sets, product lifecycles from endoflife.date, "upgrade available" against apt itself, waivers, policy check.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use nminus::model::{
    Ecosystem, Finding, FindingCode, Inventory, Location, NodeInfo, OsRelease, Package,
    PackageMeta, SourcePackage,
};
use nminus::{apply_waivers, judge_currency, CatalogPaths, Catalogs};
use nminus::{collect_root, CollectOptions, Root};
use nminus::{load_policy, parse_policy};

use crate::support::{nminus, shared_data};

/// The releases snapshot date: verdicts "as of the releases snapshot".
fn snapshot() -> time::Date {
    time::macros::date!(2026 - 08 - 21)
}

fn catalogs() -> Catalogs {
    let (c, notes) = Catalogs::load(&CatalogPaths {
        openstack: Some(shared_data("openstack-releases")),
        endoflife: Some(shared_data("endoflife-date")),
        apt: Vec::new(),
        distro_info: Some(shared_data("debian-lifecycle/distro-info-data")),
        security_support: Some(shared_data("debian-lifecycle/debian-security-support")),
        requirements: Some(shared_data("openstack-requirements")),
        synced: Vec::new(),
    });
    assert!(notes.is_empty(), "{notes:?}");
    c
}

fn set(name: &str) -> Inventory {
    let mut inv = collect_root(
        &Root::new(shared_data(&format!(
            "fixtures/python/openstack-site-packages/{name}"
        ))),
        &CollectOptions::default(),
    );
    inv.node.id = name.to_owned();
    inv
}

fn codes(f: &[Finding]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for x in f {
        m.entry(x.code.as_str().to_owned())
            .or_default()
            .insert(x.subject.name.clone());
    }
    m
}

#[test]
fn every_service_gets_its_series_by_exact_lookup() {
    let cat = catalogs();
    let os = cat.openstack.as_ref().unwrap();
    for (name, series) in [
        ("2022.1-yoga", "yoga"),
        ("2025.2-flamingo", "flamingo"),
        ("2026.1-gazpacho", "gazpacho"),
    ] {
        let inv = set(name);
        let services: Vec<_> = inv
            .services
            .iter()
            .filter(|s| s.kind == "service")
            .collect();
        assert!(services.len() >= 12, "{name}: {services:?}");
        for s in &services {
            let m = os
                .lookup(&s.package, &s.version)
                .unwrap_or_else(|| panic!("{name}: {} {} not found", s.package, s.version));
            assert!(m.exact, "{name}: {} {}", s.package, s.version);
            assert_eq!(
                m.series, series,
                "{name}: {} {} (cycle-with-intermediary too: horizon, ironic, swift)",
                s.package, s.version
            );
        }
        for d in ["horizon", "ironic", "swift", "nova", "placement", "heat"] {
            assert!(
                services.iter().any(|s| s.deliverable == d),
                "{name}: {d} not recognised"
            );
        }
    }
}

#[test]
fn yoga_is_non_compliant_flamingo_is_n1_gazpacho_is_n() {
    let cat = catalogs();
    let n1 = load_policy("openstack-n1").unwrap();
    let yoga = judge_currency(&set("2022.1-yoga"), &cat, &n1, snapshot());
    let c = codes(&yoga);
    assert!(c["series-behind"].contains("nova"), "{c:?}");
    assert!(
        c["series-eol"].contains("nova"),
        "yoga is unmaintained: {c:?}"
    );
    let nova = yoga
        .iter()
        .find(|f| f.code == FindingCode::SeriesBehind && f.subject.name == "nova")
        .unwrap();
    assert!(
        nova.evidence
            .message
            .contains("n is 2026.1 gazpacho, n-1 2025.2 flamingo"),
        "{}",
        nova.evidence.message
    );
    // octavia's own yoga-eol tag overrides the series status (unmaintained).
    let oct = yoga
        .iter()
        .find(|f| f.code == FindingCode::SeriesEol && f.subject.name == "octavia")
        .unwrap();
    assert!(
        oct.evidence.message.contains("end of life"),
        "{}",
        oct.evidence.message
    );

    let flamingo = judge_currency(&set("2025.2-flamingo"), &cat, &n1, snapshot());
    assert!(
        !flamingo
            .iter()
            .any(|f| matches!(f.code, FindingCode::SeriesBehind | FindingCode::SeriesEol)),
        "{:?}",
        codes(&flamingo)
    );
    let gazpacho = judge_currency(&set("2026.1-gazpacho"), &cat, &n1, snapshot());
    assert!(
        !gazpacho
            .iter()
            .any(|f| matches!(f.code, FindingCode::SeriesBehind | FindingCode::SeriesEol)),
        "{:?}",
        codes(&gazpacho)
    );
    // Under `strict` (n only), flamingo is behind.
    let strict = load_policy("strict").unwrap();
    let f = judge_currency(&set("2025.2-flamingo"), &cat, &strict, snapshot());
    assert!(codes(&f)["series-behind"].contains("nova"));
}

#[test]
fn n_moves_with_the_as_of_date() {
    let cat = catalogs();
    let os = cat.openstack.as_ref().unwrap();
    assert_eq!(nminus::n_as_of(os, snapshot()).unwrap().name, "gazpacho");
    // hibiscus (2026.2) becomes maintained on its next-phase date, 2026-09-30.
    assert_eq!(
        nminus::n_as_of(os, time::macros::date!(2026 - 10 - 01))
            .unwrap()
            .name,
        "hibiscus"
    );
}

fn deb(name: &str, source: &str, version: &str) -> Package {
    Package {
        ecosystem: Ecosystem::Deb,
        name: name.into(),
        version: version.into(),
        source: Some(SourcePackage {
            name: source.into(),
            version: version.into(),
        }),
        purl: format!("pkg:deb/debian/{name}@{version}?arch=amd64"),
        found_by: "test".into(),
        location: Location::path("/var/lib/dpkg/status"),
        meta: PackageMeta::Deb {
            arch: Some("amd64".into()),
            held: false,
            maintainer: None,
        },
        extra: Default::default(),
    }
}

fn node(os: &str, version: &str, packages: Vec<Package>) -> Inventory {
    Inventory {
        schema_version: 1,
        node: NodeInfo {
            id: format!("{os}-{version}"),
            ..NodeInfo::default()
        },
        collected_at: String::new(),
        agent: Default::default(),
        root: String::new(),
        os: Some(OsRelease {
            id: os.into(),
            version_id: Some(version.into()),
            source_file: "/etc/os-release".into(),
            ..OsRelease::default()
        }),
        packages,
        images: Vec::new(),
        services: Vec::new(),
        problems: Vec::new(),
    }
}

/// Lifecycle verdicts for the OS and third-party services come from endoflife.date: checked
/// against the product files' own cycles, never against numbers written here.
#[test]
fn lifecycles_come_from_endoflife_data() {
    let cat = catalogs();
    let lc = cat.lifecycles.as_ref().unwrap();
    let pol = load_policy("default").unwrap();
    let as_of = time::macros::date!(2026 - 11 - 24);
    let inv = node(
        "debian",
        "10",
        vec![
            deb("mariadb-server-10.3", "mariadb-10.3", "1:10.3.39-0+deb10u2"),
            deb("rabbitmq-server", "rabbitmq-server", "3.7.8-4"),
            deb("postgresql-11", "postgresql-11", "11.22-0+deb10u1"),
            deb("python3.7", "python3.7", "3.7.3-2+deb10u7"),
        ],
    );
    let f = judge_currency(&inv, &cat, &pol, as_of);
    let eol: BTreeSet<&str> = f
        .iter()
        .filter(|x| x.code == FindingCode::Eol)
        .map(|x| x.subject.name.as_str())
        .collect();
    for (product, version) in [
        ("debian", "10"),
        ("postgresql", "11.22"),
        ("python", "3.7.3"),
    ] {
        let want = lc
            .is_eol(product, version, as_of)
            .unwrap_or_else(|| panic!("{product} {version} has no cycle"));
        assert_eq!(eol.contains(product), want, "{product} {version}: {f:#?}");
    }
    assert!(eol.contains("debian"), "Debian 10 is end of life");
    let ubuntu = node("ubuntu", "24.04", vec![]);
    let f = judge_currency(&ubuntu, &cat, &pol, as_of);
    assert!(!f.iter().any(|x| x.code == FindingCode::Eol), "{f:#?}");
    assert_eq!(lc.is_eol("ubuntu", "24.04", as_of), Some(false));
}

/// Debian supports a release's packages until the end of its LTS: on Debian 12 in LTS
/// (past endoflife.date's `eol`, before its `eoes`), neither Debian 12 itself nor the upstream
/// end of life of what it packages (perl 5.36, Python 3.11's cycle …) is an `eol` finding; the
/// same packages on a release past its LTS (Debian 10) are judged by their upstream lifecycles.
#[test]
fn debian_in_lts_supports_its_packages() {
    let cat = catalogs();
    let lc = cat.lifecycles.as_ref().unwrap();
    let pol = load_policy("default").unwrap();
    let as_of = time::macros::date!(2026 - 11 - 24);
    let deb12 = lc.cycle_for("debian", "12").unwrap();
    assert!(
        deb12.is_eol(as_of),
        "the data says Debian 12's regular support has ended"
    );
    assert_eq!(deb12.is_extended_support_over(as_of), Some(false));
    let pkgs = || {
        vec![
            deb("perl", "perl", "5.36.0-7+deb12u2"),
            deb("postgresql-11", "postgresql-11", "11.22-0+deb10u1"),
            deb("python3.7", "python3.7", "3.7.3-2+deb10u7"),
        ]
    };
    let mut deb12 = node("debian", "12", pkgs());
    // Debian's ansible, a Python distribution in dist-packages owned by dpkg.
    let mut ansible = Package {
        ecosystem: Ecosystem::Pypi,
        name: "ansible".into(),
        version: "7.7.0".into(),
        source: None,
        purl: "pkg:pypi/ansible@7.7.0".into(),
        found_by: "test".into(),
        location: Location::path("/usr/lib/python3/dist-packages/ansible-7.7.0.dist-info/METADATA"),
        meta: PackageMeta::Python {
            display_name: "ansible".into(),
            os_owner: Some("dpkg".into()),
            environment: Some("/usr/lib/python3/dist-packages".into()),
        },
        extra: Default::default(),
    };
    deb12.packages.push(ansible.clone());
    let f = judge_currency(&deb12, &cat, &pol, as_of);
    assert!(
        !f.iter().any(|x| x.code == FindingCode::Eol),
        "Debian 12 in LTS: {f:#?}"
    );
    // The same ansible installed with pip is judged by its upstream lifecycle.
    if let PackageMeta::Python { os_owner, .. } = &mut ansible.meta {
        *os_owner = None;
    }
    let pip = node("debian", "12", vec![ansible]);
    let f = judge_currency(&pip, &cat, &pol, as_of);
    assert_eq!(
        f.iter()
            .any(|x| x.code == FindingCode::Eol && x.subject.name == "ansible"),
        lc.is_eol("ansible", "7.7.0", as_of).unwrap_or(false),
        "{f:#?}"
    );
    // Past LTS, the upstream lifecycles apply again.
    let f = judge_currency(&node("debian", "10", pkgs()), &cat, &pol, as_of);
    let eol: BTreeSet<&str> = f
        .iter()
        .filter(|x| x.code == FindingCode::Eol)
        .map(|x| x.subject.name.as_str())
        .collect();
    assert!(
        eol.contains("debian") && eol.contains("postgresql"),
        "{eol:?}"
    );
}

/// This machine, as apt itself sees it: the upgrade-available set computed from
/// `/var/lib/dpkg/status` and apt's own lists in `/var/lib/apt/lists` (LZ4-compressed on
/// Debian and Ubuntu by default) equals `apt list --upgradable`.
#[test]
fn this_machines_upgrades_equal_apt_list_upgradable() {
    let out = Command::new("apt")
        .args(["list", "--upgradable"])
        .env("LC_ALL", "C")
        .output()
        .expect("apt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains('/') && l.contains("[upgradable from"))
        .map(|l| l.split('/').next().unwrap().to_owned())
        .collect();
    let lists = std::path::Path::new("/var/lib/apt/lists");
    let mut apt_files = Vec::new();
    for e in fs_err::read_dir(lists).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if ["_Packages", "_Packages.lz4", "_Packages.gz"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            apt_files.push(p);
        }
    }
    let mut inv = collect_root(&Root::new("/"), &CollectOptions::default());
    inv.node.id = "this-machine".into();
    let (cat, notes) = Catalogs::load(&CatalogPaths {
        openstack: None,
        endoflife: None,
        apt: apt_files.clone(),
        requirements: None,
        synced: Vec::new(),
        ..CatalogPaths::default()
    });
    assert!(
        apt_files.is_empty() || cat.apt.is_some(),
        "apt lists {apt_files:?} did not load: {notes:?}"
    );
    let pol = load_policy("default").unwrap();
    let got: BTreeSet<String> = judge_currency(&inv, &cat, &pol, snapshot())
        .into_iter()
        .filter(|f| f.code == FindingCode::UpgradeAvailable)
        .map(|f| f.subject.name)
        .collect();
    assert_eq!(
        got, want,
        "nminus (left) and `apt list --upgradable` (right) differ"
    );
}

/// A private apt for the tests: its own lists, cache and `sources.list` in a temp dir, the
/// shared real Debian 12 `status` as the installed packages, no preferences from this machine.
struct AptSandbox {
    dir: tempfile::TempDir,
    status: std::path::PathBuf,
}

impl AptSandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("lists/partial")).unwrap();
        fs_err::create_dir_all(dir.path().join("cache")).unwrap();
        Self {
            dir,
            status: shared_data("fixtures/dpkg/this-debian12/status"),
        }
    }

    /// The temp dir: write `sources.list` and repositories here.
    fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// `apt-get CMD…` against the sandbox; its stdout (a failure fails the test).
    fn run(&self, cmd: &[&str]) -> String {
        let d = self.dir();
        let out = Command::new("apt-get")
            .args(cmd)
            .arg("-o=Debug::NoLocking=1")
            .arg(format!(
                "-o=Dir::State::Lists={}",
                d.join("lists").display()
            ))
            .arg(format!("-o=Dir::State::status={}", self.status.display()))
            .arg(format!(
                "-o=Dir::Etc::SourceList={}",
                d.join("sources.list").display()
            ))
            .arg("-o=Dir::Etc::SourceParts=/nonexistent")
            .arg("-o=Dir::Etc::Preferences=/nonexistent")
            .arg("-o=Dir::Etc::PreferencesParts=/nonexistent")
            .arg(format!("-o=Dir::Cache={}", d.join("cache").display()))
            .arg("-o=APT::Architecture=amd64")
            .arg("-o=Acquire::Languages=none")
            .arg("-o=APT::Sandbox::User=root")
            .output()
            .expect("apt-get");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The same `status` collected by nminus, as node `this-debian12`.
    fn node(&self) -> Inventory {
        let root = self.dir().join("root");
        fs_err::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        fs_err::copy(&self.status, root.join("var/lib/dpkg/status")).unwrap();
        let mut inv = collect_root(&Root::new(&root), &CollectOptions::default());
        inv.node.id = "this-debian12".into();
        inv
    }
}

/// apt's default priorities, against apt itself: a backports-like suite (`NotAutomatic` +
/// `ButAutomaticUpgrades`, priority 100) and an experimental-like one (`NotAutomatic`, 1) beside
/// a normal one (500), over a real Debian 12 status. Each case is a real installed package:
/// main has the installed version and backports a newer one (no upgrade); only experimental is
/// newer (none); only backports has the package (upgrade from backports); main newer and
/// backports newer still (main wins).
#[test]
fn upgrade_candidates_follow_apt_priorities() {
    let apt = AptSandbox::new();
    let d = apt.dir();

    let status_text = fs_err::read_to_string(&apt.status).unwrap();
    // The installed package's own stanza (so that apt sees the same package, not a rebuild),
    // without its Status and Conffiles, as an index stanza at `version`.
    let stanza = |name: &str, version: &str| {
        let st = status_text
            .split("\n\n")
            .find(|st| st.lines().next() == Some(&format!("Package: {name}")))
            .unwrap_or_else(|| panic!("{name} is not in the status"));
        let mut out = String::new();
        let mut skipping = false;
        for line in st.lines() {
            if line.starts_with([' ', '\t']) {
                if !skipping {
                    out.push_str(line);
                    out.push('\n');
                }
                continue;
            }
            skipping = line.starts_with("Status:") || line.starts_with("Conffiles:");
            if skipping {
                continue;
            }
            if line.starts_with("Version:") {
                out.push_str(&format!("Version: {version}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&format!("Filename: pool/{name}_{version}.deb\nSize: 1\n\n"));
        out
    };
    // (suite, Release fields, stanzas)
    let suites = [
        (
            "main",
            "",
            [
                stanza("bash", "5.2.15-2+b8"),
                stanza("coreutils", "9.1-1"),
                stanza("sed", "4.9-2"),
            ]
            .concat(),
        ),
        (
            "backports",
            "NotAutomatic: yes\nButAutomaticUpgrades: yes\n",
            [
                stanza("bash", "5.2.37-1~bpo12+1"),
                stanza("gzip", "1.13-1~bpo12+1"),
                stanza("sed", "4.9-9~bpo12+1"),
            ]
            .concat(),
        ),
        (
            "experimental",
            "NotAutomatic: yes\n",
            stanza("coreutils", "9.7-1"),
        ),
    ];
    let mut sources = String::new();
    let mut files = Vec::new();
    for (suite, fields, packages) in &suites {
        let repo = d.join(suite);
        fs_err::create_dir_all(&repo).unwrap();
        fs_err::write(repo.join("Packages"), packages).unwrap();
        let sum = sha256_hex(packages.as_bytes());
        fs_err::write(
            repo.join("Release"),
            format!(
                "Origin: test\nLabel: {suite}\nSuite: {suite}\nCodename: {suite}\n{fields}SHA256:\n {sum} {} Packages\n",
                packages.len()
            ),
        )
        .unwrap();
        sources.push_str(&format!(
            "deb [trusted=yes allow-insecure=yes] file:{} ./\n",
            repo.display()
        ));
        files.push(repo.join("Packages"));
    }
    fs_err::write(d.join("sources.list"), sources).unwrap();
    apt.run(&["update"]);
    // `Inst sed [4.9-1] (4.9-2 main [amd64])`: name and new version.
    let want: BTreeMap<String, String> = apt
        .run(&["-s", "upgrade"])
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .map(|l| {
            let name = l.split_whitespace().next().unwrap().to_owned();
            let new = l
                .split_once('(')
                .unwrap()
                .1
                .split_whitespace()
                .next()
                .unwrap();
            (name, new.to_owned())
        })
        .collect();
    let inv = apt.node();
    let (cat, notes) = Catalogs::load(&CatalogPaths {
        openstack: None,
        endoflife: None,
        requirements: None,
        synced: Vec::new(),
        apt: files,
        ..CatalogPaths::default()
    });
    assert!(cat.apt.is_some(), "{notes:?}");
    let got: BTreeMap<String, String> =
        judge_currency(&inv, &cat, &load_policy("strict").unwrap(), snapshot())
            .into_iter()
            .filter(|f| f.code == FindingCode::UpgradeAvailable)
            .map(|f| {
                (
                    f.subject.name,
                    f.fixed_in.first().cloned().unwrap_or_default(),
                )
            })
            .collect();
    // What apt decides here: sed from main (500 beats the newer backports), gzip from backports
    // (nothing else has it); bash stays (main has it), coreutils stays (experimental only).
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        ["gzip", "sed"],
        "apt: {want:?}"
    );
    assert_eq!(got, want);
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// "Upgrade available" for a real Debian 12 dpkg status against the shared bookworm indexes
/// equals what apt computes from the same status and lists (`apt-get -s upgrade`: installs plus
/// kept-back packages). apt reads the indexes as three flat `file:` repositories.
#[test]
fn upgrades_equal_apt_get_upgrade() {
    let apt = AptSandbox::new();
    let d = apt.dir();
    let idx = shared_data("debian-apt-indexes/bookworm-amd64");
    let mut apt_files = Vec::new();
    let mut sources = String::new();
    for e in fs_err::read_dir(&idx).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix("_Packages.gz") {
            let repo = d.join(stem);
            fs_err::create_dir_all(&repo).unwrap();
            let mut gz = flate2::read::GzDecoder::new(fs_err::File::open(&p).unwrap());
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut gz, &mut out).unwrap();
            fs_err::write(repo.join("Packages"), out).unwrap();
            sources.push_str(&format!(
                "deb [trusted=yes allow-insecure=yes] file:{} ./\n",
                repo.display()
            ));
            apt_files.push(p);
        }
    }
    assert_eq!(apt_files.len(), 3, "{apt_files:?}");
    fs_err::write(d.join("sources.list"), sources).unwrap();
    apt.run(&["update"]);
    let text = apt.run(&["-s", "upgrade"]);
    let mut want: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .map(|l| {
            l.split_whitespace()
                .next()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut kept = false;
    for l in text.lines() {
        if l.starts_with("The following packages have been kept back") {
            kept = true;
            continue;
        }
        if kept {
            if l.starts_with("  ") {
                want.extend(
                    l.split_whitespace()
                        .map(|s| s.split(':').next().unwrap().to_owned()),
                );
            } else {
                kept = false;
            }
        }
    }
    let inv = apt.node();
    let (cat, _) = Catalogs::load(&CatalogPaths {
        openstack: None,
        endoflife: None,
        apt: apt_files,
        requirements: None,
        synced: Vec::new(),
        ..CatalogPaths::default()
    });
    let pol = load_policy("strict").unwrap();
    let got: BTreeSet<String> = judge_currency(&inv, &cat, &pol, snapshot())
        .into_iter()
        .filter(|f| f.code == FindingCode::UpgradeAvailable)
        .map(|f| f.subject.name)
        .collect();
    assert!(
        want.len() > 50,
        "apt found {} upgrades: the test would prove little",
        want.len()
    );
    assert_eq!(got, want);
}

#[test]
fn waivers_expire_and_unused_ones_are_findings() {
    let cat = catalogs();
    let text = "version: 1\nrules:\n  - name: s\n    select: {kinds: [openstack], deliverable_types: [service]}\n    series: {max_lag: 1}\nwaivers:\n  - id: W-1\n    codes: [series-behind]\n    select: {names: [nova]}\n    reason: upgrade scheduled\n    owner: ops\n    expires: 2026-12-31\n  - id: W-2\n    codes: [series-behind]\n    select: {names: [keystone]}\n    reason: old\n    owner: ops\n    expires: 2026-01-01\n  - id: W-3\n    select: {names: [no-such-thing]}\n    reason: stale\n    owner: ops\n    expires: 2027-01-01\n";
    let pol = parse_policy(text, "w.yaml").unwrap();
    let inv = set("2022.1-yoga");
    let mut f = judge_currency(&inv, &cat, &pol, snapshot());
    let extra = apply_waivers(&mut f, &[&inv], &pol, snapshot());
    let nova = f
        .iter()
        .find(|x| x.code == FindingCode::SeriesBehind && x.subject.name == "nova")
        .unwrap();
    assert_eq!(nova.waived_by.as_ref().unwrap().id, "W-1");
    let ks = f
        .iter()
        .find(|x| x.code == FindingCode::SeriesBehind && x.subject.name == "keystone")
        .unwrap();
    assert!(ks.waived_by.is_none(), "an expired waiver waives nothing");
    let kinds: BTreeSet<(FindingCode, String)> = extra
        .iter()
        .map(|x| (x.code, x.subject.name.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (FindingCode::WaiverExpired, "W-2".to_owned()),
            (FindingCode::WaiverUnused, "W-3".to_owned())
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        extra
            .iter()
            .find(|x| x.subject.name == "W-3")
            .unwrap()
            .subject
            .location
            .as_ref()
            .unwrap()
            .line,
        Some(19)
    );
}

/// Waivers are applied once: judging marks nothing; the server's `waive` marks a node's
/// findings; a report applies them over the fleet and adds the waiver findings exactly once.
#[test]
fn the_engine_applies_waivers_once() {
    let text = "version: 1\nrules:\n  - name: s\n    select: {kinds: [openstack], deliverable_types: [service]}\n    series: {max_lag: 1}\nwaivers:\n  - id: W-1\n    codes: [series-behind]\n    select: {names: [nova]}\n    reason: upgrade scheduled\n    owner: ops\n    expires: 2026-12-31\n  - id: W-3\n    select: {names: [no-such-thing]}\n    reason: stale\n    owner: ops\n    expires: 2027-01-01\n";
    let pol = parse_policy(text, "w.yaml").unwrap();
    let an = nminus::Analyzer::from_parts(
        nminus::AdvisoryIndex::default(),
        catalogs(),
        pol,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        String::new(),
    );
    let inv = set("2022.1-yoga");
    let judged = an.judge(&inv, snapshot());
    let nova = |f: &[Finding]| {
        f.iter()
            .find(|x| x.code == FindingCode::SeriesBehind && x.subject.name == "nova")
            .cloned()
            .unwrap()
    };
    assert!(
        nova(&judged).waived_by.is_none(),
        "judging applies no waiver"
    );
    let mut pushed = judged.clone();
    an.waive(&mut pushed, &inv, snapshot());
    assert_eq!(nova(&pushed).waived_by.unwrap().id, "W-1");
    let report = an.report(
        vec![(&inv, judged)],
        Vec::new(),
        "2026-08-21T00:00:00Z".into(),
        snapshot(),
    );
    assert!(report.waived.iter().any(|x| x.subject.name == "nova"));
    let unused: Vec<_> = report
        .findings
        .iter()
        .filter(|x| x.code == FindingCode::WaiverUnused)
        .collect();
    assert_eq!(unused.len(), 1, "{unused:#?}");
}

#[test]
fn policy_check_reports_every_problem_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    fs_err::write(&bad, "version: 1\nrules:\n  - name: x\n    select: {kinds: [vm]}\n    series: {max_lag: one}\nwaivers:\n  - id: w\n    reason: r\n    owner: o\n    expires: soon\n").unwrap();
    let o = nminus()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml:4: rules[0].select.kinds[0]: unknown kind `vm`"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:5: rules[0].series.max_lag: expected a whole number"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:10: waivers[0].expires: expected a date"),
        "{err}"
    );
    assert!(
        err.contains("waivers[0]: a waiver must say what it waives"),
        "{err}"
    );
    fs_err::write(&bad, "version: 1\nrules:\n  - name: deps\n    select: {kinds: [openstack]}\n    constraints:\n      allow_older: true\n      allow_newer: true\n      severity: loud\n").unwrap();
    let o = nminus()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "bad.yaml:5: rules[0].constraints: expected at most one of `allow_older: true` and `allow_newer: true`",
        "bad.yaml:5: rules[0].constraints: constraints judges Python packages (kind `package`)",
        "bad.yaml:8: rules[0].constraints.severity: expected a severity",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let o = nminus()
        .args(["policy", "check", "default", "openstack-n1", "strict"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let files: Vec<String> = ["default", "openstack-n1", "strict"]
        .iter()
        .map(|n| format!("{}/policies/{n}.yaml", env!("CARGO_MANIFEST_DIR")))
        .collect();
    let o = nminus()
        .args(["policy", "check"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn scan_end_to_end_as_of_the_snapshot() {
    let root = shared_data("fixtures/python/openstack-site-packages/2022.1-yoga");
    let o = nminus()
        .args([
            "scan",
            "--policy",
            "openstack-n1",
            "--as-of",
            "2026-08-21",
            "--format",
            "json",
            "--node-id",
            "yoga",
            "--data",
        ])
        .arg(shared_data(""))
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["summary"]["compliant"], false);
    assert!(r["summary"]["by_code"]["series-behind"].as_u64().unwrap() > 10);
    // Upper-constraints are judged by `scan` too (the data directory's openstack-requirements).
    let (_, branch, python) = SETS[0];
    assert_eq!(
        r["summary"]["by_code"]["constraint-mismatch"].as_u64(),
        Some(reference_mismatches("2022.1-yoga", branch, python).len() as u64),
        "{}",
        r["summary"]
    );
    let root = shared_data("fixtures/python/openstack-site-packages/2025.2-flamingo");
    let o = nminus()
        .args([
            "scan",
            "--policy",
            "openstack-n1",
            "--as-of",
            "2026-08-21",
            "--fail-on",
            "series-behind",
            "--fail-on",
            "series-eol",
            "--format",
            "json",
            "--data",
        ])
        .arg(shared_data(""))
        .arg(&root)
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        r["summary"]["by_code"].get("series-behind").is_none(),
        "{}",
        r["summary"]
    );
}

/// One `constraint-mismatch`: (normalised name, installed, pin, line in upper-constraints.txt,
/// `<` older or `>` newer than the pin).
type Mismatch = (String, String, String, usize, char);

/// The branch each site-packages set was built from (its directory name: the series), and its
/// interpreter directory: written here, independent of nminus's series → branch mapping.
const SETS: [(&str, &str, &str); 3] = [
    ("2022.1-yoga", "unmaintained_yoga", "python3.8"),
    ("2025.2-flamingo", "stable_2025.2", "python3.12"),
    ("2026.1-gazpacho", "stable_2026.1", "python3.12"),
];

/// `tests/reference/upper_constraints.py`: the distributions of the set's site-packages
/// (`importlib.metadata`) against the branch's upper-constraints.txt (plain string parsing,
/// markers and versions by Python `packaging`).
fn reference_mismatches(set: &str, branch: &str, python: &str) -> BTreeSet<Mismatch> {
    let py = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import packaging.markers, packaging.version"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no python3 with `packaging`: run scripts/test.sh (pip install packaging)");
    let site = shared_data(&format!(
        "fixtures/python/openstack-site-packages/{set}/lib/{python}/site-packages"
    ));
    let uc = shared_data(&format!(
        "openstack-requirements/{branch}/upper-constraints.txt"
    ));
    let o = Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/upper_constraints.py"
        ))
        .arg(&site)
        .arg(&uc)
        .arg(python.trim_start_matches("python"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "{l}");
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].to_owned(),
                f[3].parse().unwrap(),
                f[4].chars().next().unwrap(),
            )
        })
        .collect()
}

fn mismatches(findings: &[Finding]) -> BTreeSet<Mismatch> {
    findings
        .iter()
        .filter(|f| f.code == FindingCode::ConstraintMismatch)
        .map(|f| {
            let line = f
                .evidence
                .matched
                .rsplit_once("(line ")
                .and_then(|(_, r)| r.trim_end_matches(')').parse().ok())
                .unwrap_or_else(|| panic!("no line in {:?}", f.evidence.matched));
            let dir = if f
                .evidence
                .message
                .contains("; older than the tested version")
            {
                '<'
            } else {
                assert!(
                    f.evidence
                        .message
                        .contains("; newer than the tested version"),
                    "{}",
                    f.evidence.message
                );
                '>'
            };
            (
                f.subject.name.clone(),
                f.subject.version.clone(),
                f.fixed_in[0].clone(),
                line,
                dir,
            )
        })
        .collect()
}

/// The three site-packages sets against the real upper-constraints of their branch, under the
/// default policy: the `constraint-mismatch` findings equal the reference evaluation exactly.
#[test]
fn constraint_mismatches_equal_packaging_evaluation() {
    let cat = catalogs();
    let default = load_policy("default").unwrap();
    let mut total = 0;
    for (set_name, branch, python) in SETS {
        let inv = set(set_name);
        let want = reference_mismatches(set_name, branch, python);
        let findings = judge_currency(&inv, &cat, &default, snapshot());
        let have = mismatches(&findings);
        assert_eq!(
            have, want,
            "{set_name}: nminus (left) and the packaging reference (right) differ"
        );
        for f in findings
            .iter()
            .filter(|f| f.code == FindingCode::ConstraintMismatch)
        {
            let uc_branch = branch.replacen('_', "/", 1);
            assert!(
                f.evidence.message.contains(&format!(
                    "/lib/{python}/site-packages: {uc_branch} upper-constraints pin "
                )),
                "{}",
                f.evidence.message
            );
            assert_eq!(f.severity, nminus::model::Severity::Low);
        }
        let older = have.iter().filter(|m| m.4 == '<').count();
        eprintln!(
            "{set_name}: {} constraint-mismatch ({older} older, {} newer) against {branch}",
            have.len(),
            have.len() - older
        );
        total += have.len();
    }
    // The sets were built from their branch's constraints at an earlier commit: the data moved
    // since, so some distributions differ (the test would prove little otherwise).
    assert!(total > 0);
}

// ---- distribution lifecycles (distro-info-data, debian-security-support) ----

fn distro() -> nminus::DistroLifecycles {
    nminus::DistroLifecycles::load(&shared_data("debian-lifecycle"))
        .unwrap()
        .0
}

/// A node root made of real fixture files, hard-linked (never copied; a root does not follow
/// symbolic links out of itself) into a directory beside the build's.
fn fixture_root(links: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for (at, fixture) in links {
        let p = tmp.path().join(at);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::hard_link(shared_data(fixture), &p).unwrap();
    }
    tmp
}

/// The real Debian 12 machine of the shared fixtures (its dpkg status and os-release).
fn this_debian12() -> Inventory {
    let root = fixture_root(&[
        ("etc/os-release", "fixtures/dpkg/this-debian12/os-release"),
        ("var/lib/dpkg/status", "fixtures/dpkg/this-debian12/status"),
    ]);
    let mut inv = collect_root(
        &Root::new(root.path().to_path_buf()),
        &CollectOptions::default(),
    );
    inv.node.id = "this-debian12".into();
    assert_eq!(inv.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
    assert!(
        inv.packages.iter().any(|p| p.name == "perl"),
        "the fixture has perl"
    );
    inv
}

fn lifecycle_policy(os_support: &str) -> nminus::Policy {
    parse_policy(
        &format!("version: 1\nrules:\n  - name: eol\n    select: {{kinds: [product]}}\n    lifecycle: {{forbid_eol: true, warn_days: 0, severity: high, os_support: {os_support}}}\n"),
        "t.yaml",
    )
    .unwrap()
}

fn eol_names(f: &[Finding]) -> BTreeSet<String> {
    f.iter()
        .filter(|x| x.code == FindingCode::Eol)
        .map(|x| x.subject.name.clone())
        .collect()
}

/// Debian 12 after its regular security support but inside Debian LTS (by distro-info-data):
/// the policy's `os_support` decides. `regular`: the release is end of life, and its packages
/// (perl 5.36) are judged by their upstream lifecycles; `lts` (the default) and `elts`: the
/// release and everything Debian packages for it are supported.
#[test]
fn debian_12_in_lts_follows_the_policys_os_support() {
    let cat = catalogs();
    let lc = cat.lifecycles.as_ref().unwrap();
    let d = distro();
    let as_of = time::macros::date!(2026 - 11 - 24);
    let bookworm = d.debian("12").unwrap();
    use nminus::SupportLevel;
    let regular_end = bookworm.support_end(SupportLevel::Standard).unwrap();
    let lts_end = bookworm.support_end(SupportLevel::Lts).unwrap();
    assert!(
        regular_end <= as_of && as_of < lts_end,
        "the data puts {as_of} in Debian 12's LTS"
    );
    let inv = this_debian12();
    let perl = inv.packages.iter().find(|p| p.name == "perl").unwrap();
    let perl_v = perl.version.split('-').next().unwrap();
    let perl_eol = lc.is_eol("perl", perl_v, as_of).expect("perl has a cycle");

    let regular = judge_currency(&inv, &cat, &lifecycle_policy("regular"), as_of);
    let names = eol_names(&regular);
    assert!(names.contains("debian"), "{regular:#?}");
    assert_eq!(names.contains("perl"), perl_eol, "{names:?}");
    let os = regular.iter().find(|x| x.subject.name == "debian").unwrap();
    assert!(
        os.evidence.message.contains(&regular_end.to_string())
            && os.evidence.message.contains(&lts_end.to_string()),
        "names both ends: {}",
        os.evidence.message
    );
    for level in ["lts", "elts"] {
        let f = judge_currency(&inv, &cat, &lifecycle_policy(level), as_of);
        assert!(eol_names(&f).is_empty(), "{level}: {f:#?}");
    }
    // The default policy counts LTS.
    let f = judge_currency(&inv, &cat, &load_policy("default").unwrap(), as_of);
    assert!(eol_names(&f).is_empty(), "default: {f:#?}");
    // Past the LTS end, `lts` makes it end of life too.
    let later = lts_end.next_day().unwrap();
    let f = judge_currency(&inv, &cat, &lifecycle_policy("lts"), later);
    assert!(eol_names(&f).contains("debian"), "{f:#?}");
}

/// Debian's perl on a supported Debian is not `eol`; an old perl from another source (an
/// Alpine package, judged by perl's own cycles) is, exactly when endoflife.date says so.
#[test]
fn debian_perl_is_debians_an_upstream_perl_is_perls() {
    let cat = catalogs();
    let lc = cat.lifecycles.as_ref().unwrap();
    let as_of = snapshot();
    let pol = load_policy("default").unwrap();
    let f = judge_currency(&this_debian12(), &cat, &pol, as_of);
    assert!(!eol_names(&f).contains("perl"), "{f:#?}");
    let mut alpine = node("alpine", "3.20.3", Vec::new());
    alpine.packages.push(Package {
        ecosystem: Ecosystem::Apk,
        name: "perl".into(),
        version: "5.28.3-r0".into(),
        source: None,
        purl: "pkg:apk/alpine/perl@5.28.3-r0?arch=x86_64".into(),
        found_by: "test".into(),
        location: Location::path("/lib/apk/db/installed"),
        meta: PackageMeta::Apk {
            arch: Some("x86_64".into()),
            origin: Some("perl".into()),
        },
        extra: Default::default(),
    });
    let f = judge_currency(&alpine, &cat, &pol, as_of);
    let want = lc
        .is_eol("perl", "5.28.3", as_of)
        .expect("perl 5.28 has a cycle");
    assert!(want, "the data says perl 5.28 is end of life");
    assert!(eol_names(&f).contains("perl"), "{f:#?}");
}

/// OpenSSL's endoflife.date product lists no package URL; its Repology name (`openssl`) is the
/// source of the packages distributions build from it. OpenSSL 1.1.1 is flagged in the real
/// Alpine 3.10 image (libssl1.1, libcrypto1.1) and the real CBL-Mariner rpm database; the
/// verdict is the data's own.
#[test]
fn openssl_1_1_1_is_flagged_without_a_purl() {
    let cat = catalogs();
    let lc = cat.lifecycles.as_ref().unwrap();
    assert!(
        lc.product("openssl").unwrap().purls.is_empty(),
        "no purl upstream"
    );
    let as_of = snapshot();
    let pol = load_policy("default").unwrap();
    // Alpine 3.10, from the docker-save archive.
    let ci = nminus::collect_image_path(
        &shared_data("fixtures/images/fanal-alpine-metadata-only/alpine-3.10-docker-save.tar.gz"),
        &nminus::ImageOptions::default(),
    )
    .unwrap()
    .remove(0);
    let mut alpine = node("alpine", "3.10", ci.packages);
    alpine.os = ci.image.os.clone();
    let ssl = alpine
        .packages
        .iter()
        .find(|p| p.name == "libssl1.1")
        .unwrap();
    let v = ssl.version.rsplit_once('-').unwrap().0.to_owned();
    let want = lc.is_eol("openssl", &v, as_of).expect("a 1.1.1 cycle");
    assert!(want, "the data says OpenSSL {v} is end of life");
    let f = judge_currency(&alpine, &cat, &pol, as_of);
    let hit = f
        .iter()
        .find(|x| x.code == FindingCode::Eol && x.subject.name == "openssl")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert!(hit.evidence.matched.contains("cycle 1.1.1"), "{hit:#?}");
    // CBL-Mariner 2.0's rpm database (openssl, openssl-libs 1.1.1k).
    let root = fixture_root(&[(
        "var/lib/rpm/rpmdb.sqlite",
        "fixtures/rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
    )]);
    let inv = collect_root(
        &Root::new(root.path().to_path_buf()),
        &CollectOptions::default(),
    );
    assert!(
        inv.packages.iter().any(|p| p.name == "openssl-libs"),
        "{:?}",
        inv.problems
    );
    let f = judge_currency(&inv, &cat, &pol, as_of);
    assert!(eol_names(&f).contains("openssl"), "{f:#?}");
}

/// Ubuntu 18.04's libssl1.1 (the real texlive image status): Ubuntu's own package, so it
/// follows Ubuntu 18.04's support as the policy counts it — past standard support it is
/// OpenSSL 1.1.1, end of life; under `os_support: esm` (inside ESM by the data) Ubuntu supports
/// it and it is not flagged.
#[test]
fn ubuntu_openssl_follows_ubuntus_support() {
    let cat = catalogs();
    let d = distro();
    let as_of = snapshot();
    let bionic = d.ubuntu("18.04").unwrap();
    use nminus::SupportLevel;
    assert!(!bionic.is_supported(as_of, SupportLevel::Standard));
    assert!(bionic.is_supported(as_of, SupportLevel::Extended));
    let root = fixture_root(&[(
        "var/lib/dpkg/status",
        "fixtures/dpkg/claircore/texlive.status",
    )]);
    let mut inv = collect_root(
        &Root::new(root.path().to_path_buf()),
        &CollectOptions::default(),
    );
    inv.os = node("ubuntu", "18.04", Vec::new()).os;
    assert!(inv.packages.iter().any(|p| p.name == "libssl1.1"));
    let f = judge_currency(&inv, &cat, &lifecycle_policy("lts"), as_of);
    let names = eol_names(&f);
    assert!(
        names.contains("ubuntu") && names.contains("openssl"),
        "{names:?}"
    );
    let f = judge_currency(&inv, &cat, &lifecycle_policy("esm"), as_of);
    assert!(eol_names(&f).is_empty(), "{f:#?}");
}

/// Every entry of Debian 12's security-support-ended list: a Debian 12 node with that source
/// package installed gets an `eol` finding for it (with the list's reason) once the listed date
/// has come, while Debian 12 itself is supported; the real Debian 12 machine (none of them
/// installed) gets none.
#[test]
fn security_support_ended_packages_are_reported() {
    let cat = catalogs();
    let d = distro();
    let as_of = snapshot();
    let pol = lifecycle_policy("lts");
    let entries = d.support_ended_list(12);
    assert!(entries.len() >= 10, "{entries:?}");
    let mut checked = 0;
    for e in entries.iter().filter(|e| !e.package.contains(".*")) {
        let inv = node(
            "debian",
            "12",
            vec![deb(&e.package, &e.package, &e.last_version)],
        );
        let f = judge_currency(&inv, &cat, &pol, as_of);
        let hit = f.iter().find(|x| x.subject.name == e.package);
        let due = e.end_date.is_none_or(|end| end <= as_of);
        assert_eq!(hit.is_some(), due, "{}: {f:#?}", e.package);
        if let Some(h) = hit {
            assert_eq!(h.code, FindingCode::Eol);
            assert_eq!(h.subject.ecosystem, "deb");
            if let Some(why) = &e.details {
                assert!(h.evidence.message.contains(why.as_str()), "{h:#?}");
            }
            checked += 1;
        }
        assert!(
            !eol_names(&f).contains("debian"),
            "Debian 12 is supported: {f:#?}"
        );
    }
    assert!(checked >= 5, "{checked}");
    let f = judge_currency(&this_debian12(), &cat, &pol, as_of);
    assert!(!f.iter().any(|x| x.subject.ecosystem == "deb"), "{f:#?}");
}
