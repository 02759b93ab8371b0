use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::header::build_header;
use super::*;
use crate::model::OsRelease;

/// A fixture under `shared/data/fixtures/rpm/`.
fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/fixtures/rpm/"
    ))
    .join(rel);
    assert!(
        p.exists(),
        "missing test fixture {}: the shared test data must be checked out beside the crate (../shared/data)",
        p.display()
    );
    p
}

fn bytes(rel: &str) -> Vec<u8> {
    fs_err::read(fixture(rel)).unwrap()
}

type Row = [String; 6];

/// `name, epoch, version, release, arch, sourcerpm` rows of an `*.expected.tsv` (rpm 4.18's
/// output; an absent epoch is an empty field).
fn expected(rel: &str) -> Vec<Row> {
    let text = fs_err::read_to_string(fixture(rel)).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("name\tepoch\tversion\trelease\tarch\tsourcerpm"),
        "{rel}: header line"
    );
    let mut rows: Vec<Row> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{rel}: {l:?}");
            std::array::from_fn(|i| f[i].to_owned())
        })
        .collect();
    rows.sort();
    rows
}

fn row(h: &RpmHeader) -> Row {
    [
        h.name.clone(),
        h.epoch.map(|e| e.to_string()).unwrap_or_default(),
        h.version.clone(),
        h.release.clone(),
        h.arch.clone().unwrap_or_else(|| "(none)".to_owned()),
        h.source_rpm.clone().unwrap_or_else(|| "(none)".to_owned()),
    ]
}

/// Every header of the given blobs (panicking on any error: real fixtures must parse cleanly),
/// without `gpg-pubkey`.
fn headers(blobs: Vec<Blob>) -> Vec<RpmHeader> {
    blobs
        .into_iter()
        .map(|b| {
            let data = b.data.unwrap_or_else(|e| panic!("{}: {e}", b.key));
            parse_header(&data).unwrap_or_else(|e| panic!("{}: {e}", b.key))
        })
        .filter(|h| !h.is_gpg_pubkey())
        .collect()
}

fn sqlite_blobs(path: &Path) -> Result<Vec<Blob>, DbError> {
    let mut v = Vec::new();
    read_sqlite(path, &mut |b| v.push(b))?;
    Ok(v)
}

fn rows(hs: &[RpmHeader]) -> Vec<Row> {
    let mut r: Vec<Row> = hs.iter().map(row).collect();
    r.sort();
    r
}

#[test]
fn sqlite_mariner_matches_rpm() {
    let hs = headers(sqlite_blobs(&fixture("go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite")).unwrap());
    assert_eq!(hs.len(), 129);
    assert_eq!(
        rows(&hs),
        expected("go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite.expected.tsv")
    );
    let curl = hs.iter().find(|h| h.name == "curl").expect("curl");
    assert!(
        curl.files.iter().any(|f| f == "/usr/bin/curl"),
        "{:?}",
        curl.files
    );
}

#[test]
fn bdb_fixtures_match_rpm() {
    for (db, n) in [
        ("go-rpmdb/libuuid/Packages", 1),
        ("syft/Packages", 1),
        ("osv-scalibr/Packages_epoch", 1),
    ] {
        let hs = headers(bdb_blobs(&bytes(db)).unwrap());
        assert_eq!(hs.len(), n, "{db}");
        assert_eq!(rows(&hs), expected(&format!("{db}.expected.tsv")), "{db}");
    }
    let hs = headers(bdb_blobs(&bytes("go-rpmdb/libuuid/Packages")).unwrap());
    assert!(
        hs[0]
            .files
            .iter()
            .any(|f| f.starts_with("/usr/lib64/libuuid.so.1")),
        "{:?}",
        hs[0].files
    );
}

