//! Analysis runs: fleet rounds, the chunks replicas claim, and pruning.

use sqlx::QueryBuilder;

use super::driver::{tx, Affected as _, BuilderExt as _, QueryExt as _, RowExt as _, Sql};
use super::findings::{apply_delta, write_findings};
use super::{retry_contention, Backend, Db, FINDINGS_PER_INSERT};
use crate::store::bodies::{self, Template};
use crate::store::{
    FleetDelta, FleetEntry, FleetHead, Millis, PreparedFindings, RunChunk, RunRecord, Runs,
    StoreError,
};

fn run_row<DB: Sql>(r: &DB::Row) -> Result<RunRecord, sqlx::Error> {
    Ok(RunRecord {
        id: r.col("id")?,
        kind: r.col("kind")?,
        started_at: Millis(r.col("started_at")?),
        finished_at: r.col::<Option<i64>>("finished_at")?.map(Millis),
        revision: r.col("revision")?,
        nodes: r.col("nodes")?,
        findings: r.col("findings")?,
    })
}

/// Times a replica reads the open chunks again after another replica claimed the one it chose.
const CLAIM_ATTEMPTS: usize = 64;

/// The chunks of `ids` (sorted) at most `size` long: `(seq, after, until)`, the last one
/// unbounded; one unbounded chunk when there are no ids.
fn chunk_bounds(ids: &[String], size: i64) -> Vec<(i64, String, Option<String>)> {
    let size = usize::try_from(size.max(1)).unwrap_or(usize::MAX);
    let mut rows: Vec<(i64, String, Option<String>)> = Vec::new();
    let mut after = String::new();
    for (k, chunk) in ids.chunks(size).enumerate() {
        let last = k + 1 == ids.len().div_ceil(size);
        let until = chunk.last().cloned().unwrap_or_default();
        let seq = i64::try_from(k).unwrap_or(i64::MAX);
        rows.push((seq, after.clone(), (!last).then(|| until.clone())));
        after = until;
    }
    if rows.is_empty() {
        rows.push((0, String::new(), None));
    }
    rows
}

impl<B: Backend> Db<B> {
    /// [`Runs::record_run`] in one transaction, without retries.
    async fn record_run_tx(
        &self,
        run: i64,
        entries: &[FleetEntry],
        prepared: &[PreparedFindings],
        digests: &[[u8; 32]],
    ) -> Result<usize, StoreError> {
        let mut t = self.begin().await?;
        let mut stored = 0;
        for ((e, p), digest) in entries.iter().zip(prepared).zip(digests) {
            // The same findings for the same inventory: counters only, no rows.
            let same = sqlx::query(
                "UPDATE nodes SET open_findings = $3, compliant = $4
                 WHERE id = $1 AND current_hash = $2 AND findings_digest = $5",
            )
            .arg(e.node.as_str())
            .arg(e.hash.as_str())
            .arg(e.judged.open())
            .arg(e.judged.compliant)
            .arg(digest.as_slice())
            .execute(tx(&mut t))
            .await?;
            if same.affected() > 0 {
                stored += 1;
                continue;
            }
            let r = sqlx::query(
                "UPDATE nodes SET findings_run = $3, open_findings = $4, compliant = $5,
                   findings_digest = $6
                 WHERE id = $1 AND current_hash = $2",
            )
            .arg(e.node.as_str())
            .arg(e.hash.as_str())
            .arg(run)
            .arg(e.judged.open())
            .arg(e.judged.compliant)
            .arg(digest.as_slice())
            .execute(tx(&mut t))
            .await?;
            if r.affected() == 0 {
                continue;
            }
            write_findings::<B>(&mut t, run, &e.node, &e.hash, &e.judged.findings, p).await?;
            stored += 1;
        }
        t.commit().await?;
        Ok(stored)
    }

    /// [`Runs::record_deltas`] in one transaction, without retries.
    async fn record_deltas_tx(
        &self,
        run: i64,
        deltas: &[FleetDelta],
        templates: &[Vec<Option<Template>>],
    ) -> Result<usize, StoreError> {
        let mut t = self.begin().await?;
        let mut stored = 0;
        for (d, templates) in deltas.iter().zip(templates) {
            // The guard: the rows the change was computed against are still the node's.
            let r = sqlx::query(
                "UPDATE nodes SET findings_run = $3, open_findings = $4, compliant = $5,
                   findings_digest = $6
                 WHERE id = $1 AND current_hash = $2 AND COALESCE(findings_digest, $7) = $8",
            )
            .arg(d.node.as_str())
            .arg(d.hash.as_str())
            .arg(run)
            .arg(d.open)
            .arg(d.compliant)
            .arg(d.digest.to_vec())
            .arg(Vec::<u8>::new())
            .arg(d.base.clone().unwrap_or_default())
            .execute(tx(&mut t))
            .await?;
            if r.affected() == 0 {
                continue;
            }
            apply_delta::<B>(&mut t, run, d, templates).await?;
            stored += 1;
        }
        t.commit().await?;
        Ok(stored)
    }
}

