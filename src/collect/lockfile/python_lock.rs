//! The table walk the Python lockfiles (poetry, pdm, uv, PEP 751) share; each format is a
//! [`PyLockFormat`] in its own file.

use super::shared::{missing_version, name_version, pypi_lock, toml_entries, Key};
use crate::model::{Location, Package, Problem, ProblemKind};

/// How one Python lockfile format is walked: [`walk_python_lock`] does the rest.
pub(super) struct PyLockFormat {
    /// The array of tables holding the packages.
    pub(super) key: Key,
    /// `found_by` of its packages.
    pub(super) found_by: &'static str,
    /// The kind of the problem for a (non-local) entry without a version.
    pub(super) no_version: ProblemKind,
    /// Appended to that problem's message.
    pub(super) no_version_why: &'static str,
    /// An entry's source kind (`registry`, `git`, `path` …) and whether it is local (the project
    /// itself or a path dependency: no version is expected).
    pub(super) source: fn(&toml::Table) -> (&str, bool),
    /// Format-specific `extra` fields of a package, from its entry.
    pub(super) extra: fn(&toml::Table, &mut Package),
}

/// The table walk the Python lockfiles share: every entry with a name and a version becomes a
/// PyPI package located at the entry's line; an entry without a name is malformed; one without a
/// version is a problem of the format's kind unless it is local.
pub(super) fn walk_python_lock(
    text: &str,
    loc: &Location,
    f: &PyLockFormat,
) -> (Vec<Package>, Vec<Problem>) {
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
pub(super) fn source_table(t: &toml::Table) -> Option<&toml::Table> {
    t.get("source").and_then(toml::Value::as_table)
}

pub(super) fn string_list(t: &toml::Table, k: &str) -> Option<String> {
    let v: Vec<&str> = t
        .get(k)?
        .as_array()?
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    (!v.is_empty()).then(|| v.join(","))
}
