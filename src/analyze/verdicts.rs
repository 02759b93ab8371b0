//! Advisory verdicts by package identity: what [`match_package`] decides for a package depends
//! only on its *identity* (ecosystem, name, version, purl, source package, the facts that take
//! it out of a feed's scope, and the distro release its node runs), never on the node or where
//! on the node the package lies. [`VerdictCache`] judges each distinct identity once per
//! advisory index and keeps the verdict; a node's advisory findings are a join of its packages'
//! verdicts, with the node and the package's location filled in.
//!
//! Identities are compared exactly (a 64-bit hash picks a bucket, the fields decide), so no
//! crafted package can take another's verdict. After a feed change, [`VerdictCache::carry`]
//! keeps the verdicts of identities none of whose lookup keys the change touched: only the
//! touched identities are judged again.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use super::index::AdvisoryIndex;
use super::matching::{distro_key, lookup_keys, match_package};
use crate::model::{Ecosystem, Finding, OsRelease, Package, PackageMeta};

/// Remembered identities at most; past it the cache starts afresh (memory stays bounded).
pub(crate) const CACHE_LIMIT: usize = 500_000;

/// A node's distro lookup ecosystems (`debian:12` …) for its OS package ecosystems, computed
/// once per node: the only part of a node a package's verdict depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct DistroKeys {
    deb: Option<String>,
    rpm: Option<String>,
    apk: Option<String>,
}

impl DistroKeys {
    /// The keys of a node running `os`.
    pub(crate) fn of(os: Option<&OsRelease>) -> Self {
        Self {
            deb: distro_key(os, Ecosystem::Deb),
            rpm: distro_key(os, Ecosystem::Rpm),
            apk: distro_key(os, Ecosystem::Apk),
        }
    }

    fn for_ecosystem(&self, e: Ecosystem) -> Option<&str> {
        match e {
            Ecosystem::Deb => self.deb.as_deref(),
            Ecosystem::Rpm => self.rpm.as_deref(),
            Ecosystem::Apk => self.apk.as_deref(),
            Ecosystem::Pypi | Ecosystem::Cargo => None,
        }
    }
}

/// Facts of a package that change which feeds judge it (see `lookup_keys`).
fn scope_flags(p: &Package) -> u8 {
    let os_owned = matches!(
        &p.meta,
        PackageMeta::Python {
            os_owner: Some(_),
            ..
        }
    );
    let git = matches!(&p.meta, PackageMeta::Lock { source: Some(s) } if s == "git");
    // A project's own lockfile member (a `path` source) is looked up under no key at all.
    let local = p.is_local_lock_member();
    u8::from(os_owned)
        | (u8::from(git) << 1)
        | (u8::from(p.extra.contains_key("registry")) << 2)
        | (u8::from(local) << 3)
}

/// A package identity, borrowed from an inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct IdentityRef<'a> {
    distro: Option<&'a str>,
    ecosystem: Ecosystem,
    name: &'a str,
    version: &'a str,
    purl: &'a str,
    source: Option<(&'a str, &'a str)>,
    flags: u8,
}

impl<'a> IdentityRef<'a> {
    fn of(p: &'a Package, d: &'a DistroKeys) -> Self {
        Self {
            distro: d.for_ecosystem(p.ecosystem),
            ecosystem: p.ecosystem,
            name: &p.name,
            version: &p.version,
            purl: &p.purl,
            source: p
                .source
                .as_ref()
                .map(|s| (s.name.as_str(), s.version.as_str())),
            flags: scope_flags(p),
        }
    }

    fn to_owned(self) -> Identity {
        Identity {
            distro: self.distro.map(Box::from),
            ecosystem: self.ecosystem,
            name: self.name.into(),
            version: self.version.into(),
            purl: self.purl.into(),
            source: self.source.map(|(n, v)| (Box::from(n), Box::from(v))),
            flags: self.flags,
        }
    }
}

/// A package identity, owned (the cache's key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    distro: Option<Box<str>>,
    ecosystem: Ecosystem,
    name: Box<str>,
    version: Box<str>,
    purl: Box<str>,
    source: Option<(Box<str>, Box<str>)>,
    flags: u8,
}

