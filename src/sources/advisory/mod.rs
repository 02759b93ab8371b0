//! Advisory feed loaders: one folder of a feed in, [`Advisory`] values and per-item
//! [`Problem`]s out.
//!
//! | kind | reader | folder holds | ecosystem keys produced |
//! | --- | --- | --- | --- |
//! | `osv` | [`osv`] | OSV records, JSON or YAML, at any depth (PyPA `vulns/<pkg>/PYSEC-*.yaml`, operator advisories, Ubuntu / AlmaLinux / Rocky OSV) | as the record writes them (`PyPI`, `Ubuntu:22.04:LTS`, `AlmaLinux:9` …) |
//! | `rustsec` | [`rustsec`] | the RustSec advisory-db checkout (`crates/`, `rust/`) | `crates.io`, `rust-toolchain` |
//! | `ossa` | [`ossa`] | OpenStack Security Advisories `ossa/OSSA-*.yaml` | `OpenStack` |
//! | `debian-tracker` | [`debian`] | Debian security tracker JSON, vuln-list-debian `tracker/` trees, DSA/DLA lists | `Debian:<major>`, `Debian:sid` |
//! | `alpine-secdb` | [`alpine`] | secdb `v3.x/{main,community}.yaml` (or `.json`) | `Alpine:v3.x` |
//! | `csaf-vex` | [`csaf`] | Red Hat CSAF 2.0 VEX documents (`*.json`) | `Red Hat:<major>`, `Red Hat <product>:<version>[-elN]` |
//!
//! [`source_for_kind`] is the one place kinds are wired. Rules shared by every reader:
//!
//! - A missing or unreadable feed folder is a [`SourceError`]; anything wrong inside it (a file
//!   that does not parse, a record of the wrong shape, a version that is not valid in its
//!   scheme) is a [`Problem`] naming the file relative to the feed folder, with the line or field
//!   when the parser knows it, and loading goes on.
//! - Files and folders whose name starts with `.` are skipped (`.git`, PyPA's `.id-allocator`).
//!   Files are read in path order, so results are deterministic.
//! - Package names are normalised for their ecosystem (PEP 503 for PyPI; lower case for
//!   OpenStack deliverables); ecosystem strings are otherwise kept as the feed writes them
//!   (`analyze::index::canonical_ecosystem` folds spellings at match time).
//! - Severity from CVSS is computed here for v3.0 / v3.1 vectors only ([`cvss`]); v2 and v4
//!   vectors are kept as text and give a severity only through a feed's own word.
//!
//! Not supported (each reader's documentation has the details): OSV `GIT` ranges (commits are
//! not versions); the Debian tracker's raw `data/CVE/list` text (its vuln-list JSON form is
//! read); Red Hat OVAL and CSAF `under_investigation` / `last_affected` statuses; CSAF
//! products other than rpms; OSSA free-text version ranges (2011–2015).

pub(crate) mod alpine;
pub(crate) mod csaf;
pub(crate) mod cvss;
pub(crate) mod debian;
pub(crate) mod ossa;
pub(crate) mod osv;
pub(crate) mod rustsec;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::model::{Advisory, Location, Problem, ProblemKind, Severity};
use crate::version::Scheme;

/// What loading one feed folder yields.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Advisories, in file order.
    pub advisories: Vec<Advisory>,
    /// Per-item failures (bad files, records, versions).
    pub problems: Vec<Problem>,
}

/// A failure of a whole feed: nothing could be loaded from it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The folder does not exist.
    #[error("advisory feed folder {} does not exist: expected a directory holding the feed's files", path.display())]
    Missing {
        /// The folder.
        path: PathBuf,
    },
    /// The path is not a folder.
    #[error("advisory feed path {} is not a directory: expected a folder holding the feed's files, found a file", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The folder could not be read.
    #[error("cannot read advisory feed folder {}: {source}", path.display())]
    Unreadable {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The folder does not have the feed's layout.
    #[error("advisory feed folder {} is not a {kind} feed: expected {expected}", path.display())]
    Layout {
        /// The folder.
        path: PathBuf,
        /// The feed kind.
        kind: &'static str,
        /// What was expected and what was found.
        expected: String,
    },
}

