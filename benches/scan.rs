//! Full-scan benchmark (issue #5): `nminus scan /` of this machine — collect every package,
//! match every feed of `../shared/data` through the compiled index, judge OpenStack series,
//! lifecycles and apt upgrades under the default policy, write the JSON report — against
//! `apt list --upgradable` alone, in the same run. Both are whole processes; wall time is the
//! median of N runs, peak RSS the largest (GNU time).
//!
//! Three nminus figures: warm (the feed and release-data cache filled: the everyday cron or
//! timer run, the target < 300 ms), the run that fills the cache, and `--no-cache` (every feed
//! and catalog parsed from its files).
//!
//! `cargo bench --bench scan`; under `cargo test` it runs one iteration of each as a smoke test.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

struct Run {
    secs: f64,
    rss_kb: u64,
}

/// Run `cmd` under GNU time; exit codes in `ok` count as success (a scan that finds something
/// exits 1).
fn timed(cmd: &[&str], ok: &[i32]) -> Run {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(cmd)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/time (apt-get install time): {e}"));
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| ok.contains(&c)),
        "{cmd:?} failed ({:?}): {err}",
        out.status
    );
    let rss_kb = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Run { secs, rss_kb }
}

fn median(mut runs: Vec<Run>) -> (f64, u64) {
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let rss = runs.iter().map(|r| r.rss_kb).max().unwrap_or(0);
    (runs[runs.len() / 2].secs, rss)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 15 } else { 1 };
    let exe = env!("CARGO_BIN_EXE_nminus");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        data.is_dir(),
        "missing {}: ../shared/data must sit beside the repository",
        data.display()
    );
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let cache = cache.to_str().unwrap();
    let report = tmp.path().join("report.json");
    let report = report.to_str().unwrap();
    let scan = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [exe, "scan", "/", "--data", data, "--format", "json", "-o"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        v.push(report.to_owned());
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    fn as_refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    // Exit 0, 1 (findings) or 2 (something not judged) all write the report.
    let ok = [0, 1, 2];

    let no_cache = scan(&["--no-cache"]);
    let (cold, cold_rss) = median(
        (0..n.min(5))
            .map(|_| timed(&as_refs(&no_cache), &ok))
            .collect(),
    );
    let warm_args = scan(&["--cache-dir", cache]);
    let fill = timed(&as_refs(&warm_args), &ok);
    let (warm, warm_rss) = median((0..n).map(|_| timed(&as_refs(&warm_args), &ok)).collect());
    let (apt, apt_rss) = median(
        (0..n)
            .map(|_| timed(&["apt", "list", "--upgradable"], &[0]))
            .collect(),
    );

    let r: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(report).unwrap()).unwrap();
    let packages = r["summary"]["packages"].as_u64().unwrap_or(0);
    let advisories: u64 = r["feeds"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["advisories"].as_u64()).sum())
        .unwrap_or(0);
    // Under `cargo test` this is a smoke test: one debug-build run of each, no figures or
    // verdicts (a debug build says nothing about the target).
    if !bench {
        println!(
            "scan smoke test: {packages} packages against {advisories} advisories, warm, filling and --no-cache each ran once (figures and the target: cargo bench --bench scan)"
        );
        return;
    }
    println!(
        "full scan of / ({packages} packages, {advisories} advisories, every feed): warm {:.1} ms ({} KiB peak), filling the cache {:.1} ms, --no-cache {:.1} ms ({} KiB peak)",
        warm * 1e3,
        warm_rss,
        fill.secs * 1e3,
        cold * 1e3,
        cold_rss
    );
    println!(
        "apt list --upgradable: {:.1} ms ({} KiB peak); warm scan {:.2}x faster than apt list; target < 300 ms: {}",
        apt * 1e3,
        apt_rss,
        apt / warm,
        if warm < 0.3 { "met" } else { "NOT met" }
    );
}
