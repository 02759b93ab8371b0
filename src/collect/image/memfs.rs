//! An in-memory filesystem tree standing for a container image's root, built by applying layers
//! in order, never written to disk.
//!
//! It holds what collectors need and no more: every directory, symlink (with its target) and
//! regular file (with its size) of the image, but the *contents* only of the files collectors
//! read ([`keeps_contents`]): package databases, Python distribution metadata, os-release files,
//! `/etc/hostname` and lockfiles. Listing and existence tests work for every path; reading a
//! file whose contents were not kept is an error naming the path.
//!
//! Paths are node paths (`/var/lib/dpkg/status`); every operation normalises them inside the
//! tree: `..` never climbs above `/`, and symlinks are followed inside the tree ([`MemFs::resolve`],
//! at most [`MAX_LINKS`] hops), so nothing an image contains can name anything outside it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::collect::lockfile::LockKind;

/// Symlink hops allowed while resolving one path (as Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: usize = 40;

/// A regular file: its size and, when [`keeps_contents`] selected it, its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNode {
    /// Size in bytes as the layer declared it.
    pub size: u64,
    /// The contents, when kept.
    pub data: Option<Arc<[u8]>>,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory and its entries.
    Dir(BTreeMap<String, Self>),
    /// A regular file.
    File(FileNode),
    /// A symbolic link and its target as written.
    Symlink(String),
    /// A device, FIFO or socket: exists, cannot be read.
    Other,
}

impl Node {
    /// An empty directory.
    pub fn empty_dir() -> Self {
        Self::Dir(BTreeMap::new())
    }

    /// The kind of this node.
    pub fn kind(&self) -> NodeKind {
        match self {
            Self::Dir(_) => NodeKind::Dir,
            Self::File(_) => NodeKind::File,
            Self::Symlink(_) => NodeKind::Symlink,
            Self::Other => NodeKind::Other,
        }
    }
}

/// What a path is (without following a final symlink where said so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// An image root in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemFs {
    root: Node,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the contents of the file at `path` (a node path, with or without the leading `/`)
/// are kept in memory: the files the collectors read.
///
/// - dpkg: `{var,usr}/lib/dpkg/status`, `…/status.d/*`, `…/info/*.list`;
/// - apk: `{,usr/}lib/apk/db/installed`;
/// - rpm: `Packages`, `Packages.db`, `rpmdb.sqlite` under `var/lib/rpm` and `usr/lib/sysimage/rpm`;
/// - Python: `*.dist-info/METADATA`, `*.dist-info/INSTALLER`, a `*.egg-info` file,
///   `*.egg-info/PKG-INFO`, `*.egg/EGG-INFO/PKG-INFO`, `*.egg-link`, `pyvenv.cfg`;
/// - the OS: `etc/os-release`, `usr/lib/os-release`, `etc/*-release`, `etc/*_version`,
///   `etc/system-release-cpe`, `etc/hostname`;
/// - lockfiles by name: `Cargo.lock`, `*requirements*.txt`, `poetry.lock`, `uv.lock`,
///   `Pipfile.lock`, `pylock.toml`, `pdm.lock`.
///
/// systemd units are only listed by name, never read, so their contents are not kept. Every
/// other regular file is recorded with its size only.
pub fn keeps_contents(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    let (dir, name) = match p.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", p),
    };
    if name.is_empty() {
        return false;
    }
    // Package databases.
    for admin in ["var/lib/dpkg", "usr/lib/dpkg"] {
        if let Some(rest) = p.strip_prefix(admin).and_then(|r| r.strip_prefix('/')) {
            if rest == "status" {
                return true;
            }
            if let Some(f) = rest.strip_prefix("status.d/") {
                return !f.contains('/');
            }
            if let Some(f) = rest.strip_prefix("info/") {
                return !f.contains('/') && f.ends_with(".list");
            }
        }
    }
    if matches!(p, "lib/apk/db/installed" | "usr/lib/apk/db/installed") {
        return true;
    }
    if matches!(dir, "var/lib/rpm" | "usr/lib/sysimage/rpm")
        && matches!(name, "Packages" | "Packages.db" | "rpmdb.sqlite")
    {
        return true;
    }
    // Python distribution metadata.
    let parent = dir.rsplit('/').next().unwrap_or("");
    let lower_parent = parent.to_ascii_lowercase();
    let lower_name = name.to_ascii_lowercase();
    if lower_parent.ends_with(".dist-info") && matches!(name, "METADATA" | "INSTALLER") {
        return true;
    }
    if lower_name.ends_with(".egg-info") || lower_name.ends_with(".egg-link") {
        return true;
    }
    if lower_parent.ends_with(".egg-info") && name == "PKG-INFO" {
        return true;
    }
    if parent == "EGG-INFO" && name == "PKG-INFO" {
        return true;
    }
    if name == "pyvenv.cfg" {
        return true;
    }
    // The operating system.
    if dir == "etc"
        && (name.ends_with("-release")
            || name.ends_with("_version")
            || matches!(name, "system-release-cpe" | "hostname"))
    {
        return true;
    }
    if p == "usr/lib/os-release" {
        return true;
    }
    // Lockfiles.
    LockKind::from_file_name(name).is_some()
}

