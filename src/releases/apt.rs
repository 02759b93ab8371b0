//! Debian `Packages` indexes → the version apt would pick (its "candidate").
//!
//! [`AptIndex::load`] reads `Packages` files (plain, or gzip-compressed `.gz`), streaming: only
//! `Package`, `Version`, `Architecture` and `Source` of each stanza are kept, and for each
//! (package, architecture, priority) only the highest version. [`AptIndex::candidate`] then
//! answers what `apt-get -s upgrade` would install for an installed package on a machine of that
//! architecture with those sources and no `apt_preferences` pins. Each index gets apt's default
//! priority from its suite's `InRelease`: 500, or 100 for a `NotAutomatic: yes` +
//! `ButAutomaticUpgrades: yes` suite (backports), or 1 for `NotAutomatic: yes` alone
//! (experimental). The candidate is the highest version (dpkg ordering) among the stanzas of that
//! architecture or `Architecture: all` in the highest-priority indexes that have the package; a
//! priority-1 version is never a candidate for an installed package (the installed version has
//! priority 100). A version for another architecture is never a candidate. Not modelled:
//! `apt_preferences` pins, `Provides`, and multi-arch `:arch` qualifiers in names.
//!
//! Integrity: for each index, the `InRelease` file of its suite is looked for — beside it under
//! apt's list naming (`<site>_dists_<suite>_InRelease` for
//! `<site>_dists_<suite>_main_binary-amd64_Packages`), or in an ancestor directory of a
//! repository layout (`dists/<suite>/InRelease` for `dists/<suite>/main/binary-amd64/Packages.gz`).
//! When found, the sha256 and size of the uncompressed index must equal its `SHA256` entry (or,
//! when only the compressed name is listed, those of the file as stored); a mismatch fails the
//! load with [`ReleaseError::ChecksumMismatch`] naming the file. **The OpenPGP signature of
//! `InRelease` is not verified**: a checksum match proves the index is the one that `InRelease`
//! describes, not that the archive signed it. Check the signature with `gpgv` (as apt does at
//! `apt-get update`) before trusting an `InRelease` file from an untrusted place.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::util::hex;

use sha2::{Digest, Sha256};

use super::{problem, ChecksumMismatch, ReleaseError};
use crate::model::{Location, Problem, ProblemKind};
use crate::version::dpkg::Dpkg;
use crate::version::VersionScheme;

/// One `SHA256` entry of a `Release` / `InRelease` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReleaseEntry {
    /// Lower-case hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Path relative to the suite (`main/binary-amd64/Packages`).
    pub name: String,
}

/// The `SHA256:` entries of a `Release` or (clear-signed) `InRelease` file. Never panics.
pub(crate) fn parse_release_sha256(text: &str) -> Vec<ReleaseEntry> {
    let mut out = Vec::new();
    let mut in_sha256 = false;
    for line in text.lines() {
        if line.starts_with("-----BEGIN PGP SIGNATURE") {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if in_sha256 {
                let mut f = line.split_whitespace();
                if let (Some(h), Some(s), Some(n), None) = (f.next(), f.next(), f.next(), f.next())
                {
                    if let Ok(size) = s.parse::<u64>() {
                        if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                            out.push(ReleaseEntry {
                                sha256: h.to_ascii_lowercase(),
                                size,
                                name: n.to_owned(),
                            });
                        }
                    }
                }
            }
            continue;
        }
        in_sha256 = line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("SHA256"));
    }
    out
}

/// How an index's integrity was checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChecksumStatus {
    /// The sha256 and size match the `InRelease` entry `entry`.
    Verified {
        /// The `InRelease` file.
        inrelease: PathBuf,
        /// The entry matched.
        entry: String,
    },
    /// No `InRelease` (or `Release`) file was found for this index.
    NoInRelease,
    /// An `InRelease` file was found, but it lists neither the uncompressed nor the compressed
    /// name of this index.
    NotListed {
        /// The `InRelease` file.
        inrelease: PathBuf,
        /// The uncompressed name looked for.
        entry: String,
    },
}

