//! Collection on real package databases and trees from `../shared/data/fixtures`, through the
//! library and through `nminus collect`.

use std::collections::BTreeSet;

use nminus::model::{inventory_schema, Ecosystem, Inventory, PackageMeta};
use nminus::{collect_root, parse_dpkg_status, CollectOptions, DpkgContext, Root};

use crate::support::{nminus, shared_data};

/// `package version arch source` of installed rows of a `dpkg-query -W` TSV.
fn expected_dpkg(rel: &str) -> BTreeSet<(String, String, String, String)> {
    let text = fs_err::read_to_string(shared_data(rel)).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // Only installed states count (`ii`, `hi`, …); `rc` rows are config files only.
            (f.len() >= 5 && f[4].as_bytes().get(1) == Some(&b'i')).then(|| {
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].to_owned(),
                    f[3].to_owned(),
                )
            })
        })
        .collect()
}

fn ours_dpkg(rel: &str) -> (BTreeSet<(String, String, String, String)>, usize) {
    let bytes = fs_err::read(shared_data(rel)).unwrap();
    let (pkgs, problems) = parse_dpkg_status(
        &bytes,
        "/var/lib/dpkg/status",
        false,
        &DpkgContext::default(),
    );
    let set = pkgs
        .iter()
        .map(|p| {
            let arch = match &p.meta {
                PackageMeta::Deb { arch, .. } => arch.clone().unwrap_or_default(),
                _ => unreachable!(),
            };
            (
                p.name.clone(),
                p.version.clone(),
                arch,
                p.source.as_ref().unwrap().name.clone(),
            )
        })
        .collect();
    (set, problems.len())
}

#[test]
fn dpkg_status_files_equal_dpkg_query() {
    for (status, expected) in [
        (
            "fixtures/dpkg/this-debian12/status",
            "fixtures/dpkg/this-debian12/status.expected.tsv",
        ),
        (
            "fixtures/dpkg/fanal/dpkg",
            "fixtures/dpkg/fanal/dpkg.expected.tsv",
        ),
        (
            "fixtures/dpkg/claircore/texlive.status",
            "fixtures/dpkg/claircore/texlive.status.expected.tsv",
        ),
        (
            "fixtures/dpkg/claircore/postgresql.status",
            "fixtures/dpkg/claircore/postgresql.status.expected.tsv",
        ),
    ] {
        let want = expected_dpkg(expected);
        let (got, problems) = ours_dpkg(status);
        assert!(!want.is_empty(), "{expected}");
        assert_eq!(problems, 0, "{status}");
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{status}: missing {missing:?}, extra {extra:?}"
        );
    }
}

#[test]
fn corrupt_dpkg_status_keeps_good_stanzas_and_names_the_line() {
    // dpkg-query aborts on this file ("near line 14 package 'libpam-runtime'"); we keep the rest.
    let bytes = fs_err::read(shared_data("fixtures/dpkg/fanal/corrupsed")).unwrap();
    let (pkgs, problems) = parse_dpkg_status(
        &bytes,
        "/var/lib/dpkg/status",
        false,
        &DpkgContext::default(),
    );
    assert!(!problems.is_empty());
    assert!(problems
        .iter()
        .all(|p| p.location.line.is_some() && p.location.path == "/var/lib/dpkg/status"));
    assert!(
        !pkgs.iter().any(|p| p.name == "libpam-runtime"),
        "the malformed stanza is skipped"
    );
    assert!(!pkgs.is_empty(), "other stanzas are kept");
}

#[test]
fn distroless_status_d_layouts() {
    let inv = collect_root(
        &Root::new(shared_data("fixtures/dpkg/syft/image-distroless-deb")),
        &CollectOptions::default(),
    );
    let names: Vec<_> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(names, [("libsqlite3-0", "3.34.1-3")]);
    let inv = collect_root(
        &Root::new(shared_data("fixtures/dpkg/syft")),
        &CollectOptions::default(),
    );
    let names: BTreeSet<_> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains("libpam-runtime"), "{names:?}");
    // `corrupt` gives a Problem naming the file, not a panic or an abort.
    assert!(
        inv.problems
            .iter()
            .any(|p| p.location.path.ends_with("status.d/corrupt")),
        "{:?}",
        inv.problems
    );
}

#[test]
fn inventory_schema_is_published_and_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/schema/inventory-v1.json");
    let want = serde_json::to_string_pretty(&inventory_schema()).unwrap() + "\n";
    if std::env::var_os("NMINUS_BLESS").is_some() {
        fs_err::write(&path, &want).unwrap();
    }
    let have = fs_err::read_to_string(&path).unwrap_or_default();
    assert_eq!(have, want, "reports/schema/inventory-v1.json drifted from the types: NMINUS_BLESS=1 cargo test inventory_schema");
}

fn validate(inv_json: &serde_json::Value) {
    let schema = inventory_schema();
    let compiled = jsonschema::JSONSchema::compile(&schema).expect("schema compiles");
    let msgs: Vec<String> = match compiled.validate(inv_json) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(10)
            .collect(),
    };
    assert!(
        msgs.is_empty(),
        "inventory does not match its schema: {msgs:#?}"
    );
}

#[test]
fn collect_this_machine_via_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("inv.json");
    let o = nminus()
        .args([
            "collect",
            "--site",
            "par1",
            "--cell",
            "c1",
            "--label",
            "role=ci",
            "--node-id",
            "self",
            "-o",
        ])
        .arg(&out)
        .env("NMINUS_NOW", "2026-11-24T00:00:00Z")
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 2)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&fs_err::read(&out).unwrap()).unwrap();
    validate(&v);
    let inv: Inventory = serde_json::from_value(v).unwrap();
    assert_eq!(inv.node.id, "self");
    assert_eq!(inv.node.site.as_deref(), Some("par1"));
    assert_eq!(inv.node.labels.get("role").map(String::as_str), Some("ci"));
    assert_eq!(inv.collected_at, "2026-11-24T00:00:00Z");
    // This machine is a Debian system: dpkg-query must agree with us on what is installed.
    let q = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"])
        .output()
        .unwrap();
    let want: BTreeSet<(String, String)> = String::from_utf8_lossy(&q.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[0].as_bytes().get(1) == Some(&b'i'))
                .then(|| (f[1].to_owned(), f[2].to_owned()))
        })
        .collect();
    let got: BTreeSet<(String, String)> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Deb)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    assert!(inv.os.is_some());
}

#[test]
fn collect_rejects_a_missing_root_with_exit_2() {
    let o = nminus()
        .args(["collect", "--root", "/nonexistent-root-for-nminus"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a directory"));
}

/// Regression: `-o /dev/null` once renamed a temporary file over the device (atomic writes must
/// only replace regular files).
#[test]
fn output_to_a_device_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let o = nminus()
        .args(["collect", "--problems-ok", "--root"])
        .arg(dir.path())
        .args(["-o", "/dev/null"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        fs_err::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/null was replaced"
    );
}
