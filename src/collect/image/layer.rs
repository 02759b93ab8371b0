//! One layer: a tar stream (uncompressed, gzip or zstd) read once, front to back, into a list of
//! operations on a [`MemFs`], never written to disk.
//!
//! While it streams, the layer is hashed twice (the blob as stored, for the manifest digest; the
//! tar after decompression, for the config's `diff_id`) and bounded: decompressed bytes (per layer
//! and for the whole archive), entries, and the bytes of kept files ([`Limits`]).
//!
//! Entry paths are normalised inside the image root: a leading `/` is dropped, `.` and inner `..`
//! are applied, and an entry whose `..` climbs above the root is skipped and reported (as Docker
//! refuses such a layer). Symlink targets are kept as written and only ever resolved inside the
//! [`MemFs`]; hard-link targets are normalised the same way and must name a file already in the
//! image. Whiteouts (`.wh.<name>`) delete from lower layers and `.wh..wh..opq` empties a
//! directory of lower layers' entries, before the layer's own entries are added.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use crate::util::hex;

use sha2::{Digest, Sha256};

use super::memfs::{node_path, normalize, FileNode, MemFs, Node};
use super::Limits;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// Zstandard (one or more frames).
    Zstd,
}

impl Compression {
    /// Guess from the first bytes.
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if head.starts_with(&ZSTD_MAGIC.to_le_bytes()) {
            Self::Zstd
        } else {
            Self::None
        }
    }

    /// From an OCI / Docker layer media type; `None` when it is not a layer type understood here.
    pub fn from_media_type(mt: &str) -> Option<Self> {
        Some(match mt {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Self::None,
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Self::Gzip,
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Self::Zstd,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "uncompressed",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }
}

/// Why a layer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerError {
    /// A size bound was reached (a decompression bomb, or an image larger than allowed).
    TooLarge {
        /// What was bounded.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// The compressed stream is broken.
    Decompress(String),
    /// The tar stream is broken.
    Malformed(String),
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { what, limit } => write!(
                f,
                "{what} exceed the limit of {limit} (a decompression bomb or an oversized image); layer not read"
            ),
            Self::Decompress(m) => write!(f, "decompression failed: {m}"),
            Self::Malformed(m) => write!(f, "not a readable tar stream: {m}"),
        }
    }
}

impl std::error::Error for LayerError {}

/// One change a layer makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `.wh..wh..opq`: hide lower layers' entries of this directory.
    Opaque(Vec<String>),
    /// `.wh.<name>`: delete this path of lower layers.
    Whiteout(Vec<String>),
    /// Add (or replace) a node.
    Put(Vec<String>, Node),
    /// A hard link to a file already in the image.
    Hardlink(Vec<String>, Vec<String>),
}

/// A layer read into memory.
#[derive(Debug, Clone)]
pub struct ParsedLayer {
    /// The changes, in archive order.
    pub ops: Vec<Op>,
    /// `sha256:` of the blob as stored.
    pub blob_digest: String,
    /// `sha256:` of the uncompressed tar (the config's `diff_id`).
    pub diff_id: String,
    /// The compression found.
    pub compression: Compression,
    /// Entries read.
    pub entries: usize,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Entries skipped or not kept, as messages (`<path>: why`).
    pub notes: Vec<String>,
}

/// What is left of the archive-wide bounds.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Decompressed bytes left for all layers.
    pub total_bytes: u64,
    /// Entries left for all layers.
    pub entries: usize,
    /// Kept file bytes left.
    pub kept_bytes: u64,
    /// Memory for entry names left ([`Limits::max_name_bytes`]).
    pub name_bytes: u64,
}

impl Budget {
    /// The full budget of `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            total_bytes: limits.max_total_bytes,
            entries: limits.max_entries,
            kept_bytes: limits.max_kept_total,
            name_bytes: limits.max_name_bytes,
        }
    }

    /// Charge the names of one entry; `false` when the budget is spent.
    pub(crate) fn charge_name(&mut self, parts: &[String]) -> bool {
        let cost = parts
            .iter()
            .map(|c| c.len() as u64 + 32)
            .sum::<u64>()
            .max(32);
        match self.name_bytes.checked_sub(cost) {
            Some(left) => {
                self.name_bytes = left;
                true
            }
            None => false,
        }
    }
}

/// Largest tar header extension (PAX records, GNU long names and links) read for one member:
/// the tar reader holds them in memory whole.
pub(crate) const MAX_HEADER_EXTENSION: u64 = 1 << 20;

