//! `nminus sync`: bring the feed folders of a data directory up to date, from each feed's
//! upstream (a git repository or an archive URL) or, for air-gapped sites, from a mirror: a
//! directory with the data directory's layout, a `file://` URL of one, or a bundle `.tar.gz`
//! holding that layout (`nminus sync --bundle-out` writes one).
//!
//! # What is written
//!
//! | path | what |
//! | --- | --- |
//! | `<data>/<folder>` | the feed folder (its `folder` in the feed definitions), replaced whole |
//! | `<data>/.nminus/state.json` | [`SyncState`]: per feed, when, from where, which revision |
//! | `<data>/.nminus/git/<feed>` | a bare git repository per git feed (fetched into, never checked out) |
//! | `<data>/.nminus/http.json` | ETag / Last-Modified per archive feed, for conditional requests |
//! | `<data>/.nminus/sync.lock` | held while a sync runs: two syncs never write one data directory |
//!
//! # Git feeds
//!
//! Each git feed has a bare repository in `<data>/.nminus/git/<feed>`; a sync fetches the
//! feed's `branch` (the remote's `HEAD` when none) into it and then *exports* the commit's tree,
//! or its `subdir` when one is set, into a fresh folder that replaces the feed folder. One rule
//! for feeds with and without `subdir`; the feed folder holds exactly the upstream files (no
//! `.git`), like a mirror or a bundle; the history stays in the bare repository, so the next
//! sync is an incremental fetch. The commit id is the revision; a new commit that does not
//! descend from the recorded one (upstream rewrote history) is accepted and said so. A commit
//! equal to the recorded one leaves the folder untouched (`unchanged`). Symbolic links and
//! submodules of the tree are not exported (feed readers need neither). URLs: `https://` and
//! `http://` (git's smart HTTP protocol, spoken by [`super::githttp`] over the same HTTP client
//! as archive downloads: rustls, proxies from the environment), `file://` and local paths
//! (libgit2).
//!
//! # Archive feeds
//!
//! `archive` is an `http(s)://` or `file://` URL. The download is conditional (the ETag and
//! Last-Modified of the last one are sent; `304 Not Modified` = unchanged), size-capped, and
//! checked against `sha256` when the feed pins one. With `file`, the download is one document
//! stored as `<folder>/<file>` (other files of the folder stay); otherwise it must be a `.tar.gz`,
//! extracted under the rules below (only its `subdir` when one is set) into a fresh folder that
//! replaces the feed folder. The revision is `sha256:<digest of the download>`.
//!
//! # Mirrors and bundles (`--from`)
//!
//! Every selected feed's folder is taken from the mirror at the same relative path (a bundle
//! is first extracted, under the rules below, into `<data>/.nminus/tmp`; a bundle whose entries
//! sit under one top-level folder is accepted too). The revision is a content digest
//! (`sha256:` over every file's path, size and bytes), so an unchanged feed is left untouched.
//! When the mirror records its own sync state (`.nminus/state.json`, as a data directory synced
//! by nminus and every bundle do), the feed keeps the upstream `synced_at`: data carried into a
//! site shows its true age. In a directory mirror, symbolic links are followed when they stay
//! inside the mirror and refused otherwise. A feed the mirror does not hold is skipped, or failed
//! when it was named with `--feed`.
//!
//! # Archive safety
//!
//! Bundles and archives come from elsewhere: [`extract_tar_gz`] refuses the whole archive when an
//! entry has an absolute path or a `..` component, is a symbolic or hard link pointing outside
//! the archive, or is a device file or FIFO, and stops at [`ExtractLimits`] (total bytes and
//! entries, checked against each entry's declared size before reading it). Symbolic links that
//! stay inside are not created (skipped and counted), so nothing is ever written through a link;
//! hard links inside become copies. Extraction goes to a fresh temporary folder; a refused
//! archive leaves nothing behind.
//!
//! # Replacing a folder
//!
//! A new feed folder is prepared beside the old one (`.<name>.nminus-new-*`, a name the feed
//! readers skip), then the old one is renamed away, the new one renamed into place and the old
//! one deleted: readers see the old tree or the new one, never a mix (there is an instant between
//! the two renames where the folder is absent; POSIX has no atomic exchange of non-empty
//! folders). A feed folder that is a symbolic link is refused rather than replaced.

use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::feeds::{FeedDef, FeedSync, FeedsConfig, SyncState, Upstream};

/// Where `--from` takes feeds from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncFrom {
    /// A mirror directory with the data directory's layout.
    Dir(PathBuf),
    /// A `file://` URL of a mirror directory or of a bundle.
    FileUrl(String),
    /// A `.tar.gz` bundle holding the data directory's layout.
    Bundle(PathBuf),
}

impl SyncFrom {
    /// Classify a `--from` argument: `file://…` is a URL, a name ending in `.tar.gz` / `.tgz` a
    /// bundle, anything else a directory. (What the path really is decides in the end: a file is
    /// read as a bundle, a directory as a mirror.)
    pub fn parse(s: &str) -> Self {
        if s.starts_with("file://") {
            Self::FileUrl(s.to_owned())
        } else if is_bundle_name(s) {
            Self::Bundle(PathBuf::from(s))
        } else {
            Self::Dir(PathBuf::from(s))
        }
    }

    /// The local path and how to name it in messages and in the sync state.
    fn resolve(&self) -> Result<(PathBuf, String), String> {
        Ok(match self {
            Self::Dir(p) | Self::Bundle(p) => (p.clone(), p.display().to_string()),
            Self::FileUrl(u) => (file_url_path(u)?, u.clone()),
        })
    }
}

fn is_bundle_name(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.ends_with(".tar.gz") || l.ends_with(".tgz")
}

/// The local path of a `file://` URL (`file:///abs/path` or `file://localhost/abs/path`;
/// `%XX` escapes decoded).
pub fn file_url_path(url: &str) -> Result<PathBuf, String> {
    let rest = url
        .strip_prefix("file://")
        .ok_or_else(|| format!("`{url}` is not a file:// URL"))?;
    let path = if rest.starts_with('/') {
        rest
    } else if let Some(r) = rest.strip_prefix("localhost/") {
        &rest[rest.len() - r.len() - 1..]
    } else {
        return Err(format!(
            "`{url}`: expected file:///absolute/path (a file:// URL names a path on this machine)"
        ));
    };
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    let s = String::from_utf8(out).map_err(|_| format!("`{url}`: not UTF-8 once decoded"))?;
    Ok(PathBuf::from(s))
}

/// Caps on what one archive, bundle or mirror feed may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Total bytes of file content (and of one download).
    pub max_bytes: u64,
    /// Entries (files, folders, links) of an archive; files of a mirror folder.
    pub max_entries: u64,
}

impl Default for ExtractLimits {
    /// 8 GiB and 2,000,000 entries: several times the largest public feed.
    fn default() -> Self {
        Self {
            max_bytes: 8 << 30,
            max_entries: 2_000_000,
        }
    }
}

