//! Image containers: `docker save` archives (`manifest.json` → `<id>.json` config + layer tars)
//! and OCI image layouts (`index.json` → manifest → config + layer blobs), as a tar (optionally
//! gzip- or zstd-compressed, read in one streaming pass) or a directory.
//!
//! A tar is read front to back exactly once, because its members come in no useful order
//! (`docker save` writes `manifest.json` last) and it may be a stream (a runtime's export). Small
//! JSON members (manifests, configs, `index.json`) are kept; every other member is read as a
//! layer ([`parse_layer`]) and kept as a list of operations. Once the archive ends, each image's
//! layers are applied in manifest order to a fresh [`MemFs`]; a layer shared by several images of
//! one archive is read once.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::layer::{
    apply, drain, next_guarded, parse_layer, path_refused, sha256_digest, short, shown, Budget,
    Compression, HeaderGuard, LayerError, Limited, Notes, ParsedLayer,
};
use super::memfs::{normalize, MemFs};
use super::{ImageError, Limits};
use crate::collect::Root;
use crate::model::{Location, Problem, ProblemKind};

/// A layer as read: operations, or why it could not be read.
pub(crate) type LayerResult = Arc<Result<ParsedLayer, LayerError>>;

/// Where an image's blobs come from.
pub(crate) trait Blobs {
    /// A small member (JSON) by its path in the archive or directory.
    fn file(&mut self, path: &str) -> Option<Vec<u8>>;
    /// A layer by its path.
    fn layer(&mut self, path: &str) -> Option<LayerResult>;
}

/// What a single pass over an image tar kept.
#[derive(Debug, Default)]
pub(crate) struct TarScan {
    files: BTreeMap<String, Vec<u8>>,
    layers: BTreeMap<String, LayerResult>,
    links: BTreeMap<String, String>,
    /// Members skipped, as messages.
    pub(crate) notes: Vec<String>,
}

fn join(parts: &[String]) -> String {
    parts.join("/")
}

fn is_metadata_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "manifest.json" | "index.json" | "oci-layout" | "repositories" | "json" | "VERSION"
    ) || name.ends_with(".json")
}

