//! The control plane against the fleet: what the APIs say beside what the agents report.
//!
//! - `new-service`: a service type in the catalog that the previous discovery did not have
//!   (recognised without any redeployment).
//! - `undiscovered-service`: a catalogued service (or a whole region) with no enrolled node
//!   behind it: no node of the endpoint's site reports the project serving the type.
//! - `series-disagrees-with-packages`: the series an endpoint's maximum microversion implies is
//!   none of the series the packages of that project on the nodes of its site belong to.
//!
//! A node is behind an endpoint when its site (`nminus agent --site`) is the endpoint's site
//! (the region, unless mapped with `--site REGION=SITE`); a node without a site is behind none.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::controlplane::{ControlPlaneEndpoint, ControlPlaneFinding, ControlPlaneView};
use crate::model::DeliverableCurrency;

use super::{Discovery, EndpointRecord, EndpointStatus, Finding, FindingCode, Severity};

/// An enrolled node, as far as placing it behind endpoints goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FleetNode {
    /// Node id.
    pub id: String,
    /// Its site.
    pub site: Option<String>,
}

fn finding(e: &EndpointRecord, code: FindingCode, severity: Severity, message: String) -> Finding {
    Finding {
        code,
        severity,
        service_type: e.service_type.clone(),
        region: e.region.clone(),
        interface: e.interface.clone(),
        url: e.url.clone(),
        message,
        evidence: Vec::new(),
    }
}

/// `new-service` findings: service types with endpoints now and none in `previous`.
pub(crate) fn new_services(d: &Discovery, previous: Option<&Discovery>) -> Vec<Finding> {
    let Some(p) = previous else {
        return Vec::new();
    };
    if p.keystone.error.is_some() {
        return Vec::new();
    }
    // A type counts once it has an endpoint: a service created a moment before its endpoints
    // is still new when they appear.
    let before: BTreeSet<&str> = p
        .endpoints
        .iter()
        .map(|e| e.service_type.as_str())
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for e in &d.endpoints {
        if before.contains(e.service_type.as_str()) || !seen.insert(e.service_type.as_str()) {
            continue;
        }
        let mut f = finding(
            e,
            FindingCode::NewService,
            Severity::Info,
            format!(
                "new service since the previous discovery ({}): {} ({}{}), recognised without redeployment",
                p.discovered_at,
                e.service_type,
                e.service_name,
                e.project.as_deref().map(|p| format!(", {p}")).unwrap_or_default()
            ),
        );
        f.evidence = d
            .endpoints
            .iter()
            .filter(|x| x.service_type == e.service_type)
            .map(|x| format!("{} {} {}", x.region, x.interface, x.url))
            .collect();
        out.push(f);
    }
    out
}

/// Findings of the discovery against the fleet: `nodes` enrolled, `currency` the OpenStack
/// deliverables their current inventories hold (`fleet::currency` rows).
pub(crate) fn against_fleet(
    d: &Discovery,
    nodes: &[FleetNode],
    currency: &[DeliverableCurrency],
) -> Vec<Finding> {
    if d.keystone.error.is_some() {
        return Vec::new();
    }
    let mut by_site: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for n in nodes {
        if let Some(s) = n.site.as_deref() {
            by_site.entry(s).or_default().insert(n.id.as_str());
        }
    }
    let mut out = Vec::new();
    let mut empty_sites = BTreeSet::new();
    let mut done = BTreeSet::new();
    for e in &d.endpoints {
        let Some(site_nodes) = by_site.get(e.site.as_str()) else {
            if empty_sites.insert(e.site.as_str()) {
                let mut f = finding(
                    e,
                    FindingCode::UndiscoveredService,
                    Severity::Warning,
                    format!(
                        "region {} (site {}) is catalogued and no enrolled node is at that site: every service there is unseen by agents",
                        e.region, e.site
                    ),
                );
                f.service_type = String::new();
                f.interface = String::new();
                f.url = String::new();
                f.evidence = services_in(d, &e.site);
                out.push(f);
            }
            continue;
        };
        let Some(project) = e.project.as_deref() else {
            continue;
        };
        if !done.insert((e.service_type.as_str(), e.site.as_str())) {
            continue;
        }
        let rows: Vec<&DeliverableCurrency> = currency
            .iter()
            .filter(|c| c.deliverable == project && site_nodes.contains(c.node.as_str()))
            .collect();
        if rows.is_empty() {
            let mut f = finding(
                e,
                FindingCode::UndiscoveredService,
                Severity::Warning,
                format!(
                    "{} ({project}) is catalogued in {} and no enrolled node at site {} reports {project}",
                    e.service_type, e.region, e.site
                ),
            );
            f.evidence = vec![format!(
                "{} enrolled node(s) at site {}: {}",
                site_nodes.len(),
                e.site,
                site_nodes.iter().copied().collect::<Vec<_>>().join(", ")
            )];
            out.push(f);
            continue;
        }
        out.extend(disagreement(d, e, project, &rows));
    }
    out
}

