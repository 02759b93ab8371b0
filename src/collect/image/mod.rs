//! Container images: what runs inside kolla (and other) containers.
//!
//! Sources: an OCI image layout (directory or tar), a `docker save` archive (tar, optionally
//! gzip- or zstd-compressed), or a container runtime's API ([`runtime`]: Docker Engine or
//! Podman over a unix socket, exporting the images of running containers). Layers are streamed
//! and applied, whiteouts included, to an in-memory tree ([`memfs::MemFs`]) that keeps only the
//! files collectors read; the same collectors as for a node ([`super::all`]) then run over a
//! [`Root::mem`] of it.
//!
//! Bounds ([`Limits`]) stop decompression bombs and oversized images with an error naming the
//! image and layer; paths are normalised inside the image root and links are resolved inside
//! the tree, so nothing in an image can make the agent read or write outside it (nothing is
//! written at all).
//!
//! In the inventory, each image is an [`ImageRef`] (tags, id, digest, labels, created, base OS,
//! kolla series); its packages, services and problems join the node's with locations prefixed
//! `image:<reference>:` (`image:kolla/nova-api:2024.1-ubuntu-jammy:/var/lib/dpkg/status`).
//! See `docs/images.md`.

pub(crate) mod archive;
pub(crate) mod kolla;
pub(crate) mod layer;
pub(crate) mod memfs;
pub(crate) mod runtime;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

pub(crate) use archive::LoadedImage;
use layer::Budget;

use super::{CollectOptions, Root};
use crate::model::{
    ImageRef, Inventory, Location, Origin, Package, Problem, ProblemKind, ServiceInstance,
};

/// Size bounds for reading images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes of one layer.
    pub max_layer_bytes: u64,
    /// Decompressed bytes of all layers of one archive (or runtime export) together.
    pub max_total_bytes: u64,
    /// Tar entries of all layers together.
    pub max_entries: usize,
    /// Largest file whose contents are kept in memory (package databases).
    pub max_kept_file: u64,
    /// Contents kept in memory for all layers together.
    pub max_kept_total: u64,
    /// Largest JSON member (manifest, index, config).
    pub max_json: u64,
    /// Longest entry path or link target, in bytes (Linux's `PATH_MAX`); longer entries are
    /// skipped with a problem. A component is at most 255 bytes (`NAME_MAX`).
    pub max_path_bytes: usize,
    /// Deepest path of an image's tree, in components (after symlinks in its parents).
    pub max_depth: usize,
    /// Nodes (files, directories, links) of one image's tree.
    pub max_nodes: usize,
    /// Memory for the entry names of all layers held until they are applied: the bytes of each
    /// path plus 32 per component.
    pub max_name_bytes: u64,
}

impl Limits {
    /// The bounds of one image's tree.
    pub fn fs(&self) -> memfs::FsLimits {
        memfs::FsLimits {
            max_depth: self.max_depth,
            max_nodes: self.max_nodes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_layer_bytes: 8 << 30,
            max_total_bytes: 32 << 30,
            max_entries: 2_000_000,
            max_kept_file: 128 << 20,
            max_kept_total: 512 << 20,
            max_json: 8 << 20,
            max_path_bytes: 4096,
            max_depth: 256,
            max_nodes: 1_000_000,
            max_name_bytes: 256 << 20,
        }
    }
}

/// Why an image source could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The path could not be opened or read.
    #[error("{message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Neither layout was found.
    #[error("{what}: not an image: expected manifest.json (docker save) or index.json (OCI image layout), found neither")]
    NotAnImage {
        /// The source.
        what: String,
    },
    /// The container or its metadata is broken.
    #[error("{what}: {message}")]
    Malformed {
        /// What.
        what: String,
        /// How.
        message: String,
    },
    /// A bound was reached.
    #[error("{what}: {message} (size limit)")]
    TooLarge {
        /// What.
        what: String,
        /// How.
        message: String,
    },
    /// The container runtime API failed.
    #[error("{socket}: {message}")]
    Runtime {
        /// The socket.
        socket: String,
        /// What failed.
        message: String,
    },
}

/// Options for collecting images.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// Size bounds.
    pub limits: Limits,
}