/// Longest name of one path component (Linux's `NAME_MAX`).
pub(crate) const MAX_COMPONENT_BYTES: usize = 255;

/// Messages kept per layer (or archive) about skipped entries; the rest are counted.
pub(crate) const MAX_NOTES: usize = 100;

/// A reader that bounds what the tar reader consumes while it looks for the next member
/// (headers and their extensions, which it buffers whole), armed around each `next()`.
pub(crate) struct HeaderGuard<R> {
    inner: R,
    /// Bytes left while armed; `None` while a member's data is read.
    left: std::rc::Rc<std::cell::Cell<Option<u64>>>,
}

impl<R> HeaderGuard<R> {
    pub(crate) fn new(inner: R) -> (Self, std::rc::Rc<std::cell::Cell<Option<u64>>>) {
        let left = std::rc::Rc::new(std::cell::Cell::new(None));
        (
            Self {
                inner,
                left: left.clone(),
            },
            left,
        )
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(left) = self.left.get() {
            match left.checked_sub(n as u64) {
                Some(l) => self.left.set(Some(l)),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a member's tar header extensions (PAX records, GNU long names) exceed {MAX_HEADER_EXTENSION} bytes (name limit)"
                        ),
                    ))
                }
            }
        }
        Ok(n)
    }
}

/// The next member of `entries`, with what the tar reader may buffer for it bounded.
pub(crate) fn next_guarded<'a, R: Read>(
    entries: &mut tar::Entries<'a, R>,
    armed: &std::cell::Cell<Option<u64>>,
    undrained: u64,
) -> Option<io::Result<tar::Entry<'a, R>>> {
    // The tar reader skips what is left of the previous member inside `next()`: its padding
    // once the caller drained it (`undrained` bytes when it could not), plus headers and their
    // extensions.
    armed.set(Some(
        MAX_HEADER_EXTENSION
            .saturating_add(8 * 1024)
            .saturating_add(undrained),
    ));
    let next = entries.next();
    armed.set(None);
    next
}

/// Drain what is left of a member so that the next `next()` reads headers only; returns the
/// stored bytes left undrained. A GNU sparse member is not drained: reading it yields its
/// logical size (holes as zeros), which may be far larger than what the archive stores, so the
/// tar reader skips its stored bytes instead.
pub(crate) fn drain<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<u64> {
    if entry.header().entry_type() == tar::EntryType::GNUSparse {
        let stored = entry.header().entry_size().unwrap_or(0);
        return Ok(stored.saturating_add(511) / 512 * 512);
    }
    io::copy(entry, &mut io::sink())?;
    Ok(0)
}

/// Bounded notes: the first [`MAX_NOTES`] kept, the rest counted.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub(crate) kept: Vec<String>,
    pub(crate) more: usize,
}

impl Notes {
    pub(crate) fn push(&mut self, m: String) {
        if self.kept.len() < MAX_NOTES {
            self.kept.push(m);
        } else {
            self.more += 1;
        }
    }

    pub(crate) fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.kept.push(format!(
                "… and {} more entries skipped for the same kinds of reasons",
                self.more
            ));
        }
        self.kept
    }
}

