//! Advisory matching end to end, against references: the rustsec crate's results for every
//! shared lockfile, an independent Python (`packaging` + PyYAML) evaluation of the PyPA OSV
//! ranges for the OpenStack site-packages sets, OSSA for nova 29.0.0, and `nminus scan`'s exit
//! codes.

use std::collections::BTreeSet;

use serde_json::json;
use std::process::Command;

use nminus::model::{Ecosystem, FindingCode, Inventory, Location, NodeInfo, Package, PackageMeta};
use nminus::{collect_root, collect_with, CollectOptions, Collector, Root};
use nminus::{load_all, FeedsConfig};
use nminus::{match_inventory, AdvisoryIndex};

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
    AdvisoryIndex::from_feeds(loaded.advisories)
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

/// The lockfile collector alone on one explicitly named file, read by its own name (or, when the
/// name says nothing, by its content).
fn collect_named(file: &std::path::Path) -> Inventory {
    let collectors: Vec<Box<dyn Collector>> = vec![Box::new(
        nminus::LockfileCollector::with_targets(vec![file.to_path_buf()])
            .with_search_roots(Vec::new()),
    )];
    collect_with(
        &Root::new("/nonexistent-nminus-root"),
        &CollectOptions::default(),
        &collectors,
    )
}

/// The reference: lockfile → (advisory, package, version) set, the lockfiles rustsec rejects,
/// and the reference rows nminus leaves out on purpose: the lockfile's own members (no
/// `source`: workspace members, path dependencies), which rustsec matches against the published
/// crates of the same name and nminus does not judge (docs/findings.md).
type Reference = (
    std::collections::BTreeMap<String, BTreeSet<(String, String, String)>>,
    BTreeSet<String>,
    BTreeSet<(String, String, String, String)>,
);

/// The (name, version) of every `[[package]]` (and v1 `[root]`) of a Cargo.lock without a
/// `source`: the project's own crates.
fn local_members(file: &str) -> BTreeSet<(String, String)> {
    let text = fs_err::read_to_string(shared_data(&format!("fixtures/cargo/{file}"))).unwrap();
    let Ok(doc) = toml::from_str::<toml::Table>(&text) else {
        return BTreeSet::new();
    };
    let packages = doc.get("package").and_then(toml::Value::as_array);
    packages
        .into_iter()
        .flatten()
        .chain(doc.get("root"))
        .filter_map(toml::Value::as_table)
        .filter(|t| {
            t.get("source")
                .and_then(toml::Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
        })
        .filter_map(|t| {
            let s = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_owned);
            Some((s("name")?, s("version")?))
        })
        .collect()
}

fn rustsec_reference() -> Reference {
    let tsv = fs_err::read_to_string(shared_data("fixtures/cargo/rustsec-reference-results.tsv"))
        .unwrap();
    let mut want: std::collections::BTreeMap<String, BTreeSet<(String, String, String)>> =
        Default::default();
    let mut parse_errors = BTreeSet::new();
    let mut local = BTreeSet::new();
    for l in tsv.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        let e = want.entry(f[0].to_owned()).or_default();
        match f[1] {
            "-" => {}
            "PARSE-ERROR" => {
                parse_errors.insert(f[0].to_owned());
            }
            adv => {
                if local_members(f[0]).contains(&(f[2].to_owned(), f[3].to_owned())) {
                    local.insert((
                        f[0].to_owned(),
                        adv.to_owned(),
                        f[2].to_owned(),
                        f[3].to_owned(),
                    ));
                } else {
                    e.insert((adv.to_owned(), f[2].to_owned(), f[3].to_owned()));
                }
            }
        }
    }
    (want, parse_errors, local)
}

