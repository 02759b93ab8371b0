//! `pdm.lock`.

use super::python_lock::{string_list, walk_python_lock, PyLockFormat};
use super::shared::{str_field, Key};
use crate::model::{Location, Package, Problem, ProblemKind};

/// `pdm.lock`: the source is told by which key an entry has (`git`/`hg`/`svn`, `path`, `url`).
pub(super) const PDM: PyLockFormat = PyLockFormat {
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
pub(crate) fn parse_pdm_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    walk_python_lock(text, loc, &PDM)
}