/// A path for a message: at most 200 characters, controls shown as `?`.
pub(crate) fn shown(p: &str) -> String {
    let mut out: String = p
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if p.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

/// Why an entry's path is refused before anything is built from it, if it is.
pub(crate) fn path_refused(raw: &[u8], parts: &[String], limits: &Limits) -> Option<String> {
    if raw.len() > limits.max_path_bytes {
        return Some(format!(
            "path of {} bytes exceeds the {}-byte limit; skipped",
            raw.len(),
            limits.max_path_bytes
        ));
    }
    if parts.len() > limits.max_depth {
        return Some(format!(
            "path of {} components exceeds the depth limit of {}; skipped",
            parts.len(),
            limits.max_depth
        ));
    }
    if parts.iter().any(|c| c.len() > MAX_COMPONENT_BYTES) {
        return Some(format!(
            "a path component exceeds {MAX_COMPONENT_BYTES} bytes; skipped"
        ));
    }
    None
}

/// The zstd frame magic number.
const ZSTD_MAGIC: u32 = 0xFD2F_B528;

/// Largest zstd window accepted (as `zstd`'s default decompression limit, `--long=27`).
pub(crate) const MAX_ZSTD_WINDOW: u64 = 1 << 27;

/// A reader that hashes what passes through.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    /// Hash at all (an uncompressed blob is hashed once, as its `diff_id`).
    on: bool,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            on: true,
        }
    }

    pub(crate) fn digest(self) -> String {
        format!("sha256:{}", hex(&self.hasher.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.on {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// An error message on one line and at most 200 characters (the tar crate quotes whole
/// headers when a member is not tar).
pub(crate) fn short(e: &impl fmt::Display) -> String {
    let s = e.to_string();
    let line = s.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// `sha256:<hex>` of bytes.
pub(crate) fn sha256_digest(b: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(b)))
}

/// A reader that counts bytes and fails once more than `limit` passed.
pub(crate) struct Limited<R> {
    inner: R,
    count: u64,
    limit: u64,
    /// The limit was reached.
    pub(crate) exceeded: bool,
}

impl<R> Limited<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            count: 0,
            limit,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.exceeded {
            return Err(io::Error::other("size limit exceeded"));
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        Ok(n)
    }
}

/// A reader with some bytes put back in front.
struct Prefixed<R> {
    prefix: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Read up to `n` bytes (fewer only at the end of the stream).
fn read_up_to(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut v = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut v)?;
    Ok(v)
}

enum ZState<R: Read> {
    Between(Prefixed<R>),
    In(Box<ruzstd::decoding::StreamingDecoder<Prefixed<R>, ruzstd::decoding::FrameDecoder>>),
    Done,
}

/// A Zstandard stream of one or more frames (skippable frames skipped), each frame's window
/// checked against [`MAX_ZSTD_WINDOW`] before anything is allocated for it.
struct ZstdReader<R: Read> {
    state: ZState<R>,
}

impl<R: Read> ZstdReader<R> {
    fn new(inner: R) -> Self {
        Self {
            state: ZState::Between(Prefixed {
                prefix: Vec::new(),
                pos: 0,
                inner,
            }),
        }
    }
}

fn zerr(m: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.into())
}

/// Check a frame header (after the magic) and return its bytes; `src` is left after them.
fn zstd_frame_header(src: &mut impl Read) -> io::Result<Vec<u8>> {
    let fhd = read_up_to(src, 1)?;
    let Some(&fhd_b) = fhd.first() else {
        return Err(zerr("zstd frame header truncated"));
    };
    let fcs_flag = fhd_b >> 6;
    let single = (fhd_b >> 5) & 1 == 1;
    let did_size = [0usize, 1, 2, 4][usize::from(fhd_b & 3)];
    let fcs_size = match fcs_flag {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let rest_len = usize::from(!single) + did_size + fcs_size;
    let rest = read_up_to(src, rest_len)?;
    if rest.len() < rest_len {
        return Err(zerr("zstd frame header truncated"));
    }
    let mut at = 0usize;
    let window = if single {
        None
    } else {
        let wd = rest[0];
        at = 1;
        let log = 10 + u32::from(wd >> 3);
        let base = 1u64 << log.min(63);
        Some(base + (base / 8) * u64::from(wd & 7))
    };
    let did = &rest[at..at + did_size];
    if did.iter().any(|&b| b != 0) {
        return Err(zerr(
            "zstd frame needs a dictionary, which image layers never use",
        ));
    }
    at += did_size;
    let fcs_bytes = &rest[at..at + fcs_size];
    let mut fcs = 0u64;
    for (i, b) in fcs_bytes.iter().enumerate() {
        fcs |= u64::from(*b) << (8 * i);
    }
    if fcs_size == 2 {
        fcs += 256;
    }
    let window = window.unwrap_or(fcs);
    if window > MAX_ZSTD_WINDOW {
        return Err(zerr(format!(
            "zstd window of {window} bytes exceeds the {MAX_ZSTD_WINDOW}-byte limit"
        )));
    }
    let mut h = Vec::with_capacity(5 + rest_len);
    h.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
    h.push(fhd_b);
    h.extend_from_slice(&rest);
    Ok(h)
}

impl<R: Read> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, ZState::Done) {
                ZState::Done => return Ok(0),
                ZState::In(mut d) => {
                    let n = d.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        self.state = ZState::In(d);
                        return Ok(n);
                    }
                    self.state = ZState::Between(d.into_inner());
                }
                ZState::Between(mut src) => {
                    let magic = read_up_to(&mut src, 4)?;
                    if magic.is_empty() {
                        return Ok(0);
                    }
                    if magic.len() < 4 {
                        return Err(zerr("trailing bytes after the last zstd frame"));
                    }
                    let m = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
                    if m & 0xFFFF_FFF0 == 0x184D_2A50 {
                        let len = read_up_to(&mut src, 4)?;
                        if len.len() < 4 {
                            return Err(zerr("zstd skippable frame truncated"));
                        }
                        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
                        let skipped =
                            io::copy(&mut (&mut src).take(u64::from(len)), &mut io::sink())?;
                        if skipped < u64::from(len) {
                            return Err(zerr("zstd skippable frame truncated"));
                        }
                        self.state = ZState::Between(src);
                        continue;
                    }
                    if m != ZSTD_MAGIC {
                        return Err(zerr(format!("not a zstd frame (magic {m:#010x})")));
                    }
                    let header = zstd_frame_header(&mut src)?;
                    src.prefix = header;
                    src.pos = 0;
                    let d = ruzstd::decoding::StreamingDecoder::new(src)
                        .map_err(|e| zerr(format!("zstd: {e}")))?;
                    self.state = ZState::In(Box::new(d));
                }
            }
        }
    }
}

