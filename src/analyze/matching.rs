//! Advisory matching for one inventory.

use std::collections::{BTreeMap, BTreeSet};

use super::index::{canonical_ecosystem, AdvisoryIndex};
use crate::collect::openstack;
use crate::model::{
    Advisory, AdvisoryKind, AdvisoryRef, Affected, AffectedRanges, Ecosystem, Evidence, Finding,
    FindingCode, Inventory, OsRelease, Package, PackageMeta, Severity, Subject,
};
use crate::version::range::{osv_affected, Pep440AnyOf, SemverReq};
use crate::version::{Parsed, Scheme, Version};

/// One (ecosystem, package, version) under which a package is looked up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LookupKey {
    /// Canonical ecosystem key (`debian:12`, `pypi`, `openstack`).
    pub ecosystem: String,
    /// Package name in that ecosystem (source package for distros).
    pub package: String,
    /// The version to compare (source version for distros).
    pub version: String,
    /// Its scheme.
    pub scheme: Scheme,
}

fn major(v: &str) -> &str {
    v.split('.').next().unwrap_or(v)
}

fn distro_key(os: Option<&OsRelease>, eco: Ecosystem) -> Option<String> {
    let os = os?;
    let vid = os.version_id.as_deref();
    let key = match (eco, os.id.as_str()) {
        (Ecosystem::Deb, "debian") => format!("debian:{}", major(vid.or(os.codename.as_deref())?)),
        (Ecosystem::Deb, "ubuntu") => format!("ubuntu:{}", vid?),
        (Ecosystem::Apk, "alpine") => format!("alpine:{}", vid?),
        (Ecosystem::Rpm, "rhel") => format!("red hat:{}", major(vid?)),
        (Ecosystem::Rpm, "almalinux") => format!("almalinux:{}", major(vid?)),
        (Ecosystem::Rpm, "rocky") => format!("rocky linux:{}", major(vid?)),
        _ => return None,
    };
    Some(canonical_ecosystem(&key))
}

/// The keys a package is looked up under (empty: no feed can judge it, e.g. an OS package of an
/// unknown distro, or a Python module owned by the OS package manager).
pub fn lookup_keys(p: &Package, os: Option<&OsRelease>) -> Vec<LookupKey> {
    let mut keys = Vec::new();
    match p.ecosystem {
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => {
            let Some(eco) = distro_key(os, p.ecosystem) else {
                return keys;
            };
            let scheme = p.ecosystem.scheme();
            match &p.source {
                Some(src) => {
                    let version = if p.ecosystem == Ecosystem::Rpm {
                        p.version.clone()
                    } else {
                        src.version.clone()
                    };
                    keys.push(LookupKey {
                        ecosystem: eco.clone(),
                        package: src.name.clone(),
                        version,
                        scheme,
                    });
                    if src.name != p.name && p.ecosystem == Ecosystem::Rpm {
                        keys.push(LookupKey {
                            ecosystem: eco,
                            package: p.name.clone(),
                            version: p.version.clone(),
                            scheme,
                        });
                    }
                }
                None => keys.push(LookupKey {
                    ecosystem: eco,
                    package: p.name.clone(),
                    version: p.version.clone(),
                    scheme,
                }),
            }
        }
        Ecosystem::Pypi => {
            if matches!(
                &p.meta,
                PackageMeta::Python {
                    os_owner: Some(_),
                    ..
                }
            ) {
                return keys;
            }
            keys.push(LookupKey {
                ecosystem: "pypi".into(),
                package: p.name.clone(),
                version: p.version.clone(),
                scheme: Scheme::Pep440,
            });
            if let Some(d) = openstack::lookup(&p.name) {
                keys.push(LookupKey {
                    ecosystem: "openstack".into(),
                    package: d.name.to_ascii_lowercase(),
                    version: p.version.clone(),
                    scheme: Scheme::Pep440,
                });
            }
        }
        Ecosystem::Cargo => {
            // A git checkout or another registry's crate is not the crates.io crate the
            // advisories are about (as cargo-audit: forks must not inherit its verdicts).
            let git = matches!(&p.meta, PackageMeta::Lock { source: Some(s) } if s == "git");
            if git || p.extra.contains_key("registry") {
                return keys;
            }
            keys.push(LookupKey {
                ecosystem: "crates.io".into(),
                package: p.name.clone(),
                version: p.version.clone(),
                scheme: Scheme::Semver,
            });
        }
    }
    keys
}

