//! The fleet engine at scale, against per-node judging: real inventories from the shared data
//! (dpkg, rpm, apk, Python with OpenStack services) with versions varied per site and node,
//! judged by the real feeds of the shared data.

use std::collections::BTreeMap;

use nminus::model::{FindingCode, Inventory};
use nminus::{Analyzer, AnalyzerConfig};

use super::fleet_fixtures::{base_inventories, node, shared};

fn analyzer(cache: &std::path::Path) -> Analyzer {
    let policy = nminus::load_policy("default").unwrap();
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
        assert!(
            !b.packages.is_empty(),
            "{}: no packages collected",
            b.node.id
        );
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
            *by_eco.entry(f.subject.ecosystem.to_string()).or_default() += 1;
        }
    }
    eprintln!("vulnerability findings by ecosystem: {by_eco:?}");
    for eco in ["deb", "apk", "pypi"] {
        assert!(
            by_eco.get(eco).copied().unwrap_or(0) > 0,
            "no {eco} findings: {by_eco:?}"
        );
    }
    // Judged once per distinct identity: far fewer than the packages of the fleet.
    let occurrences: usize = nodes.iter().map(|n| n.packages.len()).sum();
    let (remembered, judged) = an.verdict_counts();
    assert_eq!(remembered, judged);
    assert!(
        judged * 3 < occurrences,
        "{judged} judged for {occurrences} packages"
    );
    // A second round judges nothing again.
    let again = an.judge_fleet(&refs, day);
    assert_eq!(again, got);
    assert_eq!(an.verdict_counts().1, judged);
}

/// Two replicas (two store handles and two engines) on database `db` of `pg`, and the base
/// inventories (collected under `tmp`, where the feed cache is kept too).
async fn replicas(
    pg: &super::store::PgCluster,
    db: &str,
    tmp: &std::path::Path,
) -> (nminus::AppState, nminus::AppState, Vec<Inventory>) {
    let url = pg.database(db);
    let replica = || async {
        nminus::AppState::new(
            nminus::open_store(&url).await.unwrap(),
            analyzer(&tmp.join("cache")),
            nminus::ServeOptions::default(),
        )
    };
    let (a, b) = (replica().await, replica().await);
    (a, b, base_inventories(tmp))
}

/// Two replicas (two store handles and two engines, as two `serve` processes have) on one real
/// PostgreSQL share a round: each claims chunks the other does not, every node is judged once
/// under the round's run, the run is finished once, and both replicas read the same findings,
/// equal to per-node judging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_a_round_on_postgres() {
    use nminus::{share_rounds, start_round};
    use nminus::{FindingFilter, Millis};

    let pg = super::store::PgCluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, bases) = replicas(&pg, "replicas", tmp.path()).await;
    // Alpine: real apk packages, judged by alpine-secdb.
    let fleet = enrolled_unjudged(&a, &bases[4], 120).await;
    const NODES: usize = 120;
    // The rounds judge as of today (currency and lifecycles depend on the date).
    let day = Millis::now().to_datetime().date();
    let run = start_round(&a, 10)
        .await
        .unwrap()
        .expect("the fleet lock is free");
    let (sa, sb) = tokio::join!(share_rounds(&a), share_rounds(&b));
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa.chunks + sb.chunks, NODES / 10, "{sa:?} {sb:?}");
    assert!(
        sa.chunks > 0 && sb.chunks > 0,
        "both replicas judged: {sa:?} {sb:?}"
    );
    assert_eq!(sa.nodes + sb.nodes, NODES);
    assert!(sa.finished != sb.finished, "finished once: {sa:?} {sb:?}");
    let done = a
        .store()
        .latest_run("fleet")
        .await
        .unwrap()
        .expect("finished");
    assert_eq!((done.id, done.nodes), (run, NODES as i64));
    assert_eq!(done.findings, (sa.findings + sb.findings) as i64);
    for n in a.store().nodes().await.unwrap() {
        assert_eq!(n.findings_run, Some(run), "{}", n.id);
    }
    // One view from both replicas, node by node what per-node judging finds.
    let all = FindingFilter {
        waived: true,
        ..FindingFilter::default()
    };
    let fa = a.store().findings(&all).await.unwrap();
    let fb = b.store().findings(&all).await.unwrap();
    assert_eq!(fa, fb);
    let reference = a.analyzer();
    let mut want = 0;
    for inv in &fleet {
        let mine: Vec<_> = fa.iter().filter(|f| f.node == inv.node.id).collect();
        let per_node = reference.judge_per_node(inv, day);
        assert_eq!(mine.len(), per_node.len(), "{}", inv.node.id);
        want += per_node.len();
    }
    assert!(want > 0, "the fleet has findings");
    // Nothing left to claim.
    assert_eq!(share_rounds(&b).await.unwrap().chunks, 0);
}

