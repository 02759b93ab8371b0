//! Advisory matching end to end, against references: the rustsec crate's results for every
//! shared lockfile, an independent Python (`packaging` + PyYAML) evaluation of the PyPA OSV
//! ranges for the OpenStack site-packages sets, OSSA for nova 29.0.0, and `nminus scan`'s exit
//! codes.

use std::collections::BTreeSet;
use std::process::Command;

use nminus::analyze::{match_inventory, AdvisoryIndex};
use nminus::collect::{collect_root, lockfile, CollectOptions, Root};
use nminus::model::{Ecosystem, FindingCode, Inventory, Location, NodeInfo, Package, PackageMeta};
use nminus::sources::feeds::{load_all, FeedsConfig};

use crate::support::{nminus, run_with_stdin, shared_data};

fn index(feeds: &[&str]) -> AdvisoryIndex {
    let cfg = FeedsConfig::builtin()
        .select(&feeds.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .unwrap();
    let loaded = load_all(&cfg, &shared_data(""), None, None);
    assert!(
        loaded.status.iter().all(|s| s.loaded),
        "{:?}",
        loaded.status
    );
    AdvisoryIndex::build(loaded.advisories)
}

fn inventory(packages: Vec<Package>) -> Inventory {
    Inventory {
        schema_version: 1,
        node: NodeInfo {
            id: "test".into(),
            ..NodeInfo::default()
        },
        collected_at: String::new(),
        agent: Default::default(),
        root: String::new(),
        os: None,
        packages,
        images: Vec::new(),
        services: Vec::new(),
        problems: Vec::new(),
    }
}

/// Every lockfile under fixtures/cargo: the (advisory, package, version) set of vulnerabilities
/// equals what the rustsec crate reports (`rustsec-reference-results.tsv`).
#[test]
fn rustsec_matches_equal_the_rustsec_crate() {
    let idx = index(&["rustsec"]);
    let tsv = fs_err::read_to_string(shared_data("fixtures/cargo/rustsec-reference-results.tsv"))
        .unwrap();
    let mut want: std::collections::BTreeMap<String, BTreeSet<(String, String, String)>> =
        Default::default();
    let mut parse_errors = BTreeSet::new();
    for l in tsv.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        let e = want.entry(f[0].to_owned()).or_default();
        match f[1] {
            "-" => {}
            "PARSE-ERROR" => {
                parse_errors.insert(f[0].to_owned());
            }
            adv => {
                e.insert((adv.to_owned(), f[2].to_owned(), f[3].to_owned()));
            }
        }
    }
    assert!(want.len() > 40, "{}", want.len());
    let mut informational = 0;
    for (file, expected) in &want {
        let path = shared_data(&format!("fixtures/cargo/{file}"));
        let text = fs_err::read_to_string(&path).unwrap();
        let (pkgs, problems) = lockfile::parse_cargo_lock(&text, &Location::path(file));
        if parse_errors.contains(file) {
            assert!(
                problems
                    .iter()
                    .any(|p| p.kind == nminus::model::ProblemKind::Malformed),
                "{file}: rustsec rejects it; we must say why"
            );
            continue;
        }
        let findings = match_inventory(&inventory(pkgs), &idx);
        let got: BTreeSet<(String, String, String)> = findings
            .iter()
            .filter(|f| f.code == FindingCode::Vulnerable)
            .map(|f| {
                (
                    f.advisory.as_ref().unwrap().id.clone(),
                    f.subject.name.clone(),
                    f.subject.version.clone(),
                )
            })
            .collect();
        informational += findings
            .iter()
            .filter(|f| f.code == FindingCode::AdvisoryNotice)
            .count();
        assert_eq!(&got, expected, "{file}");
    }
    // Informational advisories (unmaintained, unsound) are reported as their own kind.
    assert!(informational > 0);
}