/// Read an image tar (any compression) in one pass.
pub(crate) fn scan_tar(
    reader: impl Read,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<TarScan, ImageError> {
    let outer = super::layer::decompress(reader).map_err(|e| ImageError::Malformed {
        what: "image archive".to_owned(),
        message: e.to_string(),
    })?;
    // The archive itself is bounded too: its layers at most `max_total_bytes` as stored, plus
    // room for metadata.
    let outer_limit = limits.max_total_bytes.saturating_add(1 << 30);
    let mut outer = Limited::new(outer, outer_limit);
    let res = scan_members(&mut outer, limits, budget);
    if outer.exceeded {
        return Err(ImageError::TooLarge {
            what: "image archive".to_owned(),
            message: format!("more than {outer_limit} bytes after decompression"),
        });
    }
    res
}

fn scan_members(
    outer: &mut impl Read,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<TarScan, ImageError> {
    let mut scan = TarScan::default();
    let (guarded, armed) = HeaderGuard::new(outer);
    let mut ar = tar::Archive::new(guarded);
    let mut entries = ar.entries().map_err(|e| ImageError::Malformed {
        what: "image archive".to_owned(),
        message: short(&e),
    })?;
    let mut members = 0usize;
    let mut notes = Notes::default();
    // Metadata members kept in memory, all together.
    let mut files_left = limits.max_json.saturating_mul(8);
    let mut undrained = 0;
    while let Some(entry) = next_guarded(&mut entries, &armed, undrained) {
        let mut entry = entry.map_err(|e| ImageError::Malformed {
            what: "image archive".to_owned(),
            message: format!("not a readable tar stream: {}", short(&e)),
        })?;
        members += 1;
        if members > limits.max_entries {
            return Err(ImageError::TooLarge {
                what: "image archive".to_owned(),
                message: format!("more than {} members", limits.max_entries),
            });
        }
        'member: {
            let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let (parts, escaped) = normalize(&raw_path);
            if escaped {
                notes.push(format!(
                    "archive member `{}` climbs above the archive root; skipped",
                    shown(&raw_path)
                ));
                break 'member;
            }
            if let Some(why) = path_refused(raw_path.as_bytes(), &parts, limits) {
                notes.push(format!("archive member `{}`: {why}", shown(&raw_path)));
                break 'member;
            }
            if parts.is_empty() {
                break 'member;
            }
            if !budget.charge_name(&parts) {
                return Err(ImageError::TooLarge {
                    what: "image archive".to_owned(),
                    message: format!(
                        "member names exceed {} bytes together",
                        limits.max_name_bytes
                    ),
                });
            }
            let path = join(&parts);
            match entry.header().entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    let full = if entry.header().entry_type() == tar::EntryType::Symlink
                        && !target.starts_with('/')
                    {
                        format!("{}/{target}", join(&parts[..parts.len() - 1]))
                    } else {
                        target.clone()
                    };
                    let (t, esc) = normalize(&full);
                    if esc || path_refused(full.as_bytes(), &t, limits).is_some() {
                        notes.push(format!(
                        "archive member `{}` links to `{}` outside the archive or beyond the path limits; skipped",
                        shown(&path),
                        shown(&target)
                    ));
                        break 'member;
                    }
                    if !budget.charge_name(&t) {
                        return Err(ImageError::TooLarge {
                            what: "image archive".to_owned(),
                            message: format!(
                                "member names exceed {} bytes together",
                                limits.max_name_bytes
                            ),
                        });
                    }
                    scan.links.insert(path, join(&t));
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    let small = size <= limits.max_json;
                    if is_metadata_name(&path) {
                        if small && size <= files_left {
                            files_left -= size;
                            let mut v = Vec::new();
                            entry
                                .read_to_end(&mut v)
                                .map_err(|e| archive_read_error(&path, &e))?;
                            scan.files.insert(path, v);
                        } else {
                            notes.push(format!(
                            "archive member `{}`: {size} bytes exceeds the {}-byte limit for metadata (or the {}-byte limit for all of it); skipped",
                            shown(&path),
                            limits.max_json,
                            limits.max_json.saturating_mul(8)
                        ));
                        }
                        break 'member;
                    }
                    let mut head = Vec::new();
                    (&mut entry)
                        .take(512)
                        .read_to_end(&mut head)
                        .map_err(|e| archive_read_error(&path, &e))?;
                    let json = head
                        .iter()
                        .find(|b| !b.is_ascii_whitespace())
                        .is_some_and(|b| matches!(b, b'{' | b'['));
                    if json && small && size <= files_left {
                        files_left -= size;
                        entry
                            .read_to_end(&mut head)
                            .map_err(|e| archive_read_error(&path, &e))?;
                        scan.files.insert(path, head);
                        break 'member;
                    }
                    let res = parse_layer(io::Cursor::new(head).chain(&mut entry), limits, budget);
                    scan.layers.insert(path, Arc::new(res));
                }
                _ => {}
            }
        }
        // Drained outside the guard: the tar reader then reads headers only.
        undrained = drain(&mut entry).map_err(|e| ImageError::Malformed {
            what: "image archive".to_owned(),
            message: format!("not a readable tar stream: {}", short(&e)),
        })?;
    }
    scan.notes = notes.finish();
    Ok(scan)
}

fn archive_read_error(path: &str, e: &io::Error) -> ImageError {
    ImageError::Malformed {
        what: "image archive".to_owned(),
        message: format!("reading member `{path}`: {}", short(e)),
    }
}

impl TarScan {
    /// Follow archive-level links (`<id>/layer.tar` → `../<digest>.tar`).
    fn resolve(&self, path: &str) -> String {
        let mut p = join(&normalize(path).0);
        for _ in 0..40 {
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        p
    }
}

impl Blobs for TarScan {
    fn file(&mut self, path: &str) -> Option<Vec<u8>> {
        let p = self.resolve(path);
        self.files.get(&p).cloned()
    }

    fn layer(&mut self, path: &str) -> Option<LayerResult> {
        let p = self.resolve(path);
        self.layers.get(&p).cloned()
    }
}

/// Blobs of an image directory (an OCI layout, or an unpacked `docker save`), read through a
/// [`Root`] so that symlinks inside it stay inside it.
pub(crate) struct DirBlobs<'a> {
    root: Root,
    limits: &'a Limits,
    budget: &'a mut Budget,
    cache: BTreeMap<String, LayerResult>,
}

