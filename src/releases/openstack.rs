//! The `openstack/releases` repository as a catalog: series, their lifecycle, and every
//! deliverable's releases.
//!
//! Input (a checkout, or the copy in `../shared/data/openstack-releases`):
//! - `data/series_status.yaml`: one entry per series (name, `release-id`, status, `slurp`,
//!   `initial-release`, `eol-date`, `next-phase`). Required.
//! - `deliverables/<series>/<deliverable>.yaml` and `deliverables/_independent/*.yaml`: type,
//!   release model, repository settings (with `pypi-name`), releases (pbr versions and marker
//!   tags `<id|name>-eol|eom|em|last`), branches. A malformed file is reported as a [`Problem`]
//!   naming it, and loading continues.
//! - `release-dates.csv` (`series,deliverable,version,merged_at,releases_commit`): when each
//!   release request merged. Optional: derived from the repository's git history, it is not part
//!   of an upstream checkout; its absence is a [`ProblemKind::Skipped`] problem.
//!
//! YAML scalars are read as the text written: `release-id: 2030.10` stays `"2030.10"` (never a
//! float), `slurp: yes` and `slurp: true` are both true.
//!
//! Versions are ordered as PEP 440 (which orders pbr versions: `X.Y.Z.devN < X.Y.Z.0a1 < …
//! < X.Y.Z.0rc1 < X.Y.Z`). The rules implemented are those of the project's OpenStack domain
//! notes (`shared/docs/openstack-domain.md` §1–2):
//! - n = the newest series whose status is `maintained`; n-k by chronological ordinal; the
//!   previous SLURP = the newest series with `slurp` older than a given one.
//! - version → series is an exact lookup of (PyPI name, version) in the deliverable files; pbr
//!   dev builds (`31.0.1.dev12`) map to the greatest released tag below them.
//! - a deliverable's own status in a series comes from its marker tags first (eol > eom > em >
//!   last), then from the series.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::{normalize_pypi_name, parse_date, problem, read_text, ReleaseError};
use crate::model::{Location, Problem, ProblemKind};
use crate::version::pep440::Pep440Version;

/// The directory of deliverables released outside the cycle.
pub const INDEPENDENT_DIR: &str = "_independent";

/// Lifecycle status of a series (and, through marker tags, of a deliverable in a series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesStatus {
    /// Planned; not yet in development.
    Future,
    /// Being developed on `master`.
    Development,
    /// Released and maintained: point releases are produced.
    Maintained,
    /// Extended maintenance (older policy, replaced by Unmaintained in 2023).
    ExtendedMaintenance,
    /// Unmaintained: the branch exists, no releases are made.
    Unmaintained,
    /// End of life: the branch is deleted.
    EndOfLife,
}

impl SeriesStatus {
    /// The spelling `series_status.yaml` uses (`end of life`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Future => "future",
            Self::Development => "development",
            Self::Maintained => "maintained",
            Self::ExtendedMaintenance => "extended maintenance",
            Self::Unmaintained => "unmaintained",
            Self::EndOfLife => "end of life",
        }
    }

    /// Whether releases are still produced (maintained or in development), as the upstream
    /// helper's `is_maintained`.
    pub fn is_maintained(self) -> bool {
        matches!(self, Self::Maintained | Self::Development)
    }
}

impl fmt::Display for SeriesStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SeriesStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| {
                if c == '-' || c == '_' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        Ok(match norm.as_str() {
            "future" => Self::Future,
            "development" => Self::Development,
            "maintained" => Self::Maintained,
            "extended maintenance" => Self::ExtendedMaintenance,
            "unmaintained" => Self::Unmaintained,
            "end of life" | "eol" => Self::EndOfLife,
            _ => {
                return Err(format!(
                    "unknown status `{s}`: expected future, development, maintained, extended maintenance, unmaintained or end of life"
                ))
            }
        })
    }
}

/// The next lifecycle phase of a series, with its date when the data gives one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPhase {
    /// The status the series will have.
    pub status: SeriesStatus,
    /// When (often absent upstream).
    pub date: Option<Date>,
}

/// One release series (`caracal`, 2024.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// Codename, lower case (`caracal`).
    pub name: String,
    /// `2024.1`, as written (never a float); `None` before 2023.1.
    pub release_id: Option<String>,
    /// Chronological index, 0 = oldest. The synthetic independent series has `usize::MAX`.
    pub ordinal: usize,
    /// Status as of the data snapshot.
    pub status: SeriesStatus,
    /// Skip-level upgrade release (SLURP).
    pub slurp: bool,
    /// GA date (planned, for future and development series).
    pub initial_release: Option<Date>,
    /// End-of-life date, on series that are end of life.
    pub eol_date: Option<Date>,
    /// The next phase.
    pub next_phase: Option<NextPhase>,
}

impl Series {
    /// The release id, or the name before 2023.1 (`2024.1`, `zed`), as upstream's
    /// `Series.release_id` falls back.
    pub fn id(&self) -> &str {
        self.release_id.as_deref().unwrap_or(&self.name)
    }

    /// Whether `key` names this series (its name or release id, case-insensitive).
    pub fn is_named(&self, key: &str) -> bool {
        self.name.eq_ignore_ascii_case(key)
            || self
                .release_id
                .as_deref()
                .is_some_and(|id| id.eq_ignore_ascii_case(key))
    }

    /// The git branch this series lives on for its status: `master` (development),
    /// `stable/<id>` (maintained, extended maintenance), `unmaintained/<id>`; `None` for
    /// future and end-of-life series (an EOL branch is deleted; only its `<id>-eol` tag remains).
    pub fn branch(&self) -> Option<String> {
        match self.status {
            SeriesStatus::Development => Some("master".to_owned()),
            SeriesStatus::Maintained | SeriesStatus::ExtendedMaintenance => {
                Some(format!("stable/{}", self.id()))
            }
            SeriesStatus::Unmaintained => Some(format!("unmaintained/{}", self.id())),
            SeriesStatus::Future | SeriesStatus::EndOfLife => None,
        }
    }

    /// Whether this is the synthetic series of independent deliverables.
    pub fn is_independent(&self) -> bool {
        self.ordinal == usize::MAX
    }
}

/// The `type` of a deliverable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliverableType {
    /// `service`.
    Service,
    /// `library`.
    Library,
    /// `client-library`.
    ClientLibrary,
    /// `horizon-plugin`.
    HorizonPlugin,
    /// `tempest-plugin`.
    TempestPlugin,
    /// `trailing` (deployment tools that release after the coordinated release).
    Trailing,
    /// `other`.
    Other,
    /// A value nminus does not know, as written.
    Unrecognized(String),
}

impl DeliverableType {
    fn parse(s: &str) -> Self {
        match s.trim() {
            "service" => Self::Service,
            "library" => Self::Library,
            "client-library" => Self::ClientLibrary,
            "horizon-plugin" => Self::HorizonPlugin,
            "tempest-plugin" => Self::TempestPlugin,
            "trailing" => Self::Trailing,
            "other" => Self::Other,
            o => Self::Unrecognized(o.to_owned()),
        }
    }