#[async_trait::async_trait]
impl<B: Backend> Runs for Db<B> {
    async fn begin_run(
        &self,
        kind: &str,
        started: Millis,
        revision: &str,
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO analysis_runs (kind, started_at, revision) VALUES ($1, $2, $3) RETURNING id",
        )
        .arg(kind)
        .arg(started.0)
        .arg(revision)
        .fetch_one(self.write())
        .await
        .map_err(StoreError::from);
        Ok(self.health().observe(r, 0)?.col("id")?)
    }

    async fn record_run(&self, run: i64, entries: &[FleetEntry]) -> Result<usize, StoreError> {
        let prepared = entries
            .iter()
            .map(|e| PreparedFindings::new(&e.judged.findings, &e.node))
            .collect::<Result<Vec<_>, _>>()?;
        let digests: Vec<[u8; 32]> = entries
            .iter()
            .zip(&prepared)
            .map(|(e, p)| p.digest(&e.hash))
            .collect();
        let r = retry_contention(|| self.record_run_tx(run, entries, &prepared, &digests)).await;
        self.health().observe(r, 0)
    }

    async fn record_deltas(&self, run: i64, deltas: &[FleetDelta]) -> Result<usize, StoreError> {
        let templates = deltas
            .iter()
            .map(|d| {
                d.insert
                    .iter()
                    .map(|f| bodies::template(f, &d.node))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let r = retry_contention(|| self.record_deltas_tx(run, deltas, &templates)).await;
        self.health().observe(r, 0)
    }

    async fn finish_run(
        &self,
        run: i64,
        finished: Millis,
        nodes: i64,
        findings: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE analysis_runs SET finished_at = $2, nodes = $3, findings = $4 WHERE id = $1",
        )
        .arg(run)
        .arg(finished.0)
        .arg(nodes)
        .arg(findings)
        .execute(self.write())
        .await
        .map_err(StoreError::from);
        self.health().observe(r, 0)?;
        Ok(())
    }

    async fn plan_chunks(&self, run: i64, size: i64) -> Result<i64, StoreError> {
        let r = async {
            let ids: Vec<String> = sqlx::query(
                "SELECT id FROM nodes WHERE revoked = FALSE AND current_hash IS NOT NULL ORDER BY id",
            )
            .fetch_all(self.read())
            .await?
            .iter()
            .map(|r| r.col("id"))
            .collect::<Result<_, _>>()?;
            let rows = chunk_bounds(&ids, size);
            let mut t = self.begin().await?;
            for part in rows.chunks(FINDINGS_PER_INSERT) {
                let mut qb = QueryBuilder::<B::DB>::new(
                    "INSERT INTO run_chunks (run_id, seq, after_id, until_id) ",
                );
                qb.push_values(part, |mut b, (seq, after, until)| {
                    use super::driver::SeparatedExt as _;
                    b.arg(run).arg(*seq).arg(after.clone()).arg(until.clone());
                });
                qb.statement().execute(tx(&mut t)).await?;
            }
            t.commit().await?;
            Ok(i64::try_from(rows.len()).unwrap_or(i64::MAX))
        }
        .await;
        self.health().observe(r, 0)
    }

    async fn claim_chunk(
        &self,
        worker: &str,
        revision: &str,
        (now, stale_before): (Millis, Millis),
        prefer: &(dyn for<'c> Fn(&'c RunChunk) -> usize + Sync),
    ) -> Result<Option<RunChunk>, StoreError> {
        let r = async {
            // Read the open chunks without locking them (on a reader: SQLite's one writer
            // connection is the pushes'), pick one, and claim it with a guarded UPDATE: a
            // replica that lost the race to another reads again. (Locking the
            // candidates would hide them from the other replicas, which would then stop.)
            for _ in 0..CLAIM_ATTEMPTS {
                let rows = sqlx::query(
                    "SELECT c.run_id, c.seq, c.after_id, c.until_id, r.revision FROM run_chunks c
                     JOIN analysis_runs r ON r.id = c.run_id
                     WHERE c.run_id = (SELECT MIN(r2.id) FROM analysis_runs r2
                                       JOIN run_chunks c2 ON c2.run_id = r2.id
                                       WHERE r2.finished_at IS NULL AND r2.revision = $2
                                         AND c2.done = FALSE
                                         AND (c2.claimed_by IS NULL OR c2.claimed_at < $1))
                       AND c.done = FALSE AND (c.claimed_by IS NULL OR c.claimed_at < $1)
                     ORDER BY c.seq",
                )
                .arg(stale_before.0)
                .arg(revision)
                .fetch_all(self.read())
                .await?;
                let mut best: Option<(usize, RunChunk)> = None;
                for row in &rows {
                    let chunk = RunChunk {
                        run: row.col("run_id")?,
                        seq: row.col("seq")?,
                        after: row.col("after_id")?,
                        until: row.col("until_id")?,
                        revision: row.col("revision")?,
                    };
                    let score = prefer(&chunk);
                    if best.as_ref().is_none_or(|(b, _)| score > *b) {
                        best = Some((score, chunk));
                    }
                }
                let Some((_, chunk)) = best else {
                    return Ok(None);
                };
                let claimed = sqlx::query(
                    "UPDATE run_chunks SET claimed_by = $3, claimed_at = $4
                     WHERE run_id = $1 AND seq = $2 AND done = FALSE
                       AND (claimed_by IS NULL OR claimed_at < $5)",
                )
                .arg(chunk.run)
                .arg(chunk.seq)
                .arg(worker)
                .arg(now.0)
                .arg(stale_before.0)
                .execute(self.write())
                .await?;
                if claimed.affected() > 0 {
                    return Ok(Some(chunk));
                }
            }
            Ok(None)
        }
        .await;
        self.health().observe(r, 0)
    }

    async fn finish_chunk(
        &self,
        chunk: &RunChunk,
        nodes: i64,
        findings: i64,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let r = async {
            let mut t = self.begin().await?;
            // The run's row serialises the replicas finishing its chunks: the last one sees every
            // other chunk done.
            let q = format!(
                "SELECT finished_at FROM analysis_runs WHERE id = $1{}",
                B::FOR_UPDATE
            );
            let finished: Option<Option<i64>> = sqlx::query(&q)
                .arg(chunk.run)
                .fetch_optional(tx(&mut t))
                .await?
                .map(|r| r.col("finished_at"))
                .transpose()?;
            sqlx::query(
                "UPDATE run_chunks SET done = TRUE, nodes = $3, findings = $4 WHERE run_id = $1 AND seq = $2",
            )
            .arg(chunk.run)
            .arg(chunk.seq)
            .arg(nodes)
            .arg(findings)
            .execute(tx(&mut t))
            .await?;
            let open: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM run_chunks WHERE run_id = $1 AND done = FALSE")
                    .arg(chunk.run)
                    .fetch_one(tx(&mut t))
                    .await?
                    .col("n")?;
            let last = open == 0 && matches!(finished, Some(None));
            if last {
                sqlx::query(
                    "UPDATE analysis_runs SET finished_at = $2,
                       nodes = (SELECT COALESCE(SUM(nodes), 0) FROM run_chunks WHERE run_id = $1),
                       findings = (SELECT COALESCE(SUM(findings), 0) FROM run_chunks WHERE run_id = $1)
                     WHERE id = $1",
                )
                .arg(chunk.run)
                .arg(now.0)
                .execute(tx(&mut t))
                .await?;
            }
            t.commit().await?;
            Ok(last)
        }
        .await;
        self.health().observe(r, 0)
    }

    async fn latest_run(&self, kind: &str) -> Result<Option<RunRecord>, StoreError> {
        let r = sqlx::query(
            "SELECT id, kind, started_at, finished_at, revision, nodes, findings FROM analysis_runs
             WHERE kind = $1 AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .arg(kind)
        .fetch_optional(self.read())
        .await?;
        Ok(match r {
            Some(r) => Some(run_row::<B::DB>(&r)?),
            None => None,
        })
    }

    async fn prune(&self, before: Millis) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM findings WHERE closed_run IN (
               SELECT id FROM analysis_runs WHERE started_at < $1)",
        )
        .arg(before.0)
        .execute(self.write())
        .await
        .map_err(StoreError::from);
        let pruned = self.health().observe(r, 0)?.affected();
        // Templates no finding names any more.
        let r = sqlx::query(
            "DELETE FROM finding_bodies AS b WHERE NOT EXISTS (SELECT 1 FROM findings f WHERE f.body_id = b.id)",
        )
        .execute(self.write())
        .await
        .map_err(StoreError::from);
        self.health().observe(r, 0)?;
        Ok(pruned)
    }

    async fn fleet_heads(
        &self,
        after: &str,
        until: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FleetHead>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, current_hash, findings_digest, open_findings, compliant FROM nodes
             WHERE revoked = FALSE AND current_hash IS NOT NULL AND id > $1
               AND ($2 IS NULL OR id <= $2)
             ORDER BY id LIMIT $3",
        )
        .arg(after)
        .arg(until)
        .arg(limit)
        .fetch_all(self.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FleetHead {
                    node: r.col("id")?,
                    hash: r.col("current_hash")?,
                    digest: r.col("findings_digest")?,
                    open: r.col("open_findings")?,
                    compliant: r.col("compliant")?,
                })
            })
            .collect()
    }
}
