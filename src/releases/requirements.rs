//! `openstack/requirements` upper-constraints: the exact version of every Python dependency
//! each branch was tested with.
//!
//! Input: a directory with one sub-directory per branch, each holding `upper-constraints.txt`
//! (`name===version[;marker]` lines, `#` comments). A branch directory is named either by the
//! branch itself (`stable/2026.1/upper-constraints.txt`) or flattened with `_` for the first
//! `/` (`stable_2026.1`, as in `../shared/data/openstack-requirements`). `global-requirements.txt`
//! (allowed ranges) is not read.
//!
//! Branch ↔ series: `master` is the development series; `stable/<id>` and
//! `unmaintained/<id>` name a series by release id (`2026.1`) or, before 2023.1, by name (`zed`).
//! The mapping uses the [`OpenStackCatalog`]'s series list; nothing is hard-coded.
//!
//! Environment markers: only `python_version` and `python_full_version` comparisons, joined by
//! `and` / `or` with parentheses, are evaluated ([`Constraint::applies_to_python`]); any other
//! marker variable makes the answer unknown (`None`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::openstack::{OpenStackCatalog, Series, SeriesStatus};
use super::{problem, read_text, ReleaseError};
use crate::model::{Location, Problem, ProblemKind};
use crate::util::normalize_name;
use crate::version::pep440::Pep440Version;

/// The file read in each branch directory.
pub(crate) const UPPER_CONSTRAINTS: &str = "upper-constraints.txt";

/// One `name===version[;marker]` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// The name as written (`oslo.messaging`).
    pub name: String,
    /// The pinned version as written.
    pub version: String,
    /// The environment marker after `;`, trimmed (`python_version>='3.10'`).
    pub marker: Option<String>,
    /// 1-based line number.
    pub line: usize,
}

impl Constraint {
    /// Whether this pin applies to a Python interpreter of version `python` (`3.12` or
    /// `3.12.4`). `Some(true)` without a marker; `None` when the marker uses something other than
    /// `python_version` / `python_full_version` or cannot be read.
    pub fn applies_to_python(&self, python: &str) -> Option<bool> {
        match &self.marker {
            None => Some(true),
            Some(m) => eval_marker(m, python),
        }
    }
}

/// Parse one line of `upper-constraints.txt`.
///
/// `Ok(None)` for blank and comment lines; `Err` says what was expected and what was found.
/// `==` is accepted as well as `===`. Never panics.
pub(crate) fn parse_constraint_line(
    line: &str,
    line_no: usize,
) -> Result<Option<Constraint>, String> {
    let content = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
    .trim();
    if content.is_empty() {
        return Ok(None);
    }
    let (spec, marker) = match content.split_once(';') {
        Some((s, m)) => (s.trim(), Some(m.trim()).filter(|m| !m.is_empty())),
        None => (content, None),
    };
    let (name, version) = if let Some((n, v)) = spec.split_once("===") {
        (n.trim(), v.trim())
    } else if let Some((n, v)) = spec.split_once("==") {
        (n.trim(), v.trim())
    } else {
        return Err(format!(
            "expected `name===version[;marker]`, found `{content}`"
        ));
    };
    if !is_valid_name(name) {
        return Err(format!(
            "expected a distribution name (letters, digits, `.`, `_`, `-`), found `{name}`"
        ));
    }
    if version.is_empty() || version.contains(char::is_whitespace) || version.starts_with('=') {
        return Err(format!(
            "expected one version after `===`, found `{version}` in `{content}`"
        ));
    }
    Ok(Some(Constraint {
        name: name.to_owned(),
        version: version.to_owned(),
        marker: marker.map(str::to_owned),
        line: line_no,
    }))
}

/// PEP 508 names: ASCII letters and digits, with `.`, `_`, `-` inside.
fn is_valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The upper-constraints of one branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchConstraints {
    /// `master`, `stable/2026.1`, `unmaintained/zed`.
    pub branch: String,
    /// The file read.
    pub path: PathBuf,
    pins: BTreeMap<String, Vec<Constraint>>,
}

impl BranchConstraints {
    /// Every pin of a distribution (any spelling; PEP 503 normalised), in file order; several
    /// when they differ by marker.
    pub fn pins(&self, name: &str) -> &[Constraint] {
        self.pins
            .get(&normalize_name(name))
            .map_or(&[], Vec::as_slice)
    }