    /// The value as openstack/releases writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Service => "service",
            Self::Library => "library",
            Self::ClientLibrary => "client-library",
            Self::HorizonPlugin => "horizon-plugin",
            Self::TempestPlugin => "tempest-plugin",
            Self::Trailing => "trailing",
            Self::Other => "other",
            Self::Unrecognized(o) => o,
        }
    }
}

/// The `release-model` of a deliverable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseModel {
    /// `cycle-with-rc`: one major version per series.
    CycleWithRc,
    /// `cycle-with-intermediary`: several releases per series; majors do not identify a series.
    CycleWithIntermediary,
    /// `independent`.
    Independent,
    /// `untagged`.
    Untagged,
    /// `abandoned`.
    Abandoned,
    /// Legacy or unknown values (`cycle-trailing`, `cycle-with-milestones`, `cycle-automatic`).
    Legacy(String),
}

impl ReleaseModel {
    fn parse(s: &str) -> Self {
        match s.trim() {
            "cycle-with-rc" => Self::CycleWithRc,
            "cycle-with-intermediary" => Self::CycleWithIntermediary,
            "independent" => Self::Independent,
            "untagged" => Self::Untagged,
            "abandoned" => Self::Abandoned,
            o => Self::Legacy(o.to_owned()),
        }
    }
}

/// `repository-settings` of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSettings {
    /// `openstack/nova`.
    pub repo: String,
    /// `pypi-name`, when it is given.
    pub pypi_name: Option<String>,
    /// `tarball-base`, when it is given (the artifact's name when it differs from the
    /// repository's: `keystoneauth1` for `openstack/keystoneauth`).
    #[serde(default)]
    pub tarball_base: Option<String>,
    /// `flags` (`retired`, `no-artifact-build-job`).
    pub flags: Vec<String>,
}

/// The kind of a lifecycle marker tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerKind {
    /// `-eol`: end of life.
    Eol,
    /// `-eom`: end of maintenance (the branch became unmaintained).
    Eom,
    /// `-em`: extended maintenance.
    Em,
    /// `-last`: the last release for that series of a branchless or retired deliverable.
    Last,
}

/// What a `releases[].version` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tag {
    /// A pbr (PEP 440) version.
    Version(Pep440Version),
    /// A marker tag `<series-or-id>-<kind>`; not a software version.
    Marker {
        /// The series name or release id the marker names (`yoga`, `2024.1`).
        series: String,
        /// The marker.
        kind: MarkerKind,
    },
    /// Neither (reported as a problem when loading).
    Unparsed,
}

impl Tag {
    fn parse(s: &str) -> Self {
        for (suffix, kind) in [
            ("-eol", MarkerKind::Eol),
            ("-eom", MarkerKind::Eom),
            ("-em", MarkerKind::Em),
            ("-last", MarkerKind::Last),
        ] {
            if let Some(prefix) = s.strip_suffix(suffix) {
                if !prefix.is_empty() {
                    return Self::Marker {
                        series: prefix.to_owned(),
                        kind,
                    };
                }
            }
        }
        s.parse::<Pep440Version>()
            .map_or(Self::Unparsed, Self::Version)
    }

    /// The version, when this is one.
    pub fn version(&self) -> Option<&Pep440Version> {
        match self {
            Self::Version(v) => Some(v),
            _ => None,
        }
    }
}

/// One release: a tag applied to one or more repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The version string as written (`29.0.0`, `2024.1-eom`).
    pub version: String,
    /// The parsed tag.
    pub tag: Tag,
    /// `(repo, hash)` of each project tagged.
    pub projects: Vec<(String, String)>,
    /// `(repo, tarball-base)` of the projects whose entry names a `tarball-base` of its own.
    #[serde(default)]
    pub tarball_bases: Vec<(String, String)>,
    /// When the release request merged (`release-dates.csv`), if known.
    pub released_at: Option<OffsetDateTime>,
}

impl Release {
    /// The release date, if known.
    pub fn date(&self) -> Option<Date> {
        self.released_at.map(OffsetDateTime::date)
    }

    /// Whether this is a final pbr version (no `rc`, `b`, `a` or `dev`).
    pub fn is_final(&self) -> bool {
        self.tag.version().is_some_and(|v| !v.is_prerelease())
    }
}

/// One `branches[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// `stable/2024.1`, `bugfix/27.0`.
    pub name: String,
    /// The tag the branch starts from, when `location` is a scalar (for some deliverables it
    /// is a map of repo → hash, given here as `None`).
    pub location: Option<String>,
}

/// One deliverable in one series (`deliverables/caracal/nova.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliverable {
    /// The series directory (`caracal`, `_independent`).
    pub series: String,
    /// The file stem (`nova`, `glance-store`).
    pub name: String,
    /// `team`.
    pub team: String,
    /// `type`.
    pub kind: DeliverableType,
    /// `release-model` (absent in some old series).
    pub model: Option<ReleaseModel>,
    /// `stable-branch-type`.
    pub stable_branch_type: Option<String>,
    /// `repository-settings`, in file order of keys (sorted).
    pub repos: Vec<RepoSettings>,
    /// `releases`, in file order.
    pub releases: Vec<Release>,
    /// `branches`.
    pub branches: Vec<Branch>,
}

impl Deliverable {
    /// The distribution name a release of `repo` is published under, as upstream resolves it
    /// (PEP 503-normalised): the repository's `pypi-name`, else the `tarball-base` of the
    /// release's project entry, else the repository's `tarball-base`, else the repository's
    /// basename (`openstack/keystoneauth` → `keystoneauth1`, `openstack/placement` →
    /// `openstack-placement`, `openstack/oslo.config` → `oslo-config`).
    pub fn artifact_name(&self, release: &Release, repo: &str) -> String {
        let settings = self.repos.iter().find(|r| r.repo == repo);
        let name = settings
            .and_then(|s| s.pypi_name.as_deref())
            .or_else(|| {
                release
                    .tarball_bases
                    .iter()
                    .find(|(r, _)| r == repo)
                    .map(|(_, b)| b.as_str())
            })
            .or_else(|| settings.and_then(|s| s.tarball_base.as_deref()))
            .unwrap_or_else(|| repo_basename(repo));
        normalize_pypi_name(name)
    }

    /// The newest final pbr version (no `rc`/`b`/`a`/`dev`) in this file.
    pub fn latest_final(&self) -> Option<&Release> {
        self.releases
            .iter()
            .filter(|r| r.is_final())
            .max_by(|a, b| cmp_tags(&a.tag, &b.tag))
    }

    /// The marker tags of this file naming `series` (by name or release id).
    pub fn markers_for<'a>(&'a self, series: &'a Series) -> impl Iterator<Item = MarkerKind> + 'a {
        self.releases.iter().filter_map(move |r| match &r.tag {
            Tag::Marker { series: s, kind } if series.is_named(s) => Some(*kind),
            _ => None,
        })
    }
}

