//! A filesystem root to collect from: `/` on a live node, a directory standing for one, or a
//! container image's filesystem held in memory ([`MemFs`], built by [`super::image`]).
//!
//! Paths are given as they would appear on the node (`/var/lib/dpkg/status`) and resolved
//! *inside* the root: `..` never climbs above it and symlinks (absolute or relative) are followed
//! as if the root were `/` (at most 40 hops), so a hostile tree cannot make the agent read outside
//! it. Reads are bounded in size.
//!
//! Collectors use only the methods of [`Root`] ([`Root::read`], [`Root::list`], [`Root::exists`],
//! [`Root::is_dir`], [`Root::canonical`], [`Root::entries`] …), which work the same over both
//! backends. [`Root::resolve`] and [`Root::base`] give host paths only for a [`Backend::Dir`]
//! root; for an in-memory root use [`Root::host_path`] (which is then `None`).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::files::FilePattern;
use super::image::memfs::Unresolved;
pub(crate) use super::image::memfs::{MemFs, Node, NodeKind};

/// The file the collection itself reads ([`Root::hostname`]).
pub(crate) const READS: &[FilePattern] = &[FilePattern::Path("etc/hostname")];

/// Largest file a collector reads whole (package databases are far smaller; rpmdbs reach a few
/// hundred MiB on very large hosts, which the rpm reader streams separately).
pub(crate) const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Entries listed of one directory; the rest are left out with a problem (a directory of a
/// million entries is already far beyond any package database).
pub(crate) const MAX_DIR_ENTRIES: usize = 1_000_000;

/// Symlink hops allowed while resolving one path (as Linux's `MAXSYMLINKS`).
pub(crate) const MAX_LINKS: usize = 40;

/// Where a root's files are.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A directory on this machine.
    Dir(PathBuf),
    /// An image filesystem in memory.
    Mem(Arc<MemFs>),
}

/// A filesystem root.
#[derive(Debug, Clone)]
pub struct Root {
    backend: Backend,
    /// What [`Root::display_base`] shows for an in-memory root.
    label: String,
    /// What resolution and listing met and could not say through their return values (a
    /// symlink loop, a directory too large to list), by node path: each becomes a problem of
    /// the collection ([`Root::take_problems`]) instead of a file silently missing.
    noted: Arc<Mutex<BTreeMap<String, String>>>,
}

/// What a directory entry is, without following a symlink.
pub(crate) type EntryKind = NodeKind;

