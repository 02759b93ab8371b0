//! Image scanning benchmark: a generated ~500 MB image tarball (mostly incompressible random
//! filler files, plus a dpkg status, an os-release and a kolla-style venv with dist-info
//! metadata) scanned by `nminus collect --image`, as a whole process: wall time and peak RSS
//! (GNU time's `%M`), for two layouts:
//!
//! 1. an OCI image layout tar with gzip layers (what registries serve);
//! 2. a `docker save` archive (uncompressed layers).
//!
//! `cargo bench --bench image` (median of 3 runs each); under `cargo test` it scans a tiny image
//! once as a smoke test. Peak RSS must stay far below the image size: layers are streamed, and
//! only package databases are kept in memory.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[path = "../tests/it/image_writer.rs"]
mod writer;

/// xorshift64*: fast incompressible filler.
struct Rng(u64);

impl Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// One layer: `files` random files of `file_kib` KiB each, plus `extra` entries.
fn layer(rng: &mut Rng, n: usize, files: usize, file_kib: usize, extra: &[writer::E]) -> Vec<u8> {
    let mut entries: Vec<writer::E> = extra.to_vec();
    for i in 0..files {
        let mut d = vec![0u8; file_kib << 10];
        rng.fill(&mut d);
        entries.push(writer::E::File(
            format!("usr/share/filler{n}/{:03}/blob{i:05}.bin", i % 100),
            d,
        ));
    }
    writer::layer_tar(&entries)
}

fn package_layers(total_mib: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let pkgs: Vec<(String, String)> = (0..800)
        .map(|i| {
            (
                format!("lib-package-{i}"),
                format!("1.{i}.0-1ubuntu0.{}", i % 7),
            )
        })
        .collect();
    let pkg_refs: Vec<(&str, &str)> = pkgs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let site = "var/lib/kolla/venv/lib/python3.10/site-packages";
    let mut venv = vec![
        writer::file("var/lib/kolla/venv/pyvenv.cfg", "home = /usr/bin\n"),
        writer::file(
            &format!("{site}/nova-29.0.1.dist-info/METADATA"),
            &writer::metadata("nova", "29.0.1"),
        ),
    ];
    for i in 0..200 {
        venv.push(writer::file(
            &format!("{site}/dep{i}-1.{i}.dist-info/METADATA"),
            &writer::metadata(&format!("dep{i}"), &format!("1.{i}")),
        ));
    }
    let base = vec![
        writer::file("etc/os-release", writer::UBUNTU_JAMMY),
        writer::file("var/lib/dpkg/status", &writer::dpkg_status(&pkg_refs)),
    ];
    // Four layers of random files, 1 MiB each (a tiny image: 4 × 1 × 64 KiB).
    let (files, kib) = if total_mib >= 16 {
        (total_mib / 4, 1024)
    } else {
        (1, 64)
    };
    vec![
        layer(&mut rng, 0, files, kib, &base),
        layer(&mut rng, 1, files, kib, &[]),
        layer(&mut rng, 2, files, kib, &venv),
        layer(
            &mut rng,
            3,
            files,
            kib,
            &[writer::E::Whiteout(
                "usr/share/filler1/000/blob00000.bin".into(),
            )],
        ),
    ]
}

fn add(b: &mut tar::Builder<impl Write>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, path, data).unwrap();
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap()
}

/// Write an OCI layout tar with gzip layers, one layer in memory at a time.
fn write_oci(path: &Path, layers: Vec<Vec<u8>>) -> u64 {
    let mut b = tar::Builder::new(BufWriter::new(fs_err::File::create(path).unwrap()));
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(writer::digest(&l));
        let gz = writer::gzip(&l);
        drop(l);
        let d = writer::digest(&gz);
        add(&mut b, &format!("blobs/sha256/{}", hex(&d)), &gz);
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": gz.len()
        }));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-05-01T00:00:00Z",
        "config": {"Labels": {"kolla_version": "18.1.0"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let cd = writer::digest(&config);
    add(&mut b, &format!("blobs/sha256/{}", hex(&cd)), &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = writer::digest(&manifest);
    add(&mut b, &format!("blobs/sha256/{}", hex(&md)), &manifest);
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(),
        "annotations": {"io.containerd.image.name": "quay.io/openstack.kolla/nova-api:2024.1-ubuntu-jammy"}
    }]}))
    .unwrap();
    add(&mut b, "index.json", &index);
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#);
    b.into_inner().unwrap().flush().unwrap();
    fs_err::metadata(path).unwrap().len()
}

/// Write a `docker save` archive (uncompressed layers).
fn write_docker(path: &Path, layers: Vec<Vec<u8>>) -> u64 {
    let img = writer::Image {
        tags: vec!["quay.io/openstack.kolla/nova-api:2024.1-ubuntu-jammy".into()],
        labels: vec![("kolla_version".into(), "18.1.0".into())],
        layers,
        diff_ids: None,
    };
    let w = BufWriter::new(fs_err::File::create(path).unwrap());
    writer::write_docker_archive(w, &[img], writer::Comp::None).unwrap();
    fs_err::metadata(path).unwrap().len()
}

struct Run {
    secs: f64,
    rss_kib: u64,
    summary: String,
}

fn scan(exe: &str, image: &Path) -> Run {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            exe,
            "collect",
            "--problems-ok",
            "-o",
            "/dev/null",
            "--image",
        ])
        .arg(image)
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/time (apt-get install time): {e}"));
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nminus collect failed: {err}");
    let rss_kib = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let summary = err
        .lines()
        .find(|l| l.starts_with("collected"))
        .unwrap_or("")
        .to_owned();
    assert!(
        summary.contains("collected 1001 packages"),
        "expected 800 dpkg + 201 python packages: {err}"
    );
    Run {
        secs,
        rss_kib,
        summary,
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (n, mib) = if bench { (3, 500) } else { (1, 1) };
    let exe = env!("CARGO_BIN_EXE_nminus");
    let tmp = tempfile::tempdir().unwrap();
    // `NMINUS_BENCH_DIR=<dir>` writes the images there (and keeps them) for profiling.
    let keep = std::env::var_os("NMINUS_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = keep.as_deref().unwrap_or(tmp.path());
    let t = Instant::now();
    let oci = dir.join("nova-oci.tar");
    let oci_size = write_oci(&oci, package_layers(mib));
    let docker = dir.join("nova-docker-save.tar");
    let docker_size = write_docker(&docker, package_layers(mib));
    eprintln!(
        "generated {} + {} bytes in {:.1} s",
        oci_size,
        docker_size,
        t.elapsed().as_secs_f64()
    );
    for (label, path, size) in [
        ("OCI layout tar, gzip layers", &oci, oci_size),
        ("docker save tar, uncompressed layers", &docker, docker_size),
    ] {
        let mut runs: Vec<Run> = (0..n).map(|_| scan(exe, path)).collect();
        runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
        let med = &runs[runs.len() / 2];
        let rss = runs.iter().map(|r| r.rss_kib).max().unwrap_or(0);
        if !bench {
            // A smoke test of a debug build: no figures (they would read as measurements).
            println!("image scan ({label}): ran (figures: cargo bench --bench image)");
            continue;
        }
        println!(
            "image scan ({label}): {:.1} MB in {:.2} s ({:.0} MB/s), peak RSS {} KiB ({:.1} MiB); {}",
            size as f64 / 1e6,
            med.secs,
            size as f64 / 1e6 / med.secs,
            rss,
            rss as f64 / 1024.0,
            med.summary
        );
    }
}
