//! Red Hat CSAF 2.0 VEX documents (<https://security.access.redhat.com/data/csaf/v2/vex/>):
//! one JSON file per CVE, anywhere under the feed folder.
//!
//! Each `vulnerabilities[]` entry → one [`Advisory`] (id: its `cve`, else the document's
//! `tracking.id`). Product ids in `product_status` are resolved through the product tree: a
//! relationship `X:Y` names the package product `Y` (a `product_version` branch whose `purl`
//! is `pkg:rpm/redhat/<name>[@<version>-<release>]?…[&epoch=N]`) as a component of the platform
//! product `X` (a `product_name` branch with a `cpe`). That gives one [`Affected`] per
//! (platform, rpm name) — binary and source rpm names alike, every architecture folded into
//! one — with [`AffectedRanges::Distro`]:
//!
//! - `fixed` / `first_fixed` → fixed at the package's `[epoch:]version-release`;
//! - `known_affected` → affected, no fix;
//! - `known_not_affected` → not affected;
//! - `under_investigation` and `last_affected` → no statement (left out).
//!
//! Ecosystem from the platform CPE: `cpe:/o:redhat:enterprise_linux:9::baseos` and
//! `…:enterprise_linux:9::appstream` → `Red Hat:9`; any other Red Hat product keeps its name and
//! version apart, `Red Hat <product>:<version>[-el<N>]` (`Red Hat rhel_eus:9.0`,
//! `Red Hat openshift:4.16-el9`, `Red Hat rhel_satellite_client:6-el8`: the CPE's `elN` edition
//! says which RHEL the build is for), so a layered product's or an extended-support stream's
//! fixes are never read as the main stream's. Red Hat gives EUS streams of a minor release the main CPE
//! too (`AppStream-9.2.0.Z.MAIN.EUS`): those fixes are kept as further entries for the same
//! package, so a 9.2 EUS build can be reported against the 9.3 fix — a known false positive
//! rather than a missed fix.
//!
//! Severity: `document.aggregate_severity` (`Important` → high), else the worst `threats[]`
//! impact; `cvss`: the first CVSS v3 vector of `scores[]`. Aliases: the document id when it
//! differs and the RHSA ids of `vendor_fix` remediations. Package products that are not rpms
//! (container images, Go modules) and platform-only product ids are skipped; a product id that
//! the tree does not define, or an rpm product whose version cannot be read, is a problem.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{
    json_problem, max_severity, nullable, one_line, push_unique, walk, AdvisorySource, FeedFile,
    Loaded, SourceError, TapField,
};
use crate::model::{
    Advisory, AdvisoryKind, Affected, AffectedRanges, Problem, ProblemKind, Severity,
};
use crate::version::rpm::parse_nevra;

/// The `csaf-vex` feed reader.
#[derive(Debug, Clone)]
pub(crate) struct CsafVexSource {
    name: String,
}

impl CsafVexSource {
    /// A reader whose advisories carry feed name `name`.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl AdvisorySource for CsafVexSource {
    fn kind(&self) -> &'static str {
        "csaf-vex"
    }

    fn load(&self, dir: &Path) -> Result<Loaded, SourceError> {
        let mut out = Loaded::default();
        let files = walk(dir, |f| f.ext() == "json", &mut out.problems)?;
        for f in &files {
            load_file(f, &self.name, &mut out);
        }
        Ok(out)
    }
}

