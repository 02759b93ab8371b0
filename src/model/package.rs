//! A package as a collector found it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Location, PythonEnvironment};
use crate::version::{Scheme, Version};

/// The ecosystem a package belongs to; decides its version scheme, purl type and feeds.
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
pub enum Ecosystem {
    /// dpkg (Debian, Ubuntu).
    Deb,
    /// RPM (RHEL, Rocky, Alma, SUSE, Fedora, Mariner).
    Rpm,
    /// Alpine apk.
    Apk,
    /// Python (PyPI).
    Pypi,
    /// Rust (crates).
    Cargo,
}

impl Ecosystem {
    /// The version scheme of this ecosystem.
    pub fn scheme(self) -> Scheme {
        match self {
            Self::Deb => Scheme::Deb,
            Self::Rpm => Scheme::Rpm,
            Self::Apk => Scheme::Apk,
            Self::Pypi => Scheme::Pep440,
            Self::Cargo => Scheme::Semver,
        }
    }
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Apk => "apk",
            Self::Pypi => "pypi",
            Self::Cargo => "cargo",
        }
    }
}

impl Ecosystem {
    /// Every ecosystem.
    pub const ALL: [Self; 5] = [Self::Deb, Self::Rpm, Self::Apk, Self::Pypi, Self::Cargo];

    /// The ecosystem of a short name (`deb`, `pypi`), as [`Ecosystem::as_str`] writes it.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source package an OS binary package was built from (distro advisories match on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourcePackage {
    /// Source package name.
    pub name: String,
    /// Source version (for dpkg, the `Source: name (version)` version or the binary's).
    pub version: String,
}

/// Ecosystem-specific metadata. Only what the analyzer or a report uses is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PackageMeta {
    /// dpkg status fields.
    Deb {
        /// `Architecture`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arch: Option<String>,
        /// Selection state was `hold`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        held: bool,
        /// `Maintainer`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maintainer: Option<String>,
    },
    /// rpm header fields.
    Rpm {
        /// `EPOCH` (absent when the header has none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<u32>,
        /// `VERSION`.
        version: String,
        /// `RELEASE`.
        release: String,
        /// `ARCH`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arch: Option<String>,
        /// `SOURCERPM`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_rpm: Option<String>,
        /// `VENDOR`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor: Option<String>,
    },
    /// apk fields.
    Apk {
        /// `A:` architecture.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arch: Option<String>,
        /// `o:` origin.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    /// Python distribution.
    Python {
        /// The name as written in the metadata (before PEP 503 normalisation).
        display_name: String,
        /// The OS package manager owns it (Debian dist-packages, a dpkg/rpm-listed file):
        /// judge by distro advisories.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        os_owner: Option<String>,
        /// The virtualenv or site directory it was found in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<PythonEnvironment>,
    },
    /// A lockfile entry.
    Lock {
        /// `registry`, `git`, `path`, `url` …
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
}

/// A package found on a node.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Package {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Name (PEP 503-normalised for Python).
    pub name: String,
    /// Version string as found (for RPM: `[epoch:]version-release`).
    pub version: String,
    /// Source package (dpkg, rpm, apk origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePackage>,
    /// Package URL.
    pub purl: String,
    /// Which collector found it (`dpkg`, `rpm-sqlite`, `python-dist-info`, `cargo-lock` …).
    pub found_by: String,
    /// Where.
    pub location: Location,
    /// Ecosystem-specific metadata.
    pub meta: PackageMeta,
    /// Free-form extra facts (kept small).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

#[cfg(test)]
impl Package {
    /// A test Python distribution `name` `version` at `location`, not owned by the OS.
    pub(crate) fn pypi_for_test(name: &str, version: &str, location: &str) -> Self {
        Self {
            ecosystem: Ecosystem::Pypi,
            name: name.into(),
            version: version.into(),
            source: None,
            purl: format!("pkg:pypi/{name}@{version}"),
            found_by: "test".into(),
            location: Location::path(location),
            meta: PackageMeta::Python {
                display_name: name.into(),
                os_owner: None,
                environment: None,
            },
            extra: BTreeMap::new(),
        }
    }
}

impl Package {
    /// Parse this package's version in its ecosystem's scheme.
    pub fn parsed_version(&self) -> Result<Version, crate::version::VersionError> {
        Version::parse(self.ecosystem.scheme(), &self.version)
    }

    /// A lockfile member taken from a local path, not from a registry: a Cargo workspace member
    /// or path dependency (no `source`), a Python lock's `path` / `directory` / `editable`
    /// entry. Its name may be a registry package's, but it is the project's own code: no
    /// registry advisory is about it, so the analyzer does not match it (docs/findings.md).
    pub fn is_local_lock_member(&self) -> bool {
        matches!(&self.meta, PackageMeta::Lock { source: Some(s) } if s == "path")
    }
}
