//! `nminus sync` end to end, offline: mirrors and bundles built from ../shared/data, local git
//! repositories made here, a loopback HTTP server started here; malicious bundles; the compiled
//! feed cache.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use nminus::load_all_cached;
use nminus::{load_all, FeedsConfig, SyncState};
use nminus::{sync, ExtractLimits, SyncFrom, SyncOptions, SyncOutcome as Outcome};

use crate::git_http_server::git_http_server;
use crate::support::{nminus, shared_data};

const NOW: &str = "2026-11-25T10:00:00Z";

/// Copy a folder tree (files made writable: the shared data is read-only).
fn copy_tree(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for e in fs_err::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            fs_err::write(to.join(e.file_name()), fs_err::read(&p).unwrap()).unwrap();
        }
    }
}

/// A mirror holding two small feeds of the shared data: `ossa` and `redhat-csaf-vex`.
fn small_mirror(root: &Path) {
    copy_tree(
        &shared_data("openstack-ossa/ossa"),
        &root.join("openstack-ossa/ossa"),
    );
    copy_tree(
        &shared_data("distro-advisories/redhat-csaf-vex-claircore"),
        &root.join("distro-advisories/redhat-csaf-vex-claircore"),
    );
}

fn run(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut c = nminus();
    c.args(args);
    for (flag, p) in paths {
        c.arg(flag).arg(p);
    }
    c.env("NMINUS_NOW", NOW).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `nminus scan --data DIR` with the given feeds on a requirements file; the JSON report.
fn scan(
    data: &Path,
    feeds: &[&str],
    requirements: &str,
    dir: &Path,
) -> (Option<i32>, serde_json::Value) {
    let req = dir.join("requirements.txt");
    fs_err::write(&req, requirements).unwrap();
    let mut c = nminus();
    c.args([
        "scan",
        "--format",
        "json",
        "--as-of",
        "2026-11-25",
        "--data",
    ])
    .arg(data)
    .arg("--cache-dir")
    .arg(dir.join("cache"));
    for f in feeds {
        c.args(["--feed", f]);
    }
    let o = c.arg(&req).output().unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.code(), v)
}

