//! A compiled cache of loaded feeds, so a scan does not parse thousands of feed files each time.
//!
//! [`load_all_cached`] gives what [`load_all`] gives. Each feed (and the operator's `local`
//! folder) has one cache file, `<cache>/feeds/<id>.feed`, named after the feed's identity
//! (canonical folder path, name, kind). Its body is a *compiled feed* ([`CompiledFeed`]): a
//! postcard head with the problems the reader produced and, per advisory, where its JSON lies and
//! the (ecosystem, package) pairs the index needs, then the advisories' JSON back to back. A warm
//! load reads the file, checks it, builds the index from the head, and decodes an advisory only
//! when a lookup reaches it: a lockfile scan against the whole RustSec database decodes the
//! handful of advisories about its crates.
//!
//! The first line of an entry holds its key and a checksum of the body (CRC-32 and length: it
//! detects damage; trust comes from the key). The key is a sha256 over the cache format version,
//! the nminus version and the running executable's size and modification time (a rebuilt reader
//! never trusts an old entry), the feed's name, kind and folder, the folder's canonical path and
//! path as given, and the folder's *fingerprint* (one function, `entry_key`, for feeds and
//! release catalogs alike). A feed whose key and checksum match is read from its entry; any other
//! (changed, new, corrupt, unreadable, or written by another build) is parsed from its files and
//! its entry rewritten, atomically. Feeds are independent: syncing one feed re-parses only that
//! one. Feed status and age notes are always computed afresh (they depend on the sync state and
//! the date, not on the files).
//!
//! # The fingerprint, and its trade-offs
//!
//! - **A folder `nminus sync` wrote** (its feed has a revision in `<data>/.nminus/state.json`):
//!   the recorded revision (git commit or content digest) and sync time, and the stat (inode,
//!   size, modification and change times) of the folder itself. Sync replaces a feed folder
//!   whole, so every sync that brings new content, and any folder moved into its place, changes
//!   the key; no file inside is visited, which is what makes a warm scan cost a few
//!   milliseconds. The price: a file edited *in place* inside a synced feed folder is not
//!   noticed until the next sync changes the revision. Synced folders belong to `nminus sync`;
//!   in-house advisories go to `advisories/local` (always walked, below), and
//!   `nminus scan --no-cache` reads every file regardless. Release catalogs read from synced
//!   folders (openstack/releases, endoflife.date, openstack/requirements: [`cached`] with the
//!   [`SyncedFolder`]s of [`CacheDir`]) are keyed the same way; walking openstack/releases'
//!   6,000 files cost more than reading its entry back.
//! - **Any other folder** (the `local` advisories, a data directory laid out by hand or by
//!   another tool): the sorted list of (relative path, size, modification time, change time,
//!   inode) of every file the readers could read (the same walk: hidden names skipped, symbolic
//!   links followed). That costs one `stat` per file (a few tens of milliseconds for the 7,000
//!   advisory files of the shared data) instead of reading and hashing every byte. It can miss a
//!   change only if a file is rewritten in place with the same size and the same modification
//!   and change times, which a normal write cannot do: the change time (ctime) is set by the
//!   kernel on every write and cannot be set back by `touch`, `cp -p`, `tar` or `rsync -t`.
//!
//! Either way, copying or restoring a data directory (new inodes and ctimes) makes every entry
//! miss once.
//!
//! # Where
//!
//! [`default_cache_dir`]: `$NMINUS_CACHE`, else `$XDG_CACHE_HOME/nminus`, else
//! `~/.cache/nminus`; always outside the data directory, which may be read-only or shared. No
//! cache directory (no `HOME`) means no caching.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub(crate) use super::compiled::CompiledFeed;
use super::compiled::{checksum, parse_feed, FeedLoadError};
use super::feeds::{
    age_note, load_all, FeedAdvisories, FeedSync, FeedsConfig, LoadedFeeds, SyncState,
};
use crate::model::{FeedStatus, Problem};
use crate::util::hex;

