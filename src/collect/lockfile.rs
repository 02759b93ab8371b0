//! Lockfiles: `Cargo.lock` (formats v1 with `[metadata]` checksums, v2, v3, v4), pip
//! `*requirements*.txt`, `poetry.lock`, `uv.lock`, `pdm.lock`, `Pipfile.lock` and PEP 751
//! `pylock.toml` / `pylock.<name>.toml`.
//!
//! A lockfile says what a project *would* install, not what is installed; the analyzer weighs it
//! accordingly (`found_by` names the format, [`PackageMeta::Lock::source`] the origin).
//!
//! # Where it looks
//!
//! * Files given explicitly ([`LockfileCollector::with_targets`]): host paths, read directly, as
//!   the format their name says ([`LockKind::for_target`]), else as the format their content
//!   shows ([`LockKind::from_content`]: `workspace-Cargo.lock`, `deps.lock`). A named file that is
//!   no format nminus reads is a [`ProblemKind::Malformed`] problem naming the formats tried (the
//!   scan fails), never skipped.
//! * A bounded walk ([`SEARCH_DEPTH`] levels, [`SEARCH_BUDGET`] entries per tree; by
//!   conventional names only, [`LockKind::from_file_name`]) of
//!   [`SEARCH_ROOTS`] (`/srv`, `/opt`, `/root`, `/home/*`) inside the root, not following
//!   symlinks, not entering VCS directories, `node_modules`, Rust `target/` and `~/.cargo` (whose
//!   registry sources hold the lockfiles of dependencies), site directories, tox/nox environments,
//!   tool and cache directories (`~/.pyenv`, `~/.local`, `~/.cache`, `~/.rustup`, `~/.npm`, …:
//!   [`SEARCH_SKIP_NAMES`]) or Swift's object store (`/srv/node`).
//!
//! # Rules
//!
//! * Cargo: every `[[package]]` entry is reported, workspace members and path dependencies too
//!   (they have no `source`; [`PackageMeta::Lock::source`] = `path`), as the rustsec crate behind
//!   cargo-audit does. `git+URL?ref#sha` sources are `git` with the commit kept (`extra.rev`,
//!   purl `vcs_url`). A bare dependency name that matches no package of the file is a
//!   [`ProblemKind::Malformed`] problem (cargo-audit rejects such files); the packages are still
//!   reported.
//! * requirements: only exact pins (`==V` without a wildcard, `===V`) become packages; ranges and
//!   bare names are not pins and are left out silently. Hashes, extras and environment markers are
//!   kept in `extra`; markers are not evaluated. `-r FILE` includes are followed inside the same
//!   root (cycles reported); `-c FILE` constraints are not read (they install nothing); editable,
//!   URL and path requirements and `${VAR}` references are [`ProblemKind::Skipped`]; a line that
//!   does not parse is [`ProblemKind::Malformed`] with its line number.
//! * Python lockfiles: each locked package with a version; the project itself (a local
//!   `virtual`/`editable`/`directory` source without a version) is left out; other entries without
//!   a version are [`ProblemKind::Skipped`].

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::python::{budget_problem, expand_glob, walk, WalkEvent};
use super::root::MAX_FILE_BYTES;
use super::{purl, Collected, Collector, Root};
use crate::model::{Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind};
use crate::util::normalize_name;

/// Trees searched for lockfiles by default (`*` = every entry).
pub const SEARCH_ROOTS: &[&str] = &["/srv", "/opt", "/root", "/home/*"];

/// How many levels below a search root a lockfile may sit.
pub const SEARCH_DEPTH: usize = 6;

/// Directory entries one search may look at before it gives up (and says so).
pub const SEARCH_BUDGET: usize = 100_000;

/// Directory names the search never enters (besides the walk's own VCS / cache list): build
/// output, environments (their packages are collected as installed), and the state of tools and
/// caches in a home directory, whose lockfiles and requirements are the tools' own, not the
/// node's software (`~/.pyenv/plugins/python-build/scripts/requirements.txt`, pipx's venvs under
/// `~/.local/share/pipx`). A lockfile there is still read when named (`--lockfile`, a scan
/// target).
const SEARCH_SKIP_NAMES: &[&str] = &[
    "target",
    ".cargo",
    ".rustup",
    ".cache",
    ".npm",
    ".tox",
    ".nox",
    "site-packages",
    "dist-packages",
    ".pyenv",
    ".rbenv",
    ".nvm",
    ".asdf",
    ".local",
    ".pnpm-store",
    ".yarn",
    ".gradle",
    ".m2",
    ".conda",
    ".vscode-server",
];

/// Trees the search never enters.
const SEARCH_SKIP: &[&str] = &["/srv/node"];

/// Nested `-r` includes followed at most.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A lockfile format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKind {
    /// `Cargo.lock`.
    Cargo,
    /// pip requirements file.
    Requirements,
    /// `poetry.lock`.
    Poetry,
    /// `uv.lock`.
    Uv,
    /// `pdm.lock`.
    Pdm,
    /// `Pipfile.lock`.
    Pipfile,
    /// PEP 751 `pylock.toml`.
    Pylock,
}

impl LockKind {
    /// The kind a file name denotes in a search (exact, conventional names only).
    pub fn from_file_name(name: &str) -> Option<Self> {
        Some(match name {
            "Cargo.lock" => Self::Cargo,
            "poetry.lock" => Self::Poetry,
            "uv.lock" => Self::Uv,
            "pdm.lock" => Self::Pdm,
            "Pipfile.lock" => Self::Pipfile,
            "pylock.toml" => Self::Pylock,
            n if n.starts_with("pylock.") && n.ends_with(".toml") => Self::Pylock,
            n if n.ends_with(".txt") && n.contains("requirements") => Self::Requirements,
            _ => return None,
        })
    }

    /// The kind of an explicitly named file: conventional names, then looser ones
    /// (`Cargo.lock.old`, any `*.txt` as requirements). A name that says nothing leaves the
    /// kind to [`LockKind::from_content`].
    pub fn for_target(name: &str) -> Option<Self> {
        Self::from_file_name(name).or_else(|| {
            if name.starts_with("Cargo") && name.contains(".lock") {
                Some(Self::Cargo)
            } else if name.ends_with(".txt") {
                Some(Self::Requirements)
            } else {
                None
            }
        })
    }

    /// The kind of a file from its content alone (explicitly named files whose name says
    /// nothing: `workspace-Cargo.lock`, `deps.lock`). Each format is recognised by its shape, not
    /// by a successful parse: Pipfile.lock is JSON with `_meta` and `default` / `develop`;
    /// pylock.toml has a top-level `lock-version`; pdm.lock and poetry.lock a `[metadata]`
    /// table with `lock_version` / `content_hash` and `lock-version` / `content-hash`; uv.lock a
    /// top-level `version` and `requires-python`; Cargo.lock only Cargo's keys (`version = N`,
    /// `[[package]]` tables of `name`, `version`, `source`, `checksum`, `dependencies`, v1
    /// `[root]` and `[metadata]` checksums, `[patch]`); without those headers, the keys of the
    /// `[[package]]` tables tell pdm, poetry and uv apart. pip requirements are lines of
    /// `name==version` pins, options and `-r` / `-c` includes: more pins and includes than lines
    /// pip would reject. `Err` says, format by format, why none matched.
    pub fn from_content(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err("the file is empty".to_owned());
        }
        let mut why = Vec::new();
        if text.trim_start().starts_with('{') {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => {
                    let o = v.as_object();
                    let has = |k: &str| o.is_some_and(|o| o.contains_key(k));
                    if has("_meta") && (has("default") || has("develop")) {
                        return Ok(Self::Pipfile);
                    }
                    why.push(
                        "JSON without Pipfile.lock's `_meta` and `default` / `develop`".to_owned(),
                    );
                }
                Err(e) => why.push(format!("not JSON (line {}: {e})", e.line())),
            }
            return Err(why.join("; "));
        }
        why.push("not JSON (Pipfile.lock)".to_owned());
        match toml::from_str::<toml::Table>(text) {
            Ok(doc) => {
                if let Some(k) = toml_kind(&doc) {
                    return Ok(k);
                }
                why.push(
                    "TOML, but shaped like none of Cargo.lock, poetry.lock, uv.lock, pdm.lock, \
                     pylock.toml"
                        .to_owned(),
                );
            }
            Err(e) => {
                let p = toml_problem(text, &Location::path(""), &e);
                let at = p
                    .location
                    .line
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                let msg = p
                    .message
                    .strip_prefix("not valid TOML: ")
                    .unwrap_or(&p.message);
                why.push(format!(
                    "not TOML (Cargo.lock, poetry.lock, uv.lock, pdm.lock, pylock.toml: {at}{msg})"
                ));
            }
        }
        // Requirements files in the wild hold a few lines pip rejects; most lines must be pins
        // or includes.
        let req = parse_requirements_file(text, &Location::path(""));
        let good = req.packages.len() + req.includes.len();
        let bad: Vec<&Problem> = req
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Malformed)
            .collect();
        if good > bad.len() {
            return Ok(Self::Requirements);
        }
        match bad.first() {
            Some(p) => {
                let at = p
                    .location
                    .line
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                why.push(format!("not pip requirements ({at}{})", p.message));
            }
            None => {
                why.push(
                    "not pip requirements (no `name==version` pin, no `-r` include)".to_owned(),
                );
            }
        }
        Err(why.join("; "))
    }
}

/// Cargo.lock's top-level keys.
const CARGO_KEYS: &[&str] = &["version", "package", "metadata", "root", "patch"];

/// The keys of a Cargo.lock `[[package]]` (and v1 `[root]`) table.
const CARGO_PACKAGE_KEYS: &[&str] = &[
    "name",
    "version",
    "source",
    "checksum",
    "dependencies",
    "replace",
];

/// The lockfile format a TOML document is shaped like (see [`LockKind::from_content`]).
fn toml_kind(doc: &toml::Table) -> Option<LockKind> {
    let meta = doc.get("metadata").and_then(toml::Value::as_table);
    let meta_has = |k: &str| meta.is_some_and(|m| m.contains_key(k));
    if doc.contains_key("lock-version")
        && (doc.get("packages").is_some_and(toml::Value::is_array)
            || doc.contains_key("created-by"))
    {
        return Some(LockKind::Pylock);
    }
    if meta_has("lock_version") || meta_has("content_hash") {
        return Some(LockKind::Pdm);
    }
    if meta_has("lock-version") || meta_has("content-hash") {
        return Some(LockKind::Poetry);
    }
    let int_version = doc.get("version").is_some_and(toml::Value::is_integer);
    if int_version && doc.get("requires-python").is_some_and(toml::Value::is_str) {
        return Some(LockKind::Uv);
    }
    let cargo_table = |t: &toml::Table| {
        t.keys().all(|k| CARGO_PACKAGE_KEYS.contains(&k.as_str()))
            && t.get("source").is_none_or(toml::Value::is_str)
    };
    let packages = match doc.get("package") {
        None => Some(false),
        Some(v) => v
            .as_array()
            .filter(|a| a.iter().all(|e| e.as_table().is_some_and(cargo_table)))
            .map(|_| true),
    };
    let root = match doc.get("root") {
        None => Some(false),
        Some(v) => v.as_table().filter(|t| cargo_table(t)).map(|_| true),
    };
    let cargo = doc.keys().all(|k| CARGO_KEYS.contains(&k.as_str()))
        && (int_version || !doc.contains_key("version"))
        && meta.is_none_or(|m| m.keys().all(|k| k.starts_with("checksum ")))
        && matches!((packages, root), (Some(p), Some(r)) if p || r || int_version);
    if cargo {
        return Some(LockKind::Cargo);
    }
    // Without their headers, Python lockfiles show in their `[[package]]` keys: pdm's
    // `requires_python` / `summary`, poetry's `python-versions` and typed `source` table, uv's
    // keyed `source` table, `sdist` and `wheels` (and a top-level `version = N`).
    let entries: Vec<&toml::Table> = doc
        .get("package")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_table).collect())
        .unwrap_or_default();
    let any = |f: &dyn Fn(&toml::Table) -> bool| entries.iter().any(|t| f(t));
    if entries.is_empty() {
        None
    } else if any(&|t| t.contains_key("requires_python") || t.contains_key("summary")) {
        Some(LockKind::Pdm)
    } else if any(&|t| {
        t.contains_key("python-versions") || source_table(t).is_some_and(|s| s.contains_key("type"))
    }) {
        Some(LockKind::Poetry)
    } else if int_version
        || any(&|t| {
            t.contains_key("sdist")
                || t.contains_key("wheels")
                || source_table(t).is_some_and(|s| {
                    [
                        "registry",
                        "git",
                        "virtual",
                        "editable",
                        "directory",
                        "path",
                        "url",
                    ]
                    .iter()
                    .any(|k| s.contains_key(*k))
                })
        })
    {
        Some(LockKind::Uv)
    } else {
        None
    }
}

