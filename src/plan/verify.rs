//! Per-step verification from a control-plane discovery: each step that moves an API service
//! in a site names that service's catalog endpoints in the site's regions, the version each
//! must serve once the step is done (upstream's maximum for the hop's target series), what it
//! served at discovery, and the PromQL over the probe metrics (`discover/probe.rs`) that must
//! hold before the next step or batch. A hop's verify step gets every endpoint of its site.
//!
//! The control plane reaches the planner as data ([`PlanControlPlane`]); reading it (a
//! discovery file, the store, the server) is the command line's job.

use std::collections::BTreeSet;

use crate::model::controlplane::{CatalogEndpoint, PlanControlPlane, VersionKind};
use crate::model::{
    Action, EndpointCheck, ExpectedVersion, ObservedVersion, Phase, Plan, PromCheck, Step,
};

use super::order;

/// The metric names of the probes (`discover/probe.rs`) and the recording rules shipped in
/// `reports/prometheus/openstack-api.yml`.
const UP: &str = "nminus_openstack_endpoint_up";
const API_INFO: &str = "nminus_openstack_endpoint_api_info";
const P95: &str = "nminus:openstack_endpoint_latency_seconds:p95_5m";
const P95_BASELINE: &str = "nminus:openstack_endpoint_latency_seconds:p95_5m:median_7d";

/// A PromQL label value, double-quoted.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The PromQL of one endpoint: up, serving the expected version, latency within 3× its 7-day
/// median (the `OpenStackEndpointSlow` rule's terms).
pub(crate) fn promql(e: &CatalogEndpoint, expected: Option<&ExpectedVersion>) -> Vec<PromCheck> {
    let group = format!(
        "service_type={},region={},interface={}",
        label(&e.service_type),
        label(&e.region),
        label(&e.interface)
    );
    let one = format!("{group},url={}", label(&e.url));
    let mut out = vec![PromCheck {
        check: "up".into(),
        expr: format!("{UP}{{{one}}} == 1"),
    }];
    if let Some(x) = expected {
        let name = match x.kind {
            VersionKind::Microversion => "max_microversion",
            VersionKind::VersionId => "version_id",
        };
        out.push(PromCheck {
            check: "version".into(),
            expr: format!("{API_INFO}{{{one},{name}={}}} == 1", label(&x.value)),
        });
    }
    out.push(PromCheck {
        check: "latency".into(),
        expr: format!("{P95}{{{group}}} <= 3 * {P95_BASELINE}{{{group}}}"),
    });
    out
}

/// Whether an endpoint serves a site: its mapped site, or its region named like the site.
fn in_site(e: &CatalogEndpoint, site: &str) -> bool {
    e.site == site || e.region == site
}

/// The check of one endpoint after a step that moves it to `series` (codename).
pub(crate) fn check(cp: &PlanControlPlane, e: &CatalogEndpoint, series: &str) -> EndpointCheck {
    let project = e.project.clone().unwrap_or_default();
    let expected = cp
        .maxima
        .iter()
        .filter(|m| m.project == project && m.series.eq_ignore_ascii_case(series))
        .find(|m| e.version_kind.is_none_or(|k| k == m.kind))
        .map(|m| ExpectedVersion {
            kind: m.kind,
            value: m.value.clone(),
            series: m.series.clone(),
            source: m.source.clone(),
            disagreement: m.disagreement.clone(),
        });
    EndpointCheck {
        service_type: e.service_type.clone(),
        project,
        region: e.region.clone(),
        interface: e.interface.clone(),
        url: e.url.clone(),
        version_url: e.version_url.clone(),
        endpoint_id: e.endpoint_id.clone(),
        promql: promql(e, expected.as_ref()),
        expected,
        observed: ObservedVersion {
            status: e.status.clone(),
            value: e.max_version.clone(),
            series: e.series.clone(),
            at: cp.discovered_at.clone(),
        },
    }
}

/// The deliverable whose API a step moves (`nova` for `nova-api`), if it moves one.
fn api_deliverable(s: &Step) -> Option<&'static str> {
    if s.action != Action::Upgrade && s.action != Action::Downgrade {
        return None;
    }
    let c = order::component(s.component.as_deref()?)?;
    if c.api {
        c.deliverable
    } else {
        None
    }
}

/// The series (codename) a step's hop ends at.
fn hop_target(plan: &Plan, s: &Step) -> Option<String> {
    let site = s.site.as_deref()?;
    let hop = s.hop?;
    plan.paths
        .iter()
        .find(|p| p.site == site)?
        .hops
        .iter()
        .find(|h| h.index == hop)
        .map(|h| h.to.name.to_ascii_lowercase())
}

