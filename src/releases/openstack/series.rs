//! Release series: their lifecycle status and the catalog's questions about them (n, n-k,
//! the previous SLURP).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::Date;

use super::*;

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

impl OpenStackCatalog {
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
}
