//! Report writers: one golden file per format for a fixed 3-site fleet
//! (`fixtures/golden/reports/three-sites.<ext>`, regenerated with `NMINUS_BLESS=1`), each checked
//! by its real validator in the same test: the JSON against `reports/schema/report-v1.json`,
//! SARIF and CycloneDX against the published schemas in `../shared/data/schemas`, JUnit with
//! `xmllint` against the Ant XSD, the HTML in headless Chromium (no console message, the summary
//! in the DOM equals the JSON, a hostile package name runs nothing). `nminus report` re-renders
//! the saved JSON into the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nminus::model::{
    report_schema, AdvisoryKind, AdvisoryRef, Ecosystem, Evidence, FeedStatus, Finding,
    FindingCode, HistoryPoint, Inventory, Location, NodeInfo, OsRelease, Package, PackageMeta,
    Problem, ProblemKind, Report, Severity, Subject, ToolInfo, WaiverRef,
};
use nminus::{build_report, Gate, GateTerm, ReportInput};
use nminus::{Format, WriterOptions};

use crate::support::{nminus, shared_data};

const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_VERSION: &str = "\"</script><script>alert(2)</script>";
const SCENARIO: &str = "three-sites";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("NMINUS_BLESS").is_some()
}

// ---------------------------------------------------------------------------------------------
// The fleet.

struct Node {
    id: &'static str,
    site: &'static str,
    cell: &'static str,
    os: (&'static str, &'static str),
    packages: Vec<Package>,
}

fn pkg(eco: Ecosystem, name: &str, version: &str, path: &str) -> Package {
    let purl = match eco {
        Ecosystem::Deb => format!("pkg:deb/debian/{name}@{version}?distro=debian-12"),
        Ecosystem::Rpm => format!("pkg:rpm/rocky/{name}@{version}?distro=rocky-9"),
        Ecosystem::Pypi => format!("pkg:pypi/{name}@{version}"),
        Ecosystem::Apk => format!("pkg:apk/alpine/{name}@{version}"),
        Ecosystem::Cargo => format!("pkg:cargo/{name}@{version}"),
    };
    Package {
        ecosystem: eco,
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        purl,
        found_by: "fixture".to_owned(),
        location: Location::path(path),
        meta: match eco {
            Ecosystem::Pypi => PackageMeta::Python {
                display_name: name.to_owned(),
                os_owner: None,
                environment: None,
            },
            _ => PackageMeta::Deb {
                arch: Some("amd64".to_owned()),
                held: false,
                maintainer: None,
            },
        },
        extra: BTreeMap::new(),
    }
}

const DPKG: &str = "/var/lib/dpkg/status";
const RPMDB: &str = "/var/lib/rpm/rpmdb.sqlite";
const VENV: &str = "/openstack/venvs/nova-29.0.0/lib/python3.11/site-packages";

fn nodes() -> Vec<Node> {
    let debian = ("debian", "Debian GNU/Linux 12 (bookworm)");
    let rocky = ("rocky", "Rocky Linux 9.4 (Blue Onyx)");
    let ubuntu = ("ubuntu", "Ubuntu 22.04.4 LTS");
    let ctl = |v: &str| {
        vec![
            pkg(Ecosystem::Deb, "openssl", "3.0.11-1~deb12u2", DPKG),
            pkg(Ecosystem::Deb, "rabbitmq-server", "3.10.8-1.1", DPKG),
            pkg(
                Ecosystem::Pypi,
                "nova",
                v,
                &format!("{VENV}/nova-{v}.dist-info/METADATA"),
            ),
            pkg(
                Ecosystem::Pypi,
                "eventlet",
                "0.35.2",
                &format!("{VENV}/eventlet-0.35.2.dist-info/METADATA"),
            ),
        ]
    };
    let cmp = |openssl: &str| {
        vec![
            pkg(Ecosystem::Deb, "openssl", openssl, DPKG),
            pkg(Ecosystem::Deb, "python3-urllib3", "1.26.12-1", DPKG),
            pkg(
                Ecosystem::Pypi,
                "nova",
                "29.1.0",
                &format!("{VENV}/nova-29.1.0.dist-info/METADATA"),
            ),
            pkg(
                Ecosystem::Pypi,
                "neutron",
                "23.0.0",
                "/openstack/venvs/neutron-23.0.0/lib/python3.11/site-packages/neutron-23.0.0.dist-info/METADATA",
            ),
        ]
    };
    let mut hostile = cmp("3.0.15-1~deb12u1");
    hostile.push(pkg(
        Ecosystem::Pypi,
        HOSTILE_NAME,
        HOSTILE_VERSION,
        "/usr/lib/python3/dist-packages/<img src=x onerror=alert(1)>.dist-info/METADATA",
    ));
    vec![
        Node {
            id: "ctl-par1-01",
            site: "par1",
            cell: "cell1",
            os: debian,
            packages: ctl("29.0.0"),
        },
        Node {
            id: "cmp-par1-01",
            site: "par1",
            cell: "cell1",
            os: debian,
            packages: cmp("3.0.15-1~deb12u1"),
        },
        Node {
            id: "cmp-par1-02",
            site: "par1",
            cell: "cell2",
            os: debian,
            packages: cmp("3.0.11-1~deb12u2"),
        },
        Node {
            id: "ctl-fra1-01",
            site: "fra1",
            cell: "cell1",
            os: debian,
            packages: ctl("29.0.0"),
        },
        Node {
            id: "cmp-fra1-01",
            site: "fra1",
            cell: "cell1",
            os: rocky,
            packages: vec![
                pkg(Ecosystem::Rpm, "openssl", "1:3.0.7-27.el9", RPMDB),
                pkg(Ecosystem::Rpm, "python3-urllib3", "1.26.5-5.el9", RPMDB),
                pkg(
                    Ecosystem::Pypi,
                    "nova",
                    "29.1.0",
                    &format!("{VENV}/nova-29.1.0.dist-info/METADATA"),
                ),
            ],
        },
        Node {
            id: "cmp-ams1-01",
            site: "ams1",
            cell: "cell1",
            os: ubuntu,
            packages: hostile,
        },
        Node {
            id: "cmp-ams1-02",
            site: "ams1",
            cell: "cell1",
            os: ubuntu,
            packages: cmp("3.0.15-1~deb12u1"),
        },
    ]
}