/// One index file loaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexSource {
    /// The file.
    pub path: PathBuf,
    /// Stanzas read.
    pub stanzas: usize,
    /// Integrity check.
    pub checksum: ChecksumStatus,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Entry {
    /// Index into `AptIndex::archs`.
    arch: u16,
    /// apt's default priority of the index it came from (500, 100 or 1).
    priority: u16,
    version: Box<str>,
    /// The source package, when it differs from the binary package name.
    source: Option<Box<str>>,
}

/// Candidate versions from a set of `Packages` indexes.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AptIndex {
    archs: Vec<String>,
    packages: HashMap<Box<str>, Vec<Entry>>,
    sources: Vec<IndexSource>,
    /// Priority of the index being loaded.
    #[serde(skip)]
    loading_priority: u16,
}

/// apt's default priority for the indexes of a suite, from its `Release`/`InRelease` fields:
/// 1 for `NotAutomatic: yes`, 100 with `ButAutomaticUpgrades: yes` as well, else 500.
pub(crate) fn release_priority(text: &str) -> u16 {
    let mut not_automatic = false;
    let mut but_upgrades = false;
    for line in text.lines() {
        if line.starts_with("-----BEGIN PGP SIGNATURE") {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let yes = v.trim().eq_ignore_ascii_case("yes");
            if k.trim().eq_ignore_ascii_case("NotAutomatic") {
                not_automatic = yes;
            } else if k.trim().eq_ignore_ascii_case("ButAutomaticUpgrades") {
                but_upgrades = yes;
            }
        }
    }
    match (not_automatic, but_upgrades) {
        (true, true) => 100,
        (true, false) => 1,
        _ => 500,
    }
}

/// Counts and hashes the bytes read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }
}

/// A sha256 (when computed) and the byte count it covers.
type HashAndSize = (Option<String>, u64);

/// What to check a file against.
struct Expect {
    inrelease: PathBuf,
    /// The uncompressed name.
    entry: String,
    /// The entry found, and whether it is for the compressed (as stored) file.
    listed: Option<(ReleaseEntry, bool)>,
}

