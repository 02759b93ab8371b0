//! Hostile input on the agent side (issue 15): FIFOs and devices where files should be, paths
//! nested tens of thousands of directories deep, symlink loops, images of long names, dpkg
//! databases cut short, broken operator advisories, deeply nested YAML and terminal escape
//! sequences in node files. Each test asserts a bounded result: a problem naming the path, an
//! exit code, and for memory or depth the real binary run under an address-space limit
//! (`ulimit -v`). None asserts a time; the hang guard below only turns a hang into a failure.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::shared_data;

use crate::images::writer::{self, file, symlink, Comp, Image, E};

/// Address space the binary may use in the limited runs (virtual memory, `ulimit -v`, KiB).
/// A debug build maps about 100 MiB before doing anything; the hostile inputs below took
/// 2.5 GiB (long names) or overflowed the stack (deep path) before they were bounded.
const VM_LIMIT_KIB: u64 = 1024 * 1024;

/// Generous bound after which a run counts as hung (a FIFO opened for reading waits for ever).
const HANG_GUARD_SECS: u64 = 300;

/// Run `nminus args…` under `ulimit -v VM_LIMIT_KIB`, killed if it hangs; returns its output.
fn nminus_limited(args: &[&str]) -> Output {
    let script =
        format!("ulimit -v {VM_LIMIT_KIB} && exec timeout -s KILL {HANG_GUARD_SECS} \"$0\" \"$@\"");
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_nminus"))
        .args(args)
        .env("NMINUS_NOW", "2026-01-01T00:00:00Z")
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");
    assert_ne!(
        out.status.code(),
        Some(137),
        "nminus {args:?} was killed: it hung (or ran out of memory): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.code().is_some(),
        "nminus {args:?} died of a signal ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn inventory(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout is not an inventory; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `(path, message)` of every problem of an inventory.
fn problems(inv: &serde_json::Value) -> Vec<(String, String)> {
    inv["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["location"]["path"].as_str().unwrap_or("").to_owned(),
                p["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// `name version` of every package of an inventory.
fn packages(inv: &serde_json::Value) -> Vec<(String, String)> {
    inv["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn mkfifo(p: &Path) {
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

const DPKG_OK: &str =
    "Package: good\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: all\n\n";

/// A FIFO where dist-info METADATA, the dpkg status or os-release should be is a problem naming
/// its path; everything else is collected, and nothing waits for a writer.
#[test]
fn fifos_are_problems_not_hangs() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let site = "usr/lib/python3/dist-packages";
    mkfifo(&r.join("etc/os-release"));
    mkfifo(&r.join("var/lib/dpkg/status"));
    mkfifo(&r.join(format!("{site}/x-1.dist-info/METADATA")));
    fs_err::create_dir_all(r.join("var/lib/dpkg/status.d")).unwrap();
    fs_err::write(r.join("var/lib/dpkg/status.d/good"), DPKG_OK).unwrap();
    fs_err::create_dir_all(r.join(format!("{site}/y-2.dist-info"))).unwrap();
    fs_err::write(
        r.join(format!("{site}/y-2.dist-info/METADATA")),
        "Metadata-Version: 2.1\nName: y\nVersion: 2\n",
    )
    .unwrap();
    let root = r.to_str().unwrap();
    let out = nminus_limited(&["collect", "--root", root, "--node-id", "n1"]);
    assert_eq!(out.status.code(), Some(2), "problems make exit 2");
    let inv = inventory(&out);
    let pr = problems(&inv);
    for fifo in [
        "/etc/os-release".to_owned(),
        "/var/lib/dpkg/status".to_owned(),
        format!("/{site}/x-1.dist-info/METADATA"),
    ] {
        assert!(
            pr.iter()
                .any(|(p, m)| *p == fifo && m.contains("FIFO") && m.contains("not a regular file")),
            "no problem names the FIFO {fifo}: {pr:?}"
        );
    }
    let pk = packages(&inv);
    assert!(pk.contains(&("good".into(), "1.0-1".into())), "{pk:?}");
    assert!(pk.contains(&("y".into(), "2".into())), "{pk:?}");
}

/// A path nested 70,000 directories deep (a 225 KB image) is a problem, not a stack overflow;
/// so is a tree made deeper than the limit through a symlink; the rest of the image is read.
#[test]
fn deep_paths_are_problems_not_crashes() {
    let deep = vec!["d"; 70_000].join("/") + "/f";
    // 200 directories, then a link into the bottom and 100 more below it: deeper than the
    // 256-component limit only once the link is followed.
    let chain = vec!["c"; 200].join("/");
    let through_link = format!("l/{}/g", vec!["e"; 100].join("/"));
    let layer = writer::layer_tar(&[
        file("etc/os-release", writer::UBUNTU_JAMMY),
        file("var/lib/dpkg/status", DPKG_OK),
        E::File(deep.clone(), b"x".to_vec()),
        E::File(format!("{chain}/f"), b"x".to_vec()),
        symlink("l", &format!("/{chain}")),
        E::File(through_link, b"x".to_vec()),
    ]);
    let archive = writer::gzip(&writer::docker_archive(
        &[Image {
            tags: vec!["deep:1".into()],
            layers: vec![layer],
            ..Image::default()
        }],
        Comp::None,
    ));
    assert!(archive.len() < 300_000, "{} bytes", archive.len());
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("deep.tar.gz");
    fs_err::write(&img, &archive).unwrap();
    let out = nminus_limited(&[
        "collect",
        "--image",
        img.to_str().unwrap(),
        "--node-id",
        "n1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv = inventory(&out);
    let pr = problems(&inv);
    assert!(
        pr.iter()
            .any(|(_, m)| m.contains("bytes exceeds the 4096-byte limit")),
        "{pr:?}"
    );
    assert!(pr.iter().any(|(_, m)| m.contains("depth limit")), "{pr:?}");
    assert!(
        packages(&inv).contains(&("good".into(), "1.0-1".into())),
        "{:?}",
        packages(&inv)
    );
}

/// A symlink loop where a package database should be is a problem, in a directory root and in
/// an image (before: 0 packages and exit 0).
#[test]
fn symlink_loops_are_problems() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs_err::create_dir_all(r.join("var/lib")).unwrap();
    std::os::unix::fs::symlink("/var/lib/dpkg", r.join("var/lib/dpkg")).unwrap();
    fs_err::create_dir_all(r.join("etc")).unwrap();
    fs_err::write(r.join("etc/os-release"), writer::UBUNTU_JAMMY).unwrap();
    let out = nminus_limited(&["collect", "--root", r.to_str().unwrap(), "--node-id", "n1"]);
    assert_eq!(out.status.code(), Some(2));
    let pr = problems(&inventory(&out));
    assert!(
        pr.iter()
            .any(|(p, m)| p == "/var/lib/dpkg" && m.contains("symbolic link loop")),
        "{pr:?}"
    );

    let layer = writer::layer_tar(&[
        file("etc/os-release", writer::UBUNTU_JAMMY),
        symlink("var/lib/dpkg/status", "status2"),
        symlink("var/lib/dpkg/status2", "status"),
    ]);
    let archive = writer::docker_archive(
        &[Image {
            tags: vec!["loop:1".into()],
            layers: vec![layer],
            ..Image::default()
        }],
        Comp::None,
    );
    let img = r.join("loop.tar");
    fs_err::write(&img, &archive).unwrap();
    let out = nminus_limited(&[
        "collect",
        "--image",
        img.to_str().unwrap(),
        "--node-id",
        "n1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let pr = problems(&inventory(&out));
    assert!(
        pr.iter()
            .any(|(p, m)| p.starts_with("image:loop:1:/var/lib/dpkg/status")
                && m.contains("symbolic link loop")),
        "{pr:?}"
    );
}

/// An 8 MB image of long names (GNU long-name extensions: names within the limits, over them,
/// and one extension of 2 MiB) is read in bounded memory; what exceeds a bound is a problem.
#[test]
fn long_names_are_bounded() {
    let mut entries = vec![
        file("etc/os-release", writer::UBUNTU_JAMMY),
        file("var/lib/dpkg/status", DPKG_OK),
    ];
    for i in 0..1500 {
        // 16 components of 240 bytes: 3.9 KB, within every limit.
        let comps: Vec<String> = (0..16)
            .map(|j| format!("{i:05}{j:03}{}", "n".repeat(232)))
            .collect();
        entries.push(E::File(comps.join("/"), Vec::new()));
    }
    for i in 0..500 {
        // 8 KB: over the path limit.
        entries.push(E::File(format!("{i:05}/{}", "m/".repeat(4000)), Vec::new()));
    }
    let layer = writer::layer_tar(&entries);
    assert!(layer.len() > 7_000_000, "{} bytes", layer.len());
    let archive = writer::docker_archive(
        &[Image {
            tags: vec!["names:1".into()],
            layers: vec![layer],
            ..Image::default()
        }],
        Comp::None,
    );
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("names.tar");
    fs_err::write(&img, &archive).unwrap();
    let out = nminus_limited(&[
        "collect",
        "--image",
        img.to_str().unwrap(),
        "--node-id",
        "n1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv = inventory(&out);
    let pr = problems(&inv);
    assert!(
        pr.iter()
            .any(|(_, m)| m.contains("exceeds the 4096-byte limit")),
        "{pr:?}"
    );
    // 500 entries over the limit, reported by the first 100 and a count.
    assert!(
        pr.iter()
            .any(|(_, m)| m.contains("400 more entries skipped")),
        "{pr:?}"
    );
    assert!(pr.len() < 150, "{} problems", pr.len());
    assert!(packages(&inv).contains(&("good".into(), "1.0-1".into())));

    // One name extension of 2 MiB: the tar reader would hold it whole; refused instead.
    let huge = writer::layer_tar(&[E::File("a/".repeat(1 << 20), Vec::new())]);
    let limits = nminus::ImageLimits::default();
    let mut budget = nminus::LayerBudget::new(&limits);
    let e = nminus::parse_layer(&huge[..], &limits, &mut budget)
        .unwrap_err()
        .to_string();
    assert!(e.contains("header extensions"), "{e}");

    // The names budget: a small one runs out, and says so.
    let limits = nminus::ImageLimits {
        max_name_bytes: 1 << 20,
        ..nminus::ImageLimits::default()
    };
    let names = writer::layer_tar(&entries[..800]);
    let mut budget = nminus::LayerBudget::new(&limits);
    let e = nminus::parse_layer(&names[..], &limits, &mut budget)
        .unwrap_err()
        .to_string();
    assert!(e.contains("entry names"), "{e}");
}

/// A dpkg status cut inside a `Version:` value: dpkg-query refuses the file; `collect` records
/// a problem at that line and never the shortened version, and keeps the whole stanzas.
#[test]
fn truncated_dpkg_status_is_a_problem() {
    let full = "Package: a\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: d\n\nPackage: b\nStatus: install ok installed\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: d\nVersion: 0.188-2.1\n";
    let cut = &full[..full.find("0.188").unwrap() + 3];
    assert!(cut.ends_with("Version: 0.1"));
    let t = tempfile::tempdir().unwrap();
    let admin = t.path().join("var/lib/dpkg");
    fs_err::create_dir_all(admin.join("updates")).unwrap();
    fs_err::create_dir_all(admin.join("info")).unwrap();
    fs_err::write(admin.join("status"), cut).unwrap();
    // What dpkg itself says of the same file.
    let dq = Command::new("dpkg-query")
        .arg(format!("--admindir={}", admin.display()))
        .arg("-W")
        .output()
        .expect("dpkg-query is installed");
    assert!(!dq.status.success(), "dpkg-query accepted a cut file");
    assert!(
        String::from_utf8_lossy(&dq.stderr).contains("missing final newline"),
        "{}",
        String::from_utf8_lossy(&dq.stderr)
    );
    let out = nminus_limited(&[
        "collect",
        "--root",
        t.path().to_str().unwrap(),
        "--node-id",
        "n1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let inv = inventory(&out);
    let pk = packages(&inv);
    assert_eq!(pk, [("a".to_owned(), "1.0".to_owned())], "{pk:?}");
    let pr = inv["problems"].as_array().unwrap();
    assert!(
        pr.iter()
            .any(|p| p["location"]["path"] == "/var/lib/dpkg/status"
                && p["location"]["line"] == 13
                && p["message"]
                    .as_str()
                    .unwrap()
                    .contains("field `Version` (missing final newline)")),
        "{pr:?}"
    );
    // The whole file is accepted by both.
    fs_err::write(admin.join("status"), full).unwrap();
    let out = nminus_limited(&[
        "collect",
        "--root",
        t.path().to_str().unwrap(),
        "--node-id",
        "n1",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(packages(&inventory(&out)).contains(&("b".into(), "0.188-2.1".into())));
}

/// A scan with an unreadable or broken file in `--local-advisories` is incomplete: exit 2 and a
/// problem naming the file (before: dropped, exit 0).
#[test]
fn broken_local_advisories_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let local = t.path().join("local");
    fs_err::create_dir_all(&local).unwrap();
    fs_err::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("advisories/local/NMINUS-LOCAL-EXAMPLE.json"),
        local.join("NMINUS-LOCAL-EXAMPLE.json"),
    )
    .unwrap();
    fs_err::write(local.join("BROKEN-1.json"), "{\"id\": \"BROKEN-1\", ").unwrap();
    mkfifo(&local.join("FIFO-1.json"));
    let lock = t.path().join("Cargo.lock");
    fs_err::write(
        &lock,
        "version = 3\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    )
    .unwrap();
    let cache = t.path().join("cache");
    let out = Command::new("timeout")
        .args(["-s", "KILL", &HANG_GUARD_SECS.to_string()])
        .arg(env!("CARGO_BIN_EXE_nminus"))
        .args([
            "scan",
            "--feed",
            "rustsec",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(&cache)
        .arg("--data")
        .arg(shared_data(""))
        .arg("--local-advisories")
        .arg(&local)
        .arg(&lock)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = r.to_string();
    assert!(text.contains("BROKEN-1.json"), "{text}");
    assert!(text.contains("FIFO-1.json"), "{text}");
    assert!(text.contains("local advisories"), "{text}");
}

/// 200 KB of nested `[` in a policy, in sources.yaml-shaped YAML and in an operator's advisory:
/// refused before parsing with the file and line, within the memory limit.
#[test]
fn nested_yaml_is_refused_with_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    let nested = format!("name: deep\nrules: {}\n", "[".repeat(200_000));
    let policy = t.path().join("deep-policy.yaml");
    fs_err::write(&policy, &nested).unwrap();
    let out = nminus_limited(&["policy", "check", policy.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("deep-policy.yaml:2") && stderr.contains("nested more than"),
        "{stderr}"
    );
    // Block nesting on one line (`- - - …`) counts too.
    fs_err::write(&policy, format!("rules:\n{}x\n", "- ".repeat(100_000))).unwrap();
    let out = nminus_limited(&["policy", "check", policy.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("deep-policy.yaml:2"), "{stderr}");

    let found = nminus::OsvSource::new("local");
    let dir = t.path().join("adv");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(
        dir.join("DEEP-1.yaml"),
        format!("id: DEEP-1\naffected: {}\n", "{a: ".repeat(50_000)),
    )
    .unwrap();
    let loaded = nminus::AdvisorySource::load(&found, &dir).unwrap();
    let p = loaded
        .problems
        .iter()
        .find(|p| p.location.path == "DEEP-1.yaml")
        .unwrap_or_else(|| panic!("{:?}", loaded.problems));
    assert_eq!(p.location.line, Some(2), "{p:?}");
    assert!(p.message.contains("nested more than"), "{p:?}");
}

/// Escape sequences in a node's files never reach the terminal raw: problems printed to stderr
/// show controls as `?`.
#[test]
fn terminal_escapes_are_shown_as_question_marks() {
    let t = tempfile::tempdir().unwrap();
    let admin = t.path().join("var/lib/dpkg");
    fs_err::create_dir_all(&admin).unwrap();
    // A title change, a screen clear and a bell in a malformed line.
    fs_err::write(
        admin.join("status"),
        format!("{DPKG_OK}\x1b]0;owned\x07\x1b[2J\x1b[H garbage\nPackage: z\n\n"),
    )
    .unwrap();
    let out = nminus_limited(&[
        "collect",
        "--root",
        t.path().to_str().unwrap(),
        "--node-id",
        "n1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = &out.stderr;
    assert!(
        !stderr.iter().any(|&b| b == 0x1b || b == 0x07),
        "raw controls on stderr: {:?}",
        String::from_utf8_lossy(stderr)
    );
    let s = String::from_utf8_lossy(stderr);
    assert!(s.contains("?]0;owned??[2J?[H"), "{s}");
}
