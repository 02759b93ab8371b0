//! Installed Python distributions: `*.dist-info/METADATA` (wheels, modern pip), `*.egg-info`
//! (a directory holding `PKG-INFO`, or a single file: setuptools, Debian's packages), `*.egg/EGG-INFO`
//! (easy_install) and `*.egg-link` (old `pip install -e`, as DevStack does).
//!
//! # Where it looks
//!
//! Never the whole filesystem. Two sources of site directories:
//!
//! 1. [`SITE_GLOBS`]: the interpreter and user locations (`/usr/lib/python3*/{site,dist}-packages`,
//!    `/usr/local/…`, `/usr/lib64/…`, `/lib/…`, `/root/.local/…`, `/home/*/.local/…`, pyenv
//!    interpreters in `~/.pyenv/versions/*`).
//!    `python*` matches `python` followed by a digit (Python 2.7 trees of old clouds count).
//! 2. A bounded walk ([`WALK_DEPTH`] levels, [`WALK_BUDGET`] directory entries each) of
//!    [`WALK_STARTS`] (`/opt`, `/srv`, `/openstack`, `/var/lib`) for `lib{,64}/python*/site-packages`
//!    (and `dist-packages`): virtualenvs of OpenStack-Ansible (`/openstack/venvs/<svc>-<ver>/`),
//!    kolla (`/var/lib/kolla/venv/`), DevStack and hand-made ones. The walk does not follow
//!    symlinks, does not enter site directories, `.git`, `node_modules`, `__pycache__`, or the
//!    heavy data trees in [`WALK_SKIP`] (container storage, databases, instance and object stores);
//!    a walk that runs out of budget is recorded as a [`ProblemKind::Skipped`] problem.
//!
//! Site directories are de-duplicated by their path after symlink resolution (merged-`/usr`
//! layouts reach `/usr/lib` through `/lib`).
//!
//! # What is recorded
//!
//! Name and version come from the metadata headers ([`parse_metadata`]), never from the directory
//! name. `Package.name` is PEP 503-normalised ([`normalize_name`]); the name as written is kept in
//! [`PackageMeta::Python::display_name`]. A distribution is OS-owned (judge it by distro
//! advisories) when its metadata file or directory is listed in [`Collected::os_owned_files`]
//! (dpkg/rpm/apk ran earlier), or when it lives in `/usr/lib/python*/dist-packages`, which on
//! Debian and Ubuntu only the package manager writes to (owner `dpkg` then). `environment` is the
//! virtualenv root (the prefix holding `pyvenv.cfg`) or else the site directory. Versions are kept
//! as written; PEP 440 parsing happens in the analyzer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::files::{FilePattern, Parent};
use super::root::{join, NodeKind};
use super::{purl, Collected, Collector, Root};
use crate::model::{
    Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind, PythonEnvironment,
};
use crate::util::normalize_name;

/// Site directories looked up directly (`*` = any entry; `python*` = `python` + a digit …).
pub(crate) const SITE_GLOBS: &[&str] = &[
    "/usr/lib/python*/dist-packages",
    "/usr/lib/python*/site-packages",
    "/usr/lib64/python*/site-packages",
    "/usr/lib64/python*/dist-packages",
    "/usr/local/lib/python*/dist-packages",
    "/usr/local/lib/python*/site-packages",
    "/usr/local/lib64/python*/site-packages",
    "/lib/python*/dist-packages",
    "/lib/python*/site-packages",
    "/lib64/python*/site-packages",
    "/root/.local/lib/python*/site-packages",
    "/home/*/.local/lib/python*/site-packages",
    "/root/.pyenv/versions/*/lib/python*/site-packages",
    "/home/*/.pyenv/versions/*/lib/python*/site-packages",
];

/// Trees walked (bounded) for `lib/python*/site-packages` of virtualenvs and prefixes.
pub(crate) const WALK_STARTS: &[&str] = &["/opt", "/srv", "/openstack", "/var/lib"];

/// How many levels below a walk start a site directory may sit
/// (`/opt/rh/rh-python38/root/usr/lib/python3.8/site-packages` is 7).
pub(crate) const WALK_DEPTH: usize = 7;

/// Directory entries one walk may look at before it gives up (and says so).
pub(crate) const WALK_BUDGET: usize = 100_000;