/// Progress of a sync, for a progress bar or a log.
#[derive(Debug)]
pub enum SyncEvent<'a> {
    /// Feed `index` of `total` starts.
    Feed {
        /// Feed name.
        name: &'a str,
        /// 0-based position.
        index: usize,
        /// Feeds selected.
        total: usize,
    },
    /// A step inside the current feed (`fetching …`, `received 1200/5000 objects`).
    Step {
        /// Feed name.
        name: &'a str,
        /// What happens.
        message: String,
    },
    /// The feed is done.
    Done {
        /// Its outcome.
        outcome: &'a FeedOutcome,
        /// 0-based position.
        index: usize,
        /// Feeds selected.
        total: usize,
    },
}

/// A progress callback.
pub type Progress<'a> = Box<dyn Fn(&SyncEvent<'_>) + 'a>;

/// Options of [`sync`].
pub struct SyncOptions<'a> {
    /// Take feeds from this mirror or bundle instead of their upstreams.
    pub from: Option<SyncFrom>,
    /// Only these feeds (all when empty).
    pub feeds: Vec<String>,
    /// Now, RFC 3339 (recorded as `synced_at`).
    pub now: String,
    /// Replace feed folders even when the revision did not change (and send no conditional
    /// HTTP request).
    pub force: bool,
    /// Caps on archives, bundles and downloads.
    pub limits: ExtractLimits,
    /// Called as the sync progresses.
    pub progress: Option<Progress<'a>>,
}

impl std::fmt::Debug for SyncOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("from", &self.from)
            .field("feeds", &self.feeds)
            .field("now", &self.now)
            .field("force", &self.force)
            .field("limits", &self.limits)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl SyncOptions<'_> {
    /// Every feed from its upstream, default limits, no progress.
    pub fn new(now: impl Into<String>) -> Self {
        Self {
            from: None,
            feeds: Vec::new(),
            now: now.into(),
            force: false,
            limits: ExtractLimits::default(),
            progress: None,
        }
    }

    fn emit(&self, e: &SyncEvent<'_>) {
        if let Some(p) = &self.progress {
            p(e);
        }
    }

    fn step(&self, name: &str, message: impl Into<String>) {
        self.emit(&SyncEvent::Step {
            name,
            message: message.into(),
        });
    }
}

/// What happened to one feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The feed folder was replaced with a new revision.
    Updated,
    /// The upstream revision is the one already there; nothing was written but the state.
    Unchanged,
    /// Nothing to sync from (no upstream defined, or not in the mirror).
    Skipped,
    /// The sync of this feed failed; its folder and state are as they were.
    Failed,
}

impl Outcome {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// One feed's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedOutcome {
    /// Feed name.
    pub name: String,
    /// Its folder in the data directory.
    pub folder: String,
    /// What happened.
    pub outcome: Outcome,
    /// Where from (URL, path), when known.
    pub from: String,
    /// Git commit or `sha256:` content digest, when synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Details: why it failed or was skipped (naming the path or URL), fast-forward notes.
    pub message: String,
}

/// The result of [`sync`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// One entry per selected feed, in definition order.
    pub feeds: Vec<FeedOutcome>,
    /// Failures that are not one feed's (unknown feed name, unreadable bundle, busy lock).
    pub errors: Vec<String>,
}

impl SyncReport {
    /// No error and no failed feed.
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.feeds.iter().all(|f| f.outcome != Outcome::Failed)
    }
}

/// A successful per-feed sync.
struct Synced {
    outcome: Outcome,
    from: String,
    revision: Option<String>,
    /// `synced_at` to record (default: now).
    synced_at: Option<String>,
    message: String,
}

/// A per-feed sync that did not happen.
enum NotSynced {
    Skip(String),
    Fail(String),
}

impl From<String> for NotSynced {
    fn from(s: String) -> Self {
        Self::Fail(s)
    }
}

impl From<ArchiveError> for NotSynced {
    fn from(e: ArchiveError) -> Self {
        Self::Fail(e.to_string())
    }
}

struct Ctx<'a, 'o> {
    data: &'a Path,
    feed: &'a FeedDef,
    prev: Option<&'a FeedSync>,
    opts: &'a SyncOptions<'o>,
    explicit: bool,
    target: PathBuf,
}

impl Ctx<'_, '_> {
    fn prev_revision(&self) -> Option<&str> {
        self.prev.and_then(|p| p.revision.as_deref())
    }

    /// The recorded revision is `rev` and the folder is there: nothing to write.
    fn is_current(&self, rev: &str) -> bool {
        !self.opts.force && self.prev_revision() == Some(rev) && self.target.is_dir()
    }

    fn step(&self, message: impl Into<String>) {
        self.opts.step(&self.feed.name, message);
    }
}