/// Parse a lockfile of the given kind (requirements includes are reported, not followed).
pub fn parse_lockfile(kind: LockKind, text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    match kind {
        LockKind::Cargo => parse_cargo_lock(text, loc),
        LockKind::Requirements => parse_requirements(text, loc),
        LockKind::Poetry => parse_poetry_lock(text, loc),
        LockKind::Uv => parse_uv_lock(text, loc),
        LockKind::Pdm => parse_pdm_lock(text, loc),
        LockKind::Pipfile => parse_pipfile_lock(text, loc),
        LockKind::Pylock => parse_pylock_toml(text, loc),
    }
}

/// The lockfile collector.
#[derive(Debug, Clone)]
pub struct LockfileCollector {
    search: Vec<String>,
    targets: Vec<PathBuf>,
}

impl Default for LockfileCollector {
    fn default() -> Self {
        Self {
            search: SEARCH_ROOTS.iter().map(|s| (*s).to_owned()).collect(),
            targets: Vec::new(),
        }
    }
}

impl LockfileCollector {
    /// The default search plus explicit files (host paths, e.g. given on the command line).
    pub fn with_targets(paths: Vec<PathBuf>) -> Self {
        Self {
            targets: paths,
            ..Self::default()
        }
    }

    /// Replace the trees searched inside the root (node paths, `*` allowed in a segment).
    #[must_use]
    pub fn with_search_roots(mut self, roots: Vec<String>) -> Self {
        self.search = roots;
        self
    }

    /// The explicit files.
    pub fn targets(&self) -> &[PathBuf] {
        &self.targets
    }
}

impl Collector for LockfileCollector {
    fn name(&self) -> &'static str {
        "lockfile"
    }

    fn applies(&self, root: &Root) -> bool {
        !self.targets.is_empty() || self.search.iter().any(|g| !expand_glob(root, g).is_empty())
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        for t in &self.targets {
            let path = t.to_string_lossy().into_owned();
            let name = t
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut parsed = BTreeSet::new();
            process(
                &Files::Host,
                &path,
                LockKind::for_target(&name),
                &mut parsed,
                out,
            );
        }
        let mut found: Vec<(String, LockKind)> = Vec::new();
        let mut starts = BTreeSet::new();
        for g in &self.search {
            starts.extend(expand_glob(root, g));
        }
        for start in &starts {
            let stats = walk(
                root,
                start,
                SEARCH_DEPTH,
                SEARCH_BUDGET,
                &mut |ev| match ev {
                    WalkEvent::Dir { path, name } => {
                        !SEARCH_SKIP_NAMES.contains(&name) && !SEARCH_SKIP.contains(&path)
                    }
                    WalkEvent::File { path, name } => {
                        if let Some(k) = LockKind::from_file_name(name) {
                            found.push((path.to_owned(), k));
                        }
                        false
                    }
                },
            );
            if stats.truncated {
                out.problems.push(budget_problem(start, stats.entries));
            }
        }
        let mut parsed = BTreeSet::new();
        let files = Files::Root(root);
        for (path, kind) in found {
            process(&files, &path, Some(kind), &mut parsed, out);
        }
    }
}

/// Where files are read from: inside a root (node paths) or the host (explicit targets).
enum Files<'a> {
    Root(&'a Root),
    Host,
}

impl Files<'_> {
    fn read(&self, path: &str) -> io::Result<String> {
        let bytes = match self {
            Self::Root(r) => r.read(path)?,
            Self::Host => {
                let len = fs_err::metadata(path)?.len();
                if len > MAX_FILE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{path}: {len} bytes exceeds the {MAX_FILE_BYTES}-byte limit"),
                    ));
                }
                fs_err::read(path)?
            }
        };
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

/// Names whose format [`LockKind::for_target`] knows, for messages.
const KNOWN_NAMES: &str =
    "Cargo.lock, *requirements*.txt, poetry.lock, uv.lock, pdm.lock, Pipfile.lock, pylock.toml";

/// Read and parse one lockfile; `kind: None` (an explicit file whose name says nothing): the
/// kind its content shows, else a problem that fails the scan — a file the user named is never
/// passed over in silence.
fn process(
    files: &Files<'_>,
    path: &str,
    kind: Option<LockKind>,
    parsed: &mut BTreeSet<String>,
    out: &mut Collected,
) {
    if !parsed.insert(path.to_owned()) {
        return;
    }
    let text = match files.read(path) {
        Ok(t) => t,
        Err(e) => {
            out.problems.push(Problem::new(
                Location::path(path),
                ProblemKind::Unreadable,
                e.to_string(),
            ));
            return;
        }
    };
    let kind = match kind.map_or_else(|| LockKind::from_content(&text), Ok) {
        Ok(k) => k,
        Err(why) => {
            out.problems.push(Problem::new(
                Location::path(path),
                ProblemKind::Malformed,
                format!(
                    "`{path}` not read: neither its name nor its content is a lockfile format \
                     nminus reads. Content: {why}. Name: none of {KNOWN_NAMES}; give the file its \
                     format's name (`Cargo.lock`, `poetry.lock`, `requirements.txt` …) to read it \
                     as that format"
                ),
            ));
            return;
        }
    };
    if kind == LockKind::Requirements {
        let mut chain = vec![path.to_owned()];
        follow_requirements(files, path, &text, &mut chain, parsed, out);
    } else {
        let (p, pr) = parse_lockfile(kind, &text, &Location::path(path));
        out.packages.extend(p);
        out.problems.extend(pr);
    }
}

fn follow_requirements(
    files: &Files<'_>,
    path: &str,
    text: &str,
    chain: &mut Vec<String>,
    parsed: &mut BTreeSet<String>,
    out: &mut Collected,
) {
    let parsed_file = parse_requirements_file(text, &Location::path(path));
    out.packages.extend(parsed_file.packages);
    out.problems.extend(parsed_file.problems);
    for inc in parsed_file.includes {
        let loc = Location::path(path).at_line(inc.line);
        if inc.constraint {
            out.problems.push(Problem::new(
                loc,
                ProblemKind::Skipped,
                format!(
                    "constraints file `{}` not read: constraints install nothing",
                    inc.target
                ),
            ));
            continue;
        }
        let Some(target) = resolve_include(path, &inc.target) else {
            out.problems.push(Problem::new(
                loc,
                ProblemKind::Skipped,
                format!("remote requirements file `{}` not fetched", inc.target),
            ));
            continue;
        };
        if chain.contains(&target) {
            out.problems.push(Problem::new(
                loc,
                ProblemKind::Malformed,
                format!("include cycle: {} → {target}", chain.join(" → ")),
            ));
            continue;
        }
        if chain.len() >= MAX_INCLUDE_DEPTH {
            out.problems.push(Problem::new(
                loc,
                ProblemKind::Skipped,
                format!(
                    "`{}` not read: includes nested deeper than {MAX_INCLUDE_DEPTH}",
                    inc.target
                ),
            ));
            continue;
        }
        if !parsed.insert(target.clone()) {
            continue;
        }
        match files.read(&target) {
            Ok(t) => {
                chain.push(target.clone());
                follow_requirements(files, &target, &t, chain, parsed, out);
                chain.pop();
            }
            Err(e) => out.problems.push(Problem::new(
                loc,
                ProblemKind::Unreadable,
                format!("included requirements file `{}`: {e}", inc.target),
            )),
        }
    }
}

/// The path an include names, relative to the including file; `None` for a URL.
fn resolve_include(from: &str, target: &str) -> Option<String> {
    if target.contains("://") {
        return None;
    }
    let joined = if target.starts_with('/') {
        target.to_owned()
    } else {
        match from.rfind('/') {
            Some(i) => format!("{}/{target}", &from[..i]),
            None => target.to_owned(),
        }
    };
    Some(normalize_path(&joined))
}

/// Lexically remove `.` and `..` (never above the start of an absolute path).
fn normalize_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    if abs {
        format!("/{body}")
    } else {
        body
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The byte offsets of a text's newlines, so that the line of any offset is a binary search
/// (a lockfile's entries are located once each, not by rescanning the text from its start).
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        Self(
            text.bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
        )
    }

    /// The 1-based line holding byte `offset` (past the end: the last line).
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

fn toml_problem(text: &str, loc: &Location, e: &toml::de::Error) -> Problem {
    let mut l = loc.clone();
    if let Some(span) = e.span() {
        l = l.at_line(LineIndex::new(text).line(span.start));
    }
    let msg = e
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .to_owned();
    Problem::new(l, ProblemKind::Malformed, format!("not valid TOML: {msg}"))
}

/// `[[package]]` lockfiles (Cargo, poetry, uv, pdm); the rest of the file is ignored.
#[derive(Deserialize)]
struct PackageLock {
    #[serde(default)]
    package: Option<Vec<Spanned<toml::Table>>>,
}

/// `Cargo.lock`: `[[package]]`, and `[root]` in files from before 2017.
#[derive(Deserialize)]
struct CargoLock {
    #[serde(default)]
    package: Option<Vec<Spanned<toml::Table>>>,
    #[serde(default)]
    root: Option<Spanned<toml::Table>>,
}

/// PEP 751: `[[packages]]`.
#[derive(Deserialize)]
struct Pylock {
    #[serde(default)]
    packages: Option<Vec<Spanned<toml::Table>>>,
}

/// Which array of tables holds the packages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Package,
    Cargo,
    Packages,
}

/// One `[[package]]` entry: its index, line and table.
struct Entry {
    index: usize,
    line: usize,
    table: toml::Table,
}

fn toml_entries(text: &str, loc: &Location, key: Key) -> Result<Vec<Entry>, Problem> {
    let err = |e: toml::de::Error| toml_problem(text, loc, &e);
    let (list, root) = match key {
        Key::Package => (
            toml::from_str::<PackageLock>(text).map_err(err)?.package,
            None,
        ),
        Key::Cargo => {
            let d = toml::from_str::<CargoLock>(text).map_err(err)?;
            (d.package, d.root)
        }
        Key::Packages => (toml::from_str::<Pylock>(text).map_err(err)?.packages, None),
    };
    let lines = LineIndex::new(text);
    let mut out: Vec<Entry> = list
        .unwrap_or_default()
        .into_iter()
        .chain(root)
        .enumerate()
        .map(|(index, s)| Entry {
            index,
            line: lines.line(s.span().start),
            table: s.into_inner(),
        })
        .collect();
    out.sort_by_key(|e| e.line);
    Ok(out)
}

