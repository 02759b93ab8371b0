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
//!   cargo-audit does; the analyzer does not match them against any feed
//!   ([`Package::is_local_lock_member`], docs/findings.md). `git+URL?ref#sha` sources are `git` with the commit kept (`extra.rev`,
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

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;

use super::files::FilePattern;
use super::python::{budget_problem, expand_glob, walk, WalkEvent};
use super::root::MAX_FILE_BYTES;
use super::{Collected, Collector, Root};
use crate::model::{Location, Package, Problem, ProblemKind};

mod cargo;
mod pdm;
mod pipfile;
mod poetry;
mod pylock;
mod python_lock;
mod requirements;
mod shared;
#[cfg(test)]
mod tests;
mod uv;

pub(crate) use cargo::{check_fast_cargo_reader, parse_cargo_lock};
pub(crate) use pdm::parse_pdm_lock;
pub(crate) use pipfile::parse_pipfile_lock;
pub(crate) use poetry::parse_poetry_lock;
pub(crate) use pylock::parse_pylock_toml;
pub(crate) use requirements::{parse_requirements, parse_requirements_file};
pub(crate) use uv::parse_uv_lock;

use python_lock::source_table;
use shared::toml_problem;

/// Trees searched for lockfiles by default (`*` = every entry).
pub(crate) const SEARCH_ROOTS: &[&str] = &["/srv", "/opt", "/root", "/home/*"];

/// How many levels below a search root a lockfile may sit.
pub(crate) const SEARCH_DEPTH: usize = 6;

/// Directory entries one search may look at before it gives up (and says so).
pub(crate) const SEARCH_BUDGET: usize = 100_000;

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
pub(crate) enum LockKind {
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
    pub(crate) fn from_file_name(name: &str) -> Option<Self> {
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
    pub(crate) fn for_target(name: &str) -> Option<Self> {
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
    pub(crate) fn from_content(text: &str) -> Result<Self, String> {
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
pub(crate) fn parse_lockfile(
    kind: LockKind,
    text: &str,
    loc: &Location,
) -> (Vec<Package>, Vec<Problem>) {
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

/// The files the lockfile collector finds by name in its search ([`LockKind::from_file_name`]).
pub(crate) const READS: &[FilePattern] = &[
    FilePattern::Name("Cargo.lock"),
    FilePattern::Name("poetry.lock"),
    FilePattern::Name("uv.lock"),
    FilePattern::Name("pdm.lock"),
    FilePattern::Name("Pipfile.lock"),
    FilePattern::NameLike {
        prefix: "pylock.",
        contains: "",
        suffix: ".toml",
        ignore_case: false,
    },
    FilePattern::NameLike {
        prefix: "",
        contains: "requirements",
        suffix: ".txt",
        ignore_case: false,
    },
];

impl Collector for LockfileCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

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