/// Attach the checks to the plan's steps; a site with no endpoint in the discovery is a
/// warning (map regions to sites with `nminus discover --site REGION=SITE`).
pub(crate) fn attach(plan: &mut Plan, cp: &PlanControlPlane) {
    let mut warned: BTreeSet<String> = BTreeSet::new();
    let mut warnings = Vec::new();
    for i in 0..plan.steps.len() {
        let s = &plan.steps[i];
        let (Some(site), Some(series)) = (s.site.clone(), hop_target(plan, s)) else {
            continue;
        };
        let whole_site = s.phase == Phase::Verify && s.action == Action::Verify;
        let project = api_deliverable(s);
        if !whole_site && project.is_none() {
            continue;
        }
        let endpoints: Vec<&CatalogEndpoint> =
            cp.endpoints.iter().filter(|e| in_site(e, &site)).collect();
        if endpoints.is_empty() {
            if warned.insert(site.clone()) {
                let regions: BTreeSet<&str> =
                    cp.endpoints.iter().map(|e| e.region.as_str()).collect();
                warnings.push(format!(
                    "{site}: the control-plane discovery of {} has no endpoint in this site (regions: {}): map a region to it with `nminus discover --site REGION={site}`; its steps are not verified",
                    cp.cloud,
                    regions.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            continue;
        }
        let checks: Vec<EndpointCheck> = endpoints
            .into_iter()
            .filter(|e| whole_site || e.project.as_deref() == project)
            .map(|e| check(cp, e, &series))
            .collect();
        plan.steps[i].verification = checks;
    }
    plan.warnings.extend(warnings);
    plan.inputs.control_plane = Some(format!(
        "cloud {}, discovered {}, from {}",
        cp.cloud, cp.discovered_at, cp.source
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::controlplane::SeriesMaximum;

    fn endpoint(service: &str, project: &str, region: &str, max: &str) -> CatalogEndpoint {
        CatalogEndpoint {
            service_type: service.into(),
            catalog_type: service.into(),
            service_name: project.into(),
            project: Some(project.into()),
            region: region.into(),
            site: region.into(),
            interface: "public".into(),
            url: format!("http://{project}.{region}:8774/v2.1"),
            version_url: Some(format!("http://{project}.{region}:8774/v2.1/")),
            endpoint_id: format!("id-{project}-{region}"),
            status: "ok".into(),
            version_kind: Some(VersionKind::Microversion),
            max_version: Some(max.into()),
            series: vec!["dalmatian".into()],
        }
    }

    #[test]
    fn promql_names_the_endpoint_and_escapes_labels() {
        let mut e = endpoint("compute", "nova", "RegionOne", "2.96");
        e.url = "http://h/\"x\\".into();
        let x = ExpectedVersion {
            kind: VersionKind::Microversion,
            value: "2.100".into(),
            series: "epoxy".into(),
            source: "s".into(),
            disagreement: None,
        };
        let q = promql(&e, Some(&x));
        assert_eq!(
            q.iter().map(|c| c.check.as_str()).collect::<Vec<_>>(),
            ["up", "version", "latency"]
        );
        assert_eq!(
            q[0].expr,
            r#"nminus_openstack_endpoint_up{service_type="compute",region="RegionOne",interface="public",url="http://h/\"x\\"} == 1"#
        );
        assert!(
            q[1].expr.ends_with(r#"max_microversion="2.100"} == 1"#),
            "{}",
            q[1].expr
        );
        assert!(q[2].expr.contains(" <= 3 * nminus:openstack_endpoint_latency_seconds:p95_5m:median_7d{service_type=\"compute\""));
        // No expectation: no version query.
        assert_eq!(promql(&e, None).len(), 2);
    }

    #[test]
    fn check_takes_the_maximum_of_the_target_series_and_its_kind() {
        let cp = PlanControlPlane {
            cloud: "c".into(),
            discovered_at: "t".into(),
            source: "f".into(),
            endpoints: vec![endpoint("compute", "nova", "RegionOne", "2.96")],
            maxima: vec![
                SeriesMaximum {
                    project: "nova".into(),
                    series: "dalmatian".into(),
                    kind: VersionKind::Microversion,
                    value: "2.96".into(),
                    source: "a".into(),
                    disagreement: None,
                },
                SeriesMaximum {
                    project: "nova".into(),
                    series: "epoxy".into(),
                    kind: VersionKind::Microversion,
                    value: "2.100".into(),
                    source: "b".into(),
                    disagreement: None,
                },
            ],
        };
        let c = check(&cp, &cp.endpoints[0], "Epoxy");
        let x = c.expected.unwrap();
        assert_eq!((x.value.as_str(), x.source.as_str()), ("2.100", "b"));
        assert_eq!(c.observed.value.as_deref(), Some("2.96"));
        assert!(check(&cp, &cp.endpoints[0], "flamingo").expected.is_none());
        let mut id = cp.endpoints[0].clone();
        id.version_kind = Some(VersionKind::VersionId);
        assert!(
            check(&cp, &id, "epoxy").expected.is_none(),
            "kinds must match"
        );
    }
}
