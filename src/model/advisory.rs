//! Advisories, normalised from every feed into one OSV-shaped type. Feed wire types stay
//! private in `sources::advisory::*`.

use serde::{Deserialize, Serialize};

use crate::version::range::OsvRange;

/// What an advisory is about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AdvisoryKind {
    /// A security vulnerability.
    Vulnerability,
    /// The package is no longer maintained (RustSec informational `unmaintained`).
    Unmaintained,
    /// Unsound code (RustSec informational `unsound`).
    Unsound,
    /// Any other informational notice.
    Notice,
}

/// Severity, ordered from least to most severe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing to act on (informational).
    None,
    /// The feed gives no severity. Ranked below `low`: gate on codes (`--fail-on vulnerable`)
    /// to catch every vulnerability whatever its severity.
    Unknown,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// From a CVSS v3/v4 base score.
    pub fn from_cvss_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score > 0.0 {
            Self::Low
        } else {
            Self::None
        }
    }

    /// Parse `low`, `moderate`/`medium`, `important`/`high`, `critical`, `none`/`negligible`
    /// (distro and GitHub spellings). `None` for anything else.
    pub fn parse_word(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "none" | "negligible" | "unimportant" | "informational" => Self::None,
            "unknown" | "not yet assigned" => Self::Unknown,
            "low" => Self::Low,
            "medium" | "moderate" => Self::Medium,
            "high" | "important" => Self::High,
            "critical" => Self::Critical,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Unknown => "unknown",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_word(s).ok_or_else(|| {
            format!("unknown severity `{s}`: expected none, unknown, low, medium, high or critical")
        })
    }
}

/// How the affected versions of one package are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AffectedRanges {
    /// OSV events (`ECOSYSTEM` / `SEMVER` ranges) and an explicit `versions` list, in the
    /// package ecosystem's scheme.
    Osv {
        /// Ranges.
        ranges: Vec<OsvRange>,
        /// Explicitly listed affected versions.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        versions: Vec<String>,
    },
    /// RustSec: affected unless some `patched` or `unaffected` requirement matches.
    Rustsec {
        /// Cargo requirements of patched versions.
        patched: Vec<String>,
        /// Cargo requirements of never-affected versions.
        unaffected: Vec<String>,
    },
    /// PEP 440 alternatives as OSSA writes them (`>=17.0.0 <26.1.7, >=27.0.0 <29.0.6`).
    Pep440AnyOf {
        /// The specifier text.
        spec: String,
    },
    /// An early OSSA whose affected versions are free text (`All versions`, `Essex, Folsom`,
    /// `up to 2013.2.3, and 2014.1 to 2014.1.1`): every release of the date era (`2010.1` …
    /// `2015.1.x`, before the projects moved to semantic numbers with Liberty) up to the year
    /// the advisory was published (a 2013 release cannot be in a 2012 advisory), none after.
    OpenStackDateEra {
        /// The advisory's text, as written.
        text: String,
        /// The year the advisory was published: date-era releases of later years are not
        /// affected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        through_year: Option<u64>,
    },
    /// A distro's statement: affected below `fixed` (in the distro's scheme), or unfixed
    /// (`fixed` absent), or not affected at all.
    Distro {
        /// First fixed version; `None` = no fix yet (every version affected).
        fixed: Option<String>,
        /// The distro says this release is not affected.
        #[serde(default)]
        not_affected: bool,
    },
}

/// One affected package of an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Advisory ecosystem key: `PyPI`, `crates.io`, `OpenStack`, `Debian:12`, `Alpine:v3.18`,
    /// `Ubuntu:22.04`, `AlmaLinux:9`, `Rocky Linux:9`, `Red Hat` …
    pub ecosystem: String,
    /// Package name, normalised for its ecosystem (PEP 503 for PyPI; source package for distros;
    /// deliverable name for OpenStack).
    pub package: String,
    /// Affected versions.
    pub ranges: AffectedRanges,
    /// Fixed versions to show (first fixed version per range / patched requirements).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
}

/// An advisory from any feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// Primary id (`PYSEC-2023-1`, `RUSTSEC-2023-0001`, `OSSA-2026-012`, `DSA-5500-1`, `CVE-…`).
    pub id: String,
    /// Other ids of the same vulnerability (CVE, GHSA…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Feed name (from `advisories/sources.yaml`).
    pub source: String,
    /// Kind.
    pub kind: AdvisoryKind,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// Severity, when the feed gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// CVSS vector or score text, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// Affected packages.
    pub affected: Vec<Affected>,
    /// Publication date (RFC 3339 or `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Last modification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Withdrawal date: withdrawn advisories are loaded but never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// A link for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// File the advisory was read from (relative to the feed folder).
    #[serde(default)]
    pub file: String,
}