/// Version of the cache file format; bump when it or a reader's output changes meaning.
pub(crate) const CACHE_FORMAT: u32 = 4;

/// The default cache directory: `$NMINUS_CACHE`, `$XDG_CACHE_HOME/nminus` or
/// `$HOME/.cache/nminus` (relative values are ignored).
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let abs = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(p) = std::env::var_os("NMINUS_CACHE").and_then(abs) {
        return Some(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").and_then(abs) {
        return Some(p.join("nminus"));
    }
    std::env::var_os("HOME")
        .and_then(abs)
        .map(|h| h.join(".cache").join("nminus"))
}

/// One feed's advisories and problems, or why it could not be loaded.
type FeedLoad = Result<(FeedAdvisories, Vec<Problem>), FeedLoadError>;

/// [`load_all`], through the cache in `cache_dir` (default: [`default_cache_dir`]). The result
/// is the same as `load_all`'s; only the time differs.
pub fn load_all_cached(
    cfg: &FeedsConfig,
    data: &Path,
    local: Option<&Path>,
    today: Option<time::Date>,
    cache_dir: Option<&Path>,
) -> LoadedFeeds {
    let Some(cache) = cache_dir.map(Path::to_path_buf).or_else(default_cache_dir) else {
        return load_all(cfg, data, local, today);
    };
    let entries_dir = cache.join("feeds");
    let writable = fs_err::create_dir_all(&entries_dir).is_ok();
    let state = SyncState::load(data);
    let jobs = feed_jobs(cfg, data, local);
    let build = build_id();
    // A feed folder that `nminus sync` wrote is keyed by its recorded revision (see the module
    // documentation); the operator's `local` folder (the job with no folder name) and folders
    // sync never wrote are fingerprinted file by file.
    let synced: Vec<Option<&FeedSync>> = jobs
        .iter()
        .map(|(name, _, folder, _, _)| {
            if folder.is_empty() {
                return None;
            }
            state.feeds.get(name).filter(|f| f.revision.is_some())
        })
        .collect();
    let input = |i: usize| {
        let (_, _, _, dir, _) = &jobs[i];
        match synced[i] {
            Some(f) => Input::Synced {
                dir,
                revision: f.revision.as_deref().unwrap_or_default(),
                synced_at: &f.synced_at,
            },
            None => Input::Tree(dir),
        }
    };
    // Synced feeds have cheap keys: their entries are tried on this thread first (a warm
    // lockfile scan starts no thread at all). What is left (a miss to parse, a folder to walk)
    // gets a thread per feed but the last, which this thread reads.
    // `missed[i]`: the entry key and file of a synced feed whose entry did not open, so that the
    // thread that parses it neither computes the key nor tries the entry again.
    let mut missed: Vec<Option<EntryFile>> = vec![None; jobs.len()];
    let mut results: Vec<Option<FeedLoad>> = (0..jobs.len())
        .map(|i| {
            let (name, kind, folder, dir, _) = &jobs[i];
            synced[i]?;
            let entry = feed_entry(&entries_dir, &build, name, kind, folder, input(i));
            let hit = entry.as_ref().and_then(|(key, file)| {
                CompiledFeed::open(file, key, name, kind, dir)
                    .map(|(c, problems)| Ok((FeedAdvisories::Compiled(c), problems)))
            });
            if hit.is_none() {
                missed[i] = Some(entry);
            }
            hit
        })
        .collect();
    let pending: Vec<(usize, Option<EntryFile>)> = (0..jobs.len())
        .filter(|i| results[*i].is_none())
        .map(|i| (i, missed[i].take()))
        .collect();
    let run = |i: usize, missed: Option<EntryFile>| {
        let (name, kind, folder, dir, _) = &jobs[i];
        let entry = match missed {
            Some(entry) => Entry::Missed(entry),
            None => Entry::Unknown(feed_entry(
                &entries_dir,
                &build,
                name,
                kind,
                folder,
                input(i),
            )),
        };
        load_one(name, kind, dir, entry, writable)
    };
    std::thread::scope(|s| {
        let mut pending = pending;
        let last = pending.pop();
        let run = &run;
        let handles: Vec<_> = pending
            .into_iter()
            .map(|(i, m)| (i, s.spawn(move || run(i, m))))
            .collect();
        if let Some((i, m)) = last {
            results[i] = Some(run(i, m));
        }
        for (i, h) in handles {
            results[i] = Some(h.join().unwrap_or(Err(FeedLoadError::Panicked)));
        }
    });
    let results: Vec<FeedLoad> = results
        .into_iter()
        .map(|r| r.unwrap_or(Err(FeedLoadError::NotLoaded)))
        .collect();
    assemble(jobs, results, &state, today)
}