    /// The pinned version of a distribution.
    ///
    /// With `python`, the first pin whose marker applies to it (`Some(true)`). Without, the
    /// version when all pins of the name agree (one pin, or several markers pinning the same
    /// version); `None` when they differ.
    pub fn version(&self, name: &str, python: Option<&str>) -> Option<&str> {
        let pins = self.pins(name);
        match python {
            Some(py) => pins
                .iter()
                .find(|c| c.applies_to_python(py) == Some(true))
                .map(|c| c.version.as_str()),
            None => {
                let first = pins.first()?;
                pins.iter()
                    .all(|c| c.version == first.version)
                    .then_some(first.version.as_str())
            }
        }
    }

    /// The normalised names pinned, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pins.keys().map(String::as_str)
    }

    /// How many distinct names are pinned.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }
}

/// Upper-constraints of several branches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpperConstraints {
    branches: BTreeMap<String, BranchConstraints>,
}

impl UpperConstraints {
    /// [`Self::load`] through the release-data cache `cache`
    /// ([`crate::sources::cache::cached`]); `None` parses.
    pub fn load_cached(
        dir: &Path,
        cache: Option<crate::sources::cache::CacheDir<'_>>,
    ) -> Result<(Self, Vec<Problem>), ReleaseError> {
        crate::sources::cache::cached(
            cache,
            "openstack-requirements",
            &[dir.to_path_buf()],
            || Self::load(dir),
        )
    }

    /// Load every `<branch>/upper-constraints.txt` under `dir` (one or two directory levels).
    ///
    /// Fails only when `dir` cannot be listed; bad lines and unreadable files are
    /// [`Problem`]s naming the file (and line), and loading continues.
    pub fn load(dir: &Path) -> Result<(Self, Vec<Problem>), ReleaseError> {
        if !dir.is_dir() {
            return Err(ReleaseError::Missing {
                path: dir.to_path_buf(),
                what: "a directory of <branch>/upper-constraints.txt".to_owned(),
            });
        }
        let mut problems = Vec::new();
        let mut out = Self::default();
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs_err::read_dir(dir)? {
            let p = entry?.path();
            if !p.is_dir() {
                continue;
            }
            let Some(first) = p.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            let file = p.join(UPPER_CONSTRAINTS);
            if file.is_file() {
                found.push((flattened_branch_name(&first), file));
                continue;
            }
            // `stable/2026.1/upper-constraints.txt`
            for sub in fs_err::read_dir(&p)? {
                let sp = sub?.path();
                let file = sp.join(UPPER_CONSTRAINTS);
                if let (true, Some(second)) =
                    (file.is_file(), sp.file_name().and_then(|n| n.to_str()))
                {
                    found.push((format!("{first}/{second}"), file));
                }
            }
        }
        found.sort();
        for (branch, file) in found {
            let text = match read_text(&file) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(problem(&file, ProblemKind::Unreadable, e.to_string()));
                    continue;
                }
            };
            let mut pins: BTreeMap<String, Vec<Constraint>> = BTreeMap::new();
            for (i, line) in text.lines().enumerate() {
                match parse_constraint_line(line, i + 1) {
                    Ok(None) => {}
                    Ok(Some(c)) => pins.entry(normalize_name(&c.name)).or_default().push(c),
                    Err(msg) => problems.push(Problem::new(
                        Location::path(file.display().to_string()).at_line(i + 1),
                        ProblemKind::Malformed,
                        format!("{msg}; line skipped"),
                    )),
                }
            }
            out.branches.insert(
                branch.clone(),
                BranchConstraints {
                    branch,
                    path: file,
                    pins,
                },
            );
        }
        Ok((out, problems))
    }

    /// All branches loaded, sorted by name.
    pub fn branches(&self) -> impl Iterator<Item = &BranchConstraints> {
        self.branches.values()
    }

    /// One branch (`stable/2026.1`; the flattened `stable_2026.1` is accepted too).
    pub fn branch(&self, name: &str) -> Option<&BranchConstraints> {
        self.branches
            .get(name)
            .or_else(|| self.branches.get(&flattened_branch_name(name)))
    }

    /// The constraints of a series (name or release id): the branch for its current status
    /// first ([`Series::branch`]), then `stable/<id>`, `unmaintained/<id>`, and `master` for a
    /// development series.
    pub fn for_series(
        &self,
        catalog: &OpenStackCatalog,
        series: &str,
    ) -> Option<&BranchConstraints> {
        let s = catalog.series_named(series)?;
        series_branches(s).iter().find_map(|b| self.branch(b))
    }
}

/// The branches a series' constraints may live on, most likely first.
pub(crate) fn series_branches(s: &Series) -> Vec<String> {
    let mut out: Vec<String> = s.branch().into_iter().collect();
    for b in [
        format!("stable/{}", s.id()),
        format!("unmaintained/{}", s.id()),
    ] {
        if !out.contains(&b) {
            out.push(b);
        }
    }
    if s.status == SeriesStatus::Development && !out.iter().any(|b| b == "master") {
        out.push("master".to_owned());
    }
    out
}