/// Trees never walked: container storage (images are inventoried separately), databases,
/// instance, image and object stores, package-manager state.
pub(crate) const WALK_SKIP: &[&str] = &[
    "/var/lib/docker",
    "/var/lib/containers",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/var/lib/lxc",
    "/var/lib/lxd",
    "/var/lib/snapd",
    "/var/lib/flatpak",
    "/var/lib/mysql",
    "/var/lib/postgresql",
    "/var/lib/rabbitmq",
    "/var/lib/ceph",
    "/var/lib/etcd",
    "/var/lib/nova/instances",
    "/var/lib/glance/images",
    "/var/lib/cinder",
    "/var/lib/swift",
    "/var/lib/dpkg",
    "/var/lib/rpm",
    "/var/lib/apt",
    "/var/lib/dnf",
    "/var/lib/yum",
    "/srv/node",
];

/// Directory names never entered by a walk.
pub(crate) const SKIP_NAMES: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    "proc",
    "sys",
    "dev",
];

/// The Python collector.
#[derive(Debug, Default)]
pub(crate) struct PythonCollector;

/// The files the Python collector reads: distribution metadata (`*.dist-info/METADATA` and
/// `INSTALLER`, `*.egg-info` files and directories, `EGG-INFO/PKG-INFO`), `*.egg-link` and
/// `pyvenv.cfg`.
pub(crate) const READS: &[FilePattern] = &[
    FilePattern::InParent {
        parent: Parent::EndsWithIgnoreCase(".dist-info"),
        name: "METADATA",
    },
    FilePattern::InParent {
        parent: Parent::EndsWithIgnoreCase(".dist-info"),
        name: "INSTALLER",
    },
    FilePattern::NameLike {
        prefix: "",
        contains: "",
        suffix: ".egg-info",
        ignore_case: true,
    },
    FilePattern::NameLike {
        prefix: "",
        contains: "",
        suffix: ".egg-link",
        ignore_case: true,
    },
    FilePattern::InParent {
        parent: Parent::EndsWithIgnoreCase(".egg-info"),
        name: "PKG-INFO",
    },
    FilePattern::InParent {
        parent: Parent::Is("EGG-INFO"),
        name: "PKG-INFO",
    },
    FilePattern::Name("pyvenv.cfg"),
];

impl Collector for PythonCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

    fn name(&self) -> &'static str {
        "python"
    }

    fn applies(&self, root: &Root) -> bool {
        [
            "/usr/lib",
            "/usr/lib64",
            "/usr/local/lib",
            "/lib",
            "/lib64",
            "/root/.local",
            "/home",
        ]
        .iter()
        .chain(WALK_STARTS)
        .any(|p| root.is_dir(p))
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let (sites, problems) = site_dirs(root);
        out.problems.extend(problems);
        let mut seen = BTreeSet::new();
        for site in &sites {
            scan_site_dir(root, site, &mut seen, out);
        }
    }
}

/// A site directory: its path after symlink resolution, and the path it was found by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SiteDir {
    /// Path inside the root after resolving symlinks.
    pub path: String,
    /// Path as found (a glob match or walk result), which may go through a symlink.
    pub found_as: String,
}

