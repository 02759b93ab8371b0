//! An in-memory filesystem tree standing for a container image's root, built by applying layers
//! in order, never written to disk.
//!
//! It holds what collectors need and no more: every directory, symlink (with its target) and
//! regular file (with its size) of the image, but the *contents* only of the files collectors
//! read (what they declare, [`crate::collect::READS`]): package databases, Python distribution metadata, os-release files,
//! `/etc/hostname` and lockfiles. Listing and existence tests work for every path; reading a
//! file whose contents were not kept is an error naming the path.
//!
//! Paths are node paths (`/var/lib/dpkg/status`); every operation normalises them inside the
//! tree: `..` never climbs above `/`, and symlinks are followed inside the tree ([`MemFs::resolve`],
//! at most [`MAX_LINKS`] hops), so nothing an image contains can name anything outside it.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Symlink hops allowed while resolving one path (as Linux's `MAXSYMLINKS`).
pub(crate) const MAX_LINKS: usize = 40;

/// Bounds of one image tree: nothing an image holds makes it deeper or larger than this, so that
/// walking, resolving and dropping it never depend on the input's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsLimits {
    /// Components of a path in the tree (after symlinks in its parents are resolved).
    pub max_depth: usize,
    /// Nodes created in the tree (directories, files, links), whiteouts notwithstanding.
    pub max_nodes: usize,
}

impl Default for FsLimits {
    fn default() -> Self {
        Self {
            max_depth: 256,
            max_nodes: 1_000_000,
        }
    }
}

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// A component does not exist (or a non-directory has children).
    Missing,
    /// More than [`MAX_LINKS`] symlinks were followed; the path of the link where it stopped.
    Loop(String),
}

/// Why a node could not be placed in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// Symlinks in the parents loop.
    Loop,
    /// The path (after symlinks in its parents) has more components than allowed.
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// The tree holds as many nodes as allowed.
    Full {
        /// The bound.
        limit: usize,
    },
}

impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Loop => f.write_str("cannot be placed (symlink loop)"),
            Self::TooDeep { limit } => {
                write!(f, "nested more than {limit} directories deep (depth limit)")
            }
            Self::Full { limit } => write!(
                f,
                "the image holds more than {limit} files, directories and links (entry limit)"
            ),
        }
    }
}

/// A regular file: its size and, when a collector reads it ([`crate::collect::READS`]), its bytes.
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
    limits: FsLimits,
    /// Nodes created so far (never decremented: it bounds the work done, too).
    created: usize,
}