/// `stable_2026.1` → `stable/2026.1`; names already with `/`, or without `_`, unchanged.
fn flattened_branch_name(name: &str) -> String {
    if name.contains('/') {
        return name.to_owned();
    }
    match name.split_once('_') {
        Some((a, b)) => format!("{a}/{b}"),
        None => name.to_owned(),
    }
}

// ---- environment markers (python_version only) ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '(' {
            it.next();
            out.push(Tok::Open);
        } else if c == ')' {
            it.next();
            out.push(Tok::Close);
        } else if c == '\'' || c == '"' {
            it.next();
            let start = i + c.len_utf8();
            let mut end = None;
            for (j, d) in it.by_ref() {
                if d == c {
                    end = Some(j);
                    break;
                }
            }
            out.push(Tok::Str(s.get(start..end?)?.to_owned()));
        } else if "=!<>~".contains(c) {
            let mut op = String::new();
            while let Some(&(_, d)) = it.peek() {
                if "=!<>~".contains(d) {
                    op.push(d);
                    it.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Op(op));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut w = String::new();
            while let Some(&(_, d)) = it.peek() {
                if d.is_ascii_alphanumeric() || d == '_' || d == '.' {
                    w.push(d);
                    it.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else {
            return None;
        }
    }
    Some(out)
}

/// Three-valued logic: `None` = unknown.
struct MarkerEval<'a> {
    toks: Vec<Tok>,
    pos: usize,
    python: &'a str,
    depth: usize,
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

impl MarkerEval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    /// `Err(())` = syntax error.
    fn expr(&mut self) -> Result<Option<bool>, ()> {
        let mut v = self.and_expr()?;
        while matches!(self.peek(), Some(Tok::Word(w)) if w == "or") {
            self.pos += 1;
            let r = self.and_expr()?;
            v = or3(v, r);
        }
        Ok(v)
    }
    fn and_expr(&mut self) -> Result<Option<bool>, ()> {
        let mut v = self.atom()?;
        while matches!(self.peek(), Some(Tok::Word(w)) if w == "and") {
            self.pos += 1;
            let r = self.atom()?;
            v = and3(v, r);
        }
        Ok(v)
    }
    fn atom(&mut self) -> Result<Option<bool>, ()> {
        if self.peek() == Some(&Tok::Open) {
            self.depth += 1;
            if self.depth > 64 {
                return Err(());
            }
            self.pos += 1;
            let v = self.expr()?;
            if self.next() != Some(Tok::Close) {
                return Err(());
            }
            self.depth -= 1;
            return Ok(v);
        }
        let lhs = self.next().ok_or(())?;
        let op = match self.next().ok_or(())? {
            Tok::Op(o) => o,
            Tok::Word(w) if w == "in" => w,
            Tok::Word(w) if w == "not" => match self.next() {
                Some(Tok::Word(x)) if x == "in" => "not in".to_owned(),
                _ => return Err(()),
            },
            _ => return Err(()),
        };
        let rhs = self.next().ok_or(())?;
        let (value, op, var_left) = match (&lhs, &rhs) {
            (Tok::Word(var), Tok::Str(val)) => ((var, val), op, true),
            (Tok::Str(val), Tok::Word(var)) => ((var, val), op, false),
            _ => return Err(()),
        };
        let (var, literal) = value;
        if var != "python_version" && var != "python_full_version" {
            return Ok(None);
        }
        let python = if var == "python_version" {
            // `python_version` is major.minor.
            let mut parts = self.python.split('.');
            match (parts.next(), parts.next()) {
                (Some(a), Some(b)) => format!("{a}.{b}"),
                _ => self.python.to_owned(),
            }
        } else {
            self.python.to_owned()
        };
        let (a, b) = if var_left {
            (python.as_str(), literal.as_str())
        } else {
            (literal.as_str(), python.as_str())
        };
        Ok(compare_marker(a, &op, b))
    }
}

fn compare_marker(a: &str, op: &str, b: &str) -> Option<bool> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    if op == "in" {
        return Some(b.contains(a));
    }
    if op == "not in" {
        return Some(!b.contains(a));
    }
    let (Ok(x), Ok(y)) = (a.parse::<Pep440Version>(), b.parse::<Pep440Version>()) else {
        return match op {
            "==" | "===" => Some(a == b),
            "!=" => Some(a != b),
            _ => None,
        };
    };
    let o = x.cmp(&y);
    Some(match op {
        "==" | "===" => o == Equal,
        "!=" => o != Equal,
        "<" => o == Less,
        "<=" => o != Greater,
        ">" => o == Greater,
        ">=" => o != Less,
        "~=" => {
            // Compatible release: >= y and same prefix (all but the last component of y).
            let rel = y.release();
            if rel.len() < 2 {
                return None;
            }
            let prefix = &rel[..rel.len() - 1];
            o != Less && x.release().get(..prefix.len()) == Some(prefix)
        }
        _ => return None,
    })
}