impl<'a> DirBlobs<'a> {
    pub(crate) fn new(dir: &Path, limits: &'a Limits, budget: &'a mut Budget) -> Self {
        Self {
            root: Root::new(dir),
            limits,
            budget,
            cache: BTreeMap::new(),
        }
    }
}

impl Blobs for DirBlobs<'_> {
    fn file(&mut self, path: &str) -> Option<Vec<u8>> {
        let host = self.root.host_path(path)?;
        let f = crate::collect::root::open_regular(&host, path).ok()?;
        let mut v = Vec::new();
        f.take(self.limits.max_json + 1).read_to_end(&mut v).ok()?;
        (v.len() as u64 <= self.limits.max_json).then_some(v)
    }

    fn layer(&mut self, path: &str) -> Option<LayerResult> {
        if let Some(l) = self.cache.get(path) {
            return Some(l.clone());
        }
        let host = self.root.host_path(path)?;
        if !host.is_file() {
            return None;
        }
        let f = crate::collect::root::open_regular(&host, path).ok()?;
        let res = Arc::new(parse_layer(
            io::BufReader::with_capacity(256 * 1024, f),
            self.limits,
            self.budget,
        ));
        self.cache.insert(path.to_owned(), res.clone());
        Some(res)
    }
}

/// An image's configuration, as far as the inventory needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `architecture`.
    pub architecture: Option<String>,
    /// `os`.
    pub os: Option<String>,
    /// `created` (RFC 3339).
    pub created: Option<String>,
    /// `config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// `rootfs.diff_ids`.
    pub diff_ids: Vec<String>,
}

/// Parse a config blob leniently (fields of the wrong type are left out).
pub(crate) fn parse_config(bytes: &[u8]) -> Result<ImageConfig, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let mut c = ImageConfig {
        architecture: s(v.get("architecture")),
        os: s(v.get("os")),
        created: s(v.get("created")),
        ..ImageConfig::default()
    };
    if let Some(labels) = v
        .get("config")
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
    {
        for (k, val) in labels {
            if let Some(t) = val.as_str() {
                c.labels.insert(k.clone(), t.to_owned());
            }
        }
    }
    if let Some(ids) = v
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(Value::as_array)
    {
        c.diff_ids = ids
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect();
    }
    Ok(c)
}

/// One layer of an image as the inventory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Path of the blob in the archive or directory.
    pub path: String,
    /// Digest of the blob as stored.
    pub blob_digest: Option<String>,
    /// Digest of the uncompressed tar.
    pub diff_id: Option<String>,
    /// Compression found.
    pub compression: Option<Compression>,
    /// Decompressed size.
    pub bytes: u64,
    /// Entries.
    pub entries: usize,
}

/// An image read from an archive or directory, its filesystem in memory.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// Repository tags (`quay.io/openstack.kolla/nova-api:2024.1-ubuntu-jammy`).
    pub tags: Vec<String>,
    /// The image id: `sha256:` of the config blob.
    pub id: String,
    /// The manifest digest, when the layout has a manifest.
    pub digest: Option<String>,
    /// The configuration.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// The filesystem; `None` when a layer could not be read (then nothing in it is trusted).
    pub fs: Option<Arc<MemFs>>,
    /// What went wrong, located at `image:<reference>`.
    pub problems: Vec<Problem>,
    /// Where it was read from.
    pub source: String,
}

impl LoadedImage {
    /// The name used in inventory locations: the first tag, else the id.
    pub fn reference(&self) -> String {
        self.tags
            .first()
            .cloned()
            .unwrap_or_else(|| self.id.clone())
    }

    /// Replace the tags (a runtime knows them when its export does not carry them), moving the
    /// problems' locations to the new reference.
    pub fn set_tags(&mut self, tags: Vec<String>) {
        let old = Location::image(&self.reference());
        self.tags = tags;
        let new = Location::image(&self.reference());
        for p in &mut self.problems {
            if p.location.origin == old.origin && p.location.path == old.path {
                p.location.origin = new.origin.clone();
                p.location.path.clone_from(&new.path);
            }
        }
    }
}

