//! Currency: OpenStack series (n / n-1, SLURP, effective status, point releases), product
//! lifecycles (endoflife.date), upgrades available from the node's repositories, and Python
//! dependencies against their series' upper-constraints (openstack/requirements), judged
//! under a [`Policy`]. Nothing here is hard-coded: series, statuses, dates and lifecycles come
//! from the release data.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use time::Date;

mod constraints;
mod lifecycle;

pub(crate) use lifecycle::{parse_products, ProductRule, PRODUCTS_YAML};

use crate::model::{
    Ecosystem, Evidence, Finding, FindingCode, Inventory, Problem, Severity, Subject,
};
use crate::policy::{Policy, SubjectFacts, SubjectKind};
use crate::releases::apt::AptIndex;
use crate::releases::distro::DistroLifecycles;
use crate::releases::endoflife::Lifecycles;
use crate::releases::openstack::{OpenStackCatalog, Series, SeriesStatus};
use crate::releases::requirements::UpperConstraints;
use crate::version::{Scheme, Version};

/// The release data a currency judgement needs; each part is optional (a missing part is
/// reported as "not judged", never as compliant).
#[derive(Debug, Default)]
pub struct Catalogs {
    /// openstack/releases.
    pub openstack: Option<OpenStackCatalog>,
    /// endoflife.date.
    pub lifecycles: Option<Lifecycles>,
    /// Debian's and Ubuntu's own release lifecycles (distro-info-data) and Debian's
    /// security-support lists: the lifecycle of a distribution and of what it packages.
    pub distro: Option<DistroLifecycles>,
    /// Package indexes (apt).
    pub apt: Option<AptIndex>,
    /// openstack/requirements upper-constraints.
    pub constraints: Option<UpperConstraints>,
    /// Problems met while loading.
    pub problems: Vec<Problem>,
    /// The parts that are missing or could not be loaded: what was not judged, and why.
    pub notes: Vec<CatalogNote>,
    /// Purl (without version) → endoflife.date product, built from the products' identifiers.
    pub(super) purl_products: HashMap<String, String>,
    /// Repology project name → endoflife.date product (for OS packages by source name).
    pub(super) named_products: HashMap<String, String>,
    /// Extra package matches (`advisories/products.yaml`).
    pub(super) product_rules: Vec<ProductRule>,
}

/// The "not judged" note when no openstack/requirements data was found. The analyzer reports
/// it only when it matters: the policy has a `constraints` check and a node runs OpenStack
/// services installed outside the OS package manager.
const NO_REQUIREMENTS_NOTE: &str = "no openstack/requirements data: Python dependencies were not judged against upper-constraints (sync the `openstack-requirements` feed)";

/// A part of the release data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogPart {
    /// openstack/releases: OpenStack series.
    OpenStack,
    /// endoflife.date: lifecycles.
    Lifecycles,
    /// openstack/requirements: upper-constraints.
    Requirements,
    /// apt package indexes: upgrades.
    Apt,
    /// distro-info-data and debian-security-support: distribution lifecycles.
    Distro,
}

/// A part of the release data that is missing or could not be loaded, and what was therefore
/// not judged (the message says so, and how to sync it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogNote {
    /// Which part.
    pub part: CatalogPart,
    /// For people.
    pub message: String,
}

/// Where each part of the release data lives.
#[derive(Debug, Default, Clone)]
pub struct CatalogPaths {
    /// openstack/releases checkout.
    pub openstack: Option<PathBuf>,
    /// endoflife.date checkout.
    pub endoflife: Option<PathBuf>,
    /// apt `Packages` indexes.
    pub apt: Vec<PathBuf>,
    /// Debian's distro-info-data (`debian.csv`, `ubuntu.csv`).
    pub distro_info: Option<PathBuf>,
    /// Debian's debian-security-support lists (`security-support-ended.debN`).
    pub security_support: Option<PathBuf>,
    /// openstack/requirements: `<branch>/upper-constraints.txt`.
    pub requirements: Option<PathBuf>,
    /// Which of these folders `nminus sync` wrote (their cache entries are keyed by revision,
    /// not by a walk of every file).
    pub synced: Vec<crate::sources::cache::SyncedFolder>,
}

impl Catalogs {
    /// Load what is there, in parallel. Errors of one part are recorded and the others proceed.
    pub fn load(paths: &CatalogPaths) -> (Self, Vec<String>) {
        Self::load_cached(paths, None)
    }