/// The `[[package]]` entries of a Cargo.lock as Cargo writes it, read line by line: what
/// [`toml_entries`] gives for such a file (the same tables, indexes and lines; a differential
/// test and the `cargo_lock` fuzz target hold them equal), several times faster than the generic
/// TOML parser, which was most of a warm scan of a large lockfile. `None` for anything else
/// (another layout, escapes, multi-line strings, duplicate keys, `[root]`, unknown tables or
/// values): the caller falls back to the TOML parser, which also explains malformed files.
fn cargo_entries_fast(text: &str) -> Option<Vec<Entry>> {
    /// A basic string without escapes, the whole of `v` (`"…"`).
    fn plain_string(v: &str) -> Option<&str> {
        let inner = v.strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains(['"', '\\']) && !inner.chars().any(char::is_control)).then_some(inner)
    }
    fn bare_key(k: &str) -> bool {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
    enum In {
        Top,
        Package,
        Metadata,
    }
    // Control characters other than tab, and a carriage return not ending a line, are not TOML
    // anywhere (comments included): leave such a file to the TOML parser.
    let bytes = text.as_bytes();
    if bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r')
            || b == 0x7f
            || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    }) {
        return None;
    }
    let ws: &[char] = &[' ', '\t'];
    let mut out: Vec<Entry> = Vec::new();
    let mut state = In::Top;
    let mut top_keys: Vec<&str> = Vec::new();
    let mut meta_keys: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut seen_metadata = false;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let t = line.trim_matches(ws);
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t == "[[package]]" {
            out.push(Entry {
                index: out.len(),
                line: i + 1,
                table: toml::Table::new(),
            });
            state = In::Package;
            continue;
        }
        if t == "[metadata]" {
            if seen_metadata {
                return None;
            }
            seen_metadata = true;
            state = In::Metadata;
            continue;
        }
        if t.starts_with('[') {
            return None;
        }
        let (k, v) = t.split_once('=')?;
        let (k, v) = (k.trim_matches(ws), v.trim_matches(ws));
        match state {
            In::Top => {
                // `version = 3` (an integer TOML can hold: i64, no sign, no leading zero) and
                // nothing else.
                let int = !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_digit())
                    && (v.len() == 1 || !v.starts_with('0'))
                    && v.parse::<i64>().is_ok();
                if k != "version" || top_keys.contains(&k) || !int {
                    return None;
                }
                top_keys.push(k);
            }
            In::Metadata => {
                let key = plain_string(k)?;
                plain_string(v)?;
                if !meta_keys.insert(key) {
                    return None;
                }
            }
            In::Package => {
                if !bare_key(k) {
                    return None;
                }
                let table = &mut out.last_mut()?.table;
                if table.contains_key(k) {
                    return None;
                }
                let value = if v == "[" {
                    // A multi-line array of plain strings, one per line, then `]`.
                    let mut items = Vec::new();
                    loop {
                        let (_, raw) = lines.next()?;
                        let l = raw.strip_suffix('\r').unwrap_or(raw).trim_matches(ws);
                        if l == "]" {
                            break;
                        }
                        let item = l.strip_suffix(',')?.trim_end_matches(ws);
                        items.push(toml::Value::String(plain_string(item)?.to_owned()));
                    }
                    toml::Value::Array(items)
                } else if v == "[]" {
                    toml::Value::Array(Vec::new())
                } else {
                    toml::Value::String(plain_string(v)?.to_owned())
                };
                table.insert(k.to_owned(), value);
            }
        }
    }
    Some(out)
}

/// For the fuzz harness: when the fast reader accepts `text`, the TOML parser must accept it
/// too and give the same entries (panics otherwise).
#[doc(hidden)]
pub fn check_fast_cargo_reader(text: &str) {
    if let Some(fast) = cargo_entries_fast(text) {
        let loc = Location::path("/srv/app/Cargo.lock");
        let slow = toml_entries(text, &loc, Key::Cargo)
            .unwrap_or_else(|e| panic!("fast reader accepted what TOML refuses: {e:?}"));
        assert_eq!(fast.len(), slow.len());
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!((f.index, f.line), (s.index, s.line));
            assert_eq!(f.table, s.table);
        }
    }
}

fn str_field<'a>(t: &'a toml::Table, k: &str) -> Option<&'a str> {
    t.get(k)
        .and_then(toml::Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Name and version of an entry, or the problem explaining which is missing.
fn name_version<'a>(
    e: &'a Entry,
    loc: &Location,
    key: &str,
) -> Result<(&'a str, Option<&'a str>), Problem> {
    let name = str_field(&e.table, "name").ok_or_else(|| {
        Problem::new(
            loc.clone()
                .at_line(e.line)
                .field(format!("{key}[{}].name", e.index)),
            ProblemKind::Malformed,
            "locked package without a `name`",
        )
    })?;
    Ok((name, str_field(&e.table, "version")))
}

fn missing_version(
    e: &Entry,
    loc: &Location,
    key: &str,
    name: &str,
    kind: ProblemKind,
    why: &str,
) -> Problem {
    Problem::new(
        loc.clone()
            .at_line(e.line)
            .field(format!("{key}[{}].version", e.index)),
        kind,
        format!("locked package `{name}` has no version{why}"),
    )
}

/// A PyPI package from a lockfile.
fn pypi_lock(
    display: &str,
    version: &str,
    found_by: &str,
    location: Location,
    source: &str,
) -> Package {
    let name = normalize_name(display);
    let mut extra = BTreeMap::new();
    if display != name {
        extra.insert("display_name".to_owned(), display.to_owned());
    }
    Package {
        ecosystem: Ecosystem::Pypi,
        purl: purl::build("pypi", None, &name, version, &[]),
        name,
        version: version.to_owned(),
        source: None,
        found_by: found_by.to_owned(),
        location,
        meta: PackageMeta::Lock {
            source: Some(source.to_owned()),
        },
        extra,
    }
}

/// `URL#rev` → (URL, rev).
fn split_rev(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('#') {
        Some((u, r)) if !r.is_empty() => (u, Some(r)),
        Some((u, _)) => (u, None),
        None => (s, None),
    }
}

// ---------------------------------------------------------------------------------------------
// Cargo.lock

/// Parse a `Cargo.lock` (any format version).
pub fn parse_cargo_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    let entries =
        match cargo_entries_fast(text).map_or_else(|| toml_entries(text, loc, Key::Cargo), Ok) {
            Ok(e) => e,
            Err(p) => return (Vec::new(), vec![p]),
        };
    let mut packages = Vec::new();
    let mut problems = Vec::new();
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut deps: Vec<(&Entry, &str, &str, &str)> = Vec::new();
    for e in &entries {
        let (name, version) = match name_version(e, loc, "package") {
            Ok(nv) => nv,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let Some(version) = version else {
            problems.push(missing_version(
                e,
                loc,
                "package",
                name,
                ProblemKind::Malformed,
                "",
            ));
            continue;
        };
        names.insert(name);
        if let Some(list) = e.table.get("dependencies").and_then(toml::Value::as_array) {
            for d in list.iter().filter_map(toml::Value::as_str) {
                deps.push((e, name, version, d));
            }
        }
        let source = e.table.get("source").and_then(toml::Value::as_str);
        packages.push(cargo_package(
            name,
            version,
            source,
            loc.clone().at_line(e.line),
        ));
    }
    // As the rustsec `cargo-lock` crate: a bare `name` must resolve to a package of the file (it
    // names no version otherwise); `name version [(source)]` references carry their version and
    // are not cross-checked.
    for (e, name, version, dep) in deps {
        let mut parts = dep.split_whitespace();
        let dn = parts.next().unwrap_or("");
        if parts.next().is_none() && !names.contains(dn) {
            problems.push(Problem::new(
                loc.clone()
                    .at_line(e.line)
                    .field(format!("package[{}].dependencies", e.index)),
                ProblemKind::Malformed,
                format!("dependency `{dep}` of `{name} {version}` is not in the lockfile"),
            ));
        }
    }
    (packages, problems)
}

/// Whether a Cargo.lock `source` names Cargo's default registry. Decided by the `cargo-lock`
/// crate (the parser cargo-audit uses), so the registry's address is never spelled here.
fn is_default_registry(source: &str) -> bool {
    rustsec::cargo_lock::SourceId::from_url(source).is_ok_and(|s| s.is_default_registry())
}

fn cargo_package(name: &str, version: &str, source: Option<&str>, location: Location) -> Package {
    let mut extra = BTreeMap::new();
    let mut quals: Vec<(&str, String)> = Vec::new();
    let kind = match source.map(str::trim) {
        None | Some("") => "path".to_owned(),
        Some(s) => {
            let (scheme, rest) = s.split_once('+').unwrap_or(("", s));
            match scheme {
                "registry" | "sparse" => {
                    if !is_default_registry(s) {
                        extra.insert("registry".to_owned(), rest.to_owned());
                        quals.push(("repository_url", rest.to_owned()));
                    }
                    "registry".to_owned()
                }
                "git" => {
                    let (url, rev) = split_rev(rest);
                    let repo = url.split_once('?').map_or(url, |(u, _)| u);
                    extra.insert("repository".to_owned(), url.to_owned());
                    match rev {
                        Some(r) => {
                            extra.insert("rev".to_owned(), r.to_owned());
                            quals.push(("vcs_url", format!("git+{repo}@{r}")));
                        }
                        None => quals.push(("vcs_url", format!("git+{repo}"))),
                    }
                    "git".to_owned()
                }
                "path" => "path".to_owned(),
                "directory" | "local-registry" => {
                    extra.insert("registry".to_owned(), s.to_owned());
                    "registry".to_owned()
                }
                "" => {
                    extra.insert("source".to_owned(), s.to_owned());
                    "unknown".to_owned()
                }
                other => {
                    extra.insert("source".to_owned(), s.to_owned());
                    other.to_owned()
                }
            }
        }
    };
    let q: Vec<(&str, &str)> = quals.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Package {
        ecosystem: Ecosystem::Cargo,
        purl: purl::build("cargo", None, name, version, &q),
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        found_by: "cargo-lock".to_owned(),
        location,
        meta: PackageMeta::Lock { source: Some(kind) },
        extra,
    }
}

// ---------------------------------------------------------------------------------------------
// poetry.lock, pdm.lock, uv.lock, pylock.toml

/// How one Python lockfile format is walked: [`walk_python_lock`] does the rest.
struct PyLockFormat {
    /// The array of tables holding the packages.
    key: Key,
    /// `found_by` of its packages.
    found_by: &'static str,
    /// The kind of the problem for a (non-local) entry without a version.
    no_version: ProblemKind,
    /// Appended to that problem's message.
    no_version_why: &'static str,
    /// An entry's source kind (`registry`, `git`, `path` …) and whether it is local (the project
    /// itself or a path dependency: no version is expected).
    source: fn(&toml::Table) -> (&str, bool),
    /// Format-specific `extra` fields of a package, from its entry.
    extra: fn(&toml::Table, &mut Package),
}

