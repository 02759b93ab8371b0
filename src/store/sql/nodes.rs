//! Nodes: enrollment, tokens, heartbeats and the registry.

use std::collections::{BTreeMap, HashMap};

use sqlx::types::Json;
use sqlx::{QueryBuilder, Transaction};

use super::driver::{
    tx, Affected as _, BuilderExt as _, QueryExt as _, RowExt as _, SeparatedExt as _, Sql,
};
use super::{retry_contention, Backend, Db};
use crate::store::{Beat, Millis, NodeRecord, Nodes, StoreError, TokenOwner};

/// Columns of [`NodeRecord`].
const NODE_COLUMNS: &str = "id, hostname, site, cell, labels, enrolled_at, registered_at, last_seen, current_hash, findings_run, open_findings, compliant, revoked";

/// Distinct heartbeats recorded per statement, at most (4 parameters each, far under both
/// backends' limits). A statement is padded to a power of two of rows, so that the writer
/// connection prepares a handful of statement texts, not one per batch size.
const BEATS_PER_STATEMENT: usize = 512;

/// A heartbeat's key: node, inventory hash, token hash. Whether a beat is recorded depends on
/// its key only (the node's row does not change during a batch but for `last_seen`).
type BeatKey<'a> = (&'a str, &'a str, &'a str);

/// The distinct keys of `beats`, by node, each with the time of its last beat in the batch
/// (what one statement per beat in order would leave in `last_seen`).
fn distinct_beats<'a>(beats: &[Beat<'a>]) -> Vec<(BeatKey<'a>, Millis)> {
    let mut keys = BTreeMap::new();
    for b in beats {
        keys.insert((b.node, b.hash, b.token_hash), b.at);
    }
    keys.into_iter().collect()
}

/// The nodes whose heartbeat was recorded, each with the inventory hash and token hash it was
/// recorded for.
type Recorded = HashMap<String, (String, String)>;

/// Record `keys` in one statement: `last_seen` of each node whose current inventory, token
/// and standing (not revoked) match; those nodes into `recorded`. A node appears under
/// several keys only with different hashes or tokens, of which at most one matches its row,
/// so each node is updated from one row at most.
async fn record_beats<DB: Sql>(
    t: &mut Transaction<'_, DB>,
    keys: &[(BeatKey<'_>, Millis)],
    recorded: &mut Recorded,
) -> Result<(), StoreError> {
    let Some(last) = keys.last() else {
        return Ok(());
    };
    let rows = keys.len().next_power_of_two();
    let padded = keys.iter().chain(std::iter::repeat(last)).take(rows);
    let mut qb = QueryBuilder::<DB>::new("WITH beat (node, hash, token, seen) AS (");
    qb.push_values(padded, |mut b, ((node, hash, token), at)| {
        b.arg(*node).arg(*hash).arg(*token).arg(at.0);
    });
    qb.push(
        ") UPDATE nodes SET last_seen = beat.seen FROM beat
         WHERE nodes.id = beat.node AND nodes.current_hash = beat.hash
           AND nodes.token_hash = beat.token AND nodes.revoked = FALSE
         RETURNING nodes.id, nodes.current_hash, nodes.token_hash",
    );
    for r in qb.statement().fetch_all(tx(t)).await? {
        recorded.insert(r.col("id")?, (r.col("current_hash")?, r.col("token_hash")?));
    }
    Ok(())
}

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
        if beats.is_empty() {
            return Ok(Vec::new());
        }
        let keys = distinct_beats(beats);
        let r = retry_contention(|| {
            let keys = &keys;
            async move {
                let mut t = self.begin().await?;
                let mut recorded = Recorded::new();
                for chunk in keys.chunks(BEATS_PER_STATEMENT) {
                    record_beats(&mut t, chunk, &mut recorded).await?;
                }
                t.commit().await?;
                Ok(recorded)
            }
        })
        .await;
        let recorded = self.health().observe(r, 0)?;
        Ok(beats
            .iter()
            .map(|b| {
                recorded
                    .get(b.node)
                    .is_some_and(|(hash, token)| hash == b.hash && token == b.token_hash)
            })
            .collect())
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
