//! A *compiled feed*: one feed's advisories as a cache entry holds them (a postcard head with
//! the reader's problems and, per advisory, where its JSON lies and what the index needs of it,
//! then the advisories' JSON back to back), read back lazily. Below both [`super::feeds`] (whose
//! `FeedAdvisories` may hold one) and [`super::cache`] (which writes and finds the entries).

use std::path::{Path, PathBuf};

use super::advisory::source_for_kind;
use crate::model::{Advisory, Problem};

/// The head of a feed entry (postcard), followed by the advisories' JSON back to back.
#[derive(serde::Serialize, serde::Deserialize)]
struct FeedHead {
    name: String,
    kind: String,
    /// Problems with paths relative to the feed folder (as the reader gives them), as JSON
    /// (their optional fields are skipped when empty, which postcard cannot represent).
    problems: String,
    /// One item per advisory, in the reader's order.
    items: Vec<CompiledItem>,
    /// Bytes of advisory JSON after the head.
    blob_len: u64,
}

/// Where one advisory's JSON lies in a compiled feed, its checksum, and what the index needs of
/// it without decoding it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CompiledItem {
    /// The advisory's id (to recognise it when the feed has to be read again).
    pub id: String,
    start: u64,
    end: u64,
    /// CRC-32 of the JSON bytes.
    crc: u32,
    /// Withdrawn advisories are counted, never indexed.
    pub withdrawn: bool,
    /// (ecosystem, package) of each `affected` entry, in order, as the feed spells them.
    pub affected: Vec<(String, String)>,
}

impl CompiledItem {
    /// CRC-32 and length of the advisory's JSON (a content fingerprint: the fleet engine
    /// re-judges only packages whose advisories changed).
    pub fn checksum(&self) -> (u32, u64) {
        (self.crc, self.end.saturating_sub(self.start))
    }
}

/// A feed read back from its cache entry. Only the entry's head is read when the feed is
/// loaded (the key line, the problems, and an item per advisory); an advisory's JSON is read,
/// checked against its own CRC-32 and decoded when a lookup reaches it. A scan of a lockfile
/// thus reads and decodes the handful of advisories about its crates, not the whole database.
///
/// Damage found at that point (a checksum or decoding failure) is not trusted and not silent:
/// the entry is removed, the feed is read again from its files (once, on first damage), the
/// advisory taken from there by position and id, and a warning says so.
#[derive(Debug)]
pub struct CompiledFeed {
    file: std::fs::File,
    /// The entry's path (removed when found damaged).
    path: PathBuf,
    /// Offset of the advisories' JSON in the file.
    blob_at: u64,
    items: Vec<CompiledItem>,
    /// The feed, to read again from its files if the entry turns out damaged.
    name: String,
    kind: String,
    dir: PathBuf,
    reparsed: std::sync::OnceLock<Result<Vec<Advisory>, String>>,
}

impl CompiledFeed {
    /// Number of advisories.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, in order.
    pub fn items(&self) -> &[CompiledItem] {
        &self.items
    }

    /// Advisory `i`: from the entry when its bytes check out, else from the feed's files.
    pub fn decode(&self, i: usize) -> Result<Advisory, String> {
        let it = self
            .items
            .get(i)
            .ok_or_else(|| format!("no advisory {i} in the entry"))?;
        match self.read_item(it) {
            Ok(a) => Ok(a),
            Err(why) => self.reread_from_files(i, it, &why),
        }
    }

