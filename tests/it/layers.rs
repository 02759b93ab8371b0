//! The house's dependency rules (docs/design.md, "Layers"), enforced: every `crate::` path in
//! the library's non-test code is an arrow from the file's top-level module to another one, and
//! each arrow must be one the rules allow. Within a module, files must not form import cycles.
//!
//! The checker is tested on its own inputs too, so that a rule it fails to see is a failing
//! test, not a silent pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which top-level modules each module may use (besides itself). Bottom to top.
const RULES: &[(&str, &[&str])] = &[
    ("util", &[]),
    ("version", &["util"]),
    ("model", &["version", "util"]),
    ("sources", &["model", "version", "util"]),
    ("releases", &["sources", "model", "version", "util"]),
    ("collect", &["model", "version", "util"]),
    ("policy", &["model", "version", "util"]),
    ("fleet", &["releases", "policy", "model", "version", "util"]),
    (
        "analyze",
        &[
            "policy", "fleet", "sources", "releases", "model", "version", "util",
        ],
    ),
    ("report", &["policy", "fleet", "model", "version", "util"]),
    (
        "plan",
        &["policy", "fleet", "releases", "model", "version", "util"],
    ),
    ("store", &["model", "version", "util"]),
    (
        "discover",
        &["policy", "fleet", "releases", "model", "version", "util"],
    ),
    ("client", &["model", "version", "util"]),
    (
        "serve",
        &[
            "client", "discover", "store", "plan", "report", "analyze", "fleet", "policy",
            "collect", "releases", "sources", "model", "version", "util",
        ],
    ),
    ("agent", &["client", "collect", "model", "version", "util"]),
    // The top: the command line, the binaries' glue and the fuzzing entry points use anything.
    ("cli", &["*"]),
    ("bin", &["*"]),
    ("fuzzing", &["*"]),
    ("lib", &["*"]),
    ("main", &["*"]),
];

/// Arrows against the rules that are known and being removed (issue 19). The test fails when
/// one of them is gone, so that this list only shrinks.
const KNOWN: &[(&str, &str)] = &[];

/// File-level import cycles inside a module that are known and being removed.
const KNOWN_CYCLES: &[&str] = &[];

fn allowed(from: &str, to: &str) -> Option<bool> {
    let (_, may) = RULES.iter().find(|(m, _)| *m == from)?;
    Some(from == to || may.contains(&"*") || may.contains(&to))
}