fn loaded_count(report: &serde_json::Value, feed: &str) -> u64 {
    report["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == feed)
        .filter(|f| f["loaded"] == true)
        .and_then(|f| f["advisories"].as_u64())
        .unwrap_or_else(|| panic!("feed {feed} not loaded: {report}"))
}

#[test]
fn sync_from_a_mirror_directory_then_scan() {
    let t = tempfile::tempdir().unwrap();
    let mirror = t.path().join("mirror");
    let data = t.path().join("data");
    small_mirror(&mirror);
    let args = ["sync", "--feed", "ossa", "--feed", "redhat-csaf-vex"];
    let o = run(&args, &[("--data", &data), ("--from", &mirror)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ossa") && out.contains("updated"),
        "{}",
        text(&o)
    );
    assert!(data.join("openstack-ossa/ossa").is_dir());
    let state = SyncState::load(&data);
    let ossa = &state.feeds["ossa"];
    assert_eq!(ossa.synced_at, NOW);
    assert_eq!(ossa.from, mirror.display().to_string());
    assert!(ossa.revision.as_deref().unwrap().starts_with("sha256:"));

    // Again: nothing changed.
    let o = run(&args, &[("--data", &data), ("--from", &mirror)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("unchanged"),
        "{}",
        text(&o)
    );

    // The synced directory scans.
    let (code, r) = scan(
        &data,
        &["ossa", "redhat-csaf-vex"],
        "jinja2==2.7.1\n",
        t.path(),
    );
    // Exit 2 only for what other data (release catalogs) leaves unjudged, never for the feeds.
    assert!(matches!(code, Some(0 | 2)), "{code:?}");
    assert!(
        !r["not_judged"].to_string().contains("advisory feed"),
        "{}",
        r["not_judged"]
    );
    assert!(loaded_count(&r, "ossa") > 150);
    assert!(loaded_count(&r, "redhat-csaf-vex") >= 4);

    // A feed the mirror lacks: failed when named, skipped otherwise; the others still sync.
    let o = run(
        &["sync", "--feed", "ossa", "--feed", "rustsec"],
        &[("--data", &data), ("--from", &mirror)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("rustsec")
            && out.contains("failed")
            && out.contains("has no folder `rustsec-advisory-db`"),
        "{}",
        text(&o)
    );
    assert!(out.contains("unchanged"), "{}", text(&o));
    // The same through file://.
    let url = format!("file://{}", mirror.display());
    let o = run(
        &["sync", "--feed", "ossa", "--from", &url],
        &[("--data", &data)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A `.tar.gz` of `entries` (path in the archive, file on disk) built with the tar crate.
fn tar_gz(out: &Path, root: &Path, prefix: &str) {
    let f = fs_err::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    b.append_dir_all(prefix, root).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

#[test]
fn sync_from_a_bundle_equals_sync_from_the_mirror_and_bundle_out_round_trips() {
    let t = tempfile::tempdir().unwrap();
    let mirror = t.path().join("mirror");
    small_mirror(&mirror);
    // The bundle wraps the layout in one top-level folder: accepted too.
    let bundle = t.path().join("feeds.tar.gz");
    tar_gz(&bundle, &mirror, "feeds-2026-11-25");
    let (d1, d2) = (t.path().join("d1"), t.path().join("d2"));
    let o = run(
        &["sync", "--feed", "ossa", "--feed", "redhat-csaf-vex"],
        &[("--data", &d1), ("--from", &mirror)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&["sync"], &[("--data", &d2), ("--from", &bundle)]);
    // Feeds the bundle does not hold are skipped (not named with --feed): exit 0.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (s1, s2) = (SyncState::load(&d1), SyncState::load(&d2));
    for f in ["ossa", "redhat-csaf-vex"] {
        assert_eq!(s1.feeds[f].revision, s2.feeds[f].revision, "{f}");
    }
    assert!(!s2.feeds.contains_key("rustsec"));
    // The staging folder is gone.
    let tmp = d2.join(".nminus/tmp");
    assert_eq!(fs_err::read_dir(&tmp).unwrap().count(), 0);

    // --bundle-out writes the data directory's feeds and their state; a third site syncs from
    // it and keeps the original sync time.
    let out = t.path().join("carry.tar.gz");
    let o = run(
        &["sync", "--feed", "ossa"],
        &[("--data", &d2), ("--bundle-out", &out)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d3 = t.path().join("d3");
    let o = nminus()
        .args(["sync", "--feed", "ossa", "--data"])
        .arg(&d3)
        .arg("--from")
        .arg(format!("file://{}", out.display()))
        .env("NMINUS_NOW", "2026-12-01T00:00:00Z")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s3 = SyncState::load(&d3);
    assert_eq!(s3.feeds["ossa"].synced_at, NOW, "upstream time kept");
    assert_eq!(s3.feeds["ossa"].revision, s1.feeds["ossa"].revision);
}

fn commit_all(repo: &git2::Repository, msg: &str) -> git2::Oid {
    let mut idx = repo.index().unwrap();
    idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    idx.write().unwrap();
    let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("nminus test", "test@example.invalid").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
        .unwrap()
}

fn init_repo(dir: &Path) -> git2::Repository {
    let mut o = git2::RepositoryInitOptions::new();
    o.initial_head("main");
    git2::Repository::init_opts(dir, &o).unwrap()
}

#[test]
fn sync_from_local_git_repositories_fast_forwards() {
    let t = tempfile::tempdir().unwrap();
    let up = t.path().join("upstream");
    let repo = init_repo(&up);
    let vulns = shared_data("pypa-advisory-database/vulns/jinja2");
    fs_err::create_dir_all(up.join("vulns/jinja2")).unwrap();
    fs_err::write(up.join("README.md"), "not part of the feed").unwrap();
    fs_err::copy(
        vulns.join("PYSEC-2014-8.yaml"),
        up.join("vulns/jinja2/PYSEC-2014-8.yaml"),
    )
    .unwrap();
    let c1 = commit_all(&repo, "one advisory");
    let sources = t.path().join("sources.yaml");
    fs_err::write(
        &sources,
        format!(
            "feeds:\n  - name: mini-pypa\n    kind: osv\n    folder: mini-pypa/vulns\n    upstream: {{ git: \"file://{}\", branch: main, subdir: vulns }}\n  - name: whole\n    kind: osv\n    folder: whole\n    upstream: {{ git: \"{}\" }}\n",
            up.display(),
            up.display()
        ),
    )
    .unwrap();
    let data = t.path().join("data");
    let sync_cmd = || run(&["sync"], &[("--data", &data), ("--sources", &sources)]);
    let o = sync_cmd();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = SyncState::load(&data);
    assert_eq!(
        s.feeds["mini-pypa"].revision.as_deref(),
        Some(c1.to_string().as_str())
    );
    assert_eq!(
        s.feeds["whole"].revision.as_deref(),
        Some(c1.to_string().as_str())
    );
    assert!(data
        .join("mini-pypa/vulns/jinja2/PYSEC-2014-8.yaml")
        .is_file());
    assert!(
        !data.join("mini-pypa/vulns/README.md").exists(),
        "only the subdir"
    );
    assert!(data.join("whole/README.md").is_file());
    assert!(data.join(".nminus/git/mini-pypa").is_dir());

    // Upstream gains a commit: fast-forward, new revision, new file.
    fs_err::copy(
        vulns.join("PYSEC-2019-217.yaml"),
        up.join("vulns/jinja2/PYSEC-2019-217.yaml"),
    )
    .unwrap();
    let c2 = commit_all(&repo, "two advisories");
    let o = sync_cmd();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("fast-forward"),
        "{}",
        text(&o)
    );
    let s = SyncState::load(&data);
    assert_eq!(
        s.feeds["mini-pypa"].revision.as_deref(),
        Some(c2.to_string().as_str())
    );
    assert!(data
        .join("mini-pypa/vulns/jinja2/PYSEC-2019-217.yaml")
        .is_file());

    // Nothing new: unchanged.
    let o = sync_cmd();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("updated"),
        "{}",
        text(&o)
    );

    // The synced feed loads and scans: jinja2 2.7.1 is affected by PYSEC-2014-8.
    let req = t.path().join("requirements.txt");
    fs_err::write(&req, "jinja2==2.7.1\n").unwrap();
    let cfg = FeedsConfig::load(&sources).unwrap();
    let loaded = load_all(&cfg, &data, None, None);
    assert!(
        loaded.status.iter().all(|s| s.loaded),
        "{:?}",
        loaded.status
    );
    assert_eq!(loaded.status[0].advisories, 2);
    let o = nminus()
        .args([
            "scan",
            "--format",
            "json",
            "--fail-on",
            "unknown",
            "--feed",
            "mini-pypa",
            "--sources",
        ])
        .arg(&sources)
        .arg("--data")
        .arg(&data)
        .arg("--no-cache")
        .arg(&req)
        .output()
        .unwrap();
    // 1 = findings at the gate (every vulnerability: `--fail-on unknown`).
    assert_eq!(o.status.code(), Some(1), "{:?}", o.status);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        r["findings"].to_string().contains("PYSEC-2014-8"),
        "{}",
        r["findings"]
    );
    assert!(
        !r["not_judged"].to_string().contains("advisory feed"),
        "{}",
        r["not_judged"]
    );

    // A subdir that upstream does not have: that feed fails, the other syncs.
    let bad = t.path().join("bad.yaml");
    fs_err::write(
        &bad,
        format!(
            "feeds:\n  - name: mini-pypa\n    kind: osv\n    folder: mini-pypa/vulns\n    upstream: {{ git: \"{}\", branch: main, subdir: nope }}\n  - name: gone\n    kind: osv\n    folder: gone\n    upstream: {{ git: \"file://{}/missing\" }}\n  - name: whole\n    kind: osv\n    folder: whole\n    upstream: {{ git: \"{}\", branch: main }}\n",
            up.display(),
            t.path().display(),
            up.display()
        ),
    )
    .unwrap();
    let o = run(&["sync"], &[("--data", &data), ("--sources", &bad)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("subdir `nope` not found"), "{}", text(&o));
    assert!(
        out.contains("/missing"),
        "the failing URL is named: {}",
        text(&o)
    );
    assert!(
        data.join("mini-pypa/vulns/jinja2").is_dir(),
        "the old folder stays"
    );
}

/// A loopback HTTP server answering `requests` requests (then it stops), with ETags; the
/// request heads it saw are recorded.
fn serve(
    files: Vec<(&'static str, Vec<u8>, &'static str)>,
    requests: usize,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    std::thread::spawn(move || {
        for _ in 0..requests {
            let Ok((mut s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            seen2.lock().unwrap().push(head.clone());
            let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            let inm = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("if-none-match:")
                    .map(|v| v.trim().to_owned())
            });
            let resp = match files.iter().find(|f| f.0 == path) {
                Some((_, _, etag)) if inm.as_deref() == Some(*etag) => format!(
                    "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                )
                .into_bytes(),
                Some((_, body, etag)) => {
                    let mut v = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {etag}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    v.extend_from_slice(body);
                    v
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = s.write_all(&resp);
        }
    });
    (base, seen)
}

#[test]
fn sync_archives_over_http_with_etags() {
    let t = tempfile::tempdir().unwrap();
    let debian = fs_err::read(shared_data("distro-advisories/vunnel/debian/debian.json")).unwrap();
    // A tar.gz whose `top/ossa` subdir is the feed.
    let stage = t.path().join("stage");
    copy_tree(&shared_data("openstack-ossa/ossa"), &stage.join("ossa"));
    let tgz = t.path().join("ossa.tar.gz");
    tar_gz(&tgz, &stage, "top");
    let tgz_bytes = fs_err::read(&tgz).unwrap();
    let sha = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(&tgz_bytes);
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let (base, seen) = serve(
        vec![
            ("/debian.json", debian, "\"v1\""),
            ("/ossa.tar.gz", tgz_bytes, "\"t1\""),
        ],
        6,
    );
    let sources = t.path().join("sources.yaml");
    fs_err::write(
        &sources,
        format!(
            "feeds:\n  - name: debian-tracker\n    kind: debian-tracker\n    folder: debian\n    upstream: {{ archive: \"{base}/debian.json\", file: debian.json }}\n  - name: ossa\n    kind: ossa\n    folder: ossa\n    upstream: {{ archive: \"{base}/ossa.tar.gz\", subdir: top/ossa, sha256: \"{sha}\" }}\n"
        ),
    )
    .unwrap();
    let data = t.path().join("data");
    let o = run(&["sync"], &[("--data", &data), ("--sources", &sources)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(data.join("debian/debian.json").is_file());
    assert!(data.join("ossa").read_dir().unwrap().count() > 150);
    // Again: conditional requests, both 304.
    let o = run(&["sync"], &[("--data", &data), ("--sources", &sources)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("unchanged").count(), 2, "{}", text(&o));
    assert!(out.contains("HTTP 304"), "{}", text(&o));
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 4);
    assert!(
        heads[2]
            .to_ascii_lowercase()
            .contains("if-none-match: \"v1\""),
        "{heads:?}"
    );
    // The synced data loads.
    let cfg = FeedsConfig::load(&sources).unwrap();
    let loaded = load_all(&cfg, &data, None, None);
    assert!(
        loaded.status.iter().all(|s| s.loaded && s.advisories > 0),
        "{:?}",
        loaded.status
    );

    // A pinned sha256 that does not match: that feed fails, naming the URL; the folder stays.
    let bad = t.path().join("bad.yaml");
    fs_err::write(
        &bad,
        format!(
            "feeds:\n  - name: ossa\n    kind: ossa\n    folder: ossa\n    upstream: {{ archive: \"{base}/ossa.tar.gz\", subdir: top/ossa, sha256: \"{}\" }}\n  - name: missing\n    kind: osv\n    folder: missing\n    upstream: {{ archive: \"{base}/nope.tar.gz\" }}\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let o = run(
        &["sync", "--force"],
        &[("--data", &data), ("--sources", &bad)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("sha256 is") && out.contains("/ossa.tar.gz"),
        "{}",
        text(&o)
    );
    assert!(
        out.contains("404") && out.contains("/nope.tar.gz"),
        "{}",
        text(&o)
    );
    assert!(data.join("ossa").read_dir().unwrap().count() > 150);
}

// ---------------------------------------------------------------------------------------------
// Malicious bundles

fn raw_entry(
    path: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
    size: Option<u64>,
) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size.unwrap_or(data.len() as u64));
    h.set_mode(0o644);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn write_gz(path: &Path, entries: &[Vec<u8>]) {
    let mut t = entries.concat();
    t.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(
        fs_err::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&t).unwrap();
    gz.finish().unwrap();
}

fn files_under(p: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = fs_err::read_dir(p) {
        for e in rd {
            let e = e.unwrap().path();
            if e.is_dir() {
                v.extend(files_under(&e));
            }
            v.push(e);
        }
    }
    v
}

#[test]
fn malicious_bundles_are_refused_and_write_nothing() {
    use tar::EntryType as T;
    let good = |p: &str| {
        raw_entry(
            &format!("openstack-ossa/ossa/{p}"),
            T::Regular,
            "",
            b"x",
            None,
        )
    };
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "dotdot",
            vec![
                good("a.yaml"),
                raw_entry(
                    "openstack-ossa/ossa/../../../evil",
                    T::Regular,
                    "",
                    b"pwned",
                    None,
                ),
            ],
            "`..`",
        ),
        (
            "absolute",
            vec![raw_entry(
                "/tmp/nminus-test-evil-abs",
                T::Regular,
                "",
                b"pwned",
                None,
            )],
            "absolute path",
        ),
        (
            "symlink",
            vec![
                raw_entry(
                    "openstack-ossa/ossa/l",
                    T::Symlink,
                    "../../../../etc",
                    b"",
                    None,
                ),
                good("l/passwd"),
            ],
            "points outside",
        ),
        (
            "symlink-abs",
            vec![raw_entry(
                "openstack-ossa/ossa/l",
                T::Symlink,
                "/etc",
                b"",
                None,
            )],
            "points outside",
        ),
        (
            "hardlink",
            vec![raw_entry(
                "openstack-ossa/ossa/h",
                T::Link,
                "/etc/passwd",
                b"",
                None,
            )],
            "outside",
        ),
        (
            "device",
            vec![raw_entry(
                "openstack-ossa/ossa/null",
                T::Char,
                "",
                b"",
                None,
            )],
            "device file",
        ),
        (
            "huge-header",
            vec![raw_entry(
                "openstack-ossa/ossa/big",
                T::Regular,
                "",
                b"",
                Some(1 << 42),
            )],
            "more than",
        ),
    ];
    for (name, entries, want) in cases {
        let t = tempfile::tempdir().unwrap();
        let bundle = t.path().join(format!("{name}.tar.gz"));
        write_gz(&bundle, &entries);
        let data = t.path().join("data");
        let o = run(
            &["sync", "--feed", "ossa"],
            &[("--data", &data), ("--from", &bundle)],
        );
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("refused") && err.contains(want),
            "{name}: {}",
            text(&o)
        );
        assert!(
            !t.path().join("evil").exists() && !Path::new("/tmp/nminus-test-evil-abs").exists()
        );
        // Nothing but the (empty) bookkeeping folder was written.
        let written: Vec<_> = files_under(&data)
            .into_iter()
            .filter(|p| p.is_file() && !p.ends_with("state.json"))
            .collect();
        assert!(written.is_empty(), "{name}: {written:?}");
        assert!(!data.join("openstack-ossa").exists(), "{name}");
    }

    // A compression bomb: 64 MiB of zeros in a few KiB, against a 1 MiB limit.
    let t = tempfile::tempdir().unwrap();
    let bundle = t.path().join("bomb.tar.gz");
    let zeros = vec![0u8; 64 << 20];
    write_gz(
        &bundle,
        &[raw_entry(
            "openstack-ossa/ossa/bomb.yaml",
            T::Regular,
            "",
            &zeros,
            None,
        )],
    );
    assert!(fs_err::metadata(&bundle).unwrap().len() < 1 << 20);
    let data = t.path().join("data");
    let o = run(
        &["sync", "--feed", "ossa", "--max-bytes", "1048576"],
        &[("--data", &data), ("--from", &bundle)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("more than 1048576 bytes"),
        "{}",
        text(&o)
    );
    assert!(files_under(&data)
        .iter()
        .all(|p| !p.is_file() || p.ends_with("state.json")));

    // The library API says the same, per feed.
    let cfg = FeedsConfig::builtin();
    let mut opts = SyncOptions::new(NOW);
    opts.from = Some(SyncFrom::Bundle(bundle));
    opts.feeds = vec!["ossa".into()];
    opts.limits = ExtractLimits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };
    let r = sync(&cfg, &data, &opts);
    assert!(!r.ok());
    assert_eq!(r.feeds[0].outcome, Outcome::Failed);
    assert!(r.feeds[0].message.contains("bomb.tar.gz"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Cache

fn today() -> Option<time::Date> {
    Some(time::macros::date!(2026 - 11 - 25))
}

fn same(a: &nminus::LoadedFeeds, b: &nminus::LoadedFeeds) {
    assert_eq!(
        a.status.len(),
        b.status.len(),
        "{:#?}\n{:#?}",
        a.status,
        b.status
    );
    for (x, y) in a.status.iter().zip(&b.status) {
        assert_eq!(x, y);
    }
    assert_eq!(a.problems, b.problems);
    assert_eq!(a.advisories.len(), b.advisories.len());
    assert!(a.all_advisories() == b.all_advisories());
}

#[test]
fn cache_gives_what_load_all_gives() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let cfg = FeedsConfig::builtin();
    let data = shared_data("");
    let reference = load_all(&cfg, &data, None, today());
    let cold = load_all_cached(&cfg, &data, None, today(), Some(&cache));
    same(&reference, &cold);
    let entries: Vec<_> = fs_err::read_dir(cache.join("feeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(entries.len() >= 5, "{entries:?}");
    let warm = load_all_cached(&cfg, &data, None, today(), Some(&cache));
    same(&reference, &warm);

    // Corrupt every entry: ignored and rebuilt.
    for (i, e) in entries.iter().enumerate() {
        let mut b = fs_err::read(e).unwrap();
        match i % 3 {
            0 => b.truncate(b.len() / 2),
            1 => b = b"garbage".to_vec(),
            _ => {
                // One byte of the body, which may well still parse.
                let nl = b.iter().position(|c| *c == b'\n').unwrap();
                let mid = nl + (b.len() - nl) / 2;
                b[mid] ^= 0x01;
            }
        }
        fs_err::write(e, b).unwrap();
    }
    let again = load_all_cached(&cfg, &data, None, today(), Some(&cache));
    same(&reference, &again);
    let rewritten = load_all_cached(&cfg, &data, None, today(), Some(&cache));
    same(&reference, &rewritten);
}

#[test]
fn changing_a_feed_file_invalidates_its_cache_entry() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    copy_tree(
        &shared_data("openstack-ossa/ossa"),
        &data.join("openstack-ossa/ossa"),
    );
    let cache = t.path().join("cache");
    let cfg = FeedsConfig::builtin().select(&["ossa".to_owned()]).unwrap();
    let first = load_all_cached(&cfg, &data, None, None, Some(&cache));
    assert!(first.status[0].loaded);
    let victim = fs_err::read_dir(data.join("openstack-ossa/ossa"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .max()
        .unwrap();
    let text = fs_err::read_to_string(&victim).unwrap();
    let id = victim.file_stem().unwrap().to_string_lossy().into_owned();
    // Same size, different content.
    assert!(text.contains("CVE-"), "{}", victim.display());
    let changed = text.replacen("CVE-", "CVX-", 1);
    fs_err::write(&victim, &changed).unwrap();
    let second = load_all_cached(&cfg, &data, None, None, Some(&cache));
    same(&load_all(&cfg, &data, None, None), &second);
    // A new file appears.
    let extra = data.join("openstack-ossa/ossa/OSSA-2099-001.yaml");
    fs_err::write(&extra, text.replace(&id, "OSSA-2099-001")).unwrap();
    let third = load_all_cached(&cfg, &data, None, None, Some(&cache));
    assert_eq!(third.status[0].advisories, first.status[0].advisories + 1);
    same(&load_all(&cfg, &data, None, None), &third);
}

/// A feed folder written by `nminus sync` is keyed by its recorded revision, not by a walk of
/// its files: a sync that brings new content, and a folder put in its place by hand, are both
/// read again; the compiled entry decodes to exactly what the reader gives.
#[test]
fn synced_feeds_are_keyed_by_their_revision() {
    let t = tempfile::tempdir().unwrap();
    let mirror = t.path().join("mirror");
    let data = t.path().join("data");
    let cache = t.path().join("cache");
    small_mirror(&mirror);
    let o = run(
        &["sync", "--feed", "ossa"],
        &[("--data", &data), ("--from", &mirror)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cfg = FeedsConfig::builtin().select(&["ossa".to_owned()]).unwrap();
    let first = load_all_cached(&cfg, &data, None, None, Some(&cache));
    same(&load_all(&cfg, &data, None, None), &first);
    let warm = load_all_cached(&cfg, &data, None, None, Some(&cache));
    assert!(
        matches!(warm.advisories[0], nminus::FeedAdvisories::Compiled(_)),
        "the second load reads the compiled entry"
    );
    same(&first, &warm);

    // New content upstream, synced: a new revision, read again.
    let folder = mirror.join("openstack-ossa/ossa");
    let victim = fs_err::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .max()
        .unwrap();
    let id = victim.file_stem().unwrap().to_string_lossy().into_owned();
    let text_of = fs_err::read_to_string(&victim).unwrap();
    fs_err::write(
        folder.join("OSSA-2099-001.yaml"),
        text_of.replace(&id, "OSSA-2099-001"),
    )
    .unwrap();
    let o = run(
        &["sync", "--feed", "ossa"],
        &[("--data", &data), ("--from", &mirror)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = load_all_cached(&cfg, &data, None, None, Some(&cache));
    assert_eq!(second.status[0].advisories, first.status[0].advisories + 1);
    same(&load_all(&cfg, &data, None, None), &second);

    // The folder replaced by other means (the old content moved back in its place).
    let live = data.join("openstack-ossa/ossa");
    let stash = t.path().join("stash");
    copy_tree(&live, &stash);
    fs_err::remove_file(stash.join("OSSA-2099-001.yaml")).unwrap();
    fs_err::remove_dir_all(&live).unwrap();
    fs_err::rename(&stash, &live).unwrap();
    let third = load_all_cached(&cfg, &data, None, None, Some(&cache));
    assert_eq!(third.status[0].advisories, first.status[0].advisories);
    same(&load_all(&cfg, &data, None, None), &third);
}

/// Git feeds over smart HTTP, against git's own server: the first sync fetches the whole
/// history, the next one offers the commit it has (`have`) and fast-forwards, a repository the
/// server does not have fails with the URL and the HTTP status, and the synced feed loads.
#[test]
fn sync_git_over_smart_http() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    let up = root.join("upstream");
    let repo = init_repo(&up);
    let vulns = shared_data("pypa-advisory-database/vulns/jinja2");
    fs_err::create_dir_all(up.join("vulns/jinja2")).unwrap();
    fs_err::copy(
        vulns.join("PYSEC-2014-8.yaml"),
        up.join("vulns/jinja2/PYSEC-2014-8.yaml"),
    )
    .unwrap();
    let c1 = commit_all(&repo, "one advisory");
    let (base, seen) = git_http_server(&root);
    let sources = t.path().join("sources.yaml");
    fs_err::write(
        &sources,
        format!(
            "feeds:\n  - name: http-pypa\n    kind: osv\n    folder: http-pypa\n    upstream: {{ git: \"{base}/upstream\", branch: main, subdir: vulns }}\n"
        ),
    )
    .unwrap();
    let data = t.path().join("data");
    let sync_cmd = |s: &Path| run(&["sync"], &[("--data", &data), ("--sources", s)]);
    let o = sync_cmd(&sources);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = SyncState::load(&data);
    assert_eq!(
        s.feeds["http-pypa"].revision.as_deref(),
        Some(c1.to_string().as_str())
    );
    assert!(data.join("http-pypa/jinja2/PYSEC-2014-8.yaml").is_file());
    {
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter()
                .any(|l| l.starts_with("GET /upstream/info/refs?service=git-upload-pack")),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|l| l.starts_with("POST /upstream/git-upload-pack have=false")),
            "{seen:?}"
        );
    }

    // A new upstream commit: the fetch offers what it has and fast-forwards.
    fs_err::copy(
        vulns.join("PYSEC-2019-217.yaml"),
        up.join("vulns/jinja2/PYSEC-2019-217.yaml"),
    )
    .unwrap();
    let c2 = commit_all(&repo, "two advisories");
    let o = sync_cmd(&sources);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("fast-forward"),
        "{}",
        text(&o)
    );
    assert_eq!(
        SyncState::load(&data).feeds["http-pypa"]
            .revision
            .as_deref(),
        Some(c2.to_string().as_str())
    );
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("POST /upstream/git-upload-pack have=true")));
    let cfg = FeedsConfig::load(&sources).unwrap();
    let loaded = load_all(&cfg, &data, None, None);
    assert_eq!(loaded.status[0].advisories, 2, "{:?}", loaded.status);

    // Nothing new: no pack is asked for.
    let posts = |seen: &Arc<Mutex<Vec<String>>>| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("POST"))
            .count()
    };
    let before = posts(&seen);
    let o = sync_cmd(&sources);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(posts(&seen), before);

    // A repository the server does not have.
    let bad = t.path().join("bad.yaml");
    fs_err::write(
        &bad,
        format!("feeds:\n  - name: gone\n    kind: osv\n    folder: gone\n    upstream: {{ git: \"{base}/nope\" }}\n"),
    )
    .unwrap();
    let o = sync_cmd(&bad);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("{base}/nope/info/refs")) && out.contains("404"),
        "{out}"
    );
}

/// The progress a terminal is shown while a git feed is fetched over smart HTTP: the feed, the
/// fetch, the pack being indexed, the outcome, in that order. Off a terminal `nminus sync`
/// shows none of it.
#[test]
fn sync_reports_progress_per_feed_and_none_off_a_terminal() {
    use nminus::SyncEvent;
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    let up = root.join("upstream");
    let repo = init_repo(&up);
    fs_err::create_dir_all(up.join("vulns/jinja2")).unwrap();
    fs_err::copy(
        shared_data("pypa-advisory-database/vulns/jinja2/PYSEC-2014-8.yaml"),
        up.join("vulns/jinja2/PYSEC-2014-8.yaml"),
    )
    .unwrap();
    commit_all(&repo, "one advisory");
    let (base, _seen) = git_http_server(&root);
    let sources = t.path().join("sources.yaml");
    fs_err::write(
        &sources,
        format!(
            "feeds:\n  - name: http-pypa\n    kind: osv\n    folder: http-pypa\n    upstream: {{ git: \"{base}/upstream\", branch: main, subdir: vulns }}\n"
        ),
    )
    .unwrap();
    let cfg = FeedsConfig::load(&sources).unwrap();
    let events = Mutex::new(Vec::<String>::new());
    let mut opts = SyncOptions::new("2026-11-25T00:00:00Z");
    opts.progress = Some(Box::new(|e: &SyncEvent<'_>| {
        let line = match e {
            SyncEvent::Feed { name, index, total } => format!("feed {name} {index}/{total}"),
            SyncEvent::Step { name, message } => format!("step {name} {message}"),
            SyncEvent::Done { outcome, .. } => {
                format!("done {} {}", outcome.name, outcome.outcome.as_str())
            }
        };
        events.lock().unwrap().push(line);
    }));
    let report = sync(&cfg, &t.path().join("data"), &opts);
    drop(opts);
    assert!(report.ok(), "{report:?}");
    let events = events.into_inner().unwrap();
    let at = |prefix: &str| {
        events
            .iter()
            .position(|e| e.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {events:#?}"))
    };
    let feed = at("feed http-pypa 0/1");
    let fetching = at(&format!("step http-pypa fetching {base}/upstream"));
    let indexing = at("step http-pypa indexing the pack (");
    let done = at("done http-pypa updated");
    assert!(
        feed < fetching && fetching < indexing && indexing < done,
        "{events:#?}"
    );

    // The command line, its stderr a pipe: no progress at all.
    let o = run(
        &["sync", "--force"],
        &[("--data", &t.path().join("data2")), ("--sources", &sources)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("fetching") && !err.contains("indexing"),
        "{err}"
    );
}