/// Every node's findings as the store serves them (`findings`, waived included), in the
/// store's order, against per-node judging with the waivers marked, node by node.
async fn assert_stored_equal_per_node(state: &nminus::AppState, fleet: &[Inventory]) {
    let day = nminus::Millis::now().to_datetime().date();
    assert_stored_equal_per_node_on(state, fleet, day).await;
}

/// [`assert_stored_equal_per_node`] for a round judged as of `day`.
async fn assert_stored_equal_per_node_on(
    state: &nminus::AppState,
    fleet: &[Inventory],
    day: time::Date,
) {
    let an = state.analyzer();
    for inv in fleet {
        let stored = state
            .store()
            .findings(&nminus::FindingFilter {
                node: Some(inv.node.id.clone()),
                waived: true,
                ..nminus::FindingFilter::default()
            })
            .await
            .unwrap();
        let mut want = an.judge_per_node(inv, day);
        an.waive(&mut want, inv, day);
        want.sort_by(|a, b| {
            let key = |f: &nminus::model::Finding| {
                (
                    f.subject.ecosystem.clone(),
                    f.subject.name.clone(),
                    f.subject.version.clone(),
                    f.code.as_str().to_owned(),
                    f.fingerprint.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        assert_eq!(stored, want, "node {}", inv.node.id);
    }
}

/// Rows of `table` in the SQLite file.
async fn count_rows(url: &str, table: &str) -> i64 {
    use sqlx::Connection as _;
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut c)
        .await
        .unwrap()
}

async fn finding_rows(url: &str) -> i64 {
    count_rows(url, "findings").await
}

/// Issue 16 item 2, through the real store (a SQLite file) and the server's re-analysis:
/// a round that judges the same findings for the same inventory writes no finding rows (the
/// node keeps the earlier run's identical rows), a feed change rewrites only the nodes whose
/// findings it changed, and after every round the findings the store serves are, node by
/// node, what per-node judging finds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_write_only_changed_findings_and_read_back_as_per_node_judging() {
    use nminus::model::Advisory;
    use nminus::{Millis, NewInventory};

    let tmp = tempfile::tempdir().unwrap();
    let bases = base_inventories(tmp.path());
    let url = format!("sqlite://{}", tmp.path().join("fleet.db").display());
    let cache = tmp.path().join("cache");
    let state = nminus::AppState::new(
        nminus::open_store(&url).await.unwrap(),
        analyzer(&cache),
        nminus::ServeOptions::default(),
    );
    let fleet: Vec<Inventory> = bases
        .iter()
        .flat_map(|b| (0..3).map(move |i| node(b, i, 3, 0.03)))
        .collect();
    for (i, inv) in fleet.iter().enumerate() {
        state
            .store()
            .enroll(&inv.node.id, &format!("t{i}"), Millis(1))
            .await
            .unwrap();
        let (hash, body) = nminus::hash_and_body(inv);
        let raw = serde_json::value::RawValue::from_string(body).unwrap();
        let judged = nminus::Judged {
            findings: Vec::new(),
            compliant: true,
        };
        state
            .store()
            .push(NewInventory {
                node: &inv.node,
                inventory: inv,
                body: &raw,
                hash: &hash,
                received_at: Millis(10 + i as i64),
                judged: &judged,
                analysis_started: Millis(1),
                revision: "old",
            })
            .await
            .unwrap();
    }
    // The first round writes every node's findings.
    let first = nminus::reanalyze(&state).await.unwrap();
    assert_eq!(first.nodes, fleet.len());
    let rows = finding_rows(&url).await;
    assert_eq!(rows, first.findings as i64);
    assert!(rows > 0, "the fleet has findings");
    // Bodies are stored once per distinct finding: nodes of one base share most of them.
    let bodies = count_rows(&url, "finding_bodies").await;
    assert!(bodies * 2 < rows, "{bodies} bodies for {rows} findings");
    assert_stored_equal_per_node(&state, &fleet).await;
    // Node id → the run whose findings are its current ones, from the node records.
    let runs = |nodes: serde_json::Value| {
        nodes
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["id"].to_string(), n["findings_run"].as_i64()))
            .collect::<BTreeMap<_, _>>()
    };
    let after_first = runs(serde_json::to_value(state.store().nodes().await.unwrap()).unwrap());
    assert!(after_first.values().any(|r| *r == Some(first.run)));
    assert_eq!(after_first.len(), fleet.len());
    // The same again: nothing written, every node still on the rows it had.
    let second = nminus::reanalyze(&state).await.unwrap();
    assert_eq!(second.findings, first.findings);
    assert_eq!(
        finding_rows(&url).await,
        rows,
        "an unchanged round wrote rows"
    );
    assert_eq!(
        runs(serde_json::to_value(state.store().nodes().await.unwrap()).unwrap()),
        after_first
    );
    assert_stored_equal_per_node(&state, &fleet).await;
    // A feed change: a new advisory for every 40th Debian source package of the first base.
    let an = state.analyzer();
    let mut advisories: Vec<Advisory> = an.index().advisories().cloned().collect();
    for (k, p) in bases[0].packages.iter().enumerate().step_by(40) {
        let name = p.source.as_ref().map_or(p.name.clone(), |s| s.name.clone());
        advisories.push(debian_advisory(&format!("TEST-{k}"), &name));
    }
    let changed = analyzer(&cache).with_index(
        nminus::AdvisoryIndex::build(advisories),
        "test-change".into(),
    );
    changed.carry_verdicts(&an);
    state.set_analyzer(changed);
    let third = nminus::reanalyze(&state).await.unwrap();
    assert!(third.findings > first.findings, "the new advisories match");
    let nodes = state.store().nodes().await.unwrap();
    let moved = nodes
        .iter()
        .filter(|n| n.findings_run == Some(third.run))
        .count();
    assert!(
        moved > 0 && moved < nodes.len(),
        "{moved} of {} nodes rewritten: only the Debian nodes' findings changed",
        nodes.len()
    );
    assert_stored_equal_per_node(&state, &fleet).await;
}