fn services_in(d: &Discovery, site: &str) -> Vec<String> {
    d.endpoints
        .iter()
        .filter(|e| e.site == site)
        .map(|e| e.service_type.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// One finding when the site's endpoints of this type (the first one that tells its series)
/// imply a series none of the nodes' packages of `project` is.
fn disagreement(
    d: &Discovery,
    e: &EndpointRecord,
    project: &str,
    rows: &[&DeliverableCurrency],
) -> Option<Finding> {
    let told = d.endpoints.iter().find(|x| {
        x.service_type == e.service_type
            && x.site == e.site
            && x.status == EndpointStatus::Ok
            && x.series.as_ref().is_some_and(|s| !s.candidates.is_empty())
    })?;
    let ev = told.series.as_ref()?;
    let installed: BTreeSet<&str> = rows.iter().filter_map(|r| r.series.as_deref()).collect();
    if installed.is_empty()
        || installed
            .iter()
            .any(|s| ev.candidates.iter().any(|c| c == s))
    {
        return None;
    }
    let mut f = finding(
        told,
        FindingCode::SeriesDisagreesWithPackages,
        Severity::Warning,
        format!(
            "{} {} ({}) serves series {} by its API, and the {project} packages at site {} are {}",
            told.service_type,
            told.region,
            told.interface,
            ev.candidates.join("/"),
            told.site,
            installed.iter().copied().collect::<Vec<_>>().join(", ")
        ),
    );
    f.evidence = ev.evidence.clone();
    f.evidence.extend(rows.iter().map(|r| {
        format!(
            "node {}: {} {} ({}) series {}",
            r.node,
            r.package,
            r.version,
            r.install,
            r.series.as_deref().unwrap_or("unknown")
        )
    }));
    Some(f)
}

/// The report's control-plane section of a discovery.
pub(crate) fn view(d: &Discovery) -> ControlPlaneView {
    let name = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    ControlPlaneView {
        cloud: d.cloud.clone(),
        discovered_at: d.discovered_at.clone(),
        regions: d.regions.clone(),
        endpoints: d
            .endpoints
            .iter()
            .map(|e| ControlPlaneEndpoint {
                service_type: e.service_type.clone(),
                project: e.project.clone(),
                region: e.region.clone(),
                site: e.site.clone(),
                interface: e.interface.clone(),
                url: e.url.clone(),
                status: name(serde_json::to_value(e.status)),
                max_version: e
                    .max_microversion
                    .or(e.max_version_id)
                    .map(|v| v.to_string()),
                series: e
                    .series
                    .as_ref()
                    .map(|s| s.candidates.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        findings: d
            .findings
            .iter()
            .map(|f| ControlPlaneFinding {
                code: name(serde_json::to_value(f.code)),
                severity: name(serde_json::to_value(f.severity)),
                service_type: f.service_type.clone(),
                region: f.region.clone(),
                message: f.message.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::apidata::SeriesEvidence;
    use crate::discover::{KeystoneView, PolicyView, ServiceView};

    fn endpoint(
        service_type: &str,
        project: &str,
        region: &str,
        candidates: &[&str],
    ) -> EndpointRecord {
        EndpointRecord {
            service_type: service_type.into(),
            catalog_type: service_type.into(),
            known_type: true,
            service_name: project.into(),
            project: Some(project.into()),
            region: region.into(),
            site: region.into(),
            interface: "public".into(),
            url: format!("http://{region}.example/{service_type}"),
            endpoint_id: format!("{region}-{service_type}"),
            status: EndpointStatus::Ok,
            http_status: Some(200),
            latency_ms: Some(1),
            documents: Vec::new(),
            versions: Vec::new(),
            version: None,
            min_microversion: None,
            max_microversion: None,
            max_version_id: None,
            series: Some(SeriesEvidence {
                candidates: candidates.iter().map(|s| (*s).to_owned()).collect(),
                series: candidates.last().map(|s| (*s).to_owned()),
                basis: "code-max".into(),
                evidence: vec!["max-per-series-code.tsv".into()],
            }),
            errors: Vec::new(),
        }
    }

    fn discovery(endpoints: Vec<EndpointRecord>) -> Discovery {
        let services = endpoints
            .iter()
            .map(|e| ServiceView {
                service_type: e.service_type.clone(),
                catalog_type: e.catalog_type.clone(),
                name: e.service_name.clone(),
                id: e.endpoint_id.clone(),
                endpoints: 1,
            })
            .collect();
        Discovery {
            schema: crate::discover::SCHEMA.into(),
            discovered_at: "2026-12-07T00:00:00Z".into(),
            cloud: "test".into(),
            keystone: KeystoneView {
                auth_url: "http://keystone".into(),
                origin: "test".into(),
                token_expires_at: None,
                error: None,
            },
            policy: PolicyView {
                name: None,
                n: None,
                max_lag: 1,
                allowed: Vec::new(),
            },
            services,
            regions: Vec::new(),
            endpoints,
            findings: Vec::new(),
        }
    }

    fn row(node: &str, deliverable: &str, series: &str) -> DeliverableCurrency {
        DeliverableCurrency {
            node: node.into(),
            deliverable: deliverable.into(),
            package: deliverable.into(),
            version: "1.0.0".into(),
            install: "distro:dpkg".parse().unwrap(),
            series: Some(series.into()),
            ..DeliverableCurrency::default()
        }
    }

    fn codes(f: &[Finding]) -> Vec<(FindingCode, String, String)> {
        f.iter()
            .map(|f| (f.code, f.service_type.clone(), f.region.clone()))
            .collect()
    }

    #[test]
    fn services_and_regions_without_nodes_and_series_that_disagree() {
        let d = discovery(vec![
            endpoint("compute", "nova", "r1", &["epoxy"]),
            endpoint("block-storage", "cinder", "r1", &["dalmatian", "epoxy"]),
            endpoint("image", "glance", "r1", &["epoxy"]),
            endpoint("compute", "nova", "r2", &["epoxy"]),
        ]);
        let nodes = vec![
            FleetNode {
                id: "c1".into(),
                site: Some("r1".into()),
            },
            FleetNode {
                id: "nosite".into(),
                site: None,
            },
        ];
        let currency = vec![
            row("c1", "nova", "caracal"),
            row("c1", "cinder", "dalmatian"),
            // A node without a site is behind no endpoint.
            row("nosite", "glance", "epoxy"),
        ];
        let f = against_fleet(&d, &nodes, &currency);
        assert_eq!(
            codes(&f),
            vec![
                (
                    FindingCode::SeriesDisagreesWithPackages,
                    "compute".into(),
                    "r1".into()
                ),
                (
                    FindingCode::UndiscoveredService,
                    "image".into(),
                    "r1".into()
                ),
                (FindingCode::UndiscoveredService, String::new(), "r2".into()),
            ]
        );
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.contains("node c1") && e.contains("caracal")));
        assert!(f[0].message.contains("epoxy"), "{}", f[0].message);
        // A failed authentication says nothing about the fleet.
        let mut failed = d.clone();
        failed.keystone.error = Some(crate::discover::http::Failure {
            kind: crate::discover::http::FailKind::Unauthorized,
            message: "refused".into(),
        });
        assert!(against_fleet(&failed, &nodes, &currency).is_empty());
    }

    #[test]
    fn a_service_type_new_since_the_previous_discovery() {
        let before = discovery(vec![endpoint("compute", "nova", "r1", &["epoxy"])]);
        let mut now = discovery(vec![
            endpoint("compute", "nova", "r1", &["epoxy"]),
            endpoint("placement", "placement", "r1", &["epoxy"]),
            endpoint("placement", "placement", "r2", &["epoxy"]),
        ]);
        assert!(new_services(&now, None).is_empty());
        let f = new_services(&now, Some(&before));
        assert_eq!(
            codes(&f),
            vec![(FindingCode::NewService, "placement".into(), "r1".into())]
        );
        assert_eq!(f[0].evidence.len(), 2);
        now.endpoints.truncate(1);
        assert!(new_services(&now, Some(&before)).is_empty());
    }
}
