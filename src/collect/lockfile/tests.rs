/// The fast Cargo.lock reader gives exactly what the TOML parser gives, on every shared
/// lockfile it accepts (and it accepts the ordinary ones).
#[test]
fn fast_cargo_lock_reader_equals_the_toml_parser() {
    let base =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fixtures/cargo");
    let mut stack = vec![base.clone()];
    let (mut accepted, mut total) = (0, 0);
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().to_lowercase();
            if !name.contains("lock") || name.ends_with(".tsv") || name.ends_with(".json") {
                continue;
            }
            let Ok(text) = fs_err::read_to_string(&p) else {
                continue;
            };
            total += 1;
            if cargo_entries_fast(&text).is_some() {
                accepted += 1;
                // Panics, naming the difference, when the two readers disagree.
                eprintln!("checking {}", p.display());
                check_fast_cargo_reader(&text);
            }
        }
    }
    assert!(total >= 40, "{total} lockfiles");
    assert!(
        accepted * 10 >= total * 8,
        "the fast reader took only {accepted} of {total}"
    );
}

use super::cargo::cargo_entries_fast;
use super::shared::LineIndex;
use super::*;
use crate::model::{Ecosystem, PackageMeta};
use std::collections::BTreeMap;
use std::path::Path;

fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/fixtures"
    ))
    .join(rel);
    assert!(
        p.exists(),
        "missing shared data {} — ../shared must sit beside the repository",
        p.display()
    );
    p
}

fn read(rel: &str) -> String {
    fs_err::read_to_string(fixture(rel)).unwrap()
}

fn pairs(p: &[Package]) -> BTreeSet<(String, String)> {
    p.iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn source(p: &Package) -> &str {
    match &p.meta {
        PackageMeta::Lock { source } => source.as_deref().unwrap_or(""),
        _ => panic!("not a lock package"),
    }
}

type Parser = fn(&str, &Location) -> (Vec<Package>, Vec<Problem>);
type Case = (
    Parser,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn cargo_files() -> Vec<PathBuf> {
    fn rec(d: &Path, out: &mut Vec<PathBuf>) {
        for e in fs_err::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rec(&p, out);
            } else {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                if n.contains(".lock") || n == "not-toml.txt" {
                    out.push(p);
                }
            }
        }
    }
    let mut v = Vec::new();
    rec(&fixture("cargo"), &mut v);
    v.sort();
    v
}

#[test]
fn every_cargo_lockfile_matches_the_rustsec_reference() {
    let base = fixture("cargo");
    let tsv = read("cargo/rustsec-reference-results.tsv");
    let mut rows: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for l in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<String> = l.split('\t').map(str::to_owned).collect();
        rows.entry(cols[0].clone()).or_default().push(cols);
    }
    let mut checked = 0;
    for f in cargo_files() {
        let rel = f
            .strip_prefix(&base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = fs_err::read_to_string(&f).unwrap();
        let (pk, pr) = parse_cargo_lock(&text, &Location::path(&rel));
        if rel.ends_with("not-toml.txt") {
            assert!(
                pk.is_empty() && pr.len() == 1 && pr[0].kind == ProblemKind::Malformed,
                "{rel}"
            );
            continue;
        }
        let entries = text.lines().filter(|l| l.trim() == "[[package]]").count();
        assert_eq!(pk.len(), entries, "{rel}: every [[package]] is reported");
        for p in &pk {
            assert_eq!(p.ecosystem, Ecosystem::Cargo);
            assert!(
                p.purl.starts_with(&format!("pkg:cargo/{}@", p.name)),
                "{}",
                p.purl
            );
            assert!(p.location.line.is_some());
        }
        let Some(r) = rows.get(&rel) else {
            panic!("{rel} is not in rustsec-reference-results.tsv");
        };
        checked += 1;
        if r[0][1] == "PARSE-ERROR" {
            // rustsec rejects files with a dangling dependency; so do we, as a problem.
            let dep = r[0][2].rsplit(':').next().unwrap().trim();
            assert!(
                pr.iter()
                    .any(|p| p.kind == ProblemKind::Malformed
                        && p.message.contains(&format!("`{dep}"))),
                "{rel}: {pr:?}"
            );
            continue;
        }
        assert!(pr.is_empty(), "{rel}: {pr:?}");
        assert_eq!(
            pk.len().to_string(),
            r[0][4],
            "{rel}: package count as rustsec's Lockfile"
        );
        let have = pairs(&pk);
        for row in r.iter().filter(|row| row[2] != "-") {
            assert!(
                have.contains(&(row[2].clone(), row[3].clone())),
                "{rel}: {row:?}"
            );
        }
    }
    assert_eq!(
        checked,
        rows.len(),
        "every reference row's lockfile was parsed"
    );
}

