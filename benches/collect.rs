//! Collection benchmarks, each against its peer in the same run:
//!
//! 1. this machine's dpkg status (700+ packages): `nminus-agent collect` (the node agent
//!    binary: as deployed, built by `scripts/build-agent.sh`, under `--bench`; and as cargo
//!    builds it for the benchmark) and `nminus collect` against `dpkg-query -W` (time and peak
//!    RSS, both as whole processes, median of N runs);
//! 2. a site-packages with 100 distributions: `nminus collect` against Python's
//!    `importlib.metadata` listing name and version of every distribution;
//! 3. a whole-root collect of this machine (`--root /`).
//!
//! `cargo bench --bench collect`; under `cargo test` it runs one iteration of each as a smoke test.
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Run {
    secs: f64,
    rss_kb: u64,
}

fn timed(cmd: &[&str]) -> Run {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(cmd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/time (apt-get install time): {e}"));
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let rss_kb = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Run { secs, rss_kb }
}

fn median(runs: &mut [Run]) -> (f64, u64) {
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let m = runs[runs.len() / 2].secs;
    let rss = runs.iter().map(|r| r.rss_kb).max().unwrap_or(0);
    (m, rss)
}

/// Run both `n` times; under `cargo bench` print the figures and ratios, under `cargo test` (a
/// smoke test of a debug build) only that both ran: no verdict from a debug build.
fn compare(label: &str, n: usize, ours: &[&str], theirs: &[&str], peer: &str) {
    let mut a: Vec<Run> = (0..n).map(|_| timed(ours)).collect();
    let mut b: Vec<Run> = (0..n).map(|_| timed(theirs)).collect();
    if !std::env::args().any(|a| a == "--bench") {
        println!("{label}: nminus and {peer} ran (figures: cargo bench --bench collect)");
        return;
    }
    let (ta, ra) = median(&mut a);
    let (tb, rb) = median(&mut b);
    println!(
        "{label}: nminus {:.1} ms, {} KiB peak; {peer} {:.1} ms, {} KiB peak; time ratio {:.2}x faster, memory ratio {:.2}",
        ta * 1e3,
        ra,
        tb * 1e3,
        rb,
        tb / ta,
        ra as f64 / rb.max(1) as f64
    );
}

/// `BIN collect` of the dpkg root `root`, output discarded: the same run for each binary.
fn dpkg_collect<'a>(bin: &'a str, root: &'a str) -> [&'a str; 7] {
    [
        bin,
        "collect",
        "--root",
        root,
        "--problems-ok",
        "-o",
        "/dev/null",
    ]
}

fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "missing {}: ../shared/data must sit beside the repository",
        p.display()
    );
    p
}

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for e in fs_err::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            fs_err::copy(&p, &t).unwrap();
        }
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 15 } else { 1 };
    let exe = env!("CARGO_BIN_EXE_nminus");
    let agent = env!("CARGO_BIN_EXE_nminus-agent");
    let tmp = tempfile::tempdir().unwrap();

    // 1. dpkg status of this machine (or the shared copy of a real Debian 12 one).
    let root1 = tmp.path().join("dpkg-root");
    fs_err::create_dir_all(root1.join("var/lib/dpkg")).unwrap();
    let status = if Path::new("/var/lib/dpkg/status").exists() {
        PathBuf::from("/var/lib/dpkg/status")
    } else {
        shared("fixtures/dpkg/this-debian12/status")
    };
    fs_err::copy(&status, root1.join("var/lib/dpkg/status")).unwrap();
    let r1 = root1.to_str().unwrap();
    let admindir = format!("--admindir={r1}/var/lib/dpkg");
    // The node agent binary (what runs on every node): the same collection code without the
    // analyzer, server, planner and renderers linked in.
    compare(
        "dpkg status, nminus-agent",
        n,
        &dpkg_collect(agent, r1),
        &["dpkg-query", &admindir, "-W"],
        "dpkg-query -W",
    );
    // The agent as deployed (`scripts/build-agent.sh`: static, agent profile), built here in its
    // own target directory; a benchmark run only (the build takes minutes the first time).
    if bench {
        let out =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-agent.sh"))
                .output()
                .expect("scripts/build-agent.sh runs");
        assert!(
            out.status.success(),
            "scripts/build-agent.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let deployed = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let deployed = deployed.to_str().unwrap();
        compare(
            "dpkg status, nminus-agent as deployed (static, agent profile)",
            n,
            &dpkg_collect(deployed, r1),
            &["dpkg-query", &admindir, "-W"],
            "dpkg-query -W",
        );
    }
    compare(
        "dpkg status, nminus",
        n,
        &dpkg_collect(exe, r1),
        &["dpkg-query", &admindir, "-W"],
        "dpkg-query -W",
    );

    // 2. a site-packages with 100 distributions: 63 real OpenStack ones + 37 more.
    let site = tmp.path().join("py-root/usr/lib/python3.11/site-packages");
    copy_dir(
        &shared(
            "fixtures/python/openstack-site-packages/2026.1-gazpacho/lib/python3.12/site-packages",
        ),
        &site,
    );
    let mut count = fs_err::read_dir(&site)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".dist-info")
        })
        .count();
    let mut i = 0;
    while count < 100 {
        let d = site.join(format!("benchpkg_{i}-1.{i}.0.dist-info"));
        fs_err::create_dir_all(&d).unwrap();
        fs_err::write(
            d.join("METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: benchpkg-{i}\nVersion: 1.{i}.0\nSummary: x\n\nbody\n"
            ),
        )
        .unwrap();
        count += 1;
        i += 1;
    }
    let r2 = tmp.path().join("py-root");
    let py = format!(
        "import importlib.metadata as m\nfor d in m.distributions(path=[{:?}]):\n    (d.metadata['Name'], d.version)\n",
        site.display().to_string()
    );
    compare(
        "site-packages (100 dists)",
        n,
        &[
            exe,
            "collect",
            "--root",
            r2.to_str().unwrap(),
            "--problems-ok",
            "-o",
            "/dev/null",
        ],
        &["python3", "-c", &py],
        "python3 importlib.metadata",
    );

    // 3. whole root of this machine.
    let mut runs: Vec<Run> = (0..n)
        .map(|_| {
            timed(&[
                exe,
                "collect",
                "--root",
                "/",
                "--problems-ok",
                "-o",
                "/dev/null",
            ])
        })
        .collect();
    let (t, rss) = median(&mut runs);
    if bench {
        println!(
            "whole root (/): nminus collect {:.1} ms, {} KiB peak",
            t * 1e3,
            rss
        );
    }
}
