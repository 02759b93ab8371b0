//! Load benchmark of `nminus serve`, on loopback only and bounded in count and time: simulated
//! agents (1,000 under `cargo bench`) enroll, push their first inventory (a real Debian 12 node:
//! 733 dpkg packages, gzipped, each node its own), then push mostly unchanged inventories
//! (heartbeats, as `nminus agent` sends them, with a share of changed ones). For SQLite and for
//! PostgreSQL (an ephemeral cluster with Debian's binaries, default durability settings):
//! pushes per second, p50/p99 latency, and the server's peak RSS (`VmHWM`).
//!
//! `cargo bench --bench serve`; under `cargo test` it runs 20 agents for about a second per phase
//! as a smoke test. Targets (2 cores, SQLite): ≥ 2,000 unchanged pushes/s, ≥ 200 changed
//! inventories/s.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nminus::model::{Inventory, NodeInfo};
use nminus::{collect_root, CollectOptions, Root};

#[derive(Clone, Copy)]
struct Scale {
    agents: usize,
    workers: usize,
    phase: Duration,
    max_pushes: usize,
    changed_share: f64,
}

mod common;

use common::{gzip, shared, Pg, Server};

fn base_inventory(tmp: &Path) -> Inventory {
    let root = tmp.join("deb-root");
    fs_err::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::copy(
        shared("fixtures/dpkg/this-debian12/status"),
        root.join("var/lib/dpkg/status"),
    )
    .unwrap();
    fs_err::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
    )
    .unwrap();
    collect_root(
        &Root::new(&root),
        &CollectOptions {
            node: NodeInfo {
                id: "template".into(),
                ..NodeInfo::default()
            },
            collected_at: "2026-01-01T00:00:00Z".into(),
        },
    )
}

/// The inventory of agent `i`, version `rev` (a changed package version per revision).
fn body(base: &Inventory, i: usize, rev: usize) -> Vec<u8> {
    let mut inv = base.clone();
    inv.node = NodeInfo {
        id: format!("node{i:04}"),
        hostname: Some(format!("node{i:04}")),
        site: Some(format!("site{}", i % 3)),
        cell: Some(format!("cell{}", i % 10)),
        labels: [("role".to_owned(), "compute".to_owned())].into(),
    };
    if rev > 0 {
        let k = (i + rev) % inv.packages.len();
        inv.packages[k].version = format!("{}+bench{rev}", inv.packages[k].version);
    }
    gzip(&serde_json::to_vec(&inv).unwrap())
}

#[derive(Default)]
struct Phase {
    name: &'static str,
    ok: usize,
    failed: usize,
    changed: usize,
    secs: f64,
    lat: Vec<f64>,
}

impl Phase {
    fn quantile(&mut self, q: f64) -> f64 {
        if self.lat.is_empty() {
            return 0.0;
        }
        self.lat.sort_by(f64::total_cmp);
        let i = ((self.lat.len() as f64 - 1.0) * q).round() as usize;
        self.lat[i] * 1e3
    }
}

struct Agent {
    token: String,
    hash: String,
}

