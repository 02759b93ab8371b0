//! Feed definitions (`advisories/sources.yaml`) and loading every feed of a data directory.
//!
//! A feed is one folder of the data directory holding the feed's upstream tree as published.
//! Loading is offline: it reads folders only (fetching is `nminus sync`). Feeds load in parallel,
//! one thread each; a feed that is missing or broken is reported in its [`FeedStatus`] and the
//! others proceed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::advisory::{source_for_kind, KINDS};
use super::compiled::FeedLoadError;
use crate::model::{Advisory, FeedStatus, Problem};

/// Kinds of release-data feeds (read by `crate::releases`, not by the advisory readers).
pub(crate) const RELEASE_KINDS: [&str; 6] = [
    "openstack-releases",
    "openstack-requirements",
    "endoflife",
    "distro-info",
    "debian-security-support",
    "apt-indexes",
];

/// The shipped feed definitions.
pub(crate) const BUILTIN_SOURCES: &str = include_str!("../../advisories/sources.yaml");

/// Where a feed comes from, for `nminus sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// A git repository URL.
    #[serde(default)]
    pub git: Option<String>,
    /// Its branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// The folder inside the repository or archive that the feed folder corresponds to.
    #[serde(default)]
    pub subdir: Option<String>,
    /// An archive or single-file URL (`.tar.gz`, or a JSON document with `file`).
    #[serde(default)]
    pub archive: Option<String>,
    /// File name to store a single-file download as.
    #[serde(default)]
    pub file: Option<String>,
    /// Expected sha256 of the archive, when pinned.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// One feed definition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedDef {
    /// Feed name (unique; recorded on every advisory).
    pub name: String,
    /// Reader kind (`osv`, `rustsec`, `ossa`, `debian-tracker`, `alpine-secdb`, `csaf-vex`).
    pub kind: String,
    /// Folder inside the data directory.
    pub folder: String,
    /// Upstream, for sync.
    #[serde(default)]
    pub upstream: Option<Upstream>,
    /// A scan warns when the feed was synced longer ago than this.
    #[serde(default)]
    pub max_age_days: Option<u32>,
    /// What the feed judges, as the ecosystems packages are looked up under (`crates.io`,
    /// `pypi`, `openstack`, `debian`, `ubuntu`, `alpine`, `red hat`, `almalinux`,
    /// `rocky linux`; release data: none). When the feed cannot be loaded, a scan of packages
    /// it covers is incomplete. Default by kind (see [`FeedDef::covers`]).
    #[serde(default)]
    pub covers: Option<Vec<String>>,
}

impl FeedDef {
    /// The ecosystems this feed judges: as configured, else by kind (`rustsec`: crates.io,
    /// `ossa`: openstack, `debian-tracker`: debian, `alpine-secdb`: alpine; release data:
    /// none). `None`: unknown (an `osv` or `csaf-vex` feed that does not say), taken as covering
    /// everything.
    pub fn covers(&self) -> Option<Vec<String>> {
        if let Some(c) = &self.covers {
            return Some(c.iter().map(|e| e.to_ascii_lowercase()).collect());
        }
        let by_kind: &[&str] = match self.kind.as_str() {
            "rustsec" => &["crates.io"],
            "ossa" => &["openstack"],
            "debian-tracker" => &["debian"],
            "alpine-secdb" => &["alpine"],
            "openstack-releases"
            | "openstack-requirements"
            | "endoflife"
            | "distro-info"
            | "debian-security-support"
            | "apt-indexes" => &[],
            _ => return None,
        };
        Some(by_kind.iter().map(|s| (*s).to_owned()).collect())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    feeds: Vec<FeedDef>,
}

/// The feed definitions.
#[derive(Debug, Clone)]
pub struct FeedsConfig {
    /// Feeds, in file order.
    pub feeds: Vec<FeedDef>,
}

/// Why feed definitions could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedsError {
    /// Unreadable file.
    #[error("cannot read feed definitions: {0}")]
    Io(#[from] std::io::Error),
    /// Invalid content; the message names the file, line and field.
    #[error("{0}")]
    Invalid(String),
}

impl FeedsConfig {
    /// The folder of the first feed of `kind` under `data`, when defined and present.
    pub fn folder_of_kind(&self, data: &Path, kind: &str) -> Option<PathBuf> {
        self.feeds
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| data.join(&f.folder))
            .find(|p| p.exists())
    }

