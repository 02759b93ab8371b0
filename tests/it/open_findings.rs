//! Findings rows outlive a run: a push or a round writes only what changed in a node's open
//! findings, a change computed against rows that moved on is dropped, and pruning removes
//! closed rows only; replicas claim the round's chunks they prefer; the migration turns an
//! earlier database's rows into open rows and history. Run on SQLite (a temporary file) and a
//! real PostgreSQL.

use std::sync::Arc;

use nminus::model::{Finding, FindingCode, Severity};
use nminus::{FindingFilter, FleetDelta, Millis, Store};

use crate::store::{finding, inventory, package, push, sqlite_url, PgCluster};

/// (open rows, closed rows) of `node`, read with SQL.
async fn rows(url: &str, node: &str) -> (i64, i64) {
    let q = "SELECT
        (SELECT COUNT(*) FROM findings WHERE node_id = $1 AND closed_run IS NULL),
        (SELECT COUNT(*) FROM findings WHERE node_id = $1 AND closed_run IS NOT NULL)";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_as(q).bind(node).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_as(q).bind(node).fetch_one(&pool).await.unwrap()
    }
}

fn f(name: &str) -> Finding {
    finding("a", name, "1.0", FindingCode::Vulnerable, Severity::High)
}

/// The node's open findings, read back, sorted by name.
async fn open(s: &dyn Store) -> Vec<String> {
    let mut names: Vec<String> = s
        .findings(&FindingFilter {
            waived: true,
            ..FindingFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.subject.name)
        .collect();
    names.sort();
    names
}

async fn rows_outlive_runs(s: Arc<dyn Store>, url: &str) {
    s.enroll("a", "ta", Millis(1)).await.unwrap();
    let inv = |v: &str| inventory("a", "s1", "c1", vec![package("p", v)]);
    let first = push(&*s, &inv("1"), vec![f("x"), f("y"), f("z")], 10)
        .await
        .unwrap();
    assert_eq!(rows(url, "a").await, (3, 0));
    // Another inventory with one finding gone and one new: one row closed, one inserted, the
    // two that stay are the rows the first push wrote.
    let second = push(&*s, &inv("2"), vec![f("y"), f("z"), f("w")], 20)
        .await
        .unwrap();
    assert_ne!(first.run_id, second.run_id);
    assert_eq!(rows(url, "a").await, (3, 1));
    assert_eq!(open(&*s).await, ["w", "y", "z"]);
    assert_eq!(
        s.node("a").await.unwrap().unwrap().findings_run,
        Some(second.run_id)
    );
    // The same finding twice (two installs of a package, say): both rows, exactly.
    push(&*s, &inv("3"), vec![f("y"), f("z"), f("w"), f("w")], 30)
        .await
        .unwrap();
    assert_eq!(open(&*s).await, ["w", "w", "y", "z"]);
    assert_eq!(
        rows(url, "a").await,
        (4, 2),
        "w closed once, inserted twice"
    );
    push(&*s, &inv("4"), vec![f("y"), f("z"), f("w")], 40)
        .await
        .unwrap();
    assert_eq!(open(&*s).await, ["w", "y", "z"]);

    // A round's change: applied only against the rows it was computed from.
    let head = s
        .fleet_heads("", None, 10)
        .await
        .unwrap()
        .pop()
        .expect("a is current");
    let keys = s.open_findings(&["a".into()]).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let run = s.begin_run("fleet", Millis(50), "rev2").await.unwrap();
    let delta = |base: Option<Vec<u8>>| FleetDelta {
        node: "a".into(),
        hash: head.hash.clone(),
        base,
        digest: [7; 32],
        open: 3,
        compliant: false,
        close: Vec::new(),
        close_whole: false,
        insert: vec![f("v")],
    };
    let stale = s
        .record_deltas(run, &[delta(Some(vec![1; 32]))])
        .await
        .unwrap();
    assert_eq!(stale, 0, "another stored digest: dropped");
    assert_eq!(open(&*s).await, ["w", "y", "z"]);
    let stored = s
        .record_deltas(run, &[delta(head.digest.clone())])
        .await
        .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(open(&*s).await, ["v", "w", "y", "z"]);
    let node = s.node("a").await.unwrap().unwrap();
    assert_eq!((node.findings_run, node.open_findings), (Some(run), 3));
    let again = s
        .record_deltas(run, &[delta(head.digest.clone())])
        .await
        .unwrap();
    assert_eq!(again, 0, "the digest moved on: not applied twice");
    assert_eq!(open(&*s).await, ["v", "w", "y", "z"]);

    // Pruning removes closed rows whose closing run is old, never open ones.
    let (open_rows, closed) = rows(url, "a").await;
    assert!(closed > 0);
    s.prune(Millis(1_000_000)).await.unwrap();
    assert_eq!(rows(url, "a").await, (open_rows, 0));
    assert_eq!(open(&*s).await, ["v", "w", "y", "z"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_findings_rows_outlive_runs() {
    let (_dir, url) = sqlite_url();
    rows_outlive_runs(nminus::open_store(&url).await.unwrap(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_findings_rows_outlive_runs() {
    let pg = PgCluster::start();
    let url = pg.database("open");
    rows_outlive_runs(nminus::open_store(&url).await.unwrap(), &url).await;
}

/// A replica claims the open chunk it prefers (the one whose nodes it holds), the first by
/// number among equals, and never a chunk another replica holds a live claim on.
async fn chunks_by_preference(s: Arc<dyn Store>) {
    for i in 0..10 {
        s.enroll(&format!("n{i}"), &format!("t{i}"), Millis(1))
            .await
            .unwrap();
        let inv = inventory(&format!("n{i}"), "s1", "c1", vec![package("p", "1")]);
        push(&*s, &inv, Vec::new(), 10 + i).await.unwrap();
    }
    let run = s.begin_run("fleet", Millis(100), "rev").await.unwrap();
    assert_eq!(s.plan_chunks(run, 3).await.unwrap(), 4);
    let times = (Millis(200), Millis(0));
    let prefer_two = |c: &nminus::RunChunk| usize::from(c.seq == 2);
    let none = |_: &nminus::RunChunk| 0;
    let got = s
        .claim_chunk("a", "rev", times, &prefer_two)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.run, got.seq), (run, 2), "the preferred chunk");
    let got = s
        .claim_chunk("b", "rev", times, &prefer_two)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.seq, 0, "2 is claimed: the first of the rest");
    let got = s
        .claim_chunk("b", "rev", times, &none)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.seq, 1);
    let got = s.claim_chunk("a", "other", times, &none).await.unwrap();
    assert!(got.is_none(), "another revision's round is not joined");
    let got = s
        .claim_chunk("a", "rev", times, &none)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.seq, 3);
    assert!(s
        .claim_chunk("c", "rev", times, &none)
        .await
        .unwrap()
        .is_none());
    // A claim older than the stale bound is taken over.
    let later = (Millis(900), Millis(500));
    let got = s
        .claim_chunk("c", "rev", later, &prefer_two)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.seq, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_chunks_are_claimed_by_preference() {
    let (_dir, url) = sqlite_url();
    chunks_by_preference(nminus::open_store(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_chunks_are_claimed_by_preference() {
    let pg = PgCluster::start();
    let url = pg.database("chunks");
    chunks_by_preference(nminus::open_store(&url).await.unwrap()).await;
}

/// Rows of a database written before findings outlived runs, as that schema stored them: node
/// `a`'s current run is 2 (run 1 is its history), `b` has no current run, `gone` is no node.
const BEFORE: &str = "
    INSERT INTO nodes (id, enrolled_at, findings_run) VALUES ('a', 1, 2), ('b', 1, NULL);
    INSERT INTO analysis_runs (kind, started_at, revision) VALUES ('push', 1, 'r'), ('push', 2, 'r');
    INSERT INTO findings (run_id, node_id, inventory_hash, code, severity, severity_rank,
                          ecosystem, name, version, fingerprint, waived, body) VALUES
        (1, 'a', 'h', 'vulnerable', 'high', 3, 'pypi', 'x', '1', 'f1', FALSE, 'null'),
        (2, 'a', 'h', 'vulnerable', 'high', 3, 'pypi', 'y', '1', 'f2', FALSE, 'null'),
        (1, 'b', 'h', 'vulnerable', 'high', 3, 'pypi', 'z', '1', 'f3', FALSE, 'null'),
        (1, 'gone', 'h', 'vulnerable', 'high', 3, 'pypi', 'w', '1', 'f4', FALSE, 'null');";

/// The migration that makes rows outlive runs, and those before it, as files (`backend`:
/// `sqlite` or `postgres`).
fn migrations(backend: &str) -> (Vec<String>, String) {
    const OPEN: &str = "20261210000001_open_findings.sql";
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut names: Vec<String> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.as_str() < OPEN)
        .collect();
    names.sort();
    let read = |n: &str| fs_err::read_to_string(dir.join(n)).unwrap();
    (names.iter().map(|n| read(n)).collect(), read(OPEN))
}

/// What the migration made of [`BEFORE`]: each row's name and closing run.
const AFTER: &str = "SELECT name, closed_run FROM findings ORDER BY name";

/// The rows of earlier runs become history (closed by the node's current run, or by their own
/// run when the node has none or is gone); the current run's rows stay open.
fn want() -> Vec<(String, Option<i64>)> {
    [("w", Some(1)), ("x", Some(2)), ("y", None), ("z", Some(1))]
        .iter()
        .map(|(n, c)| ((*n).to_owned(), *c))
        .collect()
}

/// The earlier migrations of `$backend`, [`BEFORE`] and the migration applied on `$pool`, then
/// [`AFTER`] read back.
macro_rules! migrated {
    ($pool:expr, $backend:literal) => {{
        let pool = $pool;
        let (before, open) = migrations($backend);
        for sql in before
            .iter()
            .map(String::as_str)
            .chain([BEFORE, open.as_str()])
        {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        let got: Vec<(String, Option<i64>)> = sqlx::query_as(AFTER).fetch_all(&pool).await.unwrap();
        got
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_closes_the_rows_of_earlier_runs() {
    let (_dir, url) = sqlite_url();
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    assert_eq!(migrated!(pool, "sqlite"), want());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_closes_the_rows_of_earlier_runs() {
    let pg = PgCluster::start();
    let pool = sqlx::PgPool::connect(&pg.database("migrate"))
        .await
        .unwrap();
    assert_eq!(migrated!(pool, "postgres"), want());
}