/// The table walk the Python lockfiles share: every entry with a name and a version becomes a
/// PyPI package located at the entry's line; an entry without a name is malformed; one without a
/// version is a problem of the format's kind unless it is local.
fn walk_python_lock(text: &str, loc: &Location, f: &PyLockFormat) -> (Vec<Package>, Vec<Problem>) {
    let entries = match toml_entries(text, loc, f.key) {
        Ok(e) => e,
        Err(p) => return (Vec::new(), vec![p]),
    };
    let key = match f.key {
        Key::Packages => "packages",
        Key::Package | Key::Cargo => "package",
    };
    let mut packages = Vec::new();
    let mut problems = Vec::new();
    for e in &entries {
        let (name, version) = match name_version(e, loc, key) {
            Ok(nv) => nv,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let (source, local) = (f.source)(&e.table);
        let Some(version) = version else {
            if !local {
                problems.push(missing_version(
                    e,
                    loc,
                    key,
                    name,
                    f.no_version,
                    f.no_version_why,
                ));
            }
            continue;
        };
        let mut p = pypi_lock(
            name,
            version,
            f.found_by,
            loc.clone().at_line(e.line),
            source,
        );
        (f.extra)(&e.table, &mut p);
        packages.push(p);
    }
    (packages, problems)
}

/// An entry's `source` table (poetry, uv).
fn source_table(t: &toml::Table) -> Option<&toml::Table> {
    t.get("source").and_then(toml::Value::as_table)
}

fn poetry_source_type(t: &toml::Table) -> Option<&str> {
    source_table(t).and_then(|s| str_field(s, "type"))
}

/// `poetry.lock`: `[[package]]` with a `source` table of a `type`; an entry without a version is
/// malformed (poetry locks the project itself nowhere).
const POETRY: PyLockFormat = PyLockFormat {
    key: Key::Package,
    found_by: "poetry-lock",
    no_version: ProblemKind::Malformed,
    no_version_why: "",
    source: |t| {
        let source = match poetry_source_type(t) {
            None => "registry",
            Some("git") => "git",
            Some("directory" | "file") => "path",
            Some("url") => "url",
            Some(_) => "registry",
        };
        (source, false)
    },
    extra: |t, p| {
        if let Some(s) = source_table(t) {
            match poetry_source_type(t) {
                Some("git") => {
                    if let Some(u) = str_field(s, "url") {
                        p.extra.insert("repository".to_owned(), u.to_owned());
                    }
                    if let Some(r) =
                        str_field(s, "resolved_reference").or_else(|| str_field(s, "reference"))
                    {
                        p.extra.insert("rev".to_owned(), r.to_owned());
                    }
                }
                Some("legacy") => {
                    if let Some(u) = str_field(s, "url") {
                        p.extra.insert("registry".to_owned(), u.to_owned());
                    }
                }
                _ => {}
            }
        }
        if let Some(c) = str_field(t, "category") {
            p.extra.insert("groups".to_owned(), c.to_owned());
        } else if let Some(g) = string_list(t, "groups") {
            p.extra.insert("groups".to_owned(), g);
        }
        if t.get("optional").and_then(toml::Value::as_bool) == Some(true) {
            p.extra.insert("optional".to_owned(), "true".to_owned());
        }
    },
};

/// Parse a `poetry.lock` (lock versions 1.x and 2.x).
pub fn parse_poetry_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &POETRY)
}

fn string_list(t: &toml::Table, k: &str) -> Option<String> {
    let v: Vec<&str> = t
        .get(k)?
        .as_array()?
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    (!v.is_empty()).then(|| v.join(","))
}

/// `pdm.lock`: the source is told by which key an entry has (`git`/`hg`/`svn`, `path`, `url`).
const PDM: PyLockFormat = PyLockFormat {
    key: Key::Package,
    found_by: "pdm-lock",
    no_version: ProblemKind::Skipped,
    no_version_why: "",
    source: |t| {
        if t.contains_key("git") || t.contains_key("hg") || t.contains_key("svn") {
            ("git", false)
        } else if t.contains_key("path") {
            ("path", true)
        } else if t.contains_key("url") {
            ("url", false)
        } else {
            ("registry", false)
        }
    },
    extra: |t, p| {
        if let Some(g) = str_field(t, "git") {
            p.extra.insert("repository".to_owned(), g.to_owned());
        }
        if let Some(r) = str_field(t, "revision") {
            p.extra.insert("rev".to_owned(), r.to_owned());
        }
        if let Some(g) = string_list(t, "groups") {
            p.extra.insert("groups".to_owned(), g);
        }
    },
};

/// Parse a `pdm.lock`.
pub fn parse_pdm_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &PDM)
}

/// `uv.lock`: the source is an inline table keyed by its kind (`registry`, `git`, `virtual` …).
const UV: PyLockFormat = PyLockFormat {
    key: Key::Package,
    found_by: "uv-lock",
    no_version: ProblemKind::Malformed,
    no_version_why: "",
    source: |t| {
        let src = source_table(t);
        let has = |k: &str| src.is_some_and(|s| s.contains_key(k));
        if has("git") {
            ("git", false)
        } else if has("virtual") || has("editable") || has("directory") || has("path") {
            ("path", true)
        } else if has("url") {
            ("url", false)
        } else {
            ("registry", false)
        }
    },
    extra: |t, p| {
        if let Some(s) = source_table(t) {
            if let Some(g) = str_field(s, "git") {
                let (url, rev) = split_rev(g);
                p.extra.insert("repository".to_owned(), url.to_owned());
                if let Some(r) = rev {
                    p.extra.insert("rev".to_owned(), r.to_owned());
                }
            }
            if let Some(r) = str_field(s, "registry") {
                p.extra.insert("registry".to_owned(), r.to_owned());
            }
        }
    },
};

/// Parse a `uv.lock`.
pub fn parse_uv_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &UV)
}

/// PEP 751 `pylock.toml`: `[[packages]]`; the source is a `vcs`, `directory` or `archive` table.
const PYLOCK: PyLockFormat = PyLockFormat {
    key: Key::Packages,
    found_by: "pylock",
    no_version: ProblemKind::Skipped,
    no_version_why: " (the lock pins a source, not a version)",
    source: |t| {
        if let Some(v) = t.get("vcs").and_then(toml::Value::as_table) {
            (str_field(v, "type").unwrap_or("vcs"), false)
        } else if t.contains_key("directory") {
            ("path", true)
        } else if t.contains_key("archive") {
            ("url", false)
        } else {
            ("registry", false)
        }
    },
    extra: |t, p| {
        if let Some(v) = t.get("vcs").and_then(toml::Value::as_table) {
            if let Some(u) = str_field(v, "url") {
                p.extra.insert("repository".to_owned(), u.to_owned());
            }
            if let Some(c) = str_field(v, "commit-id") {
                p.extra.insert("rev".to_owned(), c.to_owned());
            }
        }
        if let Some(i) = str_field(t, "index") {
            p.extra.insert("registry".to_owned(), i.to_owned());
        }
    },
};

/// Parse a PEP 751 `pylock.toml`.
pub fn parse_pylock_toml(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &PYLOCK)
}

// ---------------------------------------------------------------------------------------------
// Pipfile.lock

/// Parse a `Pipfile.lock` (JSON; sections `default` and `develop`).
pub fn parse_pipfile_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    if text.trim().is_empty() {
        return (Vec::new(), Vec::new());
    }
    let doc: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return (
                Vec::new(),
                vec![Problem::new(
                    loc.clone().at_line(e.line()),
                    ProblemKind::Malformed,
                    format!("not valid JSON: {e}"),
                )],
            )
        }
    };
    let Some(obj) = doc.as_object() else {
        return (
            Vec::new(),
            vec![Problem::new(
                loc.clone(),
                ProblemKind::Malformed,
                "a Pipfile.lock is a JSON object",
            )],
        );
    };
    let mut packages = Vec::new();
    let mut problems = Vec::new();
    for section in ["default", "develop"] {
        let Some(sec) = obj.get(section) else {
            continue;
        };
        let Some(sec) = sec.as_object() else {
            problems.push(Problem::new(
                loc.clone().field(section),
                ProblemKind::Malformed,
                format!("`{section}` is not an object"),
            ));
            continue;
        };
        for (name, entry) in sec {
            let field = format!("{section}.{name}");
            let Some(entry) = entry.as_object() else {
                problems.push(Problem::new(
                    loc.clone().field(field),
                    ProblemKind::Malformed,
                    "package entry is not an object",
                ));
                continue;
            };
            let version = entry
                .get("version")
                .and_then(serde_json::Value::as_str)
                .map(str::trim);
            let Some(version) = version.filter(|v| !v.is_empty()) else {
                if !entry.contains_key("path") {
                    problems.push(Problem::new(
                        loc.clone().field(format!("{field}.version")),
                        ProblemKind::Skipped,
                        format!("locked package `{name}` has no version (VCS or URL source)"),
                    ));
                }
                continue;
            };
            let exact = version
                .strip_prefix("===")
                .or_else(|| version.strip_prefix("=="))
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.contains('*') && !v.contains(char::is_whitespace));
            let Some(v) = exact else {
                problems.push(Problem::new(
                    loc.clone().field(format!("{field}.version")),
                    ProblemKind::Malformed,
                    format!("version `{version}` of `{name}` is not an exact `==` pin"),
                ));
                continue;
            };
            let source = if entry.contains_key("git") {
                "git"
            } else if entry.contains_key("file") {
                "url"
            } else if entry.contains_key("path") {
                "path"
            } else {
                "registry"
            };
            let mut p = pypi_lock(name, v, "pipfile-lock", loc.clone().field(field), source);
            if section == "develop" {
                p.extra.insert("groups".to_owned(), "develop".to_owned());
            }
            if let Some(m) = entry.get("markers").and_then(serde_json::Value::as_str) {
                p.extra.insert("marker".to_owned(), m.to_owned());
            }
            if let Some(r) = entry.get("ref").and_then(serde_json::Value::as_str) {
                p.extra.insert("rev".to_owned(), r.to_owned());
            }
            packages.push(p);
        }
    }
    (packages, problems)
}

// ---------------------------------------------------------------------------------------------
// requirements.txt

/// An `-r` / `-c` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The file named, as written.
    pub target: String,
    /// 1-based line.
    pub line: usize,
    /// `-c` (constraints) rather than `-r`.
    pub constraint: bool,
}

/// A parsed requirements file.
#[derive(Debug, Default)]
pub struct RequirementsFile {
    /// Exact pins.
    pub packages: Vec<Package>,
    /// Lines skipped or not understood.
    pub problems: Vec<Problem>,
    /// `-r` / `-c` lines, in order.
    pub includes: Vec<Include>,
}

/// Parse a pip requirements file; `-r` / `-c` includes are reported as
/// [`ProblemKind::Skipped`] problems (the collector follows `-r` inside the root).
pub fn parse_requirements(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    let mut f = parse_requirements_file(text, loc);
    for inc in f.includes {
        let what = if inc.constraint {
            "constraints"
        } else {
            "requirements"
        };
        f.problems.push(Problem::new(
            loc.clone().at_line(inc.line),
            ProblemKind::Skipped,
            format!("included {what} file `{}` not followed here", inc.target),
        ));
    }
    (f.packages, f.problems)
}

