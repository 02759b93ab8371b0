//! `uv.lock`.

use super::python_lock::{source_table, walk_python_lock, PyLockFormat};
use super::shared::{split_rev, str_field, Key};
use crate::model::{Location, Package, Problem, ProblemKind};

/// `uv.lock`: the source is an inline table keyed by its kind (`registry`, `git`, `virtual` …).
pub(super) const UV: PyLockFormat = PyLockFormat {
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
pub(crate) fn parse_uv_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &UV)
}
