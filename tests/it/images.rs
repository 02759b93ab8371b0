//! Container images: the shared `docker save` / OCI fixtures against their expected apk lists,
//! kolla-like images built here (whiteouts, opaque directories, venv dist-info, every layout and
//! compression), hostile images (path traversal, links out, decompression bombs), the CLI, and a
//! real Podman API when podman is installed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nminus::model::{Ecosystem, PackageMeta, ProblemKind};
use nminus::OpenStackCatalog;
use nminus::Root;
use nminus::{
    collect_image_path, collect_image_reader, collect_runtime, load_path, load_reader,
    CollectedImage, ImageLimits as Limits, ImageOptions, RuntimeClient,
};

use crate::support::{nminus, shared_data};

#[path = "image_writer.rs"]
pub(crate) mod writer;

use writer::{dir, file, hardlink, symlink, Comp, Image, E};

const FIXTURES: &str = "fixtures/images/fanal-alpine-metadata-only";
const NOVA_TAG: &str = "quay.io/openstack.kolla/nova-api:2024.1-ubuntu-jammy";
const SITE: &str = "var/lib/kolla/venv/lib/python3.10/site-packages";

/// `name version arch origin` of an expected TSV.
fn expected_apk(name: &str) -> BTreeSet<(String, String, String, String)> {
    let text = fs_err::read_to_string(shared_data(&format!("{FIXTURES}/{name}"))).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].to_owned(),
                f[3].to_owned(),
            )
        })
        .collect()
}

fn apk_set(ci: &CollectedImage) -> BTreeSet<(String, String, String, String)> {
    ci.packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Apk)
        .map(|p| match &p.meta {
            PackageMeta::Apk { arch, origin } => (
                p.name.clone(),
                p.version.clone(),
                arch.clone().unwrap_or_default(),
                origin.clone().unwrap_or_default(),
            ),
            m => panic!("unexpected meta {m:?}"),
        })
        .collect()
}

