//! Product lifecycles: endoflife.date cycles for what a node runs, and, for a distribution's
//! own software, the distribution's lifecycle (distro-info-data: regular, LTS, ELTS/ESM
//! support, as the policy's `os_support` chooses; Debian's security-support lists).

use std::collections::{BTreeMap, HashMap};

use time::Date;

use super::currency::{facts, finding};
use crate::model::{Ecosystem, Finding, FindingCode, Inventory, Severity, Subject};
use crate::policy::{Policy, SubjectKind};
use crate::releases::endoflife::{Cycle, Lifecycles, Support};

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

pub(super) fn lifecycles(
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
