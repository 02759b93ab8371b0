//! A compiled cache of loaded feeds, so a scan does not parse thousands of feed files each time.
//!
//! [`load_all_cached`] gives exactly what [`load_all`] gives. Each feed (and the operator's
//! `local` folder) has one cache file, `<cache>/feeds/<id>.json`, named after the feed's
//! identity (canonical folder path, name, kind) and holding the advisories and per-file problems
//! the feed's reader produced, as JSON, behind a first line with the entry's key. The key is a
//! sha256 over the cache format version, the nminus version and the running executable's size
//! and modification time (a rebuilt reader never trusts an old entry), the feed's name, kind and
//! folder, the folder's canonical path and path as given, and a fingerprint of the folder (one
//! function, `entry_key`, for feeds and release catalogs alike); the key line also carries the
//! sha256 of the body, so a damaged entry that still parses is not trusted either. A feed whose
//! key and checksum match is read from its entry; any other (changed, new, corrupt, unreadable,
//! or written by another build) is parsed from its files and its entry rewritten, atomically. Feeds are independent: syncing one feed re-parses
//! only that one. Feed status and age notes are always computed afresh (they depend on the sync
//! state and the date, not on the files).
//!
//! # The fingerprint, and its trade-off
//!
//! The fingerprint is the sorted list of (relative path, size, modification time, change time,
//! inode) of every file the readers could read (the same walk: hidden names skipped, symbolic
//! links followed). That costs one `stat` per file (a few tens of milliseconds for the 7,000
//! advisory files of the shared data) instead of reading and hashing every byte. It can miss a
//! change only if a file is rewritten in place with the same size and the same modification and
//! change times, which a normal write cannot do: the change time (ctime) is set by the kernel on
//! every write and cannot be set back by `touch`, `cp -p`, `tar` or `rsync -t`. The price is the
//! other way round: copying or restoring a data directory (new inodes and ctimes) makes every
//! entry miss once. `nminus scan --no-cache` bypasses the cache entirely.
//!
//! # Where
//!
//! [`default_cache_dir`]: `$NMINUS_CACHE`, else `$XDG_CACHE_HOME/nminus`, else
//! `~/.cache/nminus`; always outside the data directory, which may be read-only or shared. No
//! cache directory (no `HOME`) means no caching.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::advisory::source_for_kind;
use super::feeds::{age_note, load_all, FeedsConfig, LoadedFeeds, SyncState};
use super::sync::{hex, write_atomic};
use crate::model::{Advisory, FeedStatus, Problem};

/// Version of the cache file format; bump when it or a reader's output changes meaning.
pub const CACHE_FORMAT: u32 = 1;

/// The default cache directory: `$NMINUS_CACHE`, `$XDG_CACHE_HOME/nminus` or
/// `$HOME/.cache/nminus` (relative values are ignored).
pub fn default_cache_dir() -> Option<PathBuf> {
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
type FeedLoad = Result<(Vec<Advisory>, Vec<Problem>), String>;

/// What one cache file holds after its key line.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    name: String,
    kind: String,
    advisories: Vec<Advisory>,
    /// Problems with paths relative to the feed folder (as the reader gives them).
    problems: Vec<Problem>,
}

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
    let mut jobs: Vec<(String, String, String, PathBuf, Option<u32>)> = cfg
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
    let build = build_id();
    let results: Vec<FeedLoad> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(name, kind, folder, dir, _)| {
                let entries_dir = &entries_dir;
                let build = &build;
                s.spawn(move || load_one(name, kind, folder, dir, entries_dir, build, writable))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the feed reader panicked".to_owned()))
            })
            .collect()
    });
    let mut out = LoadedFeeds::default();
    for ((name, kind, _, dir, max_age), r) in jobs.into_iter().zip(results) {
        match r {
            Ok((mut advisories, mut problems)) => {
                let note = age_note(&state, &name, max_age, today);
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
                out.advisories.append(&mut advisories);
                out.problems.append(&mut problems);
            }
            Err(e) => out.status.push(FeedStatus {
                name,
                kind,
                loaded: false,
                advisories: 0,
                note: Some(e),
            }),
        }
    }
    out
}

/// A value derived from the files under `inputs` (directories, walked as feed folders are, or
/// single files), through an entry in `<cache_dir>/catalogs/`: the release catalogs
/// (openstack/releases, endoflife.date, apt indexes) whose parsing costs far more than reading
/// back their result. The key covers the same build identity as the feed entries, `what`, the
/// inputs' canonical paths and their fingerprints; any miss, damage or unreadable entry means
/// `parse` runs and the entry is rewritten (best effort). `cache_dir: None` only parses.
///
/// An `Err` from `parse` is returned and never cached.
pub fn cached<T, E>(
    cache_dir: Option<&Path>,
    what: &str,
    inputs: &[PathBuf],
    parse: impl FnOnce() -> Result<(T, Vec<Problem>), E>,
) -> Result<(T, Vec<Problem>), E>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let Some(cache) = cache_dir else {
        return parse();
    };
    let Some((key, id)) = entry_key(&build_id(), &[what], inputs) else {
        return parse();
    };
    let dir = cache.join("catalogs");
    let file = dir.join(format!("{id}.bin"));
    if let Some(body) = read_checked(&file, &key) {
        if let Ok((v, problems)) = postcard::from_bytes::<(T, String)>(&body) {
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
            write_entry(&file, &key, &body);
        }
    }
    Ok((v, problems))
}

