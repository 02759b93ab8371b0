//! Fleet simulator: `nminus serve` on loopback (SQLite, then PostgreSQL) with N simulated nodes
//! built from real inventories — the shared data's dpkg (this machine's Debian 12), rpm (CBL
//! Mariner 2.0 rpmdb.sqlite) and apk (Alpine) databases, each with one of the shared OpenStack
//! site-packages fixtures (yoga, flamingo, gazpacho) — spread over sites that differ in OS,
//! OpenStack series and patch level (a share of each site's package versions moved on), with
//! about 3 % of the versions varied per node. Every push goes through the real HTTP API. The
//! inventory bodies are built and gzipped before the clock starts, so that a phase measures
//! the server rather than the load generator (which runs on the same cores).
//!
//! Per size it prints: first inventories/s, unchanged heartbeats/s, changed inventories/s (each
//! with p50/p99), the time of `POST /v1/reanalyze`, the server's peak RSS (`VmHWM`) after ingest
//! and after the re-analysis, and the database size (SQLite: `page_count × page_size` after a
//! checkpoint, per node and per changed push, and the largest WAL seen; PostgreSQL: the data
//! directory). Environment: `NMINUS_BENCH_PEER_BIN` (a peer build's server, run first at each
//! size), `NMINUS_BENCH_THIS_BIN`, `NMINUS_FLEET_PERF=<dir>`, `NMINUS_FLEET_REANALYZE=0`.
//!
//! `cargo bench --bench fleet` runs SQLite at 1,000 and 10,000 nodes and PostgreSQL at 10,000
//! with the shared data's feeds; `NMINUS_FLEET_SIZES=sqlite:1000,postgres:50000` chooses others.
//! Under `cargo test` it is a smoke run of 20 nodes on SQLite without feeds that prints figures
//! only.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{gzip, shared, Pg, Server};
use nminus::model::{Inventory, NodeInfo, Package};
use nminus::{collect_root, CollectOptions, Root};

/// One site: its base OS packages, its OpenStack series, its patch level.
struct Site {
    name: String,
    inv: Inventory,
}

fn collect(root: &Path) -> Inventory {
    collect_root(
        &Root::new(root),
        &CollectOptions {
            node: NodeInfo {
                id: "template".into(),
                ..NodeInfo::default()
            },
            collected_at: "2026-01-01T00:00:00Z".into(),
        },
    )
}

/// A root holding `db` (a file of the shared data) at `at`, with an os-release.
fn os_root(tmp: &Path, name: &str, db: &str, at: &str, os_release: &str) -> Inventory {
    let root = tmp.join(name);
    let dest = root.join(at);
    fs_err::create_dir_all(dest.parent().unwrap()).unwrap();
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::copy(shared(db), &dest).unwrap();
    fs_err::write(root.join("etc/os-release"), os_release).unwrap();
    collect(&root)
}

