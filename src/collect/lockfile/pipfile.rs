//! `Pipfile.lock` (JSON).

use super::shared::pypi_lock;
use crate::model::{Location, Package, Problem, ProblemKind};

/// Parse a `Pipfile.lock` (JSON; sections `default` and `develop`).
pub(crate) fn parse_pipfile_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
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
