//! The control plane as its APIs show it, stored beside the node inventories: one row per
//! discovery round (`serve --discover-cloud`), the whole discovery kept as JSON, history by
//! time. The store does not interpret the document (it knows nothing of how discoveries are
//! made); [`ControlPlane`] is implemented for both backends by [`control_plane_impl!`], with the
//! same SQL (see [`common`](super::common) for the conventions).

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

/// Columns of [`ControlPlaneRound`].
pub(super) const ROUND_COLUMNS: &str = "id, cloud, discovered_at, endpoints, findings, problems";

/// `impl ControlPlane for $ty`, `$ty` providing `reader()`, `writer()` and `health()`.
macro_rules! control_plane_impl {
    ($ty:ty, $db:ty) => {
        mod control_plane_impl {
            use sqlx::Row as _;

            use super::*;
            use $crate::store::controlplane::{
                ControlPlane, ControlPlaneRound, NewControlPlaneRound, ROUND_COLUMNS,
            };
            use $crate::store::{Millis, StoreError};

            fn round_row(
                r: &<$db as sqlx::Database>::Row,
            ) -> Result<ControlPlaneRound, sqlx::Error> {
                Ok(ControlPlaneRound {
                    id: r.try_get("id")?,
                    cloud: r.try_get("cloud")?,
                    discovered_at: Millis(r.try_get("discovered_at")?),
                    endpoints: r.try_get("endpoints")?,
                    findings: r.try_get("findings")?,
                    problems: r.try_get("problems")?,
                })
            }

            #[async_trait::async_trait]
            impl ControlPlane for $ty {
                async fn record_control_plane(
                    &self,
                    p: NewControlPlaneRound<'_>,
                ) -> Result<i64, StoreError> {
                    let bytes = p.body.get().len();
                    let r = sqlx::query(
                        "INSERT INTO control_plane_rounds
                           (cloud, discovered_at, endpoints, findings, problems, body)
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    )
                    .bind(p.cloud)
                    .bind(p.discovered_at.0)
                    .bind(p.endpoints)
                    .bind(p.findings)
                    .bind(p.problems)
                    .bind(sqlx::types::Json(p.body))
                    .fetch_one(self.writer())
                    .await
                    .map_err(StoreError::from);
                    Ok(self.health().observe(r, bytes)?.try_get("id")?)
                }

                async fn control_plane_rounds(
                    &self,
                    cloud: Option<&str>,
                    limit: i64,
                ) -> Result<Vec<ControlPlaneRound>, StoreError> {
                    let q = format!(
                        "SELECT {ROUND_COLUMNS} FROM control_plane_rounds
                         WHERE ($1 IS NULL OR cloud = $1)
                         ORDER BY discovered_at DESC, id DESC LIMIT $2"
                    );
                    let rows = sqlx::query(&q)
                        .bind(cloud)
                        .bind(limit)
                        .fetch_all(self.reader())
                        .await?;
                    Ok(rows.iter().map(round_row).collect::<Result<_, _>>()?)
                }

                async fn control_plane_round(
                    &self,
                    id: Option<i64>,
                    cloud: Option<&str>,
                ) -> Result<Option<(ControlPlaneRound, serde_json::Value)>, StoreError> {
                    let q = format!(
                        "SELECT {ROUND_COLUMNS}, body FROM control_plane_rounds
                         WHERE ($1 IS NULL OR id = $1) AND ($2 IS NULL OR cloud = $2)
                         ORDER BY discovered_at DESC, id DESC LIMIT 1"
                    );
                    let Some(r) = sqlx::query(&q)
                        .bind(id)
                        .bind(cloud)
                        .fetch_optional(self.reader())
                        .await?
                    else {
                        return Ok(None);
                    };
                    let body: sqlx::types::Json<serde_json::Value> =
                        r.try_get("body").map_err(|e| StoreError::Corrupt {
                            what: "control-plane round",
                            message: e.to_string(),
                        })?;
                    Ok(Some((round_row(&r)?, body.0)))
                }

                async fn prune_control_plane(&self, before: Millis) -> Result<u64, StoreError> {
                    let r = sqlx::query(
                        "DELETE FROM control_plane_rounds WHERE discovered_at < $1
                         AND id NOT IN (SELECT MAX(id) FROM control_plane_rounds GROUP BY cloud)",
                    )
                    .bind(before.0)
                    .execute(self.writer())
                    .await
                    .map_err(StoreError::from);
                    Ok(self.health().observe(r, 0)?.rows_affected())
                }
            }
        }
    };
}

pub(super) use control_plane_impl;