/// `sha256:<hex>` → `blobs/sha256/<hex>`, refusing anything that is not a plain digest.
pub(crate) fn blob_path(digest: &str) -> Option<String> {
    let (alg, enc) = digest.split_once(':')?;
    let alg_ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let enc_ok = !enc.is_empty()
        && enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    (alg_ok && enc_ok).then(|| format!("blobs/{alg}/{enc}"))
}

/// The `sha256:<hex>` a path names (`blobs/sha256/<hex>`, `<hex>.json`, `<hex>.tar`), if any.
fn digest_in_path(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let stem = name
        .strip_suffix(".json")
        .or_else(|| name.strip_suffix(".tar"))
        .unwrap_or(name);
    let is_hex = stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit());
    let in_blobs = path.contains("blobs/sha256/") || path.ends_with(".json");
    (is_hex && (in_blobs || name.ends_with(".tar"))).then(|| format!("sha256:{stem}"))
}

/// How one image is found in its container.
struct Plan {
    tags: Vec<String>,
    digest: Option<String>,
    config_path: String,
    /// Digest the config blob must have, when the layout says.
    config_digest: Option<String>,
    /// (path, expected blob digest, media type).
    layers: Vec<(String, Option<String>, Option<String>)>,
    problems: Vec<String>,
}

/// Every image a container (scan or directory) holds.
pub(crate) fn images(
    blobs: &mut dyn Blobs,
    source: &str,
    notes: &[String],
    limits: &Limits,
) -> Result<Vec<LoadedImage>, ImageError> {
    let plans = if let Some(m) = blobs.file("manifest.json") {
        docker_plans(&m)?
    } else if let Some(idx) = blobs.file("index.json") {
        oci_plans(blobs, &idx)?
    } else {
        return Err(ImageError::NotAnImage {
            what: source.to_owned(),
        });
    };
    let mut out = Vec::new();
    for plan in plans {
        out.push(load(blobs, plan, source, notes, limits));
    }
    Ok(out)
}