    /// [`Self::load`], each part through the release-data cache in `cache_dir` (see
    /// [`crate::sources::cache::cached`]; `None` parses every file).
    pub fn load_cached(paths: &CatalogPaths, cache_dir: Option<&Path>) -> (Self, Vec<String>) {
        let mut notes = Vec::new();
        let cache_dir = cache_dir.map(|path| crate::sources::cache::CacheDir {
            path,
            synced: &paths.synced,
        });
        // A thread per part that is there (a panicking reader counts as missing data); the
        // upper-constraints (a few thousand lines per branch) are read on this thread.
        let (os, eol, apt, uc) = std::thread::scope(|s| {
            let a = paths
                .openstack
                .as_deref()
                .map(|d| s.spawn(move || OpenStackCatalog::load_cached(d, cache_dir)));
            let b = paths
                .endoflife
                .as_deref()
                .map(|d| s.spawn(move || Lifecycles::load_cached(d, cache_dir)));
            let c = (!paths.apt.is_empty())
                .then(|| s.spawn(|| AptIndex::load_cached(&paths.apt, cache_dir)));
            let d = paths
                .requirements
                .as_deref()
                .map(|d| UpperConstraints::load_cached(d, cache_dir));
            (
                a.and_then(|h| h.join().ok()),
                b.and_then(|h| h.join().ok()),
                c.and_then(|h| h.join().ok()),
                d,
            )
        });
        let mut cat = Self::default();
        let mut note = |part, message| notes.push(CatalogNote { part, message });
        match os {
            Some(Ok((c, p))) => {
                cat.openstack = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => note(CatalogPart::OpenStack, format!("openstack/releases could not be loaded: {e}")),
            None => note(CatalogPart::OpenStack, "no openstack/releases data: OpenStack series were not judged (sync the `openstack-releases` feed)".to_owned()),
        }
        match eol {
            Some(Ok((c, p))) => {
                cat.lifecycles = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => note(
                CatalogPart::Lifecycles,
                format!("endoflife.date data could not be loaded: {e}"),
            ),
            None => note(
                CatalogPart::Lifecycles,
                "no endoflife.date data: lifecycles were not judged (sync the `endoflife` feed)"
                    .to_owned(),
            ),
        }
        if paths.distro_info.is_some() || paths.security_support.is_some() {
            match DistroLifecycles::load_parts(
                paths.distro_info.as_deref(),
                paths.security_support.as_deref(),
            ) {
                Ok((d, p)) => {
                    cat.distro = Some(d);
                    cat.problems.extend(p);
                }
                Err(e) => note(
                    CatalogPart::Distro,
                    format!("distribution lifecycles could not be loaded: {e}: Debian and Ubuntu releases were judged by endoflife.date alone"),
                ),
            }
        }
        match apt {
            Some(Ok((c, p))) => {
                cat.apt = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => note(
                CatalogPart::Apt,
                format!("package indexes could not be loaded: {e}"),
            ),
            None => {}
        }
        match uc {
            Some(Ok((c, p))) => {
                cat.constraints = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => note(CatalogPart::Requirements, format!("openstack/requirements could not be loaded: {e}: Python dependencies were not judged against upper-constraints")),
            None => note(CatalogPart::Requirements, NO_REQUIREMENTS_NOTE.to_owned()),
        }
        cat.index_purls();
        cat.notes = notes;
        let messages = cat.notes.iter().map(|n| n.message.clone()).collect();
        (cat, messages)
    }

    /// Add openstack/requirements upper-constraints (tests, the server).
    #[must_use]
    pub fn with_constraints(mut self, constraints: Option<UpperConstraints>) -> Self {
        self.constraints = constraints;
        self
    }

    /// Build from parts already loaded (tests, the server).
    pub fn from_parts(
        openstack: Option<OpenStackCatalog>,
        lifecycles: Option<Lifecycles>,
        apt: Option<AptIndex>,
    ) -> Self {
        let mut c = Self {
            openstack,
            lifecycles,
            apt,
            ..Self::default()
        };
        c.index_purls();
        c
    }

    /// Add distribution lifecycles (tests, the server).
    #[must_use]
    pub fn with_distro(mut self, distro: Option<DistroLifecycles>) -> Self {
        self.distro = distro;
        self
    }

    fn index_purls(&mut self) {
        self.purl_products.clear();
        self.named_products.clear();
        if self.product_rules.is_empty() {
            self.product_rules = parse_products(PRODUCTS_YAML).unwrap_or_default();
        }
        if let Some(l) = &self.lifecycles {
            for p in l.products() {
                for purl in &p.purls {
                    self.purl_products
                        .entry(purl.to_ascii_lowercase())
                        .or_insert_with(|| p.name.clone());
                }
                for name in &p.repology {
                    self.named_products
                        .entry(name.to_ascii_lowercase())
                        .or_insert_with(|| p.name.clone());
                }
            }
        }
    }
}

pub use crate::fleet::n_as_of;
pub(crate) use crate::fleet::status_as_of;

fn previous_slurp<'a>(cat: &'a OpenStackCatalog, n: &Series) -> Option<&'a Series> {
    cat.series()
        .iter()
        .filter(|s| !s.is_independent() && s.slurp && s.ordinal < n.ordinal)
        .max_by_key(|s| s.ordinal)
}

pub(super) fn label(s: &Series) -> String {
    match &s.release_id {
        Some(id) => format!("{id} {}", s.name),
        None => s.name.clone(),
    }
}

// The parameters are the fields of a finding, in order; a builder would only rename them.
#[allow(clippy::too_many_arguments)]
pub(super) fn finding(
    code: FindingCode,
    severity: Severity,
    node: &str,
    subject: Subject,
    fixed_in: Vec<String>,
    searched: String,
    matched: String,
    message: String,
) -> Finding {
    let mut f = Finding {
        code,
        severity,
        node: node.to_owned(),
        subject,
        advisory: None,
        fixed_in,
        evidence: Evidence {
            searched,
            matched,
            message,
        },
        waived_by: None,
        fingerprint: String::new(),
    };
    f.fingerprint = f.compute_fingerprint();
    f
}

/// Judge one inventory's currency under `policy` as of `as_of`.
pub fn judge_currency(
    inv: &Inventory,
    cat: &Catalogs,
    policy: &Policy,
    as_of: Date,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(os) = &cat.openstack {
        openstack(inv, os, policy, as_of, &mut out);
    }
    if cat.lifecycles.is_some() || cat.distro.is_some() {
        lifecycle::lifecycles(inv, cat, policy, as_of, &mut out);
    }
    if let Some(apt) = &cat.apt {
        upgrades(inv, apt, policy, &mut out);
    }
    if let (Some(os), Some(uc)) = (&cat.openstack, &cat.constraints) {
        constraints::constraints(inv, os, uc, policy, &mut out);
    }
    out
}

pub(super) fn facts<'a>(
    inv: &'a Inventory,
    kind: SubjectKind,
    ecosystem: &'a str,
    name: &'a str,
    dtype: Option<&'a str>,
    purl: Option<&'a str>,
) -> SubjectFacts<'a> {
    SubjectFacts {
        kind: Some(kind),
        ecosystem,
        name,
        deliverable_type: dtype,
        purl,
        node: &inv.node.id,
        site: inv.node.site.as_deref(),
        cell: inv.node.cell.as_deref(),
        labels: Some(&inv.node.labels),
    }
}

