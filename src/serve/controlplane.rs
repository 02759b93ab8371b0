//! Discovery inside `serve` (`--discover-cloud`): the rounds of [`discover::service::Periodic`]
//! run in the background, each judged against the fleet (`undiscovered-service`,
//! `series-disagrees-with-packages`) and stored as a control-plane round; the probes' metrics
//! are served on `/metrics`; `GET /v1/controlplane[?cloud=&id=]` is a stored round (the newest
//! by default) and `GET /v1/controlplane/history[?cloud=&limit=]` the rounds, newest first.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::discover::fleet::{self, FleetNode};
use crate::discover::{self, Discovery};
use crate::releases::openstack::OpenStackCatalog;
use crate::store::controlplane::{ControlPlaneRound, NewControlPlaneRound};
use crate::store::{Millis, Store};

/// Rounds listed by `/v1/controlplane/history` unless `limit` says otherwise, and at most.
const HISTORY_DEFAULT: i64 = 100;
const HISTORY_MAX: i64 = 10_000;

/// The discovery loop of `serve`.
pub(crate) struct ControlPlaneLoop {
    /// What to run (its metrics are the ones `/metrics` shows).
    pub periodic: discover::service::Periodic,
    /// The OpenStack release catalog packages are placed in (none: no comparison with the fleet).
    pub catalog: Option<Arc<OpenStackCatalog>>,
    /// Rounds older than this are deleted (each cloud's newest is kept).
    pub retain: Duration,
}

/// The newest stored round of `cloud`, when it is a discovery of this schema.
async fn previous(store: &dyn Store, cloud: &str) -> Option<Discovery> {
    match store.control_plane_round(None, Some(cloud)).await {
        Ok(Some((_, body))) => serde_json::from_value::<Discovery>(body)
            .ok()
            .filter(|d| d.schema == discover::SCHEMA),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("cannot read the last control-plane round of `{cloud}`: {e}");
            None
        }
    }
}

/// The fleet's nodes and their OpenStack deliverables.
async fn fleet_view(
    store: &dyn Store,
    catalog: &OpenStackCatalog,
) -> Result<(Vec<FleetNode>, Vec<crate::model::DeliverableCurrency>), crate::store::StoreError> {
    let nodes = store
        .nodes()
        .await?
        .into_iter()
        .filter(|n| !n.revoked)
        .map(|n| FleetNode {
            id: n.id,
            site: n.site,
        })
        .collect();
    let today = time::OffsetDateTime::now_utc().date();
    let mut rows = Vec::new();
    let mut after = String::new();
    loop {
        let batch = store.current_inventories(&after, 256).await?;
        let Some(last) = batch.last() else { break };
        after.clone_from(&last.node);
        for c in &batch {
            rows.extend(crate::fleet::currency(&c.inventory, catalog, today));
        }
    }
    Ok((nodes, rows))
}

/// Judge one round against the fleet and store it; a store that fails is logged, and the
/// round still becomes the previous one of the next.
async fn round(
    st: &AppState,
    catalog: Option<&OpenStackCatalog>,
    retain: Duration,
    mut d: Discovery,
) -> Discovery {
    let store = st.store();
    if let Some(cat) = catalog {
        match fleet_view(store, cat).await {
            Ok((nodes, rows)) => d.findings.extend(fleet::against_fleet(&d, &nodes, &rows)),
            Err(e) => tracing::warn!("control plane not compared with the fleet: {e}"),
        }
    }
    let at = Millis::parse(&d.discovered_at).unwrap_or_else(Millis::now);
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let stored = match serde_json::value::to_raw_value(&d) {
        Ok(body) => store
            .record_control_plane(NewControlPlaneRound {
                cloud: &d.cloud,
                discovered_at: at,
                endpoints: count(d.endpoints.len()),
                findings: count(d.findings.len()),
                problems: count(d.problems()),
                body: &body,
            })
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match stored {
        Ok(id) => tracing::info!(
            "control-plane round {id} of `{}`: {} endpoints, {} findings, {} problems",
            d.cloud,
            d.endpoints.len(),
            d.findings.len(),
            d.problems()
        ),
        Err(e) => tracing::error!("control-plane round of `{}` not stored: {e}", d.cloud),
    }
    let before = Millis(at.0.saturating_sub(i64::try_from(retain.as_millis()).unwrap_or(i64::MAX)));
    if let Err(e) = store.prune_control_plane(before).await {
        tracing::warn!("old control-plane rounds not pruned: {e}");
    }
    d
}

/// Run the loop until the task is aborted (or the loop stops on its own).
pub(crate) async fn run(st: AppState, l: ControlPlaneLoop) {
    st.set_probe_metrics(l.periodic.metrics.clone());
    let prev = previous(st.store(), &l.periodic.cfg.name).await;
    let (catalog, retain) = (l.catalog, l.retain);
    let r = l
        .periodic
        .run(
            prev,
            || Millis::now().rfc3339(),
            |d| {
                let (st, catalog) = (st.clone(), catalog.clone());
                async move { Ok(round(&st, catalog.as_deref(), retain, d).await) }
            },
        )
        .await;
    if let Err(e) = r {
        tracing::error!("discovery stopped: {e:#}");
    }
}

/// The report's control-plane section: the newest stored round (of any cloud), when it reads
/// as a discovery of this schema.
pub(crate) async fn report_view(
    store: &dyn Store,
) -> Result<Option<crate::model::controlplane::ControlPlaneView>, crate::store::StoreError> {
    Ok(store
        .control_plane_round(None, None)
        .await?
        .and_then(|(_, body)| serde_json::from_value::<Discovery>(body).ok())
        .filter(|d| d.schema == discover::SCHEMA)
        .map(|d| fleet::view(&d)))
}

/// `GET /v1/controlplane` parameters.
#[derive(Debug, Deserialize)]
pub(super) struct RoundQuery {
    cloud: Option<String>,
    id: Option<i64>,
}

/// A stored round (the newest unless `id`).
pub(super) async fn latest(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RoundQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    st.options().access.require(&headers, super::Role::Read)?;
    match st
        .store()
        .control_plane_round(q.id, q.cloud.as_deref())
        .await?
    {
        Some((_, body)) => Ok(Json(body)),
        None => Err(ApiError::NotFound(
            "no control-plane round stored (run serve with --discover-cloud)".into(),
        )),
    }
}

/// `GET /v1/controlplane/history` parameters.
#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    cloud: Option<String>,
    limit: Option<i64>,
}

/// Stored rounds, newest first.
pub(super) async fn history(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<ControlPlaneRound>>, ApiError> {
    st.options().access.require(&headers, super::Role::Read)?;
    let limit = q.limit.unwrap_or(HISTORY_DEFAULT).clamp(1, HISTORY_MAX);
    Ok(Json(
        st.store()
            .control_plane_rounds(q.cloud.as_deref(), limit)
            .await?,
    ))
}