#[test]
fn cargo_formats_and_sources() {
    for f in fs_err::read_dir(fixture("cargo/ripgrep-history")).unwrap() {
        let f = f.unwrap().path();
        if !f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("Cargo.lock")
        {
            continue;
        }
        let (pk, pr) =
            parse_cargo_lock(&fs_err::read_to_string(&f).unwrap(), &Location::path("/x"));
        assert!(pr.is_empty(), "{}: {pr:?}", f.display());
        let rg = pk.iter().find(|p| p.name == "ripgrep").unwrap();
        assert_eq!(source(rg), "path", "workspace member");
        assert!(pk
            .iter()
            .filter(|p| p.name.starts_with("grep-"))
            .all(|p| source(p) == "path"));
        assert!(pk
            .iter()
            .any(|p| p.name == "regex" && source(p) == "registry"));
    }
    let (pk, _) = parse_cargo_lock(
        &read("cargo/ripgrep-history/Cargo.lock.2018-08-20-9df60e164e"),
        &Location::path("/x"),
    );
    assert!(pk.iter().any(|p| p.name == "regex" && p.version == "1.0.2"));

    let (pk, pr) = parse_cargo_lock(
        &read("cargo/rustsec/cargo-lock-examples/Cargo.lock.git-ref"),
        &Location::path("/x"),
    );
    assert!(pr.is_empty(), "{pr:?}");
    let git: Vec<&Package> = pk.iter().filter(|p| source(p) == "git").collect();
    assert_eq!(git.len(), 2);
    let b = git.iter().find(|p| p.name == "branch").unwrap();
    assert_eq!(b.extra["rev"], "b8e3025aa30ea65144372bd68d26090c0f31bea2");
    assert_eq!(
        b.extra["repository"],
        "https://github.com/rustsec/rustsec?branch=mybranch"
    );
    assert_eq!(
        b.purl,
        "pkg:cargo/branch@0.0.0?vcs_url=git%2Bhttps%3A%2F%2Fgithub.com%2Frustsec%2Frustsec%40b8e3025aa30ea65144372bd68d26090c0f31bea2"
    );
    let (pk, _) = parse_cargo_lock(
        &read("cargo/syft/path-deps/Cargo.lock"),
        &Location::path("/x"),
    );
    let tel = pk.iter().find(|p| p.name == "telemetry").unwrap();
    assert_eq!((tel.version.as_str(), source(tel)), ("0.1.0", "path"));
    let (pk, _) = parse_cargo_lock(
        &read("cargo/rustsec/cargo-lock-examples/source_disambiguation/Cargo.lock.two_versions_different_registries"),
        &Location::path("/x"),
    );
    assert!(pk.iter().any(|p| p.extra.contains_key("registry")));
    let (pk, pr) = parse_cargo_lock(
        &read("cargo/osv-scalibr/cargolock/package-with-build-string.lock"),
        &Location::path("/x"),
    );
    assert!(pr.is_empty());
    assert_eq!(pk[0].version, "0.10.2+wasi-snapshot-preview1");
    assert_eq!(pk[0].location.line, Some(5));
}

