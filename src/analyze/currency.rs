//! Currency: OpenStack series (n / n-1, SLURP, effective status, point releases), product
//! lifecycles (endoflife.date), upgrades available from the node's repositories, and Python
//! dependencies against their series' upper-constraints (openstack/requirements), judged
//! under a [`Policy`]. Nothing here is hard-coded: series, statuses, dates and lifecycles come
//! from the release data.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use time::Date;

use crate::model::{
    Ecosystem, Evidence, Finding, FindingCode, Inventory, Package, PackageMeta, Problem, Severity,
    Subject,
};
use crate::policy::{Policy, SubjectFacts, SubjectKind};
use crate::releases::apt::AptIndex;
use crate::releases::endoflife::{Cycle, Lifecycles, Support};
use crate::releases::openstack::{DeliverableType, OpenStackCatalog, Series, SeriesStatus};
use crate::releases::requirements::{Constraint, UpperConstraints};
use crate::version::{Scheme, Version};

/// The release data a currency judgement needs; each part is optional (a missing part is
/// reported as "not judged", never as compliant).
#[derive(Debug, Default)]
pub struct Catalogs {
    /// openstack/releases.
    pub openstack: Option<OpenStackCatalog>,
    /// endoflife.date.
    pub lifecycles: Option<Lifecycles>,
    /// Package indexes (apt).
    pub apt: Option<AptIndex>,
    /// openstack/requirements upper-constraints.
    pub constraints: Option<UpperConstraints>,
    /// Problems met while loading.
    pub problems: Vec<Problem>,
    /// The parts that are missing or could not be loaded: what was not judged, and why.
    pub notes: Vec<CatalogNote>,
    /// Purl (without version) → endoflife.date product, built from the products' identifiers.
    purl_products: HashMap<String, String>,
    /// Extra package matches (`advisories/products.yaml`).
    product_rules: Vec<ProductRule>,
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

/// The shipped package → product matches.
pub const PRODUCTS_YAML: &str = include_str!("../../advisories/products.yaml");

/// One package → product match rule.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductMatch {
    /// Ecosystem (`deb`, `rpm`, `apk`, `pypi`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Glob over the source package name.
    #[serde(default)]
    pub source: Option<String>,
    /// Glob over the binary package name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Matches for one product.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRule {
    /// endoflife.date product name.
    pub product: String,
    /// Matches.
    pub r#match: Vec<ProductMatch>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsFile {
    products: Vec<ProductRule>,
}

/// Parse a products mapping file.
pub fn parse_products(text: &str) -> Result<Vec<ProductRule>, String> {
    serde_yaml::from_str::<ProductsFile>(text)
        .map(|f| f.products)
        .map_err(|e| format!("advisories/products.yaml: {e}"))
}

fn product_for(rules: &[ProductRule], p: &crate::model::Package) -> Option<String> {
    let src = p
        .source
        .as_ref()
        .map_or(p.name.as_str(), |s| s.name.as_str());
    rules
        .iter()
        .find(|r| {
            r.r#match.iter().any(|m| {
                m.ty == p.ecosystem.as_str()
                    && m.source
                        .as_deref()
                        .is_none_or(|g| crate::policy::Glob::new(g).matches(src))
                    && m.name
                        .as_deref()
                        .is_none_or(|g| crate::policy::Glob::new(g).matches(&p.name))
                    && (m.source.is_some() || m.name.is_some())
            })
        })
        .map(|r| r.product.clone())
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

    fn index_purls(&mut self) {
        self.purl_products.clear();
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
            }
        }
    }
}

pub use crate::fleet::{n_as_of, status_as_of};

fn previous_slurp<'a>(cat: &'a OpenStackCatalog, n: &Series) -> Option<&'a Series> {
    cat.series()
        .iter()
        .filter(|s| !s.is_independent() && s.slurp && s.ordinal < n.ordinal)
        .max_by_key(|s| s.ordinal)
}

fn label(s: &Series) -> String {
    match &s.release_id {
        Some(id) => format!("{id} {}", s.name),
        None => s.name.clone(),
    }
}