impl AptIndex {
    /// [`Self::load`] through the release-data cache `cache`
    /// ([`crate::sources::cache::cached`]): keyed by the index files and their `InRelease`
    /// files; `None` parses.
    pub fn load_cached(
        files: &[PathBuf],
        cache: Option<crate::sources::cache::CacheDir<'_>>,
    ) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let mut inputs: Vec<PathBuf> = files.to_vec();
        for f in files {
            if let Some(inrelease) = find_inrelease(f).map(|(p, _)| p) {
                if !inputs.contains(&inrelease) {
                    inputs.push(inrelease);
                }
            }
        }
        crate::sources::cache::cached(cache, "apt-indexes", &inputs, || Self::load(files))
    }

    /// Load `Packages` indexes (plain, `.gz` or `.lz4`), verifying each against its `InRelease`
    /// checksums when one is found (see the module docs; signatures are not verified).
    ///
    /// Fails when a file cannot be read or decompressed, uses another compression (`.xz`,
    /// `.bz2`, `.lz4`, `.zst`), or does not match its `InRelease` checksum. Stanzas without
    /// `Package`, `Version` or `Architecture`, or with an invalid version, are [`Problem`]s
    /// naming the file and line; an index its `InRelease` does not list is a
    /// [`ProblemKind::Skipped`] problem (not verified).
    pub fn load(files: &[PathBuf]) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let mut idx = Self::default();
        let mut problems = Vec::new();
        for file in files {
            idx.load_one(file, &mut problems)?;
        }
        Ok((idx, problems))
    }

    fn load_one(&mut self, file: &Path, problems: &mut Vec<Problem>) -> Result<(), ReleaseError> {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let gz = ext == "gz";
        let lz4 = ext == "lz4";
        if matches!(ext, "xz" | "bz2" | "zst" | "lzma") {
            return Err(ReleaseError::malformed(
                file,
                format!(
                    "`.{ext}` compression is not supported; use the uncompressed, .gz or .lz4 index"
                ),
            ));
        }
        self.loading_priority = 500;
        let expect = find_inrelease(file).map(|(inrelease, entry)| {
            let text = crate::releases::read_text(&inrelease).ok();
            if let Some(t) = &text {
                self.loading_priority = release_priority(t);
            }
            let listed = text.map(|t| parse_release_sha256(&t)).and_then(|entries| {
                let plain = entries.iter().find(|e| e.name == entry).cloned();
                plain.map(|e| (e, false)).or_else(|| {
                    let stored = format!("{entry}.{ext}");
                    entries
                        .into_iter()
                        .find(|e| (gz || lz4) && e.name == stored)
                        .map(|e| (e, true))
                })
            });
            Expect {
                inrelease,
                entry,
                listed,
            }
        });
        let hash_stored = matches!(
            &expect,
            Some(Expect {
                listed: Some((_, true)),
                ..
            })
        );
        let hash_plain = matches!(
            &expect,
            Some(Expect {
                listed: Some((_, false)),
                ..
            })
        );

        let f = fs_err::File::open(file)?;
        let stored = HashingReader {
            inner: f,
            hasher: hash_stored.then(Sha256::new),
            size: 0,
        };
        let stanzas;
        let (stored_digest, plain_digest);
        if gz || lz4 {
            let (n, p, st) = if gz {
                self.parse_compressed(
                    flate2::read::MultiGzDecoder::new(stored),
                    flate2::read::MultiGzDecoder::into_inner,
                    hash_plain,
                    file,
                    problems,
                )?
            } else {
                // apt's own lists (`Acquire::GzipIndexes` with lz4, Debian's and Ubuntu's
                // default): the LZ4 frame format.
                self.parse_compressed(
                    lz4_flex::frame::FrameDecoder::new(stored),
                    lz4_flex::frame::FrameDecoder::into_inner,
                    hash_plain,
                    file,
                    problems,
                )?
            };
            stanzas = n;
            plain_digest = p;
            stored_digest = st;
        } else {
            let mut plain = stored;
            plain.hasher = hash_plain.then(Sha256::new);
            stanzas = self.parse(&mut plain, file, problems)?;
            plain_digest = (plain.hasher.take().map(|h| hex(&h.finalize())), plain.size);
            stored_digest = plain_digest.clone();
        }

        let checksum = match expect {
            None => ChecksumStatus::NoInRelease,
            Some(Expect {
                inrelease,
                entry,
                listed: None,
            }) => {
                problems.push(problem(
                    file,
                    ProblemKind::Skipped,
                    format!(
                        "{} lists no sha256 for `{entry}`; index not verified",
                        inrelease.display()
                    ),
                ));
                ChecksumStatus::NotListed { inrelease, entry }
            }
            Some(Expect {
                inrelease,
                listed: Some((want, is_stored)),
                ..
            }) => {
                let (found, size) = if is_stored {
                    stored_digest
                } else {
                    plain_digest
                };
                let found = found.unwrap_or_default();
                if found != want.sha256 || size != want.size {
                    return Err(ReleaseError::ChecksumMismatch(Box::new(ChecksumMismatch {
                        path: file.to_path_buf(),
                        inrelease,
                        entry: want.name,
                        expected: want.sha256,
                        expected_size: want.size,
                        found,
                        found_size: size,
                    })));
                }
                ChecksumStatus::Verified {
                    inrelease,
                    entry: want.name,
                }
            }
        };
        self.sources.push(IndexSource {
            path: file.to_path_buf(),
            stanzas,
            checksum,
        });
        Ok(())
    }

    /// Parse a compressed index through `dec`, hashing the decompressed stream (when
    /// `hash_plain`) and the stored bytes; returns the stanza count and both (digest, size).
    fn parse_compressed<D: Read>(
        &mut self,
        dec: D,
        into_stored: fn(D) -> HashingReader<fs_err::File>,
        hash_plain: bool,
        file: &Path,
        problems: &mut Vec<Problem>,
    ) -> Result<(usize, HashAndSize, HashAndSize), ReleaseError> {
        let mut plain = HashingReader {
            inner: dec,
            hasher: hash_plain.then(Sha256::new),
            size: 0,
        };
        let stanzas = self.parse(&mut plain, file, problems)?;
        let plain_digest = (plain.hasher.take().map(|h| hex(&h.finalize())), plain.size);
        let mut stored = into_stored(plain.inner);
        // Drain whatever the decoder did not consume, so the stored hash covers the file.
        std::io::copy(&mut stored, &mut std::io::sink()).map_err(|e| read_err(file, &e))?;
        let stored_digest = (
            stored.hasher.take().map(|h| hex(&h.finalize())),
            stored.size,
        );
        Ok((stanzas, plain_digest, stored_digest))
    }

    /// Stream stanzas; returns how many were read.
    fn parse<R: Read>(
        &mut self,
        reader: &mut R,
        file: &Path,
        problems: &mut Vec<Problem>,
    ) -> Result<usize, ReleaseError> {
        let mut r = BufReader::with_capacity(1 << 16, reader);
        let mut line = String::new();
        let mut line_no = 0usize;
        let mut st = Stanza::default();
        let mut count = 0usize;
        loop {
            line.clear();
            let n = r.read_line(&mut line).map_err(|e| read_err(file, &e))?;
            line_no += 1;
            let text = line.trim_end_matches(['\n', '\r']);
            if n == 0 || text.trim().is_empty() {
                if st.start != 0 {
                    count += 1;
                    self.flush(&mut st, file, problems);
                }
                if n == 0 {
                    break;
                }
                continue;
            }
            if st.start == 0 {
                st.start = line_no;
            }
            if text.starts_with([' ', '\t']) {
                continue; // continuation of a multi-line field
            }
            let Some((key, value)) = text.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let slot = if key.eq_ignore_ascii_case("Package") {
                &mut st.package
            } else if key.eq_ignore_ascii_case("Version") {
                &mut st.version
            } else if key.eq_ignore_ascii_case("Architecture") {
                &mut st.arch
            } else if key.eq_ignore_ascii_case("Source") {
                &mut st.source
            } else {
                continue;
            };
            slot.clear();
            slot.push_str(value);
        }
        Ok(count)
    }

    fn flush(&mut self, st: &mut Stanza, file: &Path, problems: &mut Vec<Problem>) {
        let start = st.start;
        let loc = || Location::path(file.display().to_string()).at_line(start);
        if st.package.is_empty() || st.version.is_empty() || st.arch.is_empty() {
            problems.push(Problem::new(
                loc(),
                ProblemKind::Malformed,
                format!(
                    "stanza without {}; skipped",
                    [
                        ("Package", st.package.is_empty()),
                        ("Version", st.version.is_empty()),
                        ("Architecture", st.arch.is_empty())
                    ]
                    .iter()
                    .filter(|(_, missing)| *missing)
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
                ),
            ));
            st.reset();
            return;
        }
        if let Err(e) = Dpkg::parse(&st.version) {
            problems.push(Problem::new(
                loc().field("Version"),
                ProblemKind::VersionUnparseable,
                format!("package {}: {e}; skipped", st.package),
            ));
            st.reset();
            return;
        }
        let arch = match self.archs.iter().position(|a| *a == st.arch) {
            Some(i) => i,
            None => {
                self.archs.push(st.arch.clone());
                self.archs.len() - 1
            }
        };
        let arch = u16::try_from(arch).unwrap_or(u16::MAX);
        // `Source: name (version)` → name; omitted when equal to the package.
        let source = st
            .source
            .split_whitespace()
            .next()
            .filter(|s| *s != st.package)
            .map(Box::from);
        let entries = match self.packages.get_mut(st.package.as_str()) {
            Some(e) => e,
            None => self
                .packages
                .entry(Box::from(st.package.as_str()))
                .or_default(),
        };
        let priority = self.loading_priority;
        match entries
            .iter_mut()
            .find(|e| e.arch == arch && e.priority == priority)
        {
            Some(e) => {
                if deb_gt(&st.version, &e.version) {
                    e.version = Box::from(st.version.as_str());
                    e.source = source;
                }
            }
            None => entries.push(Entry {
                arch,
                priority,
                version: Box::from(st.version.as_str()),
                source,
            }),
        }
        st.reset();
    }

    /// The version apt's policy picks among the stanzas of `arch` or `all`: the highest
    /// priority, then the highest version. For an installed package (`installed`), versions
    /// older than it are not considered (apt downgrades only at priority 1000, which needs a
    /// pin) and priorities under the installed version's 100 never win.
    fn best(&self, name: &str, arch: &str, installed: Option<&str>) -> Option<&Entry> {
        let entries = self.packages.get(name)?;
        let usable = |e: &&Entry| {
            let a = self.archs[usize::from(e.arch)].as_str();
            (a == arch || a == "all")
                && installed.is_none_or(|i| e.priority >= 100 && !deb_gt(i, &e.version))
        };
        let top = entries.iter().filter(usable).map(|e| e.priority).max()?;
        entries
            .iter()
            .filter(|e| usable(e) && e.priority == top)
            .fold(None, |best: Option<&Entry>, e| match best {
                Some(b) if !deb_gt(&e.version, &b.version) => Some(b),
                _ => Some(e),
            })
    }

    /// The newer version `apt-get upgrade` would install for binary package `name` installed at
    /// `installed` on architecture `arch`, if any (see [`Self::candidate`] for the policy).
    pub fn upgrade_candidate(&self, name: &str, arch: &str, installed: &str) -> Option<&str> {
        self.best(name, arch, Some(installed))
            .filter(|e| deb_gt(&e.version, installed))
            .map(|e| &*e.version)
    }

    /// The version apt would install for binary package `name` on architecture `arch`
    /// (`amd64`) when it is not installed: the highest version of that architecture or `all` in
    /// the highest-priority indexes that have it.
    pub fn candidate(&self, name: &str, arch: &str) -> Option<&str> {
        self.best(name, arch, None).map(|e| &*e.version)
    }

    /// The source package of the candidate (the package name itself when the stanza has no
    /// `Source`).
    pub fn candidate_source<'a>(&'a self, name: &'a str, arch: &str) -> Option<&'a str> {
        self.best(name, arch, None)
            .map(|e| e.source.as_deref().unwrap_or(name))
    }

    /// The indexes loaded, with their checksum status.
    pub fn sources(&self) -> &[IndexSource] {
        &self.sources
    }

    /// How many distinct package names are known.
    pub fn len(&self) -> usize {
        self.packages.len()
    }

    /// Whether no package is known.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }
}