    /// The shipped definitions.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_SOURCES, "advisories/sources.yaml")
            .unwrap_or(Self { feeds: Vec::new() })
    }

    /// Read definitions from a file.
    pub fn load(path: &Path) -> Result<Self, FeedsError> {
        let text = fs_err::read_to_string(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse definitions; every problem is reported at once, with line numbers where known.
    pub fn parse(text: &str, file: &str) -> Result<Self, FeedsError> {
        if let Some(line) = crate::util::yaml::too_deep(text) {
            return Err(FeedsError::Invalid(format!(
                "{file}:{line}: {}",
                crate::util::yaml::nesting_message()
            )));
        }
        let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            FeedsError::Invalid(format!("{file}{at}: {e}"))
        })?;
        let mut errors = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, f) in raw.feeds.iter().enumerate() {
            if !names.insert(f.name.as_str()) {
                errors.push(format!(
                    "{file}: feeds[{i}].name: feed `{}` is defined twice",
                    f.name
                ));
            }
            if !KINDS.contains(&f.kind.as_str()) && !RELEASE_KINDS.contains(&f.kind.as_str()) {
                errors.push(format!(
                    "{file}: feeds[{i}].kind: unknown kind `{}`: expected one of {}",
                    f.kind,
                    KINDS
                        .iter()
                        .chain(RELEASE_KINDS.iter())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if f.folder.is_empty()
                || Path::new(&f.folder).is_absolute()
                || f.folder.split('/').any(|c| c == "..")
            {
                errors.push(format!("{file}: feeds[{i}].folder: expected a relative path inside the data directory, found `{}`", f.folder));
            }
        }
        if errors.is_empty() {
            Ok(Self { feeds: raw.feeds })
        } else {
            Err(FeedsError::Invalid(errors.join("\n")))
        }
    }

    /// Keep only the named feeds (all when `only` is empty); unknown names are an error.
    pub fn select(mut self, only: &[String]) -> Result<Self, FeedsError> {
        if only.is_empty() {
            return Ok(self);
        }
        for n in only {
            if !self.feeds.iter().any(|f| &f.name == n) {
                let known: Vec<&str> = self.feeds.iter().map(|f| f.name.as_str()).collect();
                return Err(FeedsError::Invalid(format!(
                    "unknown feed `{n}`: expected one of {}",
                    known.join(", ")
                )));
            }
        }
        self.feeds.retain(|f| only.contains(&f.name));
        Ok(self)
    }
}

/// Sync state recorded by `nminus sync` in `<data>/.nminus/state.json`.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct SyncState {
    /// Feed name → state.
    #[serde(default)]
    pub feeds: std::collections::BTreeMap<String, FeedSync>,
}

/// One feed's last sync.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct FeedSync {
    /// RFC 3339 time of the last successful sync.
    pub synced_at: String,
    /// Where from.
    pub from: String,
    /// Git commit or content digest.
    #[serde(default)]
    pub revision: Option<String>,
}

impl SyncState {
    /// The state file of a data directory.
    pub fn path(data: &Path) -> PathBuf {
        data.join(".nminus").join("state.json")
    }

