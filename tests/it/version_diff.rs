//! Differential tests: nminus's version ordering against the reference implementations, over
//! every vector in `../shared/data/version-compare` and over generated pairs.
//!
//! References: `dpkg --compare-versions` (Debian), Python `packaging` (PEP 440), librpm through
//! Debian's `python3-rpm` (RPM), node-semver in strict mode (SemVer; `.ci/run` installs it under
//! `target/semver-ref`). Alpine has no reference that runs on Debian: its vectors were generated
//! upstream by apk-tools' comparator and are checked in the scheme's unit tests. A missing
//! reference fails the test with the command that installs it: CI must never pass by skipping.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{nminus_batch, read_vectors, run_with_stdin, Rng};

fn python_with(module: &str) -> String {
    for py in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(py)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return py.to_owned();
        }
    }
    panic!("no python3 with `{module}`: run .ci/run (pip install packaging; apt-get install python3-rpm)");
}

fn reference_python(mode: &str, module: &str, pairs: &[(String, String)]) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/compare.py");
    let mut cmd = Command::new(python_with(module));
    cmd.args([script, mode]);
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let out = run_with_stdin(cmd, input.as_bytes());
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn dpkg_compare(pairs: &[(String, String)]) -> Vec<String> {
    assert!(
        Command::new("dpkg").arg("--version").output().is_ok(),
        "dpkg is required for the Debian differential test"
    );
    let f = |(a, b): &(String, String)| -> String {
        let rel = |op: &str| {
            Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .expect("dpkg")
                .success()
        };
        if rel("lt") {
            "<".into()
        } else if rel("eq") {
            "=".into()
        } else {
            ">".into()
        }
    };
    // Two threads: the machine has two cores; one dpkg process per relation.
    let mid = pairs.len() / 2;
    let (left, right) = pairs.split_at(mid);
    std::thread::scope(|s| {
        let h = s.spawn(|| left.iter().map(f).collect::<Vec<_>>());
        let mut r: Vec<String> = right.iter().map(f).collect();
        let mut l = h.join().unwrap();
        l.append(&mut r);
        l
    })
}

fn semver_ref_dir() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/semver-ref");
    assert!(
        d.join("node_modules/semver").is_dir(),
        "node-semver missing: run `npm install --prefix target/semver-ref semver@7` (.ci/run does)"
    );
    d
}