/// Every site directory under `root` (globs, then bounded walks), de-duplicated.
pub(crate) fn site_dirs(root: &Root) -> (Vec<SiteDir>, Vec<Problem>) {
    let mut found: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for g in SITE_GLOBS {
        found.extend(expand_glob(root, g));
    }
    for start in WALK_STARTS {
        let stats = walk(root, start, WALK_DEPTH, WALK_BUDGET, &mut |ev| match ev {
            WalkEvent::Dir { path, .. } => {
                if is_site_dir(path) {
                    found.push(path.to_owned());
                    return false;
                }
                !WALK_SKIP.contains(&path)
            }
            WalkEvent::File { .. } => false,
        });
        if stats.truncated {
            problems.push(budget_problem(start, stats.entries));
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for f in found {
        let Some(c) = canonical(root, &f) else {
            continue;
        };
        if !root.is_dir(&c) {
            continue;
        }
        if seen.insert(c.clone()) {
            out.push(SiteDir {
                path: c,
                found_as: f,
            });
        }
    }
    (out, problems)
}

pub(crate) fn budget_problem(start: &str, entries: usize) -> Problem {
    Problem::new(
        Location::path(start),
        ProblemKind::Skipped,
        format!("search stopped after {entries} directory entries; anything deeper in this tree may be missed"),
    )
}

/// Record every distribution of one site directory.
pub(crate) fn scan_site_dir(
    root: &Root,
    site: &SiteDir,
    seen: &mut BTreeSet<String>,
    out: &mut Collected,
) {
    let env = environment(root, &site.path);
    let debian = is_debian_dist_packages(&site.path) || is_debian_dist_packages(&site.found_as);
    for name in root.list(&site.path) {
        let lower = name.to_ascii_lowercase();
        let entry = join(&site.path, &name);
        let alias = join(&site.found_as, &name);
        let (meta_file, found_by) = if lower.ends_with(".dist-info") {
            if !root.is_dir(&entry) {
                continue;
            }
            (join(&entry, "METADATA"), "python-dist-info")
        } else if lower.ends_with(".egg-info") {
            if root.is_dir(&entry) {
                (join(&entry, "PKG-INFO"), "python-egg-info")
            } else {
                (entry.clone(), "python-egg-info")
            }
        } else if lower.ends_with(".egg") && root.is_dir(&entry) {
            (join(&entry, "EGG-INFO/PKG-INFO"), "python-egg-info")
        } else if lower.ends_with(".egg-link") {
            follow_egg_link(root, site, &entry, &env, seen, out);
            continue;
        } else {
            continue;
        };
        if !seen.insert(meta_file.clone()) {
            continue;
        }
        // The same files by the path they were found as (before symlink resolution).
        let meta_alias = format!("{alias}{}", meta_file.get(entry.len()..).unwrap_or(""));
        let owner = lookup_owner(
            &out.os_owned_files,
            &[&meta_file, &entry, &meta_alias, &alias],
        )
        .or_else(|| debian.then(|| "dpkg".to_owned()));
        record(root, &meta_file, &entry, found_by, owner, &env, out);
    }
}

fn lookup_owner(owned: &BTreeMap<String, String>, paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .filter(|p| !p.is_empty())
        .find_map(|p| owned.get(*p).or_else(|| owned.get(p.trim_end_matches('/'))))
        .cloned()
}

/// `foo.egg-link`: first line names the project directory, which holds `<name>.egg-info`.
fn follow_egg_link(
    root: &Root,
    site: &SiteDir,
    link: &str,
    env: &PythonEnvironment,
    seen: &mut BTreeSet<String>,
    out: &mut Collected,
) {
    let text = match root.read_string(link) {
        Ok(t) => t,
        Err(e) => {
            out.problems.push(Problem::new(
                Location::path(link),
                ProblemKind::Unreadable,
                e.to_string(),
            ));
            return;
        }
    };
    let Some(target) = text.lines().next().map(str::trim).filter(|t| !t.is_empty()) else {
        out.problems.push(Problem::new(
            Location::path(link).at_line(1),
            ProblemKind::Malformed,
            "egg-link names no project directory",
        ));
        return;
    };
    let dir = if target.starts_with('/') {
        target.to_owned()
    } else {
        join(&site.path, target)
    };
    let Some(dir) = canonical(root, &dir) else {
        out.problems.push(Problem::new(
            Location::path(link).at_line(1),
            ProblemKind::Unreadable,
            format!("egg-link target `{target}` does not exist"),
        ));
        return;
    };
    for name in root.list(&dir) {
        if !name.to_ascii_lowercase().ends_with(".egg-info") {
            continue;
        }
        let entry = join(&dir, &name);
        let meta_file = if root.is_dir(&entry) {
            join(&entry, "PKG-INFO")
        } else {
            entry.clone()
        };
        if !seen.insert(meta_file.clone()) {
            continue;
        }
        let owner = lookup_owner(&out.os_owned_files, &[&meta_file, &entry]);
        record(root, &meta_file, &entry, "python-egg-info", owner, env, out);
    }
}

fn record(
    root: &Root,
    meta_file: &str,
    entry: &str,
    found_by: &str,
    owner: Option<String>,
    env: &PythonEnvironment,
    out: &mut Collected,
) {
    let loc = Location::path(meta_file);
    let text = match root.read_string(meta_file) {
        Ok(t) => t,
        Err(e) => {
            out.problems
                .push(Problem::new(loc, ProblemKind::Unreadable, e.to_string()));
            return;
        }
    };
    match parse_metadata(&text, &loc) {
        Ok((display, version)) => {
            let mut pkg = package(&display, &version, found_by, loc, owner, Some(env.clone()));
            if found_by == "python-dist-info" {
                if let Ok(i) = root.read_string(&join(entry, "INSTALLER")) {
                    let i = i.lines().next().unwrap_or("").trim();
                    if !i.is_empty() && i.len() <= 64 {
                        pkg.extra.insert("installer".to_owned(), i.to_owned());
                    }
                }
            }
            out.packages.push(pkg);
        }
        Err(p) => out.problems.push(p),
    }
}

/// A PyPI package record.
pub(crate) fn package(
    display: &str,
    version: &str,
    found_by: &str,
    location: Location,
    os_owner: Option<String>,
    environment: Option<PythonEnvironment>,
) -> Package {
    let name = normalize_name(display);
    Package {
        ecosystem: Ecosystem::Pypi,
        purl: purl::build("pypi", None, &name, version, &[]),
        name,
        version: version.to_owned(),
        source: None,
        found_by: found_by.to_owned(),
        location,
        meta: PackageMeta::Python {
            display_name: display.to_owned(),
            os_owner,
            environment,
        },
        extra: BTreeMap::new(),
    }
}

/// Parse core metadata (`METADATA`, `PKG-INFO`): RFC 822-style headers up to the first empty
/// line, names case-insensitive, continuation lines (leading space or tab) folded in, first
/// occurrence wins; lines that are not headers are ignored. Returns (name as written, version).
/// A missing or empty `Name` or `Version` is a [`Problem`] naming the path and field.
pub(crate) fn parse_metadata(text: &str, loc: &Location) -> Result<(String, String), Problem> {
    #[derive(Clone, Copy)]
    enum Which {
        Name,
        Version,
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut name: Option<String> = None;
    let mut version: Option<String> = None;
    let mut current: Option<Which> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            let slot = match current {
                Some(Which::Name) => name.as_mut(),
                Some(Which::Version) => version.as_mut(),
                None => None,
            };
            if let Some(v) = slot {
                let more = line.trim();
                if !more.is_empty() {
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(more);
                }
            }
            continue;
        }
        current = None;
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.is_empty() || !key.bytes().all(|b| (33..=126).contains(&b)) {
            continue;
        }
        if key.eq_ignore_ascii_case("Name") && name.is_none() {
            name = Some(value.trim().to_owned());
            current = Some(Which::Name);
        } else if key.eq_ignore_ascii_case("Version") && version.is_none() {
            version = Some(value.trim().to_owned());
            current = Some(Which::Version);
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or_else(|| {
        Problem::new(
            loc.clone().field("Name"),
            ProblemKind::Malformed,
            "distribution metadata has no `Name` header",
        )
    })?;
    let version = version.filter(|v| !v.is_empty()).ok_or_else(|| {
        Problem::new(
            loc.clone().field("Version"),
            ProblemKind::Malformed,
            format!("distribution metadata of `{name}` has no `Version` header"),
        )
    })?;
    Ok((name, version))
}

/// `python` followed by a digit (`python3`, `python3.12`, `python2.7`).
fn is_python_dir(name: &str) -> bool {
    name.strip_prefix("python")
        .and_then(|r| r.bytes().next())
        .is_some_and(|b| b.is_ascii_digit())
}

fn segments(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

/// `…/lib{,64}/python*/{site,dist}-packages`.
fn is_site_dir(path: &str) -> bool {
    let s = segments(path);
    let n = s.len();
    n >= 3
        && matches!(s[n - 1], "site-packages" | "dist-packages")
        && is_python_dir(s[n - 2])
        && matches!(s[n - 3], "lib" | "lib64")
}

/// `/usr/lib/python*/dist-packages`: Debian's package-manager-only tree.
pub(crate) fn is_debian_dist_packages(site: &str) -> bool {
    let s = segments(site);
    s.len() == 4 && s[0] == "usr" && s[1] == "lib" && is_python_dir(s[2]) && s[3] == "dist-packages"
}

/// The virtualenv root holding `site` (a prefix with `pyvenv.cfg`), or `site` itself.
fn environment(root: &Root, site: &str) -> PythonEnvironment {
    let s = segments(site);
    if s.len() >= 3 {
        let prefix = format!("/{}", s[..s.len() - 3].join("/"));
        if root.exists(&join(&prefix, "pyvenv.cfg")) {
            return PythonEnvironment::Venv { root: prefix };
        }
    }
    PythonEnvironment::Site {
        dir: site.to_owned(),
    }
}

/// A node path after symlink resolution inside the root.
pub(crate) fn canonical(root: &Root, node: &str) -> Option<String> {
    root.canonical(node)
}

/// Match one path segment against a pattern with `*` wildcards; `python*` means [`is_python_dir`].
fn segment_matches(pat: &str, name: &str) -> bool {
    if pat == "python*" {
        return is_python_dir(name);
    }
    wildcard(pat.as_bytes(), name.as_bytes())
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    // Iterative glob with backtracking to the last `*`.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Directories under the root matching a node-path pattern (`*` within one segment).
pub(crate) fn expand_glob(root: &Root, pattern: &str) -> Vec<String> {
    let mut cur = vec!["/".to_owned()];
    for seg in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for dir in &cur {
            if seg.contains('*') {
                for name in root.list(dir) {
                    if segment_matches(seg, &name) {
                        next.push(join(dir, &name));
                    }
                }
            } else {
                let p = join(dir, seg);
                if root.exists(&p) {
                    next.push(p);
                }
            }
        }
        cur = next;
        if cur.is_empty() {
            break;
        }
    }
    cur.retain(|p| root.is_dir(p));
    cur
}

/// What a bounded walk reports.
#[derive(Debug)]
pub(crate) enum WalkEvent<'a> {
    /// A subdirectory (not a symlink); return whether to enter it.
    Dir { path: &'a str, name: &'a str },
    /// A regular file (symlinks are not reported); the return value is ignored.
    File { path: &'a str, name: &'a str },
}

/// How a walk went.
#[derive(Debug, Default)]
pub(crate) struct WalkStats {
    /// Entries looked at.
    pub entries: usize,
    /// The budget ran out.
    pub truncated: bool,
}

/// Walk the tree at node path `start` (resolved inside the root), depth-first and sorted,
/// without following symlinks below it. Directories at depth < `max_depth` are listed (the start
/// is depth 0); at most `budget` entries are looked at. [`SKIP_NAMES`] are never entered.
pub(crate) fn walk(
    root: &Root,
    start: &str,
    max_depth: usize,
    budget: usize,
    f: &mut dyn FnMut(WalkEvent<'_>) -> bool,
) -> WalkStats {
    let mut stats = WalkStats::default();
    let Some(start_c) = canonical(root, start) else {
        return stats;
    };
    if !root.is_dir(&start_c) {
        return stats;
    }
    // A directory root is walked by host path (one `read_dir` per directory); an in-memory
    // root by node path.
    let host = root.host_path(&start_c);
    let mut stack: Vec<(Option<PathBuf>, String, usize)> = vec![(host, start_c, 0)];
    while let Some((h, n, depth)) = stack.pop() {
        if depth >= max_depth {
            continue;
        }
        let mut entries: Vec<(String, bool, bool)> = Vec::new();
        if let Some(h) = &h {
            let Ok(rd) = fs_err::read_dir(h) else {
                continue;
            };
            for e in rd.flatten() {
                stats.entries += 1;
                if stats.entries > budget {
                    stats.truncated = true;
                    return stats;
                }
                let Ok(ft) = e.file_type() else { continue };
                let name = e.file_name().to_string_lossy().into_owned();
                entries.push((name, ft.is_dir(), ft.is_file()));
            }
        } else {
            for (name, kind) in root.entries(&n) {
                stats.entries += 1;
                if stats.entries > budget {
                    stats.truncated = true;
                    return stats;
                }
                entries.push((name, kind == NodeKind::Dir, kind == NodeKind::File));
            }
        }
        entries.sort();
        let mut subdirs = Vec::new();
        for (name, is_dir, is_file) in &entries {
            let p = join(&n, name);
            if *is_dir {
                if SKIP_NAMES.contains(&name.as_str()) {
                    continue;
                }
                if f(WalkEvent::Dir { path: &p, name }) {
                    subdirs.push((h.as_ref().map(|h| h.join(name)), p, depth + 1));
                }
            } else if *is_file {
                f(WalkEvent::File { path: &p, name });
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn shared(rel: &str) -> PathBuf {
        let p = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/fixtures/python"
        ))
        .join(rel);
        assert!(
            p.exists(),
            "missing shared data {} — ../shared must sit beside the repository",
            p.display()
        );
        p
    }

    fn collect(root: &Root, owned: BTreeMap<String, String>) -> Collected {
        let mut out = Collected {
            os_owned_files: owned,
            ..Collected::default()
        };
        let c = PythonCollector;
        assert!(c.applies(root));
        c.collect(root, &mut out);
        out
    }

    fn display(p: &Package) -> &str {
        match &p.meta {
            PackageMeta::Python { display_name, .. } => display_name,
            _ => panic!("not a python package"),
        }
    }

    fn owner(p: &Package) -> Option<&str> {
        match &p.meta {
            PackageMeta::Python { os_owner, .. } => os_owner.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn openstack_site_packages_sets_match_expected() {
        let base = shared("openstack-site-packages");
        let mut sets = 0;
        for set in fs_err::read_dir(&base).unwrap() {
            let set = set.unwrap().path();
            if !set.is_dir() {
                continue;
            }
            sets += 1;
            let expected: BTreeSet<String> =
                fs_err::read_to_string(set.join("expected-installed.txt"))
                    .unwrap()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
            // Layout: <set>/lib/python3.X/site-packages/*.dist-info — a bare prefix; a root over
            // the set finds it through the `/lib/python*/site-packages` glob.
            let root = Root::new(&set);
            let out = collect(&root, BTreeMap::new());
            assert!(
                out.problems.is_empty(),
                "{}: {:?}",
                set.display(),
                out.problems
            );
            let got: BTreeSet<String> = out
                .packages
                .iter()
                .map(|p| format!("{}=={}", display(p), p.version))
                .collect();
            assert_eq!(got, expected, "{}", set.display());
            assert_eq!(
                out.packages.len(),
                expected.len(),
                "no duplicates in {}",
                set.display()
            );
            for p in &out.packages {
                assert_eq!(p.ecosystem, Ecosystem::Pypi);
                assert_eq!(p.found_by, "python-dist-info");
                assert_eq!(p.name, normalize_name(display(p)));
                assert_eq!(p.purl, format!("pkg:pypi/{}@{}", p.name, p.version));
                assert!(owner(p).is_none());
                assert!(p.location.path.ends_with(".dist-info/METADATA"));
                assert_eq!(p.extra.get("installer").map(String::as_str), Some("pip"));
                let PackageMeta::Python { environment, .. } = &p.meta else {
                    unreachable!()
                };
                let Some(PythonEnvironment::Site { dir }) = environment else {
                    panic!("{environment:?}")
                };
                assert!(dir.ends_with("/site-packages"));
            }
        }
        assert_eq!(sets, 3);
    }

    #[test]
    fn openstack_set_inside_a_virtualenv_and_kolla_layouts() {
        // Real METADATA files placed in synthetic OpenStack-Ansible and kolla virtualenvs,
        // which only the bounded walk finds.
        let set = shared("openstack-site-packages/2025.2-flamingo/lib/python3.12/site-packages");
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for venv in ["openstack/venvs/nova-31.0.0", "var/lib/kolla/venv"] {
            let lib = r.join(venv).join("lib/python3.12");
            fs_err::create_dir_all(&lib).unwrap();
            fs_err::write(r.join(venv).join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            let sp = lib.join("site-packages");
            fs_err::create_dir_all(&sp).unwrap();
            for d in ["nova-32.2.1.dist-info", "oslo_config-10.0.0.dist-info"] {
                let src = set.join(d);
                fs_err::create_dir_all(sp.join(d)).unwrap();
                fs_err::copy(src.join("METADATA"), sp.join(d).join("METADATA")).unwrap();
            }
        }
        let root = Root::new(r);
        let out = collect(&root, BTreeMap::new());
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let envs: BTreeSet<String> = out
            .packages
            .iter()
            .map(|p| match &p.meta {
                PackageMeta::Python {
                    environment: Some(PythonEnvironment::Venv { root }),
                    ..
                } => root.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            envs,
            BTreeSet::from([
                "/openstack/venvs/nova-31.0.0".to_owned(),
                "/var/lib/kolla/venv".to_owned()
            ])
        );
        assert!(out.packages.iter().all(|p| owner(p).is_none()));
        assert_eq!(out.packages.len(), 4);
        assert!(out
            .packages
            .iter()
            .any(|p| p.name == "oslo-config" && p.version == "10.0.0"));
    }

    #[test]
    fn debian12_packages_are_os_owned() {
        let root = Root::new(shared("debian12-openstack-packages/root"));
        let mut owned = BTreeMap::new();
        owned.insert(
            "/usr/lib/python3/dist-packages/nova-26.2.2.egg-info/PKG-INFO".to_owned(),
            "python3-nova".to_owned(),
        );
        owned.insert(
            "/usr/lib/python3/dist-packages/oslo.config-9.0.0.egg-info".to_owned(),
            "python3-oslo.config".to_owned(),
        );
        let out = collect(&root, owned);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let got: BTreeMap<&str, &str> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        let expected = BTreeMap::from([
            ("cinder", "21.3.1"),
            ("glance", "25.1.0"),
            ("keystone", "22.0.2"),
            ("keystonemiddleware", "10.1.0"),
            ("neutron", "21.0.0"),
            ("nova", "26.2.2"),
            ("openstack-placement", "8.0.0"),
            ("oslo-config", "9.0.0"),
            ("oslo-messaging", "14.0.3"),
            ("python-novaclient", "18.1.0"),
        ]);
        assert_eq!(got, expected);
        let by = |n: &str| out.packages.iter().find(|p| p.name == n).unwrap();
        assert_eq!(owner(by("nova")), Some("python3-nova"));
        assert_eq!(owner(by("oslo-config")), Some("python3-oslo.config"));
        assert_eq!(
            owner(by("neutron")),
            Some("dpkg"),
            "dist-packages of /usr/lib/python3 is dpkg's"
        );
        assert_eq!(display(by("oslo-config")), "oslo.config");
        assert_eq!(by("nova").found_by, "python-egg-info");
        assert_eq!(by("nova").purl, "pkg:pypi/nova@26.2.2");
        assert_eq!(
            by("nova").location.path,
            "/usr/lib/python3/dist-packages/nova-26.2.2.egg-info/PKG-INFO"
        );
    }

    /// Build a root whose `/usr/local/lib/python3.11/site-packages` holds copies of the given
    /// fixture files (`(fixture, entry name, inside)`: inside = file name within a directory entry).
    fn site_with(files: &[(&str, &str, Option<&str>)]) -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        let sp = t.path().join("usr/local/lib/python3.11/site-packages");
        fs_err::create_dir_all(&sp).unwrap();
        for (src, entry, inside) in files {
            let data = fs_err::read(shared(src)).unwrap();
            match inside {
                Some(f) => {
                    fs_err::create_dir_all(sp.join(entry)).unwrap();
                    fs_err::write(sp.join(entry).join(f), data).unwrap();
                }
                None => fs_err::write(sp.join(entry), data).unwrap(),
            }
        }
        let root = Root::new(t.path());
        (t, root)
    }

    #[test]
    fn tool_edge_cases_give_packages_or_problems() {
        let (_t, root) = site_with(&[
            ("syft/Python-2.7.egg-info", "Python-2.7.egg-info", None),
            (
                "syft/empty-1.0.0-py3.8.egg-info",
                "empty-1.0.0-py3.8.egg-info",
                None,
            ),
            (
                "syft/site-packages/no-version/no-version-py3.8.egg-info",
                "no_version-py3.8.egg-info",
                None,
            ),
            (
                "syft/site-packages/partial.dist-info/METADATA",
                "Pygments-2.6.1.dist-info",
                Some("METADATA"),
            ),
            (
                "syft/site-packages/test/test.egg-info",
                "requests-2.22.0.egg-info",
                None,
            ),
            (
                "syft/site-packages/uppercase/dist-name/DIST-INFO/METADATA",
                "UPPER.DIST-INFO",
                Some("METADATA"),
            ),
            (
                "syft/site-packages/uppercase/egg-name/EGG-INFO/PKG-INFO-INVALID",
                "mxnet.egg-info",
                Some("PKG-INFO"),
            ),
            (
                "syft/glob-paths/site-packages/x.dist-info/METADATA",
                "x.dist-info",
                Some("METADATA"),
            ),
            (
                "syft/glob-paths/site-packages/z.egg-info",
                "z.egg-info",
                None,
            ),
            (
                "osv-scalibr/wheelegg/mixed_case",
                "httplib2-1.0.dist-info",
                Some("METADATA"),
            ),
            (
                "osv-scalibr/wheelegg/special_chars",
                "backports.ssl_match_hostname.egg-info",
                Some("PKG-INFO"),
            ),
            (
                "osv-scalibr/wheelegg/repeated_pkginfo",
                "root.egg-info",
                Some("PKG-INFO"),
            ),
            (
                "osv-scalibr/wheelegg/malformed_pkginfo",
                "passlib.egg-info",
                Some("PKG-INFO"),
            ),
            (
                "osv-scalibr/wheelegg/empty",
                "empty.dist-info",
                Some("METADATA"),
            ),
            (
                "osv-scalibr/wheelegg/pyopenssl-26.0.0.dist-info",
                "pyOpenSSL-26.0.0.dist-info",
                Some("METADATA"),
            ),
            (
                "trivy/packaging/happy-egg/distlib-0.3.1.egg-info/PKG-INFO",
                "distlib-0.3.1.egg-info",
                Some("PKG-INFO"),
            ),
        ]);
        let out = collect(&root, BTreeMap::new());
        let got: BTreeSet<(String, String)> = out
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        let want: BTreeSet<(String, String)> = [
            ("python", "2.7.13"),
            ("pygments", "2.6.1"),
            ("requests", "2.22.0"),
            ("mxnet", "1.8.0"),
            ("httplib2", "1.0"),
            ("backports-ssl-match-hostname", "3.5.0.1"),
            ("root", "1.0.0"),
            ("passlib", "1.7.4"),
            ("pyopenssl", "26.0.0"),
            ("distlib", "0.3.1"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        // Pygments appears twice (two dist-infos), which is what is on disk.
        assert_eq!(got, want);
        let fields: BTreeSet<(String, Option<String>)> = out
            .problems
            .iter()
            .map(|p| {
                let entry = p
                    .location
                    .path
                    .split("site-packages/")
                    .nth(1)
                    .unwrap()
                    .split('/')
                    .next()
                    .unwrap();
                (entry.to_owned(), p.location.field.clone())
            })
            .collect();
        let want_problems: BTreeSet<(String, Option<String>)> = [
            ("empty-1.0.0-py3.8.egg-info", "Name"),
            ("no_version-py3.8.egg-info", "Version"),
            ("x.dist-info", "Name"),
            ("z.egg-info", "Name"),
            ("empty.dist-info", "Name"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), Some((*b).to_owned())))
        .collect();
        assert_eq!(fields, want_problems, "{:?}", out.problems);
        assert!(out
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::Malformed));
    }

    #[test]
    fn missing_metadata_file_and_egg_link() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let sp = r.join("opt/stack/venv/lib/python3.10/site-packages");
        fs_err::create_dir_all(sp.join("broken-1.0.dist-info")).unwrap();
        fs_err::write(sp.join("nova.egg-link"), "/opt/stack/nova\n.\n").unwrap();
        fs_err::create_dir_all(r.join("opt/stack/nova/nova.egg-info")).unwrap();
        fs_err::write(
            r.join("opt/stack/nova/nova.egg-info/PKG-INFO"),
            "Metadata-Version: 1.2\nName: nova\nVersion: 32.1.0.dev12\n",
        )
        .unwrap();
        let out = collect(&Root::new(r), BTreeMap::new());
        assert_eq!(out.packages.len(), 1, "{:?}", out.packages);
        assert_eq!(out.packages[0].version, "32.1.0.dev12");
        assert_eq!(
            out.packages[0].location.path,
            "/opt/stack/nova/nova.egg-info/PKG-INFO"
        );
        assert_eq!(out.problems.len(), 1);
        assert_eq!(out.problems[0].kind, ProblemKind::Unreadable);
        assert!(out.problems[0]
            .location
            .path
            .ends_with("broken-1.0.dist-info/METADATA"));
    }

    #[test]
    fn merged_usr_is_not_counted_twice() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let sp = r.join("usr/lib/python3/dist-packages/six-1.16.0.egg-info");
        fs_err::create_dir_all(&sp).unwrap();
        fs_err::write(sp.join("PKG-INFO"), "Name: six\nVersion: 1.16.0\n").unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        let out = collect(&Root::new(r), BTreeMap::new());
        assert_eq!(out.packages.len(), 1);
        assert_eq!(owner(&out.packages[0]), Some("dpkg"));
    }

    #[test]
    fn metadata_parsing() {
        let loc = Location::path("/x/METADATA");
        assert_eq!(
            parse_metadata(
                "Metadata-Version: 2.1\r\nName: Foo\r\nVersion: 1.0\r\n\r\nName: bar\n",
                &loc
            )
            .unwrap(),
            ("Foo".to_owned(), "1.0".to_owned())
        );
        assert_eq!(
            parse_metadata("\u{feff}name: a\nVERSION:\n  2.0\n", &loc).unwrap(),
            ("a".to_owned(), "2.0".to_owned())
        );
        let e = parse_metadata("Name: a\n\nVersion: 1\n", &loc).unwrap_err();
        assert_eq!(e.location.field.as_deref(), Some("Version"));
        assert_eq!(e.location.path, "/x/METADATA");
        assert_eq!(
            parse_metadata("", &loc)
                .unwrap_err()
                .location
                .field
                .as_deref(),
            Some("Name")
        );
        assert_eq!(normalize_name("Oslo.Config"), "oslo-config");
        assert_eq!(
            normalize_name("backports.ssl_match_hostname"),
            "backports-ssl-match-hostname"
        );
        assert_eq!(normalize_name("FrIeNdLy-_-bArD"), "friendly-bard");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
    }

    #[test]
    fn globs_and_site_dir_shapes() {
        assert!(wildcard(b"*", b"alice"));
        assert!(wildcard(b"a*c", b"abbbc"));
        assert!(!wildcard(b"a*c", b"abbb"));
        assert!(
            is_python_dir("python3.12")
                && is_python_dir("python2.7")
                && !is_python_dir("python-foo")
        );
        assert!(is_site_dir(
            "/openstack/venvs/nova/lib/python3.10/site-packages"
        ));
        assert!(!is_site_dir("/opt/x/site-packages"));
        assert!(is_debian_dist_packages("/usr/lib/python3/dist-packages"));
        assert!(!is_debian_dist_packages(
            "/usr/local/lib/python3.11/dist-packages"
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_metadata_never_panics(s in "\\PC*") {
            let _ = parse_metadata(&s, &Location::path("/p"));
        }

        #[test]
        fn parse_metadata_headerish_never_panics(s in "((Name|Version|name|X)(:| :)[ -~\t]{0,12}\r?\n( [ -~]{0,8}\n)?){0,6}") {
            if let Ok((n, v)) = parse_metadata(&s, &Location::path("/p")) {
                proptest::prop_assert!(!n.is_empty() && !v.is_empty());
            }
        }

        #[test]
        fn normalize_is_idempotent(s in "[A-Za-z0-9._-]{1,20}") {
            let n = normalize_name(&s);
            proptest::prop_assert_eq!(normalize_name(&n), n);
        }
    }
}