impl Root {
    /// A root at `base` (a directory).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Dir(base.into()),
            label: String::new(),
            noted: Arc::default(),
        }
    }

    /// A root over an in-memory image filesystem; `label` names it in inventories
    /// (`image:nova-api:2024.1-ubuntu-jammy`).
    pub fn mem(fs: Arc<MemFs>, label: impl Into<String>) -> Self {
        Self {
            backend: Backend::Mem(fs),
            label: label.into(),
            noted: Arc::default(),
        }
    }

    /// Resolve in a directory root, remembering a symlink loop.
    fn dir(&self, base: &Path, node_path: &str) -> Option<PathBuf> {
        match resolve_dir(base, node_path) {
            Ok(p) => Some(p),
            Err(u) => self.unresolved(u),
        }
    }

    /// Resolve in an in-memory root, remembering a symlink loop.
    fn in_mem<'a>(&self, fs: &'a MemFs, node_path: &str) -> Option<(String, &'a Node)> {
        match fs.resolve_checked(node_path, true) {
            Ok(x) => Some(x),
            Err(u) => self.unresolved(u),
        }
    }

    fn unresolved<T>(&self, u: Unresolved) -> Option<T> {
        if let Unresolved::Loop(at) = u {
            self.note(
                at,
                format!(
                    "symbolic link loop (more than {MAX_LINKS} links followed); what lies behind it is not read"
                ),
            );
        }
        None
    }

    /// Record a problem at `node_path` (the first message per path is kept; at most 1,000
    /// paths, so that a tree of loops cannot grow the list without bound).
    fn note(&self, node_path: String, message: String) {
        if let Ok(mut n) = self.noted.lock() {
            if n.len() < 1000 {
                n.entry(node_path).or_insert(message);
            }
        }
    }

    /// What path resolution and listing met since the last call (symlink loops, directories
    /// with more than [`MAX_DIR_ENTRIES`] entries), as `(node path, message)`, sorted.
    pub fn take_problems(&self) -> Vec<(String, String)> {
        self.noted
            .lock()
            .map(|mut n| std::mem::take(&mut *n).into_iter().collect())
            .unwrap_or_default()
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The base directory on this machine (`/` for an in-memory root, which has none: never
    /// use it for host file operations there; see [`Root::host_path`]).
    pub fn base(&self) -> &Path {
        match &self.backend {
            Backend::Dir(b) => b,
            Backend::Mem(_) => Path::new("/"),
        }
    }

    /// The base directory for display (the label for an in-memory root).
    pub fn display_base(&self) -> String {
        match &self.backend {
            Backend::Dir(b) => b.display().to_string(),
            Backend::Mem(_) => self.label.clone(),
        }
    }

    /// Resolve a node path inside the root, following symlinks inside the root. Returns `None`
    /// when a component does not exist. For a directory root the result is the host path; for
    /// an in-memory root it is the canonical node path (not a host path).
    pub fn resolve(&self, node_path: &str) -> Option<PathBuf> {
        match &self.backend {
            Backend::Dir(base) => self.dir(base, node_path),
            Backend::Mem(fs) => self.in_mem(fs, node_path).map(|(p, _)| PathBuf::from(p)),
        }
    }

    /// The host path of a node path, for readers that need a real file (SQLite, positioned
    /// reads); `None` for an in-memory root or when the path does not resolve.
    pub fn host_path(&self, node_path: &str) -> Option<PathBuf> {
        match &self.backend {
            Backend::Dir(base) => self.dir(base, node_path),
            Backend::Mem(_) => None,
        }
    }

    /// The node path after symlink resolution inside the root (`/lib/x` → `/usr/lib/x`), when
    /// it exists.
    pub fn canonical(&self, node_path: &str) -> Option<String> {
        match &self.backend {
            Backend::Dir(base) => {
                let host = self.dir(base, node_path)?;
                host.symlink_metadata().ok()?;
                let rel = host.strip_prefix(base).ok()?;
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                Some(format!("/{}", parts.join("/")))
            }
            Backend::Mem(fs) => self.in_mem(fs, node_path).map(|(p, _)| p),
        }
    }

    /// Whether the node path exists (after resolution).
    pub fn exists(&self, node_path: &str) -> bool {
        match &self.backend {
            Backend::Dir(base) => self
                .dir(base, node_path)
                .is_some_and(|p| p.symlink_metadata().is_ok()),
            Backend::Mem(fs) => self.in_mem(fs, node_path).is_some(),
        }
    }

    /// Whether the node path is a directory.
    pub fn is_dir(&self, node_path: &str) -> bool {
        match &self.backend {
            Backend::Dir(base) => self.dir(base, node_path).is_some_and(|p| p.is_dir()),
            Backend::Mem(fs) => self
                .in_mem(fs, node_path)
                .is_some_and(|(_, n)| matches!(n, Node::Dir(_))),
        }
    }

    /// Size of the regular file at the node path (after resolution).
    pub fn file_size(&self, node_path: &str) -> Option<u64> {
        match &self.backend {
            Backend::Dir(base) => self
                .dir(base, node_path)
                .and_then(|p| p.symlink_metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len()),
            Backend::Mem(fs) => match self.in_mem(fs, node_path)?.1 {
                Node::File(f) => Some(f.size),
                _ => None,
            },
        }
    }

    /// Read a whole file (bounded by [`MAX_FILE_BYTES`]). In an in-memory root, a file whose
    /// contents were not kept (what no collector declares, [`super::READS`]) is an error.
    pub fn read(&self, node_path: &str) -> io::Result<Vec<u8>> {
        let not_found = || {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{node_path}: not found under the root"),
            )
        };
        let fs = match &self.backend {
            Backend::Dir(base) => {
                let host = self.dir(base, node_path).ok_or_else(not_found)?;
                return read_host(&host, node_path);
            }
            Backend::Mem(fs) => fs,
        };
        let (_, node) = self.in_mem(fs, node_path).ok_or_else(not_found)?;
        match node {
            Node::File(f) => {
                if f.size > MAX_FILE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{node_path}: {} bytes exceeds the {MAX_FILE_BYTES}-byte limit",
                            f.size
                        ),
                    ));
                }
                f.data.as_ref().map(|d| d.to_vec()).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!(
                            "{node_path}: contents not kept in memory (not a file collectors read)"
                        ),
                    )
                })
            }
            Node::Dir(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{node_path}: is a directory"),
            )),
            Node::Symlink(_) | Node::Other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{node_path}: not a regular file"),
            )),
        }
    }

    /// Open a file for streaming (bounded by [`MAX_FILE_BYTES`] as [`Self::read`] is): the
    /// same checks and errors as `read`, without holding the whole file in memory (large
    /// databases such as dpkg's `status` are parsed as they are read).
    pub fn open(&self, node_path: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        match &self.backend {
            Backend::Dir(base) => {
                let host = self.dir(base, node_path).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{node_path}: not found under the root"),
                    )
                })?;
                let f = open_regular(&host, node_path)?;
                let len = f.metadata()?.len();
                if len > MAX_FILE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{node_path}: {len} bytes exceeds the {MAX_FILE_BYTES}-byte limit"),
                    ));
                }
                Ok(Box::new(f.take(MAX_FILE_BYTES)))
            }
            // In memory the contents are already held: a cursor over them.
            Backend::Mem(_) => Ok(Box::new(io::Cursor::new(self.read(node_path)?))),
        }
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
        self.entries(node_path)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// Entries of a directory with their kinds (a symlink is [`NodeKind::Symlink`], not
    /// followed), sorted by name; empty when it does not exist.
    pub fn entries(&self, node_path: &str) -> Vec<(String, EntryKind)> {
        match &self.backend {
            Backend::Dir(base) => {
                let Some(host) = self.dir(base, node_path) else {
                    return Vec::new();
                };
                let Ok(rd) = fs_err::read_dir(&host) else {
                    return Vec::new();
                };
                let mut v: Vec<(String, EntryKind)> = rd
                    .filter_map(Result::ok)
                    .take(MAX_DIR_ENTRIES + 1)
                    .map(|e| {
                        let kind = match e.file_type() {
                            Ok(t) if t.is_dir() => NodeKind::Dir,
                            Ok(t) if t.is_file() => NodeKind::File,
                            Ok(t) if t.is_symlink() => NodeKind::Symlink,
                            _ => NodeKind::Other,
                        };
                        (e.file_name().to_string_lossy().into_owned(), kind)
                    })
                    .collect();
                if v.len() > MAX_DIR_ENTRIES {
                    v.truncate(MAX_DIR_ENTRIES);
                    self.note(
                        node_path.to_owned(),
                        format!(
                            "more than {MAX_DIR_ENTRIES} entries: the rest are not read (entry limit)"
                        ),
                    );
                }
                v.sort();
                v
            }
            Backend::Mem(fs) => match self.in_mem(fs, node_path) {
                Some((_, Node::Dir(children))) => children
                    .iter()
                    .map(|(n, node)| (n.clone(), node.kind()))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    /// The hostname recorded in `/etc/hostname`, if any.
    pub fn hostname(&self) -> Option<String> {
        let s = self.read_string("/etc/hostname").ok()?;
        let h = s.lines().next()?.trim();
        (!h.is_empty() && h.len() <= 253).then(|| h.to_owned())
    }
}

/// Open a host file for reading only when it is a regular file: a FIFO, socket or device is
/// refused before it is opened (opening a FIFO blocks until a writer comes; reading a device
/// never ends), and the file opened is checked again (`O_NONBLOCK`, `O_NOFOLLOW`, then
/// `fstat`), so that a file swapped in between cannot make the agent wait either.
pub(crate) fn open_regular(host: &Path, node_path: &str) -> io::Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let refuse = |t: std::fs::FileType| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{node_path}: {}, not a regular file; not read",
                describe_type(t)
            ),
        )
    };
    let meta = fs_err::symlink_metadata(host)?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    let f = fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(host)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    Ok(f)
}

