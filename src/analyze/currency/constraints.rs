//! Python dependencies against their series' upper-constraints (openstack/requirements):
//! distributions installed beside an OpenStack service, grouped by site directory.

use std::collections::{BTreeMap, BTreeSet};

use super::{facts, finding, label};
use crate::model::{
    Ecosystem, Finding, FindingCode, Inventory, Location, Package, PackageMeta, Subject,
};
use crate::policy::{Policy, SubjectKind};
use crate::releases::openstack::{DeliverableType, OpenStackCatalog, Series};
use crate::releases::requirements::{Constraint, UpperConstraints};
use crate::version::{Scheme, Version};

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

/// `path` in the place of `loc` (the node's files or an image), as the findings show it:
/// `image:<reference>:<path>` inside an image.
fn beside(loc: &Location, path: &str) -> String {
    Location {
        origin: loc.origin.clone(),
        path: path.to_owned(),
        line: None,
        field: None,
    }
    .wire_path()
    .into_owned()
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
        let env = environment.as_ref().map(|e| beside(&p.location, e.path()));
        match site_dir_of(&p.location.path) {
            Some(site) => {
                let site = beside(&p.location, site);
                if let Some(e) = env {
                    env_sites.entry(e).or_default().insert(site.clone());
                }
                groups.entry(site).or_default().push(p);
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

pub(super) fn constraints(
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
                    ecosystem: p.ecosystem.into(),
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
    use crate::analyze::currency::{judge_currency, Catalogs};
    use crate::model::Severity;

    use crate::collect::python::package as pypkg;
    use crate::model::Location;
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
            Some(site.into()),
        )
    }

    fn node(packages: Vec<Package>) -> Inventory {
        Inventory::for_test("ctl1", packages)
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
            site_dir_of("/var/lib/kolla/venv/lib/python3.10/site-packages/x.dist-info/METADATA"),
            Some("/var/lib/kolla/venv/lib/python3.10/site-packages")
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
        a.location = Location::in_image("quay.io/kolla/nova-api:2026.1", a.location);
        let mut b = dist(kolla, "oslo.messaging", "17.2.0", None);
        b.location = Location::in_image("quay.io/kolla/nova-api:2026.1", b.location);
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
