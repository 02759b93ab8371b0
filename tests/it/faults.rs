//! Fault injection against the real `nminus serve` on loopback: the disk fills up under SQLite
//! and under PostgreSQL, the server is killed (-9) during bursts, PostgreSQL crashes, stops and
//! freezes during pushes, and one node pushes through two replicas at once. Each test keeps a
//! list of every push answered 2xx and checks afterwards (through a restarted server where the
//! process could hide state) that each of them is stored, that `/healthz` answered throughout,
//! and that a node's current inventory is its newest history entry. Nothing here is timed:
//! waits are bounded by counts and client timeouts, and the tests assert outcomes.
//!
//! The disk-full tests mount a small tmpfs and so need root (CI runs as root); they fail with
//! that reason otherwise, never skip. The rootless reproduction of the same SQLite bug (with
//! `PRAGMA max_page_count`) is a unit test of `store::sqlite`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::serve::{Env, Server};
use crate::store::{inventory, package, sqlite_url, PgCluster};

// ---------------------------------------------------------------------------------------------
// Harness.

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A small tmpfs mounted on a fresh directory; unmounted (lazily) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        assert!(
            is_root(),
            "the disk-full tests mount a tmpfs and need root (CI runs as root); the rootless \
             reproduction is `store::sqlite::tests::a_failed_write_never_leaves_the_writer_inside_a_transaction`"
        );
        let dir = tempfile::Builder::new()
            .prefix("nminus-full")
            .tempdir_in("/tmp")
            .expect("temporary directory");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs on {}: {}",
            dir.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill the file system with a ballast file until not one byte more fits; returns it.
    fn fill(&self) -> PathBuf {
        let ballast = self.path().join("ballast");
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ballast)
            .expect("ballast");
        // Again while the server frees space meanwhile (a WAL checkpoint), a few times.
        for _ in 0..10 {
            for chunk in [1 << 20, 64 << 10, 4 << 10, 1] {
                let buf = vec![0xa5u8; chunk];
                while f.write_all(&buf).is_ok() {}
            }
            if self.free() == 0 {
                break;
            }
        }
        drop(f);
        assert_eq!(self.free(), 0, "the tmpfs is not full");
        ballast
    }

    /// Bytes free on the file system.
    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.path())
            .output()
            .expect("df");
        let out = String::from_utf8_lossy(&out.stdout);
        out.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("df: {out}"))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("HTTP client")
}