fn inventory(n: &Node) -> Inventory {
    Inventory {
        schema_version: 1,
        node: NodeInfo {
            id: n.id.to_owned(),
            hostname: Some(n.id.to_owned()),
            site: Some(n.site.to_owned()),
            cell: Some(n.cell.to_owned()),
            labels: BTreeMap::new(),
        },
        collected_at: "2026-11-24T05:00:00Z".to_owned(),
        agent: Default::default(),
        root: "/".to_owned(),
        os: Some(OsRelease {
            id: n.os.0.to_owned(),
            pretty_name: Some(n.os.1.to_owned()),
            source_file: "/etc/os-release".to_owned(),
            ..Default::default()
        }),
        packages: n.packages.clone(),
        images: Vec::new(),
        services: Vec::new(),
        problems: if n.id == "cmp-fra1-01" {
            vec![Problem::new(
                Location::path("/opt/tools/requirements.txt").at_line(3),
                ProblemKind::Skipped,
                "requirement `requests>=2` is not pinned: not judged",
            )]
        } else {
            Vec::new()
        },
    }
}

struct F {
    code: FindingCode,
    severity: Severity,
    node: &'static str,
    package: &'static str,
    advisory: Option<(&'static str, &'static str, &'static str)>,
    fixed: &'static [&'static str],
    message: &'static str,
    waiver: Option<(&'static str, &'static str)>,
}

fn finding(inv: &Inventory, f: &F) -> Finding {
    let p = inv
        .packages
        .iter()
        .find(|p| p.name == f.package)
        .unwrap_or_else(|| panic!("fixture: {} has no package {}", f.node, f.package));
    let eco = match (f.code, p.ecosystem) {
        (FindingCode::SeriesBehind | FindingCode::PatchBehind, Ecosystem::Pypi) => "openstack",
        (_, e) => e.as_str(),
    };
    let mut out = Finding {
        code: f.code,
        severity: f.severity,
        node: f.node.to_owned(),
        subject: Subject {
            ecosystem: nminus::model::SubjectEcosystem::from_name(eco),
            name: p.name.clone(),
            version: p.version.clone(),
            purl: Some(p.purl.clone()),
            location: Some(p.location.clone()),
        },
        advisory: f.advisory.map(|(id, alias, summary)| AdvisoryRef {
            id: id.to_owned(),
            aliases: if alias.is_empty() {
                Vec::new()
            } else {
                vec![alias.to_owned()]
            },
            sources: vec![if id.starts_with("OSSA") {
                "ossa".to_owned()
            } else if id.starts_with("DSA") {
                "debian-security".to_owned()
            } else {
                "osv-pypi".to_owned()
            }],
            kind: if f.code == FindingCode::AdvisoryNotice {
                AdvisoryKind::Unmaintained
            } else {
                AdvisoryKind::Vulnerability
            },
            summary: summary.to_owned(),
            url: Some(format!("https://advisories.example.org/{id}")),
        }),
        fixed_in: f.fixed.iter().map(|s| (*s).to_owned()).collect(),
        evidence: Evidence {
            searched: format!("{} {} {}", eco, p.name, p.version),
            matched: f.advisory.map(|a| a.0.to_owned()).unwrap_or_default(),
            message: f.message.to_owned(),
        },
        waived_by: f.waiver.map(|(id, reason)| WaiverRef {
            id: id.to_owned(),
            reason: reason.to_owned(),
            owner: "ops-par1".to_owned(),
            expires: "2027-01-31".to_owned(),
        }),
        fingerprint: String::new(),
    };
    out.fingerprint = out.compute_fingerprint();
    out
}

fn findings() -> Vec<F> {
    use FindingCode::{
        AdvisoryNotice, EolSoon, PatchBehind, SeriesBehind, VersionUnparseable, Vulnerable,
    };
    use Severity::{Critical, High, Low, Medium, Unknown};
    let openssl = Some((
        "DSA-9001-1",
        "CVE-2026-10001",
        "openssl: buffer over-read in X.509 name constraint checking",
    ));
    let nova = Some((
        "OSSA-2026-004",
        "CVE-2026-20004",
        "Nova: unauthorised access to instance console logs",
    ));
    vec![
        F {
            code: Vulnerable,
            severity: Critical,
            node: "ctl-par1-01",
            package: "openssl",
            advisory: openssl,
            fixed: &["3.0.15-1~deb12u1"],
            message: "openssl 3.0.11-1~deb12u2 is below the fixed 3.0.15-1~deb12u1 (Debian 12)",
            waiver: None,
        },
        F {
            code: Vulnerable,
            severity: High,
            node: "ctl-par1-01",
            package: "nova",
            advisory: nova,
            fixed: &["29.2.1"],
            message: "nova 29.0.0 is in >=29.0.0 <29.2.1",
            waiver: None,
        },
        F {
            code: AdvisoryNotice,
            severity: Severity::None,
            node: "ctl-par1-01",
            package: "eventlet",
            advisory: Some(("PYSEC-2026-77", "", "eventlet is unmaintained")),
            fixed: &[],
            message: "eventlet is no longer maintained upstream",
            waiver: None,
        },
        F {
            code: Vulnerable,
            severity: High,
            node: "ctl-fra1-01",
            package: "nova",
            advisory: nova,
            fixed: &["29.2.1"],
            message: "nova 29.0.0 is in >=29.0.0 <29.2.1",
            waiver: None,
        },
        F {
            code: Vulnerable,
            severity: Medium,
            node: "cmp-par1-01",
            package: "python3-urllib3",
            advisory: Some((
                "DSA-9002-1",
                "CVE-2026-10002",
                "urllib3: proxy credentials leaked on cross-origin redirect",
            )),
            fixed: &["1.26.12-1+deb12u1"],
            message: "python3-urllib3 1.26.12-1 is below the fixed 1.26.12-1+deb12u1",
            waiver: None,
        },
        F {
            code: PatchBehind,
            severity: Low,
            node: "cmp-par1-01",
            package: "nova",
            advisory: None,
            fixed: &["29.2.1"],
            message: "nova 29.1.0: 29.2.1 is the latest release of 2024.1 (caracal)",
            waiver: None,
        },
        F {
            code: SeriesBehind,
            severity: Medium,
            node: "cmp-par1-02",
            package: "neutron",
            advisory: None,
            fixed: &["25.0.0"],
            message: "neutron 23.0.0 is on 2023.2 (bobcat): the policy allows 2024.2 (dalmatian) and 2024.1 (caracal)",
            waiver: None,
        },
        F {
            code: Vulnerable,
            severity: High,
            node: "cmp-par1-02",
            package: "openssl",
            advisory: openssl,
            fixed: &["3.0.15-1~deb12u1"],
            message: "openssl 3.0.11-1~deb12u2 is below the fixed 3.0.15-1~deb12u1 (Debian 12)",
            waiver: Some((
                "W-2026-007",
                "requires_configuration: name constraints are not used by any certificate on this cell",
            )),
        },
        F {
            code: Vulnerable,
            severity: Unknown,
            node: "cmp-fra1-01",
            package: "python3-urllib3",
            advisory: Some(("RLSA-2026:1234", "CVE-2026-10002", "urllib3 security update")),
            fixed: &["1.26.5-6.el9"],
            message: "python3-urllib3 1.26.5-5.el9 is below the fixed 1.26.5-6.el9",
            waiver: None,
        },
        F {
            code: EolSoon,
            severity: Low,
            node: "cmp-fra1-01",
            package: "openssl",
            advisory: None,
            fixed: &[],
            message: "openssl 3.0 reaches end of life on 2026-09-07 (within 90 days of the policy look-ahead)",
            waiver: None,
        },
        F {
            code: VersionUnparseable,
            severity: Unknown,
            node: "cmp-ams1-01",
            package: HOSTILE_NAME,
            advisory: None,
            fixed: &[],
            message: "version `\"</script><script>alert(2)</script>` of <img src=x onerror=alert(1)> is not valid PEP 440",
            waiver: None,
        },
    ]
}