/// Evaluate a marker for an interpreter version; `None` = unknown or unreadable.
fn eval_marker(marker: &str, python: &str) -> Option<bool> {
    let toks = tokenize(marker)?;
    let mut e = MarkerEval {
        toks,
        pos: 0,
        python,
        depth: 0,
    };
    let v = e.expr().ok()?;
    if e.pos != e.toks.len() {
        return None;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::test_data::shared;
    use proptest::prelude::*;

    fn load() -> (UpperConstraints, Vec<Problem>) {
        UpperConstraints::load(&shared("openstack-requirements")).unwrap()
    }

    #[test]
    fn loads_all_branches() {
        let (uc, problems) = load();
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<&str> = uc.branches().map(|b| b.branch.as_str()).collect();
        assert_eq!(
            names,
            [
                "master",
                "stable/2025.1",
                "stable/2025.2",
                "stable/2026.1",
                "unmaintained/2023.1",
                "unmaintained/2024.1",
                "unmaintained/yoga",
                "unmaintained/zed"
            ]
        );
        for b in uc.branches() {
            assert!(b.len() > 400, "{} has {}", b.branch, b.len());
        }
    }

    /// Through the release-data cache: what is read back equals what was parsed.
    #[test]
    fn cached_constraints_equal_parsed() {
        let cache = tempfile::tempdir().unwrap();
        let (parsed, problems) = load();
        let dir = shared("openstack-requirements");
        for _ in 0..2 {
            let (uc, p) = UpperConstraints::load_cached(&dir, Some(cache.path().into())).unwrap();
            assert_eq!(
                serde_json::to_value(&uc).unwrap(),
                serde_json::to_value(&parsed).unwrap()
            );
            assert_eq!(p, problems);
            let g = uc.branch("stable/2026.1").unwrap();
            assert_eq!(g.version("oslo.messaging", None), Some("17.3.0"));
            assert_eq!(
                g.pins("oslo.messaging")[0].line,
                parsed
                    .branch("stable/2026.1")
                    .unwrap()
                    .pins("oslo.messaging")[0]
                    .line
            );
        }
        assert_eq!(
            fs_err::read_dir(cache.path().join("catalogs"))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn spot_checks() {
        let (uc, _) = load();
        let master = uc.branch("master").unwrap();
        assert_eq!(master.version("voluptuous", None), Some("0.16.0"));
        assert_eq!(master.version("PasteDeploy", None), Some("3.1.0"));
        assert_eq!(master.version("pastedeploy", None), Some("3.1.0"));
        assert_eq!(master.version("oslo_limit", None), Some("2.12.0"));
        assert_eq!(master.version("chardet", None), Some("6.0.0.post1"));
        // The gazpacho site-packages fixture was built from stable/2026.1's constraints.
        let g = uc.branch("stable_2026.1").unwrap();
        assert_eq!(g.branch, "stable/2026.1");
        assert_eq!(g.version("oslo.messaging", None), Some("17.3.0"));
        assert_eq!(g.version("SQLAlchemy", None), Some("2.0.46"));
        assert_eq!(g.version("Django", None), Some("4.2.28"));
        // Marker-dependent pins.
        let e = uc.branch("stable/2025.1").unwrap();
        let pins = e.pins("scipy");
        assert_eq!(pins.len(), 2);
        assert_eq!(e.version("scipy", None), None, "pins differ by marker");
        assert_eq!(e.version("scipy", Some("3.9")), Some("1.13.1"));
        assert_eq!(e.version("scipy", Some("3.12.3")), Some("1.15.2"));
        assert_eq!(e.version("tomli", None), Some("2.2.1"), "pins agree");
        assert!(e.pins("no-such-dist").is_empty());
    }

    #[test]
    fn upper_constraints_per_series_branch() {
        let cat = crate::releases::openstack::OpenStackCatalog::load(&shared("openstack-releases"))
            .unwrap()
            .0;
        let (uc, _) = load();
        for (series, branch) in [
            ("gazpacho", "stable/2026.1"),
            ("2025.2", "stable/2025.2"),
            ("epoxy", "stable/2025.1"),
            ("caracal", "unmaintained/2024.1"),
            ("antelope", "unmaintained/2023.1"),
            ("zed", "unmaintained/zed"),
            ("yoga", "unmaintained/yoga"),
            ("hibiscus", "master"),
        ] {
            assert_eq!(
                uc.for_series(&cat, series).unwrap().branch,
                branch,
                "{series}"
            );
        }
        assert!(uc.for_series(&cat, "dalmatian").is_none());
    }

    #[test]
    fn lines() {
        let c = parse_constraint_line("alabaster===0.7.16;python_version=='3.9'", 3)
            .unwrap()
            .unwrap();
        assert_eq!(c.name, "alabaster");
        assert_eq!(c.version, "0.7.16");
        assert_eq!(c.marker.as_deref(), Some("python_version=='3.9'"));
        assert_eq!(c.line, 3);
        assert_eq!(c.applies_to_python("3.9.18"), Some(true));
        assert_eq!(c.applies_to_python("3.10"), Some(false));
        assert_eq!(parse_constraint_line("# comment", 1), Ok(None));
        assert_eq!(parse_constraint_line("   ", 1), Ok(None));
        assert!(parse_constraint_line("foo>=1.0", 1).is_err());
        assert!(parse_constraint_line("===1.0", 1).is_err());
        assert!(parse_constraint_line("foo===", 1).is_err());
        assert!(parse_constraint_line("foo bar===1", 1).is_err());
        let c = parse_constraint_line("foo==1.0  # trailing", 1)
            .unwrap()
            .unwrap();
        assert_eq!(c.version, "1.0");
    }

    #[test]
    fn markers() {
        let m = |s: &str, py: &str| eval_marker(s, py);
        assert_eq!(m("python_version>='3.10'", "3.12"), Some(true));
        assert_eq!(m("python_version>='3.10'", "3.9"), Some(false));
        assert_eq!(
            m(
                "python_version < \"3.10\" and python_version >= '3.8'",
                "3.9"
            ),
            Some(true)
        );
        assert_eq!(
            m("(python_version=='3.6') or python_version=='3.8'", "3.8"),
            Some(true)
        );
        assert_eq!(m("sys_platform=='linux'", "3.8"), None);
        assert_eq!(
            m("sys_platform=='linux' and python_version=='3.6'", "3.8"),
            Some(false)
        );
        assert_eq!(m("python_full_version >= '3.9.2'", "3.9.1"), Some(false));
        assert_eq!(m("'3.9' == python_version", "3.9.1"), Some(true));
        assert_eq!(m("python_version ~= '3.9'", "3.11"), Some(true));
        assert_eq!(m("python_version in '3.8 3.9'", "3.9"), Some(true));
        assert_eq!(m("python_version ==", "3.9"), None);
        assert_eq!(m("((((", "3.9"), None);
    }

    #[test]
    fn bad_lines_are_problems() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("stable/2099.1");
        fs_err::create_dir_all(&d).unwrap();
        fs_err::write(
            d.join(UPPER_CONSTRAINTS),
            "good===1.0\nthis is not a pin\nalso-good===2.0;python_version>='3.10'\n",
        )
        .unwrap();
        let (uc, problems) = UpperConstraints::load(tmp.path()).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].location.line, Some(2));
        assert!(problems[0].location.path.ends_with("upper-constraints.txt"));
        let b = uc.branch("stable/2099.1").unwrap();
        assert_eq!(b.version("good", None), Some("1.0"));
        assert_eq!(b.version("Also_Good", Some("3.12")), Some("2.0"));
        assert!(UpperConstraints::load(&tmp.path().join("missing")).is_err());
    }

    proptest! {
        #[test]
        fn constraint_parser_never_panics(s in "\\PC{0,80}") {
            let _ = parse_constraint_line(&s, 1);
        }

        #[test]
        fn constraint_like_lines_never_panic(
            name in "[A-Za-z0-9._-]{0,12}",
            sep in "(===|==|=|)",
            v in "[0-9a-z.!+]{0,10}",
            marker in "(;[ a-z_<>=!~'\"().0-9]{0,30})?",
        ) {
            let line = format!("{name}{sep}{v}{marker}");
            if let Ok(Some(c)) = parse_constraint_line(&line, 1) {
                let _ = c.applies_to_python("3.11");
            }
        }

        #[test]
        fn marker_eval_never_panics(s in "\\PC{0,60}", py in "[0-9.]{0,6}") {
            let _ = eval_marker(&s, &py);
        }
    }
}