async fn enroll(c: &reqwest::Client, url: &str, i: usize) -> String {
    let r = c
        .post(format!("{url}/v1/enroll"))
        .bearer_auth("bench-secret")
        .body(format!(r#"{{"node":"node{i:04}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// POST one body; returns (2xx, hash answered).
async fn post(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    body: Vec<u8>,
    gz: bool,
) -> (bool, Option<String>) {
    let mut rq = c
        .post(format!("{url}/v1/inventories"))
        .bearer_auth(token)
        .header("content-type", "application/json");
    if gz {
        rq = rq.header("content-encoding", "gzip");
    }
    match rq.body(body).send().await {
        Ok(r) if r.status().is_success() => {
            let v: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or_default();
            (true, v["hash"].as_str().map(str::to_owned))
        }
        _ => (false, None),
    }
}

async fn load(url: String, base: Arc<Inventory>, s: Scale) -> Vec<Phase> {
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(s.workers * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // Enroll.
    let mut agents = Vec::with_capacity(s.agents);
    for chunk in (0..s.agents).collect::<Vec<_>>().chunks(64) {
        let hs: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let (c, url) = (c.clone(), url.clone());
                tokio::spawn(async move { enroll(&c, &url, i).await })
            })
            .collect();
        for h in hs {
            agents.push(Agent {
                token: h.await.unwrap(),
                hash: String::new(),
            });
        }
    }
    // Bodies made before timing (agents gzip on their own CPU, not the server's).
    let first: Vec<Vec<u8>> = {
        let base = Arc::clone(&base);
        tokio::task::spawn_blocking(move || (0..s.agents).map(|i| body(&base, i, 0)).collect())
            .await
            .unwrap()
    };
    // Changed inventories come from their own agents (the others' heartbeats stay valid).
    let changers = ((s.agents as f64) * s.changed_share).ceil().max(1.0) as usize;
    let beaters = s.agents - changers;
    let n_changed = ((s.max_pushes as f64) * s.changed_share).ceil() as usize + 1;
    let changed: Vec<(usize, Vec<u8>)> = {
        let base = Arc::clone(&base);
        tokio::task::spawn_blocking(move || {
            (0..n_changed)
                .map(|k| {
                    (
                        beaters + k % changers,
                        body(&base, beaters + k % changers, k / changers + 1),
                    )
                })
                .collect()
        })
        .await
        .unwrap()
    };
    let agents = Arc::new(tokio::sync::Mutex::new(agents));
    let mut phases = Vec::new();

    // Phase 1: every agent's first inventory (changed: stored and judged).
    let mut p = Phase {
        name: "first inventories (changed)",
        ..Phase::default()
    };
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(first);
    let hs: Vec<_> = (0..s.workers)
        .map(|_| {
            let (c, url, next, first, agents) = (
                c.clone(),
                url.clone(),
                Arc::clone(&next),
                Arc::clone(&first),
                Arc::clone(&agents),
            );
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= first.len() {
                        break;
                    }
                    let token = agents.lock().await[i].token.clone();
                    let t = Instant::now();
                    let (ok, hash) = post(&c, &url, &token, first[i].clone(), true).await;
                    out.push((ok, t.elapsed().as_secs_f64()));
                    if let Some(h) = hash {
                        agents.lock().await[i].hash = h;
                    }
                }
                out
            })
        })
        .collect();
    for h in hs {
        for (ok, l) in h.await.unwrap() {
            if ok {
                p.ok += 1;
                p.changed += 1;
            } else {
                p.failed += 1;
            }
            p.lat.push(l);
        }
    }
    p.secs = t0.elapsed().as_secs_f64();
    phases.push(p);

    // Phase 2: unchanged (heartbeats only); phase 3: mostly unchanged (a share changed).
    let changed = Arc::new(changed);
    for (name, share) in [
        ("unchanged (heartbeats)", 0.0),
        ("mostly unchanged", s.changed_share),
    ] {
        let snapshot: Arc<Vec<(String, String)>> = Arc::new(
            agents
                .lock()
                .await
                .iter()
                .map(|a| (a.token.clone(), a.hash.clone()))
                .collect(),
        );
        let sent = Arc::new(AtomicUsize::new(0));
        let next_changed = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        let hs: Vec<_> = (0..s.workers)
            .map(|w| {
                let (c, url, sent, snap, changed, nc) = (
                    c.clone(),
                    url.clone(),
                    Arc::clone(&sent),
                    Arc::clone(&snapshot),
                    Arc::clone(&changed),
                    Arc::clone(&next_changed),
                );
                let beaters = beaters.max(1);
                let every = if share > 0.0 {
                    (1.0 / share).round().max(1.0) as usize
                } else {
                    usize::MAX
                };
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    let mut k = w;
                    loop {
                        let n = sent.fetch_add(1, Ordering::SeqCst);
                        if n >= s.max_pushes || t0.elapsed() > s.phase {
                            break;
                        }
                        k = (k * 7919 + 13) % beaters;
                        let change = share > 0.0 && n % every == every - 1;
                        let t = Instant::now();
                        let ok = if change {
                            let j = nc.fetch_add(1, Ordering::SeqCst) % changed.len();
                            let (i, b) = &changed[j];
                            post(&c, &url, &snap[*i].0, b.clone(), true).await.0
                        } else {
                            let (token, hash) = &snap[k];
                            post(
                                &c,
                                &url,
                                token,
                                format!(r#"{{"heartbeat":"{hash}"}}"#).into_bytes(),
                                false,
                            )
                            .await
                            .0
                        };
                        out.push((ok, change, t.elapsed().as_secs_f64()));
                    }
                    out
                })
            })
            .collect();
        let mut p = Phase {
            name,
            ..Phase::default()
        };
        for h in hs {
            for (ok, ch, l) in h.await.unwrap() {
                if ok {
                    p.ok += 1;
                } else {
                    p.failed += 1;
                }
                if ch {
                    p.changed += 1;
                }
                p.lat.push(l);
            }
        }
        p.secs = t0.elapsed().as_secs_f64();
        phases.push(p);
    }
    phases
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let scale = if bench {
        Scale {
            agents: 1000,
            workers: 64,
            phase: Duration::from_secs(15),
            max_pushes: 40_000,
            changed_share: 0.05,
        }
    } else {
        Scale {
            agents: 20,
            workers: 4,
            phase: Duration::from_secs(1),
            max_pushes: 300,
            changed_share: 0.05,
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret");
    fs_err::write(&secret, "bench-secret\n").unwrap();
    let empty = tmp.path().join("no-data");
    fs_err::create_dir_all(&empty).unwrap();
    // The real feeds under `cargo bench` (judging costs what it costs); none in the smoke run.
    let data = if bench { shared("") } else { empty };
    let base = Arc::new(base_inventory(tmp.path()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "serve load: {} agents, {} concurrent, inventories of {} packages, feeds: {}",
        scale.agents,
        scale.workers,
        base.packages.len(),
        if bench { "shared data" } else { "none" }
    );
    for backend in ["sqlite", "postgres"] {
        let pg;
        let db = if backend == "sqlite" {
            format!("sqlite://{}", tmp.path().join("bench.db").display())
        } else {
            pg = Pg::start();
            pg.url()
        };
        let srv = Server::start(&db, &data, &secret, &tmp.path().join("cache"));
        let phases = rt.block_on(load(srv.url.clone(), Arc::clone(&base), scale));
        let rss = srv.peak_rss_kib();
        let metrics = rt.block_on(async {
            reqwest::get(format!("{}/metrics", srv.url))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        let stage = |s: &str, suffix: &str| {
            metrics
                .lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "nminus_ingest_stage_duration_seconds_{suffix}{{stage=\"{s}\"}}"
                    ))
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let stages: Vec<String> = ["read", "parse", "judge", "store"]
            .iter()
            .map(|s| {
                format!(
                    "{s} {:.2} ms",
                    1e3 * stage(s, "sum") / stage(s, "count").max(1.0)
                )
            })
            .collect();
        for mut p in phases {
            let rate = p.ok as f64 / p.secs;
            let (p50, p99) = (p.quantile(0.5), p.quantile(0.99));
            if !bench {
                // A smoke test of a debug build: no figures (they would read as measurements).
                println!(
                    "{backend:8} {:30} {:6} pushes ran (figures: cargo bench --bench serve)",
                    p.name, p.ok
                );
            } else {
                println!(
                "{backend:8} {:30} {:6} ok {:4} failed {:5} changed in {:6.2} s: {:8.0} pushes/s ({:6.0} changed/s), p50 {:7.2} ms, p99 {:7.2} ms",
                p.name,
                p.ok,
                p.failed,
                p.changed,
                p.secs,
                rate,
                p.changed as f64 / p.secs,
                p50,
                p99
            );
            }
            assert_eq!(
                p.failed, 0,
                "{backend}: {} pushes failed in `{}`",
                p.failed, p.name
            );
        }
        if bench {
            println!(
                "{backend:8} server peak RSS {} MiB; changed push stages (mean): {}",
                rss / 1024,
                stages.join(", ")
            );
        }
    }
}
