//! Version-comparison throughput, per scheme in-process, and `nminus version cmp --batch`
//! against `dpkg --compare-versions` doing the same work.
//!
//! `cargo bench --bench version_cmp` prints comparisons per second on one core for each scheme
//! (pre-parsed, and parse+compare), then times the batch command over 100,000 Debian pairs and
//! dpkg over a sample of them (one process per pair is the only way dpkg compares), reporting the
//! per-pair ratio. Environment: `NMINUS_BENCH_DPKG_PAIRS` (default 2000) sizes the dpkg sample.
//! Under `cargo test` (no `--bench` argument) it runs a tiny smoke pass.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nminus::{Scheme, Version};

fn data(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    fs_err::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{e}: ../shared/data must sit beside the repository"))
}

fn pairs(rel: &str) -> Vec<(String, String)> {
    data(rel)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with("//"))
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            (p.len() == 3).then(|| (p[0].to_owned(), p[2].to_owned()))
        })
        .collect()
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn bench_scheme(name: &str, scheme: Scheme, rel: &str, budget: Duration) {
    let ps: Vec<(Version, Version)> = pairs(rel)
        .into_iter()
        .filter_map(|(a, b)| {
            Some((
                Version::parse(scheme, &a).ok()?,
                Version::parse(scheme, &b).ok()?,
            ))
        })
        .collect();
    let raw: Vec<(String, String)> = ps
        .iter()
        .map(|(a, b)| (a.raw().to_owned(), b.raw().to_owned()))
        .collect();
    let mut n = 0u64;
    let t = Instant::now();
    while t.elapsed() < budget {
        for (a, b) in &ps {
            black_box(black_box(a).compare(black_box(b)).unwrap());
        }
        n += ps.len() as u64;
    }
    let cmp = rate(n, t.elapsed());
    let mut m = 0u64;
    let t = Instant::now();
    while t.elapsed() < budget {
        for (a, b) in &raw {
            black_box(nminus::version::compare_str(scheme, black_box(a), black_box(b)).unwrap());
        }
        m += raw.len() as u64;
    }
    let pc = rate(m, t.elapsed());
    // Under `cargo test` (a smoke test of a debug build): no figures.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "{name:<8} {:>6} pairs compared (figures: cargo bench --bench version_cmp)",
            ps.len()
        );
        return;
    }
    println!(
        "{name:<8} {:>6} pairs  compare {:>12.0}/s  parse+compare {:>12.0}/s",
        ps.len(),
        cmp,
        pc
    );
}

fn batch_vs_dpkg(total: usize, dpkg_sample: usize) {
    let base = pairs("version-compare/osv-scalibr-semantic/debian-versions-generated.txt");
    let input: String = base
        .iter()
        .cycle()
        .take(total)
        .map(|(a, b)| format!("{a}\t{b}\n"))
        .collect();
    let exe = env!("CARGO_BIN_EXE_nminus");
    let t = Instant::now();
    let mut child = Command::new(exe)
        .args(["version", "cmp", "--scheme", "deb", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("nminus");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let ours = t.elapsed();
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), total);
    let t = Instant::now();
    for (a, b) in base.iter().cycle().take(dpkg_sample) {
        // One relation per pair: the cheapest way dpkg can answer "<".
        let _ = Command::new("dpkg")
            .args(["--compare-versions", a, "lt", b])
            .status()
            .expect("dpkg");
    }
    let theirs = t.elapsed();
    // Under `cargo test` (a smoke test of a debug build): no figures, no ratio.
    if !std::env::args().any(|a| a == "--bench") {
        println!("batch    nminus and dpkg --compare-versions ran (figures: cargo bench --bench version_cmp)");
        return;
    }
    let per_ours = ours.as_secs_f64() / total as f64;
    let per_dpkg = theirs.as_secs_f64() / dpkg_sample as f64;
    println!(
        "batch    nminus {total} pairs in {:.3}s ({:.0}/s); dpkg --compare-versions {dpkg_sample} pairs in {:.3}s ({:.0}/s); per-pair ratio {:.0}x",
        ours.as_secs_f64(),
        1.0 / per_ours,
        theirs.as_secs_f64(),
        1.0 / per_dpkg,
        per_dpkg / per_ours
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let budget = if bench {
        Duration::from_millis(1500)
    } else {
        Duration::from_millis(1)
    };
    let sv = "version-compare/osv-scalibr-semantic";
    bench_scheme(
        "deb",
        Scheme::Deb,
        &format!("{sv}/debian-versions-generated.txt"),
        budget,
    );
    bench_scheme(
        "rpm",
        Scheme::Rpm,
        &format!("{sv}/redhat-versions.txt"),
        budget,
    );
    bench_scheme(
        "apk",
        Scheme::Apk,
        &format!("{sv}/alpine-versions-generated.txt"),
        budget,
    );
    bench_scheme(
        "pep440",
        Scheme::Pep440,
        &format!("{sv}/pypi-versions-generated.txt"),
        budget,
    );
    bench_scheme(
        "semver",
        Scheme::Semver,
        &format!("{sv}/semver-versions.txt"),
        budget,
    );
    if bench {
        let sample = std::env::var("NMINUS_BENCH_DPKG_PAIRS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000);
        batch_vs_dpkg(100_000, sample);
    } else {
        batch_vs_dpkg(100, 5);
    }
}