#[test]
fn bdb_big_endian_is_read() {
    // Byte-swap the integer fields libdb writes in host order: the metadata page, every page
    // header, hash item offsets, key numbers and off-page references.
    let le = bytes("go-rpmdb/libuuid/Packages");
    let ps = u32::from_le_bytes(le[20..24].try_into().unwrap()) as usize;
    let mut be = le.clone();
    let swap4 = |b: &mut [u8], at: usize| b[at..at + 4].reverse();
    let swap2 = |b: &mut [u8], at: usize| b[at..at + 2].reverse();
    for at in [8, 12, 16, 20, 28, 32, 36, 40, 44, 48] {
        swap4(&mut be, at);
    }
    for pg in 1..le.len() / ps {
        let base = pg * ps;
        for at in [8, 12, 16] {
            swap4(&mut be, base + at);
        }
        swap2(&mut be, base + 20);
        swap2(&mut be, base + 22);
        if le[base + 25] == 13 {
            let n = usize::from(u16::from_le_bytes([le[base + 20], le[base + 21]]));
            for i in 0..n {
                let at = base + 26 + 2 * i;
                let off = base + usize::from(u16::from_le_bytes([le[at], le[at + 1]]));
                swap2(&mut be, at);
                match le[off] {
                    1 if i % 2 == 0 => swap4(&mut be, off + 1),
                    3 => {
                        swap4(&mut be, off + 4);
                        swap4(&mut be, off + 8);
                    }
                    _ => {}
                }
            }
        }
    }
    assert_eq!(
        rows(&headers(bdb_blobs(&be).unwrap())),
        expected("go-rpmdb/libuuid/Packages.expected.tsv")
    );
}

#[test]
fn ndb_sle15_is_sane() {
    let hs = headers(ndb_blobs(&bytes("go-rpmdb/sle15-bci/Packages.db")).unwrap());
    // The file's slot page has 35 slots in use; none is a gpg-pubkey.
    assert_eq!(hs.len(), 35);
    for h in &hs {
        assert!(
            !h.name.is_empty() && !h.version.is_empty() && !h.release.is_empty(),
            "{h:?}"
        );
        assert!(h.arch.is_some(), "{h:?}");
        assert!(
            h.source_rpm
                .as_deref()
                .is_some_and(|s| s.ends_with(".src.rpm")),
            "{h:?}"
        );
    }
    let find = |n: &str| {
        hs.iter()
            .find(|h| h.name == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let bash = find("bash");
    assert_eq!(
        (bash.version.as_str(), bash.release.as_str()),
        ("4.4", "19.6.1")
    );
    assert_eq!(bash.source_rpm.as_deref(), Some("bash-4.4-19.6.1.src.rpm"));
    assert_eq!(
        bash.vendor.as_deref(),
        Some("SUSE LLC <https://www.suse.com/>")
    );
    assert!(bash
        .files
        .iter()
        .any(|f| f == "/bin/bash" || f == "/usr/bin/bash"));
    let glibc = find("glibc");
    assert_eq!(glibc.version, "2.31");
    assert_eq!(find("sles-release").version, "15.3");
    let mut names: Vec<&str> = hs.iter().map(|h| h.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), hs.len(), "each package once");
}

#[test]
fn single_header_blob() {
    let h = parse_header(&bytes("claircore/rpmdb-header/package.header")).unwrap();
    assert_eq!(h.name, "crypto-policies");
    assert_eq!(h.evr(), "20210213-1.git5c710c0.fc34");
    assert_eq!(h.arch.as_deref(), Some("noarch"));
    assert_eq!(h.vendor.as_deref(), Some("Fedora Project"));
    assert!(h
        .files
        .iter()
        .any(|f| f.starts_with("/etc/crypto-policies/")));
}

#[test]
fn source_rpm_names() {
    assert_eq!(
        parse_source_rpm("util-linux-2.32.1-42.el8_8.src.rpm"),
        Some(("util-linux".to_owned(), "2.32.1-42.el8_8".to_owned()))
    );
    assert_eq!(
        parse_source_rpm("gcc12-12.2.1+git416-150000.1.5.1.src.rpm"),
        Some(("gcc12".to_owned(), "12.2.1+git416-150000.1.5.1".to_owned()))
    );
    assert_eq!(parse_source_rpm("nodash.src.rpm"), None);
    assert_eq!(parse_source_rpm("a-1.src.rpm"), None);
}

fn os(id: &str, version: &str) -> OsRelease {
    OsRelease {
        id: id.to_owned(),
        version_id: Some(version.to_owned()),
        source_file: "/etc/os-release".to_owned(),
        ..OsRelease::default()
    }
}

/// A temporary root holding copies of fixtures at node paths.
fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for (node, fix) in files {
        let host = t.path().join(node.trim_start_matches('/'));
        fs_err::create_dir_all(host.parent().unwrap()).unwrap();
        fs_err::copy(fixture(fix), &host).unwrap();
    }
    t
}