/// Move `share` of the versions on (deterministically by `seed`): a later patch level.
fn patch(packages: &mut [Package], share_permille: u64, seed: u64, tag: &str) {
    for (k, p) in packages.iter_mut().enumerate() {
        let h = (k as u64 + 1)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(seed.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        if (h >> 33) % 1000 < share_permille {
            p.version = format!("{}+{tag}", p.version);
        }
    }
}

fn sites(tmp: &Path) -> Vec<Site> {
    let deb = os_root(
        tmp,
        "deb",
        "fixtures/dpkg/this-debian12/status",
        "var/lib/dpkg/status",
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    );
    let rpm = os_root(
        tmp,
        "rpm",
        "fixtures/rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
        "var/lib/rpm/rpmdb.sqlite",
        "ID=mariner\nVERSION_ID=\"2.0\"\n",
    );
    let apk = os_root(
        tmp,
        "apk",
        "fixtures/apk/fanal/apk",
        "lib/apk/db/installed",
        "ID=alpine\nVERSION_ID=3.4.0\n",
    );
    let py = |series: &str| {
        collect(&shared(&format!(
            "fixtures/python/openstack-site-packages/{series}"
        )))
        .packages
    };
    let plan: [(&str, &Inventory, &str, u64); 6] = [
        ("par1", &deb, "2025.2-flamingo", 0),
        ("par2", &deb, "2025.2-flamingo", 20),
        ("fra1", &deb, "2022.1-yoga", 50),
        ("ams1", &rpm, "2026.1-gazpacho", 10),
        ("lon1", &rpm, "2022.1-yoga", 30),
        ("edge1", &apk, "2025.2-flamingo", 40),
    ];
    plan.iter()
        .enumerate()
        .map(|(i, (name, os, series, level))| {
            let mut inv = (*os).clone();
            inv.packages.extend(py(series));
            patch(&mut inv.packages, *level, i as u64, &format!("{name}u1"));
            Site {
                name: (*name).to_owned(),
                inv,
            }
        })
        .collect()
}

/// Node `i`'s inventory, revision `rev` (each later revision moves one more version on).
fn node_body(sites: &[Site], i: usize, rev: usize) -> Vec<u8> {
    let site = &sites[i % sites.len()];
    let mut inv = site.inv.clone();
    patch(&mut inv.packages, 30, 1000 + i as u64, &format!("n{i}"));
    if rev > 0 {
        let k = (i * 31 + rev * 7) % inv.packages.len();
        inv.packages[k].version = format!("{}+r{rev}", inv.packages[k].version);
    }
    inv.node = NodeInfo {
        id: format!("node{i:05}"),
        hostname: Some(format!("node{i:05}")),
        site: Some(site.name.clone()),
        cell: Some(format!("cell{}", i % 7)),
        labels: [("role".to_owned(), "compute".to_owned())].into(),
    };
    gzip(&serde_json::to_vec(&inv).unwrap())
}

#[derive(Default)]
struct Phase {
    ok: usize,
    failed: usize,
    secs: f64,
    lat: Vec<f64>,
}

impl Phase {
    fn ms(&mut self, q: f64) -> f64 {
        if self.lat.is_empty() {
            return 0.0;
        }
        self.lat.sort_by(f64::total_cmp);
        self.lat[((self.lat.len() as f64 - 1.0) * q).round() as usize] * 1e3
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }

    fn line(&mut self, backend: &str, n: usize, name: &str) -> String {
        let (p50, p99) = (self.ms(0.5), self.ms(0.99));
        format!(
            "{backend:8} {n:6} nodes  {name:22} {:6} ok {:3} failed in {:7.2} s: {:8.0}/s  p50 {:7.2} ms  p99 {:8.2} ms",
            self.ok,
            self.failed,
            self.secs,
            self.rate(),
            p50,
            p99
        )
    }
}

/// What each worker sends: node index and its gzipped inventory, or node index (a heartbeat
/// of its current hash).
enum Job {
    Inventory(usize, Vec<u8>),
    Heartbeat(usize),
}

/// One size's inventory bodies, gzipped before any clock starts (and shared by the peer's and
/// this build's runs), so that a phase measures the server, not the load generator's JSON and
/// gzip on the same cores.
struct Bodies {
    /// Node `i`'s first inventory.
    first: Vec<Vec<u8>>,
    /// The changed phase's pushes, in order: node index and body.
    changed: Vec<(usize, Vec<u8>)>,
    /// Building them took this long.
    secs: f64,
}

impl Bodies {
    fn build(sites: &[Site], n: usize, s: Scale) -> Self {
        let t = Instant::now();
        let first: Vec<(usize, usize)> = (0..n).map(|i| (i, 0)).collect();
        let changed: Vec<(usize, usize)> = (0..s.changed)
            .map(|k| ((k * 104_729) % n, 1 + k / n))
            .collect();
        let first = build_bodies(sites, &first);
        let changed = changed
            .iter()
            .map(|&(i, _)| i)
            .zip(build_bodies(sites, &changed))
            .collect();
        Self {
            first,
            changed,
            secs: t.elapsed().as_secs_f64(),
        }
    }

    fn bytes(&self) -> usize {
        self.first.iter().map(Vec::len).sum::<usize>()
            + self.changed.iter().map(|(_, b)| b.len()).sum::<usize>()
    }
}

/// [`node_body`] of each (node, revision), in order, built on every core.
fn build_bodies(sites: &[Site], which: &[(usize, usize)]) -> Vec<Vec<u8>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per = which.len().div_ceil(threads).max(1);
    std::thread::scope(|sc| {
        let hs: Vec<_> = which
            .chunks(per)
            .map(|part| {
                sc.spawn(move || {
                    part.iter()
                        .map(|&(i, rev)| node_body(sites, i, rev))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

struct Fleet {
    url: String,
    client: reqwest::Client,
    tokens: Vec<String>,
    hashes: Vec<std::sync::Mutex<String>>,
}

impl Fleet {
    async fn post(&self, i: usize, body: Vec<u8>, gz: bool) -> bool {
        let mut rq = self
            .client
            .post(format!("{}/v1/inventories", self.url))
            .bearer_auth(&self.tokens[i])
            .header("content-type", "application/json");
        if gz {
            rq = rq.header("content-encoding", "gzip");
        }
        match rq.body(body).send().await {
            Ok(r) if r.status().is_success() => {
                let v: serde_json::Value =
                    serde_json::from_slice(&r.bytes().await.unwrap_or_default())
                        .unwrap_or_default();
                if let Some(h) = v["hash"].as_str() {
                    *self.hashes[i].lock().unwrap() = h.to_owned();
                }
                true
            }
            _ => false,
        }
    }

    async fn run(&self, job: Job) -> bool {
        match job {
            Job::Inventory(i, body) => self.post(i, body, true).await,
            Job::Heartbeat(i) => {
                let h = self.hashes[i].lock().unwrap().clone();
                self.post(i, format!(r#"{{"heartbeat":"{h}"}}"#).into_bytes(), false)
                    .await
            }
        }
    }
}

/// Run `jobs` (built before the clock starts) with `workers` concurrent clients, stopping
/// after `limit`.
async fn phase(fleet: &Arc<Fleet>, jobs: Vec<Job>, workers: usize, limit: Duration) -> Phase {
    let jobs = Arc::new(std::sync::Mutex::new(jobs.into_iter()));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..workers)
        .map(|_| {
            let (fleet, jobs) = (Arc::clone(fleet), Arc::clone(&jobs));
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let job = jobs.lock().unwrap().next();
                    let Some(job) = job.filter(|_| t0.elapsed() <= limit) else {
                        return out;
                    };
                    let t = Instant::now();
                    let ok = fleet.run(job).await;
                    out.push((ok, t.elapsed().as_secs_f64()));
                }
            })
        })
        .collect();
    let mut p = Phase::default();
    for h in hs {
        for (ok, l) in h.await.unwrap() {
            if ok {
                p.ok += 1;
            } else {
                p.failed += 1;
            }
            p.lat.push(l);
        }
    }
    p.secs = t0.elapsed().as_secs_f64();
    p
}

async fn enroll_all(url: &str, client: &reqwest::Client, n: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
        let hs: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let (c, url) = (client.clone(), url.to_owned());
                tokio::spawn(async move {
                    let r = c
                        .post(format!("{url}/v1/enroll"))
                        .bearer_auth("bench-secret")
                        .body(format!(r#"{{"node":"node{i:05}"}}"#))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                    let v: serde_json::Value =
                        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                    v["token"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        for h in hs {
            tokens.push(h.await.unwrap());
        }
    }
    tokens
}

/// Bounds of one size's phases.
#[derive(Clone, Copy)]
struct Scale {
    workers: usize,
    heartbeats: usize,
    changed: usize,
    limit: Duration,
}

struct Figures {
    first: Phase,
    heartbeats: Phase,
    changed: Phase,
    reanalyze: f64,
}

/// Called before (`true`) and after (`false`) each phase: `first`, `heartbeats`, `changed`.
type Hook<'a> = &'a (dyn Fn(&'static str, bool) + Sync);

async fn simulate(url: String, bodies: &Bodies, n: usize, s: Scale, hook: Hook<'_>) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(s.workers * 2)
        .timeout(Duration::from_secs(900))
        .build()
        .unwrap();
    let tokens = enroll_all(&url, &client, n).await;
    let fleet = Arc::new(Fleet {
        url: url.clone(),
        client: client.clone(),
        hashes: (0..n)
            .map(|_| std::sync::Mutex::new(String::new()))
            .collect(),
        tokens,
    });
    let all = Duration::from_secs(3600);
    let jobs = bodies.first.iter().enumerate();
    let jobs = jobs.map(|(i, b)| Job::Inventory(i, b.clone())).collect();
    hook("first", true);
    let first = phase(&fleet, jobs, s.workers, all).await;
    hook("first", false);
    let jobs = (0..s.heartbeats).map(|k| Job::Heartbeat((k * 7919) % n));
    let jobs = jobs.collect();
    hook("heartbeats", true);
    let heartbeats = phase(&fleet, jobs, s.workers, s.limit).await;
    hook("heartbeats", false);
    let jobs = bodies.changed.iter();
    let jobs = jobs.map(|(i, b)| Job::Inventory(*i, b.clone())).collect();
    hook("changed", true);
    let changed = phase(&fleet, jobs, s.workers, s.limit).await;
    hook("changed", false);
    let t = Instant::now();
    // `NMINUS_FLEET_REANALYZE=0`: ingest only (the re-analysis is `benches/reanalyze.rs`'s).
    if std::env::var("NMINUS_FLEET_REANALYZE").as_deref() != Ok("0") {
        let r = client
            .post(format!("{url}/v1/reanalyze"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "reanalyze: {}", r.status());
    }
    Figures {
        first,
        heartbeats,
        changed,
        reanalyze: t.elapsed().as_secs_f64(),
    }
}

fn dir_bytes(p: &Path) -> u64 {
    let mut total = 0;
    let Ok(rd) = fs_err::read_dir(p) else {
        return 0;
    };
    for e in rd.flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

/// The SQLite database's size as SQLite counts it, `page_count × page_size`, after a
/// `TRUNCATE` checkpoint from a connection of its own (the WAL is not counted).
fn sqlite_bytes(file: &Path) -> u64 {
    let c = rusqlite::Connection::open(file).unwrap();
    c.busy_timeout(Duration::from_secs(60)).unwrap();
    let busy: i64 = c
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    if busy != 0 {
        eprintln!(
            "the checkpoint before measuring {} was held off",
            file.display()
        );
    }
    let pages: u64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let size: u64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    pages * size
}

/// The largest size a file reached, polled every 20 ms from a thread until dropped.
struct Watch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    max: Arc<std::sync::atomic::AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(file: std::path::PathBuf) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let max = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (s, m) = (Arc::clone(&stop), Arc::clone(&max));
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Ok(md) = fs_err::metadata(&file) {
                    m.fetch_max(md.len(), Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            stop,
            max,
            handle: Some(handle),
        }
    }

    fn max(&self) -> u64 {
        self.max.load(Ordering::SeqCst)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `perf record -g` of process `pid` into `out` until [`Perf::stop`].
struct Perf(std::process::Child);

impl Perf {
    fn start(pid: u32, out: &Path) -> Option<Self> {
        std::process::Command::new("perf")
            .args(["record", "-g", "-q", "-p", &pid.to_string(), "-o"])
            .arg(out)
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()
            .map(Self)
    }

    fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<(String, usize)> = match std::env::var("NMINUS_FLEET_SIZES") {
        Ok(v) if bench => v
            .split(',')
            .filter_map(|s| {
                let (b, n) = s.trim().split_once(':')?;
                Some((b.to_owned(), n.parse().ok()?))
            })
            .collect(),
        _ if bench => vec![
            ("sqlite".into(), 1000),
            ("sqlite".into(), 10_000),
            ("postgres".into(), 10_000),
        ],
        _ => vec![("sqlite".into(), 20)],
    };
    let scale = if bench {
        Scale {
            workers: 64,
            heartbeats: 100_000,
            changed: 3000,
            limit: Duration::from_secs(20),
        }
    } else {
        Scale {
            workers: 4,
            heartbeats: 200,
            changed: 20,
            limit: Duration::from_secs(2),
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret");
    fs_err::write(&secret, "bench-secret\n").unwrap();
    let empty = tmp.path().join("no-data");
    fs_err::create_dir_all(&empty).unwrap();
    let data = if bench { shared("") } else { empty };
    let sites = sites(tmp.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let per_site: Vec<String> = sites
        .iter()
        .map(|s| format!("{} {}", s.name, s.inv.packages.len()))
        .collect();
    println!(
        "fleet simulator: sites (packages per node) {}; ~3 % of versions varied per node; feeds: {}; {} concurrent clients",
        per_site.join(", "),
        if bench { "shared data" } else { "none" },
        scale.workers
    );
    // `NMINUS_BENCH_PEER_BIN=<path>`: another build of `nminus` (say, main's) runs each size
    // first, in the same run; `NMINUS_FLEET_PERF=<dir>`: `perf record -g` of the server during
    // the heartbeat and changed-inventory phases, into that directory.
    let peer = std::env::var_os("NMINUS_BENCH_PEER_BIN").filter(|_| bench);
    let perf_dir = std::env::var_os("NMINUS_FLEET_PERF").map(std::path::PathBuf::from);
    let mut bins: Vec<(&str, std::path::PathBuf)> = Vec::new();
    bins.extend(peer.map(|p| ("peer", p.into())));
    // `NMINUS_BENCH_THIS_BIN=<path>`: a copy of this build's `nminus` (the shared bench target
    // directory's may be rebuilt by another branch meanwhile).
    let this = std::env::var_os("NMINUS_BENCH_THIS_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_nminus").into(), Into::into);
    bins.push(("this", this));
    let mut k = 0;
    for (backend, n) in &sizes {
        let bodies = Bodies::build(&sites, *n, scale);
        println!(
            "{backend:8} {n:6} nodes  {} first and {} changed inventories built and gzipped before the clock in {:.1} s ({:.1} MiB)",
            bodies.first.len(),
            bodies.changed.len(),
            bodies.secs,
            bodies.bytes() as f64 / 1048576.0
        );
        for (who, bin) in &bins {
            k += 1;
            let label = format!("{backend}/{who}");
            run_one(
                &rt,
                &label,
                backend,
                *n,
                bin,
                &bodies,
                scale,
                &tmp,
                k,
                &data,
                &secret,
                perf_dir.as_deref(),
                bench,
            );
        }
    }
}

/// One size on one backend with one build: the phases, then their figures.
#[allow(clippy::too_many_arguments)]
fn run_one(
    rt: &tokio::runtime::Runtime,
    label: &str,
    backend: &str,
    n: usize,
    bin: &Path,
    bodies: &Bodies,
    scale: Scale,
    tmp: &tempfile::TempDir,
    k: usize,
    data: &Path,
    secret: &Path,
    perf_dir: Option<&Path>,
    bench: bool,
) {
    let n = &n;
    {
        let pg;
        let file = tmp.path().join(format!("fleet{k}.db"));
        let (db, size_of): (String, Box<dyn Fn() -> u64 + Sync>) = if backend == "postgres" {
            pg = Pg::start();
            let dir = pg.data_dir();
            (pg.url(), Box::new(move || dir_bytes(&dir)))
        } else {
            let f = file.clone();
            (
                format!("sqlite://{}", file.display()),
                Box::new(move || sqlite_bytes(&f)),
            )
        };
        let wal = (backend != "postgres")
            .then(|| Watch::start(tmp.path().join(format!("fleet{k}.db-wal"))));
        let srv = Server::start_bin(bin, &db, data, secret, &tmp.path().join("cache"));
        let url = srv.url.clone();
        let sizes = std::sync::Mutex::new(std::collections::HashMap::new());
        let perf = std::sync::Mutex::new(None);
        let pid = srv.pid();
        let cpu = std::sync::Mutex::new(std::collections::HashMap::new());
        let hook = |phase: &'static str, start: bool| {
            let now = srv.cpu_secs();
            *cpu.lock().unwrap().entry(phase).or_insert(0.0) += if start { -now } else { now };
            if let (Some(dir), true) = (perf_dir, phase != "first") {
                if start {
                    let out = dir.join(format!("{}-{n}-{phase}.data", label.replace('/', "-")));
                    *perf.lock().unwrap() = Perf::start(pid, &out);
                } else if let Some(p) = perf.lock().unwrap().take() {
                    p.stop();
                }
            }
            if !start {
                sizes.lock().unwrap().insert(phase, size_of());
            }
        };
        let mut ingest_rss = 0;
        let mut f = rt.block_on(async {
            let f = simulate(url, bodies, *n, scale, &hook).await;
            ingest_rss = srv.peak_rss_kib();
            f
        });
        let rss = srv.peak_rss_kib();
        drop(srv);
        let cpu = cpu.into_inner().unwrap();
        let per =
            |phase: &str, p: &Phase| cpu.get(phase).copied().unwrap_or(0.0) / p.ok.max(1) as f64;
        let sizes = sizes.into_inner().unwrap();
        let at = |p: &str| sizes.get(p).copied().unwrap_or(0);
        let bytes = size_of();
        let backend = label;
        println!("{}", f.first.line(backend, *n, "first inventories"));
        println!("{}", f.heartbeats.line(backend, *n, "unchanged heartbeats"));
        println!("{}", f.changed.line(backend, *n, "changed inventories"));
        let per_push =
            at("changed").saturating_sub(at("heartbeats")) as f64 / f.changed.ok.max(1) as f64;
        println!(
            "{backend:8} {n:6} nodes  re-analysis {:.2} s; peak RSS {} MiB (after the re-analysis; {} MiB ingesting at most); database {:.1} MiB after the first inventories ({:.1} KiB a node), {:.1} KiB per changed push, {:.1} MiB at the end ({} stored inventories){}",
            f.reanalyze,
            rss / 1024,
            ingest_rss / 1024,
            at("first") as f64 / 1048576.0,
            at("first") as f64 / 1024.0 / *n as f64,
            per_push / 1024.0,
            bytes as f64 / 1048576.0,
            f.first.ok + f.changed.ok,
            wal.as_ref().map_or(String::new(), |w| format!("; largest WAL {:.1} MiB", w.max() as f64 / 1048576.0)),
        );
        println!(
            "{backend:8} {n:6} nodes  server CPU (user + system): {:.2} ms a first inventory, {:.0} µs a heartbeat ({:.2} cores), {:.2} ms a changed inventory ({:.2} cores)",
            per("first", &f.first) * 1e3,
            per("heartbeats", &f.heartbeats) * 1e6,
            per("heartbeats", &f.heartbeats) * f.heartbeats.rate(),
            per("changed", &f.changed) * 1e3,
            per("changed", &f.changed) * f.changed.rate(),
        );
        if bench && backend.starts_with("sqlite") && *n >= 10_000 {
            let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
            println!(
                "goals at {n} nodes: heartbeats ≥ 5,000/s {}; changed ≥ 500/s {}; RSS ≤ 500 MiB {}",
                verdict(f.heartbeats.rate() >= 5000.0),
                verdict(f.changed.rate() >= 500.0),
                verdict(rss <= 500 * 1024)
            );
        }
        for (name, p) in [
            ("first", &f.first),
            ("heartbeats", &f.heartbeats),
            ("changed", &f.changed),
        ] {
            assert_eq!(
                p.failed, 0,
                "{backend} {n}: {} {name} pushes failed",
                p.failed
            );
        }
    }
}
