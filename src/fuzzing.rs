//! Fuzz harnesses, shared by the cargo-fuzz targets in `fuzz/` and by the corpus-replay test
//! (`tests/it/fuzz_replay.rs`), so that CI replays exactly what the fuzzers run. Each harness
//! must never panic on any input; the assertions inside check invariants, not inputs.

use std::cmp::Ordering;

use crate::model::Location;
use crate::version::{Scheme, Version};

/// Every fuzz target name (a folder under `fuzz/corpus/` and a binary in `fuzz/Cargo.toml`).
pub const TARGETS: [&str; 9] = [
    "version_parse",
    "dpkg_status",
    "apk_installed",
    "os_release",
    "rpm_header",
    "python_metadata",
    "cargo_lock",
    "requirements",
    "git_http",
];

/// Run the harness of `target` on `data`. Panics on an unknown target name.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "version_parse" => version_parse(data),
        "git_http" => {
            // The same bytes as a ref advertisement and as an upload-pack response.
            if let Ok(adv) = crate::sources::githttp::Advertisement::parse(data, "fuzz") {
                for (name, oid) in &adv.refs {
                    assert_eq!(adv.lookup(name).map(str::len), Some(40));
                    assert_eq!(oid.len(), 40);
                }
            }
            let mut pack = Vec::new();
            if let Ok(n) = crate::sources::githttp::read_response(
                &mut &data[..],
                &mut pack,
                |_| {},
                1 << 20,
                "fuzz",
            ) {
                assert_eq!(n, pack.len() as u64);
            }
        }
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
                let _ = crate::collect::python::normalize_name(&name);
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
        other => panic!("unknown fuzz target `{other}`"),
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