/// The reference rows nminus leaves out are exactly the lockfiles' own members that rustsec
/// matches by name: ripgrep's workspace crate `grep-cli`, rustsec's own `local_cargo.lock`
/// fixture (a lone `base64` without a source) and syft's path dependency `telemetry`. Each is
/// still in the inventory, as a `path` lock member.
#[test]
fn lockfile_members_without_a_source_are_not_judged() {
    let (_, _, local) = rustsec_reference();
    let rows: BTreeSet<(&str, &str, &str)> = local
        .iter()
        .map(|(f, a, p, _)| (f.as_str(), a.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        rows,
        BTreeSet::from([
            (
                "ripgrep-history/Cargo.lock.2020-05-29-72bdde6771",
                "RUSTSEC-2021-0071",
                "grep-cli"
            ),
            (
                "rustsec/rustsec-support/local_cargo.lock",
                "RUSTSEC-2017-0004",
                "base64"
            ),
            (
                "syft/path-deps/Cargo.lock",
                "RUSTSEC-2021-0046",
                "telemetry"
            ),
        ])
    );
    let idx = index(&["rustsec"]);
    for (file, adv, name, version) in &local {
        let inv = collect_named(&shared_data(&format!("fixtures/cargo/{file}")));
        let p = inv
            .packages
            .iter()
            .find(|p| &p.name == name && &p.version == version)
            .unwrap_or_else(|| panic!("{file}: {name} {version} is not in the inventory"));
        assert!(p.is_local_lock_member(), "{file}: {p:?}");
        let findings = match_inventory(&inventory(inv.packages.clone()), &idx);
        assert!(
            findings.iter().all(|f| &f.subject.name != name),
            "{file}: {adv} judged the project's own `{name}`: {findings:?}"
        );
    }
}

/// A Python lock's own project (uv's `source = { virtual = "." }` entry, which carries the
/// project's version) is a local member too: kept in the inventory, looked up in no feed, while
/// the registry packages of the same lockfile are.
#[test]
fn python_lock_projects_are_not_judged() {
    for (file, project) in [
        ("python/trivy/uv/happy/uv.lock", "happy"),
        ("python/syft/uv/simple-deps/uv.lock", "testpkg"),
    ] {
        let inv = collect_named(&shared_data(&format!("fixtures/{file}")));
        let own = inv
            .packages
            .iter()
            .find(|p| p.name == project)
            .unwrap_or_else(|| panic!("{file}: {project} is not in the inventory"));
        assert!(own.is_local_lock_member(), "{file}: {own:?}");
        assert!(nminus::lookup_keys(own, None).is_empty(), "{file}");
        let registry: Vec<&Package> = inv.packages.iter().filter(|p| p.name != project).collect();
        assert!(!registry.is_empty(), "{file}");
        for p in registry {
            assert!(!p.is_local_lock_member(), "{file}: {p:?}");
            assert!(!nminus::lookup_keys(p, None).is_empty(), "{file}: {p:?}");
        }
    }
}

/// Every lockfile under fixtures/cargo, named explicitly by its own path (`workspace-Cargo.lock`,
/// `cratesio_cargo.lock`, `one-package.lock` … are read by their content): the (advisory,
/// package, version) set of vulnerabilities equals what the rustsec crate reports
/// (`rustsec-reference-results.tsv`).
#[test]
fn rustsec_matches_equal_the_rustsec_crate() {
    let idx = index(&["rustsec"]);
    let (want, parse_errors, _) = rustsec_reference();
    assert!(want.len() > 40, "{}", want.len());
    for odd in [
        "rustsec/workspace-Cargo.lock",
        "rustsec/rustsec-support/cratesio_cargo.lock",
    ] {
        assert!(want.contains_key(odd), "{odd} is in the reference");
    }
    let mut informational = 0;
    for (file, expected) in &want {
        let path = shared_data(&format!("fixtures/cargo/{file}"));
        let inv = collect_named(&path);
        assert!(
            inv.packages.iter().all(|p| p.found_by == "cargo-lock"),
            "{file}"
        );
        let problems = &inv.problems;
        if parse_errors.contains(file) {
            assert!(
                problems
                    .iter()
                    .any(|p| p.kind == nminus::model::ProblemKind::Malformed
                        && p.message.contains("not in the lockfile")),
                "{file}: rustsec rejects it; we must say why: {problems:?}"
            );
            continue;
        }
        assert!(problems.is_empty(), "{file}: {problems:?}");
        let findings = match_inventory(&inventory(inv.packages), &idx);
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

/// `nminus scan` with every reference lockfile passed by its own path: one node per file, each
/// with rustsec's package count and (advisory, package, version) set; the files rustsec rejects
/// are problems that fail the scan, and nothing is skipped.
#[test]
fn scan_reads_every_named_lockfile_by_its_own_name() {
    let (want, parse_errors, _) = rustsec_reference();
    let tsv = fs_err::read_to_string(shared_data("fixtures/cargo/rustsec-reference-results.tsv"))
        .unwrap();
    let counts: std::collections::BTreeMap<&str, &str> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .map(|f| (f[0], f[4]))
        .collect();
    let cache = tempfile::tempdir().unwrap();
    let scan = |files: &[&String]| {
        let mut cmd = nminus();
        cmd.args([
            "scan",
            "--feed",
            "rustsec",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(cache.path())
        .arg("--data")
        .arg(shared_data(""));
        for f in files {
            cmd.arg(shared_data(&format!("fixtures/cargo/{f}")));
        }
        let o = cmd.output().unwrap();
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
        });
        (o.status.code(), r)
    };
    let node_of = |f: &str| {
        shared_data(&format!("fixtures/cargo/{f}"))
            .display()
            .to_string()
    };
    // The files rustsec reads: exit 1 (vulnerabilities), no problem at all.
    let good: Vec<&String> = want.keys().filter(|f| !parse_errors.contains(*f)).collect();
    let (code, r) = scan(&good);
    assert_eq!(code, Some(1), "{:#}", r["problems"]);
    assert_eq!(
        r["problems"].as_array().unwrap().len(),
        0,
        "{:#}",
        r["problems"]
    );
    let nodes = r["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), good.len());
    for f in &good {
        let node = node_of(f);
        let n = nodes
            .iter()
            .find(|n| n["id"] == node.as_str())
            .unwrap_or_else(|| panic!("{f} was not scanned"));
        assert_eq!(n["packages"].to_string(), counts[f.as_str()], "{f}");
        let got: BTreeSet<(String, String, String)> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["node"] == node.as_str() && x["code"] == "vulnerable")
            .map(|x| {
                let s = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
                (
                    s(&x["advisory"]["id"]),
                    s(&x["subject"]["name"]),
                    s(&x["subject"]["version"]),
                )
            })
            .collect();
        assert_eq!(&got, &want[f.as_str()], "{f}");
    }
    // The files rustsec rejects: read (not skipped), their dangling dependency a problem, exit 2.
    let bad: Vec<&String> = parse_errors.iter().collect();
    assert!(!bad.is_empty());
    let (code, r) = scan(&bad);
    assert_eq!(code, Some(2));
    let problems = r["problems"].as_array().unwrap();
    for f in &bad {
        let node = node_of(f);
        assert!(
            problems.iter().any(|p| p["kind"] == "malformed"
                // Report problems are located `node:path`; a lockfile target is its own node, named once.
                && p["location"]["path"] == node.as_str()
                && p["message"]
                    .as_str()
                    .unwrap()
                    .contains("not in the lockfile")),
            "{f}: {problems:#?}"
        );
    }
    assert!(problems.iter().all(|p| p["kind"] != "skipped"));
}

/// A named file that is no lockfile nminus can read fails the scan (exit 2), and the message
/// names the file, the formats tried and how to name it, even when the rest scanned cleanly.
#[test]
fn scan_fails_on_an_unrecognisable_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("x.lock");
    fs_err::write(&odd, "this is a note, not a lockfile\n").unwrap();
    let clean = shared_data("fixtures/cargo/rustsec/cargo-audit-support/no_vulns/Cargo.lock");
    let o = nminus()
        .args([
            "scan",
            "--feed",
            "rustsec",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(dir.path().join("cache"))
        .arg("--data")
        .arg(shared_data(""))
        .arg(&clean)
        .arg(&odd)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = r["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    let msg = p["message"].as_str().unwrap();
    assert_ne!(p["kind"], "skipped");
    let path = odd.display().to_string();
    // A lockfile scanned alone is its own node: its path is named once.
    assert_eq!(p["location"]["path"], path.as_str());
    assert!(msg.contains(&path), "{msg}");
    for format in [
        "Cargo.lock",
        "poetry.lock",
        "uv.lock",
        "Pipfile.lock",
        "requirements",
    ] {
        assert!(msg.contains(format), "{format}: {msg}");
    }
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
/// `packaging` over the OSSA specifier strings nminus loaded, with OpenStack's numbering eras:
/// a bound of the date era (`<=2014.2.3`) is compared era first with a semantic version, and
/// `packaging` decides within one era (before the eras, OSSA-2015-021, OSSA-2016-001 and
/// OSSA-2016-007 matched nova 29.0.0 here, and the test agreed).
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
def era(x):
    return 0 if 2010 <= x.release[0] <= 2015 else 1
def holds(spec, v):
    b = Version(spec.version)
    if era(b) == era(v):
        return spec.contains(v, prereleases=True)
    if spec.operator in ("<", "<="):
        return era(v) < era(b)
    if spec.operator in (">", ">="):
        return era(v) > era(b)
    return spec.operator == "!="
for line in sys.stdin:
    i, spec = line.rstrip("\n").split("\t")
    for alt in spec.split(","):
        s = SpecifierSet(",".join(alt.split()))
        if all(holds(x, v) for x in s):
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
    assert!(!ours.contains("OSSA-2015-021"), "{ours:?}");
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

/// A configured feed that is not there leaves the packages it covers unjudged: the scan is
/// incomplete (exit 2) and says which feed and how many packages, but only for nodes that have
/// such packages; leaving the feed out on purpose (`--feed`) is not an error.
#[test]
fn a_missing_feed_leaves_what_it_covers_unjudged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs_err::create_dir_all(&data).unwrap();
    // Only RustSec is there (pypa, ossa and the distro feeds are configured but missing).
    std::os::unix::fs::symlink(
        shared_data("rustsec-advisory-db"),
        data.join("rustsec-advisory-db"),
    )
    .unwrap();
    let lock = dir.path().join("Cargo.lock");
    fs_err::copy(
        shared_data("fixtures/cargo/trivy/trivy-ci-test/Cargo.lock"),
        &lock,
    )
    .unwrap();
    let req = dir.path().join("requirements.txt");
    fs_err::write(&req, "flask==0.10\n").unwrap();
    let scan = |extra: &[&str], target: &std::path::Path| {
        let o = nminus()
            .args(["scan", "--format", "json", "--data"])
            .arg(&data)
            .args(extra)
            .arg(target)
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        (o.status.code(), r)
    };
    // Crates: RustSec judges them; the missing feeds cover none of them.
    let (code, r) = scan(&[], &lock);
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["not_judged"].as_array().map_or(0, Vec::len), 0, "{r}");
    // A Python requirement: pypa (which covers pypi) is missing → incomplete, named.
    let (code, r) = scan(&[], &req);
    assert_eq!(code, Some(2), "{r}");
    let notes: Vec<&str> = r["not_judged"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("`pypa`") && n.contains("1 package(s)")),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.contains("`debian-tracker`")),
        "{notes:?}"
    );
    // Left out on purpose.
    let (code, r) = scan(&["--feed", "rustsec"], &req);
    assert_eq!(code, Some(0), "{r}");
}

/// The project's OpenStack-truth nodes (`fixtures/roots/openstack-truth`, real releases, roots
/// without `/etc/hostname`) scanned together: each root is its own node named after its
/// directory, findings stay with their node, date-era advisories leave current releases alone,
/// deliverables named by `pypi-name` / `tarball-base`, independents and libraries of series
/// before zed are recognised, dev builds map to their base, and a version in no deliverable
/// file is said to be unknown.
#[test]
fn openstack_truth_nodes_scan_as_three_nodes_with_their_own_findings() {
    let fx =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/roots/openstack-truth");
    let o = nminus()
        .args([
            "scan",
            "--as-of",
            "2026-09-01",
            "--format",
            "json",
            "--data",
        ])
        .arg(shared_data(""))
        .arg(fx.join("ctl-gazpacho"))
        .arg(fx.join("ctl-caracal"))
        .arg(fx.join("cmp-dev"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes: Vec<&str> = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["ctl-gazpacho", "ctl-caracal", "cmp-dev"]);
    let of = |node: &str| -> Vec<(String, String, String, String)> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["node"] == node)
            .map(|f| {
                (
                    f["code"].as_str().unwrap().to_owned(),
                    f["subject"]["name"].as_str().unwrap().to_owned(),
                    f["advisory"]["id"].as_str().unwrap_or("").to_owned(),
                    f["evidence"]["matched"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    // A current gazpacho controller: the one real unfixed advisory of the data (ironic 35.0.1,
    // fixed in 35.0.2, a release newer than the snapshot), nothing from 2012-2016.
    let gz = of("ctl-gazpacho");
    let vulns: Vec<_> = gz.iter().filter(|f| f.0 == "vulnerable").collect();
    assert_eq!(vulns.len(), 1, "{gz:#?}");
    assert_eq!(
        (vulns[0].1.as_str(), vulns[0].2.as_str()),
        ("ironic", "OSSA-2026-012")
    );
    assert!(vulns[0].3.ends_with(">=33.0.0 <35.0.2"), "{}", vulns[0].3);
    assert!(
        !gz.iter().any(|f| f.0.starts_with("series-")),
        "every deliverable is recognised and current: {gz:#?}"
    );
    // Libraries from series before zed, pinned by the 2024.1 constraints.
    let cc = of("ctl-caracal");
    assert!(
        cc.iter().any(|f| f.0 == "series-eol"
            && f.1 == "pycadf"
            && f.3.contains("deliverables/victoria/pycadf.yaml")),
        "{cc:#?}"
    );
    assert!(
        cc.iter()
            .any(|f| f.1 == "automaton" && f.0.starts_with("series-")),
        "{cc:#?}"
    );
    assert!(cc.iter().any(|f| f.1 == "keystoneauth"), "{cc:#?}");
    let ossa: Vec<&str> = cc
        .iter()
        .filter(|f| f.0 == "vulnerable")
        .map(|f| f.2.as_str())
        .collect();
    assert_eq!(ossa, ["OSSA-2024-001", "OSSA-2024-002", "OSSA-2026-002"]);
    // A dev build and a version of no release.
    let dev = of("cmp-dev");
    assert!(
        dev.iter().any(|f| f.1 == "nova"
            && f.3
                .contains("unreleased build based on 31.0.0, +12 commits")),
        "{dev:#?}"
    );
    assert!(
        dev.iter()
            .any(|f| f.0 == "series-unknown" && f.1 == "keystone"),
        "{dev:#?}"
    );
    assert!(
        !dev.iter().any(|f| f.1 == "keystone" && f.0 == "vulnerable"),
        "{dev:#?}"
    );

    // The currency view: every deliverable of every node, compliant or not.
    let row = |node: &str, d: &str| -> serde_json::Value {
        r["openstack"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["node"] == node && x["deliverable"] == d)
            .unwrap_or_else(|| panic!("no {d} on {node}: {}", r["openstack"]))
            .clone()
    };
    assert_eq!(r["openstack"].as_array().unwrap().len(), 18 + 4 + 2);
    let nova = row("ctl-gazpacho", "nova");
    assert_eq!(
        (
            &nova["series"],
            &nova["release_id"],
            &nova["lag"],
            &nova["behind"]
        ),
        (&json!("gazpacho"), &json!("2026.1"), &json!(0), &json!(0))
    );
    assert_eq!(nova["newest_in_series"], "33.0.2");
    assert_eq!(nova["release_model"], "cycle-with-rc");
    let ka = row("ctl-gazpacho", "keystoneauth");
    assert_eq!(
        (&ka["package"], &ka["series"]),
        (&json!("keystoneauth1"), &json!("gazpacho"))
    );
    let pbr = row("ctl-gazpacho", "pbr");
    assert_eq!(
        (&pbr["independent"], &pbr["series"]),
        (&json!(true), &json!("independent"))
    );
    assert!(pbr.get("lag").is_none());
    let old = row("ctl-caracal", "nova");
    assert_eq!(
        (&old["lag"], &old["newest_in_series"]),
        (&json!(4), &json!("29.4.0"))
    );
    assert!(old["behind"].as_u64().unwrap() > 3);
    let dev_nova = row("cmp-dev", "nova");
    assert_eq!(
        (&dev_nova["based_on"], &dev_nova["commits_after"]),
        (&json!("31.0.0"), &json!(12))
    );
    assert!(row("cmp-dev", "keystone").get("series").is_none());

    // `--feed ossa` picks the advisory feed; the release data stays, and what the operator
    // leaves out on purpose (`--feed ossa --feed openstack-releases`: no upper-constraints) is
    // not an incomplete scan.
    for feeds in [&["ossa"][..], &["ossa", "openstack-releases"][..]] {
        let mut cmd = nminus();
        cmd.args([
            "scan",
            "--as-of",
            "2026-09-01",
            "--format",
            "json",
            "--data",
        ])
        .arg(shared_data(""));
        for f in feeds {
            cmd.args(["--feed", f]);
        }
        let o = cmd.arg(fx.join("ctl-caracal")).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{feeds:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            r.get("not_judged").is_none(),
            "{feeds:?}: {}",
            r["not_judged"]
        );
        assert_eq!(r["openstack"].as_array().unwrap().len(), 4, "{feeds:?}");
        assert!(r["summary"]["by_code"]["series-eol"].as_u64().unwrap() > 0);
    }

    // Two roots that would be the same node: an error naming both, never one merged node.
    let tmp = tempfile::tempdir().unwrap();
    for site in ["a", "b"] {
        fs_err::create_dir_all(tmp.path().join(site).join("ctl/etc")).unwrap();
        fs_err::write(tmp.path().join(site).join("ctl/etc/hostname"), "ctl\n").unwrap();
    }
    let o = nminus()
        .args(["scan", "--format", "json", "--data"])
        .arg(shared_data(""))
        .arg(tmp.path().join("a/ctl"))
        .arg(tmp.path().join("b/ctl"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("are both node `ctl`"), "{err}");
}

/// One operator advisory for `acme-inhouse` 1.0.0 (PyPI), as `id`.
fn local_advisory(dir: &std::path::Path, id: &str) {
    fs_err::create_dir_all(dir).unwrap();
    fs_err::write(
        dir.join(format!("{id}.json")),
        json!({
            "schema_version": "1.6.0",
            "id": id,
            "modified": "2026-11-24T00:00:00Z",
            "summary": "in-house plugin leaks tokens",
            "affected": [{
                "package": { "ecosystem": "PyPI", "name": "acme-inhouse" },
                "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "1.0.1" }] }]
            }]
        })
        .to_string(),
    )
    .unwrap();
}

/// `advisories/local` is read from the data directory (or `--local-advisories`,
/// `NMINUS_LOCAL_ADVISORIES`), never from the working directory: the same data gives the same
/// findings wherever the scan runs.
#[test]
fn local_advisories_come_from_the_data_directory_not_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cwd = tmp.path().join("checkout");
    local_advisory(&data.join("advisories/local"), "ACME-DATA-1");
    local_advisory(&cwd.join("advisories/local"), "ACME-CWD-1");
    let lock = tmp.path().join("requirements.txt");
    fs_err::write(&lock, "acme-inhouse==1.0.0\n").unwrap();
    let ids = |args: &[&str], env: Option<&std::path::Path>| -> Vec<String> {
        let out = tmp.path().join("r.json");
        let mut cmd = nminus();
        cmd.current_dir(&cwd)
            .args(["scan", "--no-cache", "--format", "json", "--data"])
            .arg(&data)
            .args(args)
            .arg("-o")
            .arg(&out)
            .arg(&lock)
            .env_remove("NMINUS_LOCAL_ADVISORIES");
        if let Some(e) = env {
            cmd.env("NMINUS_LOCAL_ADVISORIES", e);
        }
        let o = cmd.output().unwrap();
        // No upstream feed in this data directory: incomplete (2), the report written first.
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: serde_json::Value =
            serde_json::from_str(&fs_err::read_to_string(&out).unwrap()).unwrap();
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["advisory"]["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(ids(&[], None), ["ACME-DATA-1"]);
    let explicit = cwd.join("advisories/local");
    assert_eq!(
        ids(&["--local-advisories", explicit.to_str().unwrap()], None),
        ["ACME-CWD-1"]
    );
    assert_eq!(ids(&[], Some(&explicit)), ["ACME-CWD-1"]);
}

/// Lockfiles under tool and cache directories (`~/.pyenv`, `~/.local/share/pipx`, `~/.cache`,
/// `~/.rustup`, `~/.npm`) are the tools' own, not the node's software: the search does not
/// scan them (no packages, no "not pinned" problems), while a project's lockfile beside them is
/// read, and a tool's lockfile named explicitly is read too.
#[test]
fn lockfiles_of_tools_and_caches_are_not_the_nodes_software() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let write = |rel: &str, text: &str| {
        let p = base.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
    };
    let tools = [
        "root/.pyenv/plugins/python-build/scripts/requirements.txt",
        "home/alice/.local/share/pipx/venvs/black/requirements.txt",
        "home/alice/.cache/pip/requirements.txt",
        "root/.rustup/toolchains/stable/share/doc/Cargo.lock",
        "home/alice/.npm/_cacache/requirements.txt",
    ];
    for t in tools {
        if t.ends_with("Cargo.lock") {
            write(
                t,
                "version = 3\n\n[[package]]\nname = \"tool-crate\"\nversion = \"0.1.0\"\n",
            );
        } else {
            write(t, "tool-package==1.0.0\nrequests>=2\n");
        }
    }
    write("srv/app/requirements.txt", "flask==1.0\n");
    write(
        "home/alice/projects/site/requirements.txt",
        "django==3.2.0\n",
    );
    let inv = collect_root(&Root::new(base), &CollectOptions::default());
    let names: BTreeSet<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains("flask") && names.contains("django"),
        "{names:?}"
    );
    assert!(
        !names.contains("tool-package") && !names.contains("tool-crate"),
        "{names:?}"
    );
    for p in &inv.problems {
        assert!(
            !tools.iter().any(|t| p.location.wire_path().contains(t)),
            "a tool's lockfile became a problem: {p}"
        );
    }
    // Asked for by name, it is read.
    let named = base.join(tools[0]);
    let collectors: Vec<Box<dyn Collector>> = vec![Box::new(
        nminus::LockfileCollector::with_targets(vec![named]).with_search_roots(Vec::new()),
    )];
    let inv = collect_with(
        &Root::new("/nonexistent-nminus-root"),
        &CollectOptions::default(),
        &collectors,
    );
    assert!(
        inv.packages.iter().any(|p| p.name == "tool-package"),
        "{:?}",
        inv.packages
    );
}

/// Upstream records nminus reads around (PyPA's PEP 440-invalid versions such as `0.2.0-n653`)
/// are reported as skipped records it cannot judge, on the table and the terminal line, and
/// listed in the JSON report; never as "could not be read".
#[test]
fn handled_feed_quirks_are_reported_as_skipped_not_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join("requirements.txt");
    fs_err::write(&lock, "requests==2.31.0\n").unwrap();
    let json = tmp.path().join("r.json");
    let scan = |format: &str, out: Option<&std::path::Path>| {
        let mut cmd = nminus();
        cmd.args(["scan", "--feed", "pypa", "--no-cache", "--format", format])
            .arg("--data")
            .arg(shared_data(""))
            .arg(&lock);
        if let Some(o) = out {
            cmd.arg("-o").arg(o);
        }
        cmd.output().unwrap()
    };
    let o = scan("json", Some(&json));
    assert!(o.status.code().is_some_and(|c| c < 2), "{o:?}");
    let r: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&json).unwrap()).unwrap();
    let listed = r["feed_problems"].as_array().unwrap();
    assert!(
        !listed.is_empty() && listed.iter().all(|p| p["kind"] != "unreadable"),
        "the shared PyPA snapshot has records nminus reads around: {listed:?}"
    );
    let n = listed.len();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("skipped {n} feed records nminus cannot judge")),
        "{err}"
    );
    let o = scan("table", None);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains(&format!(
            "skipped {n} feed records nminus cannot judge: {n} with a version invalid in its scheme (`"
        )),
        "{table}"
    );
    assert!(!table.contains("could not be read"), "{table}");
}