impl Identity {
    fn as_ref(&self) -> IdentityRef<'_> {
        IdentityRef {
            distro: self.distro.as_deref(),
            ecosystem: self.ecosystem,
            name: &self.name,
            version: &self.version,
            purl: &self.purl,
            source: self.source.as_ref().map(|(n, v)| (&**n, &**v)),
            flags: self.flags,
        }
    }
}

/// One identity's verdict: its findings as templates (node empty, location of the package it
/// was judged on) and the (ecosystem, package) index keys it was looked up under.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    findings: Arc<[Finding]>,
    keys: Arc<[(String, String)]>,
}

impl Verdict {
    /// Its findings as templates: node and fingerprint empty, the location that of the package
    /// it was judged on ([`Verdict::findings_for`] puts in a node's own).
    pub(crate) fn templates(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings of the package `p` on node `node`: the templates with the node, the
    /// package's own location and their fingerprint filled in.
    pub(crate) fn findings_for(&self, node: &str, p: &Package, out: &mut Vec<Finding>) {
        for t in self.findings.iter() {
            let mut f = t.clone();
            node.clone_into(&mut f.node);
            f.subject.location = Some(p.location.clone());
            f.fingerprint = f.compute_fingerprint();
            out.push(f);
        }
    }

    fn judge(p: &Package, os: Option<&OsRelease>, idx: &AdvisoryIndex) -> Self {
        let keys = lookup_keys(p, os);
        let findings = match_package("", p, &keys, idx);
        let keys = keys
            .into_iter()
            .map(|k| (k.ecosystem, k.package.to_ascii_lowercase()))
            .collect();
        Self {
            findings: findings.into(),
            keys,
        }
    }
}

/// Verdicts by identity, judged against one advisory index.
#[derive(Debug, Default)]
pub(crate) struct VerdictCache {
    hasher: foldhash::quality::RandomState,
    buckets: HashMap<u64, Vec<(Identity, Verdict)>, foldhash::fast::RandomState>,
    len: usize,
    /// Identities judged (misses) since the cache was made.
    judged: usize,
}

/// What [`VerdictCache::carry`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CarryStats {
    /// Verdicts kept from the previous analyzer.
    pub kept: usize,
    /// Verdicts dropped because the feed change touched one of their lookup keys.
    pub dropped: usize,
    /// Index keys whose advisories changed.
    pub changed_keys: usize,
}

impl VerdictCache {
    fn hash(&self, id: &IdentityRef<'_>) -> u64 {
        self.hasher.hash_one(id)
    }

    /// Identities judged since the cache was made (its misses).
    pub(crate) fn judged(&self) -> usize {
        self.judged
    }

    /// Identities remembered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The verdict of `p` on a node with distro keys `d` (and OS `os`), judged against `idx`
    /// on a miss.
    pub(crate) fn verdict(
        &mut self,
        p: &Package,
        d: &DistroKeys,
        os: Option<&OsRelease>,
        idx: &AdvisoryIndex,
    ) -> Verdict {
        let id = IdentityRef::of(p, d);
        let h = self.hash(&id);
        if let Some(v) = self
            .buckets
            .get(&h)
            .and_then(|b| b.iter().find(|(k, _)| k.as_ref() == id))
        {
            return v.1.clone();
        }
        let v = Verdict::judge(p, os, idx);
        self.judged += 1;
        if self.len >= CACHE_LIMIT {
            self.buckets.clear();
            self.len = 0;
        }
        self.buckets
            .entry(h)
            .or_default()
            .push((id.to_owned(), v.clone()));
        self.len += 1;
        v
    }

    /// A cache for `new` holding the verdicts of `self` (judged against `old`) that the change
    /// from `old` to `new` did not touch: an identity is judged again only when one of its
    /// lookup keys has advisories that differ.
    pub(crate) fn carry(&self, old: &AdvisoryIndex, new: &AdvisoryIndex) -> (Self, CarryStats) {
        let changed: HashSet<(String, String)> = old.changed_keys(new);
        let mut out = Self::default();
        let mut stats = CarryStats {
            changed_keys: changed.len(),
            ..CarryStats::default()
        };
        for (id, v) in self.buckets.values().flatten() {
            if v.keys.iter().any(|k| changed.contains(k)) {
                stats.dropped += 1;
                continue;
            }
            let h = out.hash(&id.as_ref());
            out.buckets
                .entry(h)
                .or_default()
                .push((id.clone(), v.clone()));
            out.len += 1;
            stats.kept += 1;
        }
        (out, stats)
    }
}
