//! Advisory matching for one inventory.

use std::collections::{BTreeMap, BTreeSet};

use super::index::{canonical_ecosystem, AdvisoryIndex};
use crate::model::openstack_names as openstack;
use crate::model::{
    Advisory, AdvisoryKind, AdvisoryRef, Affected, AffectedRanges, Ecosystem, Evidence, Finding,
    FindingCode, Inventory, OsRelease, Package, PackageMeta, Severity, Subject,
};
use crate::version::pep440::Pep440Version;
use crate::version::range::{osv_affected, OpenStackEra, Pep440AnyOf, SemverReq};
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

pub(crate) fn distro_key(os: Option<&OsRelease>, eco: Ecosystem) -> Option<String> {
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
/// unknown distro, a Python module owned by the OS package manager, or a lockfile member taken
/// from a local path).
pub fn lookup_keys(p: &Package, os: Option<&OsRelease>) -> Vec<LookupKey> {
    // The project's own crates and path packages are not the registry's packages of the same
    // name (cargo-audit judges them as if they were: rustsec/rustsec#696).
    if p.is_local_lock_member() {
        return Vec::new();
    }
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

/// How an advisory range covers a version: the part that matched and the fixed versions that
/// apply to it.
struct Covered {
    /// The range that matched, as the advisory writes it (one alternative of an OSSA text).
    matched: String,
    /// The fixed versions to show for this version (for OSSA: the fix in its own series).
    fixed: Vec<String>,
}

/// Whether `affected` covers `v`: `Some` with what matched. `Err` carries the reason the range
/// cannot be evaluated.
fn covers(affected: &Affected, v: &Version) -> Result<Option<Covered>, String> {
    let whole = |yes: bool| {
        yes.then(|| Covered {
            matched: range_text(affected),
            fixed: affected.fixed.clone(),
        })
    };
    match &affected.ranges {
        AffectedRanges::Osv { ranges, versions } => osv_affected(v, ranges, versions)
            .map(whole)
            .map_err(|e| e.to_string()),
        AffectedRanges::Rustsec {
            patched,
            unaffected,
        } => {
            for r in patched.iter().chain(unaffected) {
                let req = SemverReq::parse(r).map_err(|e| e.to_string())?;
                if req.matches(v.raw()).map_err(|e| e.to_string())? {
                    return Ok(None);
                }
            }
            Ok(whole(true))
        }
        AffectedRanges::Pep440AnyOf { spec } => {
            let set = Pep440AnyOf::parse(spec).map_err(|e| e.to_string())?;
            let Parsed::Pep440(p) = v.parsed() else {
                return Err(format!(
                    "a PEP 440 range cannot judge a {} version",
                    v.scheme()
                ));
            };
            Ok(set.matching(p).map(|(alt, below)| Covered {
                matched: alt.to_owned(),
                fixed: own_series_fix(below, &affected.fixed, p),
            }))
        }
        AffectedRanges::OpenStackDateEra { through_year, .. } => {
            let Parsed::Pep440(p) = v.parsed() else {
                return Err(format!(
                    "an OpenStack range cannot judge a {} version",
                    v.scheme()
                ));
            };
            let year = p.release().first().copied().unwrap_or(0);
            Ok(whole(
                OpenStackEra::of(p) == OpenStackEra::Date && through_year.is_none_or(|y| year <= y),
            ))
        }
        AffectedRanges::Distro {
            fixed,
            not_affected,
        } => {
            if *not_affected {
                return Ok(None);
            }
            match fixed {
                None => Ok(whole(true)),
                Some(f) => {
                    let fv = Version::parse(v.scheme(), f).map_err(|e| e.to_string())?;
                    Ok(whole(
                        v.compare(&fv).map_err(|e| e.to_string())? == std::cmp::Ordering::Less,
                    ))
                }
            }
        }
    }
}

/// The fix that applies to a version an OSSA alternative matched: the alternative's own `<`
/// bounds `below` (`>=27.0.0 <29.0.6` → 29.0.6); for an alternative without one (`<=2015.1.1`,
/// `==12.0.0`), the advisory's fixed versions of the same major number and era that are above
/// the installed version; else none (the advisory states no fix in that series).
fn own_series_fix(below: Vec<String>, all_fixed: &[String], v: &Pep440Version) -> Vec<String> {
    if !below.is_empty() {
        return below;
    }
    all_fixed
        .iter()
        .filter(|f| {
            f.parse::<Pep440Version>().is_ok_and(|fv| {
                OpenStackEra::of(&fv) == OpenStackEra::of(v)
                    && fv.release().first() == v.release().first()
                    && fv > *v
            })
        })
        .cloned()
        .collect()
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
        AffectedRanges::OpenStackDateEra {
            text,
            through_year: Some(y),
        } => format!("`{text}` (read as every date-numbered release up to {y})"),
        AffectedRanges::OpenStackDateEra { text, .. } => {
            format!("`{text}` (read as every date-numbered release, 2010.1 to 2015.1.x)")
        }
        AffectedRanges::Distro { fixed: Some(f), .. } => format!("fixed in {f}"),
        AffectedRanges::Distro { fixed: None, .. } => "no fix released".to_owned(),
    }
}

fn subject(p: &Package) -> Subject {
    Subject {
        ecosystem: p.ecosystem.into(),
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
        findings.extend(match_package(&inv.node.id, p, &keys, idx));
    }
    sort_findings(&mut findings);
    findings
}

/// The order of a node's advisory findings: by subject, code, then advisory id.
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.subject, a.code, a.advisory.as_ref().map(|x| &x.id)).cmp(&(
            &b.subject,
            b.code,
            b.advisory.as_ref().map(|x| &x.id),
        ))
    });
}

