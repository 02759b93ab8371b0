//! Fuzz harnesses, shared by the cargo-fuzz targets in `fuzz/` and by the corpus-replay test
//! (`tests/it/fuzz_replay.rs`), so that CI replays exactly what the fuzzers run. Each harness
//! must never panic on any input; the assertions inside check invariants, not inputs.

use std::cmp::Ordering;

use crate::model::Location;
use crate::version::{Scheme, Version};

/// Every fuzz target name (a folder under `fuzz/corpus/` and a binary in `fuzz/Cargo.toml`).
pub const TARGETS: [&str; 10] = [
    "version_parse",
    "dpkg_status",
    "apk_installed",
    "os_release",
    "rpm_header",
    "python_metadata",
    "cargo_lock",
    "requirements",
    "image_reader",
    "policy",
];

/// Run the harness of `target` on `data`. Panics on an unknown target name.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "version_parse" => version_parse(data),
        "dpkg_status" => {
            let ctx = crate::collect::dpkg::Ctx::default();
            let whole =
                crate::collect::dpkg::parse_status(data, "/var/lib/dpkg/status", false, &ctx);
            let _ =
                crate::collect::dpkg::parse_status(data, "/var/lib/dpkg/status.d/x", true, &ctx);
            // Differential: the streaming parser (what `collect` uses) must agree exactly.
            let streamed = crate::collect::dpkg::parse_status_reader(
                data,
                "/var/lib/dpkg/status",
                false,
                &ctx,
            )
            .expect("reading from memory cannot fail");
            assert_eq!(
                serde_json::to_value(&streamed).ok(),
                serde_json::to_value(&whole).ok(),
                "streaming and whole-file dpkg parses differ"
            );
        }
        "apk_installed" => {
            let _ = crate::collect::apk::parse_installed(
                data,
                "/lib/apk/db/installed",
                Some("alpine-3.20"),
            );
        }
        "os_release" => {
            let s = String::from_utf8_lossy(data);
            let _ = crate::collect::osrelease::parse_os_release(&s, "/etc/os-release");
            let _ = crate::collect::osrelease::parse_release_line(&s, "", "/etc/redhat-release");
        }
        "rpm_header" => {
            let _ = crate::collect::rpm::parse_header(data);
            for blobs in [
                crate::collect::rpm::bdb_blobs(data),
                crate::collect::rpm::ndb_blobs(data),
            ]
            .into_iter()
            .flatten()
            {
                for blob in blobs {
                    if let Ok(bytes) = blob.data {
                        let _ = crate::collect::rpm::parse_header(&bytes);
                    }
                }
            }
        }
        "python_metadata" => {
            let text = String::from_utf8_lossy(data);
            let loc = Location::path("/usr/lib/python3/dist-packages/x.dist-info/METADATA");
            if let Ok((name, version)) = crate::collect::python::parse_metadata(&text, &loc) {
                assert!(!name.is_empty() && !version.is_empty());
                let _ = crate::util::normalize_name(&name);
            }
        }
        "cargo_lock" => {
            let text = String::from_utf8_lossy(data);
            let (packages, _) = crate::collect::lockfile::parse_cargo_lock(
                &text,
                &Location::path("/srv/app/Cargo.lock"),
            );
            assert!(packages
                .iter()
                .all(|p| !p.name.is_empty() && !p.version.is_empty()));
            // Differential: the fast Cargo.lock reader agrees with the TOML parser.
            crate::collect::lockfile::check_fast_cargo_reader(&text);
        }
        "requirements" => {
            let text = String::from_utf8_lossy(data);
            let loc = Location::path("/srv/app/requirements.txt");
            let (packages, _) = crate::collect::lockfile::parse_requirements(&text, &loc);
            assert!(packages
                .iter()
                .all(|p| !p.name.is_empty() && !p.version.is_empty()));
            let _ = crate::collect::lockfile::parse_poetry_lock(&text, &loc);
            let _ = crate::collect::lockfile::parse_uv_lock(&text, &loc);
            let _ = crate::collect::lockfile::parse_pdm_lock(&text, &loc);
            let _ = crate::collect::lockfile::parse_pipfile_lock(&text, &loc);
            let _ = crate::collect::lockfile::parse_pylock_toml(&text, &loc);
            // A named file of unknown name is recognised by its content, then parsed as that.
            if let Ok(kind) = crate::collect::lockfile::LockKind::from_content(&text) {
                let _ = crate::collect::lockfile::parse_lockfile(kind, &text, &loc);
            }
        }
        "image_reader" => image_reader(data),
        "policy" => {
            let text = String::from_utf8_lossy(data);
            let parsed = crate::policy::parse(&text, "fuzz.yaml");
            // What the nesting pre-scan refuses never reaches the parser, and says where.
            if let Some(line) = crate::util::yaml::too_deep(&text) {
                let e = parsed.expect_err("a document nested too deeply was accepted");
                assert_eq!(e.0.len(), 1);
                assert_eq!(e.0[0].line, Some(line));
            }
        }
        other => panic!("unknown fuzz target `{other}`"),
    }
}

