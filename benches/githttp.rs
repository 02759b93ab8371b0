//! Git feeds over smart HTTP, each way against the others in the same run, on loopback against
//! git's own server (`git http-backend` behind a small HTTP/1.1 server in this file), serving a
//! repository built from ../shared/data/pypa-advisory-database (read in place: `git add` with
//! the shared folder as the work tree; the repository lives in a temporary folder):
//!
//! 1. `nminus sync` of one git feed, as whole processes (time and peak RSS, median of N):
//!    a first sync (clone), a sync with nothing new, and an incremental one (one new commit),
//!    through libgit2's smart protocol over nminus's subtransport (`sources::githttp`), against
//!    `git fetch` of the same refs into a bare repository (git's own curl client; it exports no
//!    tree and keeps no sync state, so it does less). The hand-written protocol client this
//!    replaced was compared here too before it was removed (docs/benchmarks.md);
//! 2. start-up: `nminus --version` (time and peak RSS) and the binary's size; with
//!    `NMINUS_BENCH_PEER_BIN=<path>` another build of `nminus` (say, main's) beside it, the
//!    runs of the two alternating.
//!
//! `cargo bench --bench githttp`; under `cargo test` one iteration of each as a smoke test and
//! no figures. Peak RSS comes from GNU time (`/usr/bin/time -f %M`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "../tests/it/git_http_server.rs"]
mod git_http_server;
use git_http_server::git_http_server;

struct Run {
    secs: f64,
    rss_kb: u64,
}

/// Run `cmd` (with `env`) under GNU time; it must succeed.
fn timed(cmd: &[&str], env: &[(&str, &str)]) -> Run {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(cmd)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/time (apt-get install time): {e}"));
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {err}");
    let rss_kb = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Run { secs, rss_kb }
}

/// Median time and the largest peak RSS of `runs`.
fn median(runs: &mut [Run]) -> (f64, u64) {
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let m = runs[runs.len() / 2].secs;
    (m, runs.iter().map(|r| r.rss_kb).max().unwrap_or(0))
}

fn git(args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@localhost")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@localhost")
        .output()
        .expect("git must be installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The served repository `root/feed.git`: `v1`, every file of the shared pypa advisory
/// database but those under `vulns/[n-z]*`; `v2`, one commit later, all of them.
fn upstream(root: &Path) -> (u64, u64) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pypa-advisory-database");
    assert!(
        src.is_dir(),
        "missing {}: ../shared must sit beside the repository",
        src.display()
    );
    let gd = root.join("feed.git");
    let (gd, wt) = (gd.to_str().unwrap(), src.to_str().unwrap());
    git(&["init", "--quiet", "--bare", gd]);
    let g = |args: &[&str]| {
        let mut all = vec!["--git-dir", gd, "--work-tree", wt];
        all.extend_from_slice(args);
        git(&all);
    };
    g(&["add", "-A", "--", ".", ":!vulns/[n-z]*"]);
    g(&["commit", "--quiet", "-m", "v1"]);
    g(&["branch", "v1"]);
    g(&["add", "-A", "--", "."]);
    g(&["commit", "--quiet", "-m", "v2"]);
    g(&["branch", "v2"]);
    let count = |rev: &str| {
        let out = Command::new("git")
            .args(["--git-dir", gd, "ls-tree", "-r", "--name-only", rev])
            .output()
            .unwrap();
        out.stdout.iter().filter(|b| **b == b'\n').count() as u64
    };
    (count("v1"), count("v2"))
}

/// The command line that fetches `branch` into `dir`.
type FetchLine = Box<dyn Fn(&str, &Path) -> Vec<String>>;

/// One way of fetching the feed.
struct Way {
    name: &'static str,
    env: Vec<(&'static str, &'static str)>,
    cmd: FetchLine,
}

