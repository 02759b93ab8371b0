//! Upstream release catalogs: what the newest releases are, and how long each is supported.
//!
//! Everything here is read from upstream data at run time; no series, status, date or
//! version→series map is written into the code.
//!
//! - [`openstack`]: the `openstack/releases` repository — series and their lifecycle
//!   (`data/series_status.yaml`), every deliverable's releases (`deliverables/<series>/*.yaml`),
//!   release dates (`release-dates.csv`). Answers "n", "n-1", "previous SLURP", "which series is
//!   nova 29.0.0", "is octavia still maintained in yoga", "latest nova in 2024.1".
//! - [`requirements`]: `openstack/requirements` upper-constraints per branch, and the branch ↔
//!   series mapping.
//! - [`endoflife`]: endoflife.date product lifecycles (databases, message queues, Python,
//!   distributions), Debian's distro-info-data and debian-security-support lists.
//! - [`apt`]: Debian `Packages` indexes → the candidate version apt would install, with the
//!   `InRelease` checksums verified (not the signatures).
//!
//! Loaders take a directory (or files), return the catalog plus a list of per-file
//! [`Problem`]s for entries they skipped, and fail with a [`ReleaseError`] only when the input as
//! a whole is unusable.

pub(crate) mod apt;
pub(crate) mod distro;
pub(crate) mod endoflife;
pub(crate) mod openstack;
pub(crate) mod requirements;

use std::path::{Path, PathBuf};

use time::Date;

use crate::model::{Location, Problem, ProblemKind};

pub(crate) use openstack::SeriesStatus;

/// Why a catalog could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// A required file or directory could not be read (the message names the path).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A required file is missing.
    #[error("{path}: required file is missing ({what})")]
    Missing {
        /// The path expected.
        path: PathBuf,
        /// What the file is.
        what: String,
    },
    /// A required file is malformed as a whole.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        message: String,
    },
    /// An index does not match the sha256 its `InRelease` file lists.
    #[error("{0}")]
    ChecksumMismatch(Box<ChecksumMismatch>),
}

/// The details of [`ReleaseError::ChecksumMismatch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}: sha256 of the index is {found} ({found_size} bytes), but {} lists {expected} ({expected_size} bytes) for `{entry}`",
    path.display(),
    inrelease.display()
)]
pub struct ChecksumMismatch {
    /// The index file.
    pub path: PathBuf,
    /// The `InRelease` file.
    pub inrelease: PathBuf,
    /// The entry name inside `InRelease` (`main/binary-amd64/Packages`).
    pub entry: String,
    /// The sha256 listed.
    pub expected: String,
    /// The size listed.
    pub expected_size: u64,
    /// The sha256 computed.
    pub found: String,
    /// The size computed.
    pub found_size: u64,
}

impl ReleaseError {
    fn malformed(path: &Path, message: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// Parse a `YYYY-MM-DD` date; a longer string (`2024-04-03T12:00:00Z`) is read by its first ten
/// characters.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let head = s.get(..10)?;
    if s.len() > 10 && !s[10..].starts_with(['T', ' ', 't']) {
        return None;
    }
    let b = head.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &head[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// A problem located at `path`.
pub(crate) fn problem(path: &Path, kind: ProblemKind, message: impl Into<String>) -> Problem {
    Problem::new(Location::path(path.display().to_string()), kind, message)
}

/// A whole text file; the error names the path.
pub(crate) fn read_text(path: &Path) -> Result<String, std::io::Error> {
    fs_err::read_to_string(path)
}

#[cfg(test)]
pub(crate) mod test_data {
    //! Paths of the shared real data, with a clear panic when it is missing.
    use std::path::PathBuf;

    /// `../shared/data/<rel>`, or a panic naming it.
    pub(crate) fn shared(rel: &str) -> PathBuf {
        let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")).join(rel);
        assert!(
            p.exists(),
            "test data {} is missing: these tests read the shared real data set in ../shared/data",
            p.display()
        );
        p
    }

    /// `fixtures/releases/<rel>`.
    pub(crate) fn fixture(rel: &str) -> PathBuf {
        let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/releases")).join(rel);
        assert!(p.exists(), "fixture {} is missing", p.display());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(
            crate::util::normalize_name("oslo.messaging"),
            "oslo-messaging"
        );
        assert_eq!(crate::util::normalize_name("Glance_Store"), "glance-store");
        assert_eq!(crate::util::normalize_name("a-_.b"), "a-b");
        assert_eq!(crate::util::normalize_name("Tempest"), "tempest");
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2024-04-03"),
            Some(time::macros::date!(2024 - 04 - 03))
        );
        assert_eq!(
            parse_date("2019-04-05T08:12:33Z"),
            Some(time::macros::date!(2019 - 04 - 05))
        );
        assert_eq!(parse_date("2024-13-03"), None);
        assert_eq!(parse_date("true"), None);
        assert_eq!(parse_date("2024-04-031"), None);
        assert_eq!(parse_date("２０２４-01-01"), None);
    }
}