/// Match one package, looked up under `keys` (its [`lookup_keys`]), on node `node`: its
/// findings, fingerprinted, unsorted. Depends on nothing but its arguments (the fleet engine
/// judges each distinct package identity once with it).
pub(crate) fn match_package(
    node: &str,
    p: &Package,
    keys: &[LookupKey],
    idx: &AdvisoryIndex,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut hits: Vec<Hit<'_>> = Vec::new();
    let mut unparseable_reported = false;
    for k in keys {
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
                        node: node.to_owned(),
                        subject: subject(p),
                        advisory: None,
                        fixed_in: Vec::new(),
                        evidence: Evidence {
                            searched: format!("{} {} {}", k.ecosystem, k.package, k.version),
                            matched: String::new(),
                            message: format!(
                                "advisories exist for {} but its version cannot be compared: {e}",
                                k.package
                            ),
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
                Ok(Some(c)) => hits.push(Hit {
                    advisory: adv,
                    fixed: c.fixed,
                    matched: format!("{} {}: {}", adv.id, aff.package, c.matched),
                    searched: searched.clone(),
                }),
                Ok(None) => {}
                Err(reason) => findings.push(finish(Finding {
                    code: FindingCode::AdvisoryUnevaluable,
                    severity: Severity::Unknown,
                    node: node.to_owned(),
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
                        message: format!("the range of {} cannot be evaluated: {reason}", adv.id),
                    },
                    waived_by: None,
                    fingerprint: String::new(),
                })),
            }
        }
    }
    defer_to_ossa(keys, idx, &mut hits);
    findings.extend(merge(node, p, hits));
    findings
}

fn finish(mut f: Finding) -> Finding {
    f.fingerprint = f.compute_fingerprint();
    f
}

/// Merge hits that name the same vulnerability (shared id or alias) into one finding.
/// For an OpenStack deliverable, a vulnerability that an OSSA covers is judged by the OSSA,
/// the project's own statement of affected versions: another feed's advisory naming the same
/// CVE only counts when the OSSA also matches. (PyPA's records of 2012 nova CVEs say
/// `introduced: 0` with no fixed version, i.e. every nova ever released, 33.0.2 included; the
/// OSSA of the same CVE says 2012.1 before 2012.1.2.)
fn defer_to_ossa(keys: &[LookupKey], idx: &AdvisoryIndex, hits: &mut Vec<Hit<'_>>) {
    let Some(k) = keys.iter().find(|k| k.ecosystem == "openstack") else {
        return;
    };
    let mut ossa_ids: BTreeSet<&str> = BTreeSet::new();
    for (adv, _) in idx.lookup(&k.ecosystem, &k.package) {
        ossa_ids.extend(adv.aliases.iter().map(String::as_str));
    }
    if ossa_ids.is_empty() {
        return;
    }
    let ossa_hit: BTreeSet<String> = hits
        .iter()
        .filter(|h| h.advisory.id.starts_with("OSSA-"))
        .flat_map(|h| h.advisory.aliases.iter().cloned())
        .collect();
    hits.retain(|h| {
        h.advisory.id.starts_with("OSSA-")
            || std::iter::once(&h.advisory.id)
                .chain(&h.advisory.aliases)
                .all(|id| !ossa_ids.contains(id.as_str()) || ossa_hit.contains(id))
    });
}