/// A reader decompressing `r` according to its first bytes (gzip, zstd, or none).
pub(crate) fn decompress<'a>(r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut r = r;
    let head = read_up_to(&mut r, 4)?;
    let c = Compression::sniff(&head);
    let p = Prefixed {
        prefix: head,
        pos: 0,
        inner: r,
    };
    Ok(match c {
        Compression::None => Box::new(p),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(p)),
        Compression::Zstd => Box::new(ZstdReader::new(p)),
    })
}

/// Read one layer blob from `raw` (consumed to its end), within `limits` and `budget`.
pub fn parse_layer(
    raw: impl Read,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<ParsedLayer, LayerError> {
    let mut raw = Hashing::new(raw);
    let head = read_up_to(&mut raw, 4).map_err(|e| LayerError::Malformed(short(&e)))?;
    let compression = Compression::sniff(&head);
    // An uncompressed blob is its own tar: one hash serves as blob digest and diff_id.
    raw.on = compression != Compression::None;
    let (diff_id, bytes, ops, notes, entries) = {
        let prefixed = Prefixed {
            prefix: head,
            pos: 0,
            inner: &mut raw,
        };
        let decompressed: Box<dyn Read + '_> = match compression {
            Compression::None => Box::new(prefixed),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(prefixed)),
            Compression::Zstd => Box::new(ZstdReader::new(prefixed)),
        };
        let per_layer = limits.max_layer_bytes.min(budget.total_bytes);
        let (what, limit) = if limits.max_layer_bytes <= budget.total_bytes {
            ("decompressed bytes of one layer", limits.max_layer_bytes)
        } else {
            (
                "decompressed bytes of all layers together",
                limits.max_total_bytes,
            )
        };
        let mut limited = Limited::new(Hashing::new(decompressed), per_layer);
        let mut ops = Vec::new();
        let mut notes = Vec::new();
        let mut entries = 0usize;
        let res = read_entries(
            &mut limited,
            limits,
            budget,
            &mut ops,
            &mut notes,
            &mut entries,
        );
        // Whatever follows the end-of-archive blocks counts too (and is hashed).
        let drained = match res {
            Ok(()) => io::copy(&mut limited, &mut io::sink())
                .map(|_| ())
                .map_err(EntryError::Io),
            Err(e) => Err(e),
        };
        let too_large = LayerError::TooLarge { what, limit };
        if limited.exceeded {
            budget.total_bytes = budget.total_bytes.saturating_sub(limited.count);
            return Err(too_large);
        }
        budget.total_bytes = budget.total_bytes.saturating_sub(limited.count);
        if let Err(e) = drained {
            return Err(match e {
                EntryError::Io(e) if compression != Compression::None && is_decode_error(&e) => {
                    LayerError::Decompress(short(&e))
                }
                EntryError::Io(e) => LayerError::Malformed(short(&e)),
                EntryError::Entries(limit) => LayerError::TooLarge {
                    what: "entries of all layers together",
                    limit: limit as u64,
                },
                EntryError::Names(limit) => LayerError::TooLarge {
                    what: "entry names of all layers together (bytes)",
                    limit,
                },
            });
        }
        let bytes = limited.count;
        (limited.inner.digest(), bytes, ops, notes, entries)
    };
    io::copy(&mut raw, &mut io::sink()).map_err(|e| LayerError::Malformed(short(&e)))?;
    Ok(ParsedLayer {
        ops,
        blob_digest: if compression == Compression::None {
            diff_id.clone()
        } else {
            raw.digest()
        },
        diff_id,
        compression,
        entries,
        bytes,
        notes,
    })
}

