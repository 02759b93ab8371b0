//! Version parsing and total ordering, one file per scheme.
//!
//! Every verdict nminus gives rests on ordering two version strings in their ecosystem's
//! scheme. A [`Version`] carries its [`Scheme`]; comparing versions of two different schemes is
//! an error ([`VersionError::SchemeMismatch`]), never a guess. Each scheme lives in its own file
//! and implements [`VersionScheme`]; the [`Scheme`] enum dispatches with one exhaustive `match`
//! (no registry macros), so "what is supported" is greppable.
//!
//! This module does no I/O.

pub mod apk;
pub mod dpkg;
pub mod generic;
pub mod pep440;
pub mod range;
pub mod rpm;
pub mod semver;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A version scheme: the ordering rules of one ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Debian / Ubuntu (`dpkg --compare-versions`).
    Deb,
    /// RPM (`rpmvercmp`, epochs, `~` and `^`).
    Rpm,
    /// Alpine apk (`apk version -t`).
    Apk,
    /// Python PEP 440 (`packaging.version`).
    Pep440,
    /// Semantic Versioning 2.0.0 (Cargo, npm).
    Semver,
    /// A best-effort guess for schemes nminus does not know; results say so.
    Generic,
}

impl Scheme {
    /// All schemes, in a stable order.
    pub const ALL: [Self; 6] = [
        Self::Deb,
        Self::Rpm,
        Self::Apk,
        Self::Pep440,
        Self::Semver,
        Self::Generic,
    ];

    /// The canonical short name (`deb`, `rpm`, `apk`, `pep440`, `semver`, `generic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Apk => "apk",
            Self::Pep440 => "pep440",
            Self::Semver => "semver",
            Self::Generic => "generic",
        }
    }

    /// Whether ordering in this scheme is exact (false only for [`Scheme::Generic`]).
    pub fn is_exact(self) -> bool {
        !matches!(self, Self::Generic)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "deb" | "dpkg" | "debian" | "ubuntu" => Self::Deb,
            "rpm" | "redhat" => Self::Rpm,
            "apk" | "alpine" => Self::Apk,
            "pep440" | "pypi" | "python" => Self::Pep440,
            "semver" | "cargo" | "crates.io" | "npm" => Self::Semver,
            "generic" => Self::Generic,
            _ => {
                return Err(VersionError::UnknownScheme {
                    found: s.to_owned(),
                })
            }
        })
    }
}

/// Why a version string could not be parsed or two versions could not be compared.
///
/// Messages say what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The string is not a valid version in `scheme`.
    #[error("invalid {scheme} version `{input}`: {reason}")]
    Invalid {
        /// The scheme the string was parsed in.
        scheme: Scheme,
        /// The offending input.
        input: String,
        /// What was expected and what was found.
        reason: String,
    },
    /// Two versions of different schemes were compared.
    #[error("cannot compare a {left} version with a {right} version")]
    SchemeMismatch {
        /// Scheme of the left-hand version.
        left: Scheme,
        /// Scheme of the right-hand version.
        right: Scheme,
    },
    /// An unknown scheme name.
    #[error(
        "unknown version scheme `{found}`: expected one of deb, rpm, apk, pep440, semver, generic"
    )]
    UnknownScheme {
        /// The name given.
        found: String,
    },
}

