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
//! `http://` (git's smart HTTP protocol, spoken by libgit2 over [`super::githttp`]'s
//! subtransport on the same HTTP client as archive downloads: rustls, proxies from the
//! environment), `file://` and local paths (libgit2).
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

use crate::util::{error_chain, hex, Atomic};
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
    fn resolve(&self) -> Result<(PathBuf, String), FileUrlError> {
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
pub(crate) fn file_url_path(url: &str) -> Result<PathBuf, FileUrlError> {
    let rest = url
        .strip_prefix("file://")
        .ok_or_else(|| FileUrlError::NotFile(url.to_owned()))?;
    let path = if rest.starts_with('/') {
        rest
    } else if let Some(r) = rest.strip_prefix("localhost/") {
        &rest[rest.len() - r.len() - 1..]
    } else {
        return Err(FileUrlError::NotAbsolute(url.to_owned()));
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
    let s = String::from_utf8(out).map_err(|_| FileUrlError::NotUtf8(url.to_owned()))?;
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
pub(crate) type Progress<'a> = Box<dyn Fn(&SyncEvent<'_>) + 'a>;

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
    Fail(SyncError),
}

impl From<SyncError> for NotSynced {
    fn from(e: SyncError) -> Self {
        Self::Fail(e)
    }
}

impl From<io::Error> for NotSynced {
    fn from(e: io::Error) -> Self {
        Self::Fail(e.into())
    }
}

impl From<SyncFileError> for NotSynced {
    fn from(e: SyncFileError) -> Self {
        Self::Fail(e.into())
    }
}

impl From<FileUrlError> for NotSynced {
    fn from(e: FileUrlError) -> Self {
        Self::Fail(e.into())
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
            report.errors.push(e.to_string());
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
                        message: e.to_string(),
                    });
                }
                report.errors.push(e.to_string());
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
            _ => Err(NotSynced::Fail(SyncError::Folder {
                folder: feed.folder.clone(),
            })),
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
            Err(NotSynced::Fail(e)) => outcome.message = e.to_string(),
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
        return Err(NotSynced::Fail(SyncError::FolderIsLink(ctx.target.clone())));
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

mod archive;
mod error;
mod extract;
mod files;
mod git;
mod mirror;

use archive::*;
pub(crate) use error::{FileUrlError, SyncError, UnsafePath};
pub(crate) use extract::{extract_tar_gz, safe_rel, ArchiveError};
use files::*;
use git::*;
pub(crate) use mirror::write_bundle;
use mirror::*;

/// A revision shortened for messages (12 hex digits of a commit or digest).
fn short(rev: &str) -> &str {
    let body = rev.strip_prefix("sha256:").unwrap_or(rev);
    &body[..body.len().min(12)]
}

/// A progress callback drawing an `indicatif` bar on stderr when stderr is a terminal (and
/// nothing otherwise).
pub(crate) fn stderr_progress<'a>() -> Progress<'a> {
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
        SyncEvent::Done {
            outcome,
            index,
            total,
        } => {
            // One line per feed stays on the terminal above the bar.
            bar.println(format!("{}: {}", outcome.name, outcome.outcome.as_str()));
            bar.set_position(*index as u64 + 1);
            if index + 1 == *total {
                bar.finish_and_clear();
            }
        }
    })
}

#[cfg(test)]
mod tests;