/// What [`load_all_cached`] loads: (name, kind, folder, directory, max age in days) per
/// advisory feed, and the operator's `local` folder (no folder name) when there is one.
type Job = (String, String, String, PathBuf, Option<u32>);

fn feed_jobs(cfg: &FeedsConfig, data: &Path, local: Option<&Path>) -> Vec<Job> {
    let mut jobs: Vec<Job> = cfg
        .feeds
        .iter()
        // Release-data feeds are read by `crate::releases`, not cached here (as `load_all`).
        .filter(|f| super::advisory::KINDS.contains(&f.kind.as_str()))
        .map(|f| {
            (
                f.name.clone(),
                f.kind.clone(),
                f.folder.clone(),
                data.join(&f.folder),
                f.max_age_days,
            )
        })
        .collect();
    if let Some(l) = local.filter(|l| l.is_dir()) {
        jobs.push((
            "local".to_owned(),
            "osv".to_owned(),
            String::new(),
            l.to_path_buf(),
            None,
        ));
    }
    jobs
}

/// The loaded feeds in job order: a status per feed, problems with their folder's path.
fn assemble(
    jobs: Vec<Job>,
    results: Vec<FeedLoad>,
    state: &SyncState,
    today: Option<time::Date>,
) -> LoadedFeeds {
    let mut out = LoadedFeeds::default();
    for ((name, kind, _, dir, max_age), r) in jobs.into_iter().zip(results) {
        match r {
            Ok((advisories, mut problems)) => {
                let note = age_note(state, &name, max_age, today);
                out.status.push(FeedStatus {
                    name,
                    kind,
                    loaded: true,
                    advisories: advisories.len(),
                    note,
                });
                for p in &mut problems {
                    p.location.path = format!("{}/{}", dir.display(), p.location.path);
                }
                out.advisories.push(advisories);
                out.problems.append(&mut problems);
            }
            Err(e) => out.status.push(FeedStatus {
                name,
                kind,
                loaded: false,
                advisories: 0,
                note: Some(e.to_string()),
            }),
        }
    }
    out
}

/// A feed folder that `nminus sync` wrote: its path (as the readers are given it) and the
/// revision and time `<data>/.nminus/state.json` records for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedFolder {
    /// `<data>/<folder>`.
    pub dir: PathBuf,
    /// Git commit or content digest.
    pub revision: String,
    /// When it was synced.
    pub synced_at: String,
}

/// The folders of `cfg`'s feeds that `nminus sync` wrote into `data` (those with a recorded
/// revision in `state`, the data directory's sync state), for keying release catalogs by
/// revision as feed entries are.
pub(crate) fn synced_folders(
    cfg: &FeedsConfig,
    data: &Path,
    state: &SyncState,
) -> Vec<SyncedFolder> {
    cfg.feeds
        .iter()
        .filter_map(|f| {
            let s = state.feeds.get(&f.name)?;
            Some(SyncedFolder {
                dir: data.join(&f.folder),
                revision: s.revision.clone()?,
                synced_at: s.synced_at.clone(),
            })
        })
        .collect()
}

/// Where [`cached`] keeps its entries, and which input folders `nminus sync` wrote (keyed by
/// their revision, as feed folders are: see the module documentation); any other input is
/// fingerprinted file by file.
#[derive(Debug, Clone, Copy)]
pub struct CacheDir<'a> {
    /// The cache directory (entries go to its `catalogs/`).
    pub path: &'a Path,
    /// Synced folders among the inputs (matched by path as given).
    pub synced: &'a [SyncedFolder],
}