fn cmp_tags(a: &Tag, b: &Tag) -> Ordering {
    match (a.version(), b.version()) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// A deliverable's own status in a series (§1.4 of the domain notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EffectiveStatus {
    /// The status: from the strongest marker tag (`eol` → end of life, `eom` → unmaintained,
    /// `em` → extended maintenance), else the series status (also for `last`).
    pub status: SeriesStatus,
    /// The marker the status comes from; `None` when inherited from the series.
    /// `Some(Last)` means the deliverable made its last release for that series (branchless
    /// plugins, retired deliverables) while the status is the series'.
    pub marker: Option<MarkerKind>,
}

/// The answer to "which release is this installed version".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The series directory of the release (`caracal`, `_independent`).
    pub series: String,
    /// The deliverable (`nova`).
    pub deliverable: String,
    /// The deliverable's type.
    pub kind: DeliverableType,
    /// The repository tagged (`openstack/nova`).
    pub repo: String,
    /// The release tag matched, as written: the version itself, or for a dev build the tag it
    /// is based on.
    pub version: String,
    /// Whether the version equals a release (PEP 440 equality).
    pub exact: bool,
    /// For an unreleased (pbr dev) build: the greatest released tag below it.
    pub based_on: Option<String>,
    /// For an unreleased build: its dev number, the commits after `based_on`.
    pub commits_after: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    version: Pep440Version,
    deliverable: usize,
    release: usize,
    repo: usize,
    /// Chronological ordinal of the series (independent: `usize::MAX`).
    ordinal: usize,
}

/// The loaded `openstack/releases` data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenStackCatalog {
    root: PathBuf,
    series: Vec<Series>,
    independent: Series,
    deliverables: Vec<Deliverable>,
    /// (series dir, deliverable name) → index into `deliverables`.
    /// Rebuilt after a cache load ([`Self::load_cached`]): JSON maps need string keys.
    #[serde(skip)]
    by_key: HashMap<(String, String), usize>,
    /// Normalised PyPI / repo name → releases, sorted by (version, ordinal).
    by_name: HashMap<String, Vec<IndexEntry>>,
}