fn docker_plans(bytes: &[u8]) -> Result<Vec<Plan>, ImageError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ImageError::Malformed {
        what: "manifest.json".to_owned(),
        message: e.to_string(),
    })?;
    let Some(list) = v.as_array() else {
        return Err(ImageError::Malformed {
            what: "manifest.json".to_owned(),
            message: "expected a list of images".to_owned(),
        });
    };
    let mut plans = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let Some(config) = m.get("Config").and_then(Value::as_str) else {
            return Err(ImageError::Malformed {
                what: "manifest.json".to_owned(),
                message: format!("image {i} has no `Config`"),
            });
        };
        let tags = m
            .get("RepoTags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let layers = m
            .get("Layers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str())
                    .map(|p| {
                        (
                            p.to_owned(),
                            digest_in_path(p).filter(|_| p.starts_with("blobs/")),
                            None,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        plans.push(Plan {
            tags,
            digest: None,
            config_digest: digest_in_path(config),
            config_path: config.to_owned(),
            layers,
            problems: Vec::new(),
        });
    }
    Ok(plans)
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        a => a,
    }
}

fn oci_plans(blobs: &mut dyn Blobs, index: &[u8]) -> Result<Vec<Plan>, ImageError> {
    let idx: Value = serde_json::from_slice(index).map_err(|e| ImageError::Malformed {
        what: "index.json".to_owned(),
        message: e.to_string(),
    })?;
    let Some(list) = idx.get("manifests").and_then(Value::as_array) else {
        return Err(ImageError::Malformed {
            what: "index.json".to_owned(),
            message: "expected `manifests`".to_owned(),
        });
    };
    let mut plans = Vec::new();
    for d in list {
        let ann = |k: &str| {
            d.get("annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let tags: Vec<String> = ann("io.containerd.image.name")
            .or_else(|| ann("org.opencontainers.image.ref.name"))
            .into_iter()
            .collect();
        let mut problems = Vec::new();
        let Some(mut digest) = d.get("digest").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let mut media = d
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // A (possibly nested) index: pick this machine's platform.
        let mut manifest = None;
        for _ in 0..4 {
            let Some(path) = blob_path(&digest) else {
                break;
            };
            let Some(bytes) = blobs.file(&path) else {
                break;
            };
            let have = sha256_digest(&bytes);
            if digest.starts_with("sha256:") && have != digest {
                problems.push(format!(
                    "blob {path}: expected digest {digest}, found {have}"
                ));
            }
            let v: Value = match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{path}: not JSON: {e}"));
                    break;
                }
            };
            let mt = v
                .get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or(&media)
                .to_owned();
            if INDEX_TYPES.contains(&mt.as_str()) || v.get("manifests").is_some() {
                let subs = v
                    .get("manifests")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let plat = |s: &Value, k: &str| {
                    s.get("platform")
                        .and_then(|p| p.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                let pick = subs
                    .iter()
                    .find(|s| {
                        plat(s, "os") == "linux" && plat(s, "architecture") == host_platform()
                    })
                    .or_else(|| subs.iter().find(|s| plat(s, "os") != "unknown"));
                match pick.and_then(|s| s.get("digest").and_then(Value::as_str)) {
                    Some(dg) => {
                        digest = dg.to_owned();
                        media = pick
                            .and_then(|s| s.get("mediaType"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned();
                    }
                    None => {
                        problems.push(format!("{path}: image index lists no usable manifest"));
                        break;
                    }
                }
                continue;
            }
            manifest = Some(v);
            break;
        }
        let Some(m) = manifest else {
            plans.push(Plan {
                tags,
                digest: Some(digest.clone()),
                config_path: String::new(),
                config_digest: None,
                layers: Vec::new(),
                problems: if problems.is_empty() {
                    vec![format!("manifest {digest} not found in the layout")]
                } else {
                    problems
                },
            });
            continue;
        };
        let config_digest = m
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let config_path = config_digest
            .as_deref()
            .and_then(blob_path)
            .unwrap_or_default();
        let mut layers = Vec::new();
        for l in m
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let dg = l.get("digest").and_then(Value::as_str).unwrap_or("");
            let mt = l
                .get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match blob_path(dg) {
                Some(p) => layers.push((p, Some(dg.to_owned()), mt)),
                None => problems.push(format!("layer digest `{dg}` is not a digest")),
            }
        }
        plans.push(Plan {
            tags,
            digest: Some(digest),
            config_path,
            config_digest,
            layers,
            problems,
        });
    }
    Ok(plans)
}

/// The image's id and configuration from its config blob (`None`: not found, the image is not
/// inventoried), with the problems of a digest mismatch or a config that does not parse.
fn read_config(
    config: Option<&[u8]>,
    config_path: &str,
    config_digest: Option<&str>,
    source: &str,
    img: &mut LoadedImage,
    msgs: &mut Vec<(ProblemKind, String)>,
) {
    match config {
        Some(bytes) => {
            img.id = sha256_digest(bytes);
            if let Some(want) = config_digest {
                if want.starts_with("sha256:") && *want != img.id {
                    msgs.push((
                        ProblemKind::Malformed,
                        format!(
                            "config {config_path}: expected digest {want}, found {}",
                            img.id
                        ),
                    ));
                }
            }
            match parse_config(bytes) {
                Ok(c) => img.config = c,
                Err(e) => msgs.push((ProblemKind::Malformed, format!("config {config_path}: {e}"))),
            }
        }
        None => {
            img.id = config_digest.map(str::to_owned).unwrap_or_default();
            msgs.push((
                ProblemKind::Unreadable,
                format!(
                    "config `{config_path}` not found in {source}; the image is not inventoried"
                ),
            ));
        }
    }
}

/// A layer's blob checked against what the manifest (digest, media type) and the config
/// (diff_id) say of it.
fn check_layer(
    label: &str,
    want: Option<&str>,
    media: Option<&str>,
    l: &ParsedLayer,
    diff_id: Option<&str>,
    msgs: &mut Vec<(ProblemKind, String)>,
) {
    if let Some(w) = want {
        if w.starts_with("sha256:") && *w != l.blob_digest {
            msgs.push((
                ProblemKind::Malformed,
                format!("{label}: expected blob digest {w}, found {}", l.blob_digest),
            ));
        }
    }
    if let Some(mt) = media.and_then(Compression::from_media_type) {
        if mt != l.compression {
            msgs.push((
                ProblemKind::Malformed,
                format!(
                    "{label}: media type says {}, the blob is {}",
                    mt.as_str(),
                    l.compression.as_str()
                ),
            ));
        }
    }
    if let Some(d) = diff_id {
        if d.starts_with("sha256:") && *d != l.diff_id {
            msgs.push((
                ProblemKind::Malformed,
                format!(
                    "{label}: config diff_id {d}, the layer hashes to {}",
                    l.diff_id
                ),
            ));
        }
    }
}

fn load(
    blobs: &mut dyn Blobs,
    plan: Plan,
    source: &str,
    notes: &[String],
    limits: &Limits,
) -> LoadedImage {
    let mut img = LoadedImage {
        tags: plan.tags,
        id: String::new(),
        digest: plan.digest,
        config: ImageConfig::default(),
        layers: Vec::new(),
        fs: None,
        problems: Vec::new(),
        source: source.to_owned(),
    };
    let config = (!plan.config_path.is_empty())
        .then(|| blobs.file(&plan.config_path))
        .flatten();
    let mut msgs: Vec<(ProblemKind, String)> = plan
        .problems
        .into_iter()
        .map(|m| (ProblemKind::Malformed, m))
        .collect();
    read_config(
        config.as_deref(),
        &plan.config_path,
        plan.config_digest.as_deref(),
        source,
        &mut img,
        &mut msgs,
    );
    if img.id.is_empty() {
        img.id = img.digest.clone().unwrap_or_else(|| source.to_owned());
    }
    for n in notes {
        msgs.push((ProblemKind::Skipped, n.clone()));
    }
    let reference = img.reference();
    let n = plan.layers.len();
    let mut fs = MemFs::with_limits(limits.fs());
    let mut complete = config.is_some();
    if complete && plan.layers.is_empty() {
        msgs.push((
            ProblemKind::Malformed,
            "the manifest lists no layers".to_owned(),
        ));
    }
    for (i, (path, want, media)) in plan.layers.iter().enumerate() {
        let label = format!("layer {}/{n} ({path})", i + 1);
        if !complete {
            break;
        }
        if let Some(mt) = media {
            if Compression::from_media_type(mt).is_none() {
                msgs.push((
                    ProblemKind::Skipped,
                    format!(
                        "{label}: media type `{mt}` is not supported; the image is not inventoried"
                    ),
                ));
                complete = false;
                break;
            }
        }
        let Some(res) = blobs.layer(path) else {
            msgs.push((
                ProblemKind::Unreadable,
                format!("{label}: not found in {source}; the image is not inventoried"),
            ));
            complete = false;
            break;
        };
        match res.as_ref() {
            Err(e) => {
                let kind = match e {
                    LayerError::TooLarge { .. } => ProblemKind::Skipped,
                    _ => ProblemKind::Malformed,
                };
                msgs.push((
                    kind,
                    format!("image `{reference}` {label}: {e}; the image is not inventoried"),
                ));
                complete = false;
            }
            Ok(l) => {
                check_layer(
                    &label,
                    want.as_deref(),
                    media.as_deref(),
                    l,
                    img.config.diff_ids.get(i).map(String::as_str),
                    &mut msgs,
                );
                for note in &l.notes {
                    msgs.push((ProblemKind::Skipped, format!("{label}: {note}")));
                }
                for note in apply(&mut fs, l) {
                    msgs.push((ProblemKind::Skipped, format!("{label}: {note}")));
                }
                img.layers.push(LayerInfo {
                    path: path.clone(),
                    blob_digest: Some(l.blob_digest.clone()),
                    diff_id: Some(l.diff_id.clone()),
                    compression: Some(l.compression),
                    bytes: l.bytes,
                    entries: l.entries,
                });
            }
        }
    }
    if complete && !img.config.diff_ids.is_empty() && img.config.diff_ids.len() != n {
        msgs.push((
            ProblemKind::Malformed,
            format!(
                "config lists {} diff_ids, the manifest {n} layers",
                img.config.diff_ids.len()
            ),
        ));
    }
    if complete {
        img.fs = Some(Arc::new(fs));
    }
    let loc = Location::image(&reference);
    img.problems = msgs
        .into_iter()
        .map(|(k, m)| Problem::new(loc.clone(), k, m))
        .collect();
    img
}
