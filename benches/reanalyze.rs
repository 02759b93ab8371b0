//! Fleet re-analysis at scale, through the real store and the real serve re-analysis path:
//! N nodes of about 1,500 real packages (this machine's Debian 12 dpkg database, the Debian
//! OpenStack Python tree and an OpenStack venv, from the shared data), about 3 % of versions
//! varied per site and a few more per node, stored in a SQLite file and in an ephemeral
//! PostgreSQL cluster, judged with the shared data's real feeds. Prints, per backend and size:
//! ingest time, full re-analysis (`serve::analysis::reanalyze`), a feed change touching 1 % of
//! the package names (verdicts carried over, then the same re-analysis), the previous per-node
//! engine over the same stored fleet (the peer, same run, as a ratio), database size per node
//! and per changed push, and the process's peak RSS.
//!
//! `cargo bench --bench reanalyze` (1,000 and 10,000 nodes; `NMINUS_BENCH_NODES=…` to choose;
//! `NMINUS_BENCH_ROUNDS_ONLY=1`: ingest, cold and warm rounds only, for the large sizes;
//! on PostgreSQL, or with `NMINUS_BENCH_REPLICAS=1`, two replicas timed against one);
//! under `cargo test` a smoke run of 30 nodes on SQLite.

mod common;
#[path = "../tests/it/fleet_fixtures.rs"]
mod fleet_fixtures;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nminus::model::{Advisory, Inventory};
use nminus::{AdvisoryIndex, Analyzer, AnalyzerConfig};
use nminus::{AppState, ServeOptions};
use nminus::{Judged, Millis, NewInventory, Store};

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let s = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Start the peak RSS (`VmHWM`) afresh from the current RSS (Linux `clear_refs`).
fn reset_peak_rss() {
    let _ = fs_err::write("/proc/self/clear_refs", "5");
}

fn analyzer(cache: &Path) -> Analyzer {
    let policy = nminus::load_policy("default").unwrap();
    let cfg = AnalyzerConfig {
        data: fleet_fixtures::shared(""),
        cache: Some(cache.to_path_buf()),
        ..AnalyzerConfig::default()
    };
    Analyzer::load(&cfg, policy, time::macros::date!(2026 - 11 - 24)).unwrap()
}

/// Packages per node the goal names.
const PACKAGES: usize = 1_500;

/// `base` with at least `n` packages: its Python packages installed again in further venvs
/// (another location each, as nodes with several OpenStack venvs have) until it has.
fn at_least(mut base: Inventory, n: usize) -> Inventory {
    let python: Vec<nminus::Package> = base
        .packages
        .iter()
        .filter(|p| p.ecosystem == nminus::Ecosystem::Pypi)
        .cloned()
        .collect();
    let mut venv = 0;
    while base.packages.len() < n && !python.is_empty() {
        venv += 1;
        for p in &python {
            if base.packages.len() >= n {
                break;
            }
            let mut p = p.clone();
            p.location = nminus::Location::path(format!(
                "/openstack/venvs/extra-{venv}/lib/python3.11/site-packages"
            ));
            base.packages.push(p);
        }
    }
    base
}

/// The loaded advisories plus one new advisory for each of about 1 % of the package names of
/// `base` (every version affected): a feed change that touches 1 % of the fleet's names.
fn changed_index(an: &Analyzer, base: &Inventory) -> (AdvisoryIndex, usize) {
    let mut advisories: Vec<Advisory> = an.index().advisories().cloned().collect();
    let mut touched = 0;
    for (i, p) in base
        .packages
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 100 == 0)
    {
        let (eco, name) = match p.ecosystem {
            nminus::Ecosystem::Deb => (
                "Debian:12".to_owned(),
                p.source.as_ref().map_or(p.name.clone(), |s| s.name.clone()),
            ),
            nminus::Ecosystem::Pypi => ("PyPI".to_owned(), p.name.clone()),
            _ => continue,
        };
        touched += 1;
        advisories.push(
            serde_json::from_value(serde_json::json!({
                "id": format!("BENCH-{i}"),
                "source": "bench",
                "kind": "vulnerability",
                "summary": "a new advisory",
                "affected": [{
                    "ecosystem": eco,
                    "package": name,
                    "ranges": {"type": "osv", "ranges": [{"events": [{"introduced": "0"}, {"fixed": "999999"}]}]},
                    "fixed": ["999999"]
                }]
            }))
            .unwrap(),
        );
    }
    (AdvisoryIndex::build(advisories), touched)
}

