//! The fleet engine at scale, against per-node judging: real inventories from the shared data
//! (dpkg, rpm, apk, Python with OpenStack services) with versions varied per site and node,
//! judged by the real feeds of the shared data.

use std::collections::BTreeMap;

use nminus::analyze::{Analyzer, AnalyzerConfig};
use nminus::model::{FindingCode, Inventory};

use super::fleet_fixtures::{base_inventories, node, shared};

fn analyzer(cache: &std::path::Path) -> Analyzer {
    let policy = nminus::policy::load("default").unwrap();
    let cfg = AnalyzerConfig {
        data: shared(""),
        cache: Some(cache.to_path_buf()),
        ..AnalyzerConfig::default()
    };
    Analyzer::load(&cfg, policy, time::macros::date!(2026 - 11 - 24)).unwrap()
}

/// Node by node, the fleet engine (verdicts by identity, joined) finds exactly what judging
/// each node package by package finds, over every kind of real inventory.
#[test]
fn fleet_engine_equals_per_node_judging_on_real_inventories() {
    let tmp = tempfile::tempdir().unwrap();
    let bases = base_inventories(tmp.path());
    for b in &bases {
        assert!(!b.packages.is_empty(), "{}: no packages collected", b.node.id);
    }
    let nodes: Vec<Inventory> = bases
        .iter()
        .flat_map(|b| (0..6).map(move |i| node(b, i, 3, 0.03)))
        .chain(bases.iter().cloned())
        .collect();
    let an = analyzer(&tmp.path().join("cache"));
    let day = time::macros::date!(2026 - 11 - 24);
    let refs: Vec<&Inventory> = nodes.iter().collect();
    let got = an.judge_fleet(&refs, day);
    let mut by_eco: BTreeMap<String, usize> = BTreeMap::new();
    for (inv, g) in nodes.iter().zip(&got) {
        assert_eq!(g, &an.judge_per_node(inv, day), "node {}", inv.node.id);
        for f in g.iter().filter(|f| f.code == FindingCode::Vulnerable) {
            *by_eco.entry(f.subject.ecosystem.clone()).or_default() += 1;
        }
    }
    eprintln!("vulnerability findings by ecosystem: {by_eco:?}");
    for eco in ["deb", "apk", "pypi"] {
        assert!(by_eco.get(eco).copied().unwrap_or(0) > 0, "no {eco} findings: {by_eco:?}");
    }
    // Judged once per distinct identity: far fewer than the packages of the fleet.
    let occurrences: usize = nodes.iter().map(|n| n.packages.len()).sum();
    let (remembered, judged) = an.verdict_counts();
    assert_eq!(remembered, judged);
    assert!(judged * 3 < occurrences, "{judged} judged for {occurrences} packages");
    // A second round judges nothing again.
    let again = an.judge_fleet(&refs, day);
    assert_eq!(again, got);
    assert_eq!(an.verdict_counts().1, judged);
}
