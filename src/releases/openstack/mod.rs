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

mod catalog;
mod load;
mod series;
#[cfg(test)]
mod tests;

pub(crate) use series::{NextPhase, Series, SeriesStatus};

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::util::normalize_name;
use crate::version::pep440::Pep440Version;

/// The directory of deliverables released outside the cycle.
pub(crate) const INDEPENDENT_DIR: &str = "_independent";

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
        normalize_name(name)
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

fn repo_basename(repo: &str) -> &str {
    repo.rsplit('/').next().unwrap_or(repo)
}