/// Enroll and push `n` nodes (each judged, as a push is); the seconds taken.
async fn ingest(store: &dyn Store, an: &Analyzer, base: &Inventory, n: usize) -> f64 {
    // Judged as of today, as a push is: a round today finds the stored findings current.
    let day = Millis::now().to_datetime().date();
    let one = |inv: Inventory, at: i64| async move {
        let findings = an.judge(&inv, day);
        let compliant = !findings
            .iter()
            .any(|f| f.waived_by.is_none() && an.gate().fails(f));
        let judged = Judged {
            findings,
            compliant,
        };
        let (hash, body) = nminus::hash_and_body(&inv);
        let raw = serde_json::value::RawValue::from_string(body).unwrap();
        store
            .push(NewInventory {
                node: &inv.node,
                inventory: &inv,
                body: &raw,
                hash: &hash,
                received_at: Millis(at),
                judged: &judged,
                analysis_started: Millis(at),
                revision: an.revision(),
            })
            .await
            .unwrap();
    };
    let t = Instant::now();
    for i in 0..n {
        let inv = fleet_fixtures::node(base, i, 20, 0.03);
        store
            .enroll(&inv.node.id, &format!("token{i}"), Millis(1))
            .await
            .unwrap();
        one(inv, 1_000 + i as i64).await;
    }
    t.elapsed().as_secs_f64()
}

/// The previous engine over the stored fleet: per-node judging of every current inventory.
async fn per_node(store: &dyn Store, an: &Analyzer) -> (f64, usize) {
    let day = Millis::now().to_datetime().date();
    let t = Instant::now();
    let mut after = String::new();
    let mut findings = 0;
    loop {
        let batch = store.current_inventories(&after, 128).await.unwrap();
        let Some(last) = batch.last() else { break };
        after.clone_from(&last.node);
        for c in &batch {
            findings += an.judge_per_node(&c.inventory, day).len();
        }
    }
    (t.elapsed().as_secs_f64(), findings)
}

fn dir_bytes(p: &Path) -> u64 {
    walk(p)
}

fn walk(p: &Path) -> u64 {
    let Ok(rd) = fs_err::read_dir(p) else {
        return fs_err::metadata(p).map_or(0, |m| m.len());
    };
    rd.flatten().map(|e| walk(&e.path())).sum()
}

struct Sizes {
    db: Box<dyn Fn() -> u64>,
}

