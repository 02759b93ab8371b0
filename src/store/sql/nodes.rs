//! Nodes: enrollment, tokens, heartbeats and the registry.

use std::collections::BTreeMap;

use sqlx::types::Json;

use super::driver::{tx, Affected as _, QueryExt as _, RowExt as _, Sql};
use super::{retry_contention, Backend, Db};
use crate::store::{Beat, Millis, NodeRecord, Nodes, StoreError, TokenOwner};

/// Columns of [`NodeRecord`].
const NODE_COLUMNS: &str = "id, hostname, site, cell, labels, enrolled_at, registered_at, last_seen, current_hash, findings_run, open_findings, compliant, revoked";

fn node_row<DB: Sql>(r: &DB::Row) -> Result<NodeRecord, sqlx::Error> {
    let labels: Json<BTreeMap<String, String>> = r.col("labels")?;
    Ok(NodeRecord {
        id: r.col("id")?,
        hostname: r.col("hostname")?,
        site: r.col("site")?,
        cell: r.col("cell")?,
        labels: labels.0,
        enrolled_at: Millis(r.col("enrolled_at")?),
        registered_at: r.col::<Option<i64>>("registered_at")?.map(Millis),
        last_seen: r.col::<Option<i64>>("last_seen")?.map(Millis),
        current_hash: r.col("current_hash")?,
        findings_run: r.col("findings_run")?,
        open_findings: r.col("open_findings")?,
        compliant: r.col("compliant")?,
        revoked: r.col("revoked")?,
    })
}

#[async_trait::async_trait]
impl<B: Backend> Nodes for Db<B> {
    async fn enroll(&self, node: &str, token_hash: &str, now: Millis) -> Result<(), StoreError> {
        let r = self
            .write_retrying(|| {
                sqlx::query(
                    "INSERT INTO nodes (id, token_hash, enrolled_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at
                     WHERE nodes.revoked = FALSE",
                )
                .arg(node)
                .arg(token_hash)
                .arg(now.0)
            })
            .await?;
        if r.affected() == 0 {
            return Err(StoreError::Revoked(node.to_owned()));
        }
        Ok(())
    }

    async fn revoke(&self, node: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE nodes SET revoked = TRUE, token_hash = NULL WHERE id = $1")
            .arg(node)
            .execute(self.write())
            .await
            .map_err(StoreError::from);
        let r = self.health().observe(r, 0)?;
        Ok(r.affected() > 0)
    }

    async fn authenticate(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        let r = sqlx::query(
            "SELECT id, current_hash FROM nodes WHERE token_hash = $1 AND revoked = FALSE",
        )
        .arg(token_hash)
        .fetch_optional(self.read())
        .await?;
        Ok(match r {
            Some(r) => Some(TokenOwner {
                node: r.col("id")?,
                current_hash: r.col("current_hash")?,
            }),
            None => None,
        })
    }

    async fn heartbeat(&self, node: &str, hash: &str, now: Millis) -> Result<bool, StoreError> {
        let r = self
            .write_retrying(|| {
                sqlx::query(
                    "UPDATE nodes SET last_seen = $3 WHERE id = $1 AND current_hash = $2 AND revoked = FALSE",
                )
                .arg(node)
                .arg(hash)
                .arg(now.0)
            })
            .await?;
        Ok(r.affected() > 0)
    }

    async fn heartbeats(&self, beats: &[Beat<'_>]) -> Result<Vec<bool>, StoreError> {
        let r = retry_contention(|| async move {
            let mut t = self.begin().await?;
            let mut out = Vec::with_capacity(beats.len());
            for b in beats {
                let r = sqlx::query(
                    "UPDATE nodes SET last_seen = $3
                     WHERE id = $1 AND current_hash = $2 AND token_hash = $4 AND revoked = FALSE",
                )
                .arg(b.node)
                .arg(b.hash)
                .arg(b.at.0)
                .arg(b.token_hash)
                .execute(tx(&mut t))
                .await?;
                out.push(r.affected() > 0);
            }
            t.commit().await?;
            Ok(out)
        })
        .await;
        self.health().observe(r, 0)
    }

    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let q = format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY id");
        let rows = sqlx::query(&q).fetch_all(self.read()).await?;
        Ok(rows
            .iter()
            .map(node_row::<B::DB>)
            .collect::<Result<_, _>>()?)
    }

    async fn node(&self, id: &str) -> Result<Option<NodeRecord>, StoreError> {
        let q = format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1");
        let r = sqlx::query(&q).arg(id).fetch_optional(self.read()).await?;
        Ok(match r {
            Some(r) => Some(node_row::<B::DB>(&r)?),
            None => None,
        })
    }
}
