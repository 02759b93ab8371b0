//! The control plane as its APIs show it, stored beside the node inventories: one row per
//! discovery round (`serve --discover-cloud`), the whole discovery kept as JSON, history by
//! time. The store does not interpret the document (it knows nothing of how discoveries are
//! made); [`ControlPlane`] is implemented once for both backends, in `sql/controlplane.rs`.

use serde::{Deserialize, Serialize};

use super::{Millis, StoreError};

/// One stored discovery round (without its document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPlaneRound {
    /// Id (increasing).
    pub id: i64,
    /// The cloud discovered.
    pub cloud: String,
    /// When.
    pub discovered_at: Millis,
    /// Endpoints catalogued.
    pub endpoints: i64,
    /// Findings.
    pub findings: i64,
    /// Endpoints that could not be read, and a failed authentication.
    pub problems: i64,
}

/// A round to store.
#[derive(Debug)]
pub struct NewControlPlaneRound<'a> {
    /// The cloud.
    pub cloud: &'a str,
    /// When.
    pub discovered_at: Millis,
    /// Endpoints catalogued.
    pub endpoints: i64,
    /// Findings.
    pub findings: i64,
    /// Problems.
    pub problems: i64,
    /// The discovery (JSON).
    pub body: &'a serde_json::value::RawValue,
}

/// Discovery rounds, stored and read back.
#[async_trait::async_trait]
pub trait ControlPlane: Send + Sync {
    /// Store one round (one transaction); returns its id.
    async fn record_control_plane(&self, r: NewControlPlaneRound<'_>) -> Result<i64, StoreError>;
    /// Rounds, newest first, of one cloud or all, at most `limit`.
    async fn control_plane_rounds(
        &self,
        cloud: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ControlPlaneRound>, StoreError>;
    /// One round with its document: `id`, or the newest (of `cloud`, or of any cloud).
    async fn control_plane_round(
        &self,
        id: Option<i64>,
        cloud: Option<&str>,
    ) -> Result<Option<(ControlPlaneRound, serde_json::Value)>, StoreError>;
    /// Delete rounds older than `before`, except each cloud's newest; returns how many.
    async fn prune_control_plane(&self, before: Millis) -> Result<u64, StoreError>;
}
