//! Safe extraction of archives and bundles: no absolute paths, no `..`, no links leading out,
//! no device files, within [`ExtractLimits`].

#[allow(clippy::wildcard_imports)]
use super::*;

/// Why an archive was refused or could not be extracted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
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
pub(crate) struct ExtractStats {
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
pub(crate) fn safe_rel(p: &Path) -> Result<Option<PathBuf>, UnsafePath> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(UnsafePath::ParentDir),
            Component::RootDir | Component::Prefix(_) => return Err(UnsafePath::Absolute),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Check that a symbolic link at `link` (relative to the archive root) pointing to `target`
/// stays inside the archive.
pub(super) fn check_link_target(link: &Path, target: &Path) -> Result<(), UnsafePath> {
    let mut depth = link.components().count().saturating_sub(1);
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| UnsafePath::LinkOutside(target.to_owned()))?;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(UnsafePath::LinkAbsolute(target.to_owned()))
            }
        }
    }
    Ok(())
}

/// Extract a `.tar.gz` into `dest` (an empty folder), keeping only the entries under `subdir`
/// (stripped of it) when given, under the safety rules of the [module documentation](self).
/// On error, `dest` may hold part of the archive: extract into a temporary folder.
pub(crate) fn extract_tar_gz(
    r: impl Read,
    dest: &Path,
    subdir: Option<&str>,
    limits: &ExtractLimits,
) -> Result<ExtractStats, ArchiveError> {
    extract_tar(flate2::read::MultiGzDecoder::new(r), dest, subdir, limits)
}

/// [`extract_tar_gz`] for an uncompressed tar stream.
pub(crate) fn extract_tar(
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
        let rel = safe_rel(&raw).map_err(|why| unsafe_(why.to_string()))?;
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
                check_link_target(&at, &target).map_err(|why| unsafe_(why.to_string()))?;
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

pub(super) fn too_large(limits: &ExtractLimits) -> ArchiveError {
    ArchiveError::TooLarge(format!(
        "the archive would extract more than {} bytes (the limit): refused",
        limits.max_bytes
    ))
}