fn python_with_yaml_and_packaging() -> String {
    for py in ["python3", "/usr/bin/python3"] {
        if Command::new(py)
            .args(["-c", "import yaml, packaging.version"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return py.to_owned();
        }
    }
    panic!(
        "no python3 with PyYAML and packaging: run scripts/test.sh (pip install pyyaml packaging)"
    );
}

/// PyPA matches for the three OpenStack site-packages sets equal an independent evaluation of
/// the OSV ranges with Python `packaging`.
#[test]
fn pypa_matches_equal_packaging_evaluation() {
    let idx = index(&["pypa"]);
    let py = python_with_yaml_and_packaging();
    let mut total = 0;
    for set in ["2022.1-yoga", "2025.2-flamingo", "2026.1-gazpacho"] {
        let base = shared_data(&format!("fixtures/python/openstack-site-packages/{set}"));
        let inv = collect_root(&Root::new(&base), &CollectOptions::default());
        let pins: String = inv
            .packages
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Pypi)
            .map(|p| format!("{}=={}\n", p.name, p.version))
            .collect();
        let mut cmd = Command::new(&py);
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/osv_match.py"
        ))
        .arg(shared_data("pypa-advisory-database/vulns"));
        let out = run_with_stdin(cmd, pins.as_bytes());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let theirs: BTreeSet<(String, String, String)> = text
            .lines()
            .filter(|l| !l.starts_with('!'))
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
            })
            .collect();
        let findings = match_inventory(&inv, &idx);
        let ours: BTreeSet<(String, String, String)> = findings
            .iter()
            .filter(|f| f.code == FindingCode::Vulnerable)
            .flat_map(|f| {
                let a = f.advisory.as_ref().unwrap();
                std::iter::once(a.id.clone())
                    .chain(a.aliases.iter().cloned())
                    .filter(|id| id.starts_with("PYSEC-"))
                    .map(|id| (id, f.subject.name.clone(), f.subject.version.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(ours, theirs, "{set}");
        total += ours.len();
    }
    assert!(
        total > 0,
        "the old yoga set must have known PyPA vulnerabilities"
    );
}

fn pypi(name: &str, version: &str) -> Package {
    Package {
        ecosystem: Ecosystem::Pypi,
        name: name.into(),
        version: version.into(),
        source: None,
        purl: format!("pkg:pypi/{name}@{version}"),
        found_by: "test".into(),
        location: Location::path("/openstack/venvs/nova/lib/python3.12/site-packages"),
        meta: PackageMeta::Python {
            display_name: name.into(),
            os_owner: None,
            environment: Some("/openstack/venvs/nova".into()),
        },
        extra: Default::default(),
    }
}

/// nova 29.0.0 from a venv gets exactly the OSSAs whose ranges contain it, evaluated by Python
/// `packaging` over the OSSA specifier strings nminus loaded.
#[test]
fn nova_29_gets_exactly_its_ossas() {
    let idx = index(&["ossa"]);
    let findings = match_inventory(&inventory(vec![pypi("nova", "29.0.0")]), &idx);
    let ours: BTreeSet<String> = findings
        .iter()
        .filter(|f| f.code == FindingCode::Vulnerable)
        .map(|f| f.advisory.as_ref().unwrap().id.clone())
        .collect();
    // Independent: every (id, spec) for nova, judged by packaging's SpecifierSet per alternative.
    let mut specs = String::new();
    for a in idx.advisories() {
        for f in &a.affected {
            if f.package == "nova" {
                if let nminus::model::AffectedRanges::Pep440AnyOf { spec } = &f.ranges {
                    specs.push_str(&format!("{}\t{}\n", a.id, spec));
                }
            }
        }
    }
    let script = r#"
import sys
from packaging.specifiers import SpecifierSet
from packaging.version import Version
v = Version("29.0.0")
for line in sys.stdin:
    i, spec = line.rstrip("\n").split("\t")
    for alt in spec.split(","):
        s = SpecifierSet(",".join(alt.split()))
        if s.contains(v, prereleases=True):
            print(i)
            break
"#;
    let mut cmd = Command::new(python_with_yaml_and_packaging());
    cmd.args(["-c", script]);
    let out = run_with_stdin(cmd, specs.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(!theirs.is_empty());
    assert_eq!(ours, theirs);
    assert!(ours.contains("OSSA-2024-001"), "{ours:?}");
}

#[test]
fn distro_owned_python_is_left_to_the_distro() {
    let idx = index(&["pypa", "ossa"]);
    let mut p = pypi("nova", "26.2.2");
    p.meta = PackageMeta::Python {
        display_name: "nova".into(),
        os_owner: Some("python3-nova".into()),
        environment: None,
    };
    let findings = match_inventory(&inventory(vec![p.clone()]), &idx);
    assert!(findings.is_empty(), "{findings:?}");
    p.meta = PackageMeta::Python {
        display_name: "nova".into(),
        os_owner: None,
        environment: None,
    };
    assert!(
        !match_inventory(&inventory(vec![p]), &idx).is_empty(),
        "the same version from pip is judged by OSSA"
    );
}

#[test]
fn unparseable_version_is_a_finding_never_silence() {
    let idx = index(&["pypa"]);
    let findings = match_inventory(&inventory(vec![pypi("django", "1.11-custom build")]), &idx);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].code, FindingCode::VersionUnparseable);
}

#[test]
fn scan_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("Cargo.lock");
    // A lockfile pinning a crate with a RustSec vulnerability → 1.
    fs_err::copy(
        shared_data("fixtures/cargo/trivy/trivy-ci-test/Cargo.lock"),
        &lock,
    )
    .unwrap();
    let data = shared_data("");
    let o = nminus()
        .args(["scan", "--feed", "rustsec", "--format", "json", "--data"])
        .arg(&data)
        .arg(&lock)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["summary"]["by_code"]["vulnerable"].as_u64().unwrap() > 0);
    // Gate on critical only: the same scan passes when nothing is critical.
    let crit = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == "critical");
    let o = nminus()
        .args([
            "scan",
            "--feed",
            "rustsec",
            "--fail-on",
            "critical",
            "--data",
        ])
        .arg(&data)
        .arg(&lock)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(if crit { 1 } else { 0 }));
    // No feed at all: the report is written, it says what was not judged, exit 2.
    let empty = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = nminus()
        .args(["scan", "--format", "json", "-o"])
        .arg(&out)
        .arg("--data")
        .arg(empty.path())
        .arg(&lock)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let r: serde_json::Value = serde_json::from_slice(&fs_err::read(&out).unwrap()).unwrap();
    assert!(
        r["not_judged"][0].as_str().unwrap().contains("nminus sync"),
        "{r}"
    );
}
