//! Product lifecycles: endoflife.date cycles for what a node runs, and, for a distribution's
//! own software, the distribution's lifecycle (distro-info-data: regular, LTS, ELTS/ESM
//! support, as the policy's `os_support` chooses; Debian's security-support lists).

use std::collections::BTreeMap;

use time::Date;

use super::{facts, finding, Catalogs};
use crate::model::{
    Ecosystem, Finding, FindingCode, Inventory, Package, PackageMeta, Severity, Subject,
};
use crate::policy::{OsSupport, Policy, SubjectKind};
use crate::releases::distro::{Distro, DistroLifecycles, DistroRelease, SupportLevel};
use crate::releases::endoflife::{Cycle, Lifecycles, Support};

/// The shipped package → product matches.
pub(crate) const PRODUCTS_YAML: &str = include_str!("../../../advisories/products.yaml");

/// One package → product match rule.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductMatch {
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
pub(crate) struct ProductRule {
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
pub(crate) fn parse_products(text: &str) -> Result<Vec<ProductRule>, String> {
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

/// Judge the lifecycles of what `inv` runs: its distribution release from distro-info-data
/// (when the data names it; the level of support that counts is the policy's `os_support`),
/// Debian packages on their release's security-support-ended list, and products from
/// endoflife.date. While the distribution supports its release, the packages it ships (and the
/// Python modules they install) follow the release, not their upstream cycles.
pub(super) fn lifecycles(
    inv: &Inventory,
    cat: &Catalogs,
    policy: &Policy,
    as_of: Date,
    out: &mut Vec<Finding>,
) {
    let distro_os = cat
        .distro
        .as_ref()
        .and_then(|d| DistroOs::of(inv, d, policy, as_of));
    if let Some(os) = &distro_os {
        os.judge(inv, policy, as_of, out);
    }
    if let Some(d) = &cat.distro {
        security_support_ended(inv, d, policy, as_of, out);
    }
    let Some(l) = &cat.lifecycles else { return };
    // Without distro-info data for the release, Debian's own lifecycle comes from
    // endoflife.date: supported until the end of its LTS (`eoes`).
    let debian_lts: Option<&Cycle> = inv
        .os
        .as_ref()
        .filter(|os| os.id == "debian" && distro_os.is_none())
        .and_then(|os| os.version_id.as_deref())
        .and_then(|v| l.cycle_for("debian", v))
        .filter(|c| c.is_extended_support_over(as_of) == Some(false));
    let distro_supported = distro_os
        .as_ref()
        .map_or(debian_lts.is_some(), |o| !o.ended);
    let mut cands = candidates(inv, l, cat, distro_supported);
    if distro_os.is_some() {
        // The release itself was judged from the distribution's data above.
        cands.retain(|(product, _), _| {
            Some(product.as_str()) != distro_os.as_ref().map(|o| o.product)
        });
    }
    for ((product, _), (version, purl, location)) in cands {
        let lts_end = (product == "debian")
            .then(|| debian_lts.and_then(|c| c.eoes.and_then(Support::date)))
            .flatten();
        judge_product(
            inv,
            l,
            policy,
            as_of,
            ProductCandidate {
                product: &product,
                version: &version,
                purl: purl.as_deref(),
                location: &location,
                lts_end,
            },
            out,
        );
    }
}

/// (product, cycle) → (version, purl, where): one candidate per product and cycle.
type Candidates = BTreeMap<(String, String), (String, Option<String>, crate::model::Location)>;

/// What of `inv` has an endoflife.date lifecycle: the OS, and each package matched to a
/// product (by purl, by its source package's purl, by `products.yaml`, or by the product's
/// Repology name for an OS package's source). Distribution-owned packages are left out while
/// `distro_supported`.
fn candidates(
    inv: &Inventory,
    l: &Lifecycles,
    cat: &Catalogs,
    distro_supported: bool,
) -> Candidates {
    let mut cands = Candidates::new();
    if let Some(os) = &inv.os {
        if let (Some(p), Some(v)) = (os_product(&os.id), os.version_id.as_deref()) {
            cands.insert(
                (p.to_owned(), v.to_owned()),
                (
                    v.to_owned(),
                    None,
                    crate::model::Location::path(os.source_file.clone()),
                ),
            );
        }
    }
    let distro_family = inv
        .os
        .as_ref()
        .is_some_and(|os| matches!(os.id.as_str(), "debian" | "ubuntu"));
    for pkg in &inv.packages {
        // The distribution's packages, and the Python modules they install (`ansible` 7.7 in
        // /usr/lib/python3/dist-packages, owned by dpkg).
        let distro_owned = pkg.ecosystem == Ecosystem::Deb
            || matches!(
                &pkg.meta,
                PackageMeta::Python {
                    os_owner: Some(_),
                    ..
                }
            );
        if distro_supported && distro_family && distro_owned {
            continue;
        }
        let Some(product) = product_of(pkg, cat) else {
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
        cands
            .entry((product, cycle))
            .or_insert((v, Some(pkg.purl.clone()), pkg.location.clone()));
    }
    cands
}

/// The endoflife.date product a package is an instance of.
fn product_of(pkg: &Package, cat: &Catalogs) -> Option<String> {
    let base = purl_base(&pkg.purl);
    if let Some(p) = cat.purl_products.get(&base) {
        return Some(p.clone());
    }
    // Debian identifiers often name the source package (`pkg:deb/debian/mariadb`).
    if let (Some(src), Some((prefix, _))) = (&pkg.source, base.rsplit_once('/')) {
        let by_source = format!("{prefix}/{}", src.name.to_ascii_lowercase());
        if let Some(p) = cat.purl_products.get(&by_source) {
            return Some(p.clone());
        }
    }
    if let Some(p) = product_for(&cat.product_rules, pkg) {
        return Some(p);
    }
    // A product without a purl for this package's ecosystem (OpenSSL lists none) still names
    // what it is: its Repology project is the source package distributions build it from
    // (`openssl` → libssl1.1, libcrypto1.1, openssl-libs).
    if !matches!(
        pkg.ecosystem,
        Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk
    ) {
        return None;
    }
    let src = pkg
        .source
        .as_ref()
        .map_or(pkg.name.as_str(), |s| s.name.as_str());
    cat.named_products.get(&src.to_ascii_lowercase()).cloned()
}

/// One product instance to judge against its endoflife.date cycle.
struct ProductCandidate<'a> {
    product: &'a str,
    version: &'a str,
    purl: Option<&'a str>,
    location: &'a crate::model::Location,
    /// Debian in LTS by endoflife.date's `eoes` (no distro-info data): the release's end.
    lts_end: Option<Date>,
}

fn judge_product(
    inv: &Inventory,
    l: &Lifecycles,
    policy: &Policy,
    as_of: Date,
    c: ProductCandidate<'_>,
    out: &mut Vec<Finding>,
) {
    let ProductCandidate {
        product,
        version,
        purl,
        location,
        lts_end,
    } = c;
    let f = facts(inv, SubjectKind::Product, "product", product, None, purl);
    let Some((rule, lr)) = policy.rule_for(&f, |r| r.lifecycle.as_ref()) else {
        return;
    };
    let Some(cycle) = l.cycle_for(product, version) else {
        return;
    };
    let subject = Subject {
        ecosystem: crate::model::SubjectEcosystem::Product,
        name: product.to_owned(),
        version: version.to_owned(),
        purl: purl.map(str::to_owned),
        location: Some(location.clone()),
    };
    let searched = format!("endoflife.date {product} {version}");
    let matched = format!("{product} cycle {}", cycle.name);
    let newest = l
        .product(product)
        .and_then(|p| p.cycles.iter().find(|c| !c.is_eol(as_of)))
        .map(|c| c.name.clone());
    let fixed_in: Vec<String> = newest.iter().map(|c| format!("{product} {c}")).collect();
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
                    "{product} {version} (cycle {}) is end of life{when} (policy `{}`)",
                    cycle.name, rule.name
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
                soon_severity(lr.severity),
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

/// `eol-soon` is at least low and at most medium, below the rule's `eol` severity.
fn soon_severity(s: Severity) -> Severity {
    Severity::Low.max(s.min(Severity::Medium))
}

fn support_level(s: OsSupport) -> SupportLevel {
    match s {
        OsSupport::Regular => SupportLevel::Standard,
        OsSupport::Lts => SupportLevel::Lts,
        OsSupport::Extended => SupportLevel::Extended,
    }
}

/// What a support level is called by each distribution.
fn level_name(distro: Distro, level: SupportLevel) -> &'static str {
    match (distro, level) {
        (Distro::Debian, SupportLevel::Standard) => "regular security support",
        (Distro::Debian, SupportLevel::Lts) => "LTS",
        (Distro::Debian, _) => "ELTS",
        (Distro::Ubuntu, SupportLevel::Standard | SupportLevel::Lts) => "standard support",
        (Distro::Ubuntu, SupportLevel::Extended) => "ESM",
        (Distro::Ubuntu, SupportLevel::Legacy) => "legacy support",
    }
}

/// The node's Debian or Ubuntu release as distro-info-data describes it, and its support
/// at the level the policy counts.
struct DistroOs<'a> {
    product: &'static str,
    version: String,
    release: &'a DistroRelease,
    distro: &'a DistroLifecycles,
    level: SupportLevel,
    /// The end of support at `level`.
    end: Option<Date>,
    /// Released and past `end`.
    ended: bool,
}

impl<'a> DistroOs<'a> {
    fn of(inv: &Inventory, d: &'a DistroLifecycles, policy: &Policy, as_of: Date) -> Option<Self> {
        let os = inv.os.as_ref()?;
        let version = os.version_id.clone().or_else(|| os.codename.clone())?;
        let (product, release) = match os.id.as_str() {
            "debian" => ("debian", d.debian(&version)?),
            "ubuntu" => ("ubuntu", d.ubuntu(&version)?),
            _ => return None,
        };
        let f = facts(inv, SubjectKind::Product, "product", product, None, None);
        let os_support = policy
            .rule_for(&f, |r| r.lifecycle.as_ref())
            .map_or_else(OsSupport::default, |(_, lr)| lr.os_support);
        let level = support_level(os_support);
        let end = release.support_end(level);
        let released = release.release.is_some_and(|r| r <= as_of);
        Some(Self {
            product,
            version,
            release,
            distro: d,
            level,
            end,
            ended: released && end.is_some_and(|e| as_of >= e),
        })
    }

