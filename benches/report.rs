//! Report writer benchmark: JSON and HTML for 10,000 findings over 1,000 nodes (3 sites, 4 cells
//! each), each expected under 1 s; prints the median time of each and the HTML size.
//!
//! `cargo bench --bench report`; under `cargo test` it renders a tiny fleet once as a smoke test.

use std::collections::BTreeMap;
use std::time::Instant;

use nminus::model::{
    AdvisoryKind, AdvisoryRef, Ecosystem, Evidence, Finding, FindingCode, Inventory, Location,
    NodeInfo, Package, PackageMeta, Report, Severity, Subject, WaiverRef,
};
use nminus::{build_report, Gate, GateTerm, ReportInput};
use nminus::{Format, WriterOptions};

const SITES: [&str; 3] = ["par1", "fra1", "ams1"];
const SEVERITIES: [Severity; 6] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Unknown,
    Severity::None,
];
const CODES: [FindingCode; 4] = [
    FindingCode::Vulnerable,
    FindingCode::PatchBehind,
    FindingCode::SeriesBehind,
    FindingCode::AdvisoryNotice,
];

fn fleet(nodes: usize, per_node: usize) -> Report {
    let invs: Vec<Inventory> = (0..nodes)
        .map(|i| {
            let site = SITES[i % SITES.len()];
            Inventory {
                schema_version: 1,
                node: NodeInfo {
                    id: format!("cmp-{site}-{i:04}"),
                    hostname: None,
                    site: Some(site.to_owned()),
                    cell: Some(format!("cell{}", i % 4 + 1)),
                    labels: BTreeMap::new(),
                },
                collected_at: "2026-11-24T05:00:00Z".to_owned(),
                agent: Default::default(),
                root: "/".to_owned(),
                os: None,
                packages: (0..per_node)
                    .map(|k| Package {
                        ecosystem: Ecosystem::Pypi,
                        name: format!("package-{k:02}"),
                        version: format!("1.{}.{}", k, i % 7),
                        source: None,
                        purl: format!("pkg:pypi/package-{k:02}@1.{}.{}", k, i % 7),
                        found_by: "bench".to_owned(),
                        location: Location::path(format!(
                            "/openstack/venvs/nova/lib/python3.11/site-packages/package_{k:02}-1.{k}.{}.dist-info/METADATA",
                            i % 7
                        )),
                        meta: PackageMeta::Python {
                            display_name: format!("package-{k:02}"),
                            os_owner: None,
                            environment: None,
                        },
                        extra: BTreeMap::new(),
                    })
                    .collect(),
                images: Vec::new(),
                services: Vec::new(),
                problems: Vec::new(),
            }
        })
        .collect();
    let judged: Vec<(&Inventory, Vec<Finding>)> = invs
        .iter()
        .enumerate()
        .map(|(i, inv)| {
            let fs = inv
                .packages
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let code = CODES[(i + k) % CODES.len()];
                    let id = format!("PYSEC-2026-{:04}", (i * 7 + k) % 500);
                    let mut f = Finding {
                        code,
                        severity: SEVERITIES[(i + 3 * k) % SEVERITIES.len()],
                        node: inv.node.id.clone(),
                        subject: Subject {
                            ecosystem: nminus::model::Ecosystem::Pypi.into(),
                            name: p.name.clone(),
                            version: p.version.clone(),
                            purl: Some(p.purl.clone()),
                            location: Some(p.location.clone()),
                        },
                        advisory: (code == FindingCode::Vulnerable).then(|| AdvisoryRef {
                            id: id.clone(),
                            aliases: vec![format!("CVE-2026-{:05}", (i * 7 + k) % 500)],
                            sources: vec!["osv-pypi".to_owned()],
                            kind: AdvisoryKind::Vulnerability,
                            summary: format!("{}: a vulnerability in request parsing", p.name),
                            url: Some(format!("https://osv.dev/vulnerability/{id}")),
                        }),
                        fixed_in: vec![format!("1.{}.9", k)],
                        evidence: Evidence {
                            searched: format!("PyPI/{} {}", p.name, p.version),
                            matched: format!("{id} {} <1.{}.9", p.name, k),
                            message: format!(
                                "{} {} is below the fixed 1.{}.9",
                                p.name, p.version, k
                            ),
                        },
                        waived_by: (k == 0 && i % 10 == 0).then(|| WaiverRef {
                            id: format!("W-{i}"),
                            reason: "accepted until the next maintenance window".to_owned(),
                            owner: "ops".to_owned(),
                            expires: "2027-01-31".to_owned(),
                        }),
                        fingerprint: String::new(),
                    };
                    f.fingerprint = f.compute_fingerprint();
                    f
                })
                .collect();
            (inv, fs)
        })
        .collect();
    let gate = Gate(vec![GateTerm::Severity(Severity::High)]);
    build_report(ReportInput {
        nodes: judged,
        feeds: Vec::new(),
        problems: Vec::new(),
        feed_problems: Vec::new(),
        gate: &gate,
        generated_at: "2026-11-24T06:00:00Z".to_owned(),
        as_of: "2026-11-24".to_owned(),
        not_judged: Vec::new(),
    })
}

/// Median seconds of `n` renders, and the output size.
fn time(r: &Report, f: Format, n: usize) -> (f64, usize) {
    let mut times = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let mut buf = Vec::with_capacity(size);
        let t = Instant::now();
        f.writer(WriterOptions::default())
            .write(r, &mut buf)
            .unwrap_or_else(|e| panic!("{f:?}: {e}"));
        times.push(t.elapsed().as_secs_f64());
        size = buf.len();
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], size)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (nodes, per_node, runs) = if bench { (1000, 10, 7) } else { (10, 3, 1) };
    let r = fleet(nodes, per_node);
    println!(
        "report: {} nodes, {} findings (+{} waived)",
        r.nodes.len(),
        r.findings.len(),
        r.waived.len()
    );
    for f in [Format::Json, Format::Html] {
        let (secs, size) = time(&r, f, runs);
        if !bench {
            // A smoke test of a debug build: no figures (they would read as measurements).
            let name = format!("{f:?}").to_lowercase();
            println!("{name:<5} rendered (figures: cargo bench --bench report)");
            continue;
        }
        println!(
            "{:<5} {:>8.1} ms  {:>6.2} MiB",
            format!("{f:?}").to_lowercase(),
            secs * 1e3,
            size as f64 / (1024.0 * 1024.0)
        );
        if bench {
            assert!(secs < 1.0, "{f:?} took {secs:.3} s for 10,000 findings");
        }
    }
}
