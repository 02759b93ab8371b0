//! PEP 751 `pylock.toml` / `pylock.<name>.toml`.

use super::python_lock::{walk_python_lock, PyLockFormat};
use super::shared::{str_field, Key};
use crate::model::{Location, Package, Problem, ProblemKind};

/// PEP 751 `pylock.toml`: `[[packages]]`; the source is a `vcs`, `directory` or `archive` table.
pub(super) const PYLOCK: PyLockFormat = PyLockFormat {
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
pub(crate) fn parse_pylock_toml(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &PYLOCK)
}