#[test]
fn requirements_fixtures() {
    let loc = Location::path("/r.txt");
    let (pk, pr) = parse_requirements(&read("python/syft/requires/requirements.txt"), &loc);
    assert_eq!(
        pairs(&pk),
        set(&[
            ("flask", "4.0.0"),
            ("urllib3", "1.26.20"),
            ("foo", "1.0.0"),
            ("someproject", "5.4"),
            ("dots-allowed", "1.0.0"),
            ("argh", "0.26.2"),
            ("argh", "0.26.3"),
            ("celery", "4.4.7"),
            ("friendly-bard", "1.0.0"),
            ("local-version", "1.2.3+gcr.2"),
        ])
    );
    let argh = pk.iter().find(|p| p.version == "0.26.2").unwrap();
    assert_eq!(argh.extra["hashes"].split(',').count(), 2);
    assert_eq!(
        argh.location.line,
        Some(17),
        "a continued line is numbered by its first line"
    );
    let celery = pk.iter().find(|p| p.name == "celery").unwrap();
    assert_eq!(celery.extra["extras"], "redis,pytest");
    assert_eq!(celery.purl, "pkg:pypi/celery@4.4.7");
    let sp = pk.iter().find(|p| p.name == "someproject").unwrap();
    assert_eq!(sp.extra["marker"], "python_version < '3.8'");
    // Ranges are reported as not judged, never dropped silently.
    assert!(
        pr.iter().any(|p| p.kind == ProblemKind::Skipped
            && p.message.starts_with("`sqlalchemy >= 1.0.0")
            && p.message.contains("is not pinned")),
        "{pr:#?}"
    );
    let lines: BTreeSet<(u32, ProblemKind)> = pr
        .iter()
        .filter(|p| !p.message.contains("is not pinned"))
        .map(|p| (p.location.line.unwrap(), p.kind))
        .collect();
    assert_eq!(
        lines,
        BTreeSet::from([
            (8, ProblemKind::Skipped),    // -e
            (9, ProblemKind::Skipped),    // -r not followed by the pure parser
            (10, ProblemKind::Malformed), // --requirements (no such option)
            (23, ProblemKind::Malformed), // ==2.3.4
            (26, ProblemKind::Malformed), // `== 3.7.1 @ git+…`
        ]),
        "{pr:#?}"
    );

    let (pk, pr) = parse_requirements(
        &read("python/osv-scalibr/requirements/per_req_options.txt"),
        &loc,
    );
    let names: BTreeSet<String> = pk.iter().map(|p| p.name.clone()).collect();
    assert_eq!(pk.len(), 15, "{names:?}");
    assert!(
        names.contains("foo17-hash") && names.contains("foo16-client") && !names.contains("foo7")
    );
    assert_eq!(pr.len(), 3, "{pr:?}");
    assert!(pr.iter().all(|p| p.kind == ProblemKind::Malformed));
    let foo9 = pk.iter().find(|p| p.name == "foo9").unwrap();
    assert_eq!(foo9.extra["hashes"], "sha256:123,sha256:456");
    let foo11 = pk.iter().find(|p| p.name == "foo11").unwrap();
    assert_eq!(foo11.extra["hashes"], "sha256:not_base16_encoded_is_ok_;#");
    let foo5 = pk.iter().find(|p| p.name == "foo5").unwrap();
    assert_eq!(foo5.extra["marker"], "python_version < \"2.7\"");

    let (pk, pr) = parse_requirements(
        &read("python/osv-scalibr/requirements/with_versions.txt"),
        &loc,
    );
    // Only ranges (`>=`, `<=`, `==0.7.*`) are left, each said to be not judged.
    assert_eq!(pr.len(), 4, "{pr:?}");
    assert!(
        pr.iter()
            .all(|p| p.kind == ProblemKind::Skipped && p.message.contains("is not pinned")),
        "{pr:?}"
    );
    assert_eq!(
        pairs(&pk),
        set(&[
            ("nltk", "3.2.2"),
            ("tabulate", "0.7.7"),
            ("qwerty", "0.1"),
            ("hy-phen", "1.2"),
            ("under-score", "1.3"),
            ("pkg-dot-name", "5.0.0"),
            ("yolo", "1.0"),
        ])
    );
    assert_eq!(
        pk.iter()
            .find(|p| p.name == "qwerty")
            .unwrap()
            .location
            .line,
        Some(5)
    );

    let (pk, pr) = parse_requirements(&read("python/osv-scalibr/requirements/example.txt"), &loc);
    assert_eq!(pairs(&pk), set(&[("docopt", "0.6.1")]));
    assert_eq!(
        pr.iter()
            .filter(|p| !p.message.contains("is not pinned"))
            .count(),
        5,
        "{pr:?}"
    );
    assert_eq!(pr.len(), 12, "7 unpinned requirements: {pr:?}");
    assert!(pr.iter().all(|p| p.kind == ProblemKind::Skipped));

    let (pk, pr) = parse_requirements(&read("python/osv-scalibr/requirements/invalid.txt"), &loc);
    assert!(pk.is_empty());
    assert_eq!(
        pr.iter()
            .filter(|p| p.kind == ProblemKind::Malformed)
            .count(),
        3,
        "{pr:?}"
    );
    assert_eq!(
        pr.iter()
            .map(|p| p.location.line.unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );

    for (f, want) in [
        (
            "comments.txt",
            &[
                ("pycrypto", "1.2-alpha"),
                ("gmpy2", "1"),
                ("sympy", "1.2"),
                ("requests", "1.0"),
                ("six", "1.2"),
            ][..],
        ),
        ("env_var.txt", &[("asdf", "1.2"), ("another", "1.0")][..]),
        ("extras.txt", &[("pyjwt", "2.1.0"), ("celery", "4.4.7")][..]),
        (
            "multiline_and_comments.txt",
            &[("pkga", "1.0"), ("pkgb", "2.0")][..],
        ),
        ("no_version.txt", &[][..]),
        ("trailing_backslash.txt", &[("pkg1", "1.0")][..]),
        ("other-requirements.txt", &[("pandas", "2.2.3")][..]),
    ] {
        let (pk, _) =
            parse_requirements(&read(&format!("python/osv-scalibr/requirements/{f}")), &loc);
        assert_eq!(pairs(&pk), set(want), "{f}");
    }
    let (pk, pr) = parse_requirements(&read("python/trivy/pip/happy/requirements.txt"), &loc);
    // Jinja2<3.0.0, MarkupSafe>2.0.0 and a bare Werkzeug: not judged, and said so.
    assert_eq!(pr.len(), 3, "{pr:?}");
    assert!(
        pr.iter().all(|p| p.message.contains("is not pinned")),
        "{pr:?}"
    );
    assert_eq!(
        pairs(&pk),
        set(&[
            ("annotated-types", "0.7.0"),
            ("click", "8.0.0"),
            ("flask", "2.0.0"),
            ("itsdangerous", "2.0.0")
        ])
    );
    let (pk, pr) = parse_requirements(&read("python/syft/pypi-remote/requirements.txt"), &loc);
    assert!(pr.is_empty());
    assert_eq!(pairs(&pk), set(&[("certifi", "2025.10.5")]));
}

#[test]
fn requirements_includes_are_followed_inside_the_root() {
    // fixtures/roots/lockfile-includes: /srv/app/requirements.txt includes
    // base/requirements-base.txt (which includes it back, and tries to climb out of the root)
    // and requirements-loop.txt (which includes itself).
    let root = Root::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/roots/lockfile-includes"
    ));
    let c = LockfileCollector::default();
    assert!(c.applies(&root));
    let mut out = Collected::default();
    c.collect(&root, &mut out);
    let got: BTreeSet<(String, String, String)> = out
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.location.path.clone()))
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            (
                "oslo-config".to_owned(),
                "9.4.0".to_owned(),
                "/srv/app/requirements.txt".to_owned()
            ),
            (
                "pbr".to_owned(),
                "6.0.0".to_owned(),
                "/srv/app/base/requirements-base.txt".to_owned()
            ),
        ])
    );
    let oslo = out
        .packages
        .iter()
        .find(|p| p.name == "oslo-config")
        .unwrap();
    assert_eq!(oslo.extra["hashes"], "sha256:abc");
    assert_eq!(oslo.extra["display_name"], "oslo.config");
    let mut kinds: Vec<(ProblemKind, String)> = out
        .problems
        .iter()
        .filter(|p| !p.message.contains("is not pinned"))
        .map(|p| (p.kind, format!("{}", p.location)))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (
                ProblemKind::Unreadable,
                "/srv/app/base/requirements-base.txt:3".to_owned()
            ),
            (
                ProblemKind::Malformed,
                "/srv/app/base/requirements-base.txt:2".to_owned()
            ),
            (
                ProblemKind::Malformed,
                "/srv/app/requirements-loop.txt:1".to_owned()
            ),
            (
                ProblemKind::Skipped,
                "/srv/app/requirements.txt:4".to_owned()
            ),
        ],
        "{:#?}",
        out.problems
    );
    assert!(out
        .problems
        .iter()
        .any(|p| p.message.contains("/etc/hostname")));
}

