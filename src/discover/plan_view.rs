//! A discovery as the planner reads it ([`PlanControlPlane`]): the catalog endpoints with what
//! each answered, and upstream's per-series maxima of every project catalogued.

use std::collections::BTreeSet;

use crate::model::controlplane::{CatalogEndpoint, PlanControlPlane, VersionKind};

use super::apidata::ApiData;
use super::{Discovery, EndpointStatus};

/// The planner's view of `d`, read from `source` (named in the plan).
pub(crate) fn plan_view(d: &Discovery, data: &ApiData, source: String) -> PlanControlPlane {
    let endpoints: Vec<CatalogEndpoint> = d
        .endpoints
        .iter()
        .map(|e| {
            let (version_kind, max) = match (e.max_microversion, e.max_version_id) {
                (Some(m), _) => (Some(VersionKind::Microversion), Some(m.to_string())),
                (None, Some(v)) => (Some(VersionKind::VersionId), Some(v.to_string())),
                (None, None) => (None, None),
            };
            CatalogEndpoint {
                service_type: e.service_type.clone(),
                catalog_type: e.catalog_type.clone(),
                service_name: e.service_name.clone(),
                project: e.project.clone(),
                region: e.region.clone(),
                site: e.site.clone(),
                interface: e.interface.clone(),
                url: e.url.clone(),
                version_url: super::document_urls(&e.url, None)
                    .ok()
                    .map(|(versioned, root)| versioned.unwrap_or(root)),
                endpoint_id: e.endpoint_id.clone(),
                status: match e.status {
                    EndpointStatus::Ok => "ok",
                    EndpointStatus::NoVersionDocument => "no-version-document",
                    EndpointStatus::Unreachable => "unreachable",
                }
                .to_owned(),
                version_kind,
                max_version: max,
                series: e
                    .series
                    .as_ref()
                    .map(|s| s.candidates.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let projects: BTreeSet<&str> = d
        .endpoints
        .iter()
        .filter_map(|e| e.project.as_deref())
        .collect();
    PlanControlPlane {
        cloud: d.cloud.clone(),
        discovered_at: d.discovered_at.clone(),
        source,
        maxima: projects.into_iter().flat_map(|p| data.maxima(p)).collect(),
        endpoints,
    }
}