/// One image's share of an inventory.
#[derive(Debug, Clone, Default)]
pub struct CollectedImage {
    /// Its identity and summary.
    pub image: ImageRef,
    /// Its packages (locations prefixed `image:<reference>:`).
    pub packages: Vec<Package>,
    /// Recognised services (`install` prefixed `image:<reference>:`).
    pub services: Vec<ServiceInstance>,
    /// Problems (locations prefixed).
    pub problems: Vec<Problem>,
}

/// Read every image of an OCI layout (directory or tar) or `docker save` archive (tar[.gz]).
pub fn load_path(path: &Path, limits: &Limits) -> Result<Vec<LoadedImage>, ImageError> {
    let source = path.display().to_string();
    let io = |e: std::io::Error| ImageError::Io {
        path: source.clone(),
        message: e.to_string(),
    };
    let mut budget = Budget::new(limits);
    if path.is_dir() {
        let mut blobs = archive::DirBlobs::new(path, limits, &mut budget);
        return archive::images(&mut blobs, &source, &[], limits);
    }
    let f = fs_err::File::open(path).map_err(io)?;
    load_reader(
        std::io::BufReader::with_capacity(256 * 1024, f),
        &source,
        limits,
    )
}

/// Read every image of an archive stream (`docker save` output, an OCI layout tar).
pub fn load_reader(
    r: impl Read,
    source: &str,
    limits: &Limits,
) -> Result<Vec<LoadedImage>, ImageError> {
    let mut budget = Budget::new(limits);
    let mut scan = archive::scan_tar(r, limits, &mut budget)?;
    let notes = std::mem::take(&mut scan.notes);
    archive::images(&mut scan, source, &notes, limits)
}

/// Labels kept on [`ImageRef::labels`].
const KEPT_LABELS: [&str; 11] = [
    "kolla_version",
    "name",
    "build-date",
    "build_date",
    "version",
    "release",
    "vendor",
    "maintainer",
    "summary",
    "description",
    "url",
];

fn kept_label(k: &str) -> bool {
    KEPT_LABELS.contains(&k)
        || k.starts_with("org.opencontainers.image.")
        || k.starts_with("org.label-schema.")
}

/// Run the collectors over a loaded image.
pub(crate) fn collect_loaded(img: &LoadedImage) -> CollectedImage {
    let reference = img.reference();
    let labels: BTreeMap<String, String> = img
        .config
        .labels
        .iter()
        .filter(|(k, _)| kept_label(k))
        .take(64)
        .map(|(k, v)| (k.clone(), v.chars().take(512).collect()))
        .collect();
    let mut out = CollectedImage {
        image: ImageRef {
            tags: img.tags.clone(),
            digest: img.digest.clone(),
            id: (!img.id.is_empty()).then(|| img.id.clone()),
            reference: reference.clone(),
            source: Some(img.source.clone()),
            created: img.config.created.clone(),
            architecture: img.config.architecture.clone(),
            labels,
            ..ImageRef::default()
        },
        problems: img.problems.clone(),
        ..CollectedImage::default()
    };
    if let Some(fs) = &img.fs {
        let root = Root::mem(Arc::clone(fs), format!("image:{reference}"));
        let inv = super::collect_with(&root, &CollectOptions::default(), &super::all());
        out.image.os = inv.os;
        out.packages = inv.packages;
        out.services = inv.services;
        for p in &mut out.packages {
            p.location = Location::in_image(&reference, std::mem::take(&mut p.location));
        }
        for s in &mut out.services {
            s.install.origin = Origin::Image {
                reference: reference.clone(),
            };
        }
        out.problems.extend(inv.problems.into_iter().map(|mut p| {
            p.location = Location::in_image(&reference, std::mem::take(&mut p.location));
            p
        }));
    }
    out.image.packages = out.packages.len();
    if kolla::is_kolla(&out.image.tags, &img.config.labels) {
        out.image.kolla = Some(kolla::describe(
            &out.image.tags,
            &img.config.labels,
            &out.services,
        ));
    }
    out
}

/// Read and collect every image at `path`.
pub fn collect_path(path: &Path, opts: &ImageOptions) -> Result<Vec<CollectedImage>, ImageError> {
    Ok(load_path(path, &opts.limits)?
        .iter()
        .map(collect_loaded)
        .collect())
}