// ---- raw YAML shapes (private; every scalar read as its text) ----

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawSeries {
    name: Option<String>,
    release_id: Option<String>,
    status: Option<String>,
    slurp: Option<String>,
    initial_release: Option<String>,
    eol_date: Option<String>,
    next_phase: Option<RawNextPhase>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawNextPhase {
    status: Option<String>,
    date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawDeliverable {
    team: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    release_model: Option<String>,
    stable_branch_type: Option<String>,
    repository_settings: BTreeMap<String, Option<RawRepoSettings>>,
    releases: Vec<RawRelease>,
    branches: Vec<RawBranch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawRepoSettings {
    pypi_name: Option<String>,
    tarball_base: Option<String>,
    #[serde(deserialize_with = "string_or_seq")]
    flags: Vec<String>,
}

/// A list of strings, also accepting one string (`flags: -retired` occurs upstream) or null.
fn string_or_seq<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRelease {
    version: Option<String>,
    projects: Vec<RawProject>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RawProject {
    repo: Option<String>,
    hash: Option<String>,
    tarball_base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawBranch {
    name: Option<String>,
    location: serde_yaml::Value,
}

/// `yes`/`true`/`on`/`y` (any case) → true; `no`/`false`/`off`/`n` → false.
fn yaml_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "y" => Some(true),
        "no" | "false" | "off" | "n" | "" => Some(false),
        _ => None,
    }
}

impl OpenStackCatalog {
    /// Load a checkout of `openstack/releases` (the directory holding `data/` and
    /// `deliverables/`).
    ///
    /// Fails when `data/series_status.yaml` is missing or not a list of series, or when
    /// `deliverables/` cannot be listed. Every other defect (a malformed deliverable file, an
    /// unparseable version, a bad line in `release-dates.csv`) is returned as a [`Problem`]
    /// naming the file, and loading continues.
    pub fn load(dir: &Path) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let mut problems = Vec::new();
        let series = load_series(&dir.join("data/series_status.yaml"), &mut problems)?;
        let independent = Series {
            name: "independent".to_owned(),
            release_id: None,
            ordinal: usize::MAX,
            status: SeriesStatus::Development,
            slurp: false,
            initial_release: None,
            eol_date: None,
            next_phase: None,
        };
        let dates = load_dates(&dir.join("release-dates.csv"), &mut problems);

        let deliverables_dir = dir.join("deliverables");
        if !deliverables_dir.is_dir() {
            return Err(ReleaseError::Missing {
                path: deliverables_dir,
                what: "the deliverables/<series>/*.yaml tree".to_owned(),
            });
        }
        let mut series_dirs: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs_err::read_dir(&deliverables_dir)? {
            let entry = entry?;
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                problems.push(problem(
                    &path,
                    ProblemKind::Skipped,
                    "series directory name is not UTF-8",
                ));
                continue;
            };
            series_dirs.push((name, path));
        }
        series_dirs.sort();

        let mut cat = Self {
            root: dir.to_path_buf(),
            series,
            independent,
            deliverables: Vec::new(),
            by_key: HashMap::new(),
            by_name: HashMap::new(),
        };

        for (series_name, path) in &series_dirs {
            let ordinal = if series_name == INDEPENDENT_DIR {
                usize::MAX
            } else if let Some(s) = cat.series.iter().find(|s| s.name == *series_name) {
                s.ordinal
            } else {
                problems.push(problem(
                    path,
                    ProblemKind::Skipped,
                    format!(
                        "series directory `{series_name}` has no entry in data/series_status.yaml; its deliverables are skipped"
                    ),
                ));
                continue;
            };
            let mut files: Vec<PathBuf> = Vec::new();
            for entry in fs_err::read_dir(path)? {
                let p = entry?.path();
                if p.extension().is_some_and(|e| e == "yaml" || e == "yml") && p.is_file() {
                    files.push(p);
                }
            }
            files.sort();
            for file in files {
                let Some(d) = load_deliverable(&file, series_name, &dates, &mut problems) else {
                    continue;
                };
                cat.add(d, ordinal);
            }
        }
        for entries in cat.by_name.values_mut() {
            entries.sort_by(|a, b| {
                a.version
                    .cmp(&b.version)
                    .then(a.ordinal.cmp(&b.ordinal))
                    .then(a.deliverable.cmp(&b.deliverable))
            });
        }
        Ok((cat, problems))
    }

    /// [`Self::load`] through the release-data cache `cache`
    /// ([`crate::sources::cache::cached`]): the same catalog and problems, read back from JSON
    /// when no file under `dir` changed. `None` parses.
    pub fn load_cached(
        dir: &Path,
        cache: Option<crate::sources::cache::CacheDir<'_>>,
    ) -> Result<(Self, Vec<Problem>), ReleaseError> {
        let (mut cat, problems): (Self, Vec<Problem>) = crate::sources::cache::cached(
            cache,
            "openstack-releases",
            &[dir.to_path_buf()],
            || Self::load(dir),
        )?;
        if cat.by_key.is_empty() {
            cat.by_key = cat
                .deliverables
                .iter()
                .enumerate()
                .map(|(i, d)| ((d.series.clone(), d.name.clone()), i))
                .collect();
        }
        Ok((cat, problems))
    }

    fn add(&mut self, d: Deliverable, ordinal: usize) {
        let di = self.deliverables.len();
        for (ri, rel) in d.releases.iter().enumerate() {
            let Tag::Version(v) = &rel.tag else { continue };
            for (project_idx, (repo, _)) in rel.projects.iter().enumerate() {
                self.by_name
                    .entry(d.artifact_name(rel, repo))
                    .or_default()
                    .push(IndexEntry {
                        version: v.clone(),
                        deliverable: di,
                        release: ri,
                        repo: project_idx,
                        ordinal,
                    });
            }
        }
        self.by_key.insert((d.series.clone(), d.name.clone()), di);
        self.deliverables.push(d);
    }

    /// The checkout this was loaded from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All series of `series_status.yaml`, oldest first (`ordinal` = index).
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The synthetic series of `deliverables/_independent` (status development, as upstream's
    /// helper has it).
    pub fn independent(&self) -> &Series {
        &self.independent
    }

    /// A series by name or release id (`caracal`, `2024.1`); `independent` and `_independent`
    /// give [`Self::independent`].
    pub fn series_named(&self, key: &str) -> Option<&Series> {
        if key == INDEPENDENT_DIR || key.eq_ignore_ascii_case("independent") {
            return Some(&self.independent);
        }
        self.series.iter().find(|s| s.is_named(key))
    }

    /// n: the newest series whose status is `maintained` (the latest GA).
    pub fn n(&self) -> Option<&Series> {
        self.series
            .iter()
            .rev()
            .find(|s| s.status == SeriesStatus::Maintained)
    }

    /// n-k: the series `k` places before n in the chronology (`n_minus(0)` = n).
    pub fn n_minus(&self, k: usize) -> Option<&Series> {
        let n = self.n()?;
        self.series.get(n.ordinal.checked_sub(k)?)
    }

    /// The newest SLURP series older than `series` (name or release id).
    pub fn previous_slurp(&self, series: &str) -> Option<&Series> {
        let s = self.series_named(series)?;
        if s.is_independent() {
            return None;
        }
        self.series[..s.ordinal].iter().rev().find(|x| x.slurp)
    }

    /// All deliverables (every series and `_independent`).
    pub fn deliverables(&self) -> &[Deliverable] {
        &self.deliverables
    }

    /// The deliverables of one series (name, release id or `_independent`).
    pub fn deliverables_in<'a>(&'a self, series: &str) -> impl Iterator<Item = &'a Deliverable> {
        let dir = self.series_dir(series);
        self.deliverables
            .iter()
            .filter(move |d| dir.as_deref() == Some(d.series.as_str()))
    }

    fn series_dir(&self, key: &str) -> Option<String> {
        let s = self.series_named(key)?;
        Some(if s.is_independent() {
            INDEPENDENT_DIR.to_owned()
        } else {
            s.name.clone()
        })
    }

    /// One deliverable file: `deliverable("nova", "2024.1")`.
    pub fn deliverable(&self, deliverable: &str, series: &str) -> Option<&Deliverable> {
        let dir = self.series_dir(series)?;
        self.by_key
            .get(&(dir, deliverable.to_owned()))
            .map(|&i| &self.deliverables[i])
    }

    /// The series a deliverable's directory stands for.
    pub fn series_of(&self, d: &Deliverable) -> Option<&Series> {
        self.series_named(&d.series)
    }

    /// Which release an installed `(name, version)` is.
    ///
    /// `name` is a PyPI distribution name (any spelling; compared after PEP 503
    /// normalisation) matched against each repository's `pypi-name` and its basename
    /// (`openstack/oslo.messaging` → `oslo-messaging`). When a name starting with
    /// `openstack-` (`openstack-placement`, `openstack-heat`) gives no match, the name without
    /// that prefix is tried. The version is compared by PEP 440 equality (`29.0` = `29.0.0`).
    ///
    /// - An exact release gives `exact: true`. The 9 (repo, version) pairs listed in two series
    ///   give the older series.
    /// - A version with a local label (`29.0.0+ubuntu1`) is not equal to the release (PEP 440)
    ///   and gives `None` unless it is also a dev build.
    /// - A pbr dev build (`31.0.1.dev12`) with no exact release gives the greatest released tag
    ///   (versions only, marker tags excluded) sorting below it, with `exact: false`,
    ///   `based_on: Some("31.0.0")` and `commits_after: Some(12)`.
    /// - Anything else (unknown name, unparseable version, a non-dev version that is not a
    ///   release) gives `None`.
    pub fn lookup(&self, name: &str, version: &str) -> Option<Match> {
        let v: Pep440Version = version.trim().parse().ok()?;
        self.candidate_names(name).into_iter().find_map(|n| {
            let entries = self.by_name.get(&n)?;
            let start = entries.partition_point(|e| e.version < v);
            if let Some(e) = entries.get(start).filter(|e| e.version == v) {
                return Some(self.to_match(e, true, None));
            }
            let dev = v.dev()?;
            let below = entries[..start].last()?;
            Some(self.to_match(below, false, Some(dev)))
        })
    }

    /// Every distribution name any release is published under (see
    /// [`Deliverable::artifact_name`]) with the deliverable and type of its newest release
    /// (`_independent` counts as newest): the agent's name table
    /// (`model/openstack_deliverables.tsv`) is exactly this, so that the agent recognises
    /// what the analyzer can map.
    pub fn name_table(&self) -> BTreeMap<String, (String, DeliverableType)> {
        self.by_name
            .iter()
            .filter_map(|(name, entries)| {
                let newest = entries.iter().max_by_key(|e| (e.ordinal, &e.version))?;
                let d = &self.deliverables[newest.deliverable];
                Some((name.clone(), (d.name.clone(), d.kind.clone())))
            })
            .collect()
    }

    /// Every release equal to `(name, version)` (usually one; see [`Self::lookup`]).
    pub fn lookup_all(&self, name: &str, version: &str) -> Vec<Match> {
        let Ok(v) = version.trim().parse::<Pep440Version>() else {
            return Vec::new();
        };
        for n in self.candidate_names(name) {
            let Some(entries) = self.by_name.get(&n) else {
                continue;
            };
            let start = entries.partition_point(|e| e.version < v);
            let found: Vec<Match> = entries[start..]
                .iter()
                .take_while(|e| e.version == v)
                .map(|e| self.to_match(e, true, None))
                .collect();
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// The normalised name, then (for `openstack-*`) the name without that prefix.
    fn candidate_names(&self, name: &str) -> Vec<String> {
        let n = normalize_pypi_name(name);
        let stripped = n
            .strip_prefix("openstack-")
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let mut out = vec![n];
        out.extend(stripped);
        out
    }

    fn to_match(&self, e: &IndexEntry, exact: bool, dev: Option<u64>) -> Match {
        let d = &self.deliverables[e.deliverable];
        let rel = &d.releases[e.release];
        Match {
            series: d.series.clone(),
            deliverable: d.name.clone(),
            kind: d.kind.clone(),
            repo: rel
                .projects
                .get(e.repo)
                .map(|(r, _)| r.clone())
                .unwrap_or_default(),
            version: rel.version.clone(),
            exact,
            based_on: (!exact).then(|| rel.version.clone()),
            commits_after: dev,
        }
    }

    /// The deliverable's own status in a series: its marker tags first (eol > eom > em >
    /// last), else the series status. `None` when the deliverable has no file in that series.
    pub fn effective_status(&self, deliverable: &str, series: &str) -> Option<EffectiveStatus> {
        let d = self.deliverable(deliverable, series)?;
        let s = self.series_of(d)?;
        let marker = d.markers_for(s).min();
        let status = match marker {
            Some(MarkerKind::Eol) => SeriesStatus::EndOfLife,
            Some(MarkerKind::Eom) => SeriesStatus::Unmaintained,
            Some(MarkerKind::Em) => SeriesStatus::ExtendedMaintenance,
            Some(MarkerKind::Last) | None => s.status,
        };
        Some(EffectiveStatus { status, marker })
    }

    /// The newest final pbr version of a deliverable in a series (no `rc`/`b`/`a`/`dev`).
    pub fn latest_in_series(&self, deliverable: &str, series: &str) -> Option<&Release> {
        self.deliverable(deliverable, series)?.latest_final()
    }

    /// The date `version` of `deliverable` in `series` was released (`release-dates.csv`).
    pub fn release_date(&self, deliverable: &str, series: &str, version: &str) -> Option<Date> {
        let d = self.deliverable(deliverable, series)?;
        let v: Option<Pep440Version> = version.parse().ok();
        d.releases
            .iter()
            .find(|r| {
                r.version == version || matches!((&r.tag, &v), (Tag::Version(a), Some(b)) if a == b)
            })
            .and_then(Release::date)
    }

    /// How many days an installed version has been behind: days from the release date of the
    /// oldest final release in the same series newer than `installed`, to `as_of`.
    ///
    /// `Some(0)` when `installed` is at or above the series' latest final release; `None`
    /// when the deliverable, the version or the needed date is unknown.
    pub fn days_behind(
        &self,
        deliverable: &str,
        series: &str,
        installed: &str,
        as_of: Date,
    ) -> Option<i64> {
        let d = self.deliverable(deliverable, series)?;
        let v: Pep440Version = installed.trim().parse().ok()?;
        let first_newer = d
            .releases
            .iter()
            .filter(|r| r.is_final() && r.tag.version().is_some_and(|x| *x > v))
            .min_by(|a, b| cmp_tags(&a.tag, &b.tag));
        match first_newer {
            None => Some(0),
            Some(r) => Some((as_of - r.date()?).whole_days().max(0)),
        }
    }
}

fn repo_basename(repo: &str) -> &str {
    repo.rsplit('/').next().unwrap_or(repo)
}

fn load_series(path: &Path, problems: &mut Vec<Problem>) -> Result<Vec<Series>, ReleaseError> {
    if !path.is_file() {
        return Err(ReleaseError::Missing {
            path: path.to_path_buf(),
            what: "the series list of openstack/releases".to_owned(),
        });
    }
    let text = read_text(path)?;
    // The YAML parser's time grows with the square of the nesting: refuse a deep document first.
    if let Some(line) = crate::util::yaml::too_deep(&text) {
        return Err(ReleaseError::malformed(
            path,
            format!("line {line}: {}", crate::util::yaml::nesting_message()),
        ));
    }
    let raw: Vec<RawSeries> = serde_yaml::from_str(&text).map_err(|e| {
        ReleaseError::malformed(path, format!("expected a YAML list of series: {e}"))
    })?;
    let loc = |i: usize, field: &str| {
        Location::path(path.display().to_string()).field(format!("[{i}].{field}"))
    };
    let mut out: Vec<Series> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let Some(name) = r.name.filter(|n| !n.trim().is_empty()) else {
            problems.push(Problem::new(
                loc(i, "name"),
                ProblemKind::Malformed,
                "series entry without a name; skipped",
            ));
            continue;
        };
        let status = match r.status.as_deref().map(str::parse::<SeriesStatus>) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                problems.push(Problem::new(
                    loc(i, "status"),
                    ProblemKind::Malformed,
                    format!("series `{name}`: {e}; skipped"),
                ));
                continue;
            }
            None => {
                problems.push(Problem::new(
                    loc(i, "status"),
                    ProblemKind::Malformed,
                    format!("series `{name}` has no status; skipped"),
                ));
                continue;
            }
        };
        let slurp = match r.slurp.as_deref().map(yaml_bool) {
            None => false,
            Some(Some(b)) => b,
            Some(None) => {
                problems.push(Problem::new(
                    loc(i, "slurp"),
                    ProblemKind::Malformed,
                    format!(
                        "series `{name}`: expected yes/no or true/false, found `{}`; taken as not SLURP",
                        r.slurp.as_deref().unwrap_or_default()
                    ),
                ));
                false
            }
        };
        let mut date = |field: &str, v: Option<String>| -> Option<Date> {
            let v = v?;
            let d = parse_date(&v);
            if d.is_none() {
                problems.push(Problem::new(
                    loc(i, field),
                    ProblemKind::Malformed,
                    format!("series `{name}`: expected a YYYY-MM-DD date, found `{v}`"),
                ));
            }
            d
        };
        let initial_release = date("initial-release", r.initial_release);
        let eol_date = date("eol-date", r.eol_date);
        let next_phase = match r.next_phase {
            None => None,
            Some(np) => {
                let d = date("next-phase.date", np.date);
                match np.status.as_deref().map(str::parse::<SeriesStatus>) {
                    Some(Ok(status)) => Some(NextPhase { status, date: d }),
                    Some(Err(e)) => {
                        problems.push(Problem::new(
                            loc(i, "next-phase.status"),
                            ProblemKind::Malformed,
                            format!("series `{name}`: {e}"),
                        ));
                        None
                    }
                    None => None,
                }
            }
        };
        out.push(Series {
            name: name.trim().to_ascii_lowercase(),
            release_id: r
                .release_id
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            ordinal: 0,
            status,
            slurp,
            initial_release,
            eol_date,
            next_phase,
        });
    }
    // The file is newest first; order oldest first, then by GA date where every series has one.
    out.reverse();
    if out.iter().all(|s| s.initial_release.is_some()) {
        out.sort_by_key(|s| s.initial_release);
    } else {
        problems.push(problem(
            path,
            ProblemKind::Malformed,
            "some series have no initial-release date; chronology taken from file order (newest first)",
        ));
    }
    for (i, s) in out.iter_mut().enumerate() {
        s.ordinal = i;
    }
    Ok(out)
}

