//! Currency: OpenStack series (n / n-1, SLURP, effective status, point releases), product
//! lifecycles (endoflife.date) and upgrades available from the node's repositories, judged
//! under a [`Policy`]. Nothing here is hard-coded: series, statuses, dates and lifecycles come
//! from the release data.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use time::Date;

use crate::model::{
    Ecosystem, Evidence, Finding, FindingCode, Inventory, Problem, Severity, Subject,
};
use crate::policy::{Policy, SubjectFacts, SubjectKind};
use crate::releases::apt::AptIndex;
use crate::releases::endoflife::Lifecycles;
use crate::releases::openstack::{OpenStackCatalog, Series, SeriesStatus};
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
    /// Problems met while loading.
    pub problems: Vec<Problem>,
    /// Purl (without version) → endoflife.date product, built from the products' identifiers.
    purl_products: HashMap<String, String>,
    /// Extra package matches (`advisories/products.yaml`).
    product_rules: Vec<ProductRule>,
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
        let (os, eol, apt) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                paths
                    .openstack
                    .as_deref()
                    .map(|d| OpenStackCatalog::load_cached(d, cache_dir))
            });
            let b = s.spawn(|| {
                paths
                    .endoflife
                    .as_deref()
                    .map(|d| Lifecycles::load_cached(d, cache_dir))
            });
            let c = s.spawn(|| {
                (!paths.apt.is_empty()).then(|| AptIndex::load_cached(&paths.apt, cache_dir))
            });
            (
                a.join().ok().flatten(),
                b.join().ok().flatten(),
                c.join().ok().flatten(),
            )
        });
        let mut cat = Self::default();
        match os {
            Some(Ok((c, p))) => {
                cat.openstack = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => notes.push(format!("openstack/releases could not be loaded: {e}")),
            None => notes.push("no openstack/releases data: OpenStack series were not judged (sync the `openstack-releases` feed)".to_owned()),
        }
        match eol {
            Some(Ok((c, p))) => {
                cat.lifecycles = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => notes.push(format!("endoflife.date data could not be loaded: {e}")),
            None => notes.push(
                "no endoflife.date data: lifecycles were not judged (sync the `endoflife` feed)"
                    .to_owned(),
            ),
        }
        match apt {
            Some(Ok((c, p))) => {
                cat.apt = Some(c);
                cat.problems.extend(p);
            }
            Some(Err(e)) => notes.push(format!("package indexes could not be loaded: {e}")),
            None => {}
        }
        cat.index_purls();
        (cat, notes)
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

/// A series' status as of a date: the data's status, advanced by `next-phase` once its date has
/// passed (the snapshot may predate a transition).
pub fn status_as_of(s: &Series, as_of: Date) -> SeriesStatus {
    match &s.next_phase {
        Some(np) if np.date.is_some_and(|d| d <= as_of) => np.status,
        _ => s.status,
    }
}

/// n as of a date: the newest series whose status (as of then) is maintained.
pub fn n_as_of(cat: &OpenStackCatalog, as_of: Date) -> Option<&Series> {
    cat.series()
        .iter()
        .filter(|s| !s.is_independent() && status_as_of(s, as_of) == SeriesStatus::Maintained)
        .max_by_key(|s| s.ordinal)
}

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
        let Some(m) = cat.lookup(&svc.package, &svc.version) else {
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
        if series.is_independent() {
            continue;
        }
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
        if let Some((rule, sr)) = series_rule {
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
    if let Some(os) = &inv.os {
        if let (Some(p), Some(v)) = (os_product(&os.id), os.version_id.as_deref()) {
            cands.insert(
                (p.to_owned(), v.to_owned()),
                (v.to_owned(), None, os.source_file.clone()),
            );
        }
    }
    for pkg in &inv.packages {
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
        if cycle.is_eol(as_of) {
            if lr.forbid_eol {
                let when = cycle
                    .eol_date()
                    .map(|d| format!(" since {d}"))
                    .unwrap_or_default();
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
        } else if lr.warn_days > 0 {
            if let Some(d) = cycle.eol_date() {
                let left = (d - as_of).whole_days();
                if left <= i64::from(lr.warn_days) {
                    out.push(finding(
                        FindingCode::EolSoon,
                        Severity::Low.max(lr.severity.min(Severity::Medium)),
                        &inv.node.id,
                        subject,
                        fixed_in,
                        searched,
                        matched,
                        format!("{product} {} (cycle {}) reaches end of life on {d}, in {left} days (look-ahead {} days, policy `{}`)", version, cycle.name, lr.warn_days, rule.name),
                    ));
                }
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
        let Some(cand) = apt.candidate(&p.name, &arch) else {
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
}