/// Split a path into normal components, applying `.` and `..` lexically and clamping at `/`.
/// Returns the components and whether a `..` tried to climb above the root.
pub fn normalize(path: &str) -> (Vec<String>, bool) {
    let mut out: Vec<String> = Vec::new();
    let mut escaped = false;
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    escaped = true;
                }
            }
            n => out.push(n.to_owned()),
        }
    }
    (out, escaped)
}

/// Components of `/`-joined `parts`, as one node path.
pub fn node_path(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

impl MemFs {
    /// An empty tree (just `/`).
    pub fn new() -> Self {
        Self {
            root: Node::empty_dir(),
        }
    }

    /// The root directory node.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Resolve `path` inside the tree, following symlinks in every component (the last one
    /// too), as `open(2)` inside a `chroot` would. Returns the canonical node path and the
    /// node, or `None` when a component does not exist, a non-directory has children, or the
    /// hop limit is reached.
    pub fn resolve(&self, path: &str) -> Option<(String, &Node)> {
        self.resolve_inner(path, true)
    }

    /// Like [`Self::resolve`], but a final symlink is returned rather than followed (`lstat`).
    pub fn resolve_nofollow(&self, path: &str) -> Option<(String, &Node)> {
        self.resolve_inner(path, false)
    }

    fn resolve_inner(&self, path: &str, follow_last: bool) -> Option<(String, &Node)> {
        let mut stack: Vec<(String, &Node)> = Vec::new();
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_owned)
            .rev()
            .collect();
        let mut hops = 0usize;
        while let Some(c) = pending.pop() {
            if c == "." || c.is_empty() {
                continue;
            }
            if c == ".." {
                stack.pop();
                continue;
            }
            let parent = stack.last().map_or(&self.root, |(_, n)| *n);
            let Node::Dir(children) = parent else {
                return None;
            };
            let child = children.get(&c)?;
            match child {
                Node::Symlink(target) if follow_last || !pending.is_empty() => {
                    hops += 1;
                    if hops > MAX_LINKS {
                        return None;
                    }
                    if target.starts_with('/') {
                        stack.clear();
                    }
                    pending.extend(
                        target
                            .split('/')
                            .filter(|c| !c.is_empty() && *c != ".")
                            .map(str::to_owned)
                            .rev(),
                    );
                }
                _ => stack.push((c, child)),
            }
        }
        let node = stack.last().map_or(&self.root, |(_, n)| *n);
        let path = format!(
            "/{}",
            stack
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join("/")
        );
        Some((path, node))
    }

    /// The directory that would hold `parts` (all but the last component), created as needed,
    /// following symlinks inside the tree for existing components (as extracting a layer onto
    /// a filesystem would). A non-directory in the way is replaced by a directory. Returns
    /// `None` only when symlinks loop.
    fn parent_dir_mut(&mut self, parts: &[String]) -> Option<&mut BTreeMap<String, Node>> {
        let parent = parts.get(..parts.len().saturating_sub(1)).unwrap_or(&[]);
        // Resolve the parent's real location first (immutable pass), then walk it mutably.
        let real = self.real_dir_path(parent)?;
        let mut cur = &mut self.root;
        for c in &real {
            let Node::Dir(children) = cur else {
                return None;
            };
            let entry = children.entry(c.clone()).or_insert_with(Node::empty_dir);
            if !matches!(entry, Node::Dir(_)) {
                *entry = Node::empty_dir();
            }
            cur = entry;
        }
        match cur {
            Node::Dir(children) => Some(children),
            _ => None,
        }
    }

    /// The canonical components of directory `parts`, following existing symlinks; missing
    /// components are taken literally (they will be created).
    fn real_dir_path(&self, parts: &[String]) -> Option<Vec<String>> {
        let mut stack: Vec<String> = Vec::new();
        let mut pending: Vec<String> = parts.iter().rev().cloned().collect();
        let mut hops = 0usize;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let here = self.lookup_literal(&stack);
            let child = match here {
                Some(Node::Dir(children)) => children.get(&c),
                _ => None,
            };
            if let Some(Node::Symlink(target)) = child {
                hops += 1;
                if hops > MAX_LINKS {
                    return None;
                }
                if target.starts_with('/') {
                    stack.clear();
                }
                pending.extend(target.split('/').map(str::to_owned).rev());
            } else {
                stack.push(c);
            }
        }
        Some(stack)
    }

    /// The node at exactly these components (no symlink following).
    pub fn lookup_literal(&self, parts: &[String]) -> Option<&Node> {
        let mut cur = &self.root;
        for c in parts {
            let Node::Dir(children) = cur else {
                return None;
            };
            cur = children.get(c)?;
        }
        Some(cur)
    }

    /// Put `node` at `parts` (normalised components). A directory over an existing directory
    /// keeps the existing entries (a layer re-stating a directory does not empty it); anything
    /// else replaces what was there. Returns `false` when the path cannot be placed (the root
    /// itself, or a symlink loop in the parents).
    pub fn insert(&mut self, parts: &[String], node: Node) -> bool {
        let Some(name) = parts.last().cloned() else {
            return matches!(node, Node::Dir(_));
        };
        let Some(dir) = self.parent_dir_mut(parts) else {
            return false;
        };
        match (dir.get_mut(&name), node) {
            (Some(Node::Dir(_)), Node::Dir(_)) => {}
            (_, node) => {
                dir.insert(name, node);
            }
        }
        true
    }

    /// Remove whatever is at `parts` (a whiteout). Returns whether something was removed.
    pub fn remove(&mut self, parts: &[String]) -> bool {
        let Some(name) = parts.last() else {
            return false;
        };
        let Some(real) = self.real_dir_path(&parts[..parts.len() - 1]) else {
            return false;
        };
        match self.dir_mut_existing(&real) {
            Some(dir) => dir.remove(name).is_some(),
            None => false,
        }
    }

    /// Empty the directory at `parts` (an opaque whiteout), creating it when missing.
    pub fn clear_dir(&mut self, parts: &[String]) {
        if parts.is_empty() {
            self.root = Node::empty_dir();
            return;
        }
        let name = parts[parts.len() - 1].clone();
        if let Some(dir) = self.parent_dir_mut(parts) {
            dir.insert(name, Node::empty_dir());
        }
    }

    fn dir_mut_existing(&mut self, real: &[String]) -> Option<&mut BTreeMap<String, Node>> {
        let mut cur = &mut self.root;
        for c in real {
            let Node::Dir(children) = cur else {
                return None;
            };
            cur = children.get_mut(c)?;
        }
        match cur {
            Node::Dir(children) => Some(children),
            _ => None,
        }
    }

    /// The regular file a hard link at `parts` would share: the node at `target` (resolved
    /// inside the tree, a final symlink not followed), when it is a regular file.
    pub fn hardlink_source(&self, target: &[String]) -> Option<FileNode> {
        let (_, node) = self.resolve_nofollow(&node_path(target))?;
        match node {
            Node::File(f) => Some(f.clone()),
            _ => None,
        }
    }

    /// Number of nodes (directories, files, links) below the root.
    pub fn len(&self) -> usize {
        fn count(n: &Node) -> usize {
            match n {
                Node::Dir(c) => c.values().map(|x| 1 + count(x)).sum(),
                _ => 0,
            }
        }
        count(&self.root)
    }

    /// Whether the tree holds nothing but `/`.
    pub fn is_empty(&self) -> bool {
        matches!(&self.root, Node::Dir(c) if c.is_empty())
    }

    /// Bytes of file contents kept in memory.
    pub fn kept_bytes(&self) -> u64 {
        fn sum(n: &Node) -> u64 {
            match n {
                Node::Dir(c) => c.values().map(sum).sum(),
                Node::File(FileNode { data: Some(d), .. }) => d.len() as u64,
                _ => 0,
            }
        }
        sum(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        normalize(s).0
    }

    fn file(data: &str) -> Node {
        Node::File(FileNode {
            size: data.len() as u64,
            data: Some(Arc::from(data.as_bytes())),
        })
    }

    #[test]
    fn filter_keeps_what_collectors_read() {
        for yes in [
            "/var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base",
            "/var/lib/dpkg/info/python3-nova.list",
            "/usr/lib/dpkg/status",
            "/lib/apk/db/installed",
            "/var/lib/rpm/rpmdb.sqlite",
            "/usr/lib/sysimage/rpm/Packages.db",
            "/var/lib/rpm/Packages",
            "/var/lib/kolla/venv/lib/python3.10/site-packages/nova-29.0.1.dist-info/METADATA",
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/INSTALLER",
            "/usr/lib/python3/dist-packages/nova-26.2.2.egg-info",
            "/usr/lib/python3/dist-packages/nova-26.2.2.egg-info/PKG-INFO",
            "/usr/lib/python3/site-packages/x.egg/EGG-INFO/PKG-INFO",
            "/var/lib/kolla/venv/pyvenv.cfg",
            "/etc/os-release",
            "/usr/lib/os-release",
            "/etc/redhat-release",
            "/etc/debian_version",
            "/etc/system-release-cpe",
            "/etc/hostname",
            "/srv/app/Cargo.lock",
            "/opt/app/requirements-dev.txt",
            "/opt/app/poetry.lock",
            "/opt/app/uv.lock",
            "/opt/app/Pipfile.lock",
            "/opt/app/pylock.toml",
            "/opt/app/pdm.lock",
        ] {
            assert!(keeps_contents(yes), "{yes} should be kept");
        }
        for no in [
            "/usr/bin/python3",
            "/var/lib/dpkg/info/nova.md5sums",
            "/var/lib/dpkg/status-old",
            "/var/lib/dpkg/status.d/sub/x",
            "/var/lib/rpm/Basenames",
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD",
            "/etc/nova/nova.conf",
            "/lib/systemd/system/nova-api.service",
            "/",
            "",
        ] {
            assert!(!keeps_contents(no), "{no} should not be kept");
        }
    }

    #[test]
    fn resolution_stays_inside_and_follows_links() {
        let mut fs = MemFs::new();
        assert!(fs.insert(&p("etc/hostname"), file("n1\n")));
        assert!(fs.insert(&p("abs"), Node::Symlink("/etc/hostname".into())));
        assert!(fs.insert(
            &p("etc/rel"),
            Node::Symlink("../../../../etc/hostname".into())
        ));
        assert!(fs.insert(&p("loop"), Node::Symlink("loop".into())));
        assert!(fs.insert(&p("usr/lib/x"), file("x")));
        assert!(fs.insert(&p("lib"), Node::Symlink("usr/lib".into())));
        assert_eq!(fs.resolve("/abs").unwrap().0, "/etc/hostname");
        assert_eq!(fs.resolve("/etc/rel").unwrap().0, "/etc/hostname");
        assert_eq!(
            fs.resolve("/../../etc/./hostname").unwrap().0,
            "/etc/hostname"
        );
        assert!(fs.resolve("/loop").is_none());
        assert_eq!(fs.resolve("/lib/x").unwrap().0, "/usr/lib/x");
        assert_eq!(
            fs.resolve_nofollow("/lib").unwrap().1.kind(),
            NodeKind::Symlink
        );
        // Writing through a symlinked parent lands in its target (usrmerge layouts).
        assert!(fs.insert(&p("lib/y"), file("y")));
        assert!(fs.lookup_literal(&p("usr/lib/y")).is_some());
        // Whiteout and opaque directory.
        assert!(fs.remove(&p("usr/lib/x")));
        assert!(fs.resolve("/lib/x").is_none());
        fs.clear_dir(&p("usr/lib"));
        assert!(fs.resolve("/usr/lib/y").is_none());
        assert!(fs.resolve("/usr/lib").is_some());
    }

    #[test]
    fn directory_restated_keeps_children() {
        let mut fs = MemFs::new();
        fs.insert(&p("a/b"), file("1"));
        fs.insert(&p("a"), Node::empty_dir());
        assert!(fs.resolve("/a/b").is_some());
        fs.insert(&p("a"), file("2"));
        assert!(fs.resolve("/a/b").is_none());
        assert_eq!(fs.len(), 1);
    }

    #[test]
    fn normalize_clamps() {
        assert_eq!(normalize("../../etc/x"), (p("etc/x"), true));
        assert_eq!(normalize("/a/./b/../c"), (p("a/c"), false));
    }
}