#[test]
fn collector_bdb_package_fields() {
    let t = root_with(&[
        ("/var/lib/rpm/Packages", "go-rpmdb/libuuid/Packages"),
        (
            "/usr/lib/sysimage/rpm/Packages",
            "osv-scalibr/Packages_epoch",
        ),
    ]);
    let root = Root::new(t.path());
    let c = RpmCollector;
    assert_eq!(c.name(), "rpm");
    assert!(c.applies(&root));
    let mut out = Collected {
        os: Some(os("rhel", "8.8")),
        ..Collected::default()
    };
    c.collect(&root, &mut out);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(out.packages.len(), 2);
    let p = &out.packages[0];
    assert_eq!(p.ecosystem, Ecosystem::Rpm);
    assert_eq!(
        (p.name.as_str(), p.version.as_str()),
        ("libuuid", "2.32.1-42.el8_8")
    );
    assert_eq!(
        p.source,
        Some(SourcePackage {
            name: "util-linux".to_owned(),
            version: "2.32.1-42.el8_8".to_owned()
        })
    );
    assert_eq!(
        p.purl,
        "pkg:rpm/rhel/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.8"
    );
    assert_eq!(p.found_by, "rpm-bdb");
    assert_eq!(p.location, Location::path("/var/lib/rpm/Packages"));
    assert!(p.parsed_version().is_ok());
    let PackageMeta::Rpm {
        epoch,
        release,
        arch,
        source_rpm,
        ..
    } = &p.meta
    else {
        panic!("{:?}", p.meta)
    };
    assert_eq!(
        (*epoch, release.as_str(), arch.as_deref()),
        (None, "42.el8_8", Some("x86_64"))
    );
    assert_eq!(
        source_rpm.as_deref(),
        Some("util-linux-2.32.1-42.el8_8.src.rpm")
    );

    let e = &out.packages[1];
    assert_eq!(
        (e.name.as_str(), e.version.as_str()),
        ("hello", "1:0.0.1-rls")
    );
    assert_eq!(e.source.as_ref().unwrap().version, "1:0.0.1-rls");
    assert_eq!(
        e.purl,
        "pkg:rpm/rhel/hello@0.0.1-rls?arch=x86_64&distro=rhel-8.8&epoch=1"
    );
    assert_eq!(e.location.path, "/usr/lib/sysimage/rpm/Packages");
    assert!(matches!(e.meta, PackageMeta::Rpm { epoch: Some(1), .. }));

    // Without os-release: no namespace, no distro.
    let mut out = Collected::default();
    c.collect(&root, &mut out);
    assert_eq!(
        out.packages[0].purl,
        "pkg:rpm/libuuid@2.32.1-42.el8_8?arch=x86_64"
    );
}