async fn run(
    label: &str,
    store: Arc<dyn Store>,
    sizes: Sizes,
    cache: &Path,
    base: &Inventory,
    n: usize,
) {
    let changes = (n / 10).max(10);
    let an = analyzer(cache);
    let before = (sizes.db)();
    let ingest_s = ingest(&*store, &an, base, n).await;
    let after_nodes = (sizes.db)();
    let changed_s = changed_pushes(&*store, &an, base, n, changes).await;
    let after_changes = (sizes.db)();
    let state = AppState::new(Arc::clone(&store), analyzer(cache), ServeOptions::default());
    // The rounds' own peak: from here (ingest and its generator left out).
    reset_peak_rss();
    let rss_before = rss_mib();
    // A fresh analyzer (nothing remembered): the first full re-analysis judges every identity.
    let t = Instant::now();
    let cold = nminus::reanalyze(&state).await.unwrap();
    let cold_s = t.elapsed().as_secs_f64();
    let after_cold = (sizes.db)();
    let judged_cold = state.analyzer().verdict_counts().1;
    // The same again, the same day: the memory holds every inventory, nothing is written.
    let t = Instant::now();
    let warm = nminus::reanalyze(&state).await.unwrap();
    let warm_s = t.elapsed().as_secs_f64();
    let after_warm = (sizes.db)();
    let rounds_peak = peak_rss_mib();
    println!(
        "{label}   rounds: cold {cold_s:.2} s ({} nodes, {} findings), warm {warm_s:.3} s; RSS {rss_before:.0} MiB before the rounds, peak {rounds_peak:.0} MiB during cold and warm, {:.0} MiB after them",
        cold.nodes, cold.findings, rss_mib()
    );
    if std::env::var_os("NMINUS_BENCH_ROUNDS_ONLY").is_some() {
        assert_eq!(warm.findings, cold.findings, "a second run finds the same");
        if label == "postgres" || std::env::var_os("NMINUS_BENCH_REPLICAS").is_some() {
            replicas(label, &store, cache).await;
        }
        return;
    }
    // A feed change touching 1 % of the names: verdicts carried over, then a full run.
    let (index, touched) = changed_index(&state.analyzer(), base);
    let changed = analyzer(cache).with_index(index, "bench-change".into());
    let t = Instant::now();
    let carried = changed.carry_verdicts(&state.analyzer());
    state.set_analyzer(changed);
    let feed = nminus::reanalyze(&state).await.unwrap();
    let feed_s = t.elapsed().as_secs_f64();
    let after_feed = (sizes.db)();
    let rejudged = state.analyzer().verdict_counts().1;
    let (peer_s, peer_findings) = per_node(&*store, &state.analyzer()).await;
    // The next day's round: currency, lifecycles and waivers judged again for every node.
    let tomorrow = Millis::now().to_datetime().date().next_day().unwrap();
    let t = Instant::now();
    let next = nminus::reanalyze_on(&state, tomorrow).await.unwrap();
    let next_s = t.elapsed().as_secs_f64();
    let per_node_b = after_nodes.saturating_sub(before) as f64 / n as f64;
    let per_push_b = after_changes.saturating_sub(after_nodes) as f64 / changes as f64;
    println!(
        "{label} {n} nodes × {} packages: ingest {:.1} s ({:.0} nodes/s), {changes} changed pushes {:.1} s ({:.0}/s)",
        base.packages.len(),
        ingest_s,
        n as f64 / ingest_s,
        changed_s,
        changes as f64 / changed_s
    );
    println!(
        "{label}   re-analysis: cold {cold_s:.2} s ({judged_cold} identities judged), warm {warm_s:.2} s, feed change ({touched} names, {} verdicts dropped, {} kept, {rejudged} judged) {feed_s:.2} s; {} nodes, {} findings ({} after the change)",
        carried.dropped, carried.kept, warm.nodes, warm.findings, feed.findings
    );
    println!(
        "{label}   next day's round (currency judged again): {next_s:.2} s, {} nodes, {} findings",
        next.nodes, next.findings
    );
    println!(
        "{label}   peer (per-node engine, same stored fleet): {peer_s:.2} s, {peer_findings} findings; warm run {:.1}× faster, cold {:.1}×, feed change {:.1}×",
        peer_s / warm_s,
        peer_s / cold_s,
        peer_s / feed_s
    );
    println!(
        "{label}   database: {:.1} KiB per node, {:.1} KiB per changed push, {:.1} MiB in all; peak RSS so far {:.0} MiB",
        per_node_b / 1024.0,
        per_push_b / 1024.0,
        after_changes as f64 / 1048576.0,
        peak_rss_mib()
    );
    let mib = |a: u64, b: u64| (b as f64 - a as f64) / 1048576.0;
    println!(
        "{label}   database growth per round (findings rows written; WAL included): cold {:+.1} MiB, warm {:+.1} MiB, feed change {:+.1} MiB",
        mib(after_changes, after_cold),
        mib(after_cold, after_warm),
        mib(after_warm, after_feed)
    );
    if label == "postgres" || std::env::var_os("NMINUS_BENCH_REPLICAS").is_some() {
        replicas(label, &store, cache).await;
    }
    assert_eq!(cold.nodes, n);
    assert_eq!(feed.nodes, n);
    assert_eq!(warm.findings, cold.findings, "a second run finds the same");
    assert_eq!(
        feed.findings, peer_findings,
        "the fleet engine finds what the per-node one does"
    );
}