fn openstack(
    inv: &Inventory,
    cat: &OpenStackCatalog,
    policy: &Policy,
    as_of: Date,
    out: &mut Vec<Finding>,
) {
    let Some(n) = n_as_of(cat, as_of) else { return };
    let n1 = cat
        .series()
        .iter()
        .filter(|s| !s.is_independent() && s.ordinal < n.ordinal)
        .max_by_key(|s| s.ordinal);
    let slurp = previous_slurp(cat, n);
    let now = SeriesNow {
        n,
        n1,
        slurp,
        as_of,
    };
    let mut seen = BTreeSet::new();
    for svc in &inv.services {
        if !seen.insert((&svc.deliverable, &svc.version, &svc.install)) {
            continue;
        }
        let purl = format!("pkg:pypi/{}@{}", svc.package, svc.version);
        let f = facts(
            inv,
            SubjectKind::Openstack,
            "openstack",
            &svc.deliverable,
            Some(svc.kind.as_str()),
            Some(&purl),
        );
        let series_rule = policy.rule_for(&f, |r| r.series.as_ref());
        let patch_rule = policy.rule_for(&f, |r| r.patch.as_ref());
        if series_rule.is_none() && patch_rule.is_none() {
            continue;
        }
        let subject = Subject {
            ecosystem: crate::model::SubjectEcosystem::OpenStack,
            name: svc.deliverable.clone(),
            version: svc.version.clone(),
            purl: Some(purl.clone()),
            location: Some(svc.install.location()),
        };
        let searched = format!("openstack/releases {} {}", svc.package, svc.version);
        let Some(m) = crate::fleet::place(cat, &svc.package, &svc.version) else {
            let sev = series_rule.map_or(Severity::Low, |(_, r)| {
                r.severity.min(Severity::Low).max(Severity::Low)
            });
            out.push(finding(
                FindingCode::SeriesUnknown,
                sev,
                &inv.node.id,
                subject,
                Vec::new(),
                searched,
                String::new(),
                format!("{} {} matches no release of {} in openstack/releases (a distro- or locally-patched build?): its series cannot be judged", svc.package, svc.version, svc.deliverable),
            ));
            continue;
        };
        let Some(series) = cat.series_named(&m.series) else {
            continue;
        };
        // Independent deliverables (pbr, tooz, pycadf ≥ 4 …) belong to no series: exempt from
        // the series rule, still judged for patch currency (and advisories, elsewhere).
        let independent = series.is_independent();
        let build = match (&m.based_on, m.commits_after) {
            (Some(b), Some(c)) if !m.exact => {
                format!(" (unreleased build based on {b}, +{c} commits)")
            }
            _ => String::new(),
        };
        let matched = format!(
            "{} {} in deliverables/{}/{}.yaml{build}",
            m.deliverable, m.version, m.series, m.deliverable
        );
        let placed = Placed {
            inv,
            svc,
            m: &m,
            series,
            subject,
            searched,
            matched,
            build,
        };
        if let Some(rule) = series_rule.filter(|_| !independent) {
            series_checks(&placed, cat, &now, rule, out);
        }
        if let Some(rule) = patch_rule {
            patch_check(&placed, cat, now.as_of, rule, out);
        }
    }
}