/// The 3-site fleet, judged with the gate `high`, at a fixed clock.
fn fleet() -> Report {
    let ns = nodes();
    let invs: Vec<Inventory> = ns.iter().map(inventory).collect();
    let fs = findings();
    let judged: Vec<(&Inventory, Vec<Finding>)> = invs
        .iter()
        .map(|inv| {
            let mine: Vec<Finding> = fs
                .iter()
                .filter(|f| f.node == inv.node.id)
                .map(|f| finding(inv, f))
                .collect();
            (inv, mine)
        })
        .collect();
    let gate = Gate(vec![GateTerm::Severity(Severity::High)]);
    let mut r = build_report(ReportInput {
        nodes: judged,
        feeds: vec![
            FeedStatus {
                name: "debian-security".to_owned(),
                kind: "osv".to_owned(),
                loaded: true,
                advisories: 4521,
                note: None,
            },
            FeedStatus {
                name: "ossa".to_owned(),
                kind: "ossa".to_owned(),
                loaded: true,
                advisories: 118,
                note: None,
            },
            FeedStatus {
                name: "osv-pypi".to_owned(),
                kind: "osv".to_owned(),
                loaded: true,
                advisories: 16233,
                note: Some("synced 2026-11-23".to_owned()),
            },
        ],
        problems: Vec::new(),
        feed_problems: Vec::new(),
        gate: &gate,
        generated_at: "2026-11-24T06:00:00Z".to_owned(),
        as_of: "2026-11-24".to_owned(),
        not_judged: Vec::new(),
    });
    r.tool = ToolInfo {
        name: "nminus".to_owned(),
        version: "0.0.0-golden".to_owned(),
    };
    r.history = vec![
        HistoryPoint {
            date: "2026-08-24".to_owned(),
            nodes: 7,
            compliant_nodes: 2,
            findings: 19,
        },
        HistoryPoint {
            date: "2026-09-24".to_owned(),
            nodes: 7,
            compliant_nodes: 3,
            findings: 15,
        },
        HistoryPoint {
            date: "2026-10-24".to_owned(),
            nodes: 7,
            compliant_nodes: 4,
            findings: 12,
        },
    ];
    r
}

// ---------------------------------------------------------------------------------------------
// Goldens and validators.

fn render(r: &Report, f: Format) -> Vec<u8> {
    let mut buf = Vec::new();
    f.writer(WriterOptions {
        color: false,
        width: 120,
        template: None,
    })
    .write(r, &mut buf)
    .unwrap_or_else(|e| panic!("{f:?}: {e}"));
    buf
}

fn golden_path(f: Format) -> PathBuf {
    manifest()
        .join("fixtures/golden/reports")
        .join(format!("{SCENARIO}.{}", f.extension()))
}

/// Compare `have` with the golden of `f` (write it first under `NMINUS_BLESS`); return its path.
fn check_golden(f: Format, have: &[u8]) -> PathBuf {
    check_golden_file(golden_path(f), have)
}

/// Compare `have` with the golden file `path` (write it first under `NMINUS_BLESS`).
fn check_golden_file(path: PathBuf, have: &[u8]) -> PathBuf {
    if bless() {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, have).unwrap();
    }
    let want = fs_err::read(&path).unwrap_or_default();
    if want != have {
        let (w, h) = (
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(have),
        );
        let line = w
            .lines()
            .zip(h.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| w.lines().count().min(h.lines().count()));
        panic!(
            "{} differs from the writer's output (first difference at line {}):\n  golden: {:?}\n  now:    {:?}\nregenerate with NMINUS_BLESS=1 cargo test --test it reports",
            path.display(),
            line + 1,
            w.lines().nth(line).unwrap_or("<end>"),
            h.lines().nth(line).unwrap_or("<end>"),
        );
    }
    path
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&fs_err::read_to_string(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn validate_json(what: &str, schema: &serde_json::Value, docs: &[&Path], doc: &serde_json::Value) {
    let msgs = schema_errors(what, schema, docs, doc);
    assert!(
        msgs.is_empty(),
        "{what} does not match its schema: {msgs:#?}"
    );
}

/// The validator is not vacuous: `doc` with `change` applied must be rejected.
fn assert_rejected(
    what: &str,
    schema: &serde_json::Value,
    docs: &[&Path],
    doc: &serde_json::Value,
    change: impl FnOnce(&mut serde_json::Value),
) {
    let mut bad = doc.clone();
    change(&mut bad);
    assert!(
        !schema_errors(what, schema, docs, &bad).is_empty(),
        "{what}: the schema accepts a broken document"
    );
}

fn schema_errors(
    what: &str,
    schema: &serde_json::Value,
    docs: &[&Path],
    doc: &serde_json::Value,
) -> Vec<String> {
    let mut opts = jsonschema::JSONSchema::options();
    opts.should_validate_formats(true);
    for d in docs {
        let v = read_json(d);
        let id = v["$id"].as_str().expect("schema has an $id").to_owned();
        opts.with_document(id, v);
    }
    let compiled = opts
        .compile(schema)
        .unwrap_or_else(|e| panic!("{what}: schema does not compile: {e}"));
    let msgs: Vec<String> = match compiled.validate(doc) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .map(|e| format!("{e} at {}", e.instance_path))
            .take(20)
            .collect(),
    };
    msgs
}