/// What a file that is not a regular file is, in words.
fn describe_type(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

fn read_host(host: &Path, node_path: &str) -> io::Result<Vec<u8>> {
    let f = open_regular(host, node_path)?;
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

/// Resolve a node path to a host path under `base`, following symlinks inside it.
fn resolve_dir(base: &Path, node_path: &str) -> Result<PathBuf, Unresolved> {
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
        let mut host = base.to_path_buf();
        for s in &stack {
            host.push(s);
        }
        host.push(&c);
        let meta = host.symlink_metadata().map_err(|_| Unresolved::Missing)?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > MAX_LINKS {
                let mut at = stack.clone();
                at.push(c);
                return Err(Unresolved::Loop(format!("/{}", at.join("/"))));
            }
            let target = host.read_link().map_err(|_| Unresolved::Missing)?;
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
    let mut host = base.to_path_buf();
    for s in &stack {
        host.push(s);
    }
    Ok(host)
}

/// Join a node directory and an entry name.
pub(crate) fn join(dir: &str, name: &str) -> String {
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

    #[test]
    fn in_memory_root_behaves_like_a_directory() {
        use super::super::image::memfs::{normalize, FileNode};
        let mut fs = MemFs::new();
        let file = |s: &str| {
            Node::File(FileNode {
                size: s.len() as u64,
                data: Some(Arc::from(s.as_bytes())),
            })
        };
        fs.insert(&normalize("etc/hostname").0, file("node1\n"));
        fs.insert(&normalize("abs").0, Node::Symlink("/etc/hostname".into()));
        fs.insert(
            &normalize("etc/rel").0,
            Node::Symlink("../../../../etc/hostname".into()),
        );
        fs.insert(
            &normalize("escape").0,
            Node::Symlink("/../../secret".into()),
        );
        fs.insert(&normalize("loop").0, Node::Symlink("loop".into()));
        fs.insert(
            &normalize("usr/bin/python3").0,
            Node::File(FileNode {
                size: 10,
                data: None,
            }),
        );
        let root = Root::mem(Arc::new(fs), "image:test");
        assert_eq!(root.display_base(), "image:test");
        assert_eq!(root.read_string("/abs").unwrap(), "node1\n");
        assert_eq!(root.read_string("/etc/rel").unwrap(), "node1\n");
        assert_eq!(root.read_string("/../../etc/hostname").unwrap(), "node1\n");
        assert!(root.read("/escape").is_err());
        assert!(root.read("/loop").is_err());
        assert_eq!(root.hostname().as_deref(), Some("node1"));
        assert!(root.exists("/usr/bin/python3"));
        assert_eq!(root.file_size("/usr/bin/python3"), Some(10));
        let e = root.read("/usr/bin/python3").unwrap_err();
        assert!(e.to_string().contains("not kept"), "{e}");
        assert!(root.is_dir("/usr/bin"));
        assert_eq!(root.list("/"), ["abs", "escape", "etc", "loop", "usr"]);
        assert_eq!(root.canonical("/abs").as_deref(), Some("/etc/hostname"));
        assert_eq!(root.entries("/")[0], ("abs".to_owned(), NodeKind::Symlink));
        assert!(root.host_path("/etc/hostname").is_none());
        assert_eq!(
            root.resolve("/abs").unwrap(),
            std::path::PathBuf::from("/etc/hostname")
        );
    }
}