fn is_decode_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
    )
}

enum EntryError {
    Io(io::Error),
    Entries(usize),
    Names(u64),
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn read_entries(
    r: &mut impl Read,
    limits: &Limits,
    budget: &mut Budget,
    ops: &mut Vec<Op>,
    notes: &mut Vec<String>,
    count: &mut usize,
) -> Result<(), EntryError> {
    let (guarded, armed) = HeaderGuard::new(r);
    let mut ar = tar::Archive::new(guarded);
    let mut it = ar.entries()?;
    let mut skipped = Notes::default();
    let res = (|| -> Result<(), EntryError> {
        let mut undrained = 0;
        while let Some(entry) = next_guarded(&mut it, &armed, undrained) {
            let mut entry = entry?;
            if budget.entries == 0 {
                return Err(EntryError::Entries(limits.max_entries));
            }
            budget.entries -= 1;
            *count += 1;
            let op = entry_op(&mut entry, limits, budget, &mut skipped)?;
            // Drained here, outside the guard: `next()` then reads headers only.
            undrained = drain(&mut entry)?;
            if let Some(op) = op {
                ops.push(op);
            }
        }
        Ok(())
    })();
    notes.extend(skipped.finish());
    res
}

/// The operation one entry stands for, if any.
fn entry_op<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    limits: &Limits,
    budget: &mut Budget,
    notes: &mut Notes,
) -> Result<Option<Op>, EntryError> {
    let raw_bytes = entry.path_bytes();
    let raw_path = String::from_utf8_lossy(&raw_bytes).into_owned();
    let (parts, escaped) = normalize(&raw_path);
    if escaped {
        notes.push(format!(
            "{}: entry path climbs above the image root; skipped",
            shown(&raw_path)
        ));
        return Ok(None);
    }
    if let Some(why) = path_refused(&raw_bytes, &parts, limits) {
        notes.push(format!("{}: {why}", shown(&raw_path)));
        return Ok(None);
    }
    drop(raw_bytes);
    let Some(name) = parts.last().cloned() else {
        return Ok(None);
    };
    if !budget.charge_name(&parts) {
        return Err(EntryError::Names(limits.max_name_bytes));
    }
    if let Some(hidden) = name.strip_prefix(".wh.") {
        let parent = parts[..parts.len() - 1].to_vec();
        if hidden == ".wh..opq" {
            return Ok(Some(Op::Opaque(parent)));
        } else if !hidden.starts_with(".wh.") && !hidden.is_empty() {
            let mut p = parent;
            p.push(hidden.to_owned());
            return Ok(Some(Op::Whiteout(p)));
        }
        return Ok(None);
    }
    let link_target = |entry: &tar::Entry<'_, R>| {
        entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let kind = entry.header().entry_type();
    let node = match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            let size = entry.size();
            let path = node_path(&parts);
            let data = if crate::collect::READS.keeps(&path) {
                if size > limits.max_kept_file {
                    notes.push(format!(
                        "{}: {size} bytes exceeds the {}-byte limit for a file read in memory; not kept",
                        shown(&path),
                        limits.max_kept_file
                    ));
                    None
                } else if size > budget.kept_bytes {
                    notes.push(format!(
                        "{}: the {}-byte budget for files read in memory is spent; not kept",
                        shown(&path),
                        limits.max_kept_total
                    ));
                    None
                } else {
                    let mut v = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    entry.take(size).read_to_end(&mut v)?;
                    budget.kept_bytes -= v.len() as u64;
                    Some(Arc::from(v))
                }
            } else {
                None
            };
            Node::File(FileNode { size, data })
        }
        tar::EntryType::Directory => Node::empty_dir(),
        tar::EntryType::Symlink => {
            let target = link_target(entry);
            if target.is_empty() {
                notes.push(format!(
                    "{}: symlink without a target; skipped",
                    shown(&node_path(&parts))
                ));
                return Ok(None);
            }
            if target.len() > limits.max_path_bytes {
                notes.push(format!(
                    "{}: symlink target of {} bytes exceeds the {}-byte limit; skipped",
                    shown(&node_path(&parts)),
                    target.len(),
                    limits.max_path_bytes
                ));
                return Ok(None);
            }
            if budget.name_bytes < target.len() as u64 {
                return Err(EntryError::Names(limits.max_name_bytes));
            }
            budget.name_bytes -= target.len() as u64;
            Node::Symlink(target)
        }
        tar::EntryType::Link => {
            let target = link_target(entry);
            let (t, esc) = normalize(&target);
            if esc || t.is_empty() {
                notes.push(format!(
                    "{}: hard link to `{}` points outside the image root; skipped",
                    shown(&node_path(&parts)),
                    shown(&target)
                ));
                return Ok(None);
            }
            if let Some(why) = path_refused(target.as_bytes(), &t, limits) {
                notes.push(format!(
                    "{}: hard link target {why}",
                    shown(&node_path(&parts))
                ));
                return Ok(None);
            }
            if !budget.charge_name(&t) {
                return Err(EntryError::Names(limits.max_name_bytes));
            }
            return Ok(Some(Op::Hardlink(parts, t)));
        }
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Node::Other,
        _ => return Ok(None),
    };
    Ok(Some(Op::Put(parts, node)))
}