/// `nminus sync` of the feed `feed` at `branch` of `base/feed.git` into `dir`.
fn nminus_sync(exe: &str, base: &str, branch: &str, dir: &Path) -> Vec<String> {
    let sources = dir.join(format!("sources-{branch}.yaml"));
    if !sources.exists() {
        fs_err::create_dir_all(dir).unwrap();
        fs_err::write(
            &sources,
            format!(
                "feeds:\n  - name: pypa\n    kind: osv\n    folder: pypa\n    upstream: {{ git: \"{base}/feed.git\", branch: {branch}, subdir: vulns }}\n"
            ),
        )
        .unwrap();
    }
    let data = dir.join("data");
    [exe, "sync", "--data", data.to_str().unwrap()]
        .into_iter()
        .map(str::to_owned)
        .chain(["--sources".to_owned(), sources.to_str().unwrap().to_owned()])
        .collect()
}

/// `git fetch` of `branch` into the bare repository `dir/repo.git` (made on first use).
fn git_fetch(base: &str, branch: &str, dir: &Path) -> Vec<String> {
    let gd = dir.join("repo.git");
    if !gd.exists() {
        git(&["init", "--quiet", "--bare", gd.to_str().unwrap()]);
    }
    [
        "git",
        "--git-dir",
        gd.to_str().unwrap(),
        "fetch",
        "--quiet",
        "--no-tags",
        &format!("{base}/feed.git"),
        &format!("+refs/heads/{branch}:refs/nminus/upstream"),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The three fetches of one way, each in a fresh folder per round: first, nothing new,
/// incremental. Medians per step.
fn measure(way: &Way, n: usize, tmp: &Path) -> [(f64, u64); 3] {
    let mut steps: [Vec<Run>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..n {
        let dir = tmp.join(format!("{}-{round}", way.name.replace(' ', "-")));
        for (i, branch) in ["v1", "v1", "v2"].into_iter().enumerate() {
            let cmd = (way.cmd)(branch, &dir);
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            steps[i].push(timed(&cmd, &way.env));
        }
        let _ = fs_err::remove_dir_all(&dir);
    }
    steps.map(|mut s| median(&mut s))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 7 } else { 1 };
    let exe = env!("CARGO_BIN_EXE_nminus");
    let tmp = tempfile::tempdir().unwrap();
    let (files1, files2) = upstream(tmp.path());
    let base = git_http_server(tmp.path()).0;
    let ours = base.clone();
    let ways = [
        Way {
            name: "nminus, libgit2 over the subtransport",
            env: vec![],
            cmd: Box::new(move |br, d| nminus_sync(exe, &ours, br, d)),
        },
        Way {
            name: "git fetch",
            env: vec![],
            cmd: Box::new(move |br, d| git_fetch(&base, br, d)),
        },
    ];
    let figures: Vec<_> = ways.iter().map(|w| measure(w, n, tmp.path())).collect();
    let peer = std::env::var("NMINUS_BENCH_PEER_BIN").ok();
    let mut bins = vec![("this build", PathBuf::from(exe))];
    bins.extend(peer.map(|p| ("peer build", PathBuf::from(p))));
    // Start-up runs alternate between the binaries, so that a change of load hits both.
    let mut runs: Vec<Vec<Run>> = bins.iter().map(|_| Vec::new()).collect();
    for _ in 0..n * 5 {
        for ((_, b), r) in bins.iter().zip(&mut runs) {
            r.push(timed(&[b.to_str().unwrap(), "--version"], &[]));
        }
    }
    let startup: Vec<_> = bins
        .iter()
        .zip(&mut runs)
        .map(|((_, b), r)| (median(r), fs_err::metadata(b).unwrap().len()))
        .collect();
    if !bench {
        println!("git over smart HTTP: every way ran (figures: cargo bench --bench githttp)");
        return;
    }
    println!("feed: pypa-advisory-database, {files1} files at v1, {files2} at v2; median of {n}");
    for (w, f) in ways.iter().zip(&figures) {
        for (step, (secs, rss)) in ["first", "nothing new", "incremental"].iter().zip(f) {
            println!(
                "{:<40} {step:<12} {:>8.1} ms {:>7} KiB peak",
                w.name,
                secs * 1e3,
                rss
            );
        }
    }
    for ((label, b), ((secs, rss), size)) in bins.iter().zip(&startup) {
        println!(
            "start-up, {label} ({}): --version {:.2} ms, {} KiB peak; binary {:.1} MiB",
            b.display(),
            secs * 1e3,
            rss,
            *size as f64 / (1 << 20) as f64
        );
    }
}