    /// Read it (empty when absent or unreadable).
    pub fn load(data: &Path) -> Self {
        fs_err::read(Self::path(data))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

/// One feed's advisories: parsed from the feed's files in this run, or compiled (read back from
/// the cache as one buffer, each advisory decoded only when a lookup reaches it).
#[derive(Debug)]
pub enum FeedAdvisories {
    /// Parsed now.
    Parsed(Vec<Advisory>),
    /// From a cache entry (see [`super::cache`]).
    Compiled(super::compiled::CompiledFeed),
}

impl FeedAdvisories {
    /// Number of advisories (withdrawn included).
    pub fn len(&self) -> usize {
        match self {
            Self::Parsed(v) => v.len(),
            Self::Compiled(c) => c.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every advisory, decoded (a compiled advisory that does not decode is left out; see
    /// [`super::compiled::CompiledFeed::decode`]).
    pub fn decode_all(&self) -> Vec<Advisory> {
        match self {
            Self::Parsed(v) => v.clone(),
            Self::Compiled(c) => (0..c.len()).filter_map(|i| c.decode(i).ok()).collect(),
        }
    }
}

/// Everything loaded from a data directory.
#[derive(Debug, Default)]
pub struct LoadedFeeds {
    /// Advisories of every feed, one element per loaded feed, in feed order.
    pub advisories: Vec<FeedAdvisories>,
    /// One status per feed.
    pub status: Vec<FeedStatus>,
    /// Problems inside feeds (bad records).
    pub problems: Vec<Problem>,
}

/// Load every feed of `cfg` from `data`, plus operator advisories from `local` (an OSV folder,
/// always loaded when it exists). `today` (`YYYY-MM-DD`) decides feed-age notes.
pub fn load_all(
    cfg: &FeedsConfig,
    data: &Path,
    local: Option<&Path>,
    today: Option<time::Date>,
) -> LoadedFeeds {
    let state = SyncState::load(data);
    let mut jobs: Vec<(String, String, PathBuf, Option<u32>)> = cfg
        .feeds
        .iter()
        // Release-data feeds are read by `crate::releases`.
        .filter(|f| KINDS.contains(&f.kind.as_str()))
        .map(|f| {
            (
                f.name.clone(),
                f.kind.clone(),
                data.join(&f.folder),
                f.max_age_days,
            )
        })
        .collect();
    if let Some(l) = local.filter(|l| l.is_dir()) {
        jobs.push(("local".to_owned(), "osv".to_owned(), l.to_path_buf(), None));
    }
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(name, kind, dir, _)| {
                s.spawn(move || {
                    let src = source_for_kind(kind, name)
                        .ok_or_else(|| FeedLoadError::UnknownKind(kind.clone()))?;
                    Ok::<_, FeedLoadError>(src.load(dir)?)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(FeedLoadError::Panicked)))
            .collect()
    });
    let mut out = LoadedFeeds::default();
    for ((name, kind, dir, max_age), r) in jobs.into_iter().zip(results) {
        match r {
            Ok(mut loaded) => {
                let note = age_note(&state, &name, max_age, today);
                out.status.push(FeedStatus {
                    name: name.clone(),
                    kind,
                    loaded: true,
                    advisories: loaded.advisories.len(),
                    note,
                });
                for p in &mut loaded.problems {
                    p.location.path = format!("{}/{}", dir.display(), p.location.path);
                }
                out.advisories.push(FeedAdvisories::Parsed(std::mem::take(
                    &mut loaded.advisories,
                )));
                out.problems.append(&mut loaded.problems);
            }
            Err(e) => {
                out.status.push(FeedStatus {
                    name,
                    kind,
                    loaded: false,
                    advisories: 0,
                    note: Some(e.to_string()),
                });
            }
        }
    }
    out
}

impl LoadedFeeds {
    /// Why the operator's own advisories (`--local-advisories`, the `local` feed) are not whole,
    /// if they are not: the folder could not be read, or files in it could not be used. Unlike
    /// an upstream feed's odd record, each of these is an advisory the operator wrote and
    /// expects to be applied, so the scan is incomplete (exit 2) until it is fixed.
    pub fn local_incomplete(&self, local: Option<&Path>) -> Option<String> {
        let local = local?;
        let status = self.status.iter().find(|s| s.name == "local")?;
        if !status.loaded {
            return Some(format!(
                "local advisories `{}` could not be loaded: {}",
                local.display(),
                status.note.as_deref().unwrap_or("unreadable")
            ));
        }
        let prefix = format!("{}/", local.display());
        let bad: Vec<&str> = self
            .problems
            .iter()
            .filter(|p| p.location.path.starts_with(&prefix))
            .map(|p| p.location.path.as_str())
            .collect();
        (!bad.is_empty()).then(|| {
            format!(
                "local advisories: {} problem(s) in `{}` (first: {}): those advisories are not applied",
                bad.len(),
                local.display(),
                bad[0]
            )
        })
    }

    /// Every advisory of every feed, decoded, in feed order (tests and exports; a scan decodes
    /// only what its lookups reach).
    pub fn all_advisories(&self) -> Vec<Advisory> {
        self.advisories
            .iter()
            .flat_map(FeedAdvisories::decode_all)
            .collect()
    }
}

pub(crate) fn age_note(
    state: &SyncState,
    name: &str,
    max_age: Option<u32>,
    today: Option<time::Date>,
) -> Option<String> {
    let Some(s) = state.feeds.get(name) else {
        return (name != "local").then(|| "not synced by nminus: age unknown".to_owned());
    };
    let synced =
        time::OffsetDateTime::parse(&s.synced_at, &time::format_description::well_known::Rfc3339)
            .ok()?;
    let today = today?;
    let days = (today - synced.date()).whole_days();
    match max_age {
        Some(m) if days > i64::from(m) => Some(format!(
            "synced {days} days ago, more than the {m} allowed: run `nminus sync --feed {name}`"
        )),
        _ => Some(format!("synced {days} days ago")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_definitions_parse() {
        let c = FeedsConfig::parse(BUILTIN_SOURCES, "advisories/sources.yaml").unwrap();
        assert!(c.feeds.iter().any(|f| f.name == "ossa" && f.kind == "ossa"));
    }

    #[test]
    fn every_problem_at_once() {
        let text = "feeds:\n  - {name: a, kind: nope, folder: x}\n  - {name: a, kind: osv, folder: ../up}\n";
        let e = FeedsConfig::parse(text, "s.yaml").unwrap_err().to_string();
        assert!(e.contains("feeds[0].kind: unknown kind `nope`"), "{e}");
        assert!(
            e.contains("feeds[1].name: feed `a` is defined twice"),
            "{e}"
        );
        assert!(e.contains("feeds[1].folder"), "{e}");
        let e = FeedsConfig::parse(
            "feeds:\n  - {name: a, kind: osv, folder: x, colour: red}\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("s.yaml:2:"), "{e}");
    }
}