#[derive(Default)]
struct Stanza {
    start: usize,
    package: String,
    version: String,
    arch: String,
    source: String,
}

impl Stanza {
    fn reset(&mut self) {
        self.start = 0;
        self.package.clear();
        self.version.clear();
        self.arch.clear();
        self.source.clear();
    }
}

fn read_err(file: &Path, e: &std::io::Error) -> ReleaseError {
    ReleaseError::malformed(file, format!("cannot read the index: {e}"))
}

/// `a > b` in dpkg ordering; versions were validated when stored.
fn deb_gt(a: &str, b: &str) -> bool {
    match (Dpkg::parse(a), Dpkg::parse(b)) {
        (Ok(x), Ok(y)) => Dpkg::compare(&x, &y) == std::cmp::Ordering::Greater,
        _ => false,
    }
}

/// The `InRelease` (or `Release`) file describing an index, and the index's uncompressed name
/// inside it.
fn find_inrelease(file: &Path) -> Option<(PathBuf, String)> {
    let fname = file.file_name()?.to_str()?;
    let dir = file.parent()?;
    let plain = strip_compression(fname);
    // apt's list naming: <site>_dists_<suite>_<component>_binary-<arch>_Packages
    if let Some(pos) = plain.find("_dists_") {
        let prefix = &plain[..pos + "_dists_".len()];
        let rest = &plain[prefix.len()..];
        for (i, _) in rest.match_indices('_') {
            for name in ["InRelease", "Release"] {
                let candidate = dir.join(format!("{prefix}{}_{name}", &rest[..i]));
                if candidate.is_file() {
                    return Some((candidate, rest[i + 1..].replace('_', "/")));
                }
            }
        }
    }
    // Repository layout: dists/<suite>/<component>/binary-<arch>/Packages.gz
    let mut rel = vec![plain.to_owned()];
    let mut cur = dir;
    for _ in 0..4 {
        for name in ["InRelease", "Release"] {
            let candidate = cur.join(name);
            if candidate.is_file() {
                rel.reverse();
                return Some((candidate, rel.join("/")));
            }
        }
        rel.push(cur.file_name()?.to_str()?.to_owned());
        cur = cur.parent()?;
    }
    None
}