#[test]
fn report_schema_is_published_and_current() {
    let path = manifest().join("reports/schema/report-v1.json");
    let want = serde_json::to_string_pretty(&report_schema()).unwrap() + "\n";
    if bless() {
        fs_err::write(&path, &want).unwrap();
    }
    let have = fs_err::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        have, want,
        "reports/schema/report-v1.json drifted from the types: NMINUS_BLESS=1 cargo test report_schema"
    );
}

#[test]
fn golden_json_matches_the_published_schema() {
    let r = fleet();
    let out = render(&r, Format::Json);
    let path = check_golden(Format::Json, &out);
    let doc = read_json(&path);
    let schema = read_json(&manifest().join("reports/schema/report-v1.json"));
    validate_json("the JSON report", &schema, &[], &doc);
    assert_rejected("the JSON report", &schema, &[], &doc, |d| {
        d["findings"][0]["severity"] = "catastrophic".into();
    });
    let back: Report = serde_json::from_value(doc).unwrap();
    assert_eq!(back, r, "the JSON report must read back as the same report");
    assert!(!back.inventory.is_empty() && back.history.len() == 3);
}

#[test]
fn golden_table() {
    let out = render(&fleet(), Format::Table);
    check_golden(Format::Table, &out);
    let text = String::from_utf8(out).unwrap();
    // Its one problem is an item skipped on purpose (an unpinned requirement): complete.
    assert!(text.starts_with("NOT COMPLIANT  7 nodes"));
    // A file that could not be read, or missing data, makes the verdict say it covers only
    // what was judged.
    let mut r = fleet();
    r.problems[0].problem.kind = nminus::model::ProblemKind::Unreadable;
    let text = String::from_utf8(render(&r, Format::Table)).unwrap();
    assert!(
        text.starts_with("NOT COMPLIANT (INCOMPLETE)  7 nodes"),
        "{text}"
    );
    let mut r = fleet();
    r.not_judged
        .push("no endoflife.date data: lifecycles were not judged".into());
    let text = String::from_utf8(render(&r, Format::Table)).unwrap();
    assert!(
        text.starts_with("NOT COMPLIANT (INCOMPLETE)  7 nodes"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not asked");
    // The policy's own findings (no node) are counted, so they are listed.
    let mut r = fleet();
    let mut w = r.findings[0].clone();
    w.node = "policy".into();
    w.code = FindingCode::WaiverUnused;
    w.evidence.message = "waiver W-9 matched no finding".into();
    r.findings.push(w);
    let text = String::from_utf8(render(&r, Format::Table)).unwrap();
    assert!(
        text.contains("policy (1):") && text.contains("waiver-unused") && text.contains("W-9"),
        "{text}"
    );
    // Nothing fails what could be judged, but something was not judged: one story in every
    // format — INCOMPLETE, never NOT COMPLIANT above compliant nodes, and the reason on top.
    let mut r = fleet();
    r.findings.clear();
    for n in &mut r.nodes {
        n.compliant = true;
        n.findings = 0;
    }
    r.summary.compliant = false;
    r.not_judged
        .push("no advisory feed could be loaded: vulnerabilities were not judged".into());
    assert_eq!(r.verdict(), nminus::model::Verdict::Incomplete);
    let text = String::from_utf8(render(&r, Format::Table)).unwrap();
    assert!(text.starts_with("INCOMPLETE  7 nodes"), "{text}");
    assert!(
        !text.contains("[ok]") && text.contains("[incomplete]"),
        "{text}"
    );
    let html = String::from_utf8(render(&r, Format::Html)).unwrap();
    assert!(html.contains(">INCOMPLETE</span>"), "verdict badge");
    assert!(!html.contains("NOT COMPLIANT"));
    assert!(
        html.contains("<li>no advisory feed could be loaded: vulnerabilities were not judged</li>")
    );
}

/// Rank of a severity word in the table, most severe first.
fn severity_rank(word: &str) -> Option<usize> {
    ["critical", "high", "medium", "low", "unknown", "none"]
        .iter()
        .position(|w| *w == word)
}

/// The table at 80 and 200 columns (`three-sites.80.txt`, `three-sites.200.txt`): every line
/// within the width, every finding the summary counts listed once (node findings under their
/// node, the policy's own under `policy`, waived ones under `waived`), each node's rows most
/// severe first then by package, every version whole, and the WHERE column telling the Python
/// environments apart.
#[test]
fn golden_table_at_80_and_200_columns() {
    let mut r = fleet();
    // A policy finding (no node): counted in the summary, so listed.
    let mut unused = r.findings[0].clone();
    unused.code = FindingCode::WaiverUnused;
    unused.severity = Severity::Low;
    unused.node = "policy".to_owned();
    unused.advisory = None;
    unused.evidence.message =
        "waiver W-2026-011 (owner ops-fra1) matched no finding: remove it or correct its selector"
            .to_owned();
    r.findings.push(unused);
    r.summary.findings += 1;
    for width in [80usize, 200] {
        let mut buf = Vec::new();
        Format::Table
            .writer(WriterOptions {
                color: false,
                width,
                template: None,
            })
            .write(&r, &mut buf)
            .unwrap();
        check_golden_file(
            manifest().join(format!("fixtures/golden/reports/{SCENARIO}.{width}.txt")),
            &buf,
        );
        let text = String::from_utf8(buf).unwrap();
        // The findings tables keep to the width (the summary line and problems are whole).
        let tables: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("  cmp-fra1-01:/opt"))
            .collect();
        for l in &tables {
            assert!(l.chars().count() <= width, "{width}: {l:?} is too wide");
        }
        // Complete: one row per finding, rows start with their severity.
        let rows: Vec<(usize, &str)> = text
            .lines()
            .filter_map(|l| {
                // A row starts at the third column with its severity; continuation lines,
                // WHERE headings and details under a row do not.
                let w = l.strip_prefix("  ")?.split(' ').next()?;
                Some((severity_rank(w)?, l))
            })
            .collect();
        let waived = text.split("\nwaived (").nth(1).map_or(0, |w| {
            w.lines()
                .skip(1)
                .take_while(|l| l.starts_with("  cmp"))
                .count()
        });
        assert_eq!(rows.len(), r.summary.findings, "{width}: {text}");
        assert_eq!(waived, r.summary.waived, "{width}: {text}");
        assert!(
            text.contains("\npolicy (1):\n  low       waiver-unused"),
            "{text}"
        );
        // Sorted within each node: severity, then package.
        for block in text.split("\nnode ") {
            let mut last: Option<(usize, String)> = None;
            for l in block.lines() {
                let mut words = l.split_whitespace();
                let (Some(sev), Some(pkg)) = (words.next(), words.next()) else {
                    continue;
                };
                let Some(rank) = severity_rank(sev).filter(|_| l.starts_with("  ")) else {
                    continue;
                };
                let key = (rank, pkg.to_owned());
                if let Some(prev) = &last {
                    assert!(*prev <= key, "{width}: {l:?} after {prev:?}");
                }
                last = Some(key);
            }
        }
        // Whole versions, and the environment each Python package is in.
        for f in &r.findings {
            if f.subject.version.len() < 24 {
                assert!(
                    text.contains(&f.subject.version),
                    "{width}: {}",
                    f.subject.version
                );
            }
        }
        assert!(
            text.contains("nova-29.0.0/…/site-packages")
                || text.contains("nova-29.0.0/lib/python3.11/site-packages"),
            "{width}: {text}"
        );
        assert!(text.contains("neutron-23.0.0/"), "{width}: {text}");
    }
}

fn render_at(r: &Report, width: usize) -> String {
    let mut buf = Vec::new();
    Format::Table
        .writer(WriterOptions {
            color: false,
            width,
            template: None,
        })
        .write(r, &mut buf)
        .unwrap();
    String::from_utf8(buf).unwrap()
}

/// The table asks the terminal for its width (`TIOCGWINSZ`, on a real pseudo-terminal from
/// util-linux `script`) before `COLUMNS`, through a pipe too (the terminal on standard error),
/// and takes `COLUMNS`, else 100, when there is no terminal.
#[test]
fn table_fits_the_terminal_it_is_printed_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.json");
    fs_err::write(&input, render(&fleet(), Format::Json)).unwrap();
    let report = format!(
        "'{}' report --input '{}' --format table",
        env!("CARGO_BIN_EXE_nminus"),
        input.display()
    );
    let want = render_at(&fleet(), 90);
    for cmd in [report.clone(), format!("{report} | cat")] {
        let o = Command::new("script")
            .args(["-qec", &format!("stty cols 90 rows 40; {cmd}"), "/dev/null"])
            .env("COLUMNS", "200")
            .env("NO_COLOR", "1")
            .env_remove("NMINUS_BLESS")
            .output()
            .expect("util-linux `script`");
        let have = String::from_utf8_lossy(&o.stdout).replace("\r\n", "\n");
        assert_eq!(
            have, want,
            "{cmd}: the table is not laid out for the terminal's 90 columns"
        );
    }
    for (columns, width) in [(Some("77"), 77), (None, 100)] {
        let mut cmd = nminus();
        cmd.args(["report", "--format", "table", "--input"])
            .arg(&input);
        match columns {
            Some(c) => cmd.env("COLUMNS", c),
            None => cmd.env_remove("COLUMNS"),
        };
        let o = cmd.output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            render_at(&fleet(), width),
            "COLUMNS={columns:?}"
        );
    }
}