// The parameters are the fields of a finding, in order; a builder would only rename them.
#[allow(clippy::too_many_arguments)]
fn finding(
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
    if let Some(l) = &cat.lifecycles {
        lifecycles(
            inv,
            l,
            &cat.purl_products,
            &cat.product_rules,
            policy,
            as_of,
            &mut out,
        );
    }
    if let Some(apt) = &cat.apt {
        upgrades(inv, apt, policy, &mut out);
    }
    if let (Some(os), Some(uc)) = (&cat.openstack, &cat.constraints) {
        constraints(inv, os, uc, policy, &mut out);
    }
    out
}

fn facts<'a>(
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
            ecosystem: "openstack".into(),
            name: svc.deliverable.clone(),
            version: svc.version.clone(),
            purl: Some(purl.clone()),
            location: Some(crate::model::Location::path(&svc.install)),
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
        if let Some((rule, sr)) = series_rule.filter(|_| !independent) {
            let lag = n.ordinal.saturating_sub(series.ordinal);
            let slurp_ok =
                sr.allow_previous_slurp && slurp.is_some_and(|s| s.ordinal == series.ordinal);
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
        if let Some((rule, pr)) = patch_rule {
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
                            format!("{} {} is behind {} {}, the latest release of {}{days_text} (policy `{}`)", svc.deliverable, svc.version, m.deliverable, latest.version, label(series), rule.name),
                        ));
                    }
                }
            }
        }
    }
}

/// The OS's endoflife.date product name for an os-release id.
fn os_product(id: &str) -> Option<&'static str> {
    Some(match id {
        "debian" => "debian",
        "ubuntu" => "ubuntu",
        "rhel" => "rhel",
        "rocky" => "rocky-linux",
        "almalinux" => "almalinux",
        "alpine" => "alpine-linux",
        "centos" => "centos",
        "ol" => "oracle-linux",
        "sles" => "sles",
        "opensuse-leap" => "opensuse",
        "fedora" => "fedora",
        "amzn" => "amazon-linux",
        _ => return None,
    })
}

/// The upstream part of a distro version: no epoch, no revision (`1:10.11.6-0+deb12u1` →
/// `10.11.6`; `3.11.2-6+deb12u6` → `3.11.2`; rpm `10.5.22-1.el9` → `10.5.22`).
fn upstream_part(eco: Ecosystem, v: &str) -> String {
    let v = v.split_once(':').map_or(v, |(_, r)| r);
    let v = match eco {
        Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk => {
            v.rsplit_once('-').map_or(v, |(u, _)| u)
        }
        _ => v,
    };
    // Debian/Ubuntu suffixes after the upstream version: `+dfsg`, `~rc1`.
    v.split(['+', '~']).next().unwrap_or(v).to_owned()
}

/// purl without version and qualifiers, lower case.
fn purl_base(purl: &str) -> String {
    let p = purl.split(['?', '#']).next().unwrap_or(purl);
    let p = match p.rfind('@') {
        Some(i) if i > 4 => &p[..i],
        _ => p,
    };
    p.to_ascii_lowercase()
}