/// Whether `affected` covers `v`. `Err` carries the reason the range cannot be evaluated.
fn covers(affected: &Affected, v: &Version) -> Result<bool, String> {
    match &affected.ranges {
        AffectedRanges::Osv { ranges, versions } => {
            osv_affected(v, ranges, versions).map_err(|e| e.to_string())
        }
        AffectedRanges::Rustsec {
            patched,
            unaffected,
        } => {
            for r in patched.iter().chain(unaffected) {
                let req = SemverReq::parse(r).map_err(|e| e.to_string())?;
                if req.matches(v.raw()).map_err(|e| e.to_string())? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        AffectedRanges::Pep440AnyOf { spec } => {
            let set = Pep440AnyOf::parse(spec).map_err(|e| e.to_string())?;
            match v.parsed() {
                Parsed::Pep440(p) => Ok(set.contains(p)),
                _ => Err(format!(
                    "a PEP 440 range cannot judge a {} version",
                    v.scheme()
                )),
            }
        }
        AffectedRanges::Distro {
            fixed,
            not_affected,
        } => {
            if *not_affected {
                return Ok(false);
            }
            match fixed {
                None => Ok(true),
                Some(f) => {
                    let fv = Version::parse(v.scheme(), f).map_err(|e| e.to_string())?;
                    Ok(v.compare(&fv).map_err(|e| e.to_string())? == std::cmp::Ordering::Less)
                }
            }
        }
    }
}

fn range_text(a: &Affected) -> String {
    match &a.ranges {
        AffectedRanges::Osv { ranges, versions } => {
            let mut parts = Vec::new();
            for r in ranges {
                let ev: Vec<String> = r
                    .events
                    .iter()
                    .map(|e| match e {
                        crate::version::range::Event::Introduced(v) => format!("introduced {v}"),
                        crate::version::range::Event::Fixed(v) => format!("fixed {v}"),
                        crate::version::range::Event::LastAffected(v) => {
                            format!("last affected {v}")
                        }
                        crate::version::range::Event::Limit(v) => format!("limit {v}"),
                    })
                    .collect();
                parts.push(ev.join(", "));
            }
            if !versions.is_empty() {
                parts.push(format!("{} listed versions", versions.len()));
            }
            parts.join("; ")
        }
        AffectedRanges::Rustsec {
            patched,
            unaffected,
        } => {
            let mut s = format!(
                "patched {}",
                if patched.is_empty() {
                    "none".to_owned()
                } else {
                    patched.join(" or ")
                }
            );
            if !unaffected.is_empty() {
                s.push_str(&format!("; unaffected {}", unaffected.join(" or ")));
            }
            s
        }
        AffectedRanges::Pep440AnyOf { spec } => spec.clone(),
        AffectedRanges::Distro { fixed: Some(f), .. } => format!("fixed in {f}"),
        AffectedRanges::Distro { fixed: None, .. } => "no fix released".to_owned(),
    }
}

fn subject(p: &Package) -> Subject {
    Subject {
        ecosystem: p.ecosystem.as_str().to_owned(),
        name: p.name.clone(),
        version: p.version.clone(),
        purl: Some(p.purl.clone()),
        location: Some(p.location.clone()),
    }
}

/// Rank ids for choosing the primary one: the most specific feed first, CVE last.
fn id_rank(id: &str) -> (u8, &str) {
    let r = if id.starts_with("OSSA-") {
        0
    } else if id.starts_with("RUSTSEC-") {
        1
    } else if id.starts_with("PYSEC-") {
        2
    } else if id.starts_with("DSA-")
        || id.starts_with("DLA-")
        || id.starts_with("USN-")
        || id.starts_with("RHSA-")
    {
        3
    } else if id.starts_with("GHSA-") {
        4
    } else if id.starts_with("CVE-") {
        6
    } else {
        5
    };
    (r, id)
}

struct Hit<'a> {
    advisory: &'a Advisory,
    fixed: Vec<String>,
    matched: String,
    searched: String,
}

/// Match every package of `inv` against `idx`. Findings are sorted and fingerprinted.
pub fn match_inventory(inv: &Inventory, idx: &AdvisoryIndex) -> Vec<Finding> {
    let mut findings = Vec::new();
    for p in &inv.packages {
        let keys = lookup_keys(p, inv.os.as_ref());
        let mut hits: Vec<Hit<'_>> = Vec::new();
        let mut unparseable_reported = false;
        for k in &keys {
            let mut entries = idx.lookup(&k.ecosystem, &k.package).peekable();
            if entries.peek().is_none() {
                continue;
            }
            let v = match Version::parse(k.scheme, &k.version) {
                Ok(v) => v,
                Err(e) => {
                    if !unparseable_reported {
                        unparseable_reported = true;
                        findings.push(finish(Finding {
                            code: FindingCode::VersionUnparseable,
                            severity: Severity::Unknown,
                            node: inv.node.id.clone(),
                            subject: subject(p),
                            advisory: None,
                            fixed_in: Vec::new(),
                            evidence: Evidence {
                                searched: format!("{} {} {}", k.ecosystem, k.package, k.version),
                                matched: String::new(),
                                message: format!("advisories exist for {} but its version cannot be compared: {e}", k.package),
                            },
                            waived_by: None,
                            fingerprint: String::new(),
                        }));
                    }
                    continue;
                }
            };
            let searched = format!("{} {} {}", k.ecosystem, k.package, k.version);
            for (adv, aff) in entries {
                match covers(aff, &v) {
                    Ok(true) => hits.push(Hit {
                        advisory: adv,
                        fixed: aff.fixed.clone(),
                        matched: format!("{} {}: {}", adv.id, aff.package, range_text(aff)),
                        searched: searched.clone(),
                    }),
                    Ok(false) => {}
                    Err(reason) => findings.push(finish(Finding {
                        code: FindingCode::AdvisoryUnevaluable,
                        severity: Severity::Unknown,
                        node: inv.node.id.clone(),
                        subject: subject(p),
                        advisory: Some(AdvisoryRef {
                            id: adv.id.clone(),
                            aliases: adv.aliases.clone(),
                            sources: vec![adv.source.clone()],
                            kind: adv.kind,
                            summary: adv.summary.clone(),
                            url: adv.url.clone(),
                        }),
                        fixed_in: aff.fixed.clone(),
                        evidence: Evidence {
                            searched: searched.clone(),
                            matched: format!("{} {}: {}", adv.id, aff.package, range_text(aff)),
                            message: format!(
                                "the range of {} cannot be evaluated: {reason}",
                                adv.id
                            ),
                        },
                        waived_by: None,
                        fingerprint: String::new(),
                    })),
                }
            }
        }
        findings.extend(merge(inv, p, hits));
    }
    findings.sort_by(|a, b| {
        (&a.subject, a.code, a.advisory.as_ref().map(|x| &x.id)).cmp(&(
            &b.subject,
            b.code,
            b.advisory.as_ref().map(|x| &x.id),
        ))
    });
    findings
}

fn finish(mut f: Finding) -> Finding {
    f.fingerprint = f.compute_fingerprint();
    f
}

/// Merge hits that name the same vulnerability (shared id or alias) into one finding.
fn merge(inv: &Inventory, p: &Package, hits: Vec<Hit<'_>>) -> Vec<Finding> {
    // Union-find over hits by shared ids.
    let n = hits.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        for id in std::iter::once(h.advisory.id.as_str())
            .chain(h.advisory.aliases.iter().map(String::as_str))
        {
            match owner.get(id) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if a != b {
                        parent[a] = b;
                    }
                }
                None => {
                    owner.insert(id, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in groups.values() {
        let mut ids: BTreeSet<&str> = BTreeSet::new();
        let mut sources: BTreeSet<&str> = BTreeSet::new();
        let mut fixed: BTreeSet<String> = BTreeSet::new();
        let mut matched = Vec::new();
        let mut searched: BTreeSet<&str> = BTreeSet::new();
        let mut severity: Option<Severity> = None;
        let mut kind = AdvisoryKind::Notice;
        let mut summary = String::new();
        let mut url = None;
        for &i in members {
            let h = &hits[i];
            let a = h.advisory;
            ids.insert(&a.id);
            ids.extend(a.aliases.iter().map(String::as_str));
            sources.insert(&a.source);
            fixed.extend(h.fixed.iter().cloned());
            matched.push(h.matched.clone());
            searched.insert(&h.searched);
            if let Some(s) = a.severity {
                severity = Some(severity.map_or(s, |x| x.max(s)));
            }
            if a.kind == AdvisoryKind::Vulnerability || kind == AdvisoryKind::Notice {
                kind = a.kind;
            }
            if summary.is_empty() {
                summary = a.summary.clone();
            }
            if url.is_none() {
                url = a.url.clone();
            }
        }
        let primary = ids
            .iter()
            .copied()
            .min_by_key(|id| id_rank(id))
            .unwrap_or("")
            .to_owned();
        let aliases: Vec<String> = ids
            .iter()
            .filter(|i| **i != primary)
            .map(|s| (*s).to_owned())
            .collect();
        let (code, severity) = if kind == AdvisoryKind::Vulnerability {
            (
                FindingCode::Vulnerable,
                severity.unwrap_or(Severity::Unknown),
            )
        } else {
            (FindingCode::AdvisoryNotice, Severity::None)
        };
        matched.sort();
        matched.dedup();
        let fixed_in: Vec<String> = fixed.into_iter().collect();
        let message = if code == FindingCode::Vulnerable {
            if fixed_in.is_empty() {
                format!(
                    "{} {} is affected by {primary}; no fixed version is known",
                    p.name, p.version
                )
            } else {
                format!(
                    "{} {} is affected by {primary}; fixed in {}",
                    p.name,
                    p.version,
                    fixed_in.join(", ")
                )
            }
        } else {
            format!(
                "{} {}: {} advisory {primary}",
                p.name,
                p.version,
                kind_word(kind)
            )
        };
        out.push(finish(Finding {
            code,
            severity,
            node: inv.node.id.clone(),
            subject: subject(p),
            advisory: Some(AdvisoryRef {
                id: primary,
                aliases,
                sources: sources.into_iter().map(str::to_owned).collect(),
                kind,
                summary,
                url,
            }),
            fixed_in,
            evidence: Evidence {
                searched: searched.into_iter().collect::<Vec<_>>().join("; "),
                matched: matched.join("; "),
                message,
            },
            waived_by: None,
            fingerprint: String::new(),
        }));
    }
    out
}

fn kind_word(k: AdvisoryKind) -> &'static str {
    match k {
        AdvisoryKind::Vulnerability => "vulnerability",
        AdvisoryKind::Unmaintained => "unmaintained",
        AdvisoryKind::Unsound => "unsound",
        AdvisoryKind::Notice => "informational",
    }
}