fn collect_one(path: &Path) -> CollectedImage {
    let mut v = collect_image_path(path, &ImageOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(v.len(), 1, "{}: one image", path.display());
    v.remove(0)
}

#[test]
fn shared_fixtures_match_expected_apk_lists() {
    for (archive, expected, tag) in [
        (
            "alpine-3.10-docker-save.tar.gz",
            "alpine-3.10.expected.tsv",
            "alpine:3.10",
        ),
        (
            "alpine-3.11-docker-save.tar.gz",
            "alpine-3.11.expected.tsv",
            "alpine:3.11",
        ),
        (
            "alpine-3.11-oci-layout.tar",
            "alpine-3.11.expected.tsv",
            "alpine:3.11",
        ),
    ] {
        let ci = collect_one(&shared_data(&format!("{FIXTURES}/{archive}")));
        assert_eq!(apk_set(&ci), expected_apk(expected), "{archive}");
        assert!(ci.problems.is_empty(), "{archive}: {:?}", ci.problems);
        assert_eq!(ci.image.tags, [tag], "{archive}");
        assert_eq!(ci.image.reference, tag);
        assert_eq!(ci.image.packages, ci.packages.len());
        let os = ci.image.os.as_ref().expect("alpine os-release");
        assert_eq!(os.id, "alpine");
        assert!(ci.image.id.as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(ci.image.architecture.as_deref(), Some("amd64"));
        assert!(ci.image.created.is_some());
        for p in &ci.packages {
            assert_eq!(
                p.location.origin,
                nminus::model::Origin::Image {
                    reference: tag.to_string()
                },
                "{archive}"
            );
            assert_eq!(
                p.location.wire_path(),
                format!("image:{tag}:/lib/apk/db/installed"),
                "{archive}"
            );
        }
    }
    // The OCI layout names the manifest by digest; docker save does not.
    let oci = collect_one(&shared_data(&format!(
        "{FIXTURES}/alpine-3.11-oci-layout.tar"
    )));
    let docker = collect_one(&shared_data(&format!(
        "{FIXTURES}/alpine-3.11-docker-save.tar.gz"
    )));
    assert!(oci.image.digest.is_some());
    assert_eq!(oci.image.id, docker.image.id, "same config blob, same id");
}

/// The kolla-like nova image: three layers, whiteouts, an opaque venv directory.
fn nova_image(tag: &str, nova_version: &str) -> Image {
    let base = writer::layer_tar(&[
        dir("etc"),
        dir("usr/lib"),
        file("usr/lib/os-release", writer::UBUNTU_JAMMY),
        symlink("etc/os-release", "../usr/lib/os-release"),
        file("etc/hostname", "buildkitsandbox\n"),
        dir("var/lib/dpkg"),
        file(
            "var/lib/dpkg/status",
            &writer::dpkg_status(&[("libc6", "2.35-0ubuntu3.1"), ("base-files", "12ubuntu4")]),
        ),
        // A package database the next layer deletes.
        file(
            "lib/apk/db/installed",
            "P:musl\nV:1.2.3-r0\nA:x86_64\no:musl\n\n",
        ),
        file("usr/bin/python3.10", "\x7fELF not really"),
        hardlink("usr/bin/python3", "usr/bin/python3.10"),
        file(
            &format!("{SITE}/oslo.config-9.0.0.dist-info/METADATA"),
            &writer::metadata("oslo.config", "9.0.0"),
        ),
        file(
            &format!("{SITE}/stale-1.0.dist-info/METADATA"),
            &writer::metadata("stale", "1.0"),
        ),
        symlink("lib64", "usr/lib64"),
    ]);
    let kolla = writer::layer_tar(&[
        E::Whiteout("lib/apk/db/installed".to_owned()),
        file(
            "var/lib/dpkg/status",
            &writer::dpkg_status(&[
                ("libc6", "2.35-0ubuntu3.8"),
                ("base-files", "12ubuntu4.6"),
                ("python3.10", "3.10.12-1~22.04.5"),
                ("openssl", "3.0.2-0ubuntu1.15"),
            ]),
        ),
        file("var/lib/kolla/venv/pyvenv.cfg", "home = /usr/bin\n"),
        E::Opaque(SITE.to_owned()),
        file(
            &format!("{SITE}/oslo.config-9.4.0.dist-info/METADATA"),
            &writer::metadata("oslo.config", "9.4.0"),
        ),
        file(
            &format!("{SITE}/oslo.config-9.4.0.dist-info/INSTALLER"),
            "pip\n",
        ),
    ]);
    let service = writer::layer_tar(&[
        file(
            &format!("{SITE}/nova-{nova_version}.dist-info/METADATA"),
            &writer::metadata("nova", nova_version),
        ),
        file(
            &format!("{SITE}/nova-{nova_version}.dist-info/INSTALLER"),
            "pip\n",
        ),
        file("etc/nova/nova.conf", "[DEFAULT]\n"),
    ]);
    Image {
        tags: vec![tag.to_owned()],
        labels: vec![
            ("kolla_version".into(), "18.1.0".into()),
            ("name".into(), "nova-api".into()),
            ("build-date".into(), "20240501".into()),
            ("maintainer".into(), "Kolla Project".into()),
            ("io.k8s.ignored".into(), "x".into()),
        ],
        layers: vec![base, kolla, service],
        diff_ids: None,
    }
}

fn catalog() -> OpenStackCatalog {
    OpenStackCatalog::load(&shared_data("openstack-releases"))
        .unwrap()
        .0
}

fn names(ci: &CollectedImage, eco: Ecosystem) -> BTreeSet<(String, String)> {
    ci.packages
        .iter()
        .filter(|p| p.ecosystem == eco)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

fn check_nova(ci: &CollectedImage, what: &str) {
    assert!(ci.problems.is_empty(), "{what}: {:#?}", ci.problems);
    assert_eq!(ci.image.reference, NOVA_TAG, "{what}");
    let os = ci.image.os.as_ref().expect("os");
    assert_eq!(
        (
            os.id.as_str(),
            os.version_id.as_deref(),
            os.codename.as_deref()
        ),
        ("ubuntu", Some("22.04"), Some("jammy")),
        "{what}"
    );
    let dpkg: BTreeSet<(String, String)> = names(ci, Ecosystem::Deb);
    assert_eq!(
        dpkg,
        [
            ("base-files", "12ubuntu4.6"),
            ("libc6", "2.35-0ubuntu3.8"),
            ("openssl", "3.0.2-0ubuntu1.15"),
            ("python3.10", "3.10.12-1~22.04.5"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect(),
        "{what}: the upper layer's status replaces the base's"
    );
    assert!(
        names(ci, Ecosystem::Apk).is_empty(),
        "{what}: the whiteout deleted the apk database"
    );
    assert_eq!(
        names(ci, Ecosystem::Pypi),
        [("nova", "29.0.1"), ("oslo-config", "9.4.0")]
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
        "{what}: the opaque directory hid oslo.config 9.0.0 and stale 1.0"
    );
    let nova = ci.packages.iter().find(|p| p.name == "nova").unwrap();
    assert_eq!(
        nova.location.wire_path(),
        format!("image:{NOVA_TAG}:/{SITE}/nova-29.0.1.dist-info/METADATA")
    );
    match &nova.meta {
        PackageMeta::Python { environment, .. } => {
            assert_eq!(
                environment,
                &Some(nminus::model::PythonEnvironment::Venv {
                    root: "/var/lib/kolla/venv".into()
                })
            );
        }
        m => panic!("{m:?}"),
    }
    let dpkg_pkg = ci.packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(
        dpkg_pkg.location.wire_path(),
        format!("image:{NOVA_TAG}:/var/lib/dpkg/status")
    );
    let svc = ci
        .services
        .iter()
        .find(|s| s.deliverable == "nova")
        .expect("nova service");
    assert_eq!(
        svc.install.to_string(),
        format!("image:{NOVA_TAG}:venv:/var/lib/kolla/venv")
    );
    assert_eq!(svc.install.environment(), Some("/var/lib/kolla/venv"));
    assert_eq!(
        ci.image.labels.get("kolla_version").map(String::as_str),
        Some("18.1.0")
    );
    assert!(ci.image.labels.contains_key("build-date"));
    assert!(!ci.image.labels.contains_key("io.k8s.ignored"));
    let k = ci.image.kolla.as_ref().expect("kolla");
    assert_eq!(k.tag_series.as_deref(), Some("2024.1"));
    assert_eq!(k.tag_distro.as_deref(), Some("ubuntu-jammy"));
    assert_eq!(k.service.as_deref(), Some("nova"));
    assert_eq!(k.version.as_deref(), Some("29.0.1"));
    assert!(!k.mismatch);
}

#[test]
fn kolla_nova_image_in_every_layout_and_compression() {
    let img = nova_image(NOVA_TAG, "29.0.1");
    let tmp = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, PathBuf)> = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| {
        let p = tmp.path().join(name);
        fs_err::write(&p, bytes).unwrap();
        cases.push((name.to_owned(), p));
    };
    put(
        "docker-save.tar",
        writer::docker_archive(std::slice::from_ref(&img), Comp::None),
    );
    put(
        "docker-save.tar.gz",
        writer::gzip(&writer::docker_archive(
            std::slice::from_ref(&img),
            Comp::None,
        )),
    );
    put(
        "docker-gzip-layers.tar",
        writer::docker_archive(std::slice::from_ref(&img), Comp::Gzip),
    );
    put(
        "oci-gzip.tar",
        writer::oci_layout_tar(std::slice::from_ref(&img), Comp::Gzip),
    );
    put(
        "oci-zstd.tar",
        writer::oci_layout_tar(std::slice::from_ref(&img), Comp::Zstd),
    );
    put(
        "oci-plain.tar.zst",
        writer::zstd(&writer::oci_layout_tar(
            std::slice::from_ref(&img),
            Comp::None,
        )),
    );
    let oci_dir = tmp.path().join("oci-dir");
    writer::write_oci_dir(&oci_dir, std::slice::from_ref(&img), Comp::Gzip);
    cases.push(("oci-dir".to_owned(), oci_dir));
    let mut ids = BTreeSet::new();
    for (name, path) in &cases {
        let ci = collect_one(path);
        check_nova(&ci, name);
        ids.insert(ci.image.id.clone());
        if name.starts_with("oci") {
            assert!(ci.image.digest.is_some(), "{name}: manifest digest");
        }
    }
    assert_eq!(ids.len(), 1, "one config, one id: {ids:?}");
}

#[test]
fn in_memory_tree_keeps_only_what_collectors_read() {
    let img = nova_image(NOVA_TAG, "29.0.1");
    let bytes = writer::docker_archive(std::slice::from_ref(&img), Comp::None);
    let loaded = load_reader(&bytes[..], "test", &Limits::default()).unwrap();
    let fs = loaded[0].fs.clone().unwrap();
    let root = Root::mem(Arc::clone(&fs), "image:test");
    assert!(
        root.exists("/usr/bin/python3"),
        "hard link inside the image"
    );
    assert_eq!(root.file_size("/usr/bin/python3"), Some(15));
    assert!(root.read("/usr/bin/python3").is_err(), "contents not kept");
    assert!(
        root.read("/etc/nova/nova.conf").is_err(),
        "contents not kept"
    );
    assert!(root.exists("/etc/nova/nova.conf"));
    assert!(!root.exists("/lib/apk/db/installed"), "whiteout applied");
    assert!(
        root.exists("/lib/apk/db"),
        "the whiteout deletes the file only"
    );
    assert!(!root.exists(&format!("/{SITE}/stale-1.0.dist-info")));
    assert_eq!(
        root.read_string("/etc/os-release").unwrap(),
        writer::UBUNTU_JAMMY
    );
    assert_eq!(root.hostname().as_deref(), Some("buildkitsandbox"));
    assert!(fs.kept_bytes() < 4096, "{}", fs.kept_bytes());
    assert_eq!(loaded[0].layers.len(), 3);
}

#[test]
fn kolla_series_from_the_tag_and_exactly_from_the_dist_info() {
    let cat = catalog();
    let opts = ImageOptions::default();
    let same = nova_image(NOVA_TAG, "29.0.1");
    let wrong_tag = "quay.io/openstack.kolla/nova-api:2023.2-ubuntu-jammy";
    let wrong = nova_image(wrong_tag, "29.0.1");
    let dev = nova_image(
        "quay.io/openstack.kolla/nova-api:master-ubuntu-noble",
        "31.0.1.dev12",
    );
    let bytes = writer::docker_archive(&[same, wrong, dev], Comp::None);
    let mut got = collect_image_reader(&bytes[..], "test", &opts).unwrap();
    assert_eq!(got.len(), 3);
    // The collector records the facts only: tag series and service version, no series.
    for i in &mut got {
        let k = i.image.kolla.as_mut().unwrap();
        assert!(k.tag_series.is_some() && k.version.is_some(), "{k:?}");
        assert!(
            k.series.is_none() && k.exact.is_none() && !k.mismatch,
            "{k:?}"
        );
        nminus::check_kolla(k, &cat);
    }
    let k0 = got[0].image.kolla.as_ref().unwrap();
    assert_eq!(k0.series.as_deref(), Some("caracal"));
    assert_eq!(k0.exact, Some(true));
    assert!(!k0.mismatch, "{k0:?}");
    let k1 = got[1].image.kolla.as_ref().unwrap();
    assert_eq!(k1.tag_series.as_deref(), Some("2023.2"));
    assert_eq!(k1.series.as_deref(), Some("caracal"));
    assert!(k1.mismatch, "{k1:?}");
    let note = k1.note.as_deref().unwrap();
    assert!(
        note.contains("2023.2") && note.contains("caracal"),
        "{note}"
    );
    let k2 = got[2].image.kolla.as_ref().unwrap();
    assert_eq!(k2.tag_series.as_deref(), Some("master"));
    assert_eq!(k2.exact, Some(false));
    assert!(!k2.mismatch, "a master dev build is not a mismatch: {k2:?}");
    // Without a catalog only the tag series is recorded.
    let k = plain_kolla(&bytes);
    assert_eq!(k.tag_series.as_deref(), Some("2023.2"));
    assert!(k.series.is_none() && !k.mismatch);
}

fn plain_kolla(bytes: &[u8]) -> nminus::model::KollaImage {
    let plain = collect_image_reader(bytes, "test", &ImageOptions::default()).unwrap();
    plain[1].image.kolla.clone().unwrap()
}

/// Paths that must never be created by collecting a hostile image.
fn escape_names(tmp: &Path) -> (String, PathBuf) {
    let target = tmp.join("escaped-by-image");
    let rel = format!("../../../../../../../../..{}", target.display());
    (rel, target)
}

#[test]
fn hostile_paths_and_links_stay_inside_the_image() {
    let outside = tempfile::tempdir().unwrap();
    // A real dpkg status on the host that a link out of the image would read.
    let secret = outside.path().join("status");
    fs_err::write(&secret, writer::dpkg_status(&[("host-secret", "1.0")])).unwrap();
    let (escape, escape_target) = escape_names(outside.path());
    let layer = writer::layer_tar(&[
        file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        E::Raw {
            name: escape.clone(),
            kind: b'0',
            link: String::new(),
            data: b"escaped".to_vec(),
        },
        E::Raw {
            name: "a/../../../etc/evil".to_owned(),
            kind: b'0',
            link: String::new(),
            data: b"x".to_vec(),
        },
        // An absolute name is taken inside the image.
        E::Raw {
            name: "/etc/hostname".to_owned(),
            kind: b'0',
            link: String::new(),
            data: b"inside\n".to_vec(),
        },
        // Absolute symlink to the host's file: resolved inside the image (where it is absent).
        symlink("var/lib/dpkg/status", &secret.display().to_string()),
        // Symlink climbing out: clamped at the image root.
        symlink(
            "lib/apk/db/installed",
            "../../../../../../../../../../etc/hostname",
        ),
        // Hard links out: lexically escaping, and absolute to a host path.
        E::Raw {
            name: "usr/lib/dpkg/status".to_owned(),
            kind: b'1',
            link: format!("../../../../../../../..{}", secret.display()),
            data: Vec::new(),
        },
        hardlink("var/lib/dpkg/status.d/x", &secret.display().to_string()),
    ]);
    let img = Image {
        tags: vec!["evil:1".into()],
        layers: vec![layer],
        ..Image::default()
    };
    let bytes = writer::docker_archive(&[img], Comp::Gzip);
    let path = outside.path().join("evil.tar");
    fs_err::write(&path, &bytes).unwrap();
    let ci = collect_one(&path);
    assert!(!escape_target.exists(), "nothing written outside");
    assert!(
        !ci.packages.iter().any(|p| p.name == "host-secret"),
        "host files are never read: {:?}",
        ci.packages
    );
    let msgs: Vec<String> = ci.problems.iter().map(ToString::to_string).collect();
    let has = |s: &str| msgs.iter().any(|m| m.contains(s));
    assert!(has("climbs above the image root"), "{msgs:#?}");
    assert!(has("points outside the image root"), "{msgs:#?}");
    assert!(has("is not a file in the image"), "{msgs:#?}");
    assert!(
        ci.problems
            .iter()
            .all(|p| p.location.wire_path().starts_with("image:evil:1")),
        "{msgs:#?}"
    );
    let loaded = load_path(&path, &Limits::default()).unwrap();
    let root = Root::mem(loaded[0].fs.clone().unwrap(), "image:evil:1");
    assert_eq!(root.read_string("/etc/hostname").unwrap(), "inside\n");
    assert_eq!(
        root.read_string("/lib/apk/db/installed").unwrap(),
        "inside\n",
        "a climbing symlink is clamped at the image root"
    );
    assert!(!root.exists("/var/lib/dpkg/status"));
    assert!(!root.exists("/etc/evil") && !root.exists("/evil"));
    assert_eq!(ci.image.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
}

fn zeros_layer(name: &str, mb: usize) -> Vec<u8> {
    writer::layer_tar(&[E::File(name.to_owned(), vec![0u8; mb << 20])])
}

#[test]
fn decompression_bombs_fail_with_the_image_and_layer_named() {
    let limits = Limits {
        max_layer_bytes: 16 << 20,
        max_total_bytes: 24 << 20,
        ..Limits::default()
    };
    let opts = ImageOptions {
        limits: limits.clone(),
    };
    // 64 MiB of zeros: about 64 KiB as gzip, as zstd much less.
    for comp in [Comp::Gzip, Comp::Zstd] {
        let img = Image {
            tags: vec!["bomb:gz".into()],
            layers: vec![
                writer::layer_tar(&[file("etc/os-release", "ID=alpine\n")]),
                zeros_layer("zeros", 64),
            ],
            ..Image::default()
        };
        let bytes = writer::oci_layout_tar(&[img], comp);
        assert!(bytes.len() < 1 << 20, "{comp:?}: {} bytes", bytes.len());
        let started = Instant::now();
        let got = collect_image_reader(&bytes[..], "bomb.tar", &opts).unwrap();
        assert!(started.elapsed() < Duration::from_secs(20));
        let ci = &got[0];
        assert!(ci.packages.is_empty());
        let p = ci
            .problems
            .iter()
            .find(|p| p.message.contains("decompression bomb"))
            .unwrap_or_else(|| panic!("{comp:?}: {:#?}", ci.problems));
        assert_eq!(p.kind, ProblemKind::Skipped);
        assert_eq!(p.location.wire_path(), "image:bomb:gz");
        assert!(p.message.contains("layer 2/2"), "{}", p.message);
        assert!(p.message.contains("bomb:gz"), "{}", p.message);
        assert!(p.message.contains("16777216"), "{}", p.message);
    }
    // Layers each within bounds but together above the total.
    let img = Image {
        tags: vec!["big:1".into()],
        layers: vec![
            zeros_layer("a", 10),
            zeros_layer("b", 10),
            zeros_layer("c", 10),
        ],
        ..Image::default()
    };
    let bytes = writer::docker_archive(&[img], Comp::Gzip);
    let got = collect_image_reader(&bytes[..], "big.tar", &opts).unwrap();
    let msgs: Vec<String> = got[0].problems.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter().any(|m| m.contains("all layers together")),
        "{msgs:#?}"
    );
    // Too many entries.
    let many: Vec<E> = (0..300).map(|i| file(&format!("f{i}"), "")).collect();
    let img = Image {
        tags: vec!["many:1".into()],
        layers: vec![writer::layer_tar(&many)],
        ..Image::default()
    };
    let bytes = writer::docker_archive(&[img], Comp::None);
    let few = ImageOptions {
        limits: Limits {
            max_entries: 100,
            ..Limits::default()
        },
    };
    let got = collect_image_reader(&bytes[..], "many.tar", &few).unwrap();
    let msgs: Vec<String> = got[0].problems.iter().map(ToString::to_string).collect();
    assert!(msgs.iter().any(|m| m.contains("entries")), "{msgs:#?}");
    // A kept file above its bound is listed, not read.
    let img = Image {
        tags: vec!["fat:1".into()],
        layers: vec![writer::layer_tar(&[E::File(
            "var/lib/dpkg/status".into(),
            vec![b'#'; 2 << 20],
        )])],
        ..Image::default()
    };
    let bytes = writer::docker_archive(&[img], Comp::None);
    let thin = ImageOptions {
        limits: Limits {
            max_kept_file: 1 << 20,
            ..Limits::default()
        },
    };
    let got = collect_image_reader(&bytes[..], "fat.tar", &thin).unwrap();
    let msgs: Vec<String> = got[0].problems.iter().map(ToString::to_string).collect();
    assert!(msgs.iter().any(|m| m.contains("not kept")), "{msgs:#?}");
}

#[test]
fn digests_are_verified() {
    let mut img = nova_image(NOVA_TAG, "29.0.1");
    img.diff_ids = Some(vec![
        writer::digest(b"a"),
        writer::digest(b"b"),
        writer::digest(b"c"),
    ]);
    let bytes = writer::oci_layout_tar(&[img], Comp::Gzip);
    let got = collect_image_reader(&bytes[..], "t", &ImageOptions::default()).unwrap();
    let msgs: Vec<String> = got[0].problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs.iter().filter(|m| m.contains("diff_id")).count(),
        3,
        "{msgs:#?}"
    );
    assert!(
        !got[0].packages.is_empty(),
        "a mismatch is reported, not fatal"
    );
    // A tampered blob: its content no longer hashes to its name.
    let img = nova_image(NOVA_TAG, "29.0.1");
    let mut files = writer::oci_files(&[img], Comp::None);
    let service_layer = files
        .iter_mut()
        .find(|(_, d)| d.windows(4).any(|w| w == b"nova") && d.len() > 1024)
        .unwrap();
    let pos = service_layer
        .1
        .windows(15)
        .position(|w| w == b"Version: 29.0.1")
        .unwrap();
    service_layer.1[pos + 9..pos + 15].copy_from_slice(b"99.0.1");
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, p, &d[..]).unwrap();
    }
    let bytes = b.into_inner().unwrap();
    let got = collect_image_reader(&bytes[..], "t", &ImageOptions::default()).unwrap();
    let msgs: Vec<String> = got[0].problems.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter().any(|m| m.contains("expected blob digest")),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m.contains("diff_id")), "{msgs:#?}");
}