impl<'a> From<&'a Path> for CacheDir<'a> {
    fn from(path: &'a Path) -> Self {
        Self { path, synced: &[] }
    }
}

/// A value derived from the files under `inputs` (directories, walked as feed folders are, or
/// single files), through an entry in `<cache>/catalogs/`: the release catalogs
/// (openstack/releases, endoflife.date, apt indexes) whose parsing costs far more than reading
/// back their result. The key covers the same build identity as the feed entries, `what`, the
/// inputs' canonical paths and their fingerprints (a synced folder: its revision and the
/// folder's own stat); any miss, damage or unreadable entry means `parse` runs and the entry is
/// rewritten (best effort). `cache: None` only parses.
///
/// An `Err` from `parse` is returned and never cached.
pub(crate) fn cached<T, E>(
    cache: Option<CacheDir<'_>>,
    what: &str,
    inputs: &[PathBuf],
    parse: impl FnOnce() -> Result<(T, Vec<Problem>), E>,
) -> Result<(T, Vec<Problem>), E>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let Some(cache) = cache else {
        return parse();
    };
    let inputs: Vec<Input<'_>> = inputs
        .iter()
        .map(|p| match cache.synced.iter().find(|s| s.dir == *p) {
            Some(s) => Input::Synced {
                dir: p,
                revision: &s.revision,
                synced_at: &s.synced_at,
            },
            None => Input::Tree(p),
        })
        .collect();
    let Some((key, id)) = entry_key(&build_id(), &[what], &inputs) else {
        return parse();
    };
    let dir = cache.path.join("catalogs");
    let file = dir.join(format!("{id}.bin"));
    if let Some((bytes, start)) = read_checked(&file, &key) {
        if let Ok((v, problems)) = postcard::from_bytes::<(T, String)>(&bytes[start..]) {
            if let Ok(problems) = serde_json::from_str::<Vec<Problem>>(&problems) {
                return Ok((v, problems));
            }
        }
    }
    let (v, problems) = parse()?;
    if fs_err::create_dir_all(&dir).is_ok() {
        // The catalog in postcard (compact, several times faster to read back than JSON); the
        // problems, whose optional fields postcard cannot skip, as JSON inside it.
        let problems_json = serde_json::to_string(&problems).unwrap_or_default();
        if let Ok(body) = postcard::to_stdvec(&(&v, problems_json)) {
            write_entry(&file, &key, &body, &[]);
        }
    }
    Ok((v, problems))
}

/// What an entry's key covers of one input.
#[derive(Clone, Copy)]
enum Input<'a> {
    /// A directory, fingerprinted by [`fingerprint`], or a single file, by its stat.
    Tree(&'a Path),
    /// A feed folder written by `nminus sync`: its recorded revision and time, and the stat of
    /// the folder itself (sync replaces a feed folder whole, so a new sync, or a folder put in
    /// its place by other means, changes its inode or times).
    Synced {
        dir: &'a Path,
        revision: &'a str,
        synced_at: &'a str,
    },
}

