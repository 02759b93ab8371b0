//! What the TOML lockfile formats share: entries located by line, field access, the problems
//! for a missing name or version, and the PyPI package a Python lock entry becomes.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::collect::purl;
use crate::model::{Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind};
use crate::util::normalize_name;

/// The byte offsets of a text's newlines, so that the line of any offset is a binary search
/// (a lockfile's entries are located once each, not by rescanning the text from its start).
pub(super) struct LineIndex(Vec<usize>);

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        Self(
            text.bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
        )
    }

    /// The 1-based line holding byte `offset` (past the end: the last line).
    pub(super) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

pub(super) fn toml_problem(text: &str, loc: &Location, e: &toml::de::Error) -> Problem {
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
    pub(super) package: Option<Vec<Spanned<toml::Table>>>,
}

/// `Cargo.lock`: `[[package]]`, and `[root]` in files from before 2017.
#[derive(Deserialize)]
struct CargoLock {
    #[serde(default)]
    pub(super) package: Option<Vec<Spanned<toml::Table>>>,
    #[serde(default)]
    pub(super) root: Option<Spanned<toml::Table>>,
}

/// PEP 751: `[[packages]]`.
#[derive(Deserialize)]
struct Pylock {
    #[serde(default)]
    pub(super) packages: Option<Vec<Spanned<toml::Table>>>,
}

/// Which array of tables holds the packages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Package,
    Cargo,
    Packages,
}

/// One `[[package]]` entry: its index, line and table.
pub(super) struct Entry {
    pub(super) index: usize,
    pub(super) line: usize,
    pub(super) table: toml::Table,
}

pub(super) fn toml_entries(text: &str, loc: &Location, key: Key) -> Result<Vec<Entry>, Problem> {
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

pub(super) fn str_field<'a>(t: &'a toml::Table, k: &str) -> Option<&'a str> {
    t.get(k)
        .and_then(toml::Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Name and version of an entry, or the problem explaining which is missing.
pub(super) fn name_version<'a>(
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

pub(super) fn missing_version(
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
pub(super) fn pypi_lock(
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
pub(super) fn split_rev(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('#') {
        Some((u, r)) if !r.is_empty() => (u, Some(r)),
        Some((u, _)) => (u, None),
        None => (s, None),
    }
}
