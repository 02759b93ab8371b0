//! Findings: what the analyzer concludes about one subject on one node, with the evidence for
//! it. Codes are stable and documented one per section in `docs/findings.md`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AdvisoryKind, Ecosystem, Location, Severity};

/// Stable finding codes (kebab-case in JSON, SARIF rule ids and docs).
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
pub enum FindingCode {
    /// An advisory affects the installed version.
    Vulnerable,
    /// An informational advisory (unmaintained, unsound, notice) applies.
    AdvisoryNotice,
    /// A version could not be parsed in its scheme; nothing can be said about it.
    VersionUnparseable,
    /// An advisory's range could not be evaluated against the installed version.
    AdvisoryUnevaluable,
    /// The component's release series is older than the policy allows.
    SeriesBehind,
    /// The component's release series is end of life / unmaintained.
    SeriesEol,
    /// A newer patch release exists within the installed series.
    PatchBehind,
    /// An OpenStack deliverable's version matches no release in openstack/releases.
    SeriesUnknown,
    /// The product cycle is end of life.
    Eol,
    /// The product cycle reaches end of life within the policy's look-ahead.
    EolSoon,
    /// A newer version is available from the node's own repositories.
    UpgradeAvailable,
    /// A Python distribution beside an OpenStack service differs from the version its series'
    /// upper-constraints pin (the tested version).
    ConstraintMismatch,
    /// A waiver has expired.
    WaiverExpired,
    /// A waiver matched nothing.
    WaiverUnused,
    /// The node has not reported for longer than the policy allows.
    InventoryStale,
}

impl FindingCode {
    /// Every code, in documentation order.
    pub const ALL: [Self; 15] = [
        Self::Vulnerable,
        Self::AdvisoryNotice,
        Self::VersionUnparseable,
        Self::AdvisoryUnevaluable,
        Self::SeriesBehind,
        Self::SeriesEol,
        Self::PatchBehind,
        Self::SeriesUnknown,
        Self::Eol,
        Self::EolSoon,
        Self::UpgradeAvailable,
        Self::ConstraintMismatch,
        Self::WaiverExpired,
        Self::WaiverUnused,
        Self::InventoryStale,
    ];

    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vulnerable => "vulnerable",
            Self::AdvisoryNotice => "advisory-notice",
            Self::VersionUnparseable => "version-unparseable",
            Self::AdvisoryUnevaluable => "advisory-unevaluable",
            Self::SeriesBehind => "series-behind",
            Self::SeriesEol => "series-eol",
            Self::PatchBehind => "patch-behind",
            Self::SeriesUnknown => "series-unknown",
            Self::Eol => "eol",
            Self::EolSoon => "eol-soon",
            Self::UpgradeAvailable => "upgrade-available",
            Self::ConstraintMismatch => "constraint-mismatch",
            Self::WaiverExpired => "waiver-expired",
            Self::WaiverUnused => "waiver-unused",
            Self::InventoryStale => "inventory-stale",
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FindingCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown finding code `{s}`"))
    }
}

/// What a finding's subject belongs to: a package ecosystem, or one of the things judged beside
/// packages. Written as the short name it always was (`deb`, `pypi`, `openstack`, `product`).
#[derive(Debug, Clone)]
pub enum SubjectEcosystem {
    /// A package of this ecosystem.
    Package(Ecosystem),
    /// An OpenStack deliverable.
    OpenStack,
    /// A product with a lifecycle (endoflife.date).
    Product,
    /// The node itself (its inventory's completeness).
    Node,
    /// The policy (its waivers).
    Policy,
    /// Anything else a stored finding said, kept as written.
    Other(String),
}

impl SubjectEcosystem {
    /// The short name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Package(e) => e.as_str(),
            Self::OpenStack => "openstack",
            Self::Product => "product",
            Self::Node => "node",
            Self::Policy => "policy",
            Self::Other(s) => s,
        }
    }

    /// Read a short name (every string reads: an unknown one is [`SubjectEcosystem::Other`]).
    pub fn from_name(s: &str) -> Self {
        if let Some(e) = Ecosystem::from_name(s) {
            return Self::Package(e);
        }
        match s {
            "openstack" => Self::OpenStack,
            "product" => Self::Product,
            "node" => Self::Node,
            "policy" => Self::Policy,
            _ => Self::Other(s.to_owned()),
        }
    }
}

impl From<Ecosystem> for SubjectEcosystem {
    fn from(e: Ecosystem) -> Self {
        Self::Package(e)
    }
}