/// Two replicas (two engines and memories on one store, as two `serve` processes have)
/// against one, in the same run: a cold round (fresh engines) and a warm one (the same engines
/// again), after a settling round that brings the stored findings to the base feeds, so that
/// no timed round writes rows. Prints the times and asserts one view (the same findings).
async fn replicas(label: &str, store: &Arc<dyn Store>, cache: &Path) {
    use nminus::{share_rounds, start_round};
    let fresh = || AppState::new(Arc::clone(store), analyzer(cache), ServeOptions::default());
    let settle = nminus::reanalyze(&fresh()).await.unwrap();
    let one = fresh();
    let t = Instant::now();
    let cold1 = nminus::reanalyze(&one).await.unwrap();
    let cold1_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let warm1 = nminus::reanalyze(&one).await.unwrap();
    let warm1_s = t.elapsed().as_secs_f64();
    drop(one);
    let (a, b) = (fresh(), fresh());
    let two = |a: AppState, b: AppState| async move {
        let t = Instant::now();
        start_round(&a, 512)
            .await
            .unwrap()
            .expect("the fleet lock is free");
        let (sa, sb) = tokio::join!(share_rounds(&a), share_rounds(&b));
        let (sa, sb) = (sa.unwrap(), sb.unwrap());
        (t.elapsed().as_secs_f64(), sa, sb)
    };
    let (cold2_s, ca, cb) = two(a.clone(), b.clone()).await;
    let (warm2_s, wa, wb) = two(a, b).await;
    println!(
        "{label}   replicas: one replica cold {cold1_s:.2} s, warm {warm1_s:.3} s; two replicas cold {cold2_s:.2} s ({} + {} chunks, {:.1}× one), warm {warm2_s:.3} s ({} + {} chunks, {:.1}× one); settling round {} nodes",
        ca.chunks,
        cb.chunks,
        cold1_s / cold2_s,
        wa.chunks,
        wb.chunks,
        warm1_s / warm2_s,
        settle.nodes
    );
    assert_eq!(ca.nodes + cb.nodes, cold1.nodes);
    assert_eq!(ca.findings + cb.findings, cold1.findings, "one view");
    assert_eq!(wa.findings + wb.findings, warm1.findings, "one view");
}

/// `changes` changed pushes of enrolled nodes (one more package version each); the seconds
/// taken.
async fn changed_pushes(
    store: &dyn Store,
    an: &Analyzer,
    base: &Inventory,
    n: usize,
    changes: usize,
) -> f64 {
    let day = Millis::now().to_datetime().date();
    let t = Instant::now();
    for c in 0..changes {
        let i = (c * 7919) % n;
        let mut inv = fleet_fixtures::node(base, i, 20, 0.03);
        let k = (c * 31) % inv.packages.len();
        inv.packages[k].version = format!("{}.1", inv.packages[k].version);
        let findings = an.judge(&inv, day);
        let judged = Judged {
            findings,
            compliant: false,
        };
        let (hash, body) = nminus::hash_and_body(&inv);
        let raw = serde_json::value::RawValue::from_string(body).unwrap();
        store
            .push(NewInventory {
                node: &inv.node,
                inventory: &inv,
                body: &raw,
                hash: &hash,
                received_at: Millis(10_000_000 + c as i64),
                judged: &judged,
                analysis_started: Millis(1),
                revision: an.revision(),
            })
            .await
            .unwrap();
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("NMINUS_BENCH_NODES") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if bench => vec![1_000, 10_000],
        Err(_) => vec![30],
    };
    let with_pg = bench && std::env::var_os("NMINUS_BENCH_NO_PG").is_none();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let base = at_least(fleet_fixtures::large_inventory(tmp.path()), PACKAGES);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for &n in &sizes {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("fleet.db");
            let store = nminus::open_store(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let d = dir.path().to_path_buf();
            run(
                "sqlite",
                store,
                Sizes {
                    db: Box::new(move || dir_bytes(&d)),
                },
                &cache,
                &base,
                n,
            )
            .await;
            if with_pg {
                let pg = common::Pg::start();
                let store = nminus::open_store(&pg.url()).await.unwrap();
                let data = pg.data_dir();
                run(
                    "postgres",
                    store,
                    Sizes {
                        db: Box::new(move || dir_bytes(&data.join("base"))),
                    },
                    &cache,
                    &base,
                    n,
                )
                .await;
            }
        }
    });
}