/// Push `inv` (its findings left empty: the rounds judge it) as received at `at`.
/// `n` nodes built from `base` (versions varied per site and node), enrolled and pushed
/// without findings, in order.
async fn enrolled_unjudged(state: &nminus::AppState, base: &Inventory, n: usize) -> Vec<Inventory> {
    let mut fleet = Vec::with_capacity(n);
    for i in 0..n {
        let inv = node(base, i, 4, 0.2);
        state
            .store()
            .enroll(&inv.node.id, &format!("t{i}"), nminus::Millis(1))
            .await
            .unwrap();
        push_unjudged(state, &inv, 10 + i as i64).await;
        fleet.push(inv);
    }
    fleet
}

async fn push_unjudged(state: &nminus::AppState, inv: &Inventory, at: i64) {
    let judged = nminus::Judged {
        findings: Vec::new(),
        compliant: true,
    };
    push_judged(state, inv, &judged, at, "old").await;
}

/// Push `inv` to the store of `state` with its findings `judged` (judged with `revision`),
/// received at `at`.
async fn push_judged(
    state: &nminus::AppState,
    inv: &Inventory,
    judged: &nminus::Judged,
    at: i64,
    revision: &str,
) {
    let (hash, body) = nminus::hash_and_body(inv);
    let raw = serde_json::value::RawValue::from_string(body).unwrap();
    state
        .store()
        .push(nminus::NewInventory {
            node: &inv.node,
            inventory: inv,
            body: &raw,
            hash: &hash,
            received_at: nminus::Millis(at),
            judged,
            analysis_started: nminus::Millis(1),
            revision,
        })
        .await
        .unwrap();
}