fn strip_compression(name: &str) -> &str {
    for ext in [".gz", ".xz", ".bz2", ".lz4", ".zst", ".lzma"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::test_data::shared;
    use proptest::prelude::*;
    use std::io::Write as _;
    use std::sync::OnceLock;

    const DIR: &str = "debian-apt-indexes/bookworm-amd64";

    fn files() -> Vec<PathBuf> {
        let d = shared(DIR);
        [
            "debian_dists_bookworm_main_binary-amd64_Packages.gz",
            "debian_dists_bookworm-updates_main_binary-amd64_Packages.gz",
            "debian-security_dists_bookworm-security_main_binary-amd64_Packages.gz",
        ]
        .iter()
        .map(|f| d.join(f))
        .collect()
    }

    fn index() -> &'static (AptIndex, Vec<Problem>) {
        static I: OnceLock<(AptIndex, Vec<Problem>)> = OnceLock::new();
        I.get_or_init(|| AptIndex::load(&files()).expect("bookworm indexes load and verify"))
    }

    #[test]
    fn candidates() {
        let (idx, problems) = index();
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(idx.len() > 60_000, "{}", idx.len());
        let c = |n: &str| idx.candidate(n, "amd64");
        // security newer than main and updates
        assert_eq!(c("libssl3"), Some("3.0.22-1~deb12u2"));
        assert_eq!(c("openssl"), Some("3.0.22-1~deb12u2"));
        assert_eq!(c("nova-common"), Some("2:26.2.2-1~deb12u5"));
        assert_eq!(c("tzdata"), Some("2026f-0+deb12u1"));
        assert_eq!(c("ca-certificates"), Some("20250419~deb12u2"));
        // main (point release 12.15) newer than security and updates
        assert_eq!(c("openssh-client"), Some("1:9.2p1-2+deb12u10"));
        // only in main
        assert_eq!(c("base-files"), Some("12.4+deb12u15"));
        assert_eq!(c("distro-info-data"), Some("0.58+deb12u7"));
        assert_eq!(c("linux-image-amd64"), Some("6.1.192-2"));
        assert_eq!(c("no-such-package"), None);
        // Architecture: all counts for any architecture; amd64 stanzas do not.
        assert_eq!(idx.candidate("tzdata", "arm64"), Some("2026f-0+deb12u1"));
        assert_eq!(idx.candidate("libssl3", "arm64"), None);
        assert_eq!(idx.candidate_source("libssl3", "amd64"), Some("openssl"));
        assert_eq!(idx.candidate_source("openssl", "amd64"), Some("openssl"));
        assert_eq!(
            idx.candidate_source("linux-image-amd64", "amd64"),
            Some("linux-signed-amd64")
        );
    }

    #[test]
    fn inrelease_checksums_verified() {
        let (idx, _) = index();
        assert_eq!(idx.sources().len(), 3);
        for s in idx.sources() {
            match &s.checksum {
                ChecksumStatus::Verified { entry, .. } => {
                    assert_eq!(entry, "main/binary-amd64/Packages");
                }
                other => panic!("{}: {other:?}", s.path.display()),
            }
        }
        assert_eq!(idx.sources()[0].stanzas, 63_440);
        assert_eq!(idx.sources()[1].stanzas, 38);
        assert_eq!(idx.sources()[2].stanzas, 3_020);
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn tampered_index_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let src = shared(DIR);
        let name = "debian_dists_bookworm-updates_main_binary-amd64_Packages.gz";
        let inrel = "debian_dists_bookworm-updates_InRelease";
        fs_err::copy(src.join(inrel), tmp.path().join(inrel)).unwrap();
        // Decompress, change one version, recompress.
        let mut text = String::new();
        flate2::read::GzDecoder::new(fs_err::File::open(src.join(name)).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let tampered = text.replacen(
            "Version: 1:9.2p1-2+deb12u7",
            "Version: 1:9.2p1-2+deb12u8",
            1,
        );
        assert_ne!(tampered, text);
        let path = tmp.path().join(name);
        fs_err::write(&path, gz(&tampered)).unwrap();
        let err = AptIndex::load(std::slice::from_ref(&path)).unwrap_err();
        assert!(matches!(err, ReleaseError::ChecksumMismatch(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains("main/binary-amd64/Packages"), "{msg}");
        // The untampered copy passes.
        fs_err::write(&path, gz(&text)).unwrap();
        let (idx, _) = AptIndex::load(&[path]).unwrap();
        assert!(matches!(
            idx.sources()[0].checksum,
            ChecksumStatus::Verified { .. }
        ));
    }

    /// apt's own lists are LZ4 frames (`Acquire::GzipIndexes`): compressed here by the real
    /// `lz4` tool, they load to the same index, verified against the uncompressed entry of the
    /// `InRelease` file (so the decompression is exact to the byte), and a tampered one fails.
    #[test]
    fn lz4_lists_as_apt_keeps_them() {
        let tmp = tempfile::tempdir().unwrap();
        let src = shared(DIR);
        let name = "debian_dists_bookworm-updates_main_binary-amd64_Packages";
        let inrel = "debian_dists_bookworm-updates_InRelease";
        fs_err::copy(src.join(inrel), tmp.path().join(inrel)).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(fs_err::File::open(src.join(format!("{name}.gz"))).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let lz4 = |text: &str, out: &Path| {
            let plain = tmp.path().join("plain");
            fs_err::write(&plain, text).unwrap();
            let st = std::process::Command::new("lz4")
                .args(["-q", "-f"])
                .arg(&plain)
                .arg(out)
                .status()
                .expect("the lz4 tool is required (apt-get install lz4)");
            assert!(st.success());
        };
        let path = tmp.path().join(format!("{name}.lz4"));
        lz4(&text, &path);
        let (idx, problems) = AptIndex::load(std::slice::from_ref(&path)).unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            matches!(&idx.sources()[0].checksum, ChecksumStatus::Verified { entry, .. } if entry == "main/binary-amd64/Packages"),
            "{:?}",
            idx.sources()[0]
        );
        let (gz_idx, _) = AptIndex::load(&[src.join(format!("{name}.gz"))]).unwrap();
        assert_eq!(idx.sources()[0].stanzas, gz_idx.sources()[0].stanzas);
        assert_eq!(
            idx.candidate("openssh-client", "amd64"),
            gz_idx.candidate("openssh-client", "amd64")
        );
        lz4(
            &text.replacen(
                "Version: 1:9.2p1-2+deb12u7",
                "Version: 1:9.2p1-2+deb12u8",
                1,
            ),
            &path,
        );
        let err = AptIndex::load(&[path]).unwrap_err();
        assert!(matches!(err, ReleaseError::ChecksumMismatch(_)), "{err}");
    }

    /// Through the release-data cache: the same index, read back; a changed file is parsed again.
    #[test]
    fn cached_index_equals_parsed() {
        let cache = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let src = shared(DIR);
        let name = "debian_dists_bookworm-updates_main_binary-amd64_Packages.gz";
        let inrel = "debian_dists_bookworm-updates_InRelease";
        fs_err::copy(src.join(inrel), tmp.path().join(inrel)).unwrap();
        fs_err::copy(src.join(name), tmp.path().join(name)).unwrap();
        let files = [tmp.path().join(name)];
        let parsed = AptIndex::load(&files).unwrap();
        let json = |v: &(AptIndex, Vec<Problem>)| serde_json::to_value(v).unwrap();
        for _ in 0..2 {
            let c = AptIndex::load_cached(&files, Some(cache.path().into())).unwrap();
            assert_eq!(json(&c), json(&parsed));
        }
        // The InRelease file changes (one byte of a checksum): the entry is not trusted, the
        // index is verified again and fails.
        let t = fs_err::read_to_string(tmp.path().join(inrel)).unwrap();
        let sum = match &parsed.0.sources()[0].checksum {
            ChecksumStatus::Verified { .. } => {
                let e = parse_release_sha256(&t);
                e.into_iter()
                    .find(|e| e.name == "main/binary-amd64/Packages")
                    .unwrap()
                    .sha256
            }
            other => panic!("{other:?}"),
        };
        let flipped = format!(
            "{}{}",
            if sum.starts_with('0') { "1" } else { "0" },
            &sum[1..]
        );
        fs_err::write(tmp.path().join(inrel), t.replace(&sum, &flipped)).unwrap();
        let err = AptIndex::load_cached(&files, Some(cache.path().into())).unwrap_err();
        assert!(matches!(err, ReleaseError::ChecksumMismatch(_)), "{err}");
    }

    #[test]
    fn repository_layout_and_plain_files() {
        let tmp = tempfile::tempdir().unwrap();
        let suite = tmp.path().join("dists/test");
        let bin = suite.join("main/binary-amd64");
        fs_err::create_dir_all(&bin).unwrap();
        let text = "Package: a\nVersion: 1.0-1\nArchitecture: amd64\nDescription: x\n y\n\nPackage: a\nVersion: 1.0-2\nArchitecture: amd64\n\nPackage: a\nVersion: 9.0\nArchitecture: i386\n\nPackage: b\nArchitecture: all\n\nPackage: c\nVersion: :bad\nArchitecture: all\n\nPackage: d\nSource: dsrc (1.0)\nVersion: 1.0\nArchitecture: all\n";
        fs_err::write(bin.join("Packages"), text).unwrap();
        let digest = hex(&Sha256::digest(text.as_bytes()));
        fs_err::write(
            suite.join("Release"),
            format!(
                "Origin: test\nSHA256:\n {digest} {} main/binary-amd64/Packages\n",
                text.len()
            ),
        )
        .unwrap();
        let (idx, problems) = AptIndex::load(&[bin.join("Packages")]).unwrap();
        assert!(matches!(
            idx.sources()[0].checksum,
            ChecksumStatus::Verified { .. }
        ));
        assert_eq!(idx.sources()[0].stanzas, 6);
        assert_eq!(idx.candidate("a", "amd64"), Some("1.0-2"));
        assert_eq!(idx.candidate("a", "i386"), Some("9.0"));
        assert_eq!(idx.candidate("b", "amd64"), None);
        assert_eq!(idx.candidate("c", "amd64"), None);
        assert_eq!(idx.candidate_source("d", "amd64"), Some("dsrc"));
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems
            .iter()
            .all(|p| p.location.path.ends_with("Packages")));
        assert_eq!(problems[0].location.line, Some(15));
        // Without a Release file: loads, not verified.
        fs_err::remove_file(suite.join("Release")).unwrap();
        let (idx, _) = AptIndex::load(&[bin.join("Packages")]).unwrap();
        assert_eq!(idx.sources()[0].checksum, ChecksumStatus::NoInRelease);
        // Unsupported compression is an error naming the file.
        let xz = bin.join("Packages.xz");
        fs_err::write(&xz, b"x").unwrap();
        let err = AptIndex::load(&[xz]).unwrap_err().to_string();
        assert!(err.contains("Packages.xz"), "{err}");
    }

    #[test]
    fn release_parsing() {
        let t = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\nMD5Sum:\n 0123 1 x\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 contrib/Contents-all\n bad line\nAcquire-By-Hash: yes\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 not-sha256\n-----BEGIN PGP SIGNATURE-----\n";
        let e = parse_release_sha256(t);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, "contrib/Contents-all");
        assert_eq!(e[0].size, 0);
    }

    proptest! {
        #[test]
        fn release_parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse_release_sha256(&s);
        }
    }
}