/// Parse a pip requirements file, returning its includes separately.
pub fn parse_requirements_file(text: &str, loc: &Location) -> RequirementsFile {
    let mut out = RequirementsFile::default();
    for (n, raw) in logical_lines(text) {
        let line = strip_comment(&raw).trim();
        if line.is_empty() {
            continue;
        }
        let here = loc.clone().at_line(n);
        if line.starts_with('-') {
            option_line(line, n, &here, &mut out);
            continue;
        }
        if line.contains("${") {
            out.problems.push(Problem::new(
                here,
                ProblemKind::Skipped,
                format!(
                    "`{}` uses an environment variable, unknown here",
                    short(line)
                ),
            ));
            continue;
        }
        let (req, opts) = split_options(line);
        match parse_requirement(req) {
            // A range or a bare name says what may be installed, not what is: nothing to
            // judge, but never silently (a requirements file of ranges is not "no findings").
            Ok(None) => out.problems.push(Problem::new(
                here,
                ProblemKind::Skipped,
                format!(
                    "`{}` is not pinned to one version (`==`): not judged; scan the environment it was installed into, or a lock",
                    short(req)
                ),
            )),
            Ok(Some(pin)) => {
                let mut p = pypi_lock(
                    pin.name,
                    pin.version,
                    "python-requirements",
                    here,
                    "registry",
                );
                if !pin.extras.is_empty() {
                    p.extra.insert("extras".to_owned(), pin.extras.join(","));
                }
                if let Some(m) = pin.marker {
                    p.extra.insert("marker".to_owned(), m.to_owned());
                }
                let hashes = hashes(opts);
                if !hashes.is_empty() {
                    p.extra.insert("hashes".to_owned(), hashes.join(","));
                }
                out.packages.push(p);
            }
            Err((kind, msg)) => out.problems.push(Problem::new(here, kind, msg)),
        }
    }
    out
}

fn short(s: &str) -> String {
    let mut t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

/// Join backslash continuations (pip's rules: a comment line ends a continuation). Returns
/// (first line number, logical line).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut start = 0usize;
    let mut cont = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let comment = line.trim_start().starts_with('#');
        if !cont {
            start = i + 1;
        }
        if let (Some(body), false) = (line.strip_suffix('\\'), comment) {
            buf.push_str(body);
            cont = true;
        } else {
            if comment && cont {
                buf.push(' ');
            }
            buf.push_str(line);
            out.push((start, std::mem::take(&mut buf)));
            cont = false;
        }
    }
    if cont {
        out.push((start, buf));
    }
    out
}

/// Cut a `#` comment that starts the line or follows whitespace.
fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return &s[..i];
        }
    }
    s
}

/// Options that only steer pip (index, hashes mode …): ignored.
const GLOBAL_OPTIONS: &[&str] = &[
    "i",
    "index-url",
    "extra-index-url",
    "no-index",
    "f",
    "find-links",
    "pre",
    "trusted-host",
    "prefer-binary",
    "require-hashes",
    "only-binary",
    "no-binary",
    "use-feature",
    "progress-bar",
    "Z",
    "always-unzip",
    "process-dependency-links",
];

fn option_line(line: &str, n: usize, here: &Location, out: &mut RequirementsFile) {
    let (name, value) = if let Some(rest) = line.strip_prefix("--") {
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let value = rest[end..].trim_start_matches('=').trim();
        (&rest[..end], value)
    } else {
        let rest = &line[1..];
        let first = rest.chars().next().map_or(0, char::len_utf8);
        (&rest[..first], rest[first..].trim())
    };
    match name {
        "r" | "requirement" | "c" | "constraint" => {
            let target = value.split_whitespace().next().unwrap_or("");
            if target.is_empty() {
                out.problems.push(Problem::new(
                    here.clone(),
                    ProblemKind::Malformed,
                    format!("`-{name}` without a file name"),
                ));
            } else {
                out.includes.push(Include {
                    target: target.to_owned(),
                    line: n,
                    constraint: matches!(name, "c" | "constraint"),
                });
            }
        }
        "e" | "editable" => out.problems.push(Problem::new(
            here.clone(),
            ProblemKind::Skipped,
            format!(
                "editable requirement `{}` has no pinned version",
                short(value)
            ),
        )),
        n if GLOBAL_OPTIONS.contains(&n) => {}
        _ => out.problems.push(Problem::new(
            here.clone(),
            ProblemKind::Malformed,
            format!("unknown option in `{}`", short(line)),
        )),
    }
}

/// Split a requirement line at its first per-requirement option (`--hash`, `-C` …).
fn split_options(line: &str) -> (&str, &str) {
    let mut prev_ws = false;
    for (i, c) in line.char_indices() {
        if c == '-' && prev_ws {
            return (line[..i].trim(), &line[i..]);
        }
        prev_ws = c.is_whitespace();
    }
    (line, "")
}

fn hashes(opts: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut toks = opts.split_whitespace();
    while let Some(t) = toks.next() {
        let v = if let Some(v) = t.strip_prefix("--hash=") {
            Some(v.to_owned())
        } else if t == "--hash" {
            toks.next().map(str::to_owned)
        } else {
            None
        };
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push(v);
        }
    }
    out
}

/// An exact pin.
struct Pin<'a> {
    name: &'a str,
    version: &'a str,
    extras: Vec<&'a str>,
    marker: Option<&'a str>,
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn is_url_or_path(req: &str) -> bool {
    if req.starts_with(['.', '/', '~']) {
        return true;
    }
    if let Some((scheme, _)) = req.split_once("://") {
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        {
            return true;
        }
    }
    let lower = req
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .any(|e| lower.ends_with(e))
        && !lower.contains(['=', '<', '>', '!', '~'])
}

const OPERATORS: [&str; 8] = ["===", "==", "~=", "!=", "<=", ">=", "<", ">"];

/// A PEP 508 requirement: `Ok(Some)` for an exact pin, `Ok(None)` for a range or bare name.
fn parse_requirement(req: &str) -> Result<Option<Pin<'_>>, (ProblemKind, String)> {
    let malformed = |m: String| Err((ProblemKind::Malformed, m));
    if is_url_or_path(req) {
        return Err((
            ProblemKind::Skipped,
            format!(
                "URL or path requirement `{}` has no pinned version",
                short(req)
            ),
        ));
    }
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty() {
        return malformed(format!("no project name in `{}`", short(req)));
    }
    if !valid_name(name) {
        return malformed(format!("`{}` is not a valid project name", short(name)));
    }
    let mut rest = req[end..].trim_start();
    let mut extras = Vec::new();
    if let Some(r) = rest.strip_prefix('[') {
        let Some(close) = r.find(']') else {
            return malformed(format!("unclosed `[` in `{}`", short(req)));
        };
        for x in r[..close]
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
        {
            if !valid_name(x) {
                return malformed(format!("`{}` is not a valid extra", short(x)));
            }
            extras.push(x);
        }
        rest = r[close + 1..].trim_start();
    }
    if rest.starts_with('@') {
        return Err((
            ProblemKind::Skipped,
            format!("direct reference `{}` has no pinned version", short(req)),
        ));
    }
    let (spec, marker) = match rest.split_once(';') {
        Some((s, m)) => {
            let m = m.trim();
            if m.is_empty() {
                return malformed(format!("empty environment marker in `{}`", short(req)));
            }
            (s.trim(), Some(m))
        }
        None => (rest.trim(), None),
    };
    let spec = spec
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .map_or(spec, str::trim);
    if spec.is_empty() {
        return Ok(None);
    }
    let mut exact = None;
    for clause in spec.split(',') {
        let c = clause.trim();
        let Some(op) = OPERATORS.iter().find(|o| c.starts_with(**o)) else {
            return malformed(format!(
                "expected a version operator (`==`, `>=` …), found `{}`",
                short(c)
            ));
        };
        let v = c[op.len()..].trim();
        if v.is_empty() {
            return malformed(format!("`{op}` without a version in `{}`", short(req)));
        }
        if *op == "===" {
            if v.contains(char::is_whitespace) {
                return malformed(format!("invalid version `{}`", short(v)));
            }
            exact.get_or_insert(v);
            continue;
        }
        if !v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'!' | b'*' | b'-')
        }) {
            return malformed(format!("invalid version `{}`", short(v)));
        }
        if *op == "==" && !v.contains('*') {
            exact.get_or_insert(v);
        }
    }
    Ok(exact.map(|version| Pin {
        name,
        version,
        extras,
        marker,
    }))
}