/// Issue 16, the fleet round that costs what is distinct: a replica that keeps the fleet in
/// memory and writes only nodes whose findings digest changed still stores, node by node,
/// what per-node judging finds, through an inventory change between two rounds (the replica
/// reads back the changed node only), a feed change touching a few identities, and a waiver
/// that expires between two days; an unchanged round writes no finding rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_follow_inventory_feed_and_waiver_changes_node_by_node() {
    use nminus::model::{Advisory, Finding};

    let tmp = tempfile::tempdir().unwrap();
    let bases = base_inventories(tmp.path());
    let url = format!("sqlite://{}", tmp.path().join("fleet.db").display());
    let cache = tmp.path().join("cache");
    let day = nminus::Millis::now().to_datetime().date();
    let next_day = day.next_day().unwrap();
    let mut fleet: Vec<Inventory> = bases
        .iter()
        .flat_map(|b| (0..2).map(move |i| node(b, i, 2, 0.03)))
        .collect();
    // A waiver until `day` of the vulnerability findings of one package.
    let probe = analyzer(&cache);
    let waived_name = fleet
        .iter()
        .flat_map(|inv| probe.judge(inv, day))
        .find(|f| f.code == FindingCode::Vulnerable)
        .map(|f: Finding| f.subject.name)
        .expect("the fleet has a vulnerability");
    let text = format!(
        "version: 1\nwaivers:\n  - id: W-TODAY\n    codes: [vulnerable]\n    select: {{names: [{waived_name}]}}\n    reason: fixed tomorrow\n    owner: ops\n    expires: {day}\n"
    );
    let mut policy = nminus::load_policy("default").unwrap();
    policy.waivers = nminus::parse_policy(&text, "waivers.yaml").unwrap().waivers;
    let with_policy = |policy: nminus::Policy| {
        let cfg = AnalyzerConfig {
            data: shared(""),
            cache: Some(cache.clone()),
            ..AnalyzerConfig::default()
        };
        Analyzer::load(&cfg, policy, time::macros::date!(2026 - 11 - 24)).unwrap()
    };
    let state = nminus::AppState::new(
        nminus::open_store(&url).await.unwrap(),
        with_policy(policy.clone()),
        nminus::ServeOptions::default(),
    );
    for (i, inv) in fleet.iter().enumerate() {
        state
            .store()
            .enroll(&inv.node.id, &format!("t{i}"), nminus::Millis(1))
            .await
            .unwrap();
        push_unjudged(&state, inv, 10 + i as i64).await;
    }
    let current_runs = |nodes: serde_json::Value, run: i64| {
        nodes
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["findings_run"].as_i64() == Some(run))
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let nodes = || async { serde_json::to_value(state.store().nodes().await.unwrap()).unwrap() };
    // Round 1: everything judged and written; the waiver in force marks findings.
    let first = nminus::reanalyze_on(&state, day).await.unwrap();
    assert_eq!(first.nodes, fleet.len());
    assert_stored_equal_per_node_on(&state, &fleet, day).await;
    let waived_now = |state: &nminus::AppState| {
        let state = state.clone();
        async move {
            state
                .store()
                .findings(&nminus::FindingFilter {
                    waived: true,
                    ..nminus::FindingFilter::default()
                })
                .await
                .unwrap()
                .into_iter()
                .filter(|f| f.waived_by.is_some())
                .count()
        }
    };
    assert!(waived_now(&state).await > 0, "the waiver marks findings");
    // Round 2: one node's inventory changed in between; only it is written.
    // (a node with findings: its push stores none, so the round must write it)
    let c = (0..fleet.len())
        .find(|i| !probe.judge(&fleet[*i], day).is_empty())
        .unwrap();
    let k = fleet[c].packages.len() / 2;
    let v = format!("{}.1", fleet[c].packages[k].version);
    fleet[c].packages[k].version = v;
    push_unjudged(&state, &fleet[c], 1_000_000).await;
    let rows = finding_rows(&url).await;
    let second = nminus::reanalyze_on(&state, day).await.unwrap();
    assert_eq!(second.nodes, fleet.len());
    assert_eq!(
        current_runs(nodes().await, second.run),
        vec![fleet[c].node.id.clone()],
        "only the changed node is written"
    );
    // Its rows as a change: at most the findings of the package that moved on are new.
    let node_findings = probe.judge(&fleet[c], day).len() as i64;
    let added = finding_rows(&url).await - rows;
    assert!(
        (0..node_findings).contains(&added),
        "{added} rows written for a node of {node_findings} findings"
    );
    assert_stored_equal_per_node_on(&state, &fleet, day).await;
    // Round 3: a feed change touching a few identities (three Debian source packages).
    let an = state.analyzer();
    let mut advisories: Vec<Advisory> = an.index().advisories().cloned().collect();
    for (j, p) in bases[0].packages.iter().enumerate().step_by(97).take(3) {
        let name = p.source.as_ref().map_or(p.name.clone(), |s| s.name.clone());
        advisories.push(debian_advisory(&format!("FEED-{j}"), &name));
    }
    let changed = with_policy(policy.clone()).with_index(
        nminus::AdvisoryIndex::build(advisories),
        "feed-change".into(),
    );
    let carried = changed.carry_verdicts(&an);
    assert!(carried.kept > carried.dropped, "{carried:?}");
    state.set_analyzer(changed);
    let rows = finding_rows(&url).await;
    let third = nminus::reanalyze_on(&state, day).await.unwrap();
    assert!(third.findings > second.findings, "the new advisories match");
    assert_eq!(
        finding_rows(&url).await - rows,
        (third.findings - second.findings) as i64,
        "a feed change that adds findings writes those rows, and only those"
    );
    let moved = current_runs(nodes().await, third.run);
    assert!(
        !moved.is_empty() && moved.len() < fleet.len(),
        "only the Debian nodes are rewritten: {moved:?}"
    );
    assert_stored_equal_per_node_on(&state, &fleet, day).await;
    // Round 4, the next day: the waiver expired, its findings are open again.
    let fourth = nminus::reanalyze_on(&state, next_day).await.unwrap();
    assert_eq!(fourth.nodes, fleet.len());
    assert_eq!(waived_now(&state).await, 0, "the waiver expired");
    assert_stored_equal_per_node_on(&state, &fleet, next_day).await;
    // Round 5, the same day again: nothing written.
    let rows = finding_rows(&url).await;
    let fifth = nminus::reanalyze_on(&state, next_day).await.unwrap();
    assert_eq!(fifth.findings, fourth.findings);
    assert_eq!(
        finding_rows(&url).await,
        rows,
        "an unchanged round wrote rows"
    );
    assert!(current_runs(nodes().await, fifth.run).is_empty());
    assert_stored_equal_per_node_on(&state, &fleet, next_day).await;
}