/// The key an entry must carry to be trusted, and its id (file name stem), for an entry named by
/// `parts` over `inputs`. The key covers the cache format, the nminus version and `build`,
/// `parts`, each input's canonical path and path as given (the value names files by it) and
/// its fingerprint (see [`Input`]); the id covers `parts` and the canonical paths, so that a
/// changed input rewrites its entry. `None` when an input cannot be read: the caller parses
/// (and the reader reports the error).
fn entry_key(build: &str, parts: &[&str], inputs: &[Input<'_>]) -> Option<(String, String)> {
    let mut key = Sha256::new();
    let mut id = Sha256::new();
    for part in [&CACHE_FORMAT.to_string(), env!("CARGO_PKG_VERSION"), build] {
        key.update(part.as_bytes());
        key.update([0u8]);
    }
    for part in parts {
        for h in [&mut key, &mut id] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
    }
    for input in inputs {
        let (path, canon, fp): (&Path, PathBuf, [u8; 32]) = match *input {
            Input::Tree(p) => {
                let canon = fs_err::canonicalize(p).ok()?;
                let m = fs_err::metadata(&canon).ok()?;
                let fp = if m.is_dir() {
                    fingerprint(&canon).ok()?
                } else {
                    Sha256::digest(stamp(&m).as_bytes()).into()
                };
                (p, canon, fp)
            }
            Input::Synced {
                dir,
                revision,
                synced_at,
            } => {
                let canon = fs_err::canonicalize(dir).ok()?;
                let m = fs_err::metadata(&canon).ok()?;
                if !m.is_dir() {
                    return None;
                }
                let text = format!("synced\0{revision}\0{synced_at}\0{}", stamp(&m));
                (dir, canon, Sha256::digest(text.as_bytes()).into())
            }
        };
        for h in [&mut key, &mut id] {
            h.update(canon.to_string_lossy().as_bytes());
            h.update([0u8]);
        }
        key.update(path.to_string_lossy().as_bytes());
        key.update([0u8]);
        key.update(fp);
    }
    Some((hex(&key.finalize()), hex(&id.finalize())[..32].to_owned()))
}

/// The entry in `file` and where its body starts, when its key line says `key` and its checksum
/// holds.
fn read_checked(file: &Path, key: &str) -> Option<(Vec<u8>, usize)> {
    let bytes = fs_err::read(file).ok()?;
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let (k, sum) = std::str::from_utf8(&bytes[..nl]).ok()?.split_once(' ')?;
    if k != key || sum != checksum(&bytes[nl + 1..]) {
        return None;
    }
    Some((bytes, nl + 1))
}

/// Write an entry, atomically, best effort (a cache that cannot be written only costs time): the
/// key line (the key, and the checksum and length of `checked`), `checked`, then `rest`. A
/// release-catalog entry is all `checked`; a feed entry checks its head here and each
/// advisory of `rest` by its own checksum (see [`CompiledFeed`]).
fn write_entry(file: &Path, key: &str, checked: &[u8], rest: &[u8]) {
    let mut bytes = Vec::with_capacity(checked.len() + rest.len() + 160);
    bytes.extend_from_slice(key.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(checksum(checked).as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(checked);
    bytes.extend_from_slice(rest);
    let _ = crate::util::Atomic {
        create_dir: true,
        ..crate::util::Atomic::default()
    }
    .write(file, &bytes);
}

/// The key a feed's entry must carry and the entry's file; `None` when the folder cannot be
/// fingerprinted (missing, unreadable: the reader gives the error).
fn feed_entry(
    entries_dir: &Path,
    build: &str,
    name: &str,
    kind: &str,
    folder: &str,
    input: Input<'_>,
) -> Option<(String, PathBuf)> {
    let (key, id) = entry_key(build, &[name, kind, folder], &[input])?;
    Some((key, entries_dir.join(format!("{id}.feed"))))
}

/// A feed's entry key and file; `None` when the folder cannot be fingerprinted (missing,
/// unreadable: the reader then gives the error).
type EntryFile = Option<(String, PathBuf)>;

/// A feed's cache entry as `load_one` gets it.
enum Entry {
    /// Not tried yet.
    Unknown(EntryFile),
    /// Tried on the calling thread, and it did not open.
    Missed(EntryFile),
}

/// One feed: from its cache entry when the key matches (compiled: decoded on use), else from
/// its files (rewriting the entry).
fn load_one(name: &str, kind: &str, dir: &Path, entry: Entry, writable: bool) -> FeedLoad {
    let parse = || parse_feed(name, kind, dir);
    let (key, file) = match entry {
        Entry::Unknown(None) | Entry::Missed(None) => {
            let (advisories, problems) = parse()?;
            return Ok((FeedAdvisories::Parsed(advisories), problems));
        }
        Entry::Unknown(Some((key, file))) => {
            if let Some((compiled, problems)) = CompiledFeed::open(&file, &key, name, kind, dir) {
                return Ok((FeedAdvisories::Compiled(compiled), problems));
            }
            (key, file)
        }
        Entry::Missed(Some(kf)) => kf,
    };
    let (advisories, problems) = parse()?;
    if writable {
        if let Some((head, blob)) = CompiledFeed::encode(name, kind, &advisories, &problems) {
            write_entry(&file, &key, &head, &blob);
        }
    }
    Ok((FeedAdvisories::Parsed(advisories), problems))
}

/// The running executable's size and modification time: a rebuilt nminus (whose readers may
/// have changed without a version bump) does not trust entries of another build.
fn build_id() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| fs_err::metadata(p).ok())
        .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default()
}

/// sha256 over the sorted (relative path, size, mtime, ctime, inode) of every file the readers
/// could read under `dir` (hidden names skipped, symbolic links followed, 32 levels at most).
fn fingerprint(dir: &Path) -> std::io::Result<[u8; 32]> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut stack = vec![(dir.to_owned(), String::new(), 0usize)];
    while let Some((path, rel, depth)) = stack.pop() {
        for entry in fs_err::read_dir(&path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            // `DirEntry::metadata` is one `fstatat` relative to the open directory (no path
            // walk); a symbolic link is followed with a full `stat`.
            let m = match entry.metadata() {
                Ok(m) if m.file_type().is_symlink() => fs_err::metadata(entry.path()),
                other => other,
            };
            let Ok(m) = m else {
                // The reader reports it; an unreadable entry still counts.
                files.push((child_rel, "unreadable".to_owned()));
                continue;
            };
            if m.is_dir() {
                if depth < 32 {
                    stack.push((entry.path(), child_rel, depth + 1));
                }
            } else {
                files.push((child_rel, stamp(&m)));
            }
        }
    }
    files.sort_unstable();
    let mut h = Sha256::new();
    for (rel, st) in files {
        h.update(rel.as_bytes());
        h.update([0u8]);
        h.update(st.as_bytes());
        h.update([0u8]);
    }
    Ok(h.finalize().into())
}