#[test]
fn requirements_includes_of_explicit_targets() {
    // osv-scalibr's loop.txt ↔ other-loop.txt and example.txt → other-requirements.txt.
    let t = tempfile::tempdir().unwrap();
    let dir = fixture("python/osv-scalibr/requirements");
    let c = LockfileCollector::with_targets(vec![dir.join("example.txt"), dir.join("loop.txt")])
        .with_search_roots(Vec::new());
    let mut out = Collected::default();
    c.collect(&Root::new(t.path()), &mut out);
    assert_eq!(
        pairs(&out.packages),
        set(&[("docopt", "0.6.1"), ("pandas", "2.2.3")])
    );
    let cycle: Vec<&Problem> = out
        .problems
        .iter()
        .filter(|p| p.message.starts_with("include cycle"))
        .collect();
    assert_eq!(cycle.len(), 1, "{:#?}", out.problems);
    assert!(cycle[0].message.ends_with("loop.txt"));
}

#[test]
fn explicit_targets_and_search_layouts() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let app = r.join("srv/app");
    fs_err::create_dir_all(&app).unwrap();
    fs_err::copy(
        fixture("cargo/trivy/repo-cargo/Cargo.lock"),
        app.join("Cargo.lock"),
    )
    .unwrap();
    let home = r.join("home/alice/proj");
    fs_err::create_dir_all(&home).unwrap();
    fs_err::copy(
        fixture("python/osv-scalibr/uvlock/one-package.lock"),
        home.join("uv.lock"),
    )
    .unwrap();
    // Dependency sources in ~/.cargo hold their own lockfiles: never read.
    let reg = r.join("home/alice/.cargo/registry/src/x/dep-1.0.0");
    fs_err::create_dir_all(&reg).unwrap();
    fs_err::copy(
        fixture("cargo/rustsec/cargo-audit-support/base64_vuln/Cargo.lock"),
        reg.join("Cargo.lock"),
    )
    .unwrap();
    let root = Root::new(r);
    let target = fixture("python/osv-scalibr/pipfilelock/two-packages.json");
    let odd = fixture("cargo/osv-scalibr/cargolock/one-package.lock");
    let c = LockfileCollector::with_targets(vec![
        fixture("cargo/ripgrep-history/Cargo.lock.2022-03-21-ced5b92aa9"),
        target,
        odd,
    ]);
    let mut out = Collected::default();
    c.collect(&root, &mut out);
    assert!(out.packages.iter().any(|p| p.name == "ripgrep"
        && p.location
            .path
            .ends_with("Cargo.lock.2022-03-21-ced5b92aa9")));
    assert!(out
        .packages
        .iter()
        .any(|p| p.location.path == "/srv/app/Cargo.lock"));
    assert!(out
        .packages
        .iter()
        .any(|p| p.name == "emoji" && p.location.path == "/home/alice/proj/uv.lock"));
    assert!(
        !out.packages
            .iter()
            .any(|p| p.location.path.starts_with("/home/alice/.cargo")),
        "~/.cargo is skipped"
    );
    // Explicit files whose names say nothing are read by their content: a Pipfile.lock and
    // a Cargo.lock (whose dangling `gimli` dependency rustsec rejects too).
    assert!(out.packages.iter().any(|p| p.name == "itsdangerous"
        && p.found_by == "pipfile-lock"
        && p.location.path.ends_with("two-packages.json")));
    assert!(out.packages.iter().any(|p| p.name == "addr2line"
        && p.found_by == "cargo-lock"
        && p.location.path.ends_with("one-package.lock")));
    assert!(
        !out.problems.iter().any(|p| p.kind == ProblemKind::Skipped),
        "{:?}",
        out.problems
    );
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert!(out.problems[0].message.contains("`gimli`"));
}

