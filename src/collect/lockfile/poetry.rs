//! `poetry.lock` (lock versions 1.x and 2.x).

use super::python_lock::{source_table, string_list, walk_python_lock, PyLockFormat};
use super::shared::{str_field, Key};
use crate::model::{Location, Package, Problem, ProblemKind};

pub(super) fn poetry_source_type(t: &toml::Table) -> Option<&str> {
    source_table(t).and_then(|s| str_field(s, "type"))
}

/// `poetry.lock`: `[[package]]` with a `source` table of a `type`; an entry without a version is
/// malformed (poetry locks the project itself nowhere).
pub(super) const POETRY: PyLockFormat = PyLockFormat {
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
pub(crate) fn parse_poetry_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &POETRY)
}
