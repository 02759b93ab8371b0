//! A small writer of container images for tests and benchmarks: layer tars (with whiteouts,
//! links and deliberately hostile paths), `docker save` archives and OCI image layouts (tar or
//! directory), gzip / zstd / uncompressed layers. Everything is built in memory or streamed to a
//! writer; digests are real.

#![allow(dead_code, unreachable_pub)]

use std::io::{self, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// One layer entry.
#[derive(Debug, Clone)]
pub enum E {
    /// A directory.
    Dir(String),
    /// A regular file.
    File(String, Vec<u8>),
    /// A symlink and its target.
    Symlink(String, String),
    /// A hard link and its target.
    Hardlink(String, String),
    /// A whiteout deleting `path` of lower layers (written as `<dir>/.wh.<name>`).
    Whiteout(String),
    /// An opaque marker for a directory (`<dir>/.wh..wh..opq`).
    Opaque(String),
    /// A raw entry written byte for byte (hostile names such as `../x` or `/etc/x`).
    Raw {
        /// The name field as written.
        name: String,
        /// `b'0'` file, `b'1'` hard link, `b'2'` symlink, `b'5'` directory.
        kind: u8,
        /// Link target.
        link: String,
        /// Contents.
        data: Vec<u8>,
    },
}

/// Shorthands.
pub fn file(p: &str, data: &str) -> E {
    E::File(p.to_owned(), data.as_bytes().to_vec())
}
pub fn dir(p: &str) -> E {
    E::Dir(p.to_owned())
}
pub fn symlink(p: &str, t: &str) -> E {
    E::Symlink(p.to_owned(), t.to_owned())
}
pub fn hardlink(p: &str, t: &str) -> E {
    E::Hardlink(p.to_owned(), t.to_owned())
}

fn raw_header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    {
        let u = h.as_ustar_mut().expect("ustar");
        u.name[..name.len()].copy_from_slice(name);
        u.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_mode(if kind == b'5' { 0o755 } else { 0o644 });
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    h
}

/// An uncompressed layer tar.
pub fn layer_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let gnu = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    for e in entries {
        match e {
            E::Dir(p) => {
                let mut h = gnu(tar::EntryType::Directory, 0, 0o755);
                b.append_data(&mut h, p, io::empty()).unwrap();
            }
            E::File(p, d) => {
                let mut h = gnu(tar::EntryType::Regular, d.len() as u64, 0o644);
                b.append_data(&mut h, p, &d[..]).unwrap();
            }
            E::Symlink(p, t) => {
                let mut h = gnu(tar::EntryType::Symlink, 0, 0o777);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hardlink(p, t) => {
                let mut h = gnu(tar::EntryType::Link, 0, 0o644);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Whiteout(p) => {
                let (d, n) = p.rsplit_once('/').unwrap_or(("", p));
                let wh = if d.is_empty() {
                    format!(".wh.{n}")
                } else {
                    format!("{d}/.wh.{n}")
                };
                let mut h = gnu(tar::EntryType::Regular, 0, 0o644);
                b.append_data(&mut h, wh, io::empty()).unwrap();
            }
            E::Opaque(d) => {
                let mut h = gnu(tar::EntryType::Regular, 0, 0o644);
                b.append_data(&mut h, format!("{d}/.wh..wh..opq"), io::empty())
                    .unwrap();
            }
            E::Raw {
                name,
                kind,
                link,
                data,
            } => {
                let h = raw_header(name.as_bytes(), *kind, data.len() as u64, link.as_bytes());
                b.append(&h, &data[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// gzip.
pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Zstandard (one frame).
pub fn zstd(b: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(b, ruzstd::encoding::CompressionLevel::Fastest)
}

/// `sha256:<hex>`.
pub fn digest(b: &[u8]) -> String {
    let h = Sha256::digest(b);
    let mut s = String::from("sha256:");
    for x in h.iter() {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn hex_of(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap()
}

/// Layer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

impl Comp {
    fn apply(self, b: &[u8]) -> Vec<u8> {
        match self {
            Self::None => b.to_vec(),
            Self::Gzip => gzip(b),
            Self::Zstd => zstd(b),
        }
    }
    fn media_type(self) -> &'static str {
        match self {
            Self::None => "application/vnd.oci.image.layer.v1.tar",
            Self::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Self::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// An image to write.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// Repository tags (`quay.io/openstack.kolla/nova-api:2024.1-ubuntu-jammy`).
    pub tags: Vec<String>,
    /// Config labels.
    pub labels: Vec<(String, String)>,
    /// Uncompressed layer tars, bottom first.
    pub layers: Vec<Vec<u8>>,
    /// Override of the `diff_ids` written (to test mismatches).
    pub diff_ids: Option<Vec<String>>,
}

impl Image {
    /// The config blob.
    pub fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self
            .diff_ids
            .clone()
            .unwrap_or_else(|| self.layers.iter().map(|l| digest(l)).collect());
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-05-01T10:00:00Z",
            "config": {"Labels": labels, "Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [],
        }))
        .unwrap()
    }
}

fn add(b: &mut tar::Builder<impl Write>, path: &str, data: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    b.append_data(&mut h, path, data)
}

/// A `docker save` archive (layers as `<n>/layer.tar`, compressed with `comp`; `docker save`
/// itself writes them uncompressed).
pub fn write_docker_archive(w: impl Write, images: &[Image], comp: Comp) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    let mut manifest = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    for img in images {
        let config = img.config();
        let cfg_name = format!("{}.json", hex_of(&digest(&config)));
        let mut layer_paths = Vec::new();
        for l in &img.layers {
            let blob = comp.apply(l);
            let id = hex_of(&digest(&blob)).to_owned();
            let path = format!("{id}/layer.tar");
            if written.insert(path.clone()) {
                add(&mut b, &path, &blob)?;
            }
            layer_paths.push(path);
        }
        add(&mut b, &cfg_name, &config)?;
        manifest.push(serde_json::json!({
            "Config": cfg_name,
            "RepoTags": img.tags,
            "Layers": layer_paths,
        }));
    }
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    )?;
    b.into_inner()?.flush()
}

/// `docker save` archive bytes.
pub fn docker_archive(images: &[Image], comp: Comp) -> Vec<u8> {
    let mut v = Vec::new();
    write_docker_archive(&mut v, images, comp).unwrap();
    v
}

/// The files of an OCI image layout: (path, bytes).
pub fn oci_files(images: &[Image], comp: Comp) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index = Vec::new();
    let blob = |files: &mut Vec<(String, Vec<u8>)>, b: Vec<u8>| -> (String, usize) {
        let d = digest(&b);
        let path = format!("blobs/sha256/{}", hex_of(&d));
        let len = b.len();
        if !files.iter().any(|(p, _)| *p == path) {
            files.push((path, b));
        }
        (d, len)
    };
    for img in images {
        let (cd, cl) = blob(&mut files, img.config());
        let mut layers = Vec::new();
        for l in &img.layers {
            let (d, n) = blob(&mut files, comp.apply(l));
            layers
                .push(serde_json::json!({"mediaType": comp.media_type(), "digest": d, "size": n}));
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
            "layers": layers,
        }))
        .unwrap();
        let (md, ml) = blob(&mut files, manifest);
        let mut d = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md,
            "size": ml,
        });
        if let Some(t) = img.tags.first() {
            d["annotations"] = serde_json::json!({
                "io.containerd.image.name": t,
                "org.opencontainers.image.ref.name": t.rsplit_once(':').map_or("latest", |x| x.1),
            });
        }
        index.push(d);
    }
    files.push((
        "index.json".to_owned(),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": index})).unwrap(),
    ));
    files.push((
        "oci-layout".to_owned(),
        br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec(),
    ));
    files
}

/// An OCI image layout as a tar.
pub fn oci_layout_tar(images: &[Image], comp: Comp) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in oci_files(images, comp) {
        add(&mut b, &p, &d).unwrap();
    }
    b.into_inner().unwrap()
}

/// An OCI image layout as a directory.
pub fn write_oci_dir(dir: &Path, images: &[Image], comp: Comp) {
    for (p, d) in oci_files(images, comp) {
        let path = dir.join(p);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, d).unwrap();
    }
}

/// A dpkg status database listing `(name, version)` packages.
pub fn dpkg_status(pkgs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (n, v) in pkgs {
        s.push_str(&format!(
            "Package: {n}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {v}\nDescription: {n}\n\n"
        ));
    }
    s
}

/// Ubuntu 22.04's os-release.
pub const UBUNTU_JAMMY: &str = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n";

/// Core metadata of a Python distribution.
pub fn metadata(name: &str, version: &str) -> String {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name}\n\n")
}