#[test]
fn collector_sqlite_symlinked_dir_read_once_and_stale_db_skipped() {
    let t = root_with(&[
        (
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            "go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
        ),
        (
            "/usr/lib/sysimage/rpm/Packages",
            "go-rpmdb/libuuid/Packages",
        ),
    ]);
    fs_err::create_dir_all(t.path().join("var/lib")).unwrap();
    std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", t.path().join("var/lib/rpm")).unwrap();
    let root = Root::new(t.path());
    let mut out = Collected {
        os: Some(os("mariner", "2.0")),
        ..Collected::default()
    };
    RpmCollector.collect(&root, &mut out);
    assert_eq!(out.packages.len(), 129);
    assert!(out
        .packages
        .iter()
        .all(|p| p.found_by == "rpm-sqlite" && p.location.path == "/var/lib/rpm/rpmdb.sqlite"));
    assert!(!out.packages.iter().any(|p| p.name == "libuuid"));
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert_eq!(out.problems[0].kind, ProblemKind::Skipped);
    assert_eq!(out.problems[0].location.path, "/var/lib/rpm/Packages");
    let mr = out
        .packages
        .iter()
        .find(|p| p.name == "mariner-release")
        .unwrap();
    assert_eq!(
        mr.purl,
        "pkg:rpm/mariner/mariner-release@2.0-4.cm2?arch=noarch&distro=mariner-2.0"
    );
    for (path, owner) in &out.os_owned_files {
        assert!(is_python_metadata_path(path), "{path}");
        assert!(out.packages.iter().any(|p| &p.name == owner), "{owner}");
    }
}

