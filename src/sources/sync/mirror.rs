//! Mirrors and bundles (`--from`): a feed folder taken from a directory with the data
//! directory's layout or from a bundle `.tar.gz`; `--bundle-out` writes one.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) struct Mirror {
    pub(super) root: PathBuf,
    pub(super) label: String,
    pub(super) state: SyncState,
    /// Extracted from a bundle into a staging folder we own: feed folders are moved, not copied.
    pub(super) staged: Option<TempPath>,
}

impl Mirror {
    pub(super) fn open(
        from: &SyncFrom,
        data: &Path,
        cfg: &FeedsConfig,
        opts: &SyncOptions<'_>,
    ) -> Result<Self, SyncError> {
        let (path, label) = from.resolve()?;
        let meta = fs_err::metadata(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SyncError::FromMissing(label.clone()),
            _ => SyncError::FromUnreadable {
                label: label.clone(),
                source,
            },
        })?;
        if meta.is_dir() {
            if let (Ok(a), Ok(b)) = (fs_err::canonicalize(&path), fs_err::canonicalize(data)) {
                if a == b {
                    return Err(SyncError::FromIsData(label));
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
        fs_err::create_dir_all(&tmp)?;
        let staging = TempPath::new_dir(&tmp, "bundle")?;
        opts.step("bundle", format!("extracting {label}"));
        let file = fs_err::File::open(&path).map_err(|source| SyncError::FromUnreadable {
            label: label.clone(),
            source,
        })?;
        extract_tar_gz(BufReader::new(file), staging.path(), None, &opts.limits).map_err(
            |source| SyncError::Bundle {
                label: label.clone(),
                source,
            },
        )?;
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
pub(super) fn bundle_root(staging: &Path, cfg: &FeedsConfig) -> PathBuf {
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

pub(super) fn sync_from_mirror(ctx: &Ctx<'_, '_>, m: &Mirror) -> Result<Synced, NotSynced> {
    let src = m.root.join(&ctx.feed.folder);
    if !src.is_dir() {
        let e = SyncError::NotInMirror {
            label: m.label.clone(),
            folder: ctx.feed.folder.clone(),
        };
        return Err(if ctx.explicit {
            NotSynced::Fail(e)
        } else {
            NotSynced::Skip(e.to_string())
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
        swap_into_place(&src, &ctx.target).map_err(|e| at(&ctx.target, e))?;
    } else {
        ctx.step(format!("copying {} files", files.len()));
        let new = TempPath::beside(&ctx.target, "new").map_err(|e| at(&ctx.target, e))?;
        for f in &files {
            let out = new.path().join(&f.rel);
            if let Some(p) = out.parent() {
                fs_err::create_dir_all(p)?;
            }
            fs_err::copy(&f.path, &out)?;
        }
        swap_into_place(new.path(), &ctx.target).map_err(|e| at(&ctx.target, e))?;
        new.disarm();
    }
    Ok(done(Outcome::Updated))
}

/// A regular file of a local tree.
pub(super) struct TreeFile {
    /// `/`-separated path relative to the tree's root.
    pub(super) rel: String,
    pub(super) path: PathBuf,
    pub(super) size: u64,
}

/// Every regular file under `root` in path order, `.git` folders skipped. Symbolic links are
/// followed when they resolve inside `root`, refused otherwise.
pub(super) fn list_files(root: &Path, limits: &ExtractLimits) -> Result<Vec<TreeFile>, SyncError> {
    let canon_root = fs_err::canonicalize(root)?;
    let mut out = Vec::new();
    let mut bytes = 0u64;
    let mut stack = vec![(root.to_owned(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
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
            let lmeta = fs_err::symlink_metadata(&path)?;
            let meta = if lmeta.file_type().is_symlink() {
                let real = fs_err::canonicalize(&path)?;
                if !real.starts_with(&canon_root) {
                    return Err(SyncError::LinkOutside { path, target: real });
                }
                fs_err::metadata(&path)?
            } else {
                lmeta
            };
            if meta.is_dir() {
                if depth >= 32 {
                    return Err(SyncError::TooDeep(path));
                }
                stack.push((path, child_rel, depth + 1));
            } else if meta.is_file() {
                bytes += meta.len();
                if bytes > limits.max_bytes || out.len() as u64 >= limits.max_entries {
                    return Err(SyncError::MirrorTooLarge {
                        root: root.to_owned(),
                        limits: *limits,
                    });
                }
                out.push(TreeFile {
                    rel: child_rel,
                    path,
                    size: meta.len(),
                });
            } else {
                return Err(SyncError::NotAFile(path));
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// `sha256:` over every file's relative path, size and content, in path order.
pub(super) fn tree_digest(files: &[TreeFile]) -> Result<String, SyncError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for f in files {
        h.update(f.rel.as_bytes());
        h.update([0u8]);
        h.update(f.size.to_le_bytes());
        let mut file = fs_err::File::open(&f.path)?;
        loop {
            let n = file.read(&mut buf).map_err(|e| at(&f.path, e))?;
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
pub(crate) fn write_bundle(
    cfg: &FeedsConfig,
    data: &Path,
    out: &Path,
) -> Result<BundleSummary, SyncError> {
    let mut summary = BundleSummary::default();
    let state = SyncState::load(data);
    let mut kept = SyncState::default();
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = TempPath::new_file(parent, "bundle").map_err(|e| at(out, e))?;
    let file = fs_err::File::create(tmp.path())?;
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
            let reader = fs_err::File::open(&f.path)?;
            tar.append_data(&mut h, format!("{}/{}", feed.folder, f.rel), reader)
                .map_err(|e| at(&f.path, e))?;
            summary.files += 1;
            summary.bytes += f.size;
        }
        if let Some(s) = state.feeds.get(&feed.name) {
            kept.feeds.insert(feed.name.clone(), s.clone());
        }
        summary.feeds.push(feed.name.clone());
    }
    let json = serde_json::to_vec_pretty(&kept)?;
    let mut h = tar::Header::new_gnu();
    h.set_size(json.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, ".nminus/state.json", json.as_slice())
        .map_err(|e| at(out, e))?;
    let gz = tar.into_inner().map_err(|e| at(out, e))?;
    let mut w = gz.finish().map_err(|e| at(out, e))?;
    w.flush().map_err(|e| at(out, e))?;
    drop(w);
    fs_err::rename(tmp.path(), out)?;
    tmp.disarm();
    Ok(summary)
}

/// What [`write_bundle`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BundleSummary {
    /// Feeds included.
    pub feeds: Vec<String>,
    /// Feeds whose folder the data directory does not hold.
    pub missing: Vec<String>,
    /// Files written.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
}