/// One kind of advisory feed.
pub trait AdvisorySource: Send + Sync {
    /// The kind name (`osv`, `rustsec`, …), as written in the feed definitions.
    fn kind(&self) -> &'static str;
    /// Load every advisory under `dir`.
    fn load(&self, dir: &Path) -> Result<Loaded, SourceError>;
}

/// Every kind [`source_for_kind`] knows.
pub(crate) const KINDS: [&str; 6] = [
    "osv",
    "rustsec",
    "ossa",
    "debian-tracker",
    "alpine-secdb",
    "csaf-vex",
];

/// The reader of feed kind `kind`; `name` (the feed's name in the feed definitions) becomes
/// [`Advisory::source`]. `None` for an unknown kind.
pub(crate) fn source_for_kind(kind: &str, name: &str) -> Option<Box<dyn AdvisorySource>> {
    let name = name.to_owned();
    Some(match kind {
        "osv" => Box::new(osv::OsvSource::new(name)),
        "rustsec" => Box::new(rustsec::RustsecSource::new(name)),
        "ossa" => Box::new(ossa::OssaSource::new(name)),
        "debian-tracker" => Box::new(debian::DebianTrackerSource::new(name)),
        "alpine-secdb" => Box::new(alpine::AlpineSecdbSource::new(name)),
        "csaf-vex" => Box::new(csaf::CsafVexSource::new(name)),
        _ => return None,
    })
}

/// A file found in a feed folder.
#[derive(Debug, Clone)]
pub(crate) struct FeedFile {
    /// Full path.
    pub(crate) path: PathBuf,
    /// Path relative to the feed folder, `/`-separated.
    pub(crate) rel: String,
}

