//! Files of a sync: temporary paths removed on drop, replacing a folder whole, the sync
//! lock, JSON state written atomically.

#[allow(clippy::wildcard_imports)]
use super::*;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file or folder, deleted on drop unless disarmed.
pub(super) struct TempPath {
    pub(super) path: PathBuf,
    pub(super) dir: bool,
    pub(super) armed: bool,
}

impl TempPath {
    pub(super) fn name(leaf: &str, tag: &str) -> String {
        format!(
            ".{leaf}.nminus-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A new folder inside `dir`.
    pub(super) fn new_dir(dir: &Path, tag: &str) -> io::Result<Self> {
        let path = dir.join(Self::name("tmp", tag));
        fs_err::create_dir(&path)?;
        Ok(Self {
            path,
            dir: true,
            armed: true,
        })
    }

    /// A new file name inside `dir` (not created).
    pub(super) fn new_file(dir: &Path, tag: &str) -> io::Result<Self> {
        fs_err::create_dir_all(dir)?;
        Ok(Self {
            path: dir.join(Self::name("tmp", tag)),
            dir: false,
            armed: true,
        })
    }

    pub(super) fn sibling(target: &Path, tag: &str) -> io::Result<PathBuf> {
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
    pub(super) fn beside(target: &Path, tag: &str) -> io::Result<Self> {
        let path = Self::sibling(target, tag)?;
        fs_err::create_dir(&path)?;
        Ok(Self {
            path,
            dir: true,
            armed: true,
        })
    }

    /// A new file name beside `target` (not created).
    pub(super) fn beside_file(target: &Path, tag: &str) -> io::Result<Self> {
        Ok(Self {
            path: Self::sibling(target, tag)?,
            dir: false,
            armed: true,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Keep it (it was renamed into place).
    pub(super) fn disarm(mut self) {
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
pub(super) fn swap_into_place(new: &Path, target: &Path) -> io::Result<()> {
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

/// A sync's own files that could not be written or locked: the file and why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncFileError {
    /// The state could not be serialised.
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Writing the file failed.
    #[error("{}", io_msg(path, source))]
    Write { path: PathBuf, source: io::Error },
    /// Another sync holds the lock.
    #[error("another nminus sync (pid {pid}) is updating this data directory; if no such process runs, delete {}", path.display())]
    Locked { pid: String, path: PathBuf },
    /// The lock file could not be created.
    #[error("cannot take the sync lock: {0}")]
    Lock(io::Error),
    /// The lock was taken by another process twice in a row.
    #[error("cannot take the sync lock {}", .0.display())]
    Contended(PathBuf),
}

/// Serialise `v` as JSON to `path` atomically (a temporary file beside it, then a rename).
pub(crate) fn save_json(path: &Path, v: &impl serde::Serialize) -> Result<(), SyncFileError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|source| SyncFileError::Json {
        path: path.to_owned(),
        source,
    })?;
    Atomic {
        create_dir: true,
        ..Atomic::default()
    }
    .write(path, &bytes)
    .map_err(|source| SyncFileError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A lock file held while a sync runs (`<data>/.nminus/sync.lock`, holding the pid). A lock
/// left by a process that is gone is taken over.
pub(super) struct Lock(PathBuf);

impl Lock {
    pub(super) fn acquire(path: &Path) -> Result<Self, SyncFileError> {
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
                        return Err(SyncFileError::Locked {
                            pid: pid.to_owned(),
                            path: path.to_owned(),
                        });
                    }
                    let _ = fs_err::remove_file(path);
                }
                Err(e) => return Err(SyncFileError::Lock(e)),
            }
        }
        Err(SyncFileError::Contended(path.to_owned()))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.0);
    }
}

/// An I/O error at `path`.
pub(super) fn at(path: &Path, source: io::Error) -> SyncError {
    SyncError::Path {
        path: path.to_owned(),
        source,
    }
}

pub(super) fn io_msg(path: &Path, e: &io::Error) -> String {
    let s = e.to_string();
    if s.contains(&path.display().to_string()) {
        s
    } else {
        format!("{}: {s}", path.display())
    }
}
