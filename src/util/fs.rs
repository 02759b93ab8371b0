//! Atomic file writes: a temporary file beside the target, then a rename, so that a reader
//! never sees half a file and a failed write leaves the old file as it was.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How an atomic write is done. The default: the parent folder must exist, the new file gets
/// the mode the umask gives, no `fsync`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Atomic {
    /// Create the parent folder when it is missing.
    pub(crate) create_dir: bool,
    /// File mode of the new file (Unix); set before any byte is written.
    pub(crate) mode: Option<u32>,
    /// `fsync` the file before it is renamed into place.
    pub(crate) sync: bool,
}

/// Write `bytes` to `path` atomically with the default [`Atomic`] options.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    Atomic::default().write(path, bytes)
}

/// The temporary file; removed on drop unless it was renamed into place.
struct Temp(Option<PathBuf>);

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs_err::remove_file(p);
        }
    }
}

impl Atomic {
    /// Write `bytes` to `path`.
    pub(crate) fn write(self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.write_with(path, |w| w.write_all(bytes))
    }

    /// Write what `render` writes into a buffered writer to `path` (nothing is held in memory
    /// whole).
    ///
    /// A path that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is
    /// written to directly: renaming over it would replace the device with a file.
    pub(crate) fn write_with<E: From<io::Error>>(
        self,
        path: &Path,
        render: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Ok(m) = fs_err::metadata(path) {
            if !m.is_file() {
                let f = fs_err::OpenOptions::new().write(true).open(path)?;
                let mut w = io::BufWriter::new(f);
                render(&mut w)?;
                w.flush()?;
                return Ok(());
            }
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if self.create_dir {
            fs_err::create_dir_all(dir)?;
        }
        let leaf = path
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy());
        let tmp = dir.join(format!(
            ".{leaf}.nminus-write-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut opts = fs_err::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            use fs_err::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        let file = opts.open(&tmp)?;
        let guard = Temp(Some(tmp.clone()));
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            // The umask may have taken bits away from the mode asked for.
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        }
        let mut w = io::BufWriter::new(file);
        render(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        if self.sync {
            file.sync_all()?;
        }
        drop(file);
        fs_err::rename(&tmp, path)?;
        std::mem::forget(guard);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("nminus-write"))
            .collect()
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs_err::read(&p).unwrap(), b"two");
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_failed_render_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out");
        write_atomic(&p, b"old").unwrap();
        let r: io::Result<()> = Atomic::default().write_with(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("render failed"))
        });
        assert_eq!(r.unwrap_err().to_string(), "render failed");
        assert_eq!(fs_err::read(&p).unwrap(), b"old");
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn the_parent_is_created_only_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/out");
        assert!(write_atomic(&p, b"x").is_err());
        let a = Atomic {
            create_dir: true,
            ..Atomic::default()
        };
        a.write(&p, b"x").unwrap();
        assert_eq!(fs_err::read(&p).unwrap(), b"x");
    }

    #[cfg(unix)]
    #[test]
    fn the_mode_asked_for_is_the_mode_written() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secret");
        let a = Atomic {
            mode: Some(0o600),
            sync: true,
            ..Atomic::default()
        };
        a.write(&p, b"s").unwrap();
        let mode = fs_err::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_device_is_written_in_place() {
        write_atomic(Path::new("/dev/null"), b"nothing").unwrap();
        assert!(!fs_err::metadata("/dev/null").unwrap().is_file());
    }
}