/// Apply a layer to `fs`: its whiteouts first (they concern lower layers), then its entries in
/// archive order. Returns notes on hard links that could not be made.
pub(crate) fn apply(fs: &mut MemFs, layer: &ParsedLayer) -> Vec<String> {
    let mut notes = Notes::default();
    for op in &layer.ops {
        match op {
            Op::Opaque(p) => fs.clear_dir(p),
            Op::Whiteout(p) => {
                fs.remove(p);
            }
            _ => {}
        }
    }
    for op in &layer.ops {
        let placed = match op {
            Op::Put(p, node) => fs.place(p, node.clone()).map_err(|e| (p, e.to_string())),
            Op::Hardlink(p, t) => match fs.hardlink_source(t) {
                Some(f) => fs.place(p, Node::File(f)).map_err(|e| (p, e.to_string())),
                None => Err((
                    p,
                    format!(
                        "hard link target {} is not a file in the image",
                        shown(&node_path(t))
                    ),
                )),
            },
            Op::Opaque(_) | Op::Whiteout(_) => Ok(()),
        };
        if let Err((p, why)) = placed {
            notes.push(format!("{}: {why}; skipped", shown(&node_path(p))));
        }
    }
    notes.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, p, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn zstd(b: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(b, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn zstd_frames_concatenated_and_skippable_frames() {
        let t = tar_of(&[("etc/os-release", b"ID=alpine\n"), ("x", &[7u8; 5000])]);
        let (a, b) = t.split_at(1000);
        let mut blob = zstd(a);
        // A skippable frame between the two data frames.
        blob.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
        blob.extend_from_slice(&3u32.to_le_bytes());
        blob.extend_from_slice(b"abc");
        blob.extend_from_slice(&zstd(b));
        let limits = Limits::default();
        let l = parse_layer(&blob[..], &limits, &mut Budget::new(&limits)).unwrap();
        assert_eq!(l.compression, Compression::Zstd);
        assert_eq!(l.diff_id, sha256_digest(&t));
        assert_eq!(l.blob_digest, sha256_digest(&blob));
        assert_eq!(l.entries, 2);
        let mut fs = MemFs::new();
        assert!(apply(&mut fs, &l).is_empty());
        let (_, n) = fs.resolve("/etc/os-release").unwrap();
        assert!(
            matches!(n, Node::File(FileNode { data: Some(d), .. }) if &d[..] == b"ID=alpine\n")
        );
    }

    #[test]
    fn zstd_window_above_the_limit_is_refused_before_allocation() {
        // Magic, FHD (no single segment, no checksum, no dict), window descriptor 2^31.
        let mut blob = ZSTD_MAGIC.to_le_bytes().to_vec();
        blob.push(0x00);
        blob.push((31 - 10) << 3);
        blob.extend_from_slice(&[0u8; 16]);
        let limits = Limits::default();
        let e = parse_layer(&blob[..], &limits, &mut Budget::new(&limits)).unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
    }

    #[test]
    fn truncated_and_garbage_layers_are_errors() {
        let limits = Limits::default();
        let t = tar_of(&[("a", &[1u8; 3000])]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &t).unwrap();
        let gz = gz.finish().unwrap();
        for bad in [
            &gz[..gz.len() / 2],
            &t[..700],
            &b"\x1f\x8bnot gzip at all"[..],
        ] {
            let r = parse_layer(bad, &limits, &mut Budget::new(&limits));
            assert!(r.is_err(), "{r:?}");
        }
        // An empty blob is an empty layer.
        let l = parse_layer(&b""[..], &limits, &mut Budget::new(&limits)).unwrap();
        assert_eq!(l.entries, 0);
    }

    #[test]
    fn media_types() {
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+encrypted"),
            None
        );
    }
}