fn lifecycles(
    inv: &Inventory,
    l: &Lifecycles,
    purl_products: &HashMap<String, String>,
    rules: &[ProductRule],
    policy: &Policy,
    as_of: Date,
    out: &mut Vec<Finding>,
) {
    // (product, version, where) candidates, one per product and cycle.
    let mut cands: BTreeMap<(String, String), (String, Option<String>, String)> = BTreeMap::new();
    // Debian supports every package of a release (security updates, backported fixes) until
    // the end of its LTS (endoflife.date's `eoes` for debian): while it does, a Debian
    // package's upstream end of life (perl 5.36, ansible 7) is not the node's, just as distro
    // packages are judged by distro advisories and not upstream ones. Past LTS, upstream
    // lifecycles apply again.
    let debian_lts: Option<&Cycle> = inv
        .os
        .as_ref()
        .filter(|os| os.id == "debian")
        .and_then(|os| os.version_id.as_deref())
        .and_then(|v| l.cycle_for("debian", v))
        .filter(|c| c.is_extended_support_over(as_of) == Some(false));
    if let Some(os) = &inv.os {
        if let (Some(p), Some(v)) = (os_product(&os.id), os.version_id.as_deref()) {
            cands.insert(
                (p.to_owned(), v.to_owned()),
                (v.to_owned(), None, os.source_file.clone()),
            );
        }
    }
    for pkg in &inv.packages {
        // Debian's packages, and the Python modules they install (`ansible` 7.7 in
        // /usr/lib/python3/dist-packages, owned by dpkg).
        let debian_owned = pkg.ecosystem == Ecosystem::Deb
            || matches!(
                &pkg.meta,
                crate::model::PackageMeta::Python {
                    os_owner: Some(_),
                    ..
                }
            );
        if debian_lts.is_some() && debian_owned {
            continue;
        }
        let base = purl_base(&pkg.purl);
        let mut product = purl_products.get(&base).cloned();
        if product.is_none() {
            // Debian identifiers often name the source package (`pkg:deb/debian/mariadb`).
            if let Some(src) = &pkg.source {
                if let Some((prefix, _)) = base.rsplit_once('/') {
                    product = purl_products
                        .get(&format!("{prefix}/{}", src.name.to_ascii_lowercase()))
                        .cloned();
                }
            }
        }
        let Some(product) = product.or_else(|| product_for(rules, pkg)) else {
            continue;
        };
        if l.product(&product).is_none() {
            continue;
        }
        let v = upstream_part(pkg.ecosystem, &pkg.version);
        let cycle = l
            .cycle_for(&product, &v)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| v.clone());
        cands.entry((product, cycle)).or_insert((
            v,
            Some(pkg.purl.clone()),
            pkg.location.path.clone(),
        ));
    }
    for ((product, _), (version, purl, location)) in cands {
        let f = facts(
            inv,
            SubjectKind::Product,
            "product",
            &product,
            None,
            purl.as_deref(),
        );
        let Some((rule, lr)) = policy.rule_for(&f, |r| r.lifecycle.as_ref()) else {
            continue;
        };
        let Some(cycle) = l.cycle_for(&product, &version) else {
            continue;
        };
        let subject = Subject {
            ecosystem: "product".into(),
            name: product.clone(),
            version: version.clone(),
            purl: purl.clone(),
            location: Some(crate::model::Location::path(&location)),
        };
        let searched = format!("endoflife.date {product} {version}");
        let matched = format!("{product} cycle {}", cycle.name);
        let newest = l
            .product(&product)
            .and_then(|p| p.cycles.iter().find(|c| !c.is_eol(as_of)))
            .map(|c| c.name.clone());
        let fixed_in: Vec<String> = newest.iter().map(|c| format!("{product} {c}")).collect();
        // The Debian release itself: supported until the end of its LTS.
        let lts_end = (product == "debian" && debian_lts.is_some())
            .then(|| cycle.eoes.and_then(Support::date))
            .flatten();
        // In LTS the release has not ended; its end is the LTS's.
        let (ended, end) = match lts_end {
            Some(end) => (false, Some(end)),
            None => (cycle.is_eol(as_of), cycle.eol_date()),
        };
        if ended {
            if lr.forbid_eol {
                let when = end.map(|d| format!(" since {d}")).unwrap_or_default();
                out.push(finding(
                    FindingCode::Eol,
                    lr.severity,
                    &inv.node.id,
                    subject,
                    fixed_in,
                    searched,
                    matched,
                    format!(
                        "{product} {} (cycle {}) is end of life{when} (policy `{}`)",
                        version, cycle.name, rule.name
                    ),
                ));
            }
        } else if let Some(d) = end.filter(|_| lr.warn_days > 0) {
            let left = (d - as_of).whole_days();
            if left <= i64::from(lr.warn_days) {
                let what = if lts_end.is_some() {
                    "is in LTS; its LTS ends"
                } else {
                    "reaches end of life"
                };
                out.push(finding(
                    FindingCode::EolSoon,
                    Severity::Low.max(lr.severity.min(Severity::Medium)),
                    &inv.node.id,
                    subject,
                    fixed_in,
                    searched,
                    matched,
                    format!("{product} {version} (cycle {}) {what} on {d}, in {left} days (look-ahead {} days, policy `{}`)", cycle.name, lr.warn_days, rule.name),
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
                    ecosystem: "deb".into(),
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

// ---- upper-constraints ----

/// Python distributions of one site directory (`…/lib/python3.12/site-packages`) that the OS
/// package manager does not own.
#[derive(Debug)]
struct SiteGroup<'a> {
    /// The site directory as found (with the `image:<reference>:` prefix for image contents).
    site: String,
    /// `3.12` from a `python3.12` path segment, for the constraint markers.
    python: Option<String>,
    packages: Vec<&'a Package>,
}

/// The site directory of a package location: the path up to its last `site-packages` or
/// `dist-packages` segment.
fn site_dir_of(path: &str) -> Option<&str> {
    let mut end = None;
    let mut start = 0;
    for seg in path.split('/') {
        let e = start + seg.len();
        if seg == "site-packages" || seg == "dist-packages" {
            end = Some(e);
        }
        start = e + 1;
    }
    end.map(|e| &path[..e])
}

/// `3.12` from the `python3.12` segment right above a site directory (or anywhere in an
/// environment path); `None` without a `pythonX.Y` segment (`python3` alone says too little for
/// the markers).
fn python_of(path: &str) -> Option<String> {
    path.split('/').rev().find_map(|seg| {
        let v = seg.strip_prefix("python")?;
        let (a, b) = v.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        (digits(a) && digits(b)).then(|| format!("{a}.{b}"))
    })
}

/// The `image:<reference>:` prefix of a location, or `""` for the node's own files.
fn image_prefix<'a>(inv: &Inventory, path: &'a str) -> &'a str {
    if !path.starts_with("image:") {
        return "";
    }
    inv.images
        .iter()
        .map(|i| crate::model::image_location_prefix(&i.reference))
        .filter(|p| path.starts_with(p.as_str()))
        .max_by_key(String::len)
        .map_or("", |p| &path[..p.len()])
}

/// Group the inventory's Python distributions that are not OS-owned by site directory. A
/// distribution recorded outside any site directory (an `.egg-link` project) joins the site
/// directory of its environment when exactly one holds it, else a group of its own.
fn site_groups(inv: &Inventory) -> Vec<SiteGroup<'_>> {
    let mut groups: BTreeMap<String, Vec<&Package>> = BTreeMap::new();
    let mut env_sites: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut loose: Vec<(String, &Package)> = Vec::new();
    for p in &inv.packages {
        if p.ecosystem != Ecosystem::Pypi {
            continue;
        }
        let PackageMeta::Python {
            os_owner,
            environment,
            ..
        } = &p.meta
        else {
            continue;
        };
        if os_owner.is_some() {
            continue;
        }
        let env = environment
            .as_deref()
            .map(|e| format!("{}{e}", image_prefix(inv, &p.location.path)));
        match site_dir_of(&p.location.path) {
            Some(site) => {
                if let Some(e) = env {
                    env_sites.entry(e).or_default().insert(site.to_owned());
                }
                groups.entry(site.to_owned()).or_default().push(p);
            }
            None => {
                if let Some(e) = env {
                    loose.push((e, p));
                }
            }
        }
    }
    for (env, p) in loose {
        let key = match env_sites.get(&env) {
            Some(sites) if sites.len() == 1 => sites.iter().next().cloned().unwrap_or(env),
            _ => env,
        };
        groups.entry(key).or_default().push(p);
    }
    groups
        .into_iter()
        .map(|(site, packages)| SiteGroup {
            python: python_of(&site),
            site,
            packages,
        })
        .collect()
}

/// The pin that applies: with a Python version, the first pin whose marker holds for it;
/// without one, only a pin without a marker.
fn pin_for<'a>(pins: &'a [Constraint], python: Option<&str>) -> Option<&'a Constraint> {
    match python {
        Some(py) => pins.iter().find(|c| c.applies_to_python(py) == Some(true)),
        None => pins.iter().find(|c| c.marker.is_none()),
    }
}