/// Read and collect every image of an archive stream.
pub fn collect_reader(
    r: impl Read,
    source: &str,
    opts: &ImageOptions,
) -> Result<Vec<CollectedImage>, ImageError> {
    Ok(load_reader(r, source, &opts.limits)?
        .iter()
        .map(collect_loaded)
        .collect())
}

/// A source that could not be read at all, as an inventory problem.
pub(crate) fn error_problem(source: &str, e: &ImageError) -> Problem {
    let kind = match e {
        ImageError::TooLarge { .. } => ProblemKind::Skipped,
        ImageError::Io { .. } | ImageError::Runtime { .. } => ProblemKind::Unreadable,
        ImageError::NotAnImage { .. } | ImageError::Malformed { .. } => ProblemKind::Malformed,
    };
    Problem::new(Location::image(source), kind, e.to_string())
}

/// Add images to an inventory (an image seen twice, by id, is merged: containers and tags
/// joined) and keep its lists sorted as [`super::collect_with`] does.
pub(crate) fn add_to_inventory(inv: &mut Inventory, images: Vec<CollectedImage>) {
    for ci in images {
        let same = inv
            .images
            .iter_mut()
            .find(|i| i.id.is_some() && i.id == ci.image.id && i.reference == ci.image.reference);
        if let Some(existing) = same {
            for c in ci.image.containers {
                if !existing.containers.contains(&c) {
                    existing.containers.push(c);
                }
            }
            continue;
        }
        inv.images.push(ci.image);
        inv.packages.extend(ci.packages);
        inv.services.extend(ci.services);
        inv.problems.extend(ci.problems);
    }
    inv.packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.location).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.location,
        ))
    });
    inv.problems.sort();
    inv.problems.dedup();
    inv.services
        .sort_by(|a, b| (&a.deliverable, &a.install).cmp(&(&b.deliverable, &b.install)));
    inv.images.sort_by(|a, b| a.reference.cmp(&b.reference));
}

#[cfg(test)]
mod tests {
    use super::memfs::{normalize, FileNode, MemFs, Node};
    use super::*;

    fn shared(rel: &str) -> std::path::PathBuf {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/fixtures")
            .join(rel);
        assert!(p.exists(), "missing shared data {}", p.display());
        p
    }

    /// rpm databases of an image are read from memory: SQLite through a private temporary
    /// copy, Berkeley DB and ndb with positioned reads over the bytes.
    #[test]
    fn rpm_databases_in_memory() {
        for (fixture, node, want) in [
            (
                "rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
                "var/lib/rpm/rpmdb.sqlite",
                129,
            ),
            ("rpm/go-rpmdb/libuuid/Packages", "var/lib/rpm/Packages", 0),
            (
                "rpm/go-rpmdb/sle15-bci/Packages.db",
                "usr/lib/sysimage/rpm/Packages.db",
                0,
            ),
        ] {
            let bytes = fs_err::read(shared(fixture)).unwrap();
            assert!(crate::collect::READS.keeps(node));
            let mut fs = MemFs::new();
            fs.insert(
                &normalize(node).0,
                Node::File(FileNode {
                    size: bytes.len() as u64,
                    data: Some(Arc::from(bytes)),
                }),
            );
            let dir_root = tempfile::tempdir().unwrap();
            let host = dir_root.path().join(node);
            fs_err::create_dir_all(host.parent().unwrap()).unwrap();
            fs_err::copy(shared(fixture), &host).unwrap();
            let mem = super::super::collect_root(
                &Root::mem(Arc::new(fs), "image:t"),
                &CollectOptions::default(),
            );
            let dir =
                super::super::collect_root(&Root::new(dir_root.path()), &CollectOptions::default());
            assert!(mem.problems.is_empty(), "{fixture}: {:?}", mem.problems);
            let key = |i: &Inventory| -> Vec<String> {
                i.packages
                    .iter()
                    .map(|p| serde_json::to_string(p).unwrap())
                    .collect()
            };
            assert_eq!(key(&mem), key(&dir), "{fixture}");
            assert!(!mem.packages.is_empty(), "{fixture}");
            if want > 0 {
                assert_eq!(mem.packages.len(), want, "{fixture}");
            }
        }
    }
}