impl VersionError {
    /// Shorthand for [`VersionError::Invalid`].
    pub fn invalid(scheme: Scheme, input: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            scheme,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

/// One ecosystem's version rules. Implemented once per scheme file.
pub trait VersionScheme {
    /// The parsed representation.
    type Parsed: fmt::Debug + Clone;
    /// The scheme this implements.
    const SCHEME: Scheme;
    /// Parse a version string; errors say what was expected and what was found.
    fn parse(input: &str) -> Result<Self::Parsed, VersionError>;
    /// Total order over parsed versions.
    fn compare(a: &Self::Parsed, b: &Self::Parsed) -> Ordering;
    /// The canonical text form (equal versions have equal normal forms).
    fn normalize(p: &Self::Parsed) -> String;
    /// The components, as JSON, for `nminus version parse`.
    fn components(p: &Self::Parsed) -> serde_json::Value;
}

/// A parsed version of one scheme.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// Debian.
    Deb(dpkg::DebVersion),
    /// RPM.
    Rpm(rpm::RpmVersion),
    /// Alpine.
    Apk(apk::ApkVersion),
    /// PEP 440.
    Pep440(pep440::Pep440Version),
    /// SemVer.
    Semver(semver::SemVersion),
    /// Generic guess.
    Generic(generic::GenericVersion),
}

/// A version string together with its scheme and parsed form.
#[derive(Debug, Clone)]
pub struct Version {
    scheme: Scheme,
    raw: String,
    parsed: Parsed,
}

impl Version {
    /// Parse `raw` in `scheme`.
    pub fn parse(scheme: Scheme, raw: &str) -> Result<Self, VersionError> {
        let parsed = match scheme {
            Scheme::Deb => Parsed::Deb(dpkg::Dpkg::parse(raw)?),
            Scheme::Rpm => Parsed::Rpm(rpm::Rpm::parse(raw)?),
            Scheme::Apk => Parsed::Apk(apk::Apk::parse(raw)?),
            Scheme::Pep440 => Parsed::Pep440(pep440::Pep440::parse(raw)?),
            Scheme::Semver => Parsed::Semver(semver::SemVer::parse(raw)?),
            Scheme::Generic => Parsed::Generic(generic::Generic::parse(raw)?),
        };
        Ok(Self {
            scheme,
            raw: raw.to_owned(),
            parsed,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The string as found.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parsed form.
    pub fn parsed(&self) -> &Parsed {
        &self.parsed
    }

    /// Compare with another version of the same scheme.
    pub fn compare(&self, other: &Self) -> Result<Ordering, VersionError> {
        Ok(match (&self.parsed, &other.parsed) {
            (Parsed::Deb(a), Parsed::Deb(b)) => dpkg::Dpkg::compare(a, b),
            (Parsed::Rpm(a), Parsed::Rpm(b)) => rpm::Rpm::compare(a, b),
            (Parsed::Apk(a), Parsed::Apk(b)) => apk::Apk::compare(a, b),
            (Parsed::Pep440(a), Parsed::Pep440(b)) => pep440::Pep440::compare(a, b),
            (Parsed::Semver(a), Parsed::Semver(b)) => semver::SemVer::compare(a, b),
            (Parsed::Generic(a), Parsed::Generic(b)) => generic::Generic::compare(a, b),
            _ => {
                return Err(VersionError::SchemeMismatch {
                    left: self.scheme,
                    right: other.scheme,
                })
            }
        })
    }

    /// The canonical text form.
    pub fn normalized(&self) -> String {
        match &self.parsed {
            Parsed::Deb(p) => dpkg::Dpkg::normalize(p),
            Parsed::Rpm(p) => rpm::Rpm::normalize(p),
            Parsed::Apk(p) => apk::Apk::normalize(p),
            Parsed::Pep440(p) => pep440::Pep440::normalize(p),
            Parsed::Semver(p) => semver::SemVer::normalize(p),
            Parsed::Generic(p) => generic::Generic::normalize(p),
        }
    }

    /// Components as JSON (scheme, raw, normalized, and the scheme's own parts).
    pub fn to_json(&self) -> serde_json::Value {
        let components = match &self.parsed {
            Parsed::Deb(p) => dpkg::Dpkg::components(p),
            Parsed::Rpm(p) => rpm::Rpm::components(p),
            Parsed::Apk(p) => apk::Apk::components(p),
            Parsed::Pep440(p) => pep440::Pep440::components(p),
            Parsed::Semver(p) => semver::SemVer::components(p),
            Parsed::Generic(p) => generic::Generic::components(p),
        };
        serde_json::json!({
            "scheme": self.scheme,
            "raw": self.raw,
            "normalized": self.normalized(),
            "exact": self.scheme.is_exact(),
            "components": components,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Versions serialize as `{ "scheme": "deb", "raw": "1:2.3-4" }` and are re-parsed on load.
impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Version", 2)?;
        st.serialize_field("scheme", &self.scheme)?;
        st.serialize_field("raw", &self.raw)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            scheme: Scheme,
            raw: String,
        }
        let r = Raw::deserialize(d)?;
        Self::parse(r.scheme, &r.raw).map_err(serde::de::Error::custom)
    }
}

/// Compare two raw strings in `scheme`.
pub fn compare_str(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Version::parse(scheme, a)?.compare(&Version::parse(scheme, b)?)
}

/// The symbol `nminus version cmp` prints for an ordering.
pub fn ordering_symbol(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}
