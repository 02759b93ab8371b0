//! `Cargo.lock` (format v1 with `[metadata]` checksums, v2, v3, v4): a line reader for the
//! files as Cargo writes them, the TOML parser for everything else.

use std::collections::{BTreeMap, BTreeSet};

use super::shared::{missing_version, name_version, split_rev, toml_entries, Entry, Key};
use crate::collect::purl;
use crate::model::{Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind};

/// The `[[package]]` entries of a Cargo.lock as Cargo writes it, read line by line: what
/// [`toml_entries`] gives for such a file (the same tables, indexes and lines; a differential
/// test and the `cargo_lock` fuzz target hold them equal), several times faster than the generic
/// TOML parser, which was most of a warm scan of a large lockfile. `None` for anything else
/// (another layout, escapes, multi-line strings, duplicate keys, `[root]`, unknown tables or
/// values): the caller falls back to the TOML parser, which also explains malformed files.
pub(super) fn cargo_entries_fast(text: &str) -> Option<Vec<Entry>> {
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
pub(crate) fn check_fast_cargo_reader(text: &str) {
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

/// Parse a `Cargo.lock` (any format version).
pub(crate) fn parse_cargo_lock(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
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
pub(super) fn is_default_registry(source: &str) -> bool {
    rustsec::cargo_lock::SourceId::from_url(source).is_ok_and(|s| s.is_default_registry())
}

pub(super) fn cargo_package(
    name: &str,
    version: &str,
    source: Option<&str>,
    location: Location,
) -> Package {
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
