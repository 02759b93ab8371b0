//! Discovery rounds of the control plane (see [`ControlPlane`]).

use sqlx::types::Json;

use super::driver::{Affected as _, QueryExt as _, RowExt as _, Sql};
use super::{corrupt, Backend, Db};
use crate::store::controlplane::{ControlPlane, ControlPlaneRound, NewControlPlaneRound};
use crate::store::{Millis, StoreError};

/// Columns of [`ControlPlaneRound`].
const ROUND_COLUMNS: &str = "id, cloud, discovered_at, endpoints, findings, problems";

fn round_row<DB: Sql>(r: &DB::Row) -> Result<ControlPlaneRound, sqlx::Error> {
    Ok(ControlPlaneRound {
        id: r.col("id")?,
        cloud: r.col("cloud")?,
        discovered_at: Millis(r.col("discovered_at")?),
        endpoints: r.col("endpoints")?,
        findings: r.col("findings")?,
        problems: r.col("problems")?,
    })
}

#[async_trait::async_trait]
impl<B: Backend> ControlPlane for Db<B> {
    async fn record_control_plane(&self, p: NewControlPlaneRound<'_>) -> Result<i64, StoreError> {
        let bytes = p.body.get().len();
        let r = sqlx::query(
            "INSERT INTO control_plane_rounds
               (cloud, discovered_at, endpoints, findings, problems, body)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .arg(p.cloud)
        .arg(p.discovered_at.0)
        .arg(p.endpoints)
        .arg(p.findings)
        .arg(p.problems)
        .arg(Json(p.body))
        .fetch_one(self.write())
        .await
        .map_err(StoreError::from);
        Ok(self.health().observe(r, bytes)?.col("id")?)
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
            .arg(cloud)
            .arg(limit)
            .fetch_all(self.read())
            .await?;
        Ok(rows
            .iter()
            .map(round_row::<B::DB>)
            .collect::<Result<_, _>>()?)
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
            .arg(id)
            .arg(cloud)
            .fetch_optional(self.read())
            .await?
        else {
            return Ok(None);
        };
        let body: Json<serde_json::Value> = r
            .col("body")
            .map_err(|e| corrupt("control-plane round", e))?;
        Ok(Some((round_row::<B::DB>(&r)?, body.0)))
    }

    async fn prune_control_plane(&self, before: Millis) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM control_plane_rounds WHERE discovered_at < $1
             AND id NOT IN (SELECT MAX(id) FROM control_plane_rounds GROUP BY cloud)",
        )
        .arg(before.0)
        .execute(self.write())
        .await
        .map_err(StoreError::from);
        Ok(self.health().observe(r, 0)?.affected())
    }
}