fn merge(node: &str, p: &Package, hits: Vec<Hit<'_>>) -> Vec<Finding> {
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
            node: node.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::openstack::OpenStackCatalog;
    use crate::releases::test_data::shared;
    use crate::sources::advisory::{ossa::OssaSource, AdvisorySource};

    /// Every OSSA against the newest final release of every deliverable in every series of
    /// openstack/releases: a hit must be an advisory that could not have been fixed in that
    /// release — published after the series was first released, and matched by a range of
    /// the release's own era. Before the numbering eras were told apart, nova 33.0.2 was
    /// "affected by" OSSA-2015-021 (`<=2014.2.3`) and about 250 such pairs came out.
    #[test]
    fn every_ossa_against_every_newest_release() {
        let ossa = OssaSource::new("ossa")
            .load(&shared("openstack-ossa/ossa"))
            .unwrap();
        let (cat, _) = OpenStackCatalog::load(&shared("openstack-releases")).unwrap();
        let mut by_package: BTreeMap<&str, Vec<(&Advisory, &Affected)>> = BTreeMap::new();
        for a in &ossa.advisories {
            for x in &a.affected {
                by_package
                    .entry(x.package.as_str())
                    .or_default()
                    .push((a, x));
            }
        }
        let (mut judged, mut hits, mut semantic) = (0, Vec::new(), 0);
        for d in cat.deliverables() {
            let Some(advs) = by_package.get(d.name.to_ascii_lowercase().as_str()) else {
                continue;
            };
            let Some(rel) = d.latest_final() else {
                continue;
            };
            let Some(series) = cat.series_of(d) else {
                continue;
            };
            let v = Version::parse(Scheme::Pep440, &rel.version).unwrap();
            let Parsed::Pep440(pv) = v.parsed() else {
                unreachable!()
            };
            if OpenStackEra::of(pv) == OpenStackEra::Semantic {
                semantic += 1;
            }
            for (a, x) in advs {
                judged += 1;
                let Some(c) = covers(x, &v).unwrap() else {
                    continue;
                };
                let published = a.published.as_deref().unwrap_or("");
                hits.push(format!(
                    "{} {} {} ({}): {} `{}` published {published}",
                    d.series, d.name, rel.version, series.name, a.id, c.matched
                ));
                if let AffectedRanges::OpenStackDateEra { through_year, .. } = &x.ranges {
                    // Free text: the date era up to the year of publication, no finer.
                    assert!(pv.release()[0] <= through_year.unwrap());
                } else if let Some(first) = series.initial_release {
                    assert!(
                        published >= first.to_string().as_str(),
                        "{} {} {}: {} was published {published}, before {} was first released ({first}); matched `{}`",
                        d.series, d.name, rel.version, a.id, series.name, c.matched
                    );
                }
                // The matched range names a bound of the release's own era.
                let alt = Pep440AnyOf::parse(&c.matched);
                if let (Ok(alt), AffectedRanges::Pep440AnyOf { .. }) = (alt, &x.ranges) {
                    assert!(alt.contains(pv));
                }
                assert!(
                    !matches!(x.ranges, AffectedRanges::OpenStackDateEra { .. })
                        || OpenStackEra::of(pv) == OpenStackEra::Date,
                    "{}",
                    hits.last().unwrap()
                );
            }
        }
        eprintln!(
            "{judged} (advisory, newest release) pairs judged over {semantic} semantic-era deliverable files; {} hits:\n{}",
            hits.len(),
            hits.join("\n")
        );
        assert!(judged > 1000, "{judged}");
    }

    /// The fixed version an OSSA finding shows is the one of the installed version's series.
    #[test]
    fn ossa_finding_names_the_range_and_the_fix_of_its_own_series() {
        let aff = Affected {
            ecosystem: "OpenStack".into(),
            package: "ironic".into(),
            ranges: AffectedRanges::Pep440AnyOf {
                spec: ">=17.0.0 <26.1.7, >=27.0.0 <29.0.6, >=30.0.0 <32.0.2".into(),
            },
            fixed: vec!["26.1.7".into(), "29.0.6".into(), "32.0.2".into()],
        };
        let v = Version::parse(Scheme::Pep440, "29.0.1").unwrap();
        let c = covers(&aff, &v).unwrap().unwrap();
        assert_eq!(c.matched, ">=27.0.0 <29.0.6");
        assert_eq!(c.fixed, ["29.0.6"]);
        let v = Version::parse(Scheme::Pep440, "29.0.6").unwrap();
        assert!(covers(&aff, &v).unwrap().is_none());
        // `<=` and `==` ranges: the advisory's fix of the same major, else none.
        let aff = Affected {
            ecosystem: "OpenStack".into(),
            package: "nova".into(),
            ranges: AffectedRanges::Pep440AnyOf {
                spec: "<=2015.1.2, ==12.0.0".into(),
            },
            fixed: vec![],
        };
        let new = Version::parse(Scheme::Pep440, "33.0.2").unwrap();
        assert!(covers(&aff, &new).unwrap().is_none());
        let liberty = Version::parse(Scheme::Pep440, "12.0.0").unwrap();
        let c = covers(&aff, &liberty).unwrap().unwrap();
        assert_eq!((c.matched.as_str(), c.fixed.len()), ("==12.0.0", 0));
        let kilo = Version::parse(Scheme::Pep440, "2015.1.1").unwrap();
        assert_eq!(covers(&aff, &kilo).unwrap().unwrap().matched, "<=2015.1.2");
        // Free text: the date era only.
        let aff = Affected {
            ecosystem: "OpenStack".into(),
            package: "nova".into(),
            ranges: AffectedRanges::OpenStackDateEra {
                text: "Essex, Folsom".into(),
                through_year: Some(2015),
            },
            fixed: vec![],
        };
        assert!(covers(&aff, &kilo).unwrap().is_some());
        assert!(covers(&aff, &liberty).unwrap().is_none());
    }
}