#[derive(Debug, Deserialize)]
struct CsafWire {
    document: DocumentWire,
    #[serde(default)]
    product_tree: ProductTreeWire,
    #[serde(default, deserialize_with = "nullable")]
    vulnerabilities: Vec<VulnWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DocumentWire {
    csaf_version: String,
    title: String,
    tracking: TrackingWire,
    aggregate_severity: Option<TextWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TrackingWire {
    id: String,
    initial_release_date: Option<String>,
    current_release_date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TextWire {
    text: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProductTreeWire {
    #[serde(deserialize_with = "nullable")]
    branches: Vec<BranchWire>,
    #[serde(deserialize_with = "nullable")]
    full_product_names: Vec<ProductWire>,
    #[serde(deserialize_with = "nullable")]
    relationships: Vec<RelationshipWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BranchWire {
    product: Option<ProductWire>,
    #[serde(deserialize_with = "nullable")]
    branches: Vec<Self>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProductWire {
    product_id: String,
    product_identification_helper: Option<HelperWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HelperWire {
    cpe: Option<String>,
    purl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RelationshipWire {
    full_product_name: ProductWire,
    product_reference: String,
    relates_to_product_reference: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VulnWire {
    cve: Option<String>,
    title: Option<String>,
    release_date: Option<String>,
    product_status: BTreeMap<String, Vec<String>>,
    #[serde(deserialize_with = "nullable")]
    scores: Vec<ScoreWire>,
    #[serde(deserialize_with = "nullable")]
    threats: Vec<ThreatWire>,
    #[serde(deserialize_with = "nullable")]
    remediations: Vec<RemediationWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScoreWire {
    cvss_v3: Option<CvssWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CvssWire {
    vector_string: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ThreatWire {
    category: String,
    details: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RemediationWire {
    category: String,
    url: Option<String>,
}

/// What a product id of the tree is.
#[derive(Debug, Clone)]
enum Node {
    /// A platform, by CPE.
    Platform(String),
    /// A package, by purl.
    Package(String),
    /// Something without an identification helper.
    Other,
}

/// An rpm purl that names no package or version nminus can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum RpmPurlError {
    /// No name.
    #[error("expected a package name in purl `{0}`")]
    NoName(String),
    /// A version without its release.
    #[error("expected `version-release` after `@` in purl `{purl}`, found `{version}`")]
    NoRelease {
        /// The purl.
        purl: String,
        /// Its version.
        version: String,
    },
}

/// An rpm package product: name and `[epoch:]version-release` when versioned.
fn rpm_of_purl(purl: &str) -> Option<Result<(String, Option<String>), RpmPurlError>> {
    let rest = purl.strip_prefix("pkg:rpm/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (_namespace, name_ver) = path.split_once('/').unwrap_or(("", path));
    let (name, ver) = match name_ver.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (name_ver, None),
    };
    if name.is_empty() {
        return Some(Err(RpmPurlError::NoName(purl.to_owned())));
    }
    let epoch = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("epoch="))
        .filter(|e| *e != "0" && !e.is_empty());
    let evr = match ver {
        None => None,
        Some(v) if !v.contains('-') => {
            return Some(Err(RpmPurlError::NoRelease {
                purl: purl.to_owned(),
                version: v.to_owned(),
            }))
        }
        Some(v) => Some(match epoch {
            Some(e) => format!("{e}:{v}"),
            None => v.to_owned(),
        }),
    };
    Some(Ok((name.to_owned(), evr)))
}

/// The ecosystem key of a platform CPE (see the module documentation); `None` if not a CPE.
pub(crate) fn ecosystem_of_cpe(cpe: &str) -> Option<String> {
    let rest = cpe
        .strip_prefix("cpe:/")
        .or_else(|| cpe.strip_prefix("cpe:2.3:"))?;
    let mut parts = rest.split(':');
    let _part = parts.next()?;
    let vendor = parts.next()?;
    let product = parts.next()?;
    let version = parts
        .next()
        .filter(|v| !v.is_empty() && *v != "*" && *v != "-");
    let _update = parts.next();
    // `el9` in `cpe:/a:redhat:rhel_satellite_client:6::el9`: the RHEL a layered product's build
    // is for.
    let el = parts.next().filter(|e| {
        e.len() > 2 && e.starts_with("el") && e[2..].bytes().all(|b| b.is_ascii_digit())
    });
    if product.is_empty() {
        return None;
    }
    let vendor_name = if vendor == "redhat" {
        "Red Hat".to_owned()
    } else {
        vendor.to_owned()
    };
    Some(match (vendor, product, version, el) {
        ("redhat", "enterprise_linux", Some(v), _) => {
            format!("Red Hat:{}", v.split('.').next().unwrap_or(v))
        }
        (_, _, Some(v), Some(el)) => format!("{vendor_name} {product}:{v}-{el}"),
        (_, _, Some(v), None) => format!("{vendor_name} {product}:{v}"),
        (_, _, None, _) => format!("{vendor_name} {product}"),
    })
}

fn collect_nodes(branches: &[BranchWire], nodes: &mut BTreeMap<String, Node>) {
    for b in branches {
        if let Some(p) = &b.product {
            add_product(p, nodes);
        }
        collect_nodes(&b.branches, nodes);
    }
}

fn add_product(p: &ProductWire, nodes: &mut BTreeMap<String, Node>) {
    let h = p.product_identification_helper.as_ref();
    let node = match (
        h.and_then(|h| h.cpe.clone()),
        h.and_then(|h| h.purl.clone()),
    ) {
        (_, Some(purl)) => Node::Package(purl),
        (Some(cpe), None) => Node::Platform(cpe),
        (None, None) => Node::Other,
    };
    nodes.insert(p.product_id.clone(), node);
}

/// The product tree of a document: its nodes, and the relationships that put a package
/// (`product_reference`) on a platform (`relates_to_product_reference`), by product id.
struct Tree<'a> {
    nodes: BTreeMap<String, Node>,
    relationships: BTreeMap<&'a str, (&'a str, &'a str)>,
}

/// Where a product id is listed, for problems: the advisory, the vulnerability, the status.
struct At<'a> {
    id: &'a str,
    vi: usize,
    status: &'a str,
}

/// The affected package product `pid` of a status list (`state`: `F` fixed, `A` affected, `N`
/// not affected) stands for, when it is an rpm on a platform; an id the tree does not define
/// goes to `unknown`, anything unreadable is a problem naming its field.
fn affected_of(
    tree: &Tree<'_>,
    pid: &str,
    state: char,
    at: &At<'_>,
    f: &FeedFile,
    problems: &mut Vec<Problem>,
    unknown: &mut Vec<String>,
) -> Option<Affected> {
    let (id, vi, status) = (at.id, at.vi, at.status);
    let Some((pkg_ref, platform_ref)) = tree.relationships.get(pid) else {
        match tree.nodes.get(pid) {
            // A whole platform, or a product without identification: no package.
            Some(Node::Platform(_) | Node::Other) => {}
            // A package without a platform: no ecosystem to put it in.
            Some(Node::Package(_)) => {}
            None => unknown.push(pid.to_owned()),
        }
        return None;
    };
    let (Some(pkg), Some(platform)) = (tree.nodes.get(*pkg_ref), tree.nodes.get(*platform_ref))
    else {
        unknown.push(pid.to_owned());
        return None;
    };
    let Node::Package(purl) = pkg else {
        return None;
    };
    let Node::Platform(cpe) = platform else {
        return None;
    };
    let rpm = match rpm_of_purl(purl) {
        None => return None, // not an rpm: container image, Go module …
        Some(Ok(r)) => r,
        Some(Err(why)) => {
            // Fall back on the product reference as a NEVRA.
            match parse_nevra(pkg_ref) {
                Ok(n) if !n.name.is_empty() => (n.name.clone(), Some(n.evr())),
                _ => {
                    problems.push(
                        f.problem(ProblemKind::VersionUnparseable, format!("{id}: {why}"))
                            .tap_field(format!("vulnerabilities[{vi}].product_status.{status}")),
                    );
                    return None;
                }
            }
        }
    };
    let Some(ecosystem) = ecosystem_of_cpe(cpe) else {
        problems.push(
            f.problem(
                ProblemKind::Malformed,
                format!("{id}: expected a CPE for platform `{platform_ref}`, found `{cpe}`"),
            )
            .tap_field("product_tree"),
        );
        return None;
    };
    let (name, evr) = rpm;
    let ranges = match (state, evr) {
        ('F', Some(evr)) => AffectedRanges::Distro {
            fixed: Some(evr),
            not_affected: false,
        },
        ('F', None) => {
            problems.push(
                f.problem(
                    ProblemKind::Malformed,
                    format!("{id}: `{pid}` is listed as fixed but names no version"),
                )
                .tap_field(format!("vulnerabilities[{vi}].product_status.{status}")),
            );
            return None;
        }
        ('A', _) => AffectedRanges::Distro {
            fixed: None,
            not_affected: false,
        },
        _ => AffectedRanges::Distro {
            fixed: None,
            not_affected: true,
        },
    };
    let fixed = match &ranges {
        AffectedRanges::Distro { fixed: Some(v), .. } => vec![v.clone()],
        _ => Vec::new(),
    };
    let a = Affected {
        ecosystem,
        package: name,
        ranges,
        fixed,
    };
    Some(a)
}

/// The affected packages of vulnerability `vi` (`id`) from its product status lists; product
/// ids the tree does not define are one problem.
fn affected_list(
    tree: &Tree<'_>,
    v: &VulnWire,
    vi: usize,
    id: &str,
    f: &FeedFile,
    problems: &mut Vec<Problem>,
) -> Vec<Affected> {
    let mut affected: Vec<Affected> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for (status, ids) in &v.product_status {
        let state = match status.as_str() {
            "fixed" | "first_fixed" => 'F',
            "known_affected" => 'A',
            "known_not_affected" => 'N',
            "under_investigation" | "last_affected" | "recommended" | "first_affected" => continue,
            other => {
                problems.push(
                    f.problem(ProblemKind::Skipped, format!("unknown product status `{other}`: expected fixed, known_affected, known_not_affected or under_investigation"))
                        .tap_field(format!("vulnerabilities[{vi}].product_status.{other}")),
                );
                continue;
            }
        };
        let at = At { id, vi, status };
        for pid in ids {
            let Some(a) = affected_of(tree, pid, state, &at, f, problems, &mut unknown) else {
                continue;
            };
            if !affected.contains(&a) {
                affected.push(a);
            }
        }
    }
    if !unknown.is_empty() {
        problems.push(
            f.problem(
                ProblemKind::Malformed,
                format!(
                    "{id}: {} product id(s) not defined in the product tree, e.g. `{}`",
                    unknown.len(),
                    unknown[0]
                ),
            )
            .tap_field(format!("vulnerabilities[{vi}].product_status")),
        );
    }
    affected
}

fn load_file(f: &FeedFile, source: &str, out: &mut Loaded) {
    let text = match f.read() {
        Ok(t) => t,
        Err(p) => return out.problems.push(p),
    };
    let doc: CsafWire = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            return out.problems.push(json_problem(
                f,
                "a CSAF 2.0 document `{document, product_tree, vulnerabilities}`",
                &e,
            ))
        }
    };
    if doc.document.csaf_version != "2.0" {
        return out.problems.push(
            f.problem(
                ProblemKind::Skipped,
                format!(
                    "expected `csaf_version` 2.0, found `{}`: not read",
                    doc.document.csaf_version
                ),
            )
            .tap_field("document.csaf_version"),
        );
    }
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    collect_nodes(&doc.product_tree.branches, &mut nodes);
    for p in &doc.product_tree.full_product_names {
        add_product(p, &mut nodes);
    }
    let relationships: BTreeMap<&str, (&str, &str)> = doc
        .product_tree
        .relationships
        .iter()
        .map(|r| {
            (
                r.full_product_name.product_id.as_str(),
                (
                    r.product_reference.as_str(),
                    r.relates_to_product_reference.as_str(),
                ),
            )
        })
        .collect();
    let tree = Tree {
        nodes,
        relationships,
    };
    let doc_severity = doc
        .document
        .aggregate_severity
        .as_ref()
        .and_then(|s| Severity::parse_word(&s.text));
    if doc.vulnerabilities.is_empty() {
        out.problems.push(
            f.problem(
                ProblemKind::Malformed,
                "expected at least one entry in `vulnerabilities`, found none",
            )
            .tap_field("vulnerabilities"),
        );
    }
    for (vi, v) in doc.vulnerabilities.iter().enumerate() {
        let id = v
            .cve
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(doc.document.tracking.id.trim())
            .to_owned();
        if id.is_empty() {
            out.problems.push(
                f.problem(
                    ProblemKind::Malformed,
                    "expected a `cve` or `document.tracking.id`, found neither",
                )
                .tap_field(format!("vulnerabilities[{vi}].cve")),
            );
            continue;
        }
        let mut aliases = Vec::new();
        if doc.document.tracking.id != id {
            push_unique(&mut aliases, &doc.document.tracking.id);
        }
        for r in v.remediations.iter().filter(|r| r.category == "vendor_fix") {
            if let Some(last) = r.url.as_deref().and_then(|u| u.rsplit('/').next()) {
                if last.starts_with("RH") && last.contains(':') {
                    push_unique(&mut aliases, last);
                }
            }
        }
        let mut severity = doc_severity;
        if severity.is_none() {
            for t in v.threats.iter().filter(|t| t.category == "impact") {
                severity = max_severity(severity, Severity::parse_word(&t.details));
            }
        }
        let cvss = v
            .scores
            .iter()
            .find_map(|s| s.cvss_v3.as_ref().and_then(|c| c.vector_string.clone()));
        let affected = affected_list(&tree, v, vi, &id, f, &mut out.problems);
        let title = v
            .title
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&doc.document.title);
        out.advisories.push(Advisory {
            url: Some(format!("https://access.redhat.com/security/cve/{id}")),
            id,
            aliases,
            source: source.to_owned(),
            kind: AdvisoryKind::Vulnerability,
            summary: one_line(title),
            severity,
            cvss,
            affected,
            published: v
                .release_date
                .clone()
                .or_else(|| doc.document.tracking.initial_release_date.clone()),
            modified: doc.document.tracking.current_release_date.clone(),
            withdrawn: None,
            file: f.rel.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, shared};
    use super::*;

    fn entry<'a>(a: &'a Advisory, eco: &str, pkg: &str) -> Vec<&'a AffectedRanges> {
        a.affected
            .iter()
            .filter(|x| x.ecosystem == eco && x.package == pkg)
            .map(|x| &x.ranges)
            .collect()
    }

    #[test]
    fn cpes() {
        assert_eq!(
            ecosystem_of_cpe("cpe:/o:redhat:enterprise_linux:9::baseos").as_deref(),
            Some("Red Hat:9")
        );
        assert_eq!(
            ecosystem_of_cpe("cpe:/a:redhat:enterprise_linux:8::appstream").as_deref(),
            Some("Red Hat:8")
        );
        assert_eq!(
            ecosystem_of_cpe("cpe:/o:redhat:enterprise_linux:7").as_deref(),
            Some("Red Hat:7")
        );
        assert_eq!(
            ecosystem_of_cpe("cpe:/a:redhat:rhel_eus:9.0::appstream").as_deref(),
            Some("Red Hat rhel_eus:9.0")
        );
        assert_eq!(
            ecosystem_of_cpe("cpe:/a:redhat:openshift:4.16::el9").as_deref(),
            Some("Red Hat openshift:4.16-el9")
        );
        assert_eq!(
            ecosystem_of_cpe("cpe:/a:redhat:jboss_core_services:1").as_deref(),
            Some("Red Hat jboss_core_services:1")
        );
        assert_eq!(
            ecosystem_of_cpe("cpe:2.3:o:redhat:enterprise_linux:9:*:*:*:*:*:*:*").as_deref(),
            Some("Red Hat:9")
        );
        assert_eq!(ecosystem_of_cpe("not a cpe"), None);
    }

    #[test]
    fn purls() {
        assert_eq!(
            rpm_of_purl("pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=src"),
            Some(Ok(("curl".into(), Some("7.76.1-26.el9_3.2".into()))))
        );
        assert_eq!(
            rpm_of_purl("pkg:rpm/redhat/foreman-installer@3.7.0.7-1.el8sat?arch=src&epoch=1"),
            Some(Ok((
                "foreman-installer".into(),
                Some("1:3.7.0.7-1.el8sat".into())
            )))
        );
        assert_eq!(
            rpm_of_purl("pkg:rpm/redhat/libcurl"),
            Some(Ok(("libcurl".into(), None)))
        );
        assert_eq!(rpm_of_purl("pkg:oci/ubi9@sha256:abc"), None);
        assert!(matches!(rpm_of_purl("pkg:rpm/redhat/x@1.0"), Some(Err(_))));
    }

    #[test]
    fn red_hat_vex_samples() {
        let l = CsafVexSource::new("redhat")
            .load(&shared("distro-advisories/redhat-csaf-vex-claircore"))
            .unwrap();
        assert!(l.problems.is_empty(), "{:#?}", l.problems);
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "CVE-2023-38545",
                "CVE-2023-4154",
                "CVE-2023-42670",
                "CVE-2024-24786"
            ]
        );
        let curl = &l.advisories[0];
        assert_eq!(curl.severity, Some(Severity::High));
        assert_eq!(
            curl.cvss.as_deref(),
            Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H")
        );
        assert!(
            curl.aliases.contains(&"RHSA-2024:2011".to_owned()),
            "{:?}",
            curl.aliases
        );
        assert_eq!(
            curl.summary,
            "curl: heap based buffer overflow in the SOCKS5 proxy handshake"
        );
        // RHEL 9.3 fix, on both BaseOS and AppStream (one entry), plus the 9.2 EUS build that
        // Red Hat files under the main CPE.
        let fixed = entry(curl, "Red Hat:9", "curl");
        assert!(
            fixed.contains(&&AffectedRanges::Distro {
                fixed: Some("7.76.1-26.el9_3.2".into()),
                not_affected: false
            }),
            "{fixed:?}"
        );
        assert!(
            fixed.contains(&&AffectedRanges::Distro {
                fixed: Some("7.76.1-23.el9_2.4".into()),
                not_affected: false
            }),
            "{fixed:?}"
        );
        assert_eq!(fixed.len(), 2);
        assert_eq!(entry(curl, "Red Hat:9", "libcurl-minimal").len(), 2);
        assert_eq!(
            entry(curl, "Red Hat rhel_eus:9.0", "curl"),
            [&AffectedRanges::Distro {
                fixed: Some("7.76.1-14.el9_0.9".into()),
                not_affected: false
            }]
        );
        // RHEL 6-8 curl predates the bug.
        assert_eq!(
            entry(curl, "Red Hat:8", "libcurl"),
            [&AffectedRanges::Distro {
                fixed: None,
                not_affected: true
            }]
        );
        // Layered products stay apart.
        assert!(curl
            .affected
            .iter()
            .any(|x| x.ecosystem == "Red Hat jboss_core_services:1-el7"
                && x.package == "jbcs-httpd24-curl"));
        assert_eq!(
            entry(curl, "Red Hat rhel_satellite_client:6-el9", "puppet-agent"),
            [&AffectedRanges::Distro {
                fixed: Some("7.27.0-1.el9sat".into()),
                not_affected: false
            }]
        );
        assert_eq!(
            entry(
                curl,
                "Red Hat jboss_core_services:1-el8",
                "jbcs-httpd24-curl"
            ),
            [&AffectedRanges::Distro {
                fixed: Some("8.4.0-2.el8jbcs".into()),
                not_affected: false
            }]
        );
        assert_eq!(
            entry(
                curl,
                "Red Hat jboss_core_services:1-el8",
                "jbcs-httpd24-openssl"
            ),
            [&AffectedRanges::Distro {
                fixed: None,
                not_affected: true
            }]
        );

        let samba = &l.advisories[1];
        assert_eq!(
            entry(samba, "Red Hat:9", "samba"),
            [&AffectedRanges::Distro {
                fixed: None,
                not_affected: true
            }]
        );
        assert_eq!(samba.severity, Some(Severity::Medium), "Moderate");
        let go = &l.advisories[3];
        assert_eq!(go.affected.len(), 1);
        assert_eq!(go.affected[0].ecosystem, "Red Hat openshift:4.16-el9");
        assert_eq!(go.affected[0].package, "cri-tools");
        assert_eq!(go.affected[0].fixed, ["1.29.0-3.1.el9"]);
        assert_eq!(go.severity, Some(Severity::Medium));
    }

    #[test]
    fn malformed_csaf() {
        let l = CsafVexSource::new("redhat")
            .load(&fixture("csaf-malformed"))
            .unwrap();
        let mut seen: Vec<String> = l
            .problems
            .iter()
            .map(|p| format!("{}|{:?}", p.location.path, p.kind))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                "not-csaf.json|Malformed",
                "truncated.json|Malformed",
                "unknown-ids.json|Malformed",
                "v1.json|Skipped"
            ],
            "{:#?}",
            l.problems
        );
        let ids: Vec<&str> = l.advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["CVE-2099-0001", "CVE-2099-0002"]);
        assert!(l.advisories[1].affected.is_empty());
        let a = &l.advisories[0];
        assert_eq!(a.severity, Some(Severity::Low));
        assert_eq!(a.id, "CVE-2099-0001");
        assert_eq!(
            a.affected,
            [Affected {
                ecosystem: "Red Hat:9".into(),
                package: "pkg".into(),
                ranges: AffectedRanges::Distro {
                    fixed: None,
                    not_affected: false
                },
                fixed: vec![],
            }]
        );
    }
}