/// Small bounds, so that a run spends its time on shapes rather than sizes.
fn fuzz_limits() -> crate::collect::image::Limits {
    crate::collect::image::Limits {
        max_layer_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_entries: 10_000,
        max_kept_file: 1 << 20,
        max_kept_total: 2 << 20,
        max_json: 64 << 10,
        max_path_bytes: 4096,
        max_depth: 32,
        max_nodes: 5_000,
        max_name_bytes: 1 << 20,
    }
}

/// The image reader: the bytes as a layer blob (applied to a tree, then collected), and as an
/// image archive (`docker save` or OCI layout tar, any compression). Invariants: the tree stays
/// within its bounds, and resolving every listed path stays inside it.
fn image_reader(data: &[u8]) {
    use crate::collect::image::{self, layer, memfs::MemFs};
    use crate::collect::{CollectOptions, Root};
    let limits = fuzz_limits();
    let mut budget = layer::Budget::new(&limits);
    if let Ok(l) = layer::parse_layer(data, &limits, &mut budget) {
        let mut fs = MemFs::with_limits(limits.fs());
        let _ = layer::apply(&mut fs, &l);
        assert!(fs.len() <= limits.max_nodes, "{} nodes", fs.len());
        let root = Root::mem(std::sync::Arc::new(fs), "image:fuzz");
        let inv = crate::collect::collect_root(&root, &CollectOptions::default());
        for p in &inv.packages {
            assert!(p.location.path.starts_with('/'), "{}", p.location.path);
        }
        for (name, _) in root.entries("/") {
            if let Some(c) = root.canonical(&format!("/{name}")) {
                assert!(c.starts_with('/'), "{c}");
            }
        }
    }
    if let Ok(images) = image::load_reader(data, "fuzz", &limits) {
        for img in &images {
            if let Some(fs) = &img.fs {
                assert!(fs.len() <= limits.max_nodes);
            }
            let _ = image::collect_loaded(img);
        }
    }
}

/// Every scheme's parser and comparator: a parsed version equals itself and its normal form,
/// and comparison is antisymmetric.
fn version_parse(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = s.split_once('\t').unwrap_or((s, "1.0"));
    for scheme in Scheme::ALL {
        let Ok(v) = Version::parse(scheme, a) else {
            continue;
        };
        assert_eq!(v.compare(&v).ok(), Some(Ordering::Equal));
        let n = v.normalized();
        if let Ok(w) = Version::parse(scheme, &n) {
            assert_eq!(
                v.compare(&w).ok(),
                Some(Ordering::Equal),
                "{scheme} {a:?} vs its normal form {n:?}"
            );
        }
        if let Ok(x) = Version::parse(scheme, b) {
            assert_eq!(
                v.compare(&x).ok(),
                x.compare(&v).ok().map(Ordering::reverse)
            );
        }
    }
}