/// Sync the feeds of `cfg` (those of `opts.feeds`, or all) into the data directory `data`.
/// One feed failing does not stop the others; the state file records each success as it
/// happens.
pub fn sync(cfg: &FeedsConfig, data: &Path, opts: &SyncOptions<'_>) -> SyncReport {
    let mut report = SyncReport::default();
    let cfg = match cfg.clone().select(&opts.feeds) {
        Ok(c) => c,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    let meta = data.join(".nminus");
    if let Err(e) = fs_err::create_dir_all(&meta) {
        report
            .errors
            .push(format!("cannot create the data directory: {e}"));
        return report;
    }
    let _lock = match Lock::acquire(&meta.join("sync.lock")) {
        Ok(l) => l,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let mut state = SyncState::load(data);
    let mut http = HttpState::load(data);
    let total = cfg.feeds.len();
    let mirror = match &opts.from {
        None => None,
        Some(f) => match Mirror::open(f, data, &cfg, opts) {
            Ok(m) => Some(m),
            Err(e) => {
                for feed in &cfg.feeds {
                    report.feeds.push(FeedOutcome {
                        name: feed.name.clone(),
                        folder: feed.folder.clone(),
                        outcome: Outcome::Failed,
                        from: String::new(),
                        revision: None,
                        message: e.clone(),
                    });
                }
                report.errors.push(e);
                return report;
            }
        },
    };
    for (index, feed) in cfg.feeds.iter().enumerate() {
        opts.emit(&SyncEvent::Feed {
            name: &feed.name,
            index,
            total,
        });
        let prev = state.feeds.get(&feed.name).cloned();
        let result = match safe_rel(Path::new(&feed.folder)) {
            Ok(Some(folder)) => {
                let ctx = Ctx {
                    data,
                    feed,
                    prev: prev.as_ref(),
                    opts,
                    explicit: opts.feeds.contains(&feed.name),
                    target: data.join(folder),
                };
                sync_one(&ctx, mirror.as_ref(), &mut http)
            }
            _ => Err(NotSynced::Fail(format!(
                "folder `{}` is not a relative path inside the data directory",
                feed.folder
            ))),
        };
        let mut outcome = FeedOutcome {
            name: feed.name.clone(),
            folder: feed.folder.clone(),
            outcome: Outcome::Failed,
            from: String::new(),
            revision: None,
            message: String::new(),
        };
        match result {
            Ok(s) => {
                outcome.outcome = s.outcome;
                outcome.from = s.from.clone();
                outcome.revision = s.revision.clone();
                outcome.message = s.message;
                state.feeds.insert(
                    feed.name.clone(),
                    FeedSync {
                        synced_at: s.synced_at.unwrap_or_else(|| opts.now.clone()),
                        from: s.from,
                        revision: s.revision,
                    },
                );
                if let Err(e) = save_json(&SyncState::path(data), &state) {
                    outcome.outcome = Outcome::Failed;
                    outcome.message = format!("cannot record the sync state: {e}");
                }
            }
            Err(NotSynced::Skip(m)) => {
                outcome.outcome = Outcome::Skipped;
                outcome.message = m;
            }
            Err(NotSynced::Fail(m)) => outcome.message = m,
        }
        opts.emit(&SyncEvent::Done {
            outcome: &outcome,
            index,
            total,
        });
        report.feeds.push(outcome);
    }
    if let Some(m) = &mirror {
        if !report
            .feeds
            .iter()
            .any(|f| matches!(f.outcome, Outcome::Updated | Outcome::Unchanged))
            && !report.feeds.is_empty()
        {
            report.errors.push(format!(
                "{} holds none of the selected feeds' folders: expected the data directory's layout (for instance `{}/…`)",
                m.label,
                cfg.feeds[0].folder
            ));
        }
    }
    report
}

fn sync_one(
    ctx: &Ctx<'_, '_>,
    mirror: Option<&Mirror>,
    http: &mut HttpState,
) -> Result<Synced, NotSynced> {
    if fs_err::symlink_metadata(&ctx.target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(NotSynced::Fail(format!(
            "{} is a symbolic link: nminus sync replaces feed folders and does not write through links; remove the link or sync into its target's data directory",
            ctx.target.display()
        )));
    }
    if let Some(m) = mirror {
        return sync_from_mirror(ctx, m);
    }
    match &ctx.feed.upstream {
        Some(up) if up.git.is_some() => sync_git(ctx, up),
        Some(up) if up.archive.is_some() => sync_archive(ctx, up, http),
        _ => Err(NotSynced::Skip(format!(
            "no upstream defined for feed `{}`: give one in the feed definitions (`upstream: {{ git: URL }}` or `{{ archive: URL }}`) or sync it with --from MIRROR",
            ctx.feed.name
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Mirrors and bundles

struct Mirror {
    root: PathBuf,
    label: String,
    state: SyncState,
    /// Extracted from a bundle into a staging folder we own: feed folders are moved, not copied.
    staged: Option<TempPath>,
}

impl Mirror {
    fn open(
        from: &SyncFrom,
        data: &Path,
        cfg: &FeedsConfig,
        opts: &SyncOptions<'_>,
    ) -> Result<Self, String> {
        let (path, label) = from.resolve()?;
        let meta = fs_err::metadata(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("--from {label}: no such file or directory"),
            _ => format!("--from {label}: {e}"),
        })?;
        if meta.is_dir() {
            if let (Ok(a), Ok(b)) = (fs_err::canonicalize(&path), fs_err::canonicalize(data)) {
                if a == b {
                    return Err(format!(
                        "--from {label} is the data directory itself: give a mirror directory or a bundle"
                    ));
                }
            }
            return Ok(Self {
                state: SyncState::load(&path),
                root: path,
                label,
                staged: None,
            });
        }
        let tmp = data.join(".nminus").join("tmp");
        fs_err::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        let staging = TempPath::new_dir(&tmp, "bundle").map_err(|e| e.to_string())?;
        opts.step("bundle", format!("extracting {label}"));
        let file = fs_err::File::open(&path).map_err(|e| format!("--from {label}: {e}"))?;
        extract_tar_gz(BufReader::new(file), staging.path(), None, &opts.limits)
            .map_err(|e| format!("bundle {label} refused: {e}; nothing was written"))?;
        let root = bundle_root(staging.path(), cfg);
        Ok(Self {
            state: SyncState::load(&root),
            root,
            label,
            staged: Some(staging),
        })
    }
}

/// The folder of an extracted bundle that has the data directory's layout: the bundle's root,
/// or its single top-level folder.
fn bundle_root(staging: &Path, cfg: &FeedsConfig) -> PathBuf {
    let has_feeds = |root: &Path| cfg.feeds.iter().any(|f| root.join(&f.folder).is_dir());
    if has_feeds(staging) {
        return staging.to_owned();
    }
    let dirs: Vec<PathBuf> = fs_err::read_dir(staging)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    match dirs.as_slice() {
        [one] if has_feeds(one) => one.clone(),
        _ => staging.to_owned(),
    }
}

fn sync_from_mirror(ctx: &Ctx<'_, '_>, m: &Mirror) -> Result<Synced, NotSynced> {
    let src = m.root.join(&ctx.feed.folder);
    if !src.is_dir() {
        let msg = format!("{} has no folder `{}`", m.label, ctx.feed.folder);
        return Err(if ctx.explicit {
            NotSynced::Fail(msg)
        } else {
            NotSynced::Skip(msg)
        });
    }
    ctx.step(format!("reading {}", src.display()));
    let files = list_files(&src, &ctx.opts.limits)?;
    let digest = tree_digest(&files)?;
    let upstream = m.state.feeds.get(&ctx.feed.name);
    let synced_at = upstream.map(|u| u.synced_at.clone());
    let message = upstream
        .map(|u| {
            format!(
                "upstream synced {} from {}{}",
                u.synced_at,
                u.from,
                u.revision
                    .as_deref()
                    .map(|r| format!(" at {}", short(r)))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let done = |outcome| Synced {
        outcome,
        from: m.label.clone(),
        revision: Some(digest.clone()),
        synced_at: synced_at.clone(),
        message: message.clone(),
    };
    if ctx.is_current(&digest) {
        return Ok(done(Outcome::Unchanged));
    }
    if m.staged.is_some() {
        // Our own staging copy: move it into place.
        swap_into_place(&src, &ctx.target).map_err(|e| io_msg(&ctx.target, &e))?;
    } else {
        ctx.step(format!("copying {} files", files.len()));
        let new = TempPath::beside(&ctx.target, "new").map_err(|e| io_msg(&ctx.target, &e))?;
        for f in &files {
            let out = new.path().join(&f.rel);
            if let Some(p) = out.parent() {
                fs_err::create_dir_all(p).map_err(|e| e.to_string())?;
            }
            fs_err::copy(&f.path, &out).map_err(|e| e.to_string())?;
        }
        swap_into_place(new.path(), &ctx.target).map_err(|e| io_msg(&ctx.target, &e))?;
        new.disarm();
    }
    Ok(done(Outcome::Updated))
}

/// A regular file of a local tree.
struct TreeFile {
    /// `/`-separated path relative to the tree's root.
    rel: String,
    path: PathBuf,
    size: u64,
}

/// Every regular file under `root` in path order, `.git` folders skipped. Symbolic links are
/// followed when they resolve inside `root`, refused otherwise.
fn list_files(root: &Path, limits: &ExtractLimits) -> Result<Vec<TreeFile>, String> {
    let canon_root = fs_err::canonicalize(root).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut bytes = 0u64;
    let mut stack = vec![(root.to_owned(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        for entry in fs_err::read_dir(&dir).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            let lmeta = fs_err::symlink_metadata(&path).map_err(|e| e.to_string())?;
            let meta = if lmeta.file_type().is_symlink() {
                let real = fs_err::canonicalize(&path).map_err(|e| e.to_string())?;
                if !real.starts_with(&canon_root) {
                    return Err(format!(
                        "{}: symbolic link pointing outside the mirror folder ({}): refused",
                        path.display(),
                        real.display()
                    ));
                }
                fs_err::metadata(&path).map_err(|e| e.to_string())?
            } else {
                lmeta
            };
            if meta.is_dir() {
                if depth >= 32 {
                    return Err(format!(
                        "{}: folders nested deeper than 32 levels (a symbolic link loop?)",
                        path.display()
                    ));
                }
                stack.push((path, child_rel, depth + 1));
            } else if meta.is_file() {
                bytes += meta.len();
                if bytes > limits.max_bytes || out.len() as u64 >= limits.max_entries {
                    return Err(format!(
                        "{}: more than {} bytes or {} files",
                        root.display(),
                        limits.max_bytes,
                        limits.max_entries
                    ));
                }
                out.push(TreeFile {
                    rel: child_rel,
                    path,
                    size: meta.len(),
                });
            } else {
                return Err(format!(
                    "{}: neither a file nor a folder (a device, FIFO or socket): refused",
                    path.display()
                ));
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// `sha256:` over every file's relative path, size and content, in path order.
fn tree_digest(files: &[TreeFile]) -> Result<String, String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for f in files {
        h.update(f.rel.as_bytes());
        h.update([0u8]);
        h.update(f.size.to_le_bytes());
        let mut file = fs_err::File::open(&f.path).map_err(|e| e.to_string())?;
        loop {
            let n = file.read(&mut buf).map_err(|e| io_msg(&f.path, &e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(format!("sha256:{}", hex(&h.finalize())))
}

/// Write a bundle (`.tar.gz` of the data directory's layout) of the feeds of `cfg` that `data`
/// holds, with their sync state (`.nminus/state.json`), atomically to `out`.
pub fn write_bundle(cfg: &FeedsConfig, data: &Path, out: &Path) -> Result<BundleSummary, String> {
    let mut summary = BundleSummary::default();
    let state = SyncState::load(data);
    let mut kept = SyncState::default();
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = TempPath::new_file(parent, "bundle").map_err(|e| io_msg(out, &e))?;
    let file = fs_err::File::create(tmp.path()).map_err(|e| e.to_string())?;
    let gz =
        flate2::write::GzEncoder::new(io::BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let limits = ExtractLimits::default();
    for feed in &cfg.feeds {
        let src = data.join(&feed.folder);
        if !src.is_dir() {
            summary.missing.push(feed.name.clone());
            continue;
        }
        for f in list_files(&src, &limits)? {
            let mut h = tar::Header::new_gnu();
            h.set_size(f.size);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            let mtime = fs_err::metadata(&f.path)
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            h.set_mtime(mtime);
            let reader = fs_err::File::open(&f.path).map_err(|e| e.to_string())?;
            tar.append_data(&mut h, format!("{}/{}", feed.folder, f.rel), reader)
                .map_err(|e| io_msg(&f.path, &e))?;
            summary.files += 1;
            summary.bytes += f.size;
        }
        if let Some(s) = state.feeds.get(&feed.name) {
            kept.feeds.insert(feed.name.clone(), s.clone());
        }
        summary.feeds.push(feed.name.clone());
    }
    let json = serde_json::to_vec_pretty(&kept).map_err(|e| e.to_string())?;
    let mut h = tar::Header::new_gnu();
    h.set_size(json.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, ".nminus/state.json", json.as_slice())
        .map_err(|e| e.to_string())?;
    let gz = tar.into_inner().map_err(|e| io_msg(out, &e))?;
    let mut w = gz.finish().map_err(|e| io_msg(out, &e))?;
    w.flush().map_err(|e| io_msg(out, &e))?;
    drop(w);
    fs_err::rename(tmp.path(), out).map_err(|e| e.to_string())?;
    tmp.disarm();
    Ok(summary)
}

/// What [`write_bundle`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSummary {
    /// Feeds included.
    pub feeds: Vec<String>,
    /// Feeds whose folder the data directory does not hold.
    pub missing: Vec<String>,
    /// Files written.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

// ---------------------------------------------------------------------------------------------
// Git

const UPSTREAM_REF: &str = "refs/nminus/upstream";

fn sync_git(ctx: &Ctx<'_, '_>, up: &Upstream) -> Result<Synced, NotSynced> {
    let url = up.git.as_deref().unwrap_or_default();
    let name = &ctx.feed.name;
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(NotSynced::Fail(format!(
            "feed name `{name}` cannot name a folder: use letters, digits, `-`, `_`, `.`"
        )));
    }
    let git_err = |what: &str, e: git2::Error| format!("{what} {url}: {}", e.message());
    let repo_dir = ctx.data.join(".nminus").join("git").join(name);
    let repo = match git2::Repository::open_bare(&repo_dir) {
        Ok(r) => r,
        Err(_) => {
            if repo_dir.exists() {
                // Unusable (interrupted init, corruption): start again.
                fs_err::remove_dir_all(&repo_dir).map_err(|e| e.to_string())?;
            }
            fs_err::create_dir_all(&repo_dir).map_err(|e| e.to_string())?;
            git2::Repository::init_bare(&repo_dir)
                .map_err(|e| format!("cannot create {}: {}", repo_dir.display(), e.message()))?
        }
    };
    let src = up
        .branch
        .as_deref()
        .map_or_else(|| "HEAD".to_owned(), |b| format!("refs/heads/{b}"));
    let refspec = format!("+{src}:{UPSTREAM_REF}");
    if url.starts_with("https://") || url.starts_with("http://") {
        // Smart HTTP through nminus's own client (see `super::githttp` for why).
        let have = repo.refname_to_id(UPSTREAM_REF).ok();
        let fetched = super::githttp::fetch(
            &http_client()?,
            &repo,
            url,
            &src,
            have,
            ctx.opts.limits.max_bytes,
            |s| ctx.step(s),
        )?;
        if fetched.pack_bytes > 0 {
            ctx.step(format!(
                "received {} KiB of pack",
                fetched.pack_bytes.div_ceil(1024)
            ));
        }
        repo.reference(UPSTREAM_REF, fetched.oid, true, "nminus sync")
            .map_err(|e| git_err("cannot record the fetched commit of", e))?;
    } else {
        ctx.step(format!("fetching {url} ({src})"));
        let mut cb = git2::RemoteCallbacks::new();
        let last = std::cell::Cell::new(0usize);
        cb.transfer_progress(|p| {
            let n = p.received_objects();
            if n == p.total_objects() || n >= last.get() + 1000 {
                last.set(n);
                ctx.step(format!(
                    "received {n}/{} objects ({} KiB)",
                    p.total_objects(),
                    p.received_bytes() / 1024
                ));
            }
            true
        });
        let mut fo = git2::FetchOptions::new();
        fo.remote_callbacks(cb);
        fo.download_tags(git2::AutotagOption::None);
        let mut proxy = git2::ProxyOptions::new();
        proxy.auto();
        fo.proxy_options(proxy);
        let mut remote = repo
            .remote_anonymous(url)
            .map_err(|e| git_err("bad git URL", e))?;
        remote
            .fetch(&[refspec.as_str()], Some(&mut fo), None)
            .map_err(|e| git_err(&format!("git fetch of {src} from"), e))?;
    }
    let oid = repo
        .refname_to_id(UPSTREAM_REF)
        .map_err(|e| git_err("no commit fetched from", e))?;
    let commit = repo
        .find_commit(oid)
        .map_err(|e| git_err("fetched object is not a commit in", e))?;
    let mut tree = commit.tree().map_err(|e| git_err("no tree in", e))?;
    if let Some(sub) = up.subdir.as_deref().filter(|s| !s.is_empty()) {
        let entry = tree.get_path(Path::new(sub)).map_err(|_| {
            format!("subdir `{sub}` not found in {url} at commit {oid}: check the feed's `subdir`")
        })?;
        tree = entry
            .to_object(&repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(|_| format!("subdir `{sub}` of {url} at commit {oid} is not a folder"))?;
    }
    let rev = oid.to_string();
    let mut message = format!("at {}", short(&rev));
    if let Some(prev) = ctx.prev_revision().filter(|p| *p != rev) {
        let ff = git2::Oid::from_str(prev)
            .ok()
            .and_then(|p| repo.graph_descendant_of(oid, p).ok());
        message = match ff {
            Some(true) => format!("fast-forward {}..{}", short(prev), short(&rev)),
            _ => format!(
                "at {}: not a fast-forward of the recorded {} (upstream history was rewritten)",
                short(&rev),
                short(prev)
            ),
        };
    }
    let from = match &up.branch {
        Some(b) => format!("{url}#{b}"),
        None => url.to_owned(),
    };
    if ctx.is_current(&rev) {
        return Ok(Synced {
            outcome: Outcome::Unchanged,
            from,
            revision: Some(rev),
            synced_at: None,
            message,
        });
    }
    ctx.step(format!("writing {}", ctx.target.display()));
    let new = TempPath::beside(&ctx.target, "new").map_err(|e| io_msg(&ctx.target, &e))?;
    export_tree(&repo, &tree, new.path(), &ctx.opts.limits)?;
    swap_into_place(new.path(), &ctx.target).map_err(|e| io_msg(&ctx.target, &e))?;
    new.disarm();
    Ok(Synced {
        outcome: Outcome::Updated,
        from,
        revision: Some(rev),
        synced_at: None,
        message,
    })
}

/// Write the files of `tree` under `dest` (symbolic links and submodules are left out).
fn export_tree(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<(), String> {
    let mut stack = vec![(tree.clone(), dest.to_owned())];
    let (mut entries, mut bytes) = (0u64, 0u64);
    while let Some((t, dir)) = stack.pop() {
        for e in t.iter() {
            let name = e
                .name()
                .ok()
                .filter(|n| !n.is_empty() && *n != "." && *n != ".." && !n.contains(['/', '\0']))
                .ok_or_else(|| format!("a tree entry of {} has an unusable name", dir.display()))?;
            entries += 1;
            if entries > limits.max_entries {
                return Err(format!(
                    "the tree has more than {} entries",
                    limits.max_entries
                ));
            }
            let path = dir.join(name);
            match e.filemode() {
                0o040000 => {
                    fs_err::create_dir(&path).map_err(|e| e.to_string())?;
                    let sub = e
                        .to_object(repo)
                        .and_then(|o| o.peel_to_tree())
                        .map_err(|er| format!("{}: {}", path.display(), er.message()))?;
                    stack.push((sub, path));
                }
                0o100644 | 0o100755 | 0o100664 => {
                    let blob = repo
                        .find_blob(e.id())
                        .map_err(|er| format!("{}: {}", path.display(), er.message()))?;
                    bytes += blob.size() as u64;
                    if bytes > limits.max_bytes {
                        return Err(format!(
                            "the tree holds more than {} bytes",
                            limits.max_bytes
                        ));
                    }
                    fs_err::write(&path, blob.content()).map_err(|e| e.to_string())?;
                }
                // Symbolic links (0o120000) and submodules (0o160000).
                _ => {}
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Archives

/// ETag / Last-Modified of the last download of each archive feed (`<data>/.nminus/http.json`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct HttpState {
    #[serde(default)]
    feeds: std::collections::BTreeMap<String, HttpValidators>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct HttpValidators {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
}

impl HttpState {
    fn path(data: &Path) -> PathBuf {
        data.join(".nminus").join("http.json")
    }

    fn load(data: &Path) -> Self {
        fs_err::read(Self::path(data))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

enum Fetched {
    NotModified,
    Body {
        sha256: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

fn sync_archive(
    ctx: &Ctx<'_, '_>,
    up: &Upstream,
    http: &mut HttpState,
) -> Result<Synced, NotSynced> {
    let url = up.archive.as_deref().unwrap_or_default();
    let file_name = match up.file.as_deref() {
        Some(f) => match safe_rel(Path::new(f)) {
            Ok(Some(p)) if p.components().count() == 1 => Some(p),
            _ => {
                return Err(NotSynced::Fail(format!(
                    "upstream `file: {f}` must be a plain file name"
                )))
            }
        },
        None => None,
    };
    let stored = match &file_name {
        Some(f) => ctx.target.join(f).is_file(),
        None => ctx.target.is_dir(),
    };
    let validators = http
        .feeds
        .get(&ctx.feed.name)
        .filter(|v| v.url == url && stored && !ctx.opts.force)
        .cloned();
    let download =
        TempPath::beside_file(&ctx.target, "download").map_err(|e| io_msg(&ctx.target, &e))?;
    ctx.step(format!("downloading {url}"));
    let fetched = if url.starts_with("file://") {
        let path = file_url_path(url)?;
        let f = fs_err::File::open(&path).map_err(|e| e.to_string())?;
        let sha256 = copy_capped(f, download.path(), ctx.opts.limits.max_bytes, url)?;
        Fetched::Body {
            sha256,
            etag: None,
            last_modified: None,
        }
    } else if url.starts_with("http://") || url.starts_with("https://") {
        http_get(
            url,
            validators.as_ref(),
            download.path(),
            ctx.opts.limits.max_bytes,
        )?
    } else {
        return Err(NotSynced::Fail(format!(
            "archive URL `{url}`: expected http://, https:// or file://"
        )));
    };
    let (sha256, etag, last_modified) = match fetched {
        Fetched::NotModified => {
            return Ok(Synced {
                outcome: Outcome::Unchanged,
                from: url.to_owned(),
                revision: ctx.prev_revision().map(str::to_owned),
                synced_at: None,
                message: "not modified (HTTP 304)".to_owned(),
            })
        }
        Fetched::Body {
            sha256,
            etag,
            last_modified,
        } => (sha256, etag, last_modified),
    };
    if let Some(want) = up.sha256.as_deref() {
        let want = want.trim().trim_start_matches("sha256:");
        if !want.eq_ignore_ascii_case(&sha256) {
            return Err(NotSynced::Fail(format!(
                "{url}: sha256 is {sha256}, the feed definition pins {want}: refused"
            )));
        }
    }
    let rev = format!("sha256:{sha256}");
    let remember = |http: &mut HttpState| -> Result<(), String> {
        http.feeds.insert(
            ctx.feed.name.clone(),
            HttpValidators {
                url: url.to_owned(),
                etag: etag.clone(),
                last_modified: last_modified.clone(),
            },
        );
        save_json(&HttpState::path(ctx.data), &*http)
    };
    let stored_same = !ctx.opts.force && ctx.prev_revision() == Some(rev.as_str()) && stored;
    if stored_same {
        remember(http)?;
        return Ok(Synced {
            outcome: Outcome::Unchanged,
            from: url.to_owned(),
            revision: Some(rev),
            synced_at: None,
            message: "same content".to_owned(),
        });
    }
    match &file_name {
        Some(f) => {
            fs_err::create_dir_all(&ctx.target).map_err(|e| e.to_string())?;
            fs_err::rename(download.path(), ctx.target.join(f)).map_err(|e| e.to_string())?;
            download.disarm();
        }
        None => {
            let mut magic = [0u8; 2];
            let mut f = fs_err::File::open(download.path()).map_err(|e| e.to_string())?;
            if f.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
                return Err(NotSynced::Fail(format!(
                    "{url} is not a .tar.gz archive: give `file: NAME` in the feed's upstream to store a single document"
                )));
            }
            drop(f);
            ctx.step("extracting");
            let new = TempPath::beside(&ctx.target, "new").map_err(|e| io_msg(&ctx.target, &e))?;
            let f = fs_err::File::open(download.path()).map_err(|e| e.to_string())?;
            extract_tar_gz(
                BufReader::new(f),
                new.path(),
                up.subdir.as_deref(),
                &ctx.opts.limits,
            )
            .map_err(|e| format!("archive {url} refused: {e}"))?;
            if let Some(sub) = up.subdir.as_deref() {
                if fs_err::read_dir(new.path())
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(true)
                {
                    return Err(NotSynced::Fail(format!(
                        "archive {url} has nothing under subdir `{sub}`"
                    )));
                }
            }
            swap_into_place(new.path(), &ctx.target).map_err(|e| io_msg(&ctx.target, &e))?;
            new.disarm();
        }
    }
    remember(http)?;
    Ok(Synced {
        outcome: Outcome::Updated,
        from: url.to_owned(),
        revision: Some(rev),
        synced_at: None,
        message: String::new(),
    })
}

/// The HTTP client of archive downloads and git fetches (rustls; proxies from the
/// environment).
fn http_client() -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("nminus/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(6 * 3600))
        .build()
        .map_err(|e| error_chain(&e))
}

fn http_get(
    url: &str,
    v: Option<&HttpValidators>,
    out: &Path,
    max: u64,
) -> Result<Fetched, String> {
    use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
    let client = http_client()?;
    let mut req = client.get(url);
    if let Some(v) = v {
        if let Some(e) = &v.etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(lm) = &v.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
    }
    let resp = req
        .send()
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    if let Some(len) = resp.content_length().filter(|l| *l > max) {
        return Err(format!(
            "GET {url}: {len} bytes, more than the {max} allowed"
        ));
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header(ETAG);
    let last_modified = header(LAST_MODIFIED);
    let sha256 = copy_capped(resp, out, max, url)?;
    Ok(Fetched::Body {
        sha256,
        etag,
        last_modified,
    })
}

/// Copy `r` into a new file `out`, at most `max` bytes; the sha256 (hex) of what was copied.
fn copy_capped(mut r: impl Read, out: &Path, max: u64, what: &str) -> Result<String, String> {
    let mut f = io::BufWriter::new(fs_err::File::create(out).map_err(|e| e.to_string())?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| format!("reading {what}: {}", error_chain(&e)))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max {
            return Err(format!("{what}: more than the {max} bytes allowed"));
        }
        h.update(&buf[..n]);
        f.write_all(&buf[..n]).map_err(|e| io_msg(out, &e))?;
    }
    f.flush().map_err(|e| io_msg(out, &e))?;
    Ok(hex(&h.finalize()))
}

// ---------------------------------------------------------------------------------------------
// Safe extraction

/// Why an archive was refused or could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An entry that could write outside the destination or is not a plain file or folder.
    #[error("unsafe entry `{entry}`: {why}")]
    Unsafe {
        /// The entry's path as written in the archive.
        entry: String,
        /// What is wrong with it.
        why: String,
    },
    /// Over [`ExtractLimits`].
    #[error("{0}")]
    TooLarge(String),
    /// Not a readable tar.gz.
    #[error("cannot read the archive: {0}")]
    Read(String),
    /// Writing the extracted files failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// Where.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// What an extraction wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Entries read.
    pub entries: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Symbolic links inside the archive, not created.
    pub links_skipped: u64,
}

/// The path of an archive entry as a relative path of normal components: `Ok(None)` for the
/// root itself (`.`, `./`), `Err` for an absolute path or a `..` component.
pub fn safe_rel(p: &Path) -> Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err("path has a `..` component".to_owned()),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path".to_owned()),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Check that a symbolic link at `link` (relative to the archive root) pointing to `target`
/// stays inside the archive.
fn check_link_target(link: &Path, target: &Path) -> Result<(), String> {
    let mut depth = link.components().count().saturating_sub(1);
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    format!(
                        "symbolic link to `{}` points outside the archive",
                        target.display()
                    )
                })?;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "symbolic link to absolute path `{}` points outside the archive",
                    target.display()
                ))
            }
        }
    }
    Ok(())
}

/// Extract a `.tar.gz` into `dest` (an empty folder), keeping only the entries under `subdir`
/// (stripped of it) when given, under the safety rules of the [module documentation](self).
/// On error, `dest` may hold part of the archive: extract into a temporary folder.
pub fn extract_tar_gz(
    r: impl Read,
    dest: &Path,
    subdir: Option<&str>,
    limits: &ExtractLimits,
) -> Result<ExtractStats, ArchiveError> {
    extract_tar(flate2::read::MultiGzDecoder::new(r), dest, subdir, limits)
}

/// [`extract_tar_gz`] for an uncompressed tar stream.
pub fn extract_tar(
    r: impl Read,
    dest: &Path,
    subdir: Option<&str>,
    limits: &ExtractLimits,
) -> Result<ExtractStats, ArchiveError> {
    use tar::EntryType as T;
    let sub = match subdir {
        Some(s) => safe_rel(Path::new(s)).map_err(|why| ArchiveError::Unsafe {
            entry: s.to_owned(),
            why: format!("subdir: {why}"),
        })?,
        None => None,
    };
    let read_err = |e: io::Error| ArchiveError::Read(e.to_string());
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ArchiveError::Write { path, source }
    };
    let mut stats = ExtractStats::default();
    let mut ar = tar::Archive::new(r);
    for e in ar.entries().map_err(read_err)? {
        let mut e = e.map_err(read_err)?;
        let raw = e.path().map_err(read_err)?.into_owned();
        let unsafe_ = |why: String| ArchiveError::Unsafe {
            entry: raw.display().to_string(),
            why,
        };
        stats.entries += 1;
        if stats.entries > limits.max_entries {
            return Err(ArchiveError::TooLarge(format!(
                "the archive has more than {} entries (the limit)",
                limits.max_entries
            )));
        }
        let kind = e.header().entry_type();
        let rel = safe_rel(&raw).map_err(unsafe_)?;
        match kind {
            T::Regular | T::Continuous | T::Directory | T::Link => {}
            T::Symlink => {
                let target = e
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| unsafe_("symbolic link without a target".to_owned()))?;
                let at = rel
                    .clone()
                    .ok_or_else(|| unsafe_("symbolic link at the archive root".to_owned()))?;
                check_link_target(&at, &target).map_err(unsafe_)?;
                stats.links_skipped += 1;
                continue;
            }
            T::Char | T::Block => return Err(unsafe_("device file".to_owned())),
            T::Fifo => return Err(unsafe_("FIFO".to_owned())),
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            other => return Err(unsafe_(format!("unsupported entry type {other:?}"))),
        }
        let link_target = if kind == T::Link {
            let t = e
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| unsafe_("hard link without a target".to_owned()))?;
            let t = safe_rel(&t)
                .map_err(|why| {
                    unsafe_(format!(
                        "hard link to `{}` outside the archive ({why})",
                        t.display()
                    ))
                })?
                .ok_or_else(|| unsafe_("hard link to the archive root".to_owned()))?;
            Some(t)
        } else {
            None
        };
        let Some(rel) = rel else { continue };
        let strip = |p: &Path| -> Option<PathBuf> {
            match &sub {
                Some(s) => p
                    .strip_prefix(s)
                    .ok()
                    .filter(|r| !r.as_os_str().is_empty())
                    .map(Path::to_path_buf),
                None => Some(p.to_path_buf()),
            }
        };
        let Some(rel) = strip(&rel) else { continue };
        let out = dest.join(&rel);
        if kind == T::Directory {
            fs_err::create_dir_all(&out).map_err(|source| ArchiveError::Write {
                path: out.clone(),
                source,
            })?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs_err::create_dir_all(parent).map_err(write_err(parent))?;
        }
        let size = if let Some(t) = link_target {
            let t = strip(&t).ok_or_else(|| {
                unsafe_(format!(
                    "hard link to `{}`, outside the extracted folder",
                    t.display()
                ))
            })?;
            let src = dest.join(&t);
            let m = fs_err::symlink_metadata(&src)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .ok_or_else(|| {
                    unsafe_(format!(
                        "hard link to `{}`, not an earlier file of the archive",
                        t.display()
                    ))
                })?;
            if stats.bytes + m.len() > limits.max_bytes {
                return Err(too_large(limits));
            }
            fs_err::copy(&src, &out).map_err(write_err(&out))?
        } else {
            let size = e.header().size().map_err(read_err)?;
            if stats.bytes.saturating_add(size) > limits.max_bytes {
                return Err(too_large(limits));
            }
            let mut f = fs_err::File::create(&out).map_err(write_err(&out))?;
            io::copy(&mut (&mut e).take(size), &mut f).map_err(read_err)?
        };
        stats.bytes += size;
        stats.files += 1;
    }
    Ok(stats)
}

fn too_large(limits: &ExtractLimits) -> ArchiveError {
    ArchiveError::TooLarge(format!(
        "the archive would extract more than {} bytes (the limit): refused",
        limits.max_bytes
    ))
}

// ---------------------------------------------------------------------------------------------
// Files

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file or folder, deleted on drop unless disarmed.
struct TempPath {
    path: PathBuf,
    dir: bool,
    armed: bool,
}

impl TempPath {
    fn name(leaf: &str, tag: &str) -> String {
        format!(
            ".{leaf}.nminus-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A new folder inside `dir`.
    fn new_dir(dir: &Path, tag: &str) -> io::Result<Self> {
        let path = dir.join(Self::name("tmp", tag));
        fs_err::create_dir(&path)?;
        Ok(Self {
            path,
            dir: true,
            armed: true,
        })
    }

    /// A new file name inside `dir` (not created).
    fn new_file(dir: &Path, tag: &str) -> io::Result<Self> {
        fs_err::create_dir_all(dir)?;
        Ok(Self {
            path: dir.join(Self::name("tmp", tag)),
            dir: false,
            armed: true,
        })
    }

    fn sibling(target: &Path, tag: &str) -> io::Result<PathBuf> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs_err::create_dir_all(parent)?;
        let leaf = target
            .file_name()
            .map_or_else(|| "feed".into(), |n| n.to_string_lossy());
        Ok(parent.join(Self::name(&leaf, tag)))
    }

    /// A new folder beside `target` (same file system: renames into place work).
    fn beside(target: &Path, tag: &str) -> io::Result<Self> {
        let path = Self::sibling(target, tag)?;
        fs_err::create_dir(&path)?;
        Ok(Self {
            path,
            dir: true,
            armed: true,
        })
    }

    /// A new file name beside `target` (not created).
    fn beside_file(target: &Path, tag: &str) -> io::Result<Self> {
        Ok(Self {
            path: Self::sibling(target, tag)?,
            dir: false,
            armed: true,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Keep it (it was renamed into place).
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = if self.dir {
                fs_err::remove_dir_all(&self.path)
            } else {
                fs_err::remove_file(&self.path)
            };
        }
    }
}

/// Put the folder `new` in place of `target` (see "Replacing a folder" above).
fn swap_into_place(new: &Path, target: &Path) -> io::Result<()> {
    match fs_err::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(p) = target.parent() {
                fs_err::create_dir_all(p)?;
            }
            return fs_err::rename(new, target);
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let old = TempPath::sibling(target, "old")?;
    fs_err::rename(target, &old)?;
    if let Err(e) = fs_err::rename(new, target) {
        let _ = fs_err::rename(&old, target);
        return Err(e);
    }
    if fs_err::symlink_metadata(&old).is_ok_and(|m| m.is_dir()) {
        let _ = fs_err::remove_dir_all(&old);
    } else {
        let _ = fs_err::remove_file(&old);
    }
    Ok(())
}

/// Serialise `v` as JSON to `path` atomically (a temporary file beside it, then a rename).
pub(crate) fn save_json(path: &Path, v: &impl serde::Serialize) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| e.to_string())?;
    write_atomic(path, &bytes).map_err(|e| io_msg(path, &e))
}

/// Write `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = TempPath::beside_file(path, "write")?;
    fs_err::write(tmp.path(), bytes)?;
    fs_err::rename(tmp.path(), path)?;
    tmp.disarm();
    Ok(())
}

/// A lock file held while a sync runs (`<data>/.nminus/sync.lock`, holding the pid). A lock
/// left by a process that is gone is taken over.
struct Lock(PathBuf);

impl Lock {
    fn acquire(path: &Path) -> Result<Self, String> {
        for _ in 0..2 {
            match fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Self(path.to_owned()));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let pid = fs_err::read_to_string(path).unwrap_or_default();
                    let pid = pid.trim();
                    let alive = !pid.is_empty()
                        && (!Path::new("/proc/self").exists()
                            || Path::new("/proc").join(pid).exists());
                    if alive {
                        return Err(format!(
                            "another nminus sync (pid {pid}) is updating this data directory; if no such process runs, delete {}",
                            path.display()
                        ));
                    }
                    let _ = fs_err::remove_file(path);
                }
                Err(e) => return Err(format!("cannot take the sync lock: {e}")),
            }
        }
        Err(format!("cannot take the sync lock {}", path.display()))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.0);
    }
}

fn io_msg(path: &Path, e: &io::Error) -> String {
    let s = e.to_string();
    if s.contains(&path.display().to_string()) {
        s
    } else {
        format!("{}: {s}", path.display())
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A revision shortened for messages (12 hex digits of a commit or digest).
fn short(rev: &str) -> &str {
    let body = rev.strip_prefix("sha256:").unwrap_or(rev);
    &body[..body.len().min(12)]
}

/// A progress callback drawing an `indicatif` bar on stderr when stderr is a terminal (and
/// nothing otherwise).
pub fn stderr_progress<'a>() -> Progress<'a> {
    use std::io::IsTerminal;
    let terminal = io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if terminal {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {prefix}: {wide_msg}")
    {
        bar.set_style(style);
    }
    if terminal {
        bar.enable_steady_tick(Duration::from_millis(120));
    }
    Box::new(move |e: &SyncEvent<'_>| match e {
        SyncEvent::Feed { name, index, total } => {
            bar.set_length(*total as u64);
            bar.set_position(*index as u64);
            bar.set_prefix((*name).to_owned());
            bar.set_message("starting");
        }
        SyncEvent::Step { message, .. } => bar.set_message(message.clone()),
        SyncEvent::Done { index, total, .. } => {
            bar.set_position(*index as u64 + 1);
            if index + 1 == *total {
                bar.finish_and_clear();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_entry(path: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..path.len()].copy_from_slice(path);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    fn tar_of(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut t: Vec<u8> = entries.concat();
        t.extend_from_slice(&[0u8; 1024]);
        t
    }

    fn extract(
        entries: &[Vec<u8>],
        limits: ExtractLimits,
    ) -> (tempfile::TempDir, Result<ExtractStats, ArchiveError>) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        fs_err::create_dir(&dest).unwrap();
        let r = extract_tar(tar_of(entries).as_slice(), &dest, None, &limits);
        (dir, r)
    }

    fn file(path: &str, data: &str) -> Vec<u8> {
        raw_entry(
            path.as_bytes(),
            tar::EntryType::Regular,
            b"",
            data.as_bytes(),
        )
    }

    #[test]
    fn plain_archive_extracts() {
        let (d, r) = extract(
            &[
                raw_entry(b"a/", tar::EntryType::Directory, b"", b""),
                file("a/b.json", "{}"),
                file("./c.txt", "c"),
                raw_entry(b"a/link", tar::EntryType::Symlink, b"b.json", b""),
                raw_entry(b"a/hard", tar::EntryType::Link, b"a/b.json", b""),
            ],
            ExtractLimits::default(),
        );
        let s = r.unwrap();
        assert_eq!((s.files, s.bytes, s.links_skipped), (3, 5, 1));
        let out = d.path().join("out");
        assert_eq!(fs_err::read_to_string(out.join("a/hard")).unwrap(), "{}");
        assert!(!out.join("a/link").exists());
    }

    #[test]
    fn parent_components_are_refused() {
        for p in ["../evil", "a/../../evil", "a/b/../../../x"] {
            let (d, r) = extract(&[file(p, "x")], ExtractLimits::default());
            let e = r.unwrap_err().to_string();
            assert!(e.contains("`..`"), "{p}: {e}");
            assert!(!d.path().join("evil").exists());
        }
    }

    #[test]
    fn absolute_paths_are_refused() {
        let (_d, r) = extract(&[file("/tmp/nminus-evil", "x")], ExtractLimits::default());
        let e = r.unwrap_err().to_string();
        assert!(e.contains("absolute path"), "{e}");
        assert!(!Path::new("/tmp/nminus-evil").exists());
    }

    #[test]
    fn escaping_links_are_refused() {
        for (kind, target) in [
            (tar::EntryType::Symlink, "../../etc/passwd"),
            (tar::EntryType::Symlink, "/etc/passwd"),
            (tar::EntryType::Symlink, "a/../../../x"),
            (tar::EntryType::Link, "../outside"),
            (tar::EntryType::Link, "/etc/passwd"),
        ] {
            let (_d, r) = extract(
                &[raw_entry(b"dir/l", kind, target.as_bytes(), b"")],
                ExtractLimits::default(),
            );
            let e = r.unwrap_err().to_string();
            assert!(e.contains("outside"), "{target}: {e}");
        }
        // A link that climbs but stays inside is fine (and not created).
        let (_d, r) = extract(
            &[raw_entry(
                b"a/b/l",
                tar::EntryType::Symlink,
                b"../../c",
                b"",
            )],
            ExtractLimits::default(),
        );
        assert_eq!(r.unwrap().links_skipped, 1);
    }

    #[test]
    fn devices_and_fifos_are_refused() {
        for (k, word) in [
            (tar::EntryType::Char, "device"),
            (tar::EntryType::Block, "device"),
            (tar::EntryType::Fifo, "FIFO"),
        ] {
            let (_d, r) = extract(&[raw_entry(b"dev", k, b"", b"")], ExtractLimits::default());
            assert!(r.unwrap_err().to_string().contains(word));
        }
    }

    #[test]
    fn limits_are_enforced_before_writing() {
        let limits = ExtractLimits {
            max_bytes: 10,
            max_entries: 3,
        };
        let (d, r) = extract(&[file("a", "123456"), file("b", "123456")], limits);
        assert!(matches!(r, Err(ArchiveError::TooLarge(_))));
        assert!(!d.path().join("out/b").exists());
        let many: Vec<_> = (0..5).map(|i| file(&format!("f{i}"), "")).collect();
        let (_d, r) = extract(&many, limits);
        assert!(r.unwrap_err().to_string().contains("entries"));
        // A header claiming a huge size is refused before any byte is read.
        let mut h = file("big", "");
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(&h[..512]);
        header.set_size(1 << 40);
        header.set_cksum();
        h[..512].copy_from_slice(header.as_bytes());
        let (_d, r) = extract(&[h], ExtractLimits::default());
        assert!(matches!(r, Err(ArchiveError::TooLarge(_))), "{r:?}");
    }

    #[test]
    fn subdir_keeps_only_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_of(&[file("top/keep/x.json", "1"), file("top/other.json", "2")]);
        let s = extract_tar(
            t.as_slice(),
            dir.path(),
            Some("top/keep"),
            &ExtractLimits::default(),
        )
        .unwrap();
        assert_eq!(s.files, 1);
        assert!(dir.path().join("x.json").is_file());
        assert!(!dir.path().join("other.json").exists());
    }

    #[test]
    fn file_urls() {
        assert_eq!(
            file_url_path("file:///a/b%20c").unwrap(),
            Path::new("/a/b c")
        );
        assert_eq!(
            file_url_path("file://localhost/x").unwrap(),
            Path::new("/x")
        );
        assert!(file_url_path("file://host/x").is_err());
        assert_eq!(
            SyncFrom::parse("m.tar.gz"),
            SyncFrom::Bundle("m.tar.gz".into())
        );
        assert_eq!(SyncFrom::parse("/srv/m"), SyncFrom::Dir("/srv/m".into()));
    }
}