fn get(url: &str) -> reqwest::blocking::Response {
    client()
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn get_json(url: &str) -> serde_json::Value {
    let r = get(url);
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    serde_json::from_slice(&r.bytes().expect("body")).expect("JSON")
}

/// `/healthz` polled every 50 ms from a thread until [`HealthWatch::finish`].
struct HealthWatch {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(usize, Vec<String>)>,
}

impl HealthWatch {
    fn start(base: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, stop2) = (format!("{base}/healthz"), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let c = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client");
            let (mut answered, mut failures) = (0, Vec::new());
            while !stop2.load(Ordering::SeqCst) {
                match c.get(&url).send() {
                    Ok(r) if r.status() == 200 => answered += 1,
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (answered, failures)
        });
        Self { stop, handle }
    }

    /// Stop polling; panics unless every poll was answered 200.
    fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        let (answered, failures) = self.handle.join().expect("health thread");
        assert!(
            failures.is_empty(),
            "/healthz did not answer {} of {} times: {:?}",
            failures.len(),
            failures.len() + answered,
            &failures[..failures.len().min(5)]
        );
        assert!(answered > 0, "/healthz was never polled");
    }
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pushed {
    /// 2xx, with the hash the server acknowledged.
    Acked(String),
    /// A 5xx: nothing promised.
    Failed(u16, String),
    /// No answer (the server is gone, or the client timed out).
    NoAnswer,
}

/// Enrolled nodes and every push acknowledged to them.
struct Fleet {
    tokens: Vec<(String, String)>,
    acked: Mutex<Vec<(String, String)>>,
    failed: AtomicUsize,
    client: reqwest::blocking::Client,
}

impl Fleet {
    fn enroll(base: &str, prefix: &str, nodes: usize) -> Arc<Self> {
        let client = client();
        let tokens = (0..nodes)
            .map(|i| {
                let node = format!("{prefix}{i}");
                let r = client
                    .post(format!("{base}/v1/enroll"))
                    .bearer_auth("s3cret")
                    .body(format!(r#"{{"node":"{node}"}}"#))
                    .send()
                    .expect("enroll");
                assert_eq!(r.status(), 201, "enroll {node}");
                let v: serde_json::Value =
                    serde_json::from_slice(&r.bytes().expect("body")).expect("JSON");
                (node, v["token"].as_str().expect("token").to_owned())
            })
            .collect();
        Arc::new(Self {
            tokens,
            acked: Mutex::default(),
            failed: AtomicUsize::new(0),
            client,
        })
    }

    /// Push inventory `salt` (of `packages` packages) of node `i` to `base`. A 4xx fails the
    /// test: only the server's faults may refuse a push here.
    fn push(&self, base: &str, i: usize, salt: usize, packages: usize) -> Pushed {
        let (node, token) = &self.tokens[i];
        let pk: Vec<_> = (0..packages)
            .map(|k| package(&format!("pkg{k}"), &format!("1.{salt}.{k}")))
            .collect();
        let body = serde_json::to_vec(&inventory(node, "par1", "c1", pk)).expect("JSON");
        let Ok(r) = self
            .client
            .post(format!("{base}/v1/inventories"))
            .bearer_auth(token)
            .body(body)
            .send()
        else {
            return Pushed::NoAnswer;
        };
        let status = r.status();
        let v: serde_json::Value =
            serde_json::from_slice(&r.bytes().unwrap_or_default()).unwrap_or_default();
        if status.is_success() {
            let hash = v["hash"].as_str().expect("acknowledged hash").to_owned();
            self.acked
                .lock()
                .expect("acked")
                .push((node.clone(), hash.clone()));
            Pushed::Acked(hash)
        } else {
            assert!(
                status.is_server_error(),
                "push of {node} refused with {status}: {v}"
            );
            self.failed.fetch_add(1, Ordering::SeqCst);
            Pushed::Failed(status.as_u16(), v["code"].as_str().unwrap_or("").to_owned())
        }
    }

    fn acked(&self) -> Vec<(String, String)> {
        self.acked.lock().expect("acked").clone()
    }

    /// Every acknowledged push is in its node's history, and each node's current inventory is
    /// its newest history entry.
    fn assert_stored(&self, base: &str) {
        let acked = self.acked();
        let mut by_node: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (n, h) in &acked {
            by_node.entry(n).or_default().insert(h);
        }
        for (node, _) in &self.tokens {
            let history = get_json(&format!("{base}/v1/nodes/{node}/history"));
            let stored: BTreeSet<&str> = history
                .as_array()
                .expect("history")
                .iter()
                .map(|h| h["hash"].as_str().expect("hash"))
                .collect();
            let lost: Vec<_> = by_node
                .get(node.as_str())
                .into_iter()
                .flatten()
                .filter(|h| !stored.contains(*h))
                .collect();
            assert!(
                lost.is_empty(),
                "{} acknowledged pushes of {node} are not stored, among them {:?}",
                lost.len(),
                &lost[..lost.len().min(5)]
            );
            let current = get_json(&format!("{base}/v1/nodes/{node}"));
            assert_eq!(
                current["current_hash"].as_str(),
                history[0]["hash"].as_str(),
                "{node}: the current inventory is not the newest history entry"
            );
        }
    }
}

/// The `nminus_pushes_total` counter of `kind` and `result` in `/metrics`.
fn pushes_metric(base: &str, kind: &str, result: &str) -> u64 {
    let text = get(&format!("{base}/metrics")).text().expect("metrics");
    let key = format!("nminus_pushes_total{{kind=\"{kind}\",result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse().expect("counter"))
}

fn readyz(base: &str) -> u16 {
    get(&format!("{base}/readyz")).status().as_u16()
}

/// A data directory without feeds (judging is not under test here).
fn no_data(env: &Env) -> PathBuf {
    let p = env.path("no-data");
    fs_err::create_dir_all(&p).expect("data directory");
    p
}

// ---------------------------------------------------------------------------------------------
// Disk full.

/// Push rounds over a database whose file system is full, then free it: failures are 503
/// `storage-unavailable` (never 2xx), `/readyz` is not ready while they fail and ready again
/// after, `/metrics` counts only what was stored, and every node can push again.
fn disk_full(db: &str, fs: &Tmpfs, env: &Env) {
    let srv = Server::start(db, &no_data(env), &env.secret(), &[], &env.cache());
    let health = HealthWatch::start(&srv.url);
    const NODES: usize = 12;
    const PACKAGES: usize = 400;
    let fleet = Fleet::enroll(&srv.url, "full", NODES);
    for i in 0..NODES {
        assert!(
            matches!(fleet.push(&srv.url, i, 0, PACKAGES), Pushed::Acked(_)),
            "a push before the disk filled failed\n{}",
            srv.log()
        );
    }
    assert_eq!(readyz(&srv.url), 200);

    let ballast = fs.fill();
    // Not ready while writes fail (the probe write cannot commit either). The store may free
    // space itself meanwhile (a checkpoint truncates the WAL) and its ready probe's write may
    // pass and take that space again: a 200 right after a failed push is then the truth, seen
    // by no later look at the disk. So every answer must be 503 or 200, the disk is filled
    // again after a 200, and 503 must have been seen.
    let not_ready_seen = std::cell::Cell::new(0);
    let not_ready_while_full = || match readyz(&srv.url) {
        503 => not_ready_seen.set(not_ready_seen.get() + 1),
        200 => {
            fs.fill();
        }
        other => panic!("/readyz answered {other} while the disk is full"),
    };
    let mut salt = 1;
    let mut failures = 0;
    let mut last_failed = false;
    while failures < 2 * NODES && salt < 40 {
        for i in 0..NODES {
            last_failed = false;
            match fleet.push(&srv.url, i, salt, PACKAGES) {
                Pushed::Acked(_) => {}
                Pushed::Failed(status, code) => {
                    assert_eq!(
                        (status, code.as_str()),
                        (503, "storage-unavailable"),
                        "a push that could not be stored"
                    );
                    failures += 1;
                    last_failed = true;
                    not_ready_while_full();
                }
                Pushed::NoAnswer => panic!("no answer to a push\n{}", srv.log()),
            }
        }
        salt += 1;
    }
    assert!(
        failures > 0,
        "the full disk never failed a push: the fault was not injected"
    );
    if last_failed {
        not_ready_while_full();
    }
    assert!(
        not_ready_seen.get() > 0,
        "/readyz never said not ready while pushes failed on a full disk"
    );

    // Space again: ready, and every node's next push is stored.
    fs_err::remove_file(&ballast).expect("remove the ballast");
    assert_eq!(readyz(&srv.url), 200, "not ready once the disk has space");
    for i in 0..NODES {
        let p = fleet.push(&srv.url, i, 1000, PACKAGES);
        assert!(
            matches!(p, Pushed::Acked(_)),
            "node {i} cannot push once the disk has space: {p:?}\n{}",
            srv.log()
        );
    }
    let acked = fleet.acked();
    assert_eq!(
        pushes_metric(&srv.url, "inventory", "stored"),
        acked.len() as u64,
        "/metrics counts pushes as stored that were not acknowledged"
    );
    assert_eq!(
        pushes_metric(&srv.url, "inventory", "error"),
        fleet.failed.load(Ordering::SeqCst) as u64
    );
    fleet.assert_stored(&srv.url);
    health.finish();

    // Stored means committed: a new process reads every acknowledged push.
    drop(srv);
    let srv = Server::start(db, &no_data(env), &env.secret(), &[], &env.cache());
    fleet.assert_stored(&srv.url);
}

#[test]
fn sqlite_disk_full_loses_no_acknowledged_push() {
    let fs = Tmpfs::mount("24m");
    let env = Env::new();
    let db = format!("sqlite://{}", fs.path().join("fleet.db").display());
    disk_full(&db, &fs, &env);
}

// ---------------------------------------------------------------------------------------------
// Group commit.

/// A heartbeat of node `i` announcing `hash`: `Some(true)` on 200, `Some(false)` on a 5xx (a
/// 409 or any other answer fails the test: the node's hash is its current one).
fn heartbeat(fleet: &Fleet, base: &str, i: usize, hash: &str) -> Option<bool> {
    let (node, token) = &fleet.tokens[i];
    let r = fleet
        .client
        .post(format!("{base}/v1/inventories"))
        .bearer_auth(token)
        .body(format!(r#"{{"heartbeat":"{hash}"}}"#))
        .send()
        .ok()?;
    let status = r.status();
    assert!(
        status == 200 || status.is_server_error(),
        "heartbeat of {node} answered {status}: {}",
        r.text().unwrap_or_default()
    );
    Some(status == 200)
}

/// The group-commit counter `name` of `kind` in `/metrics`.
fn writer_metric(base: &str, name: &str, kind: &str) -> u64 {
    let text = get(&format!("{base}/metrics")).text().expect("metrics");
    let key = format!("{name}{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse().expect("counter"))
}

/// Rounds in which every node (a thread each, started together) pushes a changed inventory
/// and sends heartbeats: returns, per node, the time before its last acknowledged heartbeat.
fn batched_rounds(fleet: &Arc<Fleet>, base: &str, salts: std::ops::Range<usize>) -> Vec<i64> {
    let n = fleet.tokens.len();
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (fleet, base, barrier) = (Arc::clone(fleet), base.to_owned(), Arc::clone(&barrier));
            let salts = salts.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                for salt in salts {
                    barrier.wait();
                    let _ = fleet.push(&base, i, salt, 200);
                    let (node, _) = &fleet.tokens[i];
                    let current = fleet.acked().into_iter().rev().find(|(m, _)| m == node);
                    let Some((_, hash)) = current else { continue };
                    for _ in 0..4 {
                        let before = nminus::Millis::now().0;
                        match heartbeat(&fleet, &base, i, &hash) {
                            Some(true) => seen = before,
                            Some(false) => {}
                            None => panic!("no answer to a heartbeat"),
                        }
                    }
                }
                seen
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("node thread"))
        .collect()
}

/// Concurrent pushes and heartbeats, which the server's writer commits in batches, before,
/// while and after the disk is full: a batch whose commit fails answers none of its requests
/// 2xx (a failure is a 5xx), and through a restarted server every acknowledged push is stored
/// and every node's `last_seen` is at least the time of its last acknowledged heartbeat. The
/// writer did batch: its counters show transactions of more than one request of each kind.
#[test]
fn sqlite_disk_full_under_batched_writes_acknowledges_only_what_is_stored() {
    let fs = Tmpfs::mount("24m");
    let env = Env::new();
    let db = format!("sqlite://{}", fs.path().join("fleet.db").display());
    let srv = Server::start(&db, &no_data(&env), &env.secret(), &[], &env.cache());
    let fleet = Fleet::enroll(&srv.url, "batch", 16);
    let mut seen = batched_rounds(&fleet, &srv.url, 0..3);
    for kind in ["heartbeat", "inventory"] {
        let batches = writer_metric(&srv.url, "nminus_write_batches_total", kind);
        let requests = writer_metric(&srv.url, "nminus_write_batched_total", kind);
        assert!(
            batches > 0 && requests > batches,
            "no {kind} batch held more than one request: {requests} in {batches}"
        );
    }
    assert_eq!(
        fleet.failed.load(Ordering::SeqCst),
        0,
        "a push failed with space"
    );

    let ballast = fs.fill();
    let during = batched_rounds(&fleet, &srv.url, 3..9);
    assert!(
        fleet.failed.load(Ordering::SeqCst) > 0,
        "the full disk never failed a push: the fault was not injected"
    );
    fs_err::remove_file(&ballast).expect("remove the ballast");
    let after = batched_rounds(&fleet, &srv.url, 9..11);
    for ((s, d), a) in seen.iter_mut().zip(during).zip(after) {
        *s = (*s).max(d).max(a);
    }

    drop(srv);
    let srv = Server::start(&db, &no_data(&env), &env.secret(), &[], &env.cache());
    fleet.assert_stored(&srv.url);
    for ((node, _), at) in fleet.tokens.iter().zip(seen) {
        let v = get_json(&format!("{}/v1/nodes/{node}", srv.url));
        let last = v["last_seen"]
            .as_str()
            .and_then(nminus::Millis::parse)
            .expect("last_seen");
        assert!(
            last.0 >= at,
            "{node}: an acknowledged heartbeat at {at} is not stored (last seen {})",
            last.0
        );
    }
}

#[test]
fn postgres_disk_full_loses_no_acknowledged_push() {
    let pg = PgCluster::start();
    let fs = Tmpfs::mount("24m");
    // The database lives in a tablespace on the tmpfs (its WAL stays in the data directory).
    let ts = fs.path().join("ts");
    fs_err::create_dir(&ts).expect("tablespace directory");
    if pg.runs_as_postgres() {
        let st = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&ts)
            .status()
            .expect("chown");
        assert!(st.success(), "cannot chown {}", ts.display());
    }
    pg.sql(
        "postgres",
        &format!("CREATE TABLESPACE small LOCATION '{}'", ts.display()),
    );
    pg.sql("postgres", "CREATE DATABASE full_disk TABLESPACE small");
    let env = Env::new();
    disk_full(&pg.url("full_disk"), &fs, &env);
}

// ---------------------------------------------------------------------------------------------
// kill -9.

/// Three times: a burst of concurrent pushes, `kill -9` in the middle of it, a restart; then
/// every acknowledged push is stored.
fn kill_9_bursts(db: &str) {
    let env = Env::new();
    let data = no_data(&env);
    let mut srv = Server::start(db, &data, &env.secret(), &[], &env.cache());
    const NODES: usize = 6;
    let fleet = Fleet::enroll(&srv.url, "k", NODES);
    for round in 0..3 {
        let health = HealthWatch::start(&srv.url);
        let stop = Arc::new(AtomicBool::new(false));
        let before = fleet.acked().len();
        let threads: Vec<_> = (0..NODES)
            .map(|i| {
                let (fleet, stop, url) = (Arc::clone(&fleet), Arc::clone(&stop), srv.url.clone());
                std::thread::spawn(move || {
                    for n in 0..10_000 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        match fleet.push(&url, i, round * 10_000 + n, 60) {
                            Pushed::NoAnswer => break,
                            Pushed::Acked(_) | Pushed::Failed(..) => {}
                        }
                    }
                })
            })
            .collect();
        // Kill once the burst has stored some pushes (bounded: the pushers stop by themselves).
        for _ in 0..6_000 {
            if fleet.acked().len() >= before + 30 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        health.finish();
        srv.kill9();
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().expect("pusher");
        }
        assert!(
            fleet.acked().len() >= before + 30,
            "the burst stored too little before the kill\n{}",
            srv.log()
        );
        srv = Server::start(db, &data, &env.secret(), &[], &env.cache());
        fleet.assert_stored(&srv.url);
    }
    assert_eq!(fleet.failed.load(Ordering::SeqCst), 0, "pushes failed");
}

#[test]
fn kill_9_in_bursts_loses_no_acknowledged_push_sqlite() {
    let (_dir, url) = sqlite_url();
    kill_9_bursts(&url);
}

#[test]
fn kill_9_in_bursts_loses_no_acknowledged_push_postgres() {
    let pg = PgCluster::start();
    kill_9_bursts(&pg.database("killed"));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL outages.

/// Pushers that run until stopped, each over its own node.
struct Pushers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pushers {
    fn start(fleet: &Arc<Fleet>, url: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..fleet.tokens.len())
            .map(|i| {
                let (fleet, stop, url) = (Arc::clone(fleet), Arc::clone(&stop), url.to_owned());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        if fleet.push(&url, i, n, 60) == Pushed::NoAnswer {
                            panic!("a push got no answer from a running server");
                        }
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().expect("pusher");
        }
    }
}

/// Wait (bounded) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1_200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting until {what}");
}

/// PostgreSQL crashes (`-m immediate`) and stops cleanly during pushes, then is frozen
/// (SIGSTOP): the server answers `/healthz` throughout, `/readyz` (not ready) and pushes (503)
/// during each outage, recovers after each, and every acknowledged push is stored.
#[test]
fn postgres_outages_during_pushes_lose_no_acknowledged_push() {
    let pg = PgCluster::start();
    let db = pg.database("outages");
    let env = Env::new();
    // The pushers push as fast as the server answers (a node reached the rate limit's burst of
    // 200 within the test once pushes were batched): the rate limit is not under test here.
    let unlimited = ["--push-rate-limit", "0"];
    let srv = Server::start(&db, &no_data(&env), &env.secret(), &unlimited, &env.cache());
    let health = HealthWatch::start(&srv.url);
    let fleet = Fleet::enroll(&srv.url, "o", 6);
    let pushers = Pushers::start(&fleet, &srv.url);
    let acked_now = || fleet.acked().len();

    for mode in ["immediate", "fast"] {
        let before = acked_now();
        wait_until("pushes are stored", || acked_now() >= before + 20);
        pg.stop_server(mode);
        assert_eq!(readyz(&srv.url), 503, "ready while PostgreSQL is down");
        let failed = fleet.failed.load(Ordering::SeqCst);
        wait_until("a push fails while PostgreSQL is down", || {
            fleet.failed.load(Ordering::SeqCst) > failed
        });
        pg.start_server();
        wait_until("ready again", || readyz(&srv.url) == 200);
        let after = acked_now();
        wait_until("pushes are stored again", || acked_now() >= after + 20);
    }

    // Frozen: connections hang rather than fail. /readyz must still answer.
    pushers.finish();
    let pids = postgres_pids(&pg);
    signal(&pids, "STOP");
    let frozen = readyz(&srv.url);
    let live = get(&format!("{}/healthz", srv.url)).status().as_u16();
    // A push started during the freeze fails (the pool's acquire timeout) instead of hanging.
    let pushed = fleet.push(&srv.url, 0, 999_999, 60);
    signal(&pids, "CONT");
    assert_eq!(
        (frozen, live, pushed),
        (503, 200, Pushed::Failed(503, "storage-unavailable".into())),
        "with PostgreSQL frozen: /readyz, /healthz, a push"
    );
    wait_until("ready after the freeze", || readyz(&srv.url) == 200);
    for i in 0..fleet.tokens.len() {
        let p = fleet.push(&srv.url, i, 1_000_000, 60);
        assert!(matches!(p, Pushed::Acked(_)), "after the outages: {p:?}");
    }
    health.finish();
    fleet.assert_stored(&srv.url);
    drop(srv);
    let srv = Server::start(&db, &no_data(&env), &env.secret(), &[], &env.cache());
    fleet.assert_stored(&srv.url);
}

/// The postmaster and its children.
fn postgres_pids(pg: &PgCluster) -> Vec<String> {
    let pidfile = fs_err::read_to_string(pg.data().join("postmaster.pid")).expect("postmaster.pid");
    let main = pidfile.lines().next().expect("pid").trim().to_owned();
    let children = Command::new("pgrep")
        .args(["-P", &main])
        .output()
        .expect("pgrep");
    std::iter::once(main)
        .chain(
            String::from_utf8_lossy(&children.stdout)
                .split_whitespace()
                .map(str::to_owned),
        )
        .collect()
}

fn signal(pids: &[String], sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids)
        .status()
        .expect("kill");
    assert!(st.success(), "kill -{sig} {pids:?}");
}

// ---------------------------------------------------------------------------------------------
// Two replicas.

/// One node pushes through two replicas at once, round after round (both pushes of a round
/// start together): after every round its current inventory is its newest history entry, and
/// every acknowledged push is stored.
#[test]
fn one_node_through_two_replicas_keeps_its_newest_push_current() {
    let pg = PgCluster::start();
    let db = pg.database("two_replicas");
    let env = Env::new();
    let data = no_data(&env);
    let a = Server::start(&db, &data, &env.secret(), &[], &env.cache());
    let b = Server::start(&db, &data, &env.secret(), &[], &env.cache());
    let fleet = Fleet::enroll(&a.url, "twice", 1);
    let node = fleet.tokens[0].0.clone();
    const PER_ROUND: usize = 4;
    let mut mismatches = Vec::new();
    for round in 0..50 {
        let barrier = Arc::new(Barrier::new(PER_ROUND));
        let threads: Vec<_> = (0..PER_ROUND)
            .map(|k| {
                let url = if k % 2 == 0 {
                    a.url.clone()
                } else {
                    b.url.clone()
                };
                let (fleet, barrier) = (Arc::clone(&fleet), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    fleet.push(&url, 0, round * PER_ROUND + k, 20)
                })
            })
            .collect();
        for t in threads {
            let p = t.join().expect("pusher");
            assert!(matches!(p, Pushed::Acked(_)), "round {round}: {p:?}");
        }
        let history = get_json(&format!("{}/v1/nodes/{node}/history", a.url));
        let current = get_json(&format!("{}/v1/nodes/{node}", b.url));
        if current["current_hash"] != history[0]["hash"] {
            mismatches.push(round);
        }
    }
    assert!(
        mismatches.is_empty(),
        "after rounds {mismatches:?} the current inventory was not the newest history entry"
    );
    fleet.assert_stored(&a.url);
    assert_eq!(fleet.acked().len(), 50 * PER_ROUND);
}

// ---------------------------------------------------------------------------------------------
// Lock contention.

/// Another connection on the same SQLite file (as `nminus node` on the file, or a `TRUNCATE`
/// checkpoint) that takes the write lock for 150 ms, lets go for 100 ms, until stopped; the
/// number of times it held the lock.
fn hold_write_lock_repeatedly(url: &str, stop: &AtomicBool) -> usize {
    use sqlx::Connection as _;
    use std::str::FromStr as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .expect("URL")
            .busy_timeout(Duration::from_secs(10));
        let mut c = sqlx::SqliteConnection::connect_with(&opts)
            .await
            .expect("second connection");
        let mut held = 0;
        while !stop.load(Ordering::SeqCst) {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .expect("write lock");
            sqlx::query("INSERT INTO write_probe (id, filler) VALUES (7, x'00')")
                .execute(&mut c)
                .await
                .expect("write");
            tokio::time::sleep(Duration::from_millis(150)).await;
            sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .expect("rollback");
            held += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        held
    })
}

/// Issue 16 item 1: nodes push at once while another connection on the same SQLite file keeps
/// taking the write lock. Before write transactions began `IMMEDIATE`, a push that had read
/// when the other connection took the lock failed at once with "database is locked" (SQLite
/// does not wait for the lock in a transaction that has read), a 503. Every push must be
/// answered 2xx and be stored.
#[test]
fn concurrent_pushes_beside_another_sqlite_writer_are_all_stored() {
    let (_dir, url) = sqlite_url();
    let env = Env::new();
    let srv = Server::start(&url, &no_data(&env), &env.secret(), &[], &env.cache());
    const NODES: usize = 8;
    const PUSHES: usize = 10;
    let fleet = Fleet::enroll(&srv.url, "l", NODES);
    let stop = Arc::new(AtomicBool::new(false));
    let locker = {
        let (stop, url) = (Arc::clone(&stop), url.clone());
        std::thread::spawn(move || hold_write_lock_repeatedly(&url, &stop))
    };
    let start = Arc::new(Barrier::new(NODES));
    let pushers: Vec<_> = (0..NODES)
        .map(|i| {
            let (fleet, start, url) = (Arc::clone(&fleet), Arc::clone(&start), srv.url.clone());
            std::thread::spawn(move || {
                start.wait();
                for n in 0..PUSHES {
                    match fleet.push(&url, i, n + 1, 60) {
                        Pushed::Acked(_) => {}
                        other => panic!("push {n} of node {i}: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().expect("pusher");
    }
    stop.store(true, Ordering::SeqCst);
    let held = locker.join().expect("locker");
    assert!(
        held >= 2,
        "the other connection held the lock only {held} times"
    );
    assert_eq!(fleet.failed.load(Ordering::SeqCst), 0, "pushes failed");
    assert_eq!(fleet.acked().len(), NODES * PUSHES);
    fleet.assert_stored(&srv.url);
}