/// `nova 29.0.0, neutron 24.0.0, glance 28.0.1 and 11 more`: a whole all-in-one environment
/// would drown the evidence.
fn services_text(v: &[String]) -> String {
    const SHOWN: usize = 3;
    if v.len() <= SHOWN {
        v.join(", ")
    } else {
        format!("{} and {} more", v[..SHOWN].join(", "), v.len() - SHOWN)
    }
}

fn display_name(p: &Package) -> &str {
    match &p.meta {
        PackageMeta::Python { display_name, .. } if !display_name.is_empty() => display_name,
        _ => &p.name,
    }
}

fn constraints(
    inv: &Inventory,
    cat: &OpenStackCatalog,
    uc: &UpperConstraints,
    policy: &Policy,
    out: &mut Vec<Finding>,
) {
    if !policy.rules.iter().any(|r| r.constraints.is_some()) {
        return;
    }
    for g in site_groups(inv) {
        // The series of the services in this directory, by exact lookup.
        let mut by_series: BTreeMap<usize, (&Series, Vec<String>)> = BTreeMap::new();
        for p in &g.packages {
            let Some(m) = crate::fleet::place(cat, &p.name, &p.version) else {
                continue;
            };
            if m.kind != DeliverableType::Service {
                continue;
            }
            let Some(s) = cat.series_named(&m.series).filter(|s| !s.is_independent()) else {
                continue;
            };
            let e = by_series
                .entry(s.ordinal)
                .or_insert_with(|| (s, Vec::new()));
            let svc = format!("{} {}", m.deliverable, p.version);
            if !e.1.contains(&svc) {
                e.1.push(svc);
            }
        }
        // Several series in one directory: judged against the newest, and every finding says so.
        let Some((_, (series, services))) = by_series.iter().next_back() else {
            continue;
        };
        let Some(branch) = uc.for_series(cat, &series.name) else {
            continue;
        };
        let mixed = if by_series.len() > 1 {
            let all: Vec<String> = by_series
                .values()
                .map(|(s, v)| format!("{} ({})", label(s), services_text(v)))
                .collect();
            format!(
                "; the directory holds services of several series, {}: judged against the newest",
                all.join("; ")
            )
        } else {
            String::new()
        };
        let py_text = g
            .python
            .as_deref()
            .map(|p| format!(", Python {p}"))
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        for p in &g.packages {
            if !seen.insert((&p.name, &p.version)) {
                continue;
            }
            let Some(pin) = pin_for(branch.pins(&p.name), g.python.as_deref()) else {
                continue;
            };
            let f = facts(
                inv,
                SubjectKind::Package,
                "pypi",
                &p.name,
                None,
                Some(&p.purl),
            );
            let Some((rule, cr)) = policy.rule_for(&f, |r| r.constraints.as_ref()) else {
                continue;
            };
            let (Ok(have), Ok(want)) = (
                Version::parse(Scheme::Pep440, &p.version),
                Version::parse(Scheme::Pep440, &pin.version),
            ) else {
                continue;
            };
            let direction = match have.compare(&want) {
                Ok(std::cmp::Ordering::Less) if !cr.allow_older => "older",
                Ok(std::cmp::Ordering::Greater) if !cr.allow_newer => "newer",
                _ => continue,
            };
            let name = display_name(p);
            let marker = pin
                .marker
                .as_deref()
                .map(|m| format!(";{m}"))
                .unwrap_or_default();
            out.push(finding(
                FindingCode::ConstraintMismatch,
                cr.severity,
                &inv.node.id,
                Subject {
                    ecosystem: "pypi".into(),
                    name: p.name.clone(),
                    version: p.version.clone(),
                    purl: Some(p.purl.clone()),
                    location: Some(p.location.clone()),
                },
                vec![pin.version.clone()],
                format!(
                    "openstack/requirements {} upper-constraints.txt {name}",
                    branch.branch
                ),
                format!("{}==={}{marker} (line {})", pin.name, pin.version, pin.line),
                format!(
                    "{name} {} in {}: {} upper-constraints pin {} (line {}); {direction} than the tested version (series {} from {}{py_text}{mixed}; policy `{}`)",
                    p.version,
                    g.site,
                    branch.branch,
                    pin.version,
                    pin.line,
                    label(series),
                    services_text(services),
                    rule.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_product_rules_parse() {
        let r = parse_products(PRODUCTS_YAML).unwrap();
        assert!(r.iter().any(|p| p.product == "rabbitmq"));
    }

    #[test]
    fn upstream_parts() {
        assert_eq!(
            upstream_part(Ecosystem::Deb, "1:10.11.6-0+deb12u1"),
            "10.11.6"
        );
        assert_eq!(upstream_part(Ecosystem::Deb, "3.11.2-6+deb12u6"), "3.11.2");
        assert_eq!(upstream_part(Ecosystem::Rpm, "10.5.22-1.el9"), "10.5.22");
        assert_eq!(upstream_part(Ecosystem::Deb, "2.9.14+dfsg-1.3"), "2.9.14");
        assert_eq!(
            purl_base("pkg:deb/debian/mariadb-server@1:10.11.6-0%2Bdeb12u1?arch=amd64"),
            "pkg:deb/debian/mariadb-server"
        );
    }

    // ---- upper-constraints ----

    use crate::collect::python::package as pypkg;
    use crate::model::{Location, NodeInfo};
    use crate::releases::test_data::shared;
    use std::sync::OnceLock;

    fn os_catalog() -> &'static OpenStackCatalog {
        static CAT: OnceLock<OpenStackCatalog> = OnceLock::new();
        CAT.get_or_init(|| {
            OpenStackCatalog::load(&shared("openstack-releases"))
                .unwrap()
                .0
        })
    }

    /// Two branches of hand-written constraints, laid out as openstack/requirements is.
    fn small_constraints() -> (tempfile::TempDir, UpperConstraints) {
        let tmp = tempfile::tempdir().unwrap();
        for (branch, text) in [
            (
                "unmaintained/2024.1",
                "# caracal\noslo.messaging===14.7.2\nPasteDeploy===3.1.0\n",
            ),
            (
                "stable/2026.1",
                "oslo.messaging===17.3.0\nscipy===1.13.1;python_version=='3.9'\nscipy===1.15.2;python_version>='3.10'\nWebOb===1.8.9\n",
            ),
        ] {
            let d = tmp.path().join(branch);
            fs_err::create_dir_all(&d).unwrap();
            fs_err::write(d.join("upper-constraints.txt"), text).unwrap();
        }
        let (uc, problems) = UpperConstraints::load(tmp.path()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        (tmp, uc)
    }

    fn dist(site: &str, display: &str, version: &str, owner: Option<&str>) -> Package {
        let dir = format!("{}-{version}.dist-info", display.replace(['-', '.'], "_"));
        pypkg(
            display,
            version,
            "python-dist-info",
            Location::path(format!("{site}/{dir}/METADATA")),
            owner.map(str::to_owned),
            Some(site.to_owned()),
        )
    }

    fn node(packages: Vec<Package>) -> Inventory {
        Inventory {
            schema_version: crate::model::INVENTORY_SCHEMA_VERSION,
            node: NodeInfo {
                id: "ctl1".into(),
                ..NodeInfo::default()
            },
            collected_at: String::new(),
            agent: crate::model::AgentInfo::default(),
            root: "/".into(),
            os: None,
            packages,
            images: Vec::new(),
            services: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn policy(text: &str) -> Policy {
        crate::policy::parse(text, "t.yaml").unwrap()
    }

    const CONSTRAINTS_ONLY: &str = "version: 1\nrules:\n  - name: deps\n    select: {kinds: [package], ecosystems: [pypi]}\n    constraints: {severity: low}\n";

    fn judged(inv: &Inventory, uc: &UpperConstraints, pol: &Policy) -> Vec<Finding> {
        let cat = Catalogs::from_parts(Some(os_catalog().clone()), None, None)
            .with_constraints(Some(uc.clone()));
        judge_currency(inv, &cat, pol, time::macros::date!(2026 - 08 - 21))
            .into_iter()
            .filter(|f| f.code == FindingCode::ConstraintMismatch)
            .collect()
    }

    fn summary(f: &[Finding]) -> Vec<(String, String, String)> {
        let mut v: Vec<_> = f
            .iter()
            .map(|f| {
                (
                    f.subject.location.as_ref().unwrap().path.clone(),
                    f.subject.version.clone(),
                    f.fixed_in.join(","),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn site_dirs_and_python_versions() {
        assert_eq!(
            site_dir_of("/openstack/venvs/nova-29.0.0/lib/python3.12/site-packages/nova-29.0.0.dist-info/METADATA"),
            Some("/openstack/venvs/nova-29.0.0/lib/python3.12/site-packages")
        );
        assert_eq!(
            site_dir_of("image:quay.io/kolla/nova-api:2024.1:/var/lib/kolla/venv/lib/python3.10/site-packages/x.dist-info/METADATA"),
            Some("image:quay.io/kolla/nova-api:2024.1:/var/lib/kolla/venv/lib/python3.10/site-packages")
        );
        assert_eq!(
            site_dir_of("/usr/lib/python3/dist-packages/x.egg-info"),
            Some("/usr/lib/python3/dist-packages")
        );
        assert_eq!(site_dir_of("/opt/stack/nova/nova.egg-info/PKG-INFO"), None);
        assert_eq!(
            python_of("/openstack/venvs/nova-29.0.0/lib/python3.12/site-packages").as_deref(),
            Some("3.12")
        );
        assert_eq!(python_of("/usr/lib/python3/dist-packages"), None);
        assert_eq!(python_of("/opt/python3.x/site-packages"), None);
        assert_eq!(
            python_of("/lib/python2.7/site-packages").as_deref(),
            Some("2.7")
        );
    }

    /// Two OpenStack-Ansible venvs of different series on one node, each judged against its own
    /// series' constraints; a directory without a service, and OS-owned distributions, are not
    /// judged.
    #[test]
    fn constraints_group_by_site_directory() {
        let (_tmp, uc) = small_constraints();
        let old = "/openstack/venvs/nova-29.0.0/lib/python3.12/site-packages";
        let new = "/openstack/venvs/nova-33.0.2/lib/python3.12/site-packages";
        let bare = "/opt/tools/lib/python3.12/site-packages";
        let deb = "/usr/lib/python3/dist-packages";
        let inv = node(vec![
            dist(old, "nova", "29.0.0", None),
            dist(old, "oslo.messaging", "14.7.0", None),
            dist(old, "PasteDeploy", "3.1.0", None),
            dist(new, "nova", "33.0.2", None),
            dist(new, "oslo.messaging", "17.4.0", None),
            dist(new, "WebOb", "1.8.9", None),
            dist(bare, "oslo.messaging", "1.0.0", None),
            dist(deb, "nova", "29.0.0", Some("dpkg")),
            dist(deb, "oslo.messaging", "12.0.0", Some("dpkg")),
        ]);
        let f = judged(&inv, &uc, &policy(CONSTRAINTS_ONLY));
        assert_eq!(
            summary(&f),
            [
                (
                    format!("{old}/oslo_messaging-14.7.0.dist-info/METADATA"),
                    "14.7.0".to_owned(),
                    "14.7.2".to_owned()
                ),
                (
                    format!("{new}/oslo_messaging-17.4.0.dist-info/METADATA"),
                    "17.4.0".to_owned(),
                    "17.3.0".to_owned()
                ),
            ]
        );
        let older = f.iter().find(|x| x.subject.version == "14.7.0").unwrap();
        assert_eq!(older.severity, Severity::Low);
        assert_eq!(older.subject.ecosystem, "pypi");
        assert_eq!(older.subject.name, "oslo-messaging");
        assert_eq!(
            older.evidence.message,
            format!("oslo.messaging 14.7.0 in {old}: unmaintained/2024.1 upper-constraints pin 14.7.2 (line 2); older than the tested version (series 2024.1 caracal from nova 29.0.0, Python 3.12; policy `deps`)")
        );
        assert_eq!(older.evidence.matched, "oslo.messaging===14.7.2 (line 2)");
        assert_eq!(
            older.evidence.searched,
            "openstack/requirements unmaintained/2024.1 upper-constraints.txt oslo.messaging"
        );
        let newer = f.iter().find(|x| x.subject.version == "17.4.0").unwrap();
        assert!(
            newer
                .evidence
                .message
                .contains("stable/2026.1 upper-constraints pin 17.3.0 (line 1); newer than the tested version (series 2026.1 gazpacho from nova 33.0.2"),
            "{}",
            newer.evidence.message
        );
        // allow_newer keeps only the older one; a policy without the check judges nothing.
        let lenient =
            policy("version: 1\nrules:\n  - name: deps\n    constraints: {allow_newer: true}\n");
        assert_eq!(judged(&inv, &uc, &lenient).len(), 1);
        let none = policy("version: 1\nrules:\n  - name: x\n    select: {kinds: [product]}\n    lifecycle: {forbid_eol: true}\n");
        assert!(judged(&inv, &uc, &none).is_empty());
        // A series whose branch is not in the data (dalmatian, deleted at its end of life) is
        // not judged.
        let dal = "/openstack/venvs/nova-30.0.0/lib/python3.12/site-packages";
        let inv = node(vec![
            dist(dal, "nova", "30.0.0", None),
            dist(dal, "oslo.messaging", "1.0.0", None),
        ]);
        assert!(judged(&inv, &uc, &policy(CONSTRAINTS_ONLY)).is_empty());
    }

    /// Pins that differ by environment marker are chosen by the Python version of the path;
    /// without one, only unmarked pins are used.
    #[test]
    fn constraints_markers_follow_the_python_of_the_path() {
        let (_tmp, uc) = small_constraints();
        let py312 = "/var/lib/kolla/venv/lib/python3.12/site-packages";
        let py39 = "/openstack/venvs/nova-33.0.2/lib/python3.9/site-packages";
        let nopy = "/srv/app/lib/python3/site-packages";
        let inv = node(vec![
            dist(py312, "nova", "33.0.2", None),
            dist(py312, "scipy", "1.13.1", None),
            dist(py39, "nova", "33.0.2", None),
            dist(py39, "scipy", "1.13.1", None),
            dist(nopy, "nova", "33.0.2", None),
            dist(nopy, "scipy", "1.0.0", None),
            dist(nopy, "WebOb", "1.8.0", None),
        ]);
        let f = judged(&inv, &uc, &policy(CONSTRAINTS_ONLY));
        assert_eq!(
            summary(&f),
            [
                (
                    format!("{nopy}/WebOb-1.8.0.dist-info/METADATA"),
                    "1.8.0".to_owned(),
                    "1.8.9".to_owned()
                ),
                (
                    format!("{py312}/scipy-1.13.1.dist-info/METADATA"),
                    "1.13.1".to_owned(),
                    "1.15.2".to_owned()
                ),
            ]
        );
        let s = f.iter().find(|x| x.subject.name == "scipy").unwrap();
        assert_eq!(
            s.evidence.matched,
            "scipy===1.15.2;python_version>='3.10' (line 3)"
        );
    }

    /// Services of several series in one directory: judged against the newest, and said so.
    #[test]
    fn constraints_mixed_series_use_the_newest() {
        let (_tmp, uc) = small_constraints();
        let site = "/openstack/venvs/mixed/lib/python3.12/site-packages";
        let inv = node(vec![
            dist(site, "nova", "29.0.0", None),
            dist(site, "neutron", "28.0.1", None),
            dist(site, "oslo.messaging", "14.7.2", None),
        ]);
        let f = judged(&inv, &uc, &policy(CONSTRAINTS_ONLY));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].fixed_in, ["17.3.0"]);
        assert!(
            f[0].evidence.message.contains("older than the tested version (series 2026.1 gazpacho from neutron 28.0.1, Python 3.12; the directory holds services of several series, 2024.1 caracal (nova 29.0.0); 2026.1 gazpacho (neutron 28.0.1): judged against the newest"),
            "{}",
            f[0].evidence.message
        );
    }

    /// An `.egg-link` project (recorded outside the site directory) joins the site directory of
    /// its environment; image contents are grouped per image.
    #[test]
    fn constraints_egg_links_and_images() {
        let (_tmp, uc) = small_constraints();
        let site = "/opt/stack/data/venv/lib/python3.12/site-packages";
        let mut nova = dist(site, "nova", "33.0.2", None);
        nova.location = Location::path("/opt/stack/nova/nova.egg-info/PKG-INFO");
        if let PackageMeta::Python { environment, .. } = &mut nova.meta {
            *environment = Some("/opt/stack/data/venv".into());
        }
        let mut msg = dist(site, "oslo.messaging", "17.0.0", None);
        if let PackageMeta::Python { environment, .. } = &mut msg.meta {
            *environment = Some("/opt/stack/data/venv".into());
        }
        let img = "image:quay.io/kolla/nova-api:2026.1:";
        let kolla = "/var/lib/kolla/venv/lib/python3.12/site-packages";
        let mut a = dist(kolla, "nova", "33.0.2", None);
        a.location.path = format!("{img}{}", a.location.path);
        let mut b = dist(kolla, "oslo.messaging", "17.2.0", None);
        b.location.path = format!("{img}{}", b.location.path);
        let mut inv = node(vec![nova, msg, a, b]);
        inv.images.push(crate::model::ImageRef {
            reference: "quay.io/kolla/nova-api:2026.1".into(),
            ..crate::model::ImageRef::default()
        });
        let groups = site_groups(&inv);
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.site.as_str(), g.packages.len()))
                .collect::<Vec<_>>(),
            [(site, 2), (format!("{img}{kolla}").as_str(), 2)]
        );
        let f = judged(&inv, &uc, &policy(CONSTRAINTS_ONLY));
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f
            .iter()
            .any(|x| x.evidence.message.contains(&format!("in {img}{kolla}:"))));
    }
}
