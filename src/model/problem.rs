//! Per-item failures as data: one bad file, line or node is recorded and the run continues.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where something was found or went wrong: a file (inside the collected root), optionally a
/// line and a field.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct Location {
    /// Path, absolute within the collected root (`/var/lib/dpkg/status`), or a node id / URL.
    pub path: String,
    /// 1-based line number, when the format has lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The field or key concerned (`Version`, `package[3].version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Location {
    /// A location naming a path only.
    pub fn path(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            field: None,
        }
    }
    /// This location at `line`.
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(u32::try_from(line).unwrap_or(u32::MAX));
        self
    }
    /// This location, field `field`.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(fl) = &self.field {
            write!(f, " (field `{fl}`)")?;
        }
        Ok(())
    }
}

/// What kind of problem.
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
pub enum ProblemKind {
    /// A file could not be read.
    Unreadable,
    /// A file or record is malformed.
    Malformed,
    /// A version string is not valid in its scheme.
    VersionUnparseable,
    /// Something was skipped on purpose (unsupported format, size limit).
    Skipped,
}

/// A per-item failure.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Problem {
    /// Where.
    pub location: Location,
    /// What kind.
    pub kind: ProblemKind,
    /// What was expected and what was found.
    pub message: String,
}

impl Problem {
    /// A new problem.
    pub fn new(location: Location, kind: ProblemKind, message: impl Into<String>) -> Self {
        Self {
            location,
            kind,
            message: message.into(),
        }
    }

    /// Whether this problem leaves a scan incomplete: an input that could not be read or was
    /// malformed does; an item skipped on purpose (an unpinned requirement, a size limit) does
    /// not.
    pub fn leaves_incomplete(&self) -> bool {
        self.kind != ProblemKind::Skipped
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