impl Drop for MemFs {
    /// Taken apart iteratively: dropping a tree never recurses on its depth.
    fn drop(&mut self) {
        let mut stack = vec![std::mem::replace(&mut self.root, Node::Other)];
        while let Some(n) = stack.pop() {
            if let Node::Dir(children) = n {
                stack.extend(children.into_values());
            }
        }
    }
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

/// Split a path into normal components, applying `.` and `..` lexically and clamping at `/`.
/// Returns the components and whether a `..` tried to climb above the root.
pub(crate) fn normalize(path: &str) -> (Vec<String>, bool) {
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
pub(crate) fn node_path(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

impl MemFs {
    /// An empty tree (just `/`) with the default [`FsLimits`].
    pub fn new() -> Self {
        Self::with_limits(FsLimits::default())
    }

    /// An empty tree with the given bounds.
    pub fn with_limits(limits: FsLimits) -> Self {
        Self {
            root: Node::empty_dir(),
            limits,
            created: 0,
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
        self.resolve_checked(path, true).ok()
    }

    /// Like [`Self::resolve`], but a final symlink is returned rather than followed (`lstat`).
    pub fn resolve_nofollow(&self, path: &str) -> Option<(String, &Node)> {
        self.resolve_checked(path, false).ok()
    }

    /// [`Self::resolve`] saying why a path does not resolve: a symlink loop is told apart from
    /// a missing component.
    pub fn resolve_checked(
        &self,
        path: &str,
        follow_last: bool,
    ) -> Result<(String, &Node), Unresolved> {
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
                return Err(Unresolved::Missing);
            };
            let child = children.get(&c).ok_or(Unresolved::Missing)?;
            match child {
                Node::Symlink(target) if follow_last || !pending.is_empty() => {
                    hops += 1;
                    if hops > MAX_LINKS {
                        let mut at: Vec<&str> = stack.iter().map(|(c, _)| c.as_str()).collect();
                        at.push(&c);
                        return Err(Unresolved::Loop(format!("/{}", at.join("/"))));
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
        Ok((path, node))
    }

    /// The directory that would hold `parts` (all but the last component), created as needed,
    /// following symlinks inside the tree for existing components (as extracting a layer onto
    /// a filesystem would). A non-directory in the way is replaced by a directory. Returns
    /// `None` only when symlinks loop.
    /// Also returns the nodes created so far (these directories included).
    fn parent_dir_mut(
        &mut self,
        parts: &[String],
    ) -> Result<(&mut BTreeMap<String, Node>, usize), PlaceError> {
        let parent = parts.get(..parts.len().saturating_sub(1)).unwrap_or(&[]);
        // Resolve the parent's real location first (immutable pass), then walk it mutably.
        let real = self.real_dir_path(parent).ok_or(PlaceError::Loop)?;
        if real.len() + 1 > self.limits.max_depth {
            return Err(PlaceError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        // Directories to create on the way, counted before anything is changed (exactly only
        // near the bound: far from it, even creating every one fits).
        if self.created.saturating_add(real.len()) > self.limits.max_nodes
            && self.created.saturating_add(self.missing_dirs(&real)) > self.limits.max_nodes
        {
            return Err(PlaceError::Full {
                limit: self.limits.max_nodes,
            });
        }
        let mut cur = &mut self.root;
        for c in &real {
            let Node::Dir(children) = cur else {
                return Err(PlaceError::Loop);
            };
            let entry = children.entry(c.clone()).or_insert_with(|| {
                self.created += 1;
                Node::empty_dir()
            });
            if !matches!(entry, Node::Dir(_)) {
                self.created += 1;
                *entry = Node::empty_dir();
            }
            cur = entry;
        }
        match cur {
            Node::Dir(children) => Ok((children, self.created)),
            _ => Err(PlaceError::Loop),
        }
    }

    /// How many directories along `real` (canonical components) do not exist as directories.
    fn missing_dirs(&self, real: &[String]) -> usize {
        let mut cur = Some(&self.root);
        let mut missing = 0;
        for c in real {
            cur = match cur {
                Some(Node::Dir(children)) => children.get(c),
                _ => None,
            };
            if !matches!(cur, Some(Node::Dir(_))) {
                missing += 1;
            }
        }
        missing
    }

    /// The canonical components of directory `parts`, following existing symlinks; missing
    /// components are taken literally (they will be created).
    fn real_dir_path(&self, parts: &[String]) -> Option<Vec<String>> {
        // The node at each level of `stack` is kept beside it (`None` once below what
        // exists), so each component is one lookup, never a walk from the root.
        let mut stack: Vec<(String, Option<&Node>)> = Vec::new();
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
            let here = stack.last().map_or(Some(&self.root), |(_, n)| *n);
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
                stack.push((c, child));
            }
        }
        Some(stack.into_iter().map(|(c, _)| c).collect())
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
        self.place(parts, node).is_ok()
    }

    /// [`Self::insert`] saying why a node could not be placed: a symlink loop in its parents,
    /// or a bound of [`FsLimits`] (a directory given as `node` must be empty).
    pub fn place(&mut self, parts: &[String], node: Node) -> Result<(), PlaceError> {
        let Some(name) = parts.last().cloned() else {
            return if matches!(node, Node::Dir(_)) {
                Ok(())
            } else {
                Err(PlaceError::Loop)
            };
        };
        let max_nodes = self.limits.max_nodes;
        let (dir, created) = self.parent_dir_mut(parts)?;
        let is_new = !dir.contains_key(&name);
        if is_new && created >= max_nodes {
            return Err(PlaceError::Full { limit: max_nodes });
        }
        match (dir.get_mut(&name), node) {
            (Some(Node::Dir(_)), Node::Dir(_)) => {}
            (_, node) => {
                let old = dir.insert(name, node);
                drop_iteratively(old);
            }
        }
        if is_new {
            self.created += 1;
        }
        Ok(())
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
            Some(dir) => {
                let old = dir.remove(name);
                let found = old.is_some();
                drop_iteratively(old);
                found
            }
            None => false,
        }
    }

    /// Empty the directory at `parts` (an opaque whiteout), creating it when missing.
    pub fn clear_dir(&mut self, parts: &[String]) {
        if parts.is_empty() {
            let old = std::mem::replace(&mut self.root, Node::empty_dir());
            drop_iteratively(Some(old));
            return;
        }
        let name = parts[parts.len() - 1].clone();
        if let Ok((dir, _)) = self.parent_dir_mut(parts) {
            let old = dir.insert(name, Node::empty_dir());
            let is_new = old.is_none();
            drop_iteratively(old);
            if is_new {
                self.created += 1;
            }
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
        let mut n = 0usize;
        self.each_node(|_| n += 1);
        n.saturating_sub(1)
    }

    /// Visit every node, the root included, without recursion.
    fn each_node(&self, mut f: impl FnMut(&Node)) {
        let mut stack = vec![&self.root];
        while let Some(n) = stack.pop() {
            f(n);
            if let Node::Dir(c) = n {
                stack.extend(c.values());
            }
        }
    }

    /// The bounds this tree was made with.
    pub fn limits(&self) -> FsLimits {
        self.limits
    }

    /// Whether the tree holds nothing but `/`.
    pub fn is_empty(&self) -> bool {
        matches!(&self.root, Node::Dir(c) if c.is_empty())
    }

    /// Bytes of file contents kept in memory.
    pub fn kept_bytes(&self) -> u64 {
        let mut sum = 0u64;
        self.each_node(|n| {
            if let Node::File(FileNode { data: Some(d), .. }) = n {
                sum += d.len() as u64;
            }
        });
        sum
    }
}

/// Drop a subtree without recursing on its depth.
fn drop_iteratively(node: Option<Node>) {
    let mut stack: Vec<Node> = node.into_iter().collect();
    while let Some(n) = stack.pop() {
        if let Node::Dir(children) = n {
            stack.extend(children.into_values());
        }
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

    /// A tree far deeper than the stack could recurse through is built, counted and dropped
    /// iteratively; the default bounds refuse it, and a full tree refuses more nodes.
    #[test]
    fn depth_and_node_bounds() {
        let deep: Vec<String> = vec!["d".to_owned(); 200_000];
        let mut fs = MemFs::with_limits(FsLimits {
            max_depth: usize::MAX,
            max_nodes: usize::MAX,
        });
        assert!(fs.place(&deep, file("x")).is_ok());
        assert_eq!(fs.len(), 200_000);
        drop(fs);
        let mut fs = MemFs::new();
        assert_eq!(
            fs.place(&deep, file("x")),
            Err(PlaceError::TooDeep { limit: 256 })
        );
        assert!(fs.is_empty());
        // Through a symlink: `l` points 200 levels down, 100 more below it are too deep.
        let chain: Vec<String> = vec!["c".to_owned(); 200];
        assert!(fs.place(&chain, Node::empty_dir()).is_ok());
        assert!(fs.place(&p("l"), Node::Symlink(node_path(&chain))).is_ok());
        let mut below = p("l");
        below.extend(vec!["e".to_owned(); 100]);
        assert_eq!(
            fs.place(&below, file("x")),
            Err(PlaceError::TooDeep { limit: 256 })
        );
        let mut small = MemFs::with_limits(FsLimits {
            max_depth: 8,
            max_nodes: 3,
        });
        assert!(small.place(&p("a/b"), file("1")).is_ok());
        assert!(small.place(&p("a/c"), file("2")).is_ok());
        assert_eq!(
            small.place(&p("a/d"), file("3")),
            Err(PlaceError::Full { limit: 3 })
        );
        // Replacing an existing node creates nothing.
        assert!(small.place(&p("a/c"), file("4")).is_ok());
    }

    #[test]
    fn normalize_clamps() {
        assert_eq!(normalize("../../etc/x"), (p("etc/x"), true));
        assert_eq!(normalize("/a/./b/../c"), (p("a/c"), false));
    }
}