#[test]
fn not_an_image_is_an_error() {
    let err = collect_image_reader(
        &writer::layer_tar(&[file("x", "y")])[..],
        "x.tar",
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not an image"), "{err}");
    let err = collect_image_reader(&b"hello"[..], "x.tar", &ImageOptions::default()).unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[test]
fn cli_collects_images_with_prefixed_locations() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("nova.tar.gz");
    fs_err::write(
        &path,
        writer::gzip(&writer::docker_archive(
            &[nova_image(NOVA_TAG, "29.0.1")],
            Comp::None,
        )),
    )
    .unwrap();
    let out = nminus()
        .args(["collect", "--image"])
        .arg(&path)
        .arg("--image")
        .arg(shared_data(&format!(
            "{FIXTURES}/alpine-3.10-docker-save.tar.gz"
        )))
        .arg("--openstack-releases")
        .arg(shared_data("openstack-releases"))
        .env("NMINUS_NOW", "2026-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = inv["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["reference"], "alpine:3.10");
    assert_eq!(images[1]["reference"], NOVA_TAG);
    assert_eq!(images[1]["kolla"]["series"], "caracal");
    assert_eq!(inv["root"], "");
    let paths: BTreeSet<&str> = inv["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["location"]["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains("image:alpine:3.10:/lib/apk/db/installed"),
        "{paths:?}"
    );
    assert!(paths.contains(format!("image:{NOVA_TAG}:/var/lib/dpkg/status").as_str()));
    let _: nminus::model::Inventory = serde_json::from_value(inv).unwrap();
}

/// `podman system service` on a private socket with private storage; killed on drop.
struct Podman {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Podman {
    fn base(dir: &Path) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(dir.join("storage"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .args(["--storage-driver", "vfs", "--events-backend", "file"]);
        c
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Self::base(dir.path())
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("podman system service");
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "podman did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, socket, dir }
    }

    fn remote(&self, args: &[&str]) {
        let out = Command::new("podman")
            .arg("--url")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Only what this test made, through its own service; the storage is in `dir`.
        for args in [["rm", "-af"], ["rmi", "-af"]] {
            let _ = Command::new("podman")
                .arg("--url")
                .arg(format!("unix://{}", self.socket.display()))
                .args(args)
                .output();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_podman() -> bool {
    Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Podman's Docker-compatible API: load an image built here, create a container from it (this
/// machine cannot start containers: crun refuses its hybrid cgroup v1/v2 layout, so the
/// container stays `created` and is listed with `all`), then collect through the API.
#[test]
fn podman_api_lists_containers_and_exports_their_images() {
    assert!(
        have_podman(),
        "podman is not installed: scripts/test.sh installs it (apt-get install podman)"
    );
    let pm = Podman::start();
    let archive = pm.dir.path().join("nova.tar");
    fs_err::write(
        &archive,
        writer::docker_archive(&[nova_image(NOVA_TAG, "29.0.1")], Comp::None),
    )
    .unwrap();
    pm.remote(&["load", "-q", "-i", &archive.display().to_string()]);
    pm.remote(&[
        "create",
        "--name",
        "nova_api",
        "--network",
        "none",
        NOVA_TAG,
        "/bin/true",
    ]);
    let socket = pm.socket.display().to_string();
    let client = RuntimeClient::new(socket.clone());
    let cs = client.containers(true).unwrap();
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(cs[0].name, "nova_api");
    assert!(client.containers(false).unwrap().is_empty(), "not running");
    let got = collect_runtime(&socket, true, &ImageOptions::default()).unwrap();
    assert_eq!(got.len(), 1);
    let ci = &got[0];
    assert_eq!(ci.image.containers, ["nova_api"]);
    assert_eq!(
        ci.image.source.as_deref(),
        Some(format!("docker:{socket}").as_str())
    );
    check_nova(ci, "podman export");
    // Through the CLI as well.
    let out = nminus()
        .args(["collect", "--image"])
        .arg(&archive)
        .args(["--runtime", &socket, "--all-containers"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = inv["images"].as_array().unwrap();
    assert_eq!(
        images.len(),
        1,
        "the same image from the archive and the runtime is one"
    );
    assert_eq!(images[0]["containers"], serde_json::json!(["nova_api"]));
    // A socket nobody listens on is a problem, not a crash.
    let err = collect_runtime("/nonexistent.sock", false, &ImageOptions::default()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent.sock"), "{err}");
}