/// Removes comments, string and char literals, and everything from the first
/// `#[cfg(test)]` on (the house keeps unit tests at the end of a file).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push_str(&newlines(&text[start..i.min(text.len())]));
            }
            b'r' if matches!(b.get(i + 1), Some(b'"') | Some(b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // raw string r"…", r#"…"#
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == b'"'
                        && b[j + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|c| **c == b'#')
                            .count()
                            == hashes
                    {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                out.push_str(&newlines(&text[i..j.min(text.len())]));
                i = j;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
                out.push_str(&newlines(&text[start..i.min(text.len())]));
            }
            b'\'' => {
                // a char literal ('x', '\n', '\u{..}') or a lifetime ('a)
                let close = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|c| *c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match close {
                    Some(c) => {
                        out.push_str("''");
                        i = c + 1;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            _ => {
                let ch = text[i..].chars().next().unwrap();
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// As many line ends as `skipped` had, so that line numbers survive literals and comments.
fn newlines(skipped: &str) -> String {
    "\n".repeat(skipped.matches('\n').count())
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The paths a file names from the crate root: `crate::a::b::C` gives `["a","b","C"]`; grouped
/// imports (`crate::{a::X, b::{c, d}}`) give one path per leaf, and `super::` chains are
/// resolved against the file's own module path.
fn crate_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let boundary =
            i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':');
        if boundary && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let mut base: Vec<String> = Vec::new();
            let mut j = i;
            if rest.starts_with("crate::") {
                j += "crate::".len();
            } else {
                base = module.to_vec();
                while code[j..].starts_with("super::") {
                    base.pop();
                    j += "super::".len();
                }
            }
            let mut leaves = Vec::new();
            j = path_tail(code, j, base, &mut leaves);
            out.extend(leaves);
            i = j.max(i + 1);
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Reads `a::b::{c, d::e}` from `at`, pushing each full path onto `leaves`; returns the end.
fn path_tail(
    code: &str,
    mut at: usize,
    mut prefix: Vec<String>,
    leaves: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        let rest = &code[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if let Some(inner) = trimmed.strip_prefix('{') {
            at += 1;
            let mut depth = 1;
            let start = at;
            let mut k = 0;
            let bytes = inner.as_bytes();
            while k < bytes.len() && depth > 0 {
                match bytes[k] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                k += 1;
            }
            let group = &code[start..start + k.saturating_sub(1)];
            let mut d = 0;
            let mut item_start = 0;
            let gb = group.as_bytes();
            for (p, c) in gb.iter().enumerate() {
                match c {
                    b'{' => d += 1,
                    b'}' => d -= 1,
                    b',' if d == 0 => {
                        group_item(&group[item_start..p], &prefix, leaves);
                        item_start = p + 1;
                    }
                    _ => {}
                }
            }
            group_item(&group[item_start..], &prefix, leaves);
            return start + k;
        }
        let id = ident_at(trimmed);
        if id.is_empty() {
            if !prefix.is_empty() {
                leaves.push(prefix);
            }
            return at;
        }
        prefix.push(id.to_string());
        at += id.len();
        if code[at..].starts_with("::") {
            at += 2;
        } else {
            leaves.push(prefix);
            return at;
        }
    }
}

fn group_item(item: &str, prefix: &[String], leaves: &mut Vec<Vec<String>>) {
    let item = item.trim();
    if item.is_empty() {
        return;
    }
    if item == "self" {
        leaves.push(prefix.to_vec());
        return;
    }
    path_tail(item, 0, prefix.to_vec(), leaves);
}

/// A module of unit tests kept in a file of its own (`…/tests.rs`): test code, like the
/// `#[cfg(test)]` tail of a file.
fn is_test_file(rel: &Path) -> bool {
    rel.file_name().is_some_and(|n| n == "tests.rs")
}

/// A source file's module path: `src/collect/image/memfs.rs` → `["collect","image","memfs"]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    if parts.is_empty() {
        parts.push(stem.to_string());
    }
    parts
}

/// The file that defines the longest prefix of `path` (or `None` outside the tree).
fn file_of(src: &Path, path: &[String]) -> Option<PathBuf> {
    for n in (1..=path.len()).rev() {
        let rel: PathBuf = path[..n].iter().collect();
        let file = src.join(&rel).with_extension("rs");
        if file.is_file() {
            return Some(file);
        }
        let m = src.join(&rel).join("mod.rs");
        if m.is_file() {
            return Some(m);
        }
    }
    None
}

struct Graph {
    /// module → modules it names, with one file that does so
    arrows: BTreeMap<(String, String), PathBuf>,
    /// file → files it names (within the same top-level module, not its ancestors)
    files: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
}

fn graph(src: &Path) -> Graph {
    let mut g = Graph {
        arrows: BTreeMap::new(),
        files: BTreeMap::new(),
    };
    for p in rust_files(src) {
        let rel = p.strip_prefix(src).unwrap().to_path_buf();
        if is_test_file(&rel) {
            continue;
        }
        let module = module_of(&rel);
        let top = if rel.starts_with("bin") {
            "bin".to_string()
        } else {
            module[0].clone()
        };
        let code = code_of(&fs_err::read_to_string(&p).unwrap());
        let mut edges = BTreeSet::new();
        for path in crate_paths(&code, &module) {
            let Some(first) = path.first() else { continue };
            if !first.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                continue; // an item re-exported at the crate root
            }
            g.arrows
                .entry((top.clone(), first.clone()))
                .or_insert_with(|| rel.clone());
            if *first == top {
                if let Some(f) = file_of(src, &path) {
                    let frel = f.strip_prefix(src).unwrap().to_path_buf();
                    let is_ancestor = frel.file_name().is_some_and(|n| n == "mod.rs")
                        && rel.starts_with(frel.parent().unwrap());
                    if frel != rel && !is_ancestor {
                        edges.insert(frel);
                    }
                }
            }
        }
        g.files.insert(rel, edges);
    }
    g
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(files: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        on: BTreeSet<&'a PathBuf>,
        stack: Vec<&'a PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
            let Some((w, _)) = g.get_key_value(w) else {
                continue;
            };
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[w].min(t.low[v]);
                t.low.insert(v, l);
            } else if t.on.contains(w) {
                let l = t.index[w].min(t.low[v]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: files,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in files.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn cycle_name(c: &[PathBuf]) -> String {
    c.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every arrow against the rules that is not known, every known arrow that is gone, every
/// module without a rule, and every new file cycle.
fn violations(src: &Path) -> Vec<String> {
    let g = graph(src);
    let mut bad = Vec::new();
    let mut seen_known = BTreeSet::new();
    for ((from, to), file) in &g.arrows {
        match allowed(from, to) {
            None => bad.push(format!(
                "module `{from}` ({}) has no rule in RULES",
                file.display()
            )),
            Some(true) => {}
            Some(false) if allowed(to, to).is_none() => {}
            Some(false) => {
                if KNOWN.contains(&(from.as_str(), to.as_str())) {
                    seen_known.insert((from.as_str(), to.as_str()));
                } else {
                    bad.push(format!(
                        "{from} → {to} is against the layering rules (first seen in src/{})",
                        file.display()
                    ));
                }
            }
        }
    }
    for k in KNOWN {
        if !seen_known.contains(k) {
            bad.push(format!(
                "known arrow {} → {} is gone: remove it from KNOWN",
                k.0, k.1
            ));
        }
    }
    let found: Vec<String> = cycles(&g.files).iter().map(|c| cycle_name(c)).collect();
    for c in &found {
        if !KNOWN_CYCLES.contains(&c.as_str()) {
            bad.push(format!("import cycle between files: {c}"));
        }
    }
    for k in KNOWN_CYCLES {
        if !found.iter().any(|c| c == k) {
            bad.push(format!(
                "known cycle {k} is gone: remove it from KNOWN_CYCLES"
            ));
        }
    }
    bad
}

#[test]
fn the_library_follows_the_layering_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(
        bad.is_empty(),
        "dependency rules broken:\n{}",
        bad.join("\n")
    );
}

/// The checker itself: a tree with an arrow against the rules and a cycle must fail, in every
/// way a path can be written.
#[test]
fn the_checker_sees_arrows_written_every_way() {
    let code = code_of(
        r#"
use crate::model::Inventory;
use crate::{version::Version, serve::{protocol::X, query}};
// use crate::analyze::Commented;
let s = "crate::report::InAString";
fn f() { crate::store::Millis::now(); super::super::super::plan::go(); }
#[cfg(test)]
mod tests { use crate::cli::Hidden; }
"#,
    );
    let module: Vec<String> = vec!["collect".into(), "image".into(), "memfs".into()];
    let firsts: BTreeSet<String> = crate_paths(&code, &module)
        .into_iter()
        .map(|p| p[0].clone())
        .collect();
    let want: BTreeSet<String> = ["model", "version", "serve", "store", "plan"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(firsts, want);
    assert_eq!(allowed("collect", "serve"), Some(false));
    assert_eq!(allowed("serve", "collect"), Some(true));

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs_err::create_dir_all(src.join("collect")).unwrap();
    fs_err::create_dir_all(src.join("model")).unwrap();
    fs_err::write(src.join("model/mod.rs"), "pub struct M;\n").unwrap();
    fs_err::write(src.join("collect/mod.rs"), "mod a; mod b;\n").unwrap();
    fs_err::write(
        src.join("collect/a.rs"),
        "use super::b::B; use crate::model::M;\n",
    )
    .unwrap();
    fs_err::write(src.join("collect/b.rs"), "use crate::collect::a::A;\n").unwrap();
    let v = violations(src);
    assert!(
        v.iter()
            .any(|l| l.contains("import cycle") && l.contains("collect/a.rs")),
        "{v:?}"
    );
    assert!(!v.iter().any(|l| l.contains("collect → model")), "{v:?}");
    fs_err::write(src.join("model/mod.rs"), "use crate::collect::a::A;\n").unwrap();
    let v = violations(src);
    assert!(v.iter().any(|l| l.contains("model → collect")), "{v:?}");
}

/// Files over this many lines are rooms nobody can hold in their head (issue 19).
const MAX_FILE_LINES: usize = 1_200;
/// Functions over this many lines (unit tests aside).
const MAX_FN_LINES: usize = 150;

/// Files and functions over the limits that are known and being split; the test fails when one
/// is back within the limit, so that this list only shrinks.
const KNOWN_LARGE: &[&str] = &[];

fn rust_files(src: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()) == Some("rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `(name, first line, lines)` of every function in `code` (already stripped by `code_of`).
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("fn ") {
        let at = i + p;
        i = at + 3;
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        let name = ident_at(&code[i..]).to_string();
        if name.is_empty() {
            continue;
        }
        // the body starts at the first `{` before any `;` (a declaration has no body)
        let Some(open) = code[i..].find(['{', ';']).map(|q| i + q) else {
            break;
        };
        if b[open] == b';' {
            continue;
        }
        let mut depth = 0usize;
        let mut end = open;
        for (k, c) in code[open..].bytes().enumerate() {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let first = code[..at].matches('\n').count() + 1;
        let lines = code[at..=end].matches('\n').count() + 1;
        out.push((name, first, lines));
    }
    out
}

fn oversized(src: &Path) -> Vec<String> {
    let mut big = Vec::new();
    for f in rust_files(src) {
        let rel = f.strip_prefix(src).unwrap().display().to_string();
        let text = fs_err::read_to_string(&f).unwrap();
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            big.push(format!("src/{rel} ({n} lines)"));
        }
        if is_test_file(Path::new(&rel)) {
            continue;
        }
        for (name, line, lines) in functions(&code_of(&text)) {
            if lines > MAX_FN_LINES {
                big.push(format!("src/{rel}:{line} fn {name} ({lines} lines)"));
            }
        }
    }
    big
}

#[test]
fn no_file_or_function_is_too_large_to_read() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let big = oversized(&src);
    let key = |s: &str| {
        s.split(" (")
            .next()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_string()
            + s.split(" fn ")
                .nth(1)
                .map_or("", |f| f.split(' ').next().unwrap())
    };
    let known: BTreeSet<String> = KNOWN_LARGE.iter().map(|s| key(s)).collect();
    let mut bad: Vec<String> = big
        .iter()
        .filter(|b| !known.contains(&key(b)))
        .cloned()
        .collect();
    let found: BTreeSet<String> = big.iter().map(|b| key(b)).collect();
    for k in KNOWN_LARGE {
        if !found.contains(&key(k)) {
            bad.push(format!(
                "{k} is within the limits now: remove it from KNOWN_LARGE"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "files over {MAX_FILE_LINES} lines or functions over {MAX_FN_LINES}:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_size_checker_counts_what_a_reader_reads() {
    let code = code_of(
        "fn short() { let s = \"{\n}\n\"; }\n// fn commented() {\nfn decl();\nfn long() {\n    if x {\n        y();\n    }\n}\n",
    );
    let f = functions(&code);
    assert_eq!(
        f,
        vec![("short".to_string(), 1, 3), ("long".to_string(), 6, 5)],
        "{code}"
    );
}