type DateKey = (String, String, String);

fn load_dates(path: &Path, problems: &mut Vec<Problem>) -> HashMap<DateKey, OffsetDateTime> {
    let mut out = HashMap::new();
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(
                path,
                ProblemKind::Skipped,
                format!("release dates unavailable ({e}); releases have no dates"),
            ));
            return out;
        }
    };
    let rfc3339 = time::format_description::well_known::Rfc3339;
    for (i, line) in text.lines().enumerate() {
        if i == 0 && line.starts_with("series,") {
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() < 4 {
            problems.push(Problem::new(
                Location::path(path.display().to_string()).at_line(i + 1),
                ProblemKind::Malformed,
                format!(
                    "expected series,deliverable,version,merged_at[,commit], found {} columns",
                    cols.len()
                ),
            ));
            continue;
        }
        if cols[3].is_empty() {
            continue; // upstream has no date for a few releases
        }
        match OffsetDateTime::parse(cols[3], &rfc3339) {
            Ok(t) => {
                out.insert(
                    (cols[0].to_owned(), cols[1].to_owned(), cols[2].to_owned()),
                    t,
                );
            }
            Err(e) => problems.push(Problem::new(
                Location::path(path.display().to_string())
                    .at_line(i + 1)
                    .field("merged_at"),
                ProblemKind::Malformed,
                format!("expected an RFC 3339 time, found `{}`: {e}", cols[3]),
            )),
        }
    }
    out
}

