//! Agent side: a node (or a directory tree standing for one) → [`Inventory`].
//!
//! Every collector implements [`Collector`] over a [`Root`]; they are wired in one place,
//! [`all`]. Collectors only *read* files under the root: nothing under the root is executed, and
//! path resolution never leaves the root (symlinks are resolved inside it, as `chroot` would).
//! Parsing is done by pure functions `parse_*(bytes, &Location) -> (Vec<Package>, Vec<Problem>)`
//! so that they can be fuzzed; a malformed file becomes a [`Problem`] naming its path and line,
//! and collection continues.

pub(crate) mod apk;
pub(crate) mod dpkg;
pub(crate) mod files;
pub(crate) mod image;
pub(crate) mod lockfile;
pub(crate) mod openstack;
pub(crate) mod osrelease;
pub(crate) mod purl;
pub(crate) mod python;
pub(crate) mod root;
pub(crate) mod rpm;

use std::collections::BTreeMap;

pub use root::Root;

use files::{FilePattern, FileSet};

use crate::model::{
    AgentInfo, Inventory, NodeInfo, OsRelease, Package, Problem, ServiceInstance,
    INVENTORY_SCHEMA_VERSION,
};

/// What collectors add to while they run.
#[derive(Debug, Default)]
pub struct Collected {
    /// Packages found.
    pub packages: Vec<Package>,
    /// Problems met.
    pub problems: Vec<Problem>,
    /// Operating system, when found.
    pub os: Option<OsRelease>,
    /// Recognised services.
    pub services: Vec<ServiceInstance>,
    /// Files owned by the OS package manager (absolute paths inside the root) → owning package.
    /// Filled by the dpkg and rpm collectors, read by the Python collector.
    pub os_owned_files: BTreeMap<String, String>,
}

/// One source of packages on a node.
pub trait Collector: Send + Sync {
    /// Stable name, recorded in every package's `found_by`.
    fn name(&self) -> &'static str;
    /// Cheap test whether this collector has anything to read under `root`.
    fn applies(&self, root: &Root) -> bool;
    /// Read what there is; record problems in `out.problems` and keep going.
    fn collect(&self, root: &Root, out: &mut Collected);
    /// The files it reads (its module's `READS`): an image's filesystem keeps their contents.
    fn reads(&self) -> &'static [FilePattern];
}

/// The files every collector of [`all`] reads, and `/etc/hostname` (read by the collection
/// itself, [`Root::hostname`]): the files whose contents an image's filesystem keeps.
pub(crate) const READS: FileSet = FileSet(&[
    root::READS,
    osrelease::READS,
    dpkg::READS,
    rpm::READS,
    apk::READS,
    python::READS,
    lockfile::READS,
    openstack::READS,
]);

/// Every collector, in the order they run (OS package managers first: the Python collector
/// consults the files they own; OpenStack recognition last: it reads the Python results).
pub(crate) fn all() -> Vec<Box<dyn Collector>> {
    vec![
        Box::new(osrelease::OsReleaseCollector),
        Box::new(dpkg::DpkgCollector),
        Box::new(rpm::RpmCollector),
        Box::new(apk::ApkCollector),
        Box::new(python::PythonCollector),
        Box::new(lockfile::LockfileCollector::default()),
        Box::new(openstack::OpenStackCollector),
    ]
}

/// Options for one collection run.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Who the node is.
    pub node: NodeInfo,
    /// RFC 3339 time to record (injected so that tests are reproducible).
    pub collected_at: String,
}

/// Run every applicable collector over `root` and assemble a sorted [`Inventory`].
pub fn collect_root(root: &Root, opts: &CollectOptions) -> Inventory {
    collect_with(root, opts, &all())
}

/// A node id from the root's directory name, for a root without `/etc/hostname` (a tree
/// copied from a node, a mounted image): `/srv/trees/ctl-01` → `ctl-01`. Characters a node name
/// may not hold become `-`; `None` for `/` or an in-memory root.
fn root_dir_name(root: &Root) -> Option<String> {
    let root::Backend::Dir(dir) = root.backend() else {
        return None;
    };
    let name = dir
        .canonicalize()
        .ok()?
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    (!clean.trim_matches(['-', '.']).is_empty()).then_some(clean)
}

/// Run the given collectors over `root`.
pub fn collect_with(
    root: &Root,
    opts: &CollectOptions,
    collectors: &[Box<dyn Collector>],
) -> Inventory {
    let mut out = Collected::default();
    for c in collectors {
        if c.applies(root) {
            c.collect(root, &mut out);
        }
    }
    // A symlink loop met on the way hides whatever lies behind it: said, never silent.
    for (at, message) in root.take_problems() {
        out.problems.push(Problem::new(
            crate::model::Location::path(at),
            crate::model::ProblemKind::Unreadable,
            message,
        ));
    }
    let mut node = opts.node.clone();
    if node.hostname.is_none() {
        node.hostname = root.hostname();
    }
    if node.id.is_empty() {
        node.id = node
            .hostname
            .clone()
            .or_else(|| root_dir_name(root))
            .unwrap_or_else(|| "unknown".to_owned());
    }
    out.packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.location).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.location,
        ))
    });
    out.problems.sort();
    out.problems.dedup();
    out.services
        .sort_by(|a, b| (&a.deliverable, &a.install).cmp(&(&b.deliverable, &b.install)));
    let mut inv = Inventory {
        schema_version: INVENTORY_SCHEMA_VERSION,
        node,
        collected_at: opts.collected_at.clone(),
        agent: AgentInfo::default(),
        root: root.display_base(),
        os: out.os,
        packages: out.packages,
        images: Vec::new(),
        services: out.services,
        problems: out.problems,
    };
    // A record no package manager could have written (a newline or a template in a version)
    // becomes a problem instead of reaching a playbook or a report.
    let before = inv.problems.len();
    inv.quarantine_unsafe();
    if inv.problems.len() != before {
        inv.problems.sort();
    }
    inv
}