/// The fleet with nothing failing what was judged, but no advisory feed: INCOMPLETE.
fn incomplete_fleet() -> Report {
    let mut r = fleet();
    r.findings.clear();
    for n in &mut r.nodes {
        n.compliant = true;
        n.findings = 0;
    }
    r.summary.compliant = false;
    r.not_judged.push(
        "no advisory feed could be loaded: vulnerabilities were not judged. Run `nminus sync`"
            .into(),
    );
    r
}

/// Markdown, JUnit and SARIF state the one verdict (`Report::verdict`) and its reasons: an
/// incomplete report never reads as compliant, a failing one that is also incomplete says both.
#[test]
fn incomplete_reports_say_so_in_markdown_junit_and_sarif() {
    let reason = "no advisory feed could be loaded: vulnerabilities were not judged";
    let r = incomplete_fleet();
    assert_eq!(r.verdict(), nminus::model::Verdict::Incomplete);

    let md = String::from_utf8(render(&r, Format::Markdown)).unwrap();
    let first = md.lines().next().unwrap();
    assert_eq!(first, "## nminus: ⚠️ INCOMPLETE as of 2026-11-24", "{md}");
    // The reason right under the verdict, before anything else.
    assert!(
        md.lines()
            .nth(2)
            .unwrap()
            .starts_with("> **Not judged:** no advisory feed"),
        "{md}"
    );
    assert!(
        !md.contains("✅") && !md.to_lowercase().contains("| compliant |"),
        "{md}"
    );
    assert!(md.contains("| nodes | passing what was judged |"), "{md}");

    let junit = String::from_utf8(render(&r, Format::Junit)).unwrap();
    assert!(junit.contains("<property name=\"verdict\" value=\"INCOMPLETE\"/>"));
    assert!(
        junit.contains(&format!(
            "<error type=\"incomplete\" message=\"INCOMPLETE: the scan could not judge everything: {reason}"
        )),
        "{junit}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("incomplete.xml");
    fs_err::write(&path, &junit).unwrap();
    let o = Command::new(xmllint())
        .arg("--schema")
        .arg(shared_data("schemas/junit/JUnit.xsd"))
        .arg("--noout")
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let sarif: serde_json::Value = serde_json::from_slice(&render(&r, Format::Sarif)).unwrap();
    let schema = read_json(&shared_data("schemas/sarif/sarif-schema-2.1.0.json"));
    validate_json("the incomplete SARIF report", &schema, &[], &sarif);
    let props = &sarif["runs"][0]["properties"];
    assert_eq!(props["verdict"], "INCOMPLETE");
    assert_eq!(props["compliant"], false);
    assert!(props["incompleteReasons"][0]
        .as_str()
        .unwrap()
        .starts_with(reason));
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );

    // Failing and incomplete: both, in every format.
    let mut r = fleet();
    r.problems[0].problem.kind = ProblemKind::Unreadable;
    assert_eq!(r.verdict(), nminus::model::Verdict::NotCompliantIncomplete);
    let md = String::from_utf8(render(&r, Format::Markdown)).unwrap();
    assert!(
        md.starts_with("## nminus: ❌ NOT COMPLIANT (INCOMPLETE) as of 2026-11-24\n\n> **Not judged:** 1 problem\\(s\\)"),
        "{md}"
    );
    // A node without failing findings in an incomplete report is not marked compliant.
    assert!(md.contains("⚠️ <code>cmp-par1-01</code>"), "{md}");
    let junit = String::from_utf8(render(&r, Format::Junit)).unwrap();
    assert!(junit.contains("value=\"NOT COMPLIANT (INCOMPLETE)\""));
    let sarif: serde_json::Value = serde_json::from_slice(&render(&r, Format::Sarif)).unwrap();
    assert_eq!(
        sarif["runs"][0]["properties"]["verdict"],
        "NOT COMPLIANT (INCOMPLETE)"
    );
    // And complete: the verdict alone.
    let md = String::from_utf8(render(&fleet(), Format::Markdown)).unwrap();
    assert!(
        md.starts_with("## nminus: ❌ NOT COMPLIANT as of 2026-11-24\n\nGate"),
        "{md}"
    );
}