impl FeedFile {
    /// The file name.
    pub(crate) fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }

    /// The file name's extension, lower case (`""` when none).
    pub(crate) fn ext(&self) -> String {
        match self.name().rsplit_once('.') {
            Some((stem, e)) if !stem.is_empty() => e.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    /// The names of the folders above the file, inside the feed folder.
    pub(crate) fn dirs(&self) -> Vec<&str> {
        let mut parts: Vec<&str> = self.rel.split('/').collect();
        parts.pop();
        parts
    }

    /// A location naming this file.
    pub(crate) fn loc(&self) -> Location {
        Location::path(self.rel.clone())
    }

    /// A problem about this file.
    pub(crate) fn problem(&self, kind: ProblemKind, message: impl Into<String>) -> Problem {
        Problem::new(self.loc(), kind, message)
    }

    /// Read the file as UTF-8 text.
    pub(crate) fn read(&self) -> Result<String, Problem> {
        let bytes = fs_err::read(&self.path).map_err(|e| {
            self.problem(
                ProblemKind::Unreadable,
                format!("cannot read the file: {e}"),
            )
        })?;
        String::from_utf8(bytes).map_err(|e| {
            self.problem(
                ProblemKind::Malformed,
                format!(
                    "expected UTF-8 text, found an invalid byte at offset {}",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }
}

/// `Problem` with a field, fluently.
pub(crate) trait TapField {
    /// This problem, at `field`.
    fn tap_field(self, field: impl Into<String>) -> Self;
}

impl TapField for Problem {
    fn tap_field(mut self, field: impl Into<String>) -> Self {
        self.location = self.location.field(field);
        self
    }
}

/// Check that `dir` is a readable folder.
pub(crate) fn check_dir(dir: &Path) -> Result<(), SourceError> {
    match fs_err::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(SourceError::NotADirectory {
            path: dir.to_owned(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SourceError::Missing {
            path: dir.to_owned(),
        }),
        Err(e) => Err(SourceError::Unreadable {
            path: dir.to_owned(),
            source: e,
        }),
    }
}

/// Deepest folder nesting followed (guards against symlink loops).
const MAX_DEPTH: usize = 32;

/// Every file under `dir` (any depth, hidden names skipped) for which `want(file)` holds, in
/// path order. Unreadable sub-folders become problems; an unreadable `dir` is an error.
pub(crate) fn walk(
    dir: &Path,
    want: impl Fn(&FeedFile) -> bool,
    problems: &mut Vec<Problem>,
) -> Result<Vec<FeedFile>, SourceError> {
    check_dir(dir)?;
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(dir.to_owned(), String::new(), 0)];
    let mut first = true;
    while let Some((path, rel, depth)) = stack.pop() {
        let entries = match fs_err::read_dir(&path) {
            Ok(e) => e,
            Err(e) if first => {
                return Err(SourceError::Unreadable {
                    path: dir.to_owned(),
                    source: e,
                })
            }
            Err(e) => {
                problems.push(Problem::new(
                    Location::path(rel),
                    ProblemKind::Unreadable,
                    format!("cannot read the folder: {e}"),
                ));
                continue;
            }
        };
        first = false;
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problems.push(Problem::new(
                        Location::path(rel.clone()),
                        ProblemKind::Unreadable,
                        format!("cannot list the folder: {e}"),
                    ));
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let child = entry.path();
            // Follow symlinks: a feed folder may be a tree of links into a checkout.
            let is_dir = match fs_err::metadata(&child) {
                Ok(m) if !m.is_dir() && !m.is_file() => {
                    // A FIFO would block the reader for ever, a device never end.
                    problems.push(Problem::new(
                        Location::path(child_rel),
                        ProblemKind::Unreadable,
                        "not a regular file (a FIFO, socket or device): not read",
                    ));
                    continue;
                }
                Ok(m) => m.is_dir(),
                Err(e) => {
                    problems.push(Problem::new(
                        Location::path(child_rel),
                        ProblemKind::Unreadable,
                        format!("cannot stat: {e}"),
                    ));
                    continue;
                }
            };
            if is_dir {
                if depth + 1 > MAX_DEPTH {
                    problems.push(Problem::new(
                        Location::path(child_rel),
                        ProblemKind::Skipped,
                        format!("folder nested deeper than {MAX_DEPTH} levels (a symlink loop?): not read"),
                    ));
                } else {
                    stack.push((child, child_rel, depth + 1));
                }
            } else {
                let f = FeedFile {
                    path: child,
                    rel: child_rel,
                };
                if want(&f) {
                    out.push(f);
                }
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// A problem from a JSON parse error, at its line.
pub(crate) fn json_problem(f: &FeedFile, what: &str, e: &serde_json::Error) -> Problem {
    let mut loc = f.loc();
    if e.line() > 0 {
        loc = loc.at_line(e.line());
    }
    Problem::new(loc, ProblemKind::Malformed, format!("expected {what}: {e}"))
}

/// A problem from a YAML parse error, at its line.
/// Parse YAML as `T`, refusing first a document nested deeper than any advisory is (the YAML
/// parser's time grows with the square of the nesting), with a problem at the line.
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(
    f: &FeedFile,
    what: &str,
    text: &str,
) -> Result<T, Problem> {
    if let Some(line) = crate::util::yaml::too_deep(text) {
        return Err(Problem::new(
            f.loc().at_line(line),
            ProblemKind::Malformed,
            format!("expected {what}: {}", crate::util::yaml::nesting_message()),
        ));
    }
    serde_yaml::from_str(text).map_err(|e| yaml_problem(f, what, &e))
}

pub(crate) fn yaml_problem(f: &FeedFile, what: &str, e: &serde_yaml::Error) -> Problem {
    let mut loc = f.loc();
    if let Some(l) = e.location() {
        loc = loc.at_line(l.line());
    }
    Problem::new(loc, ProblemKind::Malformed, format!("expected {what}: {e}"))
}

/// Deserialize `null` as the type's default (feeds write `aliases: null`, `secfixes: ~`).
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A scalar of any type, kept as text (`score: 7.5`, `version: 2014.1` in JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The scalar as text.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

/// The version scheme of an advisory ecosystem key, when nminus knows it (used to validate
/// event versions at load time; `None`: not validated).
pub(crate) fn scheme_for_ecosystem(eco: &str) -> Option<Scheme> {
    let family = eco
        .split(':')
        .next()
        .unwrap_or(eco)
        .trim()
        .to_ascii_lowercase();
    Some(match family.as_str() {
        "pypi" | "openstack" => Scheme::Pep440,
        "crates.io" => Scheme::Semver,
        "debian" | "ubuntu" => Scheme::Deb,
        "alpine" => Scheme::Apk,
        "almalinux" | "rocky linux" | "red hat" | "rhel" | "fedora" | "opensuse" | "suse"
        | "mageia" | "openeuler" => Scheme::Rpm,
        _ => return None,
    })
}

/// The more severe of two optional severities.
pub(crate) fn max_severity(a: Option<Severity>, b: Option<Severity>) -> Option<Severity> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Longest summary kept, in characters.
const SUMMARY_MAX: usize = 200;

/// A one-line summary from free text: the first non-empty line, blanks collapsed, cut after the
/// first sentence when the line is long, and at [`SUMMARY_MAX`] characters (with `…`).
pub(crate) fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut s = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > SUMMARY_MAX {
        if let Some(i) = s.find(". ") {
            if s[..i].chars().count() < SUMMARY_MAX {
                s.truncate(i + 1);
                return s;
            }
        }
        let cut: String = s.chars().take(SUMMARY_MAX - 1).collect();
        s = format!("{}…", cut.trim_end());
    }
    s
}

/// Push `s` unless already present or empty.
pub(crate) fn push_unique(v: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if !s.is_empty() && !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// Test data from `shared/data`, beside the repository.
#[cfg(test)]
pub(crate) fn shared(rel: &str) -> PathBuf {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")).join(rel);
    assert!(
        p.exists(),
        "test data {} is missing: these tests read the real feeds in shared/data beside the repository (see shared/data/README.md)",
        p.display()
    );
    p
}

/// Synthetic fixtures under `fixtures/advisories`.
#[cfg(test)]
pub(crate) fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/advisories")).join(rel);
    assert!(p.exists(), "fixture {} is missing", p.display());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_wired() {
        for k in KINDS {
            let s = source_for_kind(k, "feed").unwrap_or_else(|| panic!("{k} not wired"));
            assert_eq!(s.kind(), k);
        }
        assert!(source_for_kind("nvd", "x").is_none());
    }

    #[test]
    fn whole_feed_errors_name_the_path() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("nope");
        for k in KINDS {
            let e = source_for_kind(k, "f")
                .unwrap()
                .load(&missing)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("nope") && e.contains("does not exist") && e.contains("expected"),
                "{k}: {e}"
            );
        }
        let file = t.path().join("file");
        fs_err::write(&file, "x").unwrap();
        let e = source_for_kind("osv", "f")
            .unwrap()
            .load(&file)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is not a directory") && e.contains("found a file"),
            "{e}"
        );
        assert!(e.starts_with(char::is_lowercase), "{e}");
    }

    #[test]
    fn walk_skips_hidden_and_sorts() {
        let t = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(t.path().join("b/c")).unwrap();
        fs_err::create_dir_all(t.path().join(".git")).unwrap();
        for f in [
            "b/c/z.json",
            "a.json",
            ".hidden.json",
            ".git/x.json",
            "b/y.yaml",
        ] {
            fs_err::write(t.path().join(f), "{}").unwrap();
        }
        let mut problems = Vec::new();
        let files = walk(t.path(), |_| true, &mut problems).unwrap();
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a.json", "b/c/z.json", "b/y.yaml"]);
        assert!(problems.is_empty());
        assert_eq!(files[1].dirs(), ["b", "c"]);
        assert_eq!(files[2].ext(), "yaml");
        assert_eq!(files[2].name(), "y.yaml");
    }

    #[test]
    fn summaries_are_one_short_line() {
        assert_eq!(one_line("\n  A  short\n text. More"), "A short");
        let long = format!("First sentence. {}", "word ".repeat(100));
        assert_eq!(one_line(&long), "First sentence.");
        let nodot = "x".repeat(500);
        let s = one_line(&nodot);
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn schemes_of_ecosystems() {
        assert_eq!(scheme_for_ecosystem("PyPI"), Some(Scheme::Pep440));
        assert_eq!(
            scheme_for_ecosystem("Ubuntu:Pro:16.04:LTS"),
            Some(Scheme::Deb)
        );
        assert_eq!(scheme_for_ecosystem("Rocky Linux:9"), Some(Scheme::Rpm));
        assert_eq!(scheme_for_ecosystem("npm"), None);
    }
}