/// The key an entry must carry to be trusted, and its id (file name stem), for an entry named by
/// `parts` over `inputs` (directories, fingerprinted by [`fingerprint`], or single files, by
/// their stat). The key covers the cache format, the nminus version and `build`, `parts`, each
/// input's canonical path and path as given (the value names files by it) and its fingerprint;
/// the id covers `parts` and the canonical paths, so that a changed input rewrites its entry.
/// `None` when an input cannot be read: the caller parses (and the reader reports the error).
fn entry_key(build: &str, parts: &[&str], inputs: &[PathBuf]) -> Option<(String, String)> {
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
        let canon = fs_err::canonicalize(input).ok()?;
        let m = fs_err::metadata(&canon).ok()?;
        let fp: [u8; 32] = if m.is_dir() {
            fingerprint(&canon).ok()?
        } else {
            Sha256::digest(stamp(&m).as_bytes()).into()
        };
        for h in [&mut key, &mut id] {
            h.update(canon.to_string_lossy().as_bytes());
            h.update([0u8]);
        }
        key.update(input.to_string_lossy().as_bytes());
        key.update([0u8]);
        key.update(fp);
    }
    Some((hex(&key.finalize()), hex(&id.finalize())[..32].to_owned()))
}

/// The body of the entry in `file` when its key line says `key` and its checksum holds.
fn read_checked(file: &Path, key: &str) -> Option<Vec<u8>> {
    let mut bytes = fs_err::read(file).ok()?;
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let (k, sum) = std::str::from_utf8(&bytes[..nl]).ok()?.split_once(' ')?;
    if k != key || sum != hex(&Sha256::digest(&bytes[nl + 1..])) {
        return None;
    }
    bytes.drain(..=nl);
    Some(bytes)
}

/// Write an entry (key line, then body), atomically; best effort: a cache that cannot be
/// written only costs time.
fn write_entry(file: &Path, key: &str, body: &[u8]) {
    let mut bytes = Vec::with_capacity(body.len() + 160);
    bytes.extend_from_slice(key.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(hex(&Sha256::digest(body)).as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(body);
    let _ = write_atomic(file, &bytes);
}

/// One feed: from its cache entry when the key matches, else from its files (rewriting the
/// entry).
fn load_one(
    name: &str,
    kind: &str,
    folder: &str,
    dir: &Path,
    entries_dir: &Path,
    build: &str,
    writable: bool,
) -> FeedLoad {
    let parse = || -> FeedLoad {
        let src =
            source_for_kind(kind, name).ok_or_else(|| format!("unknown feed kind `{kind}`"))?;
        let l = src.load(dir).map_err(|e| e.to_string())?;
        Ok((l.advisories, l.problems))
    };
    // A folder that cannot be fingerprinted (missing, unreadable) is loaded directly: the reader
    // gives the error.
    let Some((key, id)) = entry_key(build, &[name, kind, folder], &[dir.to_path_buf()]) else {
        return parse();
    };
    let file = entries_dir.join(format!("{id}.json"));
    if let Some(e) = read_entry(&file, &key, name, kind) {
        return Ok((e.advisories, e.problems));
    }
    let (advisories, problems) = parse()?;
    if writable {
        let entry = Entry {
            name: name.to_owned(),
            kind: kind.to_owned(),
            advisories,
            problems,
        };
        if let Ok(body) = serde_json::to_vec(&entry) {
            write_entry(&file, &key, &body);
        }
        return Ok((entry.advisories, entry.problems));
    }
    Ok((advisories, problems))
}

/// The entry in `file` when its key is `key` and it parses; `None` otherwise (never trusted
/// beyond that).
fn read_entry(file: &Path, key: &str, name: &str, kind: &str) -> Option<Entry> {
    let body = read_checked(file, key)?;
    let e: Entry = serde_json::from_slice(&body).ok()?;
    (e.name == name && e.kind == kind).then_some(e)
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
            cached(c, "test", &[dir.to_path_buf()], || {
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

    #[test]
    fn entries_with_another_key_or_garbage_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("e.json");
        let e = Entry {
            name: "n".into(),
            kind: "osv".into(),
            advisories: Vec::new(),
            problems: Vec::new(),
        };
        let body = serde_json::to_vec(&e).unwrap();
        let mut b = format!("k1 {}\n", hex(&Sha256::digest(&body))).into_bytes();
        b.extend_from_slice(&body);
        fs_err::write(&f, &b).unwrap();
        assert!(read_entry(&f, "k1", "n", "osv").is_some());
        assert!(read_entry(&f, "k2", "n", "osv").is_none());
        assert!(read_entry(&f, "k1", "m", "osv").is_none());
        // One flipped byte that still parses: the checksum catches it.
        let i = b.len() - 5;
        b[i] ^= 0x01;
        fs_err::write(&f, &b).unwrap();
        assert!(read_entry(&f, "k1", "n", "osv").is_none());
        b.truncate(b.len() - 3);
        fs_err::write(&f, &b).unwrap();
        assert!(read_entry(&f, "k1", "n", "osv").is_none());
    }
}