fn load_deliverable(
    file: &Path,
    series: &str,
    dates: &HashMap<DateKey, OffsetDateTime>,
    problems: &mut Vec<Problem>,
) -> Option<Deliverable> {
    let Some(name) = file.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
        problems.push(problem(
            file,
            ProblemKind::Skipped,
            "file name is not UTF-8",
        ));
        return None;
    };
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(problem(file, ProblemKind::Unreadable, e.to_string()));
            return None;
        }
    };
    if let Some(line) = crate::util::yaml::too_deep(&text) {
        problems.push(Problem::new(
            Location::path(file.display().to_string()).at_line(line),
            ProblemKind::Malformed,
            format!(
                "expected a deliverable file; skipped: {}",
                crate::util::yaml::nesting_message()
            ),
        ));
        return None;
    }
    let raw: RawDeliverable = match serde_yaml::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            let mut loc = Location::path(file.display().to_string());
            if let Some(l) = e.location() {
                loc = loc.at_line(l.line());
            }
            problems.push(Problem::new(
                loc,
                ProblemKind::Malformed,
                format!("expected a deliverable file (YAML mapping); skipped: {e}"),
            ));
            return None;
        }
    };
    let field_loc = |field: String| Location::path(file.display().to_string()).field(field);
    let repos = raw
        .repository_settings
        .into_iter()
        .map(|(repo, s)| {
            let s = s.unwrap_or_default();
            RepoSettings {
                repo,
                pypi_name: s.pypi_name.filter(|p| !p.trim().is_empty()),
                tarball_base: s.tarball_base.filter(|p| !p.trim().is_empty()),
                flags: s.flags,
            }
        })
        .collect();
    let mut releases = Vec::with_capacity(raw.releases.len());
    for (i, r) in raw.releases.into_iter().enumerate() {
        let Some(version) = r
            .version
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        else {
            problems.push(Problem::new(
                field_loc(format!("releases[{i}].version")),
                ProblemKind::Malformed,
                "release without a version; skipped",
            ));
            continue;
        };
        let tag = Tag::parse(&version);
        if tag == Tag::Unparsed {
            problems.push(Problem::new(
                field_loc(format!("releases[{i}].version")),
                ProblemKind::VersionUnparseable,
                format!("`{version}` is neither a PEP 440 version nor a marker tag (<series>-eol|eom|em|last)"),
            ));
        }
        let tarball_bases = r
            .projects
            .iter()
            .filter_map(|p| {
                let base = p.tarball_base.as_deref()?.trim();
                Some((p.repo.clone()?, base.to_owned())).filter(|_| !base.is_empty())
            })
            .collect();
        let projects = r
            .projects
            .into_iter()
            .filter_map(|p| Some((p.repo?, p.hash.unwrap_or_default())))
            .collect();
        let released_at = dates
            .get(&(series.to_owned(), name.clone(), version.clone()))
            .copied();
        releases.push(Release {
            version,
            tag,
            projects,
            tarball_bases,
            released_at,
        });
    }
    let branches = raw
        .branches
        .into_iter()
        .filter_map(|b| {
            let location = match b.location {
                serde_yaml::Value::String(s) => Some(s),
                serde_yaml::Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            Some(Branch {
                name: b.name?,
                location,
            })
        })
        .collect();
    Some(Deliverable {
        series: series.to_owned(),
        name,
        team: raw.team.unwrap_or_default(),
        kind: DeliverableType::parse(raw.kind.as_deref().unwrap_or("")),
        model: raw.release_model.as_deref().map(ReleaseModel::parse),
        stable_branch_type: raw.stable_branch_type,
        repos,
        releases,
        branches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::test_data::{fixture, shared};
    use std::sync::OnceLock;

    fn catalog() -> &'static (OpenStackCatalog, Vec<Problem>) {
        static CAT: OnceLock<(OpenStackCatalog, Vec<Problem>)> = OnceLock::new();
        CAT.get_or_init(|| {
            OpenStackCatalog::load(&shared("openstack-releases")).expect("load openstack-releases")
        })
    }

    /// Through the release-data cache: what is read back equals what was parsed, lookups by
    /// (series, deliverable) and by PyPI name included.
    /// Every (artifact, version) of every deliverable file of every series maps back to that
    /// file's series and deliverable. Names and versions that upstream lists in more than one
    /// file are listed (the lookup gives the oldest; `lookup_all` gives them all), never guessed.
    #[test]
    fn every_release_of_every_series_maps_to_its_own_file() {
        let (cat, _) = catalog();
        let (mut checked, mut ambiguous) = (0usize, Vec::new());
        for d in cat.deliverables() {
            for rel in d.releases.iter().filter(|r| r.tag.version().is_some()) {
                for (repo, _) in &rel.projects {
                    let name = d.artifact_name(rel, repo);
                    let all = cat.lookup_all(&name, &rel.version);
                    checked += 1;
                    assert!(
                        all.iter()
                            .any(|m| m.series == d.series && m.deliverable == d.name && m.exact),
                        "{name} {} (deliverables/{}/{}.yaml) maps to {all:?}",
                        rel.version,
                        d.series,
                        d.name
                    );
                    if all.len() > 1 {
                        ambiguous.push(format!(
                            "{name} {}: {}",
                            rel.version,
                            all.iter()
                                .map(|m| format!("{}/{}", m.series, m.deliverable))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    let first = cat.lookup(&name, &rel.version).unwrap();
                    assert!(all.iter().any(|m| m.series == first.series));
                }
            }
        }
        ambiguous.sort();
        ambiguous.dedup();
        eprintln!(
            "{checked} (artifact, version) pairs; {} in more than one file:\n{}",
            ambiguous.len(),
            ambiguous.join("\n")
        );
        assert!(checked > 24_000, "{checked}");
        // The known ambiguities (22 in the snapshot) are releases listed in two files of
        // mitaka … queens (sahara's plugins in ocata, dashboards re-listed a series later).
        assert!(ambiguous.len() < 40, "{ambiguous:#?}");
    }

    #[test]
    fn cached_catalog_equals_parsed() {
        let cache = tempfile::tempdir().unwrap();
        let (parsed, problems) = catalog();
        let dir = shared("openstack-releases");
        for _ in 0..2 {
            let (c, p) = OpenStackCatalog::load_cached(&dir, Some(cache.path().into())).unwrap();
            assert_eq!(
                serde_json::to_value(&c).unwrap(),
                serde_json::to_value(parsed).unwrap()
            );
            assert_eq!(&p, problems);
            assert_eq!(c.by_key, parsed.by_key);
            let nova = c.deliverable("nova", "2024.1").expect("nova in 2024.1");
            assert!(nova.releases.iter().any(|r| r.version == "29.0.0"));
            assert_eq!(
                c.lookup("nova", "29.0.0").map(|m| m.series),
                Some("caracal".to_owned())
            );
        }
        assert_eq!(
            fs_err::read_dir(cache.path().join("catalogs"))
                .unwrap()
                .count(),
            1
        );
    }

    fn cat() -> &'static OpenStackCatalog {
        &catalog().0
    }

    #[test]
    fn snapshot_loads_with_few_problems() {
        let (c, problems) = catalog();
        assert!(c.deliverables().len() > 6000, "{}", c.deliverables().len());
        // The real data has a handful of non-PEP 440 tags at most; nothing else.
        for p in problems {
            assert_eq!(p.kind, ProblemKind::VersionUnparseable, "{p}");
        }
        assert!(problems.len() < 10, "{problems:?}");
        let oldest = &c.series()[0];
        assert_eq!(oldest.ordinal, 0);
        for w in c.series().windows(2) {
            assert!(w[0].initial_release <= w[1].initial_release);
            assert_eq!(w[0].ordinal + 1, w[1].ordinal);
        }
    }

    #[test]
    fn n_and_slurp() {
        let c = cat();
        let n = c.n().unwrap();
        assert_eq!(n.name, "gazpacho");
        assert_eq!(n.release_id.as_deref(), Some("2026.1"));
        assert!(n.slurp);
        assert_eq!(n.branch().as_deref(), Some("stable/2026.1"));
        assert_eq!(c.n_minus(0).unwrap().name, "gazpacho");
        assert_eq!(c.n_minus(1).unwrap().name, "flamingo");
        assert!(!c.n_minus(1).unwrap().slurp);
        assert_eq!(c.n_minus(2).unwrap().name, "epoxy");
        assert_eq!(c.previous_slurp("gazpacho").unwrap().name, "epoxy");
        assert_eq!(
            c.previous_slurp("2026.1").unwrap().release_id.as_deref(),
            Some("2025.1")
        );
        assert_eq!(c.previous_slurp("epoxy").unwrap().name, "caracal");
        assert!(c.n_minus(10_000).is_none());
        let hib = c.series_named("hibiscus").unwrap();
        assert_eq!(hib.status, SeriesStatus::Development);
        assert_eq!(hib.branch().as_deref(), Some("master"));
        let caracal = c.series_named("2024.1").unwrap();
        assert_eq!(caracal.name, "caracal");
        assert_eq!(caracal.status, SeriesStatus::Unmaintained);
        assert_eq!(caracal.branch().as_deref(), Some("unmaintained/2024.1"));
        let np = caracal.next_phase.as_ref().unwrap();
        assert_eq!(np.status, SeriesStatus::EndOfLife);
        assert_eq!(np.date, None);
        let dal = c.series_named("dalmatian").unwrap();
        assert_eq!(dal.eol_date, Some(time::macros::date!(2026 - 04 - 29)));
        assert_eq!(c.series_named("zed").unwrap().id(), "zed");
        assert_eq!(
            c.series_named("indri").unwrap().status,
            SeriesStatus::Future
        );
        assert_eq!(
            c.series_named("independent").unwrap().status,
            SeriesStatus::Development
        );
    }

    #[test]
    fn exact_lookup() {
        let c = cat();
        let m = c.lookup("nova", "29.0.0").unwrap();
        assert_eq!(
            (m.series.as_str(), m.deliverable.as_str(), m.exact),
            ("caracal", "nova", true)
        );
        assert_eq!(m.kind, DeliverableType::Service);
        assert_eq!(m.repo, "openstack/nova");
        assert_eq!(m.based_on, None);
        // PEP 440 equality: 29.0 == 29.0.0.
        assert_eq!(c.lookup("nova", "29.0").unwrap().series, "caracal");
        assert_eq!(c.lookup("Nova", "29.0.0.0rc1").unwrap().series, "caracal");
        // Horizon (cycle-with-intermediary): majors do not identify the series.
        for (v, s) in [
            ("25.0.0", "dalmatian"),
            ("25.2.0", "epoxy"),
            ("25.3.0", "epoxy"),
            ("25.4.0", "flamingo"),
            ("25.5.0", "flamingo"),
            ("25.6.0", "gazpacho"),
            ("25.7.0", "gazpacho"),
        ] {
            assert_eq!(c.lookup("horizon", v).unwrap().series, s, "horizon {v}");
        }
        // Ironic 27.x, 28.x and 29.x all in epoxy; swift 2.35 epoxy, 2.36 flamingo.
        for v in ["27.0.0", "28.0.0", "29.0.0"] {
            assert_eq!(c.lookup("ironic", v).unwrap().series, "epoxy", "ironic {v}");
        }
        assert_eq!(c.lookup("swift", "2.35.0").unwrap().series, "epoxy");
        assert_eq!(c.lookup("swift", "2.36.0").unwrap().series, "flamingo");
        // Names: PEP 503, pypi-name and the `openstack-` prefix.
        assert_eq!(
            c.lookup("oslo_messaging", "17.3.0").unwrap().deliverable,
            "oslo.messaging"
        );
        assert_eq!(
            c.lookup("openstack-heat", "26.0.1").unwrap().series,
            "gazpacho"
        );
        assert_eq!(
            c.lookup("openstack-placement", "15.0.0").unwrap().series,
            "gazpacho"
        );
        // Not a release.
        assert!(c.lookup("nova", "29.0.99").is_none());
        assert!(c.lookup("no-such-thing", "1.0.0").is_none());
        assert!(c.lookup("nova", "not a version").is_none());
        // Markers are not versions.
        assert!(c.lookup("nova", "2024.1-eom").is_none());
    }

    #[test]
    fn site_packages_fixture_versions_all_map_to_their_series() {
        // The shared fixture holds the services at the last release of their series.
        let list = crate::releases::read_text(&shared(
            "fixtures/python/openstack-site-packages/2026.1-gazpacho/expected-installed.txt",
        ))
        .unwrap();
        for (name, series) in [
            ("nova", "gazpacho"),
            ("neutron", "gazpacho"),
            ("keystone", "gazpacho"),
            ("horizon", "gazpacho"),
            ("ironic", "gazpacho"),
            ("swift", "gazpacho"),
        ] {
            let line = list
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}==")))
                .unwrap();
            let v = line.split("==").nth(1).unwrap();
            let m = c_lookup(name, v);
            assert_eq!(m.series, series, "{line}");
            assert!(m.exact);
        }
    }

    fn c_lookup(name: &str, v: &str) -> Match {
        cat()
            .lookup(name, v)
            .unwrap_or_else(|| panic!("{name} {v} not found"))
    }

    #[test]
    fn dev_builds() {
        let c = cat();
        let m = c.lookup("nova", "31.0.1.dev12").unwrap();
        assert_eq!(m.series, "epoxy");
        assert!(!m.exact);
        assert_eq!(m.based_on.as_deref(), Some("31.0.0"));
        assert_eq!(m.version, "31.0.0");
        assert_eq!(m.commits_after, Some(12));
        let m = c.lookup("nova", "31.1.1.dev9").unwrap();
        assert_eq!(m.based_on.as_deref(), Some("31.1.0"));
        assert_eq!(m.series, "epoxy");
        // A dev build before any release has no base.
        assert!(c.lookup("nova", "0.0.1.dev1").is_none());
    }

    #[test]
    fn effective_status_from_markers() {
        let c = cat();
        let o = c.effective_status("octavia", "yoga").unwrap();
        assert_eq!(o.status, SeriesStatus::EndOfLife);
        assert_eq!(o.marker, Some(MarkerKind::Eol));
        let n = c.effective_status("nova", "yoga").unwrap();
        assert_eq!(n.status, SeriesStatus::Unmaintained);
        assert_eq!(n.marker, Some(MarkerKind::Eom));
        let n = c.effective_status("nova", "dalmatian").unwrap();
        assert_eq!(n.status, SeriesStatus::EndOfLife);
        let n = c.effective_status("nova", "gazpacho").unwrap();
        assert_eq!((n.status, n.marker), (SeriesStatus::Maintained, None));
        let n = c.effective_status("nova", "2024.1").unwrap();
        assert_eq!(n.status, SeriesStatus::Unmaintained);
        assert!(c.effective_status("nova", "no-such-series").is_none());
        assert!(c.effective_status("no-such-deliverable", "yoga").is_none());
    }

    #[test]
    fn latest_and_dates() {
        let c = cat();
        let latest = c.latest_in_series("nova", "caracal").unwrap();
        assert_eq!(latest.version, "29.4.0");
        let d = latest.date().unwrap();
        assert!(d >= time::macros::date!(2024 - 04 - 03), "{d}");
        assert_eq!(c.release_date("nova", "caracal", "29.4.0"), Some(d));
        // The dalmatian deliverable ends with a marker; latest skips it and rc tags.
        let l = c.latest_in_series("nova", "dalmatian").unwrap();
        assert!(l.version.starts_with("30."), "{}", l.version);
        assert_eq!(c.days_behind("nova", "caracal", "29.4.0", d), Some(0));
        let behind = c
            .days_behind(
                "nova",
                "caracal",
                "29.0.0",
                time::macros::date!(2026 - 08 - 21),
            )
            .unwrap();
        assert!(behind > 700, "{behind}");
    }

    #[test]
    fn release_id_is_text_not_float() {
        let dir = fixture("yaml-quirks");
        let (c, problems) = OpenStackCatalog::load(&dir).unwrap();
        let s = c
            .series_named("2030.10")
            .expect("release-id kept as written");
        assert_eq!(s.name, "zzz");
        assert!(s.slurp, "slurp: true");
        assert!(c.series_named("yyy").unwrap().slurp, "slurp: yes");
        assert!(!c.series_named("xxx").unwrap().slurp);
        assert_eq!(c.n().unwrap().name, "zzz");
        assert_eq!(c.previous_slurp("zzz").unwrap().name, "yyy");
        // `version: 2.10` unquoted stays 2.10.
        let m = c.lookup("widget", "2.10").unwrap();
        assert_eq!(m.version, "2.10");
        assert_eq!(m.series, "zzz");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn malformed_files_are_problems_and_loading_continues() {
        let dir = fixture("malformed");
        let (c, problems) = OpenStackCatalog::load(&dir).unwrap();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("broken.yaml")
                    && p.kind == ProblemKind::Malformed),
            "{text:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("badversion.yaml")
                    && p.kind == ProblemKind::VersionUnparseable),
            "{text:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("notamap.yaml")),
            "{text:#?}"
        );
        assert!(
            problems.iter().any(|p| p.location.path.ends_with("orphan")),
            "series dir without status entry: {text:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.field.as_deref() == Some("[0].status")),
            "{text:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.location.path.ends_with("release-dates.csv")),
            "{text:#?}"
        );
        // The good file still loads.
        assert_eq!(c.lookup("good", "1.0.0").unwrap().series, "aaa");
        assert_eq!(c.lookup("good", "1.0.0").unwrap().deliverable, "good");
        // The version next to a bad one still loads.
        assert!(c.lookup("badversion", "2.0.0").is_some());
    }

    #[test]
    fn missing_series_status_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = OpenStackCatalog::load(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("series_status.yaml"), "{err}");
        fs_err::create_dir_all(tmp.path().join("data")).unwrap();
        fs_err::write(tmp.path().join("data/series_status.yaml"), "{ not: [a list").unwrap();
        let err = OpenStackCatalog::load(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("series_status.yaml"), "{err}");
    }

    /// Nesting deeper than any release file is refused before the YAML parser sees it (its
    /// time grows with the square of the depth): the series list is an error, a deliverable
    /// file a problem at its line while the rest loads.
    #[test]
    fn deeply_nested_release_yaml_is_refused_before_parsing() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = format!("team: x\nreleases: {}\n", "[".repeat(200_000));
        fs_err::create_dir_all(tmp.path().join("data")).unwrap();
        fs_err::write(
            tmp.path().join("data/series_status.yaml"),
            format!("- name: zed\n  status: {}\n", "[".repeat(200_000)),
        )
        .unwrap();
        let err = OpenStackCatalog::load(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("series_status.yaml") && err.contains("line 2"),
            "{err}"
        );
        fs_err::write(
            tmp.path().join("data/series_status.yaml"),
            "- name: zed\n  status: maintained\n  initial-release: 2022-10-05\n",
        )
        .unwrap();
        fs_err::create_dir_all(tmp.path().join("deliverables/zed")).unwrap();
        fs_err::write(tmp.path().join("deliverables/zed/deep.yaml"), deep).unwrap();
        fs_err::write(
            tmp.path().join("deliverables/zed/nova.yaml"),
            "team: nova\ntype: service\nreleases:\n  - version: 26.0.0\n    projects:\n      - repo: openstack/nova\n        hash: abc\n",
        )
        .unwrap();
        let (cat, problems) = OpenStackCatalog::load(tmp.path()).unwrap();
        assert!(cat.lookup("nova", "26.0.0").is_some());
        let p = problems
            .iter()
            .find(|p| p.location.path.ends_with("deep.yaml"))
            .unwrap_or_else(|| panic!("{problems:#?}"));
        assert_eq!(p.location.line, Some(2), "{p}");
    }

    #[test]
    fn tag_parsing() {
        assert_eq!(
            Tag::parse("2024.1-eom"),
            Tag::Marker {
                series: "2024.1".into(),
                kind: MarkerKind::Eom
            }
        );
        assert_eq!(
            Tag::parse("yoga-eol"),
            Tag::Marker {
                series: "yoga".into(),
                kind: MarkerKind::Eol
            }
        );
        assert!(matches!(Tag::parse("29.0.0.0rc1"), Tag::Version(_)));
        assert_eq!(Tag::parse("-eol"), Tag::Unparsed);
        assert_eq!(Tag::parse("not-a-version"), Tag::Unparsed);
    }
}