#[test]
fn collector_sqlite_wal_is_reported() {
    let t = root_with(&[(
        "/var/lib/rpm/rpmdb.sqlite",
        "go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
    )]);
    fs_err::write(t.path().join("var/lib/rpm/rpmdb.sqlite-wal"), b"pending").unwrap();
    let mut out = Collected::default();
    RpmCollector.collect(&Root::new(t.path()), &mut out);
    assert_eq!(out.packages.len(), 129);
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert!(
        out.problems[0]
            .message
            .contains("rpmdb.sqlite-wal holds 7 bytes"),
        "{}",
        out.problems[0]
    );
    // The database and its directory are unchanged: no -shm or -journal was created.
    let mut names: Vec<String> = fs_err::read_dir(t.path().join("var/lib/rpm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["rpmdb.sqlite", "rpmdb.sqlite-wal"]);
}

#[test]
fn collector_ndb() {
    let t = root_with(&[(
        "/usr/lib/sysimage/rpm/Packages.db",
        "go-rpmdb/sle15-bci/Packages.db",
    )]);
    let mut out = Collected {
        os: Some(os("sles", "15.3")),
        ..Collected::default()
    };
    RpmCollector.collect(&Root::new(t.path()), &mut out);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert!(out.packages.len() >= 30);
    let bash = out.packages.iter().find(|p| p.name == "bash").unwrap();
    assert_eq!(bash.found_by, "rpm-ndb");
    assert_eq!(
        bash.purl,
        "pkg:rpm/sles/bash@4.4-19.6.1?arch=x86_64&distro=sles-15.3"
    );
}

#[test]
fn collector_bogus_and_empty_files_are_problems() {
    // syft's glob-paths tree: "bogus" in /var/lib/rpm/*, empty files in /usr/lib/sysimage/rpm/*.
    let root = Root::new(fixture("syft/glob-paths"));
    assert!(RpmCollector.applies(&root));
    let mut out = Collected::default();
    RpmCollector.collect(&root, &mut out);
    assert!(out.packages.is_empty());
    assert_eq!(out.problems.len(), 6, "{:#?}", out.problems);
    assert!(
        out.problems
            .iter()
            .all(|p| p.kind == ProblemKind::Malformed),
        "{:#?}",
        out.problems
    );
    for p in &out.problems {
        assert!(!p.message.is_empty());
    }
    let empty = tempfile::tempdir().unwrap();
    assert!(!RpmCollector.applies(&Root::new(empty.path())));
}

#[test]
fn gpg_pubkeys_are_skipped_and_bad_headers_reported() {
    let s = |v: &str| {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    };
    let key = build_header(&[
        (1000, 6, 1, s("gpg-pubkey")),
        (1001, 6, 1, s("fd431d51")),
        (1002, 6, 1, s("4ae0493b")),
    ]);
    let dirs = [
        "/usr/lib/python3.9/site-packages/",
        "/usr/lib/python3.9/site-packages/six-1.15.0.dist-info/",
    ];
    let six = build_header(&[
        (1000, 6, 1, s("python3-six")),
        (1001, 6, 1, s("1.15.0")),
        (1002, 6, 1, s("9.el9")),
        (
            1116,
            4,
            2,
            [0u32, 1].iter().flat_map(|x| x.to_be_bytes()).collect(),
        ),
        (1117, 8, 2, [s("six.py"), s("METADATA")].concat()),
        (1118, 8, 2, [s(dirs[0]), s(dirs[1])].concat()),
    ]);
    let ctx = Ctx::default();
    let mut sink = Sink {
        node: "/var/lib/rpm/rpmdb.sqlite",
        format: Format::Sqlite,
        ctx: &ctx,
        out: DbContents::default(),
    };
    sink.take(Blob {
        key: "hnum 1".to_owned(),
        data: Ok(key),
    });
    sink.take(Blob {
        key: "hnum 2".to_owned(),
        data: Ok(b"garbage!".to_vec()),
    });
    sink.take(Blob {
        key: "hnum 3".to_owned(),
        data: Err(DbError::Malformed("x".to_owned())),
    });
    sink.take(Blob {
        key: "hnum 4".to_owned(),
        data: Ok(six),
    });
    assert_eq!(sink.out.packages.len(), 1, "gpg-pubkey is left out");
    assert_eq!(sink.out.packages[0].name, "python3-six");
    assert_eq!(
        sink.out.owned_files,
        [(
            "/usr/lib/python3.9/site-packages/six-1.15.0.dist-info/METADATA".to_owned(),
            "python3-six".to_owned()
        )],
        "only Python metadata paths are kept"
    );
    assert_eq!(sink.out.problems.len(), 2);
    assert_eq!(
        sink.out.problems[0].location.field.as_deref(),
        Some("hnum 2")
    );
    assert!(
        sink.out.problems[0].message.starts_with("rpm header: "),
        "{}",
        sink.out.problems[0]
    );
}

#[test]
fn malformed_fixture_files_are_errors() {
    for f in [
        "osv-scalibr/invalid",
        "syft/bad/bad.rpm",
        "osv-scalibr/empty.sqlite",
        "claircore/sqlite/no_packages.sqlite",
    ] {
        let b = bytes(f);
        assert!(parse_header(&b).is_err(), "{f}");
        assert!(bdb_blobs(&b).is_err(), "{f}");
        assert!(ndb_blobs(&b).is_err(), "{f}");
        let e = sqlite_blobs(&fixture(f)).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    let e = sqlite_blobs(&fixture("claircore/sqlite/no_packages.sqlite")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected an rpmdb table `Packages`, found none"
    );
    // Other SQLite databases of the fixture set (dnf history) are not rpmdbs either.
    assert!(sqlite_blobs(&fixture("claircore/custom-dnf-history.sqlite")).is_err());
    // Formats given to the wrong reader.
    assert!(bdb_blobs(&bytes("go-rpmdb/sle15-bci/Packages.db")).is_err());
    assert!(ndb_blobs(&bytes("go-rpmdb/libuuid/Packages")).is_err());
    assert!(sqlite_blobs(&fixture("go-rpmdb/libuuid/Packages")).is_err());
}

/// Cut points through a file of `len` bytes.
fn cuts(len: usize) -> Vec<usize> {
    let mut v = vec![0, 1, 7, 8, 31, 32, 100, 511, 512, 4095, 4096, 4097, 8192];
    for k in 1..16 {
        v.push(len * k / 16);
    }
    v.push(len.saturating_sub(1));
    v.retain(|&c| c < len);
    v
}

/// Count headers parsed and record errors; must not panic.
fn digest(r: Result<Vec<Blob>, DbError>) -> (usize, usize) {
    match r {
        Err(_) => (0, 0),
        Ok(blobs) => blobs.into_iter().fold((0, 0), |(ok, bad), b| {
            match b.data.map(|d| parse_header(&d)) {
                Ok(Ok(_)) => (ok + 1, bad),
                _ => (ok, bad + 1),
            }
        }),
    }
}

#[test]
fn truncated_databases_are_errors_not_panics() {
    for db in [
        "go-rpmdb/libuuid/Packages",
        "syft/Packages",
        "osv-scalibr/Packages_epoch",
    ] {
        let b = bytes(db);
        for c in cuts(b.len()) {
            assert!(bdb_blobs(&b[..c]).is_err(), "{db} cut at {c}");
        }
    }
    let b = bytes("go-rpmdb/sle15-bci/Packages.db");
    let full = digest(ndb_blobs(&b)).0;
    for c in cuts(b.len()) {
        let (ok, bad) = digest(ndb_blobs(&b[..c]));
        assert!(ok < full, "cut at {c}");
        if ok > 0 {
            assert!(bad > 0, "cut at {c}: truncated blobs must be reported");
        }
    }
    let b = bytes("claircore/rpmdb-header/package.header");
    for c in cuts(b.len()) {
        assert!(parse_header(&b[..c]).is_err(), "header cut at {c}");
    }
    let b = bytes("go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite");
    let t = tempfile::tempdir().unwrap();
    for c in [0, 100, 4096, b.len() / 3, b.len() / 2, b.len() - 4096] {
        let p = t.path().join(format!("cut{c}.sqlite"));
        fs_err::write(&p, &b[..c]).unwrap();
        match sqlite_blobs(&p) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(blobs) => assert!(blobs.len() <= 129),
        }
    }
}

/// Deterministic byte corruption (xorshift).
fn corrupt(src: &[u8], seed: u64, flips: usize) -> Vec<u8> {
    let mut b = src.to_vec();
    let mut x = seed | 1;
    for _ in 0..flips {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = usize::try_from(x % b.len() as u64).unwrap();
        b[at] = u8::try_from((x >> 32) & 0xff).unwrap();
    }
    b
}

#[test]
fn corrupted_databases_do_not_panic() {
    for db in [
        "go-rpmdb/libuuid/Packages",
        "syft/Packages",
        "osv-scalibr/Packages_epoch",
    ] {
        let b = bytes(db);
        for seed in 0..300 {
            let _ = digest(bdb_blobs(&corrupt(&b, seed, 1 + (seed as usize % 20))));
        }
    }
    let b = bytes("go-rpmdb/sle15-bci/Packages.db");
    for seed in 0..60 {
        let _ = digest(ndb_blobs(&corrupt(&b, seed, 1 + (seed as usize % 50))));
    }
    let b = bytes("claircore/rpmdb-header/package.header");
    for seed in 0..2000 {
        let _ = parse_header(&corrupt(&b, seed, 1 + (seed as usize % 8)));
    }
}

#[test]
fn random_bytes_are_errors() {
    let noise = corrupt(&[0u8; 65536], 42, 200_000);
    assert!(parse_header(&noise).is_err());
    assert!(bdb_blobs(&noise).is_err());
    assert!(ndb_blobs(&noise).is_err());
}

/// A 512-byte Berkeley DB hash metadata page naming `pages` pages.
fn bdb_meta(pages: u32) -> Vec<u8> {
    let mut m = vec![0u8; 512];
    m[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
    m[20..24].copy_from_slice(&512u32.to_le_bytes());
    m[25] = 8;
    m[32..36].copy_from_slice(&(pages - 1).to_le_bytes());
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse_header(&b);
        let _ = digest(bdb_blobs(&b));
        let _ = digest(ndb_blobs(&b));
    }

    #[test]
    fn parse_header_never_panics_on_plausible_headers(
        il in 0u32..40,
        dl in 0u32..2048,
        body in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut b = il.to_be_bytes().to_vec();
        b.extend_from_slice(&dl.to_be_bytes());
        b.extend_from_slice(&body);
        let _ = parse_header(&b);
    }

    #[test]
    fn parse_header_never_panics_on_mutated_real_header(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let mut b = bytes("claircore/rpmdb-header/package.header");
        for (i, v) in edits {
            let at = i.index(b.len());
            b[at] = v;
        }
        let _ = parse_header(&b);
    }

    #[test]
    fn bdb_pages_never_panic(pages in 2u32..8, body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut b = bdb_meta(pages);
        b.extend_from_slice(&body);
        b.resize(b.len().max(pages as usize * 512), 0);
        // Make some pages hash or overflow pages so the item and chain code runs.
        for (i, pg) in b.chunks_exact_mut(512).enumerate().skip(1) {
            pg[25] = if i % 2 == 1 { 13 } else { 7 };
        }
        let _ = digest(bdb_blobs(&b));
    }

    #[test]
    fn ndb_slots_never_panic(body in proptest::collection::vec(any::<u8>(), 0..8192), slots in proptest::collection::vec((any::<u32>(), 0u32..600, 0u32..64), 0..8)) {
        let mut b = vec![0u8; 4096];
        b[0..4].copy_from_slice(b"RpmP");
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        for s in b[32..].chunks_mut(16) {
            s[0..4].copy_from_slice(b"Slot");
        }
        for (n, (pkgidx, blkoff, blkcnt)) in slots.into_iter().enumerate() {
            let at = 32 + 16 * n;
            b[at + 4..at + 8].copy_from_slice(&pkgidx.to_le_bytes());
            b[at + 8..at + 12].copy_from_slice(&blkoff.to_le_bytes());
            b[at + 12..at + 16].copy_from_slice(&blkcnt.to_le_bytes());
        }
        b.extend_from_slice(&body);
        let _ = digest(ndb_blobs(&b));
    }
}

/// A 512-byte-page Berkeley DB from page bodies (page 0, the metadata, is generated).
fn bdb_file(pages: &[Vec<u8>]) -> Vec<u8> {
    let mut b = bdb_meta(u32::try_from(pages.len()).unwrap() + 1);
    for p in pages {
        let mut p = p.clone();
        p.resize(512, 0);
        b.extend_from_slice(&p);
    }
    b
}

/// A hash page (type 13) holding `items` (each with its item-type byte), placed from the end.
fn hash_page(pgno: u32, items: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![0u8; 512];
    p[8..12].copy_from_slice(&pgno.to_le_bytes());
    p[20..22].copy_from_slice(&u16::try_from(items.len()).unwrap().to_le_bytes());
    p[25] = 13;
    let mut end = 512;
    for (i, it) in items.iter().enumerate() {
        let start = end - it.len();
        p[start..end].copy_from_slice(it);
        p[26 + 2 * i..28 + 2 * i].copy_from_slice(&u16::try_from(start).unwrap().to_le_bytes());
        end = start;
    }
    p
}

/// An overflow page (type 7) carrying `data`, followed by page `next`.
fn overflow_page(pgno: u32, next: u32, data: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 26];
    p[8..12].copy_from_slice(&pgno.to_le_bytes());
    p[16..20].copy_from_slice(&next.to_le_bytes());
    p[22..24].copy_from_slice(&u16::try_from(data.len()).unwrap().to_le_bytes());
    p[25] = 7;
    p.extend_from_slice(data);
    p
}

fn key_item(n: u32) -> Vec<u8> {
    let mut v = vec![1u8];
    v.extend_from_slice(&n.to_le_bytes());
    v
}

fn offpage_item(pgno: u32, tlen: usize) -> Vec<u8> {
    let mut v = vec![3u8, 0, 0, 0];
    v.extend_from_slice(&pgno.to_le_bytes());
    v.extend_from_slice(&u32::try_from(tlen).unwrap().to_le_bytes());
    v
}

fn tiny_header(name: &str) -> Vec<u8> {
    let s = |v: &str| [v.as_bytes(), &[0]].concat();
    build_header(&[
        (1000, 6, 1, s(name)),
        (1001, 6, 1, s("1.0")),
        (1002, 6, 1, s("1")),
    ])
}

#[test]
fn bdb_synthetic_items_chains_and_hostile_sharing() {
    let h = tiny_header("inline");
    let o = tiny_header("offpage");
    let inline_value = [&[1u8][..], &h].concat();
    let db = bdb_file(&[
        hash_page(
            1,
            &[
                key_item(0), // rpm's instance counter: skipped
                [&[1u8][..], &7u32.to_le_bytes()].concat(),
                key_item(1),
                inline_value,
                key_item(2),
                offpage_item(2, o.len()),
                key_item(3),
                offpage_item(2, o.len()), // the same chain again: refused
                key_item(4),
                offpage_item(3, 2 * 400), // a loop 3 → 4 → 3: refused
            ],
        ),
        overflow_page(2, 0, &o),
        overflow_page(3, 4, &[0; 400]),
        overflow_page(4, 3, &[0; 400]),
    ]);
    let blobs = bdb_blobs(&db).unwrap();
    let keys: Vec<&str> = blobs.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(keys, ["hdrnum 1", "hdrnum 2", "hdrnum 3", "hdrnum 4"]);
    assert_eq!(
        parse_header(blobs[0].data.as_ref().unwrap()).unwrap().name,
        "inline"
    );
    assert_eq!(
        parse_header(blobs[1].data.as_ref().unwrap()).unwrap().name,
        "offpage"
    );
    let e3 = blobs[2].data.as_ref().unwrap_err().to_string();
    assert!(
        e3.contains("expected page 2 to belong to this chain only"),
        "{e3}"
    );
    let e4 = blobs[3].data.as_ref().unwrap_err().to_string();
    assert!(
        e4.contains("expected page 3 to belong to this chain only"),
        "{e4}"
    );

    // A declared length that the chain does not deliver.
    let db = bdb_file(&[
        hash_page(1, &[key_item(1), offpage_item(2, o.len() + 1)]),
        overflow_page(2, 0, &o),
    ]);
    let e = bdb_blobs(&db).unwrap()[0]
        .data
        .clone()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "expected {} bytes, found {}",
            o.len() + 1,
            o.len()
        )),
        "{e}"
    );
    // A chain pointing past the last page.
    let db = bdb_file(&[hash_page(1, &[key_item(1), offpage_item(9, 10)])]);
    let e = bdb_blobs(&db).unwrap()[0]
        .data
        .clone()
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected a page number below 2, found 9"), "{e}");
}

#[test]
fn ndb_overlapping_blobs_are_refused() {
    let mut b = bytes("go-rpmdb/sle15-bci/Packages.db");
    // Slot 3 (the second package) is made to point at slot 2's blob.
    let (s2, s3) = (32, 48);
    let copy: Vec<u8> = b[s2 + 4..s2 + 16].to_vec();
    b[s3 + 4..s3 + 16].copy_from_slice(&copy);
    let blobs = ndb_blobs(&b).unwrap();
    assert_eq!(blobs.len(), 35);
    let bad: Vec<String> = blobs
        .iter()
        .filter_map(|x| x.data.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("the end of the previous blob"), "{bad:?}");
}