    /// The newest release of the same distribution supported at the same level.
    fn newest_supported(&self, as_of: Date) -> Option<String> {
        self.distro
            .releases()
            .iter()
            .filter(|r| r.distro == self.release.distro && r.is_supported(as_of, self.level))
            .filter_map(|r| r.version.clone())
            .next_back()
            .map(|v| format!("{} {v}", self.product))
    }

    /// The release's own `eol` / `eol-soon` finding under the rule for its product.
    fn judge(&self, inv: &Inventory, policy: &Policy, as_of: Date, out: &mut Vec<Finding>) {
        let f = facts(
            inv,
            SubjectKind::Product,
            "product",
            self.product,
            None,
            None,
        );
        let Some((rule, lr)) = policy.rule_for(&f, |r| r.lifecycle.as_ref()) else {
            return;
        };
        let Some(end) = self.end else { return };
        let r = self.release;
        let name = level_name(r.distro, self.level);
        let subject = Subject {
            ecosystem: crate::model::SubjectEcosystem::Product,
            name: self.product.to_owned(),
            version: self.version.clone(),
            purl: None,
            location: inv
                .os
                .as_ref()
                .map(|os| crate::model::Location::path(&os.source_file)),
        };
        let searched = format!("distro-info-data {} {}", self.product, self.version);
        let matched = format!(
            "{} {} ({})",
            self.product,
            r.version.as_deref().unwrap_or(&r.series),
            r.series
        );
        let fixed_in: Vec<String> = self.newest_supported(as_of).into_iter().collect();
        // The next level's end, to say what more support would give.
        let more = [SupportLevel::Lts, SupportLevel::Extended]
            .into_iter()
            .filter(|l| *l > self.level)
            .filter_map(|l| r.support_end(l).filter(|d| *d > end).map(|d| (l, d)))
            .map(|(l, d)| format!("; {} runs to {d}", level_name(r.distro, l)))
            .next()
            .unwrap_or_default();
        let label = format!("{} {} ({})", self.product, self.version, r.series);
        if self.ended {
            if lr.forbid_eol {
                out.push(finding(
                    FindingCode::Eol,
                    lr.severity,
                    &inv.node.id,
                    subject,
                    fixed_in,
                    searched,
                    matched,
                    format!("{label}: its {name} ended on {end}{more} (policy `{}` counts `os_support: {}`)", rule.name, lr.os_support),
                ));
            }
        } else if lr.warn_days > 0 && r.release.is_some_and(|d| d <= as_of) {
            let left = (end - as_of).whole_days();
            if left <= i64::from(lr.warn_days) {
                out.push(finding(
                    FindingCode::EolSoon,
                    soon_severity(lr.severity),
                    &inv.node.id,
                    subject,
                    fixed_in,
                    searched,
                    matched,
                    format!("{label}: its {name} ends on {end}, in {left} days{more} (look-ahead {} days, policy `{}` counts `os_support: {}`)", lr.warn_days, rule.name, lr.os_support),
                ));
            }
        }
    }
}

/// Debian packages whose source is on their release's security-support-ended list: reported
/// as end of life of that package (with the list's reason), even while the release is
/// supported; `eol-soon` before a listed date still to come.
fn security_support_ended(
    inv: &Inventory,
    d: &DistroLifecycles,
    policy: &Policy,
    as_of: Date,
    out: &mut Vec<Finding>,
) {
    let Some(os) = inv.os.as_ref().filter(|os| os.id == "debian") else {
        return;
    };
    let Some(major) = os
        .version_id
        .as_deref()
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for pkg in inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Deb)
    {
        let src = pkg
            .source
            .as_ref()
            .map_or(pkg.name.as_str(), |s| s.name.as_str());
        let Some(entry) = d.support_ended(major, src) else {
            continue;
        };
        if !seen.insert(src.to_owned()) {
            continue;
        }
        let f = facts(inv, SubjectKind::Product, "deb", src, None, Some(&pkg.purl));
        let Some((rule, lr)) = policy.rule_for(&f, |r| r.lifecycle.as_ref()) else {
            continue;
        };
        let ended = entry.end_date.is_none_or(|e| as_of >= e);
        let left = entry.end_date.map(|e| (e - as_of).whole_days());
        let soon = !ended && lr.warn_days > 0 && left.is_some_and(|l| l <= i64::from(lr.warn_days));
        if (ended && !lr.forbid_eol) || (!ended && !soon) {
            continue;
        }
        let when = entry
            .end_date
            .map(|e| format!(" on {e}"))
            .unwrap_or_default();
        let last = match entry.last_version.as_str() {
            "0" => "no version".to_owned(),
            v => format!("the last supported version is {v}"),
        };
        let why = entry
            .details
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let subject = Subject {
            ecosystem: Ecosystem::Deb.into(),
            name: src.to_owned(),
            version: pkg.version.clone(),
            purl: Some(pkg.purl.clone()),
            location: Some(pkg.location.clone()),
        };
        let (code, severity, verb) = if ended {
            (FindingCode::Eol, lr.severity, "ended")
        } else {
            (FindingCode::EolSoon, soon_severity(lr.severity), "ends")
        };
        out.push(finding(
            code,
            severity,
            &inv.node.id,
            subject,
            Vec::new(),
            format!("debian-security-support security-support-ended.deb{major} {src}"),
            format!("{} {} {}", entry.package, entry.last_version, entry.end_date.map(|e| e.to_string()).unwrap_or_default()),
            format!("Debian {major} {verb} security support for {src}{when} ({last}){why} (policy `{}`)", rule.name),
        ));
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