fn node_semver(pairs: &[(String, String)]) -> Vec<String> {
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/semver.js"
    ))
    .arg(semver_ref_dir());
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let out = run_with_stdin(cmd, input.as_bytes());
    assert!(
        out.status.success(),
        "node-semver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Compare ours with the reference line by line. Pairs the reference rejects must be rejected
/// by us too when `validity_must_agree`; returns the number of pairs both compared.
fn assert_agree(
    what: &str,
    pairs: &[(String, String)],
    ours: &[String],
    theirs: &[String],
    validity_must_agree: bool,
) -> usize {
    assert_eq!(ours.len(), pairs.len());
    assert_eq!(
        theirs.len(),
        pairs.len(),
        "{what}: reference wrote a wrong number of lines"
    );
    let mut bad = Vec::new();
    let mut compared = 0;
    for ((p, o), t) in pairs.iter().zip(ours).zip(theirs) {
        let (oo, tt) = (o.starts_with('!'), t.starts_with('!'));
        match (oo, tt) {
            (false, false) => {
                compared += 1;
                if o != t {
                    bad.push(format!("{} vs {}: nminus {o}, reference {t}", p.0, p.1));
                }
            }
            (true, true) => {}
            _ if validity_must_agree => {
                bad.push(format!("{} vs {}: nminus {o}, reference {t}", p.0, p.1))
            }
            _ => {}
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} disagreements, first 20:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
    compared
}

fn vector_pairs(files: &[&str]) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for f in files {
        for v in read_vectors(f) {
            if seen.insert((v.a.clone(), v.b.clone())) {
                out.push((v.a, v.b));
            }
        }
    }
    out
}

/// Every vector line must give the expected operator (our unit tests check the same through the
/// library; this goes through `version cmp --batch`, the operator-facing path).
fn assert_vectors(scheme: &str, files: &[&str]) -> usize {
    let mut n = 0;
    for f in files {
        let vs = read_vectors(f);
        let pairs: Vec<_> = vs.iter().map(|v| (v.a.clone(), v.b.clone())).collect();
        let ours = nminus_batch(scheme, &pairs);
        let mut bad = Vec::new();
        for (v, o) in vs.iter().zip(&ours) {
            if !o.starts_with('!') {
                n += 1;
                if *o != v.op {
                    bad.push(format!(
                        "{}:{}: {} {} {}: nminus says {o}",
                        v.file, v.line, v.a, v.op, v.b
                    ));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{} disagreements:\n{}",
            bad.len(),
            bad[..bad.len().min(20)].join("\n")
        );
    }
    n
}

fn gen_deb(r: &mut Rng) -> String {
    let mut s = String::new();
    if r.below(5) == 0 {
        s.push_str(&format!("{}:", r.below(3)));
    }
    s.push_str(&r.below(30).to_string());
    for _ in 0..r.below(5) {
        s.push_str(r.pick(&[
            ".", "~", "+", "a", "b", "~rc", "+dfsg", "~~", "0", "1", "10", ".0", "z", "A",
        ]));
        if r.below(2) == 0 {
            s.push_str(&r.below(12).to_string());
        }
    }
    if r.below(2) == 0 {
        s.push('-');
        s.push_str(r.pick(&[
            "1",
            "0",
            "2ubuntu1",
            "1~deb12u1",
            "1+b1",
            "0.1",
            "1~bpo12+1",
            "3.el",
            "a",
        ]));
    }
    s
}

fn gen_pep440(r: &mut Rng) -> String {
    let mut s = String::new();
    if r.below(8) == 0 {
        s.push_str(&format!("{}!", r.below(2)));
    }
    for i in 0..1 + r.below(4) {
        if i > 0 {
            s.push('.');
        }
        s.push_str(&r.below(12).to_string());
    }
    s.push_str(r.pick(&[
        "", "", "a1", "b2", "rc1", ".rc0", "alpha", "-beta3", "c1", "pre2", "preview",
    ]));
    s.push_str(r.pick(&["", "", ".post1", "-1", "post", "rev2", ".r3", "-post0"]));
    s.push_str(r.pick(&["", "", ".dev0", "dev3", ".dev12", "-dev"]));
    s.push_str(r.pick(&["", "", "", "+local", "+ubuntu.1", "+1.a", "+abc-2", "+0"]));
    if r.below(20) == 0 {
        s = s.to_uppercase();
    }
    if r.below(20) == 0 {
        s.insert(0, 'v');
    }
    s
}

fn gen_rpm(r: &mut Rng) -> String {
    let mut s = String::new();
    if r.below(4) == 0 {
        s.push_str(&format!("{}:", r.below(3)));
    }
    s.push_str(&r.below(20).to_string());
    for _ in 0..r.below(4) {
        s.push_str(r.pick(&[
            ".", "~", "^", "a", "rc", "_", "+", "git", "0", "01", "~~", "^^",
        ]));
        if r.below(2) == 0 {
            s.push_str(&r.below(15).to_string());
        }
    }
    if r.below(2) == 0 {
        s.push('-');
        s.push_str(r.pick(&[
            "1", "1.el9", "2.el8_8", "0.1.rc1", "1.fc40", "3~beta", "1^git",
        ]));
    }
    s
}

fn gen_semver(r: &mut Rng) -> String {
    let mut s = format!("{}.{}.{}", r.below(4), r.below(12), r.below(12));
    if r.below(2) == 0 {
        s.push('-');
        for i in 0..1 + r.below(3) {
            if i > 0 {
                s.push('.');
            }
            s.push_str(r.pick(&[
                "alpha", "beta", "rc", "0", "1", "2", "11", "x-y", "A", "a1", "01",
            ]));
        }
    }
    if r.below(4) == 0 {
        s.push_str(r.pick(&["+build", "+001", "+sha.5114f85", "+x-y"]));
    }
    if r.below(30) == 0 {
        s.insert(0, 'v');
    }
    s
}

fn generated(seed: u64, n: usize, g: fn(&mut Rng) -> String) -> Vec<(String, String)> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| (g(&mut r), g(&mut r))).collect()
}

#[test]
fn debian_agrees_with_dpkg() {
    let files = [
        "version-compare/osv-scalibr-semantic/debian-versions.txt",
        "version-compare/osv-scalibr-semantic/debian-versions-generated.txt",
    ];
    let n = assert_vectors("deb", &files);
    assert!(n > 14_000, "{n}");
    let mut pairs = vector_pairs(&files);
    pairs.extend(generated(0xdeb, 3000, gen_deb));
    let ours = nminus_batch("deb", &pairs);
    let theirs = dpkg_compare(&pairs);
    // dpkg accepts (with a warning) some versions nminus rejects; agreement is required on
    // every pair both compare, and every vector and generated pair here is valid.
    let compared = assert_agree("deb vs dpkg", &pairs, &ours, &theirs, false);
    assert_eq!(
        compared,
        pairs.len(),
        "nminus rejected a valid Debian version"
    );
}

#[test]
fn pep440_agrees_with_packaging() {
    let files = [
        "version-compare/osv-scalibr-semantic/pypi-versions.txt",
        "version-compare/osv-scalibr-semantic/pypi-versions-generated.txt",
    ];
    let n = assert_vectors("pep440", &files);
    assert!(n > 12_000, "{n}");
    let mut pairs = vector_pairs(&files);
    pairs.extend(generated(0x440, 20_000, gen_pep440));
    let ours = nminus_batch("pep440", &pairs);
    let theirs = reference_python("pep440", "packaging", &pairs);
    // Validity must agree too: what packaging rejects, nminus rejects, and vice versa.
    let compared = assert_agree("pep440 vs packaging", &pairs, &ours, &theirs, true);
    assert!(compared > 25_000, "{compared}");
}

#[test]
fn pep440_normalization_agrees_with_packaging() {
    let mut r = Rng::new(0x5eed);
    let vs: Vec<String> = (0..5000).map(|_| gen_pep440(&mut r)).collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/compare.py");
    let mut cmd = Command::new(python_with("packaging"));
    cmd.args([script, "pep440-normalize"]);
    let out = run_with_stdin(
        cmd,
        vs.iter()
            .map(|v| format!("{v}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    let theirs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), vs.len());
    for (v, t) in vs.iter().zip(&theirs) {
        let ours = nminus::Version::parse(nminus::Scheme::Pep440, v);
        match (ours, t.starts_with('!')) {
            (Ok(o), false) => assert_eq!(&o.normalized(), t, "normal form of {v}"),
            (Err(_), true) => {}
            (o, _) => panic!("{v}: nminus {o:?}, packaging {t}"),
        }
    }
}

#[test]
fn rpm_agrees_with_librpm() {
    let files = ["version-compare/osv-scalibr-semantic/redhat-versions.txt"];
    assert_vectors("rpm", &files);
    let mut pairs = vector_pairs(&files);
    pairs.extend(generated(0x4e11, 20_000, gen_rpm));
    let ours = nminus_batch("rpm", &pairs);
    let theirs = reference_python("rpm", "rpm", &pairs);
    let compared = assert_agree("rpm vs librpm", &pairs, &ours, &theirs, false);
    assert!(compared > 19_000, "{compared}");
}

#[test]
fn semver_agrees_with_node_semver() {
    let mut pairs = generated(0x5e7, 20_000, gen_semver);
    // The precedence chain of SemVer 2.0.0 §11, pairwise.
    let chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ];
    for a in chain {
        for b in chain {
            pairs.push((a.to_owned(), b.to_owned()));
        }
    }
    let ours = nminus_batch("semver", &pairs);
    for (i, a) in chain.iter().enumerate() {
        for (j, b) in chain.iter().enumerate() {
            let k = pairs.len() - chain.len() * chain.len() + i * chain.len() + j;
            let want = match i.cmp(&j) {
                std::cmp::Ordering::Less => "<",
                std::cmp::Ordering::Equal => "=",
                std::cmp::Ordering::Greater => ">",
            };
            assert_eq!(ours[k], want, "{a} vs {b}");
        }
    }
    let theirs = node_semver(&pairs);
    let compared = assert_agree("semver vs node-semver", &pairs, &ours, &theirs, true);
    assert!(compared > 15_000, "{compared}");
}
