//! A *compiled feed*: one feed's advisories as a cache entry holds them (a postcard head with
//! the reader's problems and, per advisory, where its JSON lies and what the index needs of it,
//! then the advisories' JSON back to back), read back lazily. Below both [`super::feeds`] (whose
//! `FeedAdvisories` may hold one) and [`super::cache`] (which writes and finds the entries).

use std::path::{Path, PathBuf};

use super::advisory::{source_for_kind, SourceError};
use crate::model::{Advisory, Problem};

/// Why a feed could not be read from its files (what its status's note then says).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedLoadError {
    /// A feed definition's `kind` no reader has.
    #[error("unknown feed kind `{0}`")]
    UnknownKind(String),
    /// The reader refused the folder (naming it).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The reader's thread panicked.
    #[error("the feed reader panicked")]
    Panicked,
    /// No reader was run for it (never expected: every job is read).
    #[error("not loaded")]
    NotLoaded,
}

/// Why an advisory of a compiled feed could not be had: each names the cache entry (the file)
/// and the advisory (the record); a decoding failure names the field too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompiledError {
    /// An index past the entry's advisories.
    #[error("{}: no advisory {index} in the entry", .entry.display())]
    NoSuchAdvisory {
        /// The cache entry.
        entry: PathBuf,
        /// The index asked for.
        index: usize,
    },
    /// The advisory's bytes could not be read.
    #[error("{}: cannot read {id}: {message}", .entry.display())]
    Read {
        /// The cache entry.
        entry: PathBuf,
        /// The advisory.
        id: String,
        /// The I/O error.
        message: String,
    },
    /// The advisory's bytes fail their CRC-32.
    #[error("{}: the bytes of {id} fail their checksum", .entry.display())]
    Checksum {
        /// The cache entry.
        entry: PathBuf,
        /// The advisory.
        id: String,
    },
    /// The advisory's JSON does not decode.
    #[error("{}: {id} does not decode at `{field}`: {message}", .entry.display())]
    Decode {
        /// The cache entry.
        entry: PathBuf,
        /// The advisory.
        id: String,
        /// Where in the advisory (`affected[0].ranges`; `.` for the whole).
        field: String,
        /// The decoder's error.
        message: String,
    },
    /// The bytes are another advisory's.
    #[error("{}: {id} holds {found}", .entry.display())]
    OtherAdvisory {
        /// The cache entry.
        entry: PathBuf,
        /// The advisory expected.
        id: String,
        /// The advisory found.
        found: String,
    },
    /// The entry is damaged and the feed's files could not be read again.
    #[error("{damage}, and feed `{feed}` cannot be read again from {}: {message}", .dir.display())]
    Reread {
        /// The damage found first.
        damage: Box<Self>,
        /// The feed.
        feed: String,
        /// Its folder.
        dir: PathBuf,
        /// Why it cannot be read.
        message: String,
    },
    /// The entry is damaged and the feed's files no longer hold the advisory where it was.
    #[error("{damage}, and feed `{feed}` no longer has {id} at that position")]
    Moved {
        /// The damage found first.
        damage: Box<Self>,
        /// The feed.
        feed: String,
        /// The advisory.
        id: String,
    },
}

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
    reparsed: std::sync::OnceLock<Result<Vec<Advisory>, FeedLoadError>>,
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
    pub fn decode(&self, i: usize) -> Result<Advisory, CompiledError> {
        let it = self
            .items
            .get(i)
            .ok_or_else(|| CompiledError::NoSuchAdvisory {
                entry: self.path.clone(),
                index: i,
            })?;
        match self.read_item(it) {
            Ok(a) => Ok(a),
            Err(why) => self.reread_from_files(i, it, why),
        }
    }

    fn read_item(&self, it: &CompiledItem) -> Result<Advisory, CompiledError> {
        use std::os::unix::fs::FileExt;
        let read_error = |message: String| CompiledError::Read {
            entry: self.path.clone(),
            id: it.id.clone(),
            message,
        };
        let len = usize::try_from(it.end.saturating_sub(it.start))
            .map_err(|e| read_error(e.to_string()))?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, self.blob_at + it.start)
            .map_err(|e| read_error(e.to_string()))?;
        if crc32fast::hash(&buf) != it.crc {
            return Err(CompiledError::Checksum {
                entry: self.path.clone(),
                id: it.id.clone(),
            });
        }
        let de = &mut serde_json::Deserializer::from_slice(&buf);
        let a: Advisory =
            serde_path_to_error::deserialize(de).map_err(|e| CompiledError::Decode {
                entry: self.path.clone(),
                id: it.id.clone(),
                field: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        if a.id != it.id {
            return Err(CompiledError::OtherAdvisory {
                entry: self.path.clone(),
                id: it.id.clone(),
                found: a.id,
            });
        }
        Ok(a)
    }

    /// The damaged-entry path: remove the entry, read the feed from its files (once), take
    /// advisory `i` from there when it is still the same advisory.
    fn reread_from_files(
        &self,
        i: usize,
        it: &CompiledItem,
        why: CompiledError,
    ) -> Result<Advisory, CompiledError> {
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
        let advisories = match parsed {
            Ok(a) => a,
            Err(e) => {
                return Err(CompiledError::Reread {
                    damage: Box::new(why),
                    feed: self.name.clone(),
                    dir: self.dir.clone(),
                    message: e.to_string(),
                })
            }
        };
        match advisories.get(i).filter(|a| a.id == it.id) {
            Some(a) => Ok(a.clone()),
            None => Err(CompiledError::Moved {
                damage: Box::new(why),
                feed: self.name.clone(),
                id: it.id.clone(),
            }),
        }
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
) -> Result<(Vec<Advisory>, Vec<Problem>), FeedLoadError> {
    let src = source_for_kind(kind, name).ok_or_else(|| FeedLoadError::UnknownKind(kind.into()))?;
    let l = src.load(dir)?;
    Ok((l.advisories, l.problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry holding one advisory whose JSON has the right checksum but not the right shape.
    fn entry_with(path: &Path, json: &[u8]) {
        let head = FeedHead {
            name: "n".into(),
            kind: "osv".into(),
            problems: "[]".into(),
            items: vec![CompiledItem {
                id: "X-1".into(),
                start: 0,
                end: json.len() as u64,
                crc: crc32fast::hash(json),
                withdrawn: false,
                affected: Vec::new(),
            }],
            blob_len: json.len() as u64,
        };
        let head = postcard::to_stdvec(&head).unwrap();
        let mut bytes = format!("k {}\n", checksum(&head)).into_bytes();
        bytes.extend(&head);
        bytes.extend(json);
        fs_err::write(path, bytes).unwrap();
    }

    #[test]
    fn an_advisory_that_does_not_decode_names_the_entry_the_advisory_and_the_field() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("e.feed");
        entry_with(
            &f,
            br#"{"id":"X-1","source":"n","kind":"vulnerability","affected":[{"ecosystem":"PyPI","package":"nova","ranges":7}]}"#,
        );
        let (c, _) = CompiledFeed::open(&f, "k", "n", "osv", &d.path().join("no-feed")).unwrap();
        assert!(matches!(
            c.decode(5),
            Err(CompiledError::NoSuchAdvisory { index: 5, .. })
        ));
        let e = c.decode(0).unwrap_err();
        let damage = match &e {
            CompiledError::Reread { damage, .. } | CompiledError::Moved { damage, .. } => damage,
            other => panic!("{other:?}"),
        };
        match &**damage {
            CompiledError::Decode {
                entry, id, field, ..
            } => {
                assert_eq!(entry, &f);
                assert_eq!(id, "X-1");
                assert_eq!(field, "affected[0].ranges");
            }
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains(&f.display().to_string())
                && text.contains("X-1 does not decode at `affected[0].ranges`"),
            "{text}"
        );
        assert!(!f.exists(), "a damaged entry is removed");
    }
}