/// A service placed in its series: what its findings say about it.
struct Placed<'a> {
    inv: &'a Inventory,
    svc: &'a crate::model::ServiceInstance,
    m: &'a crate::releases::openstack::Match,
    series: &'a Series,
    subject: Subject,
    searched: String,
    matched: String,
    /// ` (unreleased build based on …)`, or empty.
    build: String,
}

/// n, n-1 and the previous SLURP as of the scan date.
struct SeriesNow<'a> {
    n: &'a Series,
    n1: Option<&'a Series>,
    slurp: Option<&'a Series>,
    as_of: Date,
}

/// `series-behind` and `series-eol` for one placed service.
fn series_checks(
    p: &Placed<'_>,
    cat: &OpenStackCatalog,
    now: &SeriesNow<'_>,
    (rule, sr): (&crate::policy::Rule, &crate::policy::SeriesRule),
    out: &mut Vec<Finding>,
) {
    let Placed {
        inv,
        svc,
        m,
        series,
        subject,
        searched,
        matched,
        build,
    } = p;
    let SeriesNow {
        n,
        n1,
        slurp,
        as_of,
    } = *now;
    let lag = n.ordinal.saturating_sub(series.ordinal);
    let slurp_ok = sr.allow_previous_slurp && slurp.is_some_and(|s| s.ordinal == series.ordinal);
    let n1_text = n1
        .map(|s| format!(", n-1 {}", label(s)))
        .unwrap_or_default();
    if lag > sr.max_lag as usize && !slurp_ok {
        let allows = match (sr.max_lag, sr.allow_previous_slurp, slurp) {
            (0, false, _) => "n only".to_owned(),
            (k, false, _) => format!("n-{k}"),
            (k, true, Some(s)) => format!("n-{k} or the previous SLURP {}", label(s)),
            (k, true, None) => format!("n-{k}"),
        };
        let target = if sr.allow_previous_slurp {
            slurp.map_or_else(|| label(n), label)
        } else {
            n1.filter(|_| sr.max_lag >= 1)
                .map_or_else(|| label(n), label)
        };
        out.push(finding(
            FindingCode::SeriesBehind,
            sr.severity,
            &inv.node.id,
            subject.clone(),
            vec![target],
            searched.clone(),
            matched.clone(),
            format!(
                "{} {} is {}{build}; n is {}{n1_text}; policy `{}` allows {allows}",
                svc.deliverable,
                svc.version,
                label(series),
                label(n),
                rule.name
            ),
        ));
    }
    if sr.require_maintained {
        let eff = cat.effective_status(&m.deliverable, &m.series);
        let (status, why) = match eff {
            Some(e) if e.marker.is_some() => (
                e.status,
                format!(
                    " (its own {:?} marker tag)",
                    e.marker
                        .unwrap_or(crate::releases::openstack::MarkerKind::Eol)
                )
                .to_lowercase(),
            ),
            _ => (status_as_of(series, as_of), String::new()),
        };
        if matches!(
            status,
            SeriesStatus::Unmaintained
                | SeriesStatus::EndOfLife
                | SeriesStatus::ExtendedMaintenance
        ) {
            let sev = if status == SeriesStatus::EndOfLife {
                sr.severity.max(Severity::High)
            } else {
                sr.severity.max(Severity::Medium)
            };
            out.push(finding(
                    FindingCode::SeriesEol,
                    sev,
                    &inv.node.id,
                    subject.clone(),
                    vec![label(n)],
                    searched.clone(),
                    matched.clone(),
                    format!("{} in {} is {}{why} as of {as_of}: no more releases; upgrade to a maintained series", m.deliverable, label(series), status.as_str()),
                ));
        }
    }
}