#[cfg(unix)]
fn stamp(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {}.{} {}.{} {}:{}",
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.dev(),
        m.ino()
    )
}

#[cfg(not(unix))]
fn stamp(m: &std::fs::Metadata) -> String {
    format!("{} {:?}", m.len(), m.modified().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Advisory;
    use crate::sources::advisory::source_for_kind;

    #[test]
    fn fingerprint_sees_content_changes_and_ignores_hidden_files() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir(d.path().join("sub")).unwrap();
        fs_err::write(d.path().join("sub/a.json"), "1").unwrap();
        let a = fingerprint(d.path()).unwrap();
        assert_eq!(a, fingerprint(d.path()).unwrap());
        fs_err::write(d.path().join(".hidden"), "x").unwrap();
        assert_eq!(a, fingerprint(d.path()).unwrap());
        // Same size, new content: the change time moves.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs_err::write(d.path().join("sub/a.json"), "2").unwrap();
        assert_ne!(a, fingerprint(d.path()).unwrap());
    }

    /// `cached`: parsed once, then read back; a changed input, a damaged entry or another
    /// spelling of the path parse again; an error is never cached; no cache dir always parses.
    #[test]
    fn cached_values_follow_their_inputs() {
        let cache = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        fs_err::write(d.path().join("a.txt"), "one").unwrap();
        let parses = std::cell::Cell::new(0);
        let load = |dir: &Path, c: Option<&Path>| {
            cached(c.map(CacheDir::from), "test", &[dir.to_path_buf()], || {
                parses.set(parses.get() + 1);
                let t = fs_err::read_to_string(dir.join("a.txt")).map_err(|e| e.to_string())?;
                if t == "bad" {
                    return Err("bad".to_owned());
                }
                let p = Problem::new(
                    crate::model::Location::path(dir.join("a.txt").display().to_string()),
                    crate::model::ProblemKind::Skipped,
                    "note",
                );
                Ok((t, vec![p]))
            })
        };
        let first = load(d.path(), Some(cache.path())).unwrap();
        assert_eq!(first.0, "one");
        assert_eq!(load(d.path(), Some(cache.path())).unwrap(), first);
        assert_eq!(parses.get(), 1);
        // Another spelling of the same directory: its own problems' paths.
        let other = d
            .path()
            .join(".")
            .join("..")
            .join(d.path().file_name().unwrap());
        let o = load(&other, Some(cache.path())).unwrap();
        assert_eq!(parses.get(), 2);
        assert!(o.1[0].location.path.contains(".."), "{:?}", o.1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs_err::write(d.path().join("a.txt"), "two").unwrap();
        assert_eq!(load(d.path(), Some(cache.path())).unwrap().0, "two");
        assert_eq!(parses.get(), 3);
        // Damage every entry: parsed again, never a wrong value.
        for e in fs_err::read_dir(cache.path().join("catalogs")).unwrap() {
            let p = e.unwrap().path();
            let mut b = fs_err::read(&p).unwrap();
            let last = b.len() - 1;
            b[last] ^= 0x55;
            fs_err::write(&p, b).unwrap();
        }
        assert_eq!(load(d.path(), Some(cache.path())).unwrap().0, "two");
        assert_eq!(parses.get(), 4);
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs_err::write(d.path().join("a.txt"), "bad").unwrap();
        assert!(load(d.path(), Some(cache.path())).is_err());
        assert!(load(d.path(), Some(cache.path())).is_err());
        assert_eq!(parses.get(), 6);
        assert!(load(d.path(), None).is_err());
        assert_eq!(parses.get(), 7);
    }

    /// A release catalog in a folder `nminus sync` wrote is keyed by the recorded revision and
    /// the folder's own stat: a file edited in place inside it is not looked at (no walk), a new
    /// revision or a folder put in its place parses again; the same folder not listed as synced
    /// is walked and sees the edit.
    #[test]
    fn synced_catalog_folders_are_keyed_by_revision() {
        let cache = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("releases");
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("a.txt"), "one").unwrap();
        let parses = std::cell::Cell::new(0);
        let load = |synced: &[SyncedFolder]| -> String {
            let c = CacheDir {
                path: cache.path(),
                synced,
            };
            let (v, _): (String, Vec<Problem>) =
                cached(Some(c), "test", std::slice::from_ref(&dir), || {
                    parses.set(parses.get() + 1);
                    fs_err::read_to_string(dir.join("a.txt")).map(|t| (t, Vec::new()))
                })
                .unwrap();
            v
        };
        let rev = |r: &str| {
            vec![SyncedFolder {
                dir: dir.clone(),
                revision: r.to_owned(),
                synced_at: "2026-11-25T00:00:00Z".to_owned(),
            }]
        };
        assert_eq!(load(&rev("r1")), "one");
        assert_eq!(load(&rev("r1")), "one");
        assert_eq!(parses.get(), 1);
        // Edited in place: the synced key does not see it (the documented trade-off)...
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs_err::write(dir.join("a.txt"), "two").unwrap();
        assert_eq!(load(&rev("r1")), "one");
        assert_eq!(parses.get(), 1);
        // ...a walk does, and a new revision does.
        assert_eq!(load(&[]), "two");
        assert_eq!(load(&rev("r2")), "two");
        assert_eq!(parses.get(), 3);
        // A folder moved into its place (as sync does) with the same revision recorded.
        let fresh = data.path().join("fresh");
        fs_err::create_dir_all(&fresh).unwrap();
        fs_err::write(fresh.join("a.txt"), "three").unwrap();
        fs_err::remove_dir_all(&dir).unwrap();
        fs_err::rename(&fresh, &dir).unwrap();
        assert_eq!(load(&rev("r2")), "three");
        assert_eq!(parses.get(), 4);
    }

    #[test]
    fn entries_with_another_key_or_garbage_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("e.feed");
        let adv: Advisory = serde_json::from_str(
            r#"{"id":"X-1","source":"n","kind":"vulnerability","affected":[{"ecosystem":"PyPI","package":"nova","ranges":{"type":"pep440-any-of","spec":"<1"}}]}"#,
        )
        .unwrap();
        let feed_dir = d.path().join("no-such-feed");
        let open = |key: &str, name: &str| CompiledFeed::open(&f, key, name, "osv", &feed_dir);
        let (head, blob) =
            CompiledFeed::encode("n", "osv", std::slice::from_ref(&adv), &[]).unwrap();
        write_entry(&f, "k1", &head, &blob);
        let (c, problems) = open("k1", "n").unwrap();
        assert!(problems.is_empty());
        assert_eq!(c.len(), 1);
        assert_eq!(c.decode(0).unwrap(), adv);
        assert_eq!(c.items()[0].id, "X-1");
        assert_eq!(
            c.items()[0].affected,
            vec![("PyPI".to_owned(), "nova".to_owned())]
        );
        assert!(open("k2", "n").is_none());
        assert!(open("k1", "m").is_none());
        let b = fs_err::read(&f).unwrap();
        let nl = b.iter().position(|c| *c == b'\n').unwrap();
        // One flipped byte in the head: the entry is refused.
        for i in [nl + 1, nl + 5, nl + head.len()] {
            let mut bad = b.clone();
            bad[i] ^= 0x01;
            fs_err::write(&f, &bad).unwrap();
            assert!(open("k1", "n").is_none(), "byte {i}");
        }
        // Truncated or extended: refused.
        fs_err::write(&f, &b[..b.len() - 3]).unwrap();
        assert!(open("k1", "n").is_none());
        let mut longer = b.clone();
        longer.push(b' ');
        fs_err::write(&f, &longer).unwrap();
        assert!(open("k1", "n").is_none());
        // One flipped byte in an advisory: the entry opens, the advisory fails its checksum,
        // the entry is removed and the feed read again (here it cannot be: a clear error).
        let mut bad = b.clone();
        let last = bad.len() - 2;
        bad[last] ^= 0x01;
        fs_err::write(&f, &bad).unwrap();
        let (c, _) = open("k1", "n").unwrap();
        let e = c.decode(0).unwrap_err();
        assert!(
            matches!(&e, super::super::compiled::CompiledError::Reread { damage, .. }
                if matches!(**damage, super::super::compiled::CompiledError::Checksum { .. })),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains(&f.display().to_string())
                && text.contains("fail their checksum")
                && text.contains("cannot be read again"),
            "the entry, the damage and the feed are named: {text}"
        );
        assert!(!f.exists(), "a damaged entry is removed");
    }

    /// A damaged advisory in an entry is taken from the feed's files instead, the same value.
    #[test]
    fn damaged_advisories_are_read_from_the_feed_again() {
        let d = tempfile::tempdir().unwrap();
        let feed = d.path().join("feed");
        fs_err::create_dir_all(&feed).unwrap();
        let text = r#"{"id":"OSV-T-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"nova"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}"#;
        fs_err::write(feed.join("OSV-T-1.json"), text).unwrap();
        let loaded = source_for_kind("osv", "t").unwrap().load(&feed).unwrap();
        assert_eq!(loaded.advisories.len(), 1);
        let f = d.path().join("e.feed");
        let (head, blob) = CompiledFeed::encode("t", "osv", &loaded.advisories, &[]).unwrap();
        write_entry(&f, "k", &head, &blob);
        let mut b = fs_err::read(&f).unwrap();
        let mid = b.len() - blob.len() / 2;
        b[mid] ^= 0x20;
        fs_err::write(&f, &b).unwrap();
        let (c, _) = CompiledFeed::open(&f, "k", "t", "osv", &feed).unwrap();
        assert_eq!(c.decode(0).unwrap(), loaded.advisories[0]);
        assert!(!f.exists());
    }
}