#[test]
fn golden_sarif_matches_the_sarif_2_1_0_schema() {
    let r = fleet();
    let path = check_golden(Format::Sarif, &render(&r, Format::Sarif));
    let doc = read_json(&path);
    let schema = read_json(&shared_data("schemas/sarif/sarif-schema-2.1.0.json"));
    validate_json("the SARIF report", &schema, &[], &doc);
    assert_rejected("the SARIF report", &schema, &[], &doc, |d| {
        d["runs"][0]["results"][0]["level"] = "fatal".into();
    });
    let run = &doc["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len() + r.waived.len());
    let suppressed = results
        .iter()
        .filter(|x| x["suppressions"].is_array())
        .count();
    assert_eq!(suppressed, r.waived.len());
    for x in results {
        let id = x["ruleId"].as_str().unwrap();
        let i = x["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][i]["id"], id);
        assert!(x["partialFingerprints"]["nminusFingerprint/v1"].is_string());
    }
    let hostile = results
        .iter()
        .find(|x| x["properties"]["package"] == HOSTILE_NAME)
        .expect("the hostile package is reported");
    let uri = hostile["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        !uri.contains('<') && !uri.contains(' '),
        "URIs are percent-encoded: {uri}"
    );
}

#[test]
fn golden_cyclonedx_matches_the_cyclonedx_1_6_schema() {
    let r = fleet();
    let path = check_golden(Format::Cyclonedx, &render(&r, Format::Cyclonedx));
    let doc = read_json(&path);
    let schema = read_json(&shared_data("schemas/cyclonedx/bom-1.6.schema.json"));
    let docs = [
        &*shared_data("schemas/cyclonedx/spdx.schema.json"),
        &*shared_data("schemas/cyclonedx/jsf-0.82.schema.json"),
    ];
    validate_json("the CycloneDX BOM", &schema, &docs, &doc);
    assert_rejected("the CycloneDX BOM", &schema, &docs, &doc, |d| {
        d["vulnerabilities"][0]["analysis"]["state"] = "waived".into();
    });
    assert_rejected("the CycloneDX BOM", &schema, &docs, &doc, |d| {
        d["components"][0]["licenses"] = serde_json::json!([{"license": {"id": "NOT-AN-SPDX-ID"}}]);
    });
    // Every package identity of the inventory is a component.
    let comps = doc["components"].as_array().unwrap();
    assert_eq!(comps.len(), r.inventory.len());
    // VEX: the waived advisory is not_affected with the waiver's justification.
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    let waived = vulns
        .iter()
        .find(|v| v["analysis"]["state"] == "not_affected")
        .expect("a waived vulnerability");
    assert_eq!(waived["id"], "DSA-9001-1");
    assert_eq!(
        waived["analysis"]["justification"],
        "requires_configuration"
    );
    assert!(vulns
        .iter()
        .any(|v| v["id"] == "DSA-9001-1" && v["analysis"]["state"] == "exploitable"));
    // Every affects ref names a component.
    let refs: std::collections::BTreeSet<&str> = comps
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    for v in vulns {
        for a in v["affects"].as_array().unwrap() {
            assert!(refs.contains(a["ref"].as_str().unwrap()), "{a}");
        }
    }
}

fn xmllint() -> &'static str {
    let ok = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "xmllint not found: apt-get install libxml2-utils (scripts/test.sh installs it)"
    );
    "xmllint"
}

#[test]
fn golden_junit_matches_the_ant_junit_xsd() {
    let r = fleet();
    let out = render(&r, Format::Junit);
    let path = check_golden(Format::Junit, &out);
    let xsd = shared_data("schemas/junit/JUnit.xsd");
    let o = Command::new(xmllint())
        .arg("--schema")
        .arg(&xsd)
        .arg("--noout")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "xmllint rejects {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    // xmllint is not vacuous: a testcase without its required `time` is rejected.
    let text = String::from_utf8(out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    fs_err::write(&bad, text.replacen(" time=\"0\"/>", "/>", 1)).unwrap();
    let o = Command::new(xmllint())
        .arg("--schema")
        .arg(&xsd)
        .arg("--noout")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "xmllint accepts a testcase without `time`"
    );
    // One suite per node plus the scan's own; one case per node and code.
    assert_eq!(text.matches("<testsuite ").count(), r.nodes.len() + 1);
    assert_eq!(
        text.matches("<testcase ").count(),
        r.nodes.len() * FindingCode::ALL.len() + 1
    );
    // The gate is `high`: critical and high findings fail, the rest pass.
    let failing_cases: usize = {
        let mut set = std::collections::BTreeSet::new();
        for f in &r.findings {
            if f.severity >= Severity::High {
                set.insert((&f.node, f.code));
            }
        }
        set.len()
    };
    assert_eq!(text.matches("<failure ").count(), failing_cases);
    assert!(text.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!text.contains(HOSTILE_NAME));
}

