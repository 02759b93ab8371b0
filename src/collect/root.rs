//! A filesystem root to collect from: `/` on a live node, or a directory standing for one.
//!
//! Paths are given as they would appear on the node (`/var/lib/dpkg/status`) and resolved
//! *inside* the root: `..` never climbs above it and symlinks (absolute or relative) are followed
//! as if the root were `/`, so a hostile tree cannot make the agent read outside it. Reads are
//! bounded in size.

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Largest file a collector reads whole (package databases are far smaller; rpmdbs reach a few
/// hundred MiB on very large hosts, which the rpm reader streams separately).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Symlink hops allowed while resolving one path (as Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// A filesystem root.
#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
}

impl Root {
    /// A root at `base` (a directory).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }

    /// The base directory on this machine.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The base directory for display.
    pub fn display_base(&self) -> String {
        self.base.display().to_string()
    }

    /// Resolve a node path to a host path inside the root, following symlinks inside the root.
    /// Returns `None` when a component does not exist.
    pub fn resolve(&self, node_path: &str) -> Option<PathBuf> {
        let mut stack: Vec<String> = Vec::new();
        let mut pending: Vec<String> = components(node_path).into_iter().rev().collect();
        let mut hops = 0usize;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "." | "" => continue,
                ".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let mut host = self.base.clone();
            for s in &stack {
                host.push(s);
            }
            host.push(&c);
            let meta = host.symlink_metadata().ok()?;
            if meta.file_type().is_symlink() {
                hops += 1;
                if hops > MAX_LINKS {
                    return None;
                }
                let target = host.read_link().ok()?;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    stack.clear();
                }
                for part in components(&t).into_iter().rev() {
                    pending.push(part);
                }
            } else {
                stack.push(c);
            }
        }
        let mut host = self.base.clone();
        for s in &stack {
            host.push(s);
        }
        Some(host)
    }

    /// Whether the node path exists (after resolution).
    pub fn exists(&self, node_path: &str) -> bool {
        self.resolve(node_path)
            .is_some_and(|p| p.symlink_metadata().is_ok())
    }

    /// Whether the node path is a directory.
    pub fn is_dir(&self, node_path: &str) -> bool {
        self.resolve(node_path).is_some_and(|p| p.is_dir())
    }

    /// Read a whole file (bounded by [`MAX_FILE_BYTES`]).
    pub fn read(&self, node_path: &str) -> io::Result<Vec<u8>> {
        let host = self.resolve(node_path).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{node_path}: not found under the root"),
            )
        })?;
        let f = fs_err::File::open(&host)?;
        let len = f.metadata()?.len();
        if len > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{node_path}: {len} bytes exceeds the {MAX_FILE_BYTES}-byte limit"),
            ));
        }
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        f.take(MAX_FILE_BYTES).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Read a whole file as (lossy) UTF-8.
    pub fn read_string(&self, node_path: &str) -> io::Result<String> {
        let b = self.read(node_path)?;
        Ok(match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Entry names of a directory, sorted; empty when it does not exist.
    pub fn list(&self, node_path: &str) -> Vec<String> {
        let Some(host) = self.resolve(node_path) else {
            return Vec::new();
        };
        let Ok(rd) = fs_err::read_dir(&host) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// The hostname recorded in `/etc/hostname`, if any.
    pub fn hostname(&self) -> Option<String> {
        let s = self.read_string("/etc/hostname").ok()?;
        let h = s.lines().next()?.trim();
        (!h.is_empty() && h.len() <= 253).then(|| h.to_owned())
    }
}

/// Join a node directory and an entry name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn components(p: &str) -> Vec<String> {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_dotdot_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        fs_err::write(outside.path().join("secret"), "s").unwrap();
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs_err::create_dir_all(r.join("etc")).unwrap();
        fs_err::write(r.join("etc/hostname"), "node1\n").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/hostname", r.join("etc/rel")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), r.join("escape")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        let root = Root::new(r);
        assert_eq!(root.read_string("/abs").unwrap(), "node1\n");
        assert_eq!(root.read_string("/etc/rel").unwrap(), "node1\n");
        assert_eq!(root.read_string("/../../etc/hostname").unwrap(), "node1\n");
        assert!(
            root.read("/escape").is_err(),
            "absolute link must resolve inside the root"
        );
        assert!(root.read("/loop").is_err());
        assert_eq!(root.hostname().as_deref(), Some("node1"));
    }
}