#[cfg(test)]
mod tests {
    /// The fast Cargo.lock reader gives exactly what the TOML parser gives, on every shared
    /// lockfile it accepts (and it accepts the ordinary ones).
    #[test]
    fn fast_cargo_lock_reader_equals_the_toml_parser() {
        let base =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fixtures/cargo");
        let mut stack = vec![base.clone()];
        let (mut accepted, mut total) = (0, 0);
        while let Some(d) = stack.pop() {
            for e in fs_err::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let name = p.file_name().unwrap().to_string_lossy().to_lowercase();
                if !name.contains("lock") || name.ends_with(".tsv") || name.ends_with(".json") {
                    continue;
                }
                let Ok(text) = fs_err::read_to_string(&p) else {
                    continue;
                };
                total += 1;
                if super::cargo_entries_fast(&text).is_some() {
                    accepted += 1;
                    // Panics, naming the difference, when the two readers disagree.
                    eprintln!("checking {}", p.display());
                    super::check_fast_cargo_reader(&text);
                }
            }
        }
        assert!(total >= 40, "{total} lockfiles");
        assert!(
            accepted * 10 >= total * 8,
            "the fast reader took only {accepted} of {total}"
        );
    }

    use super::*;
    use std::path::Path;

    fn fixture(rel: &str) -> PathBuf {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/fixtures"
        ))
        .join(rel);
        assert!(
            p.exists(),
            "missing shared data {} — ../shared must sit beside the repository",
            p.display()
        );
        p
    }

    fn read(rel: &str) -> String {
        fs_err::read_to_string(fixture(rel)).unwrap()
    }

    fn pairs(p: &[Package]) -> BTreeSet<(String, String)> {
        p.iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    }

    fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn source(p: &Package) -> &str {
        match &p.meta {
            PackageMeta::Lock { source } => source.as_deref().unwrap_or(""),
            _ => panic!("not a lock package"),
        }
    }

    type Parser = fn(&str, &Location) -> (Vec<Package>, Vec<Problem>);
    type Case = (
        Parser,
        &'static str,
        &'static [(&'static str, &'static str)],
    );

    fn cargo_files() -> Vec<PathBuf> {
        fn rec(d: &Path, out: &mut Vec<PathBuf>) {
            for e in fs_err::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    rec(&p, out);
                } else {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    if n.contains(".lock") || n == "not-toml.txt" {
                        out.push(p);
                    }
                }
            }
        }
        let mut v = Vec::new();
        rec(&fixture("cargo"), &mut v);
        v.sort();
        v
    }

    #[test]
    fn every_cargo_lockfile_matches_the_rustsec_reference() {
        let base = fixture("cargo");
        let tsv = read("cargo/rustsec-reference-results.tsv");
        let mut rows: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for l in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<String> = l.split('\t').map(str::to_owned).collect();
            rows.entry(cols[0].clone()).or_default().push(cols);
        }
        let mut checked = 0;
        for f in cargo_files() {
            let rel = f
                .strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = fs_err::read_to_string(&f).unwrap();
            let (pk, pr) = parse_cargo_lock(&text, &Location::path(&rel));
            if rel.ends_with("not-toml.txt") {
                assert!(
                    pk.is_empty() && pr.len() == 1 && pr[0].kind == ProblemKind::Malformed,
                    "{rel}"
                );
                continue;
            }
            let entries = text.lines().filter(|l| l.trim() == "[[package]]").count();
            assert_eq!(pk.len(), entries, "{rel}: every [[package]] is reported");
            for p in &pk {
                assert_eq!(p.ecosystem, Ecosystem::Cargo);
                assert!(
                    p.purl.starts_with(&format!("pkg:cargo/{}@", p.name)),
                    "{}",
                    p.purl
                );
                assert!(p.location.line.is_some());
            }
            let Some(r) = rows.get(&rel) else {
                panic!("{rel} is not in rustsec-reference-results.tsv");
            };
            checked += 1;
            if r[0][1] == "PARSE-ERROR" {
                // rustsec rejects files with a dangling dependency; so do we, as a problem.
                let dep = r[0][2].rsplit(':').next().unwrap().trim();
                assert!(
                    pr.iter().any(|p| p.kind == ProblemKind::Malformed
                        && p.message.contains(&format!("`{dep}"))),
                    "{rel}: {pr:?}"
                );
                continue;
            }
            assert!(pr.is_empty(), "{rel}: {pr:?}");
            assert_eq!(
                pk.len().to_string(),
                r[0][4],
                "{rel}: package count as rustsec's Lockfile"
            );
            let have = pairs(&pk);
            for row in r.iter().filter(|row| row[2] != "-") {
                assert!(
                    have.contains(&(row[2].clone(), row[3].clone())),
                    "{rel}: {row:?}"
                );
            }
        }
        assert_eq!(
            checked,
            rows.len(),
            "every reference row's lockfile was parsed"
        );
    }

    #[test]
    fn cargo_formats_and_sources() {
        for f in fs_err::read_dir(fixture("cargo/ripgrep-history")).unwrap() {
            let f = f.unwrap().path();
            if !f
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("Cargo.lock")
            {
                continue;
            }
            let (pk, pr) =
                parse_cargo_lock(&fs_err::read_to_string(&f).unwrap(), &Location::path("/x"));
            assert!(pr.is_empty(), "{}: {pr:?}", f.display());
            let rg = pk.iter().find(|p| p.name == "ripgrep").unwrap();
            assert_eq!(source(rg), "path", "workspace member");
            assert!(pk
                .iter()
                .filter(|p| p.name.starts_with("grep-"))
                .all(|p| source(p) == "path"));
            assert!(pk
                .iter()
                .any(|p| p.name == "regex" && source(p) == "registry"));
        }
        let (pk, _) = parse_cargo_lock(
            &read("cargo/ripgrep-history/Cargo.lock.2018-08-20-9df60e164e"),
            &Location::path("/x"),
        );
        assert!(pk.iter().any(|p| p.name == "regex" && p.version == "1.0.2"));

        let (pk, pr) = parse_cargo_lock(
            &read("cargo/rustsec/cargo-lock-examples/Cargo.lock.git-ref"),
            &Location::path("/x"),
        );
        assert!(pr.is_empty(), "{pr:?}");
        let git: Vec<&Package> = pk.iter().filter(|p| source(p) == "git").collect();
        assert_eq!(git.len(), 2);
        let b = git.iter().find(|p| p.name == "branch").unwrap();
        assert_eq!(b.extra["rev"], "b8e3025aa30ea65144372bd68d26090c0f31bea2");
        assert_eq!(
            b.extra["repository"],
            "https://github.com/rustsec/rustsec?branch=mybranch"
        );
        assert_eq!(
            b.purl,
            "pkg:cargo/branch@0.0.0?vcs_url=git%2Bhttps%3A%2F%2Fgithub.com%2Frustsec%2Frustsec%40b8e3025aa30ea65144372bd68d26090c0f31bea2"
        );
        let (pk, _) = parse_cargo_lock(
            &read("cargo/syft/path-deps/Cargo.lock"),
            &Location::path("/x"),
        );
        let tel = pk.iter().find(|p| p.name == "telemetry").unwrap();
        assert_eq!((tel.version.as_str(), source(tel)), ("0.1.0", "path"));
        let (pk, _) = parse_cargo_lock(
            &read("cargo/rustsec/cargo-lock-examples/source_disambiguation/Cargo.lock.two_versions_different_registries"),
            &Location::path("/x"),
        );
        assert!(pk.iter().any(|p| p.extra.contains_key("registry")));
        let (pk, pr) = parse_cargo_lock(
            &read("cargo/osv-scalibr/cargolock/package-with-build-string.lock"),
            &Location::path("/x"),
        );
        assert!(pr.is_empty());
        assert_eq!(pk[0].version, "0.10.2+wasi-snapshot-preview1");
        assert_eq!(pk[0].location.line, Some(5));
    }

    #[test]
    fn requirements_fixtures() {
        let loc = Location::path("/r.txt");
        let (pk, pr) = parse_requirements(&read("python/syft/requires/requirements.txt"), &loc);
        assert_eq!(
            pairs(&pk),
            set(&[
                ("flask", "4.0.0"),
                ("urllib3", "1.26.20"),
                ("foo", "1.0.0"),
                ("someproject", "5.4"),
                ("dots-allowed", "1.0.0"),
                ("argh", "0.26.2"),
                ("argh", "0.26.3"),
                ("celery", "4.4.7"),
                ("friendly-bard", "1.0.0"),
                ("local-version", "1.2.3+gcr.2"),
            ])
        );
        let argh = pk.iter().find(|p| p.version == "0.26.2").unwrap();
        assert_eq!(argh.extra["hashes"].split(',').count(), 2);
        assert_eq!(
            argh.location.line,
            Some(17),
            "a continued line is numbered by its first line"
        );
        let celery = pk.iter().find(|p| p.name == "celery").unwrap();
        assert_eq!(celery.extra["extras"], "redis,pytest");
        assert_eq!(celery.purl, "pkg:pypi/celery@4.4.7");
        let sp = pk.iter().find(|p| p.name == "someproject").unwrap();
        assert_eq!(sp.extra["marker"], "python_version < '3.8'");
        // Ranges are reported as not judged, never dropped silently.
        assert!(
            pr.iter().any(|p| p.kind == ProblemKind::Skipped
                && p.message.starts_with("`sqlalchemy >= 1.0.0")
                && p.message.contains("is not pinned")),
            "{pr:#?}"
        );
        let lines: BTreeSet<(u32, ProblemKind)> = pr
            .iter()
            .filter(|p| !p.message.contains("is not pinned"))
            .map(|p| (p.location.line.unwrap(), p.kind))
            .collect();
        assert_eq!(
            lines,
            BTreeSet::from([
                (8, ProblemKind::Skipped),    // -e
                (9, ProblemKind::Skipped),    // -r not followed by the pure parser
                (10, ProblemKind::Malformed), // --requirements (no such option)
                (23, ProblemKind::Malformed), // ==2.3.4
                (26, ProblemKind::Malformed), // `== 3.7.1 @ git+…`
            ]),
            "{pr:#?}"
        );

        let (pk, pr) = parse_requirements(
            &read("python/osv-scalibr/requirements/per_req_options.txt"),
            &loc,
        );
        let names: BTreeSet<String> = pk.iter().map(|p| p.name.clone()).collect();
        assert_eq!(pk.len(), 15, "{names:?}");
        assert!(
            names.contains("foo17-hash")
                && names.contains("foo16-client")
                && !names.contains("foo7")
        );
        assert_eq!(pr.len(), 3, "{pr:?}");
        assert!(pr.iter().all(|p| p.kind == ProblemKind::Malformed));
        let foo9 = pk.iter().find(|p| p.name == "foo9").unwrap();
        assert_eq!(foo9.extra["hashes"], "sha256:123,sha256:456");
        let foo11 = pk.iter().find(|p| p.name == "foo11").unwrap();
        assert_eq!(foo11.extra["hashes"], "sha256:not_base16_encoded_is_ok_;#");
        let foo5 = pk.iter().find(|p| p.name == "foo5").unwrap();
        assert_eq!(foo5.extra["marker"], "python_version < \"2.7\"");

        let (pk, pr) = parse_requirements(
            &read("python/osv-scalibr/requirements/with_versions.txt"),
            &loc,
        );
        // Only ranges (`>=`, `<=`, `==0.7.*`) are left, each said to be not judged.
        assert_eq!(pr.len(), 4, "{pr:?}");
        assert!(
            pr.iter()
                .all(|p| p.kind == ProblemKind::Skipped && p.message.contains("is not pinned")),
            "{pr:?}"
        );
        assert_eq!(
            pairs(&pk),
            set(&[
                ("nltk", "3.2.2"),
                ("tabulate", "0.7.7"),
                ("qwerty", "0.1"),
                ("hy-phen", "1.2"),
                ("under-score", "1.3"),
                ("pkg-dot-name", "5.0.0"),
                ("yolo", "1.0"),
            ])
        );
        assert_eq!(
            pk.iter()
                .find(|p| p.name == "qwerty")
                .unwrap()
                .location
                .line,
            Some(5)
        );

        let (pk, pr) =
            parse_requirements(&read("python/osv-scalibr/requirements/example.txt"), &loc);
        assert_eq!(pairs(&pk), set(&[("docopt", "0.6.1")]));
        assert_eq!(
            pr.iter()
                .filter(|p| !p.message.contains("is not pinned"))
                .count(),
            5,
            "{pr:?}"
        );
        assert_eq!(pr.len(), 12, "7 unpinned requirements: {pr:?}");
        assert!(pr.iter().all(|p| p.kind == ProblemKind::Skipped));

        let (pk, pr) =
            parse_requirements(&read("python/osv-scalibr/requirements/invalid.txt"), &loc);
        assert!(pk.is_empty());
        assert_eq!(
            pr.iter()
                .filter(|p| p.kind == ProblemKind::Malformed)
                .count(),
            3,
            "{pr:?}"
        );
        assert_eq!(
            pr.iter()
                .map(|p| p.location.line.unwrap())
                .collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );

        for (f, want) in [
            (
                "comments.txt",
                &[
                    ("pycrypto", "1.2-alpha"),
                    ("gmpy2", "1"),
                    ("sympy", "1.2"),
                    ("requests", "1.0"),
                    ("six", "1.2"),
                ][..],
            ),
            ("env_var.txt", &[("asdf", "1.2"), ("another", "1.0")][..]),
            ("extras.txt", &[("pyjwt", "2.1.0"), ("celery", "4.4.7")][..]),
            (
                "multiline_and_comments.txt",
                &[("pkga", "1.0"), ("pkgb", "2.0")][..],
            ),
            ("no_version.txt", &[][..]),
            ("trailing_backslash.txt", &[("pkg1", "1.0")][..]),
            ("other-requirements.txt", &[("pandas", "2.2.3")][..]),
        ] {
            let (pk, _) =
                parse_requirements(&read(&format!("python/osv-scalibr/requirements/{f}")), &loc);
            assert_eq!(pairs(&pk), set(want), "{f}");
        }
        let (pk, pr) = parse_requirements(&read("python/trivy/pip/happy/requirements.txt"), &loc);
        // Jinja2<3.0.0, MarkupSafe>2.0.0 and a bare Werkzeug: not judged, and said so.
        assert_eq!(pr.len(), 3, "{pr:?}");
        assert!(
            pr.iter().all(|p| p.message.contains("is not pinned")),
            "{pr:?}"
        );
        assert_eq!(
            pairs(&pk),
            set(&[
                ("annotated-types", "0.7.0"),
                ("click", "8.0.0"),
                ("flask", "2.0.0"),
                ("itsdangerous", "2.0.0")
            ])
        );
        let (pk, pr) = parse_requirements(&read("python/syft/pypi-remote/requirements.txt"), &loc);
        assert!(pr.is_empty());
        assert_eq!(pairs(&pk), set(&[("certifi", "2025.10.5")]));
    }

    #[test]
    fn requirements_includes_are_followed_inside_the_root() {
        // fixtures/roots/lockfile-includes: /srv/app/requirements.txt includes
        // base/requirements-base.txt (which includes it back, and tries to climb out of the root)
        // and requirements-loop.txt (which includes itself).
        let root = Root::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/roots/lockfile-includes"
        ));
        let c = LockfileCollector::default();
        assert!(c.applies(&root));
        let mut out = Collected::default();
        c.collect(&root, &mut out);
        let got: BTreeSet<(String, String, String)> = out
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.location.path.clone()))
            .collect();
        assert_eq!(
            got,
            BTreeSet::from([
                (
                    "oslo-config".to_owned(),
                    "9.4.0".to_owned(),
                    "/srv/app/requirements.txt".to_owned()
                ),
                (
                    "pbr".to_owned(),
                    "6.0.0".to_owned(),
                    "/srv/app/base/requirements-base.txt".to_owned()
                ),
            ])
        );
        let oslo = out
            .packages
            .iter()
            .find(|p| p.name == "oslo-config")
            .unwrap();
        assert_eq!(oslo.extra["hashes"], "sha256:abc");
        assert_eq!(oslo.extra["display_name"], "oslo.config");
        let mut kinds: Vec<(ProblemKind, String)> = out
            .problems
            .iter()
            .filter(|p| !p.message.contains("is not pinned"))
            .map(|p| (p.kind, format!("{}", p.location)))
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                (
                    ProblemKind::Unreadable,
                    "/srv/app/base/requirements-base.txt:3".to_owned()
                ),
                (
                    ProblemKind::Malformed,
                    "/srv/app/base/requirements-base.txt:2".to_owned()
                ),
                (
                    ProblemKind::Malformed,
                    "/srv/app/requirements-loop.txt:1".to_owned()
                ),
                (
                    ProblemKind::Skipped,
                    "/srv/app/requirements.txt:4".to_owned()
                ),
            ],
            "{:#?}",
            out.problems
        );
        assert!(out
            .problems
            .iter()
            .any(|p| p.message.contains("/etc/hostname")));
    }

    #[test]
    fn requirements_includes_of_explicit_targets() {
        // osv-scalibr's loop.txt ↔ other-loop.txt and example.txt → other-requirements.txt.
        let t = tempfile::tempdir().unwrap();
        let dir = fixture("python/osv-scalibr/requirements");
        let c =
            LockfileCollector::with_targets(vec![dir.join("example.txt"), dir.join("loop.txt")])
                .with_search_roots(Vec::new());
        let mut out = Collected::default();
        c.collect(&Root::new(t.path()), &mut out);
        assert_eq!(
            pairs(&out.packages),
            set(&[("docopt", "0.6.1"), ("pandas", "2.2.3")])
        );
        let cycle: Vec<&Problem> = out
            .problems
            .iter()
            .filter(|p| p.message.starts_with("include cycle"))
            .collect();
        assert_eq!(cycle.len(), 1, "{:#?}", out.problems);
        assert!(cycle[0].message.ends_with("loop.txt"));
    }

    #[test]
    fn explicit_targets_and_search_layouts() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let app = r.join("srv/app");
        fs_err::create_dir_all(&app).unwrap();
        fs_err::copy(
            fixture("cargo/trivy/repo-cargo/Cargo.lock"),
            app.join("Cargo.lock"),
        )
        .unwrap();
        let home = r.join("home/alice/proj");
        fs_err::create_dir_all(&home).unwrap();
        fs_err::copy(
            fixture("python/osv-scalibr/uvlock/one-package.lock"),
            home.join("uv.lock"),
        )
        .unwrap();
        // Dependency sources in ~/.cargo hold their own lockfiles: never read.
        let reg = r.join("home/alice/.cargo/registry/src/x/dep-1.0.0");
        fs_err::create_dir_all(&reg).unwrap();
        fs_err::copy(
            fixture("cargo/rustsec/cargo-audit-support/base64_vuln/Cargo.lock"),
            reg.join("Cargo.lock"),
        )
        .unwrap();
        let root = Root::new(r);
        let target = fixture("python/osv-scalibr/pipfilelock/two-packages.json");
        let odd = fixture("cargo/osv-scalibr/cargolock/one-package.lock");
        let c = LockfileCollector::with_targets(vec![
            fixture("cargo/ripgrep-history/Cargo.lock.2022-03-21-ced5b92aa9"),
            target,
            odd,
        ]);
        let mut out = Collected::default();
        c.collect(&root, &mut out);
        assert!(out.packages.iter().any(|p| p.name == "ripgrep"
            && p.location
                .path
                .ends_with("Cargo.lock.2022-03-21-ced5b92aa9")));
        assert!(out
            .packages
            .iter()
            .any(|p| p.location.path == "/srv/app/Cargo.lock"));
        assert!(out
            .packages
            .iter()
            .any(|p| p.name == "emoji" && p.location.path == "/home/alice/proj/uv.lock"));
        assert!(
            !out.packages
                .iter()
                .any(|p| p.location.path.starts_with("/home/alice/.cargo")),
            "~/.cargo is skipped"
        );
        // Explicit files whose names say nothing are read by their content: a Pipfile.lock and
        // a Cargo.lock (whose dangling `gimli` dependency rustsec rejects too).
        assert!(out.packages.iter().any(|p| p.name == "itsdangerous"
            && p.found_by == "pipfile-lock"
            && p.location.path.ends_with("two-packages.json")));
        assert!(out.packages.iter().any(|p| p.name == "addr2line"
            && p.found_by == "cargo-lock"
            && p.location.path.ends_with("one-package.lock")));
        assert!(
            !out.problems.iter().any(|p| p.kind == ProblemKind::Skipped),
            "{:?}",
            out.problems
        );
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(out.problems[0].message.contains("`gimli`"));
    }

    /// Every shared lockfile with a conventional name, and every osv-scalibr Python fixture,
    /// is recognised by its content as the format its name or folder says.
    #[test]
    fn formats_are_recognised_by_content() {
        fn rec(d: &Path, out: &mut Vec<PathBuf>) {
            for e in fs_err::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    rec(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        rec(&fixture(""), &mut files);
        files.sort();
        let mut checked = 0;
        let mut wrong = Vec::new();
        for f in &files {
            let rel = f.to_string_lossy();
            let name = f.file_name().unwrap().to_string_lossy();
            let folder = f.parent().unwrap().file_name().unwrap().to_string_lossy();
            let want = LockKind::from_file_name(&name).or(match &*folder {
                "poetrylock" => Some(LockKind::Poetry),
                "uvlock" => Some(LockKind::Uv),
                "pdmlock" => Some(LockKind::Pdm),
                "pipfilelock" => Some(LockKind::Pipfile),
                "pylock" => Some(LockKind::Pylock),
                "cargolock" => Some(LockKind::Cargo),
                _ => None,
            });
            let Some(want) = want else { continue };
            let text = fs_err::read_to_string(f).unwrap();
            let (_, problems) = parse_lockfile(want, &text, &Location::path("/p"));
            let broken = problems
                .iter()
                .any(|p| p.kind == ProblemKind::Malformed && p.message.starts_with("not valid"));
            match LockKind::from_content(&text) {
                Ok(k) if k == want => {}
                Ok(k) => wrong.push(format!("{rel}: {k:?}, not {want:?}")),
                // Files that are not their format at all (broken, empty, requirements without
                // a pin) are not recognised.
                Err(_) if broken || text.trim().is_empty() => {}
                Err(_)
                    if want == LockKind::Requirements
                        && parse_requirements_file(&text, &Location::path("/p"))
                            .packages
                            .is_empty() => {}
                Err(why) => wrong.push(format!("{rel}: {why}")),
            }
            checked += 1;
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(checked > 100, "{checked}");
        // Every Cargo lockfile of the rustsec reference, whatever its name.
        for f in cargo_files() {
            if f.ends_with("not-toml.txt") {
                continue;
            }
            let text = fs_err::read_to_string(&f).unwrap();
            assert_eq!(
                LockKind::from_content(&text),
                Ok(LockKind::Cargo),
                "{}",
                f.display()
            );
        }
    }

    #[test]
    fn unrecognised_content_says_why() {
        for (text, says) in [
            ("", "empty"),
            (" \n\t\n", "empty"),
            ("{\"name\": \"x\", \"lockfileVersion\": 3}", "`_meta`"),
            ("{ not json", "not JSON"),
            (
                "[package]\nname = \"nminus\"\nversion = \"0.1.0\"\n",
                "shaped like none",
            ),
            (
                "[[package]]\nname = \"x\"\nversion = \"1\"\ndescription = \"d\"\n",
                "shaped like none",
            ),
            ("[project]\nname = \"x\"\n", "shaped like none"),
            (
                "# A title\n\nSome prose, not a lockfile.\n",
                "not pip requirements",
            ),
            ("# only a comment\nflask\n", "no `name==version` pin"),
            ("version = \"3\"\n", "shaped like none"),
        ] {
            let why = LockKind::from_content(text).unwrap_err();
            assert!(why.contains(says), "{text:?}: {why}");
        }
        for (text, kind) in [
            ("version = 3\n", LockKind::Cargo),
            ("-r base.txt\n", LockKind::Requirements),
            (
                "# pins\nflask==3.0.0 \\\n  --hash=sha256:abc\n",
                LockKind::Requirements,
            ),
            ("\u{feff}six==1.16.0\n", LockKind::Requirements),
            ("version = 1\nrequires-python = \">=3.9\"\n", LockKind::Uv),
            (
                "lock-version = \"1.0\"\ncreated-by = \"x\"\n",
                LockKind::Pylock,
            ),
        ] {
            assert_eq!(LockKind::from_content(text), Ok(kind), "{text:?}");
        }
        // An explicit file whose name and content say nothing: a problem that fails the scan,
        // naming the file.
        let t = tempfile::tempdir().unwrap();
        let odd = t.path().join("deps.lock");
        fs_err::write(&odd, "just some notes\n").unwrap();
        let mut out = Collected::default();
        LockfileCollector::with_targets(vec![odd.clone()])
            .with_search_roots(Vec::new())
            .collect(&Root::new(t.path()), &mut out);
        assert!(out.packages.is_empty());
        assert_eq!(out.problems.len(), 1);
        let p = &out.problems[0];
        assert_eq!(p.kind, ProblemKind::Malformed);
        assert!(p.message.contains(&*odd.to_string_lossy()), "{}", p.message);
        assert!(p.message.contains("Cargo.lock") && p.message.contains("requirements"));
    }

    #[test]
    fn line_index_counts_as_a_scan_from_the_start() {
        fn naive(text: &str, offset: usize) -> usize {
            text.as_bytes()[..offset.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        }
        for text in ["", "\n", "a", "a\nb", "\n\nab\n\ncd\n", "é\nü\n\n"] {
            let idx = LineIndex::new(text);
            for off in 0..text.len() + 3 {
                assert_eq!(idx.line(off), naive(text, off), "{text:?} @ {off}");
            }
        }
        // The line of every package of the largest shared lockfile, as the first line of its
        // `[[package]]` header.
        let text = read("cargo/rustsec/cargo-audit-support/branch-regression/Cargo.lock");
        let (pk, _) = parse_cargo_lock(&text, &Location::path("/p"));
        assert_eq!(pk.len(), 851);
        let headers: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[package]]")
            .map(|(i, _)| i + 1)
            .collect();
        let lines: Vec<usize> = pk
            .iter()
            .map(|p| p.location.line.unwrap() as usize)
            .collect();
        assert_eq!(lines, headers);
    }

    #[test]
    fn python_lockfiles() {
        let loc = Location::path("/p");
        let cases: &[Case] = &[
            (
                parse_poetry_lock,
                "python/osv-scalibr/poetrylock/one-package.lock",
                &[("numpy", "1.23.3")],
            ),
            (
                parse_poetry_lock,
                "python/osv-scalibr/poetrylock/two-packages.lock",
                &[("proto-plus", "1.22.0"), ("protobuf", "4.21.5")],
            ),
            (
                parse_poetry_lock,
                "python/osv-scalibr/poetrylock/source-legacy.lock",
                &[("appdirs", "1.4.4")],
            ),
            (
                parse_poetry_lock,
                "python/osv-scalibr/poetrylock/names-outside-package-block.lock",
                &[("first-pkg", "1.0.0"), ("second-pkg", "2.0.0")],
            ),
            (
                parse_poetry_lock,
                "python/osv-scalibr/poetrylock/empty.lock",
                &[],
            ),
            (
                parse_poetry_lock,
                "python/osv-scalibr/poetrylock/empty-file.lock",
                &[],
            ),
            (
                parse_uv_lock,
                "python/osv-scalibr/uvlock/two-packages.lock",
                &[
                    ("emoji", "2.14.0"),
                    ("protobuf", "4.25.5"),
                    ("uv-lockfiles", "0.1.0"),
                ],
            ),
            (
                parse_uv_lock,
                "python/osv-scalibr/uvlock/source-git.lock",
                &[("ruff", "0.8.1"), ("uv-lockfiles", "0.1.0")],
            ),
            (
                parse_uv_lock,
                "python/osv-scalibr/uvlock/no-packages.lock",
                &[],
            ),
            (
                parse_uv_lock,
                "python/osv-scalibr/uvlock/names-outside-package-block.lock",
                &[("first-pkg", "1.0.0"), ("second-pkg", "2.0.0")],
            ),
            (
                parse_pdm_lock,
                "python/osv-scalibr/pdmlock/two-packages.toml",
                &[("six", "1.16.0"), ("toml", "0.10.2")],
            ),
            (
                parse_pdm_lock,
                "python/osv-scalibr/pdmlock/git-dependency.toml",
                &[("toml", "0.10.2")],
            ),
            (
                parse_pipfile_lock,
                "python/osv-scalibr/pipfilelock/two-packages.json",
                &[("itsdangerous", "2.1.2"), ("markupsafe", "2.1.1")],
            ),
            (
                parse_pipfile_lock,
                "python/osv-scalibr/pipfilelock/minified.json",
                &[("markupsafe", "2.1.1")],
            ),
            (
                parse_pipfile_lock,
                "python/osv-scalibr/pipfilelock/empty.json",
                &[],
            ),
            (
                parse_pipfile_lock,
                "python/osv-scalibr/pipfilelock/empty-file",
                &[],
            ),
            (
                parse_pylock_toml,
                "python/osv-scalibr/pylock/example.toml",
                &[
                    ("attrs", "25.1.0"),
                    ("cattrs", "24.1.2"),
                    ("numpy", "2.2.3"),
                ],
            ),
            (
                parse_pylock_toml,
                "python/osv-scalibr/pylock/pip-just-self.toml",
                &[],
            ),
            (
                parse_pylock_toml,
                "python/osv-scalibr/pylock/names-outside-package-block.toml",
                &[("first-pkg", "1.0.0"), ("second-pkg", "2.0.0")],
            ),
            (
                parse_pylock_toml,
                "python/osv-scalibr/pylock/empty.toml",
                &[],
            ),
        ];
        for (f, file, want) in cases {
            let (pk, pr) = f(&read(file), &loc);
            assert!(pr.is_empty(), "{file}: {pr:?}");
            assert_eq!(pairs(&pk), set(want), "{file}");
            assert!(pk.iter().all(|p| p.ecosystem == Ecosystem::Pypi
                && p.purl == format!("pkg:pypi/{}@{}", p.name, p.version)));
        }
        for (f, file) in [
            (
                parse_poetry_lock as Parser,
                "python/osv-scalibr/poetrylock/not-toml.txt",
            ),
            (parse_poetry_lock, "python/trivy/poetry/sad/poetry.lock"),
            (parse_uv_lock, "python/trivy/uv/broken-lock/uv.lock"),
            (
                parse_pipfile_lock,
                "python/osv-scalibr/pipfilelock/not-json.txt",
            ),
            (parse_pylock_toml, "python/trivy/pylock/broken/pylock.toml"),
            (parse_pdm_lock, "python/osv-scalibr/pdmlock/not-toml.txt"),
        ] {
            let (pk, pr) = f(&read(file), &loc);
            assert!(
                pk.is_empty() && pr.len() == 1 && pr[0].kind == ProblemKind::Malformed,
                "{file}: {pr:?}"
            );
            assert!(pr[0].location.line.is_some(), "{file}");
        }
        // Sources and revisions.
        let (pk, _) =
            parse_poetry_lock(&read("python/osv-scalibr/poetrylock/source-git.lock"), &loc);
        assert_eq!(source(&pk[0]), "git");
        assert_eq!(
            pk[0].extra["rev"],
            "cd66602cd29f61a2d2e7fb995fef1e61708c034d"
        );
        let (pk, _) = parse_uv_lock(&read("python/osv-scalibr/uvlock/source-git.lock"), &loc);
        let ruff = pk.iter().find(|p| p.name == "ruff").unwrap();
        assert_eq!(
            (source(ruff), ruff.extra["rev"].as_str()),
            ("git", "84748be16341b76e073d117329f7f5f4ee2941ad")
        );
        assert_eq!(
            source(pk.iter().find(|p| p.name == "uv-lockfiles").unwrap()),
            "path"
        );
        let (pk, pr) = parse_pylock_toml(&read("python/osv-scalibr/pylock/commits.toml"), &loc);
        assert!(
            pr.is_empty(),
            "directory project without version is the project itself"
        );
        let ml = pk.iter().find(|p| p.name == "mleroc").unwrap();
        assert_eq!(
            (source(ml), ml.extra["rev"].as_str()),
            ("git", "735093f03c4d8be70bfaaae44074ac92d7419b6d")
        );
        assert!(pk
            .iter()
            .any(|p| p.name == "python-dateutil" && p.version == "2.9.0.post0"));
        let (pk, pr) = parse_pipfile_lock(
            &read("python/osv-scalibr/pipfilelock/no-version.json"),
            &loc,
        );
        assert!(pk.is_empty());
        assert_eq!(pr.len(), 2);
        assert!(pr.iter().all(|p| p.kind == ProblemKind::Skipped));
        let (pk, _) = parse_pipfile_lock(
            &read("python/osv-scalibr/pipfilelock/one-package-dev.json"),
            &loc,
        );
        assert_eq!(pk[0].extra["groups"], "develop");
        let (pk, _) = parse_poetry_lock(
            &read("python/osv-scalibr/poetrylock/multiple-packages.v2.lock"),
            &loc,
        );
        assert_eq!(
            pk.iter().find(|p| p.name == "factory-boy").unwrap().extra["groups"],
            "dev"
        );
        // Real-world sized files: one package per entry.
        for (f, file) in [
            (
                parse_poetry_lock as Parser,
                "python/syft/poetry/nested-extras/poetry.lock",
            ),
            (
                parse_poetry_lock,
                "python/trivy/poetry/with-groups/poetry.lock",
            ),
            (parse_uv_lock, "python/syft/uv/nested-extras/uv.lock"),
            (parse_uv_lock, "python/trivy/uv/happy/uv.lock"),
            (parse_pdm_lock, "python/syft/pdm-lock/pdm.lock"),
        ] {
            let text = read(file);
            let (pk, pr) = f(&text, &loc);
            assert!(pr.is_empty(), "{file}: {pr:?}");
            let n = text.lines().filter(|l| l.trim() == "[[package]]").count();
            assert!(
                pk.len() == n || pk.len() + 1 == n,
                "{file}: {} of {n}",
                pk.len()
            );
        }
        let text = read("python/trivy/pylock/happy/pylock.toml");
        let (pk, pr) = parse_pylock_toml(&text, &loc);
        assert!(pr.is_empty());
        // 12 entries; `test-project` is the project itself (a directory, no version).
        assert_eq!(
            pk.len() + 1,
            text.lines().filter(|l| l.trim() == "[[packages]]").count()
        );
        assert!(!pk.iter().any(|p| p.name == "test-project"));
        assert!(pk
            .iter()
            .any(|p| p.name == "certifi" && p.version == "2026.1.4"));
    }

    #[test]
    fn paths_and_kinds() {
        assert_eq!(normalize_path("/a/b/../c/./d"), "/a/c/d");
        assert_eq!(normalize_path("/../../x"), "/x");
        assert_eq!(normalize_path("a/../../x"), "../x");
        assert_eq!(
            resolve_include("/srv/app/requirements.txt", "../base.txt").as_deref(),
            Some("/srv/base.txt")
        );
        assert_eq!(resolve_include("/srv/r.txt", "https://x/r.txt"), None);
        assert_eq!(
            LockKind::from_file_name("test-requirements.txt"),
            Some(LockKind::Requirements)
        );
        assert_eq!(
            LockKind::from_file_name("pylock.dev.toml"),
            Some(LockKind::Pylock)
        );
        assert_eq!(LockKind::from_file_name("Cargo.toml"), None);
        assert_eq!(LockKind::for_target("Cargo.lock.v1"), Some(LockKind::Cargo));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let loc = Location::path("/p");
            for k in [LockKind::Cargo, LockKind::Requirements, LockKind::Poetry, LockKind::Uv, LockKind::Pdm, LockKind::Pipfile, LockKind::Pylock] {
                let _ = parse_lockfile(k, &s, &loc);
            }
        }

        #[test]
        fn content_recognition_never_panics(s in "\\PC*") {
            let _ = LockKind::from_content(&s);
        }

        #[test]
        fn requirement_lines_never_panic(s in "([a-zA-Z0-9._\\[\\],;@#=<>!~*() \t\\\\'\"-]|--hash=|-r |-e |\n){0,80}") {
            let (pk, _) = parse_requirements(&s, &Location::path("/p"));
            for p in pk {
                proptest::prop_assert!(!p.name.is_empty() && !p.version.is_empty());
            }
        }

        #[test]
        fn cargo_like_input_never_panics(entries in proptest::collection::vec(("[a-z_-]{0,6}", "[0-9.a-z+-]{0,6}", proptest::option::of("(registry|git|path|sparse|x)?\\+?[a-z:/#?=.]{0,12}"), proptest::collection::vec("[a-z]{0,3}( [0-9.]{0,4})?", 0..3)), 0..6)) {
            let mut s = String::from("version = 3\n");
            for (n, v, src, deps) in entries {
                s.push_str(&format!("[[package]]\nname = {n:?}\nversion = {v:?}\n"));
                if let Some(src) = src {
                    s.push_str(&format!("source = {src:?}\n"));
                }
                s.push_str(&format!("dependencies = {deps:?}\n"));
            }
            let _ = parse_cargo_lock(&s, &Location::path("/p"));
        }
    }
}