#[test]
fn golden_markdown_escapes_node_data() {
    let out = render(&fleet(), Format::Markdown);
    check_golden(Format::Markdown, &out);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("<img"), "raw HTML from a node");
    assert!(!text.contains("<script"), "raw HTML from a node");
    assert!(text.contains("&lt;img src=x onerror=alert\\(1\\)&gt;"));
    // Every table row has as many cells as its header: no `|` leaked from node data.
    for block in text.split("\n\n") {
        let rows: Vec<&str> = block.lines().filter(|l| l.starts_with('|')).collect();
        if let Some(head) = rows.first() {
            let cells = |l: &str| l.replace("\\|", "").matches('|').count();
            for r in &rows {
                assert_eq!(cells(r), cells(head), "row {r:?} of table {head:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTML in headless Chromium.

pub(crate) fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return c;
        }
    }
    panic!("chromium not found: apt-get install chromium (scripts/test.sh installs it)");
}

/// Run headless Chromium with `args` on `url`, killing it after 90 s; (stdout, stderr).
pub(crate) fn run_chromium(extra: &[String], url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start chromium");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (t_out.join().unwrap(), t_err.join().unwrap())
}

/// The text of the element carrying `attr` (`data-summary="findings"`), as a number.
pub(crate) fn dom_number(dom: &str, attr: &str) -> usize {
    let i = dom
        .find(attr)
        .unwrap_or_else(|| panic!("no element with {attr} in the DOM"));
    let rest = &dom[i..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{attr}: `{}` is not a number", &rest[start..end]))
}

#[test]
fn golden_html_renders_in_chromium_safely() {
    let r = fleet();
    let out = render(&r, Format::Html);
    let path = check_golden(Format::Html, &out);
    let html = String::from_utf8(out).unwrap();

    // Static checks: offline, escaped, CSP in force.
    assert!(html.contains("http-equiv=\"Content-Security-Policy\""));
    assert!(!html.contains("<img"), "an <img> element from node data");
    assert_eq!(html.matches("<script").count(), 2, "only our two scripts");
    for url in ["http://", "https://"] {
        for line in html.lines().filter(|l| l.contains(url)) {
            assert!(
                line.contains("<a href=") || line.contains("nminus-data"),
                "a fetch of {url} outside a link: {line}"
            );
        }
    }
    assert!(!html.contains(" src=\"http") && !html.contains("@import"));

    // Dynamic: the page as Chromium builds it.
    let url = format!("file://{}", path.canonicalize().unwrap().display());
    let (dom, log) = run_chromium(&["--dump-dom".to_owned()], &url);
    assert!(
        dom.contains("data-nminus-ready=\"1\""),
        "the page's script did not run (CSP hash mismatch?): {log}"
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("CONSOLE") || l.contains("Content Security Policy") || l.contains("Uncaught")
        })
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    // The summary equals the JSON report.
    let s = &r.summary;
    let compliant = r.nodes.iter().filter(|n| n.compliant).count();
    for (attr, want) in [
        ("data-summary=\"nodes\"", s.nodes),
        ("data-summary=\"compliant_nodes\"", compliant),
        ("data-summary=\"noncompliant_nodes\"", s.nodes - compliant),
        ("data-summary=\"packages\"", s.packages),
        ("data-summary=\"findings\"", s.findings),
        ("data-summary=\"waived\"", s.waived),
        ("data-summary=\"problems\"", s.problems),
    ] {
        assert_eq!(dom_number(&dom, attr), want, "{attr}");
    }
    for (sev, n) in &s.by_severity {
        let attr = format!(
            "data-severity-count=\"{}\"",
            serde_json::to_value(sev).unwrap().as_str().unwrap()
        );
        assert_eq!(dom_number(&dom, &attr), *n, "{attr}");
    }
    for (code, n) in &s.by_code {
        let attr = format!("data-code-count=\"{code}\"");
        assert_eq!(dom_number(&dom, &attr), *n, "{attr}");
    }
    for site in ["par1", "fra1", "ams1"] {
        let want = r
            .nodes
            .iter()
            .filter(|n| n.site.as_deref() == Some(site))
            .count();
        assert_eq!(
            dom_number(&dom, &format!("data-site-nodes=\"{site}\"")),
            want
        );
    }
    // The client-side explorer listed every finding, waived included, from the JSON blob.
    assert_eq!(
        dom_number(&dom, "id=\"explorer-shown\""),
        s.findings + s.waived
    );
    // The hostile package is text, never markup.
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!dom.contains("<img"), "an injected element in the DOM");
    assert_eq!(
        dom.matches("<script").count(),
        2,
        "an injected script in the DOM"
    );
    assert!(r.findings.iter().any(|f| f.subject.name == HOSTILE_NAME));

    if bless() {
        let shot = manifest().join("docs/report-screenshot.png");
        run_chromium(
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1400,1800".to_owned(),
                "--hide-scrollbars".to_owned(),
            ],
            &url,
        );
        assert!(shot.is_file(), "no screenshot written");
    }
}

#[test]
fn an_operators_template_gets_the_same_data_and_escaping() {
    let tpl = "<p>{{summary.findings}}</p>{{#each nodes}}<i>{{id}}</i>{{#each rows}}<b>{{name}}</b>{{/each}}{{/each}}";
    let mut buf = Vec::new();
    Format::Html
        .writer(WriterOptions {
            template: Some(tpl.to_owned()),
            ..Default::default()
        })
        .write(&fleet(), &mut buf)
        .unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(s.starts_with("<p>10</p>"), "{s}");
    assert!(s.contains("<b>&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;</b>"));
    assert!(!s.contains("<img"));
}

// ---------------------------------------------------------------------------------------------
// `nminus report` and `scan --format a,b`.

#[test]
fn report_rerenders_the_saved_json_into_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.json");
    fs_err::write(&input, render(&fleet(), Format::Json)).unwrap();
    let out = dir.path().join("out");
    let o = nminus()
        .args([
            "report",
            "--format",
            "json,html,sarif,junit,cyclonedx,markdown,table",
            "--input",
        ])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .env_remove("NMINUS_BLESS")
        // A table written to a file is laid out for `COLUMNS` (else 100), never for the
        // terminal that ran the command.
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "high findings fail the saved gate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in Format::ALL {
        let have = fs_err::read(out.join(format!("report.{}", f.extension()))).unwrap();
        let want = render(&fleet(), f);
        assert!(
            have == want,
            "`nminus report --format {f:?}` differs from the writer on the same report"
        );
    }
}