impl fmt::Display for SubjectEcosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for SubjectEcosystem {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SubjectEcosystem {}

impl PartialEq<str> for SubjectEcosystem {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SubjectEcosystem {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for SubjectEcosystem {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SubjectEcosystem {
    /// As the short names compare (findings sort by them).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for SubjectEcosystem {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Serialize for SubjectEcosystem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SubjectEcosystem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(Self::from_name(&s))
    }
}

super::schema_as_string!(SubjectEcosystem);

/// What a finding is about.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Subject {
    /// `deb`, `rpm`, `apk`, `pypi`, `cargo`, `openstack`, `os` …
    pub ecosystem: SubjectEcosystem,
    /// Package / deliverable / product name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Package URL, when the subject is a package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Where it was found on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The advisory behind a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AdvisoryRef {
    /// Primary id.
    pub id: String,
    /// Every other id of the same vulnerability (merged across feeds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Feeds that reported it.
    pub sources: Vec<String>,
    /// Kind.
    pub kind: AdvisoryKind,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Why a finding exists: what was searched and what matched (grype's `SearchedBy` / `Found`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// What was looked up (`PyPI/nova 29.0.0`, `Debian:12 source openssl 3.0.11-1~deb12u2`).
    pub searched: String,
    /// What matched (`OSSA-2026-004 nova >=29.0.0 <29.2.1`).
    pub matched: String,
    /// A sentence for people.
    pub message: String,
}

/// The waiver that covers a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaiverRef {
    /// Waiver id.
    pub id: String,
    /// Why.
    pub reason: String,
    /// Who owns it.
    pub owner: String,
    /// Until when (`YYYY-MM-DD`).
    pub expires: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable code.
    pub code: FindingCode,
    /// Severity.
    pub severity: Severity,
    /// Node id.
    pub node: String,
    /// Subject.
    pub subject: Subject,
    /// The advisory, for advisory findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<AdvisoryRef>,
    /// Versions that fix it (advisories) or the target version (currency).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_in: Vec<String>,
    /// Why.
    pub evidence: Evidence,
    /// The waiver that covers it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived_by: Option<WaiverRef>,
    /// Stable fingerprint: same finding, same fingerprint, across runs (code, node, subject
    /// identity, advisory id).
    pub fingerprint: String,
}

#[cfg(test)]
impl Finding {
    /// A test finding: `code` and `severity` on `node`'s `name` `version` of `ecosystem`, with
    /// no advisory, evidence, waiver or fingerprint.
    pub(crate) fn for_test(
        node: &str,
        code: FindingCode,
        severity: Severity,
        ecosystem: SubjectEcosystem,
        name: &str,
        version: &str,
    ) -> Self {
        Self {
            code,
            severity,
            node: node.into(),
            subject: Subject {
                ecosystem,
                name: name.into(),
                version: version.into(),
                purl: None,
                location: None,
            },
            advisory: None,
            fixed_in: Vec::new(),
            evidence: Evidence::default(),
            waived_by: None,
            fingerprint: String::new(),
        }
    }
}

impl Finding {
    /// Compute the fingerprint from the identifying fields (FNV-1a 64, hex): stable across
    /// runs and versions of nminus, cheap, not a security property.
    pub fn compute_fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let location = self
            .subject
            .location
            .as_ref()
            .map_or(std::borrow::Cow::Borrowed(""), Location::wire_path);
        let parts = [
            self.code.as_str(),
            self.node.as_str(),
            self.subject.ecosystem.as_str(),
            self.subject.name.as_str(),
            self.subject.version.as_str(),
            self.advisory.as_ref().map_or("", |a| a.id.as_str()),
            &location,
        ];
        for p in parts {
            for b in p.bytes().chain(std::iter::once(0u8)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented() {
        let doc = include_str!("../../docs/findings.md");
        let mut seen = std::collections::BTreeSet::new();
        for c in FindingCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert!(
                doc.contains(&format!("\n## {}\n", c.as_str())),
                "docs/findings.md lacks a section for `{c}`"
            );
            assert_eq!(c.as_str().parse::<FindingCode>(), Ok(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().to_owned())
            );
        }
        let sections = doc.lines().filter(|l| l.starts_with("## ")).count();
        assert_eq!(
            sections,
            FindingCode::ALL.len(),
            "docs/findings.md documents a code that does not exist"
        );
    }
}