/// `patch-behind` for one placed service.
fn patch_check(
    p: &Placed<'_>,
    cat: &OpenStackCatalog,
    as_of: Date,
    (rule, pr): (&crate::policy::Rule, &crate::policy::PatchRule),
    out: &mut Vec<Finding>,
) {
    let Placed {
        inv,
        svc,
        m,
        series,
        subject,
        searched,
        matched,
        ..
    } = p;
    if let Some(latest) = cat.latest_in_series(&m.deliverable, &m.series) {
        let newer = match (
            Version::parse(Scheme::Pep440, &svc.version),
            Version::parse(Scheme::Pep440, &latest.version),
        ) {
            (Ok(a), Ok(b)) => a.compare(&b).is_ok_and(|o| o == std::cmp::Ordering::Less),
            _ => false,
        };
        if newer {
            let days = cat.days_behind(&m.deliverable, &m.series, &svc.version, as_of);
            let over = pr.require_latest
                || matches!((pr.max_days_behind, days), (Some(max), Some(d)) if d > i64::from(max));
            if over {
                let days_text = days
                    .map(|d| format!("; a newer release has existed for {d} days"))
                    .unwrap_or_default();
                out.push(finding(
                    FindingCode::PatchBehind,
                    pr.severity,
                    &inv.node.id,
                    subject.clone(),
                    vec![latest.version.clone()],
                    searched.clone(),
                    matched.clone(),
                    format!(
                        "{} {} is behind {} {}, the latest release of {}{days_text} (policy `{}`)",
                        svc.deliverable,
                        svc.version,
                        m.deliverable,
                        latest.version,
                        label(series),
                        rule.name
                    ),
                ));
            }
        }
    }
}

fn upgrades(inv: &Inventory, apt: &AptIndex, policy: &Policy, out: &mut Vec<Finding>) {
    for p in &inv.packages {
        if p.ecosystem != Ecosystem::Deb {
            continue;
        }
        let f = facts(
            inv,
            SubjectKind::Package,
            "deb",
            &p.name,
            None,
            Some(&p.purl),
        );
        let Some((rule, sev)) = policy.rule_for(&f, |r| r.upgrades.as_ref()) else {
            continue;
        };
        let arch = match &p.meta {
            crate::model::PackageMeta::Deb { arch, .. } => arch.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let Some(cand) = apt.upgrade_candidate(&p.name, &arch, &p.version) else {
            continue;
        };
        let newer = match (
            Version::parse(Scheme::Deb, &p.version),
            Version::parse(Scheme::Deb, cand),
        ) {
            (Ok(a), Ok(b)) => a.compare(&b).is_ok_and(|o| o == std::cmp::Ordering::Less),
            _ => false,
        };
        if newer {
            out.push(finding(
                FindingCode::UpgradeAvailable,
                *sev,
                &inv.node.id,
                Subject {
                    ecosystem: crate::model::Ecosystem::Deb.into(),
                    name: p.name.clone(),
                    version: p.version.clone(),
                    purl: Some(p.purl.clone()),
                    location: Some(p.location.clone()),
                },
                vec![cand.to_owned()],
                format!("package indexes {} {arch}", p.name),
                format!("candidate {cand}"),
                format!("{} {} can be upgraded to {cand} from the configured repositories (policy `{}`)", p.name, p.version, rule.name),
            ));
        }
    }
}