#[test]
fn report_reevaluates_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.json");
    fs_err::write(&input, render(&fleet(), Format::Json)).unwrap();
    let run = |gate: &str| {
        let o = nminus()
            .args(["report", "--format", "json", "--fail-on", gate, "--input"])
            .arg(&input)
            .output()
            .unwrap();
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), r)
    };
    let (code, r) = run("critical");
    assert_eq!(code, Some(1));
    assert_eq!(r.gate, "critical");
    assert_eq!(r.nodes.iter().filter(|n| !n.compliant).count(), 1);
    // No finding has the code `eol`: the gate passes.
    let (code, r) = run("eol");
    assert_eq!(code, Some(0));
    assert!(r.summary.compliant && r.nodes.iter().all(|n| n.compliant));
}

#[test]
fn report_names_the_file_and_json_path_of_a_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("broken.json");
    let mut v = serde_json::to_value(fleet()).unwrap();
    v["findings"][2]["severity"] = serde_json::json!("catastrophic");
    fs_err::write(&input, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = nminus()
        .args(["report", "--format", "table", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.json"), "{err}");
    assert!(err.contains("findings[2].severity"), "{err}");

    let o = nminus()
        .args(["report", "--input"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.json"));
}

#[test]
fn several_formats_need_an_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.json");
    fs_err::write(&input, render(&fleet(), Format::Json)).unwrap();
    let o = nminus()
        .args(["report", "--format", "html,sarif", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-o DIR"));
}

#[test]
fn report_history_feeds_the_compliance_chart() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = fleet();
    old.history.clear();
    old.as_of = "2026-10-01".to_owned();
    let old_path = dir.path().join("old.json");
    fs_err::write(&old_path, render(&old, Format::Json)).unwrap();
    let mut now = fleet();
    now.history.clear();
    let input = dir.path().join("scan.json");
    fs_err::write(&input, render(&now, Format::Json)).unwrap();
    let o = nminus()
        .args(["report", "--format", "json", "--history"])
        .arg(&old_path)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        r.history,
        vec![HistoryPoint {
            date: "2026-10-01".to_owned(),
            nodes: 7,
            compliant_nodes: 5,
            findings: 10,
        }]
    );
}

#[test]
fn scan_writes_several_formats_into_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let empty = dir.path().join("no-feeds");
    fs_err::create_dir_all(&empty).unwrap();
    let o = nminus()
        .args(["scan", "--format", "json,junit,cyclonedx,html", "--data"])
        .arg(&empty)
        .arg("-o")
        .arg(&out)
        .arg(manifest().join("Cargo.lock"))
        .env("NMINUS_NOW", "2026-11-24T06:00:00Z")
        .output()
        .unwrap();
    // No feed: nothing could be judged, exit 2, but every report is written first.
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for ext in ["json", "xml", "cdx.json", "html"] {
        assert!(out.join(format!("report.{ext}")).is_file(), "report.{ext}");
    }
    let r: Report =
        serde_json::from_str(&fs_err::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(!r.not_judged.is_empty());
    assert!(
        r.inventory.iter().any(|c| c.name == "serde"),
        "the scanned lockfile's packages are the report's inventory"
    );
    let bom = read_json(&out.join("report.cdx.json"));
    assert_eq!(
        bom["components"].as_array().unwrap().len(),
        r.inventory.len()
    );
    let junit = fs_err::read_to_string(out.join("report.xml")).unwrap();
    assert!(junit.contains("<error type=\"incomplete\""));

    // Several formats without a directory: refused before scanning.
    let o = nminus()
        .args(["scan", "--format", "json,html", "--data"])
        .arg(&empty)
        .arg(manifest().join("Cargo.lock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-o DIR"));
}

/// An INCOMPLETE report as Chromium shows it: the badge says INCOMPLETE with its reason right
/// under it, before the summary; no card or chart calls a node "compliant" (they pass what was
/// judged, in amber, not green); nothing says NOT COMPLIANT; the page's script runs under its CSP.
#[test]
fn incomplete_html_in_chromium_tells_one_story() {
    let mut r = fleet();
    r.findings.clear();
    r.problems.clear();
    for n in &mut r.nodes {
        n.compliant = true;
        n.findings = 0;
    }
    r.summary.compliant = false;
    let reason = "no advisory feed could be loaded: vulnerabilities were not judged";
    r.not_judged.push(reason.into());
    assert_eq!(r.verdict(), nminus::model::Verdict::Incomplete);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("incomplete.html");
    fs_err::write(&path, render(&r, Format::Html)).unwrap();
    let (dom, log) = run_chromium(
        &["--dump-dom".to_owned()],
        &format!("file://{}", path.display()),
    );
    assert!(
        dom.contains("data-nminus-ready=\"1\""),
        "script did not run: {log}"
    );
    assert!(
        !log.contains("Content Security Policy") && !log.contains("Uncaught"),
        "{log}"
    );
    let badge = dom.find(">INCOMPLETE</span>").expect("INCOMPLETE badge");
    let why = dom.find(&format!("<li>{reason}</li>")).expect("the reason");
    let summary = dom.find("id=\"summary\"").expect("summary section");
    assert!(
        badge < why && why < summary,
        "badge, then reason, then summary"
    );
    assert!(!dom.contains("NOT COMPLIANT"), "no NOT COMPLIANT");
    // The summary: cards and the site chart (the history chart is earlier scans' record).
    let cards = &dom[summary..dom.find("id=\"chart-code\"").expect("code chart")];
    assert!(
        !cards.contains("compliant nodes"),
        "no card says compliant: {cards}"
    );
    assert!(cards.contains("passing what was judged"), "{cards}");
    let site_chart = &dom[dom.find("id=\"chart-site\"").expect("site chart")..];
    let site_chart = &site_chart[..site_chart.find("</figure>").unwrap()];
    assert!(
        !site_chart.contains("fill=\"#15803d\"") && site_chart.contains("passing what was judged"),
        "no green bar in an incomplete report: {site_chart}"
    );
    assert_eq!(dom_number(&dom, "data-summary=\"nodes\""), r.nodes.len());
}