/// A new advisory `id` on Debian 12 source package `package`: every version before 999999.
fn debian_advisory(id: &str, package: &str) -> nminus::model::Advisory {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "source": "test",
        "kind": "vulnerability",
        "summary": "a new advisory",
        "affected": [{
            "ecosystem": "Debian:12",
            "package": package,
            "ranges": {"type": "osv", "ranges": [{"events": [{"introduced": "0"}, {"fixed": "999999"}]}]},
            "fixed": ["999999"]
        }]
    }))
    .unwrap()
}

/// Pushes that land while two replicas share a round on one real PostgreSQL: every node ends
/// with exactly what per-node judging finds for its current inventory, no open row twice (a
/// round's change computed against rows a push replaced is dropped; a push computes its change
/// under the node's row lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_during_a_shared_round_leave_each_node_its_own_findings_on_postgres() {
    use nminus::{share_rounds, start_round, Millis};

    let pg = super::store::PgCluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, bases) = replicas(&pg, "race", tmp.path()).await;
    // Stored without findings: the round has a change to write for every node.
    let mut fleet = enrolled_unjudged(&a, &bases[4], 60).await;
    const NODES: usize = 60;
    let day = Millis::now().to_datetime().date();
    // Every other node moves on while the round runs, its push judged as a push is.
    let mut moved: Vec<Inventory> = fleet.iter().step_by(2).cloned().collect();
    for inv in &mut moved {
        let k = inv.packages.len() / 3;
        inv.packages[k].version = format!("{}.1", inv.packages[k].version);
    }
    let pushes = {
        let (state, moved) = (a.clone(), moved.clone());
        async move {
            let an = state.analyzer();
            for (j, inv) in moved.iter().enumerate() {
                let findings = an.judge(inv, day);
                let judged = nminus::Judged {
                    compliant: !findings.iter().any(|f| an.gate().fails(f)),
                    findings,
                };
                push_judged(&state, inv, &judged, 1_000 + j as i64, an.revision()).await;
                tokio::task::yield_now().await;
            }
        }
    };
    start_round(&a, 6)
        .await
        .unwrap()
        .expect("the fleet lock is free");
    let (sa, sb, ()) = tokio::join!(share_rounds(&a), share_rounds(&b), pushes);
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa.chunks + sb.chunks, NODES / 6, "{sa:?} {sb:?}");
    for inv in moved {
        let i = fleet.iter().position(|f| f.node.id == inv.node.id).unwrap();
        fleet[i] = inv;
    }
    assert_stored_equal_per_node(&a, &fleet).await;
    assert_stored_equal_per_node(&b, &fleet).await;
}