    fn read_item(&self, it: &CompiledItem) -> Result<Advisory, String> {
        use std::os::unix::fs::FileExt;
        let len = usize::try_from(it.end.saturating_sub(it.start)).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, self.blob_at + it.start)
            .map_err(|e| format!("cannot read {}: {e}", it.id))?;
        if crc32fast::hash(&buf) != it.crc {
            return Err(format!("the bytes of {} fail their checksum", it.id));
        }
        let a: Advisory =
            serde_json::from_slice(&buf).map_err(|e| format!("{} does not decode: {e}", it.id))?;
        if a.id != it.id {
            return Err(format!("{} holds {}", it.id, a.id));
        }
        Ok(a)
    }

    /// The damaged-entry path: remove the entry, read the feed from its files (once), take
    /// advisory `i` from there when it is still the same advisory.
    fn reread_from_files(
        &self,
        i: usize,
        it: &CompiledItem,
        why: &str,
    ) -> Result<Advisory, String> {
        let parsed = self.reparsed.get_or_init(|| {
            eprintln!(
                "warning: cache entry {} is damaged ({why}): removed; feed `{}` is read from {} instead",
                self.path.display(),
                self.name,
                self.dir.display()
            );
            let _ = fs_err::remove_file(&self.path);
            parse_feed(&self.name, &self.kind, &self.dir).map(|(advisories, _)| advisories)
        });
        let advisories = parsed
            .as_ref()
            .map_err(|e| format!("{why}, and feed `{}` cannot be read again: {e}", self.name))?;
        advisories
            .get(i)
            .filter(|a| a.id == it.id)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "{why}, and feed `{}` no longer has {} at that position",
                    self.name, it.id
                )
            })
    }

    /// Compile `advisories` into an entry: the head and the advisories' JSON.
    pub(super) fn encode(
        name: &str,
        kind: &str,
        advisories: &[Advisory],
        problems: &[Problem],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut blob = Vec::new();
        let mut items = Vec::with_capacity(advisories.len());
        for a in advisories {
            let start = blob.len();
            serde_json::to_writer(&mut blob, a).ok()?;
            items.push(CompiledItem {
                id: a.id.clone(),
                start: start as u64,
                end: blob.len() as u64,
                crc: crc32fast::hash(&blob[start..]),
                withdrawn: a.withdrawn.is_some(),
                affected: a
                    .affected
                    .iter()
                    .map(|f| (f.ecosystem.clone(), f.package.clone()))
                    .collect(),
            });
        }
        let head = FeedHead {
            name: name.to_owned(),
            kind: kind.to_owned(),
            problems: serde_json::to_string(problems).ok()?,
            items,
            blob_len: blob.len() as u64,
        };
        Some((postcard::to_stdvec(&head).ok()?, blob))
    }

    /// Open the entry in `path` written for `key` by `cache::write_entry` for feed `name` of
    /// `kind` in `dir`: its key line and head are read and checked (checksum, items tiling the
    /// advisories' bytes, file length); `None` when anything is off.
    pub(super) fn open(
        path: &Path,
        key: &str,
        name: &str,
        kind: &str,
        dir: &Path,
    ) -> Option<(Self, Vec<Problem>)> {
        use std::io::Read;
        use std::os::unix::fs::FileExt;
        let mut file = fs_err::File::open(path).ok()?.into_parts().0;
        let file_len = file.metadata().ok()?.len();
        let mut first = vec![0u8; 512];
        let n = file.read(&mut first).ok()?;
        let nl = first[..n].iter().position(|b| *b == b'\n')?;
        let (k, sum) = std::str::from_utf8(&first[..nl]).ok()?.split_once(' ')?;
        if k != key {
            return None;
        }
        let head_len: u64 = sum.rsplit(':').next()?.parse().ok()?;
        let head_at = nl as u64 + 1;
        if head_at.checked_add(head_len)? > file_len {
            return None;
        }
        let mut head_bytes = vec![0u8; usize::try_from(head_len).ok()?];
        file.read_exact_at(&mut head_bytes, head_at).ok()?;
        if checksum(&head_bytes) != sum {
            return None;
        }
        let head: FeedHead = postcard::from_bytes(&head_bytes).ok()?;
        if head.name != name || head.kind != kind {
            return None;
        }
        let blob_at = head_at + head_len;
        if blob_at.checked_add(head.blob_len)? != file_len {
            return None;
        }
        // Every item must lie inside the blob, in order, without gaps or overlaps.
        let mut at = 0u64;
        for it in &head.items {
            if it.start != at || it.end < it.start {
                return None;
            }
            at = it.end;
        }
        if at != head.blob_len {
            return None;
        }
        let problems: Vec<Problem> = serde_json::from_str(&head.problems).ok()?;
        Some((
            Self {
                file,
                path: path.to_path_buf(),
                blob_at,
                items: head.items,
                name: name.to_owned(),
                kind: kind.to_owned(),
                dir: dir.to_path_buf(),
                reparsed: std::sync::OnceLock::new(),
            },
            problems,
        ))
    }
}

/// The checksum of an entry's body: CRC-32 and length. It detects damage (a torn write, a
/// flipped bit), which is all it is for; trust comes from the key, and whoever can write the
/// cache directory could write any checksum. CRC-32 runs at memory speed, where a sha256 of a
/// feed entry was a tenth of a warm lockfile scan.
pub(super) fn checksum(body: &[u8]) -> String {
    format!("crc32:{:08x}:{}", crc32fast::hash(body), body.len())
}

/// Feed `name` of `kind` read from its files in `dir`: its advisories and problems.
pub(super) fn parse_feed(
    name: &str,
    kind: &str,
    dir: &Path,
) -> Result<(Vec<Advisory>, Vec<Problem>), String> {
    let src = source_for_kind(kind, name).ok_or_else(|| format!("unknown feed kind `{kind}`"))?;
    let l = src.load(dir).map_err(|e| e.to_string())?;
    Ok((l.advisories, l.problems))
}