/// Every shared lockfile with a conventional name, and every osv-scalibr Python fixture,
/// is recognised by its content as the format its name or folder says.
#[test]
fn formats_are_recognised_by_content() {
    fn rec(d: &Path, out: &mut Vec<PathBuf>) {
        for e in fs_err::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rec(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    rec(&fixture(""), &mut files);
    files.sort();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.to_string_lossy();
        let name = f.file_name().unwrap().to_string_lossy();
        let folder = f.parent().unwrap().file_name().unwrap().to_string_lossy();
        let want = LockKind::from_file_name(&name).or(match &*folder {
            "poetrylock" => Some(LockKind::Poetry),
            "uvlock" => Some(LockKind::Uv),
            "pdmlock" => Some(LockKind::Pdm),
            "pipfilelock" => Some(LockKind::Pipfile),
            "pylock" => Some(LockKind::Pylock),
            "cargolock" => Some(LockKind::Cargo),
            _ => None,
        });
        let Some(want) = want else { continue };
        let text = fs_err::read_to_string(f).unwrap();
        let (_, problems) = parse_lockfile(want, &text, &Location::path("/p"));
        let broken = problems
            .iter()
            .any(|p| p.kind == ProblemKind::Malformed && p.message.starts_with("not valid"));
        match LockKind::from_content(&text) {
            Ok(k) if k == want => {}
            Ok(k) => wrong.push(format!("{rel}: {k:?}, not {want:?}")),
            // Files that are not their format at all (broken, empty, requirements without
            // a pin) are not recognised.
            Err(_) if broken || text.trim().is_empty() => {}
            Err(_)
                if want == LockKind::Requirements
                    && parse_requirements_file(&text, &Location::path("/p"))
                        .packages
                        .is_empty() => {}
            Err(why) => wrong.push(format!("{rel}: {why}")),
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked > 100, "{checked}");
    // Every Cargo lockfile of the rustsec reference, whatever its name.
    for f in cargo_files() {
        if f.ends_with("not-toml.txt") {
            continue;
        }
        let text = fs_err::read_to_string(&f).unwrap();
        assert_eq!(
            LockKind::from_content(&text),
            Ok(LockKind::Cargo),
            "{}",
            f.display()
        );
    }
}

#[test]
fn unrecognised_content_says_why() {
    for (text, says) in [
        ("", "empty"),
        (" \n\t\n", "empty"),
        ("{\"name\": \"x\", \"lockfileVersion\": 3}", "`_meta`"),
        ("{ not json", "not JSON"),
        (
            "[package]\nname = \"nminus\"\nversion = \"0.1.0\"\n",
            "shaped like none",
        ),
        (
            "[[package]]\nname = \"x\"\nversion = \"1\"\ndescription = \"d\"\n",
            "shaped like none",
        ),
        ("[project]\nname = \"x\"\n", "shaped like none"),
        (
            "# A title\n\nSome prose, not a lockfile.\n",
            "not pip requirements",
        ),
        ("# only a comment\nflask\n", "no `name==version` pin"),
        ("version = \"3\"\n", "shaped like none"),
    ] {
        let why = LockKind::from_content(text).unwrap_err();
        assert!(why.contains(says), "{text:?}: {why}");
    }
    for (text, kind) in [
        ("version = 3\n", LockKind::Cargo),
        ("-r base.txt\n", LockKind::Requirements),
        (
            "# pins\nflask==3.0.0 \\\n  --hash=sha256:abc\n",
            LockKind::Requirements,
        ),
        ("\u{feff}six==1.16.0\n", LockKind::Requirements),
        ("version = 1\nrequires-python = \">=3.9\"\n", LockKind::Uv),
        (
            "lock-version = \"1.0\"\ncreated-by = \"x\"\n",
            LockKind::Pylock,
        ),
    ] {
        assert_eq!(LockKind::from_content(text), Ok(kind), "{text:?}");
    }
    // An explicit file whose name and content say nothing: a problem that fails the scan,
    // naming the file.
    let t = tempfile::tempdir().unwrap();
    let odd = t.path().join("deps.lock");
    fs_err::write(&odd, "just some notes\n").unwrap();
    let mut out = Collected::default();
    LockfileCollector::with_targets(vec![odd.clone()])
        .with_search_roots(Vec::new())
        .collect(&Root::new(t.path()), &mut out);
    assert!(out.packages.is_empty());
    assert_eq!(out.problems.len(), 1);
    let p = &out.problems[0];
    assert_eq!(p.kind, ProblemKind::Malformed);
    assert!(p.message.contains(&*odd.to_string_lossy()), "{}", p.message);
    assert!(p.message.contains("Cargo.lock") && p.message.contains("requirements"));
}

#[test]
fn line_index_counts_as_a_scan_from_the_start() {
    fn naive(text: &str, offset: usize) -> usize {
        text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
    for text in ["", "\n", "a", "a\nb", "\n\nab\n\ncd\n", "é\nü\n\n"] {
        let idx = LineIndex::new(text);
        for off in 0..text.len() + 3 {
            assert_eq!(idx.line(off), naive(text, off), "{text:?} @ {off}");
        }
    }
    // The line of every package of the largest shared lockfile, as the first line of its
    // `[[package]]` header.
    let text = read("cargo/rustsec/cargo-audit-support/branch-regression/Cargo.lock");
    let (pk, _) = parse_cargo_lock(&text, &Location::path("/p"));
    assert_eq!(pk.len(), 851);
    let headers: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[package]]")
        .map(|(i, _)| i + 1)
        .collect();
    let lines: Vec<usize> = pk
        .iter()
        .map(|p| p.location.line.unwrap() as usize)
        .collect();
    assert_eq!(lines, headers);
}

#[test]
fn python_lockfiles() {
    let loc = Location::path("/p");
    let cases: &[Case] = &[
        (
            parse_poetry_lock,
            "python/osv-scalibr/poetrylock/one-package.lock",
            &[("numpy", "1.23.3")],
        ),
        (
            parse_poetry_lock,
            "python/osv-scalibr/poetrylock/two-packages.lock",
            &[("proto-plus", "1.22.0"), ("protobuf", "4.21.5")],
        ),
        (
            parse_poetry_lock,
            "python/osv-scalibr/poetrylock/source-legacy.lock",
            &[("appdirs", "1.4.4")],
        ),
        (
            parse_poetry_lock,
            "python/osv-scalibr/poetrylock/names-outside-package-block.lock",
            &[("first-pkg", "1.0.0"), ("second-pkg", "2.0.0")],
        ),
        (
            parse_poetry_lock,
            "python/osv-scalibr/poetrylock/empty.lock",
            &[],
        ),
        (
            parse_poetry_lock,
            "python/osv-scalibr/poetrylock/empty-file.lock",
            &[],
        ),
        (
            parse_uv_lock,
            "python/osv-scalibr/uvlock/two-packages.lock",
            &[
                ("emoji", "2.14.0"),
                ("protobuf", "4.25.5"),
                ("uv-lockfiles", "0.1.0"),
            ],
        ),
        (
            parse_uv_lock,
            "python/osv-scalibr/uvlock/source-git.lock",
            &[("ruff", "0.8.1"), ("uv-lockfiles", "0.1.0")],
        ),
        (
            parse_uv_lock,
            "python/osv-scalibr/uvlock/no-packages.lock",
            &[],
        ),
        (
            parse_uv_lock,
            "python/osv-scalibr/uvlock/names-outside-package-block.lock",
            &[("first-pkg", "1.0.0"), ("second-pkg", "2.0.0")],
        ),
        (
            parse_pdm_lock,
            "python/osv-scalibr/pdmlock/two-packages.toml",
            &[("six", "1.16.0"), ("toml", "0.10.2")],
        ),
        (
            parse_pdm_lock,
            "python/osv-scalibr/pdmlock/git-dependency.toml",
            &[("toml", "0.10.2")],
        ),
        (
            parse_pipfile_lock,
            "python/osv-scalibr/pipfilelock/two-packages.json",
            &[("itsdangerous", "2.1.2"), ("markupsafe", "2.1.1")],
        ),
        (
            parse_pipfile_lock,
            "python/osv-scalibr/pipfilelock/minified.json",
            &[("markupsafe", "2.1.1")],
        ),
        (
            parse_pipfile_lock,
            "python/osv-scalibr/pipfilelock/empty.json",
            &[],
        ),
        (
            parse_pipfile_lock,
            "python/osv-scalibr/pipfilelock/empty-file",
            &[],
        ),
        (
            parse_pylock_toml,
            "python/osv-scalibr/pylock/example.toml",
            &[
                ("attrs", "25.1.0"),
                ("cattrs", "24.1.2"),
                ("numpy", "2.2.3"),
            ],
        ),
        (
            parse_pylock_toml,
            "python/osv-scalibr/pylock/pip-just-self.toml",
            &[],
        ),
        (
            parse_pylock_toml,
            "python/osv-scalibr/pylock/names-outside-package-block.toml",
            &[("first-pkg", "1.0.0"), ("second-pkg", "2.0.0")],
        ),
        (
            parse_pylock_toml,
            "python/osv-scalibr/pylock/empty.toml",
            &[],
        ),
    ];
    for (f, file, want) in cases {
        let (pk, pr) = f(&read(file), &loc);
        assert!(pr.is_empty(), "{file}: {pr:?}");
        assert_eq!(pairs(&pk), set(want), "{file}");
        assert!(pk.iter().all(|p| p.ecosystem == Ecosystem::Pypi
            && p.purl == format!("pkg:pypi/{}@{}", p.name, p.version)));
    }
    for (f, file) in [
        (
            parse_poetry_lock as Parser,
            "python/osv-scalibr/poetrylock/not-toml.txt",
        ),
        (parse_poetry_lock, "python/trivy/poetry/sad/poetry.lock"),
        (parse_uv_lock, "python/trivy/uv/broken-lock/uv.lock"),
        (
            parse_pipfile_lock,
            "python/osv-scalibr/pipfilelock/not-json.txt",
        ),
        (parse_pylock_toml, "python/trivy/pylock/broken/pylock.toml"),
        (parse_pdm_lock, "python/osv-scalibr/pdmlock/not-toml.txt"),
    ] {
        let (pk, pr) = f(&read(file), &loc);
        assert!(
            pk.is_empty() && pr.len() == 1 && pr[0].kind == ProblemKind::Malformed,
            "{file}: {pr:?}"
        );
        assert!(pr[0].location.line.is_some(), "{file}");
    }
    // Sources and revisions.
    let (pk, _) = parse_poetry_lock(&read("python/osv-scalibr/poetrylock/source-git.lock"), &loc);
    assert_eq!(source(&pk[0]), "git");
    assert_eq!(
        pk[0].extra["rev"],
        "cd66602cd29f61a2d2e7fb995fef1e61708c034d"
    );
    let (pk, _) = parse_uv_lock(&read("python/osv-scalibr/uvlock/source-git.lock"), &loc);
    let ruff = pk.iter().find(|p| p.name == "ruff").unwrap();
    assert_eq!(
        (source(ruff), ruff.extra["rev"].as_str()),
        ("git", "84748be16341b76e073d117329f7f5f4ee2941ad")
    );
    assert_eq!(
        source(pk.iter().find(|p| p.name == "uv-lockfiles").unwrap()),
        "path"
    );
    let (pk, pr) = parse_pylock_toml(&read("python/osv-scalibr/pylock/commits.toml"), &loc);
    assert!(
        pr.is_empty(),
        "directory project without version is the project itself"
    );
    let ml = pk.iter().find(|p| p.name == "mleroc").unwrap();
    assert_eq!(
        (source(ml), ml.extra["rev"].as_str()),
        ("git", "735093f03c4d8be70bfaaae44074ac92d7419b6d")
    );
    assert!(pk
        .iter()
        .any(|p| p.name == "python-dateutil" && p.version == "2.9.0.post0"));
    let (pk, pr) = parse_pipfile_lock(
        &read("python/osv-scalibr/pipfilelock/no-version.json"),
        &loc,
    );
    assert!(pk.is_empty());
    assert_eq!(pr.len(), 2);
    assert!(pr.iter().all(|p| p.kind == ProblemKind::Skipped));
    let (pk, _) = parse_pipfile_lock(
        &read("python/osv-scalibr/pipfilelock/one-package-dev.json"),
        &loc,
    );
    assert_eq!(pk[0].extra["groups"], "develop");
    let (pk, _) = parse_poetry_lock(
        &read("python/osv-scalibr/poetrylock/multiple-packages.v2.lock"),
        &loc,
    );
    assert_eq!(
        pk.iter().find(|p| p.name == "factory-boy").unwrap().extra["groups"],
        "dev"
    );
    // Real-world sized files: one package per entry.
    for (f, file) in [
        (
            parse_poetry_lock as Parser,
            "python/syft/poetry/nested-extras/poetry.lock",
        ),
        (
            parse_poetry_lock,
            "python/trivy/poetry/with-groups/poetry.lock",
        ),
        (parse_uv_lock, "python/syft/uv/nested-extras/uv.lock"),
        (parse_uv_lock, "python/trivy/uv/happy/uv.lock"),
        (parse_pdm_lock, "python/syft/pdm-lock/pdm.lock"),
    ] {
        let text = read(file);
        let (pk, pr) = f(&text, &loc);
        assert!(pr.is_empty(), "{file}: {pr:?}");
        let n = text.lines().filter(|l| l.trim() == "[[package]]").count();
        assert!(
            pk.len() == n || pk.len() + 1 == n,
            "{file}: {} of {n}",
            pk.len()
        );
    }
    let text = read("python/trivy/pylock/happy/pylock.toml");
    let (pk, pr) = parse_pylock_toml(&text, &loc);
    assert!(pr.is_empty());
    // 12 entries; `test-project` is the project itself (a directory, no version).
    assert_eq!(
        pk.len() + 1,
        text.lines().filter(|l| l.trim() == "[[packages]]").count()
    );
    assert!(!pk.iter().any(|p| p.name == "test-project"));
    assert!(pk
        .iter()
        .any(|p| p.name == "certifi" && p.version == "2026.1.4"));
}

#[test]
fn paths_and_kinds() {
    assert_eq!(normalize_path("/a/b/../c/./d"), "/a/c/d");
    assert_eq!(normalize_path("/../../x"), "/x");
    assert_eq!(normalize_path("a/../../x"), "../x");
    assert_eq!(
        resolve_include("/srv/app/requirements.txt", "../base.txt").as_deref(),
        Some("/srv/base.txt")
    );
    assert_eq!(resolve_include("/srv/r.txt", "https://x/r.txt"), None);
    assert_eq!(
        LockKind::from_file_name("test-requirements.txt"),
        Some(LockKind::Requirements)
    );
    assert_eq!(
        LockKind::from_file_name("pylock.dev.toml"),
        Some(LockKind::Pylock)
    );
    assert_eq!(LockKind::from_file_name("Cargo.toml"), None);
    assert_eq!(LockKind::for_target("Cargo.lock.v1"), Some(LockKind::Cargo));
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC*") {
        let loc = Location::path("/p");
        for k in [LockKind::Cargo, LockKind::Requirements, LockKind::Poetry, LockKind::Uv, LockKind::Pdm, LockKind::Pipfile, LockKind::Pylock] {
            let _ = parse_lockfile(k, &s, &loc);
        }
    }

    #[test]
    fn content_recognition_never_panics(s in "\\PC*") {
        let _ = LockKind::from_content(&s);
    }

    #[test]
    fn requirement_lines_never_panic(s in "([a-zA-Z0-9._\\[\\],;@#=<>!~*() \t\\\\'\"-]|--hash=|-r |-e |\n){0,80}") {
        let (pk, _) = parse_requirements(&s, &Location::path("/p"));
        for p in pk {
            proptest::prop_assert!(!p.name.is_empty() && !p.version.is_empty());
        }
    }

    #[test]
    fn cargo_like_input_never_panics(entries in proptest::collection::vec(("[a-z_-]{0,6}", "[0-9.a-z+-]{0,6}", proptest::option::of("(registry|git|path|sparse|x)?\\+?[a-z:/#?=.]{0,12}"), proptest::collection::vec("[a-z]{0,3}( [0-9.]{0,4})?", 0..3)), 0..6)) {
        let mut s = String::from("version = 3\n");
        for (n, v, src, deps) in entries {
            s.push_str(&format!("[[package]]\nname = {n:?}\nversion = {v:?}\n"));
            if let Some(src) = src {
                s.push_str(&format!("source = {src:?}\n"));
            }
            s.push_str(&format!("dependencies = {deps:?}\n"));
        }
        let _ = parse_cargo_lock(&s, &Location::path("/p"));
    }
}
