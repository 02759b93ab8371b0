//! Inventory × advisories (× releases × policy) → findings.
//!
//! Matching rules that decide correctness (DESIGN §5):
//! - OS packages (dpkg, rpm, apk) are judged by their distro's own advisories, by *source*
//!   package and source version: distros backport fixes, so upstream numbers mean nothing there.
//! - Python distributions owned by the OS package manager are distro packages: they are not
//!   matched against PyPI or OSSA advisories.
//! - OpenStack deliverables installed from PyPI (venvs, pip) are matched against OSSA by
//!   deliverable name and against PyPA by PyPI name.
//! - Withdrawn advisories never match; aliases merge (one finding per vulnerability per package
//!   instance, listing every id).
//! - An unparseable installed version is a `version-unparseable` finding; an advisory range that
//!   cannot be evaluated is an `advisory-unevaluable` finding. Never silence.

mod currency;
mod engine;
mod index;
mod matching;
mod report;
mod verdicts;
mod waivers;

/// The gate is the policy's; re-exported where the engine's callers have always found it.
pub(crate) use crate::policy::{Gate, GateTerm};
pub(crate) use currency::CatalogPart;
pub use currency::{judge_currency, n_as_of, CatalogPaths, Catalogs};
pub(crate) use engine::EngineError;
pub use engine::{Analyzer, AnalyzerConfig};
pub use index::AdvisoryIndex;
pub use matching::{lookup_keys, match_inventory};
pub use report::{build_report, ReportInput};
pub(crate) use verdicts::DistroKeys;
pub use waivers::apply_waivers;
pub(crate) use waivers::waiver_covers;
