//! The SQL both backends share, written once: `$N` placeholders work in SQLite (sqlx binds `$N`
//! to argument N) and PostgreSQL, JSON columns go through `sqlx::types::Json` (TEXT in SQLite,
//! JSONB in PostgreSQL), times are integer milliseconds. [`store_impl!`] expands to the
//! [`Store`](super::Store) implementation of one backend type, which provides `reader()`,
//! `writer()`, `health()`, `FOR_UPDATE`, `BACKEND` and `lock_analysis()`. Every write reports
//! its outcome to `health()` (see [`WriteHealth`](super::WriteHealth)).

/// Findings inserted per statement (13 parameters each, under both backends' limits).
pub(super) const FINDINGS_PER_INSERT: usize = 500;

/// `%` and `_` escaped for `LIKE … ESCAPE '\'`.
pub(super) fn like_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Attempts at a write that the database refused for lock contention (SQLite `BUSY` or
/// `LOCKED` after its busy timeout, a PostgreSQL deadlock or serialisation failure).
pub(super) const WRITE_ATTEMPTS: u32 = 4;

/// Whether `e` is lock contention that a later attempt may pass (nothing was written).
pub(super) fn is_contention(e: &super::StoreError) -> bool {
    let super::StoreError::Db(sqlx::Error::Database(d)) = e else {
        return false;
    };
    let code = d.code().unwrap_or_default();
    match code.parse::<i64>() {
        // SQLite's primary codes BUSY (5) and LOCKED (6), with their extended codes.
        Ok(n) => matches!(n & 0xff, 5 | 6),
        // PostgreSQL: serialization_failure, deadlock_detected.
        Err(_) => matches!(&*code, "40001" | "40P01"),
    }
}

/// Run the write `attempt` until it passes, fails otherwise than by lock contention, or has
/// failed [`WRITE_ATTEMPTS`] times (a pause of 50, 100, 200 ms, with jitter, in between): a
/// writer that another connection held off past the busy timeout queues again instead of
/// answering the client with an error.
pub(super) async fn retry_contention<T, F, Fut>(mut attempt: F) -> Result<T, super::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, super::StoreError>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(e) if n < WRITE_ATTEMPTS && is_contention(&e) => {
                let mut b = [0u8; 1];
                let _ = getrandom::fill(&mut b);
                let pause = (50u64 << (n - 1)) + u64::from(b[0] % 32);
                tracing::debug!(
                    "a write met lock contention ({e}); attempt {} in {pause} ms",
                    n + 1
                );
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            r => return r,
        }
    }
}

macro_rules! store_impl {
    ($ty:ty, $db:ty) => {
        use sqlx::Row as _;

        use $crate::model::{Finding, Inventory};
        use $crate::store::common::{like_escape, retry_contention, FINDINGS_PER_INSERT};
        use $crate::store::lists::{self, SplitInventory, PACKAGES_PER_STATEMENT};
        use $crate::store::{
            package_index, severity_rank, AnalysisLock, CurrentInventory, FindingCount,
            FindingFilter, FleetEntry, FleetHead, HistoryEntry, Millis, NewInventory, NodeRecord,
            PackageHolder, PushOutcome, RunChunk, RunRecord, StoreError,
        };

        const NODE_COLUMNS: &str = "id, hostname, site, cell, labels, enrolled_at, registered_at, last_seen, current_hash, findings_run, open_findings, compliant, revoked";

        fn node_row(r: &<$db as sqlx::Database>::Row) -> Result<NodeRecord, sqlx::Error> {
            let labels: sqlx::types::Json<std::collections::BTreeMap<String, String>> =
                r.try_get("labels")?;
            Ok(NodeRecord {
                id: r.try_get("id")?,
                hostname: r.try_get("hostname")?,
                site: r.try_get("site")?,
                cell: r.try_get("cell")?,
                labels: labels.0,
                enrolled_at: Millis(r.try_get("enrolled_at")?),
                registered_at: r.try_get::<Option<i64>, _>("registered_at")?.map(Millis),
                last_seen: r.try_get::<Option<i64>, _>("last_seen")?.map(Millis),
                current_hash: r.try_get("current_hash")?,
                findings_run: r.try_get("findings_run")?,
                open_findings: r.try_get("open_findings")?,
                compliant: r.try_get("compliant")?,
                revoked: r.try_get("revoked")?,
            })
        }

        fn run_row(r: &<$db as sqlx::Database>::Row) -> Result<RunRecord, sqlx::Error> {
            Ok(RunRecord {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                started_at: Millis(r.try_get("started_at")?),
                finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(Millis),
                revision: r.try_get("revision")?,
                nodes: r.try_get("nodes")?,
                findings: r.try_get("findings")?,
            })
        }

        /// Insert the findings of `node` under `run`: each finding's template once in
        /// `finding_bodies` (see [`bodies`](super::bodies)), a row naming it per finding.
        async fn insert_findings(
            tx: &mut sqlx::Transaction<'_, $db>,
            run: i64,
            node: &str,
            hash: &str,
            findings: &[Finding],
        ) -> Result<(), StoreError> {
            let templates = findings
                .iter()
                .map(|f| $crate::store::bodies::template(f, node))
                .collect::<Result<Vec<_>, _>>()?;
            let mut ids: std::collections::HashMap<[u8; 32], i64> =
                std::collections::HashMap::with_capacity(templates.len());
            let mut distinct: Vec<&$crate::store::bodies::Template> = Vec::new();
            let mut seen = std::collections::HashSet::with_capacity(templates.len());
            for t in templates.iter().flatten() {
                if seen.insert(t.digest) {
                    distinct.push(t);
                }
            }
            for chunk in distinct.chunks(PACKAGES_PER_STATEMENT) {
                let mut qb =
                    sqlx::QueryBuilder::<$db>::new("INSERT INTO finding_bodies (digest, body) ");
                qb.push_values(chunk, |mut b, t| {
                    b.push_bind(t.digest.to_vec()).push_bind(t.json.clone());
                });
                qb.push(" ON CONFLICT (digest) DO NOTHING");
                qb.build().execute(&mut **tx).await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, digest FROM finding_bodies WHERE digest IN (",
                );
                let mut sep = qb.separated(", ");
                for t in chunk {
                    sep.push_bind(t.digest.to_vec());
                }
                // Held until commit: a prune cannot delete a template this push names.
                qb.push(")").push(<$ty>::KEY_SHARE);
                for r in qb.build().fetch_all(&mut **tx).await? {
                    let d: Vec<u8> = r.try_get("digest")?;
                    if let Ok(d) = <[u8; 32]>::try_from(d.as_slice()) {
                        ids.insert(d, r.try_get("id")?);
                    }
                }
            }
            let rows: Vec<(&Finding, Option<i64>)> = findings
                .iter()
                .zip(&templates)
                .map(|(f, t)| match t {
                    None => Ok((f, None)),
                    Some(t) => ids
                        .get(&t.digest)
                        .map(|id| (f, Some(*id)))
                        .ok_or_else(|| StoreError::Corrupt {
                            what: "finding",
                            message: format!("template {} was not stored", $crate::store::hex(&t.digest)),
                        }),
                })
                .collect::<Result<_, _>>()?;
            for chunk in rows.chunks(FINDINGS_PER_INSERT) {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO findings (run_id, node_id, inventory_hash, code, severity, severity_rank, ecosystem, name, version, advisory_id, fingerprint, waived, body, body_id) ",
                );
                qb.push_values(chunk, |mut b, (f, body_id)| {
                    b.push_bind(run)
                        .push_bind(node.to_owned())
                        .push_bind(hash.to_owned())
                        .push_bind(f.code.as_str())
                        .push_bind(f.severity.as_str())
                        .push_bind(severity_rank(f.severity))
                        .push_bind(f.subject.ecosystem.to_string())
                        .push_bind(f.subject.name.clone())
                        .push_bind(f.subject.version.clone())
                        .push_bind(f.advisory.as_ref().map(|a| a.id.clone()))
                        .push_bind(f.fingerprint.clone())
                        .push_bind(f.waived_by.is_some())
                        // With a template the row's own body is JSON null.
                        .push_bind(sqlx::types::Json(body_id.is_none().then(|| (*f).clone())))
                        .push_bind(*body_id);
                });
                qb.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Store a package list (and the packages it names that are new) unless it is stored.
        async fn store_list(
            tx: &mut sqlx::Transaction<'_, $db>,
            split: &SplitInventory,
            index: &str,
        ) -> Result<(), StoreError> {
            let known: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM package_lists WHERE hash = $1")
                    .bind(split.list_hash.to_vec())
                    .fetch_one(&mut **tx)
                    .await?;
            if known > 0 {
                return Ok(());
            }
            let mut ids: std::collections::HashMap<[u8; 32], i64> =
                std::collections::HashMap::with_capacity(split.packages.len());
            for chunk in split.packages.chunks(PACKAGES_PER_STATEMENT) {
                let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO packages (digest, body) ");
                qb.push_values(chunk, |mut b, p| {
                    b.push_bind(p.digest.to_vec()).push_bind(p.json.clone());
                });
                qb.push(" ON CONFLICT (digest) DO NOTHING");
                qb.build().execute(&mut **tx).await?;
                let mut qb =
                    sqlx::QueryBuilder::<$db>::new("SELECT id, digest FROM packages WHERE digest IN (");
                let mut sep = qb.separated(", ");
                for p in chunk {
                    sep.push_bind(p.digest.to_vec());
                }
                qb.push(")");
                for r in qb.build().fetch_all(&mut **tx).await? {
                    let d: Vec<u8> = r.try_get("digest")?;
                    if let Ok(d) = <[u8; 32]>::try_from(d.as_slice()) {
                        ids.insert(d, r.try_get("id")?);
                    }
                }
            }
            let list: Vec<i64> = split
                .packages
                .iter()
                .map(|p| {
                    ids.get(&p.digest).copied().ok_or_else(|| StoreError::Corrupt {
                        what: "package",
                        message: format!("package {} was not stored", $crate::store::hex(&p.digest)),
                    })
                })
                .collect::<Result<_, _>>()?;
            sqlx::query(
                "INSERT INTO package_lists (hash, ids, package_index) VALUES ($1, $2, $3)
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(split.list_hash.to_vec())
            .bind(lists::encode_ids(&list))
            .bind(index)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// The packages with these ids, each decoded once.
        async fn load_packages(
            pool: &sqlx::Pool<$db>,
            ids: &std::collections::HashSet<i64>,
        ) -> Result<std::collections::HashMap<i64, $crate::model::Package>, StoreError> {
            let ids: Vec<i64> = ids.iter().copied().collect();
            let mut out = std::collections::HashMap::with_capacity(ids.len());
            for chunk in ids.chunks(PACKAGES_PER_STATEMENT) {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id, body FROM packages WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(")");
                for r in qb.build().fetch_all(pool).await? {
                    let id: i64 = r.try_get("id")?;
                    let body: String = r.try_get("body")?;
                    out.insert(id, lists::decode_package(id, &body)?);
                }
            }
            Ok(out)
        }

        /// A stored inventory row (`body`, and `ids` and `list_hash` of its list when it has
        /// one) decoded, its packages left to [`fill_packages`].
        fn inventory_row(
            r: &<$db as sqlx::Database>::Row,
        ) -> Result<(Inventory, Option<Vec<i64>>), StoreError> {
            let body: sqlx::types::Json<Inventory> =
                r.try_get("body").map_err(|e| StoreError::Corrupt {
                    what: "inventory",
                    message: e.to_string(),
                })?;
            let ids: Option<Vec<u8>> = r.try_get("ids")?;
            let list: Option<Vec<u8>> = r.try_get("list_hash")?;
            let ids = match (ids, list) {
                (Some(ids), Some(list)) => Some(lists::decode_ids(&ids, &list)?),
                (None, Some(list)) => {
                    return Err(StoreError::Corrupt {
                        what: "inventory",
                        message: format!("package list {} is missing", $crate::store::hex(&list)),
                    })
                }
                _ => None,
            };
            Ok((body.0, ids))
        }

        /// Put the packages of `ids` into `inv`.
        fn fill_packages(
            inv: &mut Inventory,
            ids: &[i64],
            packages: &std::collections::HashMap<i64, $crate::model::Package>,
        ) -> Result<(), StoreError> {
            inv.packages = ids
                .iter()
                .map(|id| {
                    packages.get(id).cloned().ok_or_else(|| StoreError::Corrupt {
                        what: "package",
                        message: format!("package {id} of node {} is missing", inv.node.id),
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        }

        /// The push transaction (see [`Store::push`](super::Store::push)).
        async fn push_tx(
            store: &$ty,
            p: NewInventory<'_>,
            index: &str,
            split: &SplitInventory,
        ) -> Result<PushOutcome, StoreError> {
            let skeleton = serde_json::value::RawValue::from_string(split.skeleton.clone())
                .map_err(|e| StoreError::Corrupt {
                    what: "inventory",
                    message: e.to_string(),
                })?;
            let body = sqlx::types::Json(&*skeleton);
            let mut tx = store.writer().begin_with(<$ty>::BEGIN_WRITE).await?;
            let q = format!(
                "SELECT current_hash FROM nodes WHERE id = $1 AND revoked = FALSE{}",
                <$ty>::FOR_UPDATE
            );
            let Some(row) = sqlx::query(&q)
                .bind(&p.node.id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Err(StoreError::NotEnrolled(p.node.id.clone()));
            };
            let previous: Option<String> = row.try_get("current_hash")?;
            let changed = previous.as_deref() != Some(p.hash);
            // The node's row is locked (PostgreSQL) or this is the only writer (SQLite): pushes of
            // one node are serialised, and the last to commit must be the newest history entry,
            // whatever the clocks of the replicas that received them said.
            let mut received_at = p.received_at.0;
            if changed {
                let newest: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(received_at) FROM node_history WHERE node_id = $1")
                        .bind(&p.node.id)
                        .fetch_one(&mut *tx)
                        .await?;
                if let Some(t) = newest.filter(|t| *t >= received_at) {
                    received_at = t.saturating_add(1);
                }
            }
            store_list(&mut tx, split, index).await?;
            sqlx::query(
                "INSERT INTO inventories (node_id, hash, collected_at, received_at, package_index, body, list_hash)
                 VALUES ($1, $2, $3, $4, '', $5, $6) ON CONFLICT (node_id, hash) DO NOTHING",
            )
            .bind(&p.node.id)
            .bind(p.hash)
            .bind(&p.inventory.collected_at)
            .bind(received_at)
            .bind(body)
            .bind(split.list_hash.to_vec())
            .execute(&mut *tx)
            .await?;
            if changed {
                sqlx::query(
                    "INSERT INTO node_history (node_id, hash, received_at, collected_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&p.node.id)
                .bind(p.hash)
                .bind(received_at)
                .bind(&p.inventory.collected_at)
                .execute(&mut *tx)
                .await?;
            }
            let findings = i64::try_from(p.judged.findings.len()).unwrap_or(i64::MAX);
            let run: i64 = sqlx::query(
                "INSERT INTO analysis_runs (kind, started_at, finished_at, revision, nodes, findings)
                 VALUES ('push', $1, $2, $3, 1, $4) RETURNING id",
            )
            .bind(p.analysis_started.0)
            .bind(received_at)
            .bind(p.revision)
            .bind(findings)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            insert_findings(&mut tx, run, &p.node.id, p.hash, &p.judged.findings).await?;
            sqlx::query(
                "UPDATE nodes SET hostname = $2, site = $3, cell = $4, labels = $5,
                   registered_at = COALESCE(registered_at, $6), last_seen = $6,
                   current_hash = $7, findings_run = $8, open_findings = $9, compliant = $10,
                   findings_digest = $11
                 WHERE id = $1",
            )
            .bind(&p.node.id)
            .bind(&p.node.hostname)
            .bind(&p.node.site)
            .bind(&p.node.cell)
            .bind(sqlx::types::Json(&p.node.labels))
            .bind(received_at)
            .bind(p.hash)
            .bind(run)
            .bind(p.judged.open())
            .bind(p.judged.compliant)
            .bind(p.judged.digest(&p.node.id, p.hash).to_vec())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(PushOutcome {
                changed,
                run_id: run,
            })
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $ty {
            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn ready(&self) -> Result<(), StoreError> {
                self.ping().await?;
                let Some(bytes) = self.health().failing() else {
                    return Ok(());
                };
                // Writes failed: commit a row of that size (then delete it); ready when it
                // commits. The row's space is freed for the next push.
                let r = async {
                    let id = i64::from_le_bytes(
                        $crate::store::probe_bytes(8).try_into().unwrap_or([1; 8]),
                    );
                    sqlx::query("INSERT INTO write_probe (id, filler) VALUES ($1, $2)")
                        .bind(id)
                        .bind($crate::store::probe_bytes(bytes))
                        .execute(self.writer())
                        .await?;
                    sqlx::query("DELETE FROM write_probe WHERE id = $1")
                        .bind(id)
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }
                .await;
                self.health().observe(r, bytes)
            }

            async fn enroll(
                &self,
                node: &str,
                token_hash: &str,
                now: Millis,
            ) -> Result<(), StoreError> {
                let r = retry_contention(|| async move {
                    Ok(sqlx::query(
                        "INSERT INTO nodes (id, token_hash, enrolled_at) VALUES ($1, $2, $3)
                         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at
                         WHERE nodes.revoked = FALSE",
                    )
                    .bind(node)
                    .bind(token_hash)
                    .bind(now.0)
                    .execute(self.writer())
                    .await?)
                })
                .await;
                let r = self.health().observe(r, 0)?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::Revoked(node.to_owned()));
                }
                Ok(())
            }

            async fn revoke(&self, node: &str) -> Result<bool, StoreError> {
                let r = sqlx::query(
                    "UPDATE nodes SET revoked = TRUE, token_hash = NULL WHERE id = $1",
                )
                .bind(node)
                .execute(self.writer())
                .await
                .map_err(StoreError::from);
                let r = self.health().observe(r, 0)?;
                Ok(r.rows_affected() > 0)
            }

            async fn authenticate(
                &self,
                token_hash: &str,
            ) -> Result<Option<$crate::store::TokenOwner>, StoreError> {
                let r = sqlx::query(
                    "SELECT id, current_hash FROM nodes WHERE token_hash = $1 AND revoked = FALSE",
                )
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?;
                Ok(match r {
                    Some(r) => Some($crate::store::TokenOwner {
                        node: r.try_get("id")?,
                        current_hash: r.try_get("current_hash")?,
                    }),
                    None => None,
                })
            }

            async fn heartbeat(
                &self,
                node: &str,
                hash: &str,
                now: Millis,
            ) -> Result<bool, StoreError> {
                let r = retry_contention(|| async move {
                    Ok(sqlx::query(
                        "UPDATE nodes SET last_seen = $3 WHERE id = $1 AND current_hash = $2 AND revoked = FALSE",
                    )
                    .bind(node)
                    .bind(hash)
                    .bind(now.0)
                    .execute(self.writer())
                    .await?)
                })
                .await;
                let r = self.health().observe(r, 0)?;
                Ok(r.rows_affected() > 0)
            }

            async fn push(&self, p: NewInventory<'_>) -> Result<PushOutcome, StoreError> {
                let index = package_index(p.inventory);
                let bytes = p.body.get().len() + index.len();
                let split = lists::split(p.inventory)?;
                let r = retry_contention(|| push_tx(self, p, &index, &split)).await;
                self.health().observe(r, bytes)
            }

            async fn begin_run(
                &self,
                kind: &str,
                started: Millis,
                revision: &str,
            ) -> Result<i64, StoreError> {
                let r = sqlx::query(
                    "INSERT INTO analysis_runs (kind, started_at, revision) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(kind)
                .bind(started.0)
                .bind(revision)
                .fetch_one(self.writer())
                .await
                .map_err(StoreError::from);
                Ok(self.health().observe(r, 0)?.try_get("id")?)
            }

            async fn record_run(
                &self,
                run: i64,
                entries: &[FleetEntry],
            ) -> Result<usize, StoreError> {
                let digests: Vec<[u8; 32]> =
                    entries.iter().map(|e| e.judged.digest(&e.node, &e.hash)).collect();
                let digests = &digests;
                let r = retry_contention(|| async move {
                    let mut tx = self.writer().begin_with(<$ty>::BEGIN_WRITE).await?;
                    let mut stored = 0;
                    for (e, digest) in entries.iter().zip(digests) {
                        // The same findings for the same inventory: counters only, no rows.
                        let same = sqlx::query(
                            "UPDATE nodes SET open_findings = $3, compliant = $4
                             WHERE id = $1 AND current_hash = $2 AND findings_digest = $5",
                        )
                        .bind(&e.node)
                        .bind(&e.hash)
                        .bind(e.judged.open())
                        .bind(e.judged.compliant)
                        .bind(digest.as_slice())
                        .execute(&mut *tx)
                        .await?;
                        if same.rows_affected() > 0 {
                            stored += 1;
                            continue;
                        }
                        let r = sqlx::query(
                            "UPDATE nodes SET findings_run = $3, open_findings = $4, compliant = $5,
                               findings_digest = $6
                             WHERE id = $1 AND current_hash = $2",
                        )
                        .bind(&e.node)
                        .bind(&e.hash)
                        .bind(run)
                        .bind(e.judged.open())
                        .bind(e.judged.compliant)
                        .bind(digest.as_slice())
                        .execute(&mut *tx)
                        .await?;
                        if r.rows_affected() == 0 {
                            continue;
                        }
                        insert_findings(&mut tx, run, &e.node, &e.hash, &e.judged.findings).await?;
                        stored += 1;
                    }
                    tx.commit().await?;
                    Ok(stored)
                })
                .await;
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
                .bind(run)
                .bind(finished.0)
                .bind(nodes)
                .bind(findings)
                .execute(self.writer())
                .await
                .map_err(StoreError::from);
                self.health().observe(r, 0)?;
                Ok(())
            }

            async fn plan_chunks(&self, run: i64, size: i64) -> Result<i64, StoreError> {
                let r = async {
                    let ids: Vec<String> = sqlx::query_scalar(
                        "SELECT id FROM nodes WHERE revoked = FALSE AND current_hash IS NOT NULL ORDER BY id",
                    )
                    .fetch_all(self.reader())
                    .await?;
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
                    let mut tx = self.writer().begin_with(<$ty>::BEGIN_WRITE).await?;
                    for part in rows.chunks(FINDINGS_PER_INSERT) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO run_chunks (run_id, seq, after_id, until_id) ",
                        );
                        qb.push_values(part, |mut b, (seq, after, until)| {
                            b.push_bind(run)
                                .push_bind(*seq)
                                .push_bind(after.clone())
                                .push_bind(until.clone());
                        });
                        qb.build().execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(i64::try_from(rows.len()).unwrap_or(i64::MAX))
                }
                .await;
                self.health().observe(r, 0)
            }

            async fn claim_chunk(
                &self,
                worker: &str,
                revision: &str,
                now: Millis,
                stale_before: Millis,
            ) -> Result<Option<RunChunk>, StoreError> {
                let r = async {
                    let mut tx = self.writer().begin_with(<$ty>::BEGIN_WRITE).await?;
                    let q = format!(
                        "SELECT c.run_id, c.seq, c.after_id, c.until_id, r.revision FROM run_chunks c
                         JOIN analysis_runs r ON r.id = c.run_id
                         WHERE r.finished_at IS NULL AND r.revision = $2 AND c.done = FALSE
                           AND (c.claimed_by IS NULL OR c.claimed_at < $1)
                         ORDER BY c.run_id, c.seq LIMIT 1{}",
                        <$ty>::SKIP_LOCKED
                    );
                    let Some(row) = sqlx::query(&q)
                        .bind(stale_before.0)
                        .bind(revision)
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        return Ok(None);
                    };
                    let chunk = RunChunk {
                        run: row.try_get("run_id")?,
                        seq: row.try_get("seq")?,
                        after: row.try_get("after_id")?,
                        until: row.try_get("until_id")?,
                        revision: row.try_get("revision")?,
                    };
                    sqlx::query(
                        "UPDATE run_chunks SET claimed_by = $3, claimed_at = $4 WHERE run_id = $1 AND seq = $2",
                    )
                    .bind(chunk.run)
                    .bind(chunk.seq)
                    .bind(worker)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Some(chunk))
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
                    let mut tx = self.writer().begin_with(<$ty>::BEGIN_WRITE).await?;
                    // The run's row serialises the replicas finishing its chunks: the last one
                    // sees every other chunk done.
                    let q = format!(
                        "SELECT finished_at FROM analysis_runs WHERE id = $1{}",
                        <$ty>::FOR_UPDATE
                    );
                    let finished: Option<Option<i64>> = sqlx::query_scalar(&q)
                        .bind(chunk.run)
                        .fetch_optional(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE run_chunks SET done = TRUE, nodes = $3, findings = $4 WHERE run_id = $1 AND seq = $2",
                    )
                    .bind(chunk.run)
                    .bind(chunk.seq)
                    .bind(nodes)
                    .bind(findings)
                    .execute(&mut *tx)
                    .await?;
                    let open: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM run_chunks WHERE run_id = $1 AND done = FALSE",
                    )
                    .bind(chunk.run)
                    .fetch_one(&mut *tx)
                    .await?;
                    let last = open == 0 && matches!(finished, Some(None));
                    if last {
                        sqlx::query(
                            "UPDATE analysis_runs SET finished_at = $2,
                               nodes = (SELECT COALESCE(SUM(nodes), 0) FROM run_chunks WHERE run_id = $1),
                               findings = (SELECT COALESCE(SUM(findings), 0) FROM run_chunks WHERE run_id = $1)
                             WHERE id = $1",
                        )
                        .bind(chunk.run)
                        .bind(now.0)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
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
                .bind(kind)
                .fetch_optional(self.reader())
                .await?;
                Ok(match r {
                    Some(r) => Some(run_row(&r)?),
                    None => None,
                })
            }

            async fn try_lock_analysis(&self) -> Result<Option<AnalysisLock>, StoreError> {
                self.lock_analysis().await
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
                .bind(after)
                .bind(until)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(FleetHead {
                            node: r.try_get("id")?,
                            hash: r.try_get("current_hash")?,
                            digest: r.try_get("findings_digest")?,
                            open: r.try_get("open_findings")?,
                            compliant: r.try_get("compliant")?,
                        })
                    })
                    .collect()
            }

            async fn current_inventories(
                &self,
                after: &str,
                limit: i64,
            ) -> Result<Vec<CurrentInventory>, StoreError> {
                let rows = sqlx::query(
                    "SELECT n.id, i.hash, i.body, i.list_hash, l.ids FROM nodes n
                     JOIN inventories i ON i.node_id = n.id AND i.hash = n.current_hash
                     LEFT JOIN package_lists l ON l.hash = i.list_hash
                     WHERE n.revoked = FALSE AND n.id > $1 ORDER BY n.id LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                let mut lists = Vec::with_capacity(rows.len());
                let mut wanted = std::collections::HashSet::new();
                for r in rows {
                    let (inventory, ids) = inventory_row(&r)?;
                    if let Some(ids) = &ids {
                        wanted.extend(ids.iter().copied());
                    }
                    out.push(CurrentInventory {
                        node: r.try_get("id")?,
                        hash: r.try_get("hash")?,
                        inventory,
                        package_ids: ids.clone().unwrap_or_default(),
                    });
                    lists.push(ids);
                }
                // Each distinct package of the batch is read and decoded once.
                let packages = load_packages(self.reader(), &wanted).await?;
                for (c, ids) in out.iter_mut().zip(&lists) {
                    if let Some(ids) = ids {
                        fill_packages(&mut c.inventory, ids, &packages)?;
                    }
                }
                Ok(out)
            }

            async fn prune(&self, before: Millis) -> Result<u64, StoreError> {
                let r = sqlx::query(
                    "DELETE FROM findings WHERE run_id IN (
                       SELECT id FROM analysis_runs WHERE started_at < $1
                       AND id NOT IN (SELECT findings_run FROM nodes WHERE findings_run IS NOT NULL))",
                )
                .bind(before.0)
                .execute(self.writer())
                .await
                .map_err(StoreError::from);
                let pruned = self.health().observe(r, 0)?.rows_affected();
                // Templates no finding names any more.
                let r = sqlx::query(
                    "DELETE FROM finding_bodies AS b WHERE NOT EXISTS (SELECT 1 FROM findings f WHERE f.body_id = b.id)",
                )
                .execute(self.writer())
                .await
                .map_err(StoreError::from);
                self.health().observe(r, 0)?;
                Ok(pruned)
            }

            async fn maintain(&self, now: Millis) -> Result<(), StoreError> {
                let r = self.maintain_impl(now).await;
                self.health().observe(r, 0)
            }

            async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
                let q = format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY id");
                let rows = sqlx::query(&q).fetch_all(self.reader()).await?;
                Ok(rows.iter().map(node_row).collect::<Result<_, _>>()?)
            }

            async fn node(&self, id: &str) -> Result<Option<NodeRecord>, StoreError> {
                let q = format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1");
                let r = sqlx::query(&q).bind(id).fetch_optional(self.reader()).await?;
                Ok(match r {
                    Some(r) => Some(node_row(&r)?),
                    None => None,
                })
            }

            async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
                let rows = sqlx::query(
                    "SELECT h.hash, h.received_at, COALESCE(h.collected_at, i.collected_at) AS collected_at
                     FROM node_history h
                     LEFT JOIN inventories i ON i.node_id = h.node_id AND i.hash = h.hash
                     WHERE h.node_id = $1 ORDER BY h.received_at DESC",
                )
                .bind(id)
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(HistoryEntry {
                            hash: r.try_get("hash")?,
                            received_at: Millis(r.try_get("received_at")?),
                            collected_at: r.try_get("collected_at")?,
                        })
                    })
                    .collect()
            }

            async fn history_at(
                &self,
                id: &str,
                at: Millis,
            ) -> Result<Option<HistoryEntry>, StoreError> {
                let r = sqlx::query(
                    "SELECT h.hash, h.received_at, COALESCE(h.collected_at, i.collected_at) AS collected_at
                     FROM node_history h
                     LEFT JOIN inventories i ON i.node_id = h.node_id AND i.hash = h.hash
                     WHERE h.node_id = $1 AND h.received_at <= $2 ORDER BY h.received_at DESC LIMIT 1",
                )
                .bind(id)
                .bind(at.0)
                .fetch_optional(self.reader())
                .await?;
                Ok(match r {
                    Some(r) => Some(HistoryEntry {
                        hash: r.try_get("hash")?,
                        received_at: Millis(r.try_get("received_at")?),
                        collected_at: r.try_get("collected_at")?,
                    }),
                    None => None,
                })
            }

            async fn inventory(
                &self,
                node: &str,
                hash: &str,
            ) -> Result<Option<Inventory>, StoreError> {
                let r = sqlx::query(
                    "SELECT i.body, i.list_hash, l.ids FROM inventories i
                     LEFT JOIN package_lists l ON l.hash = i.list_hash
                     WHERE i.node_id = $1 AND i.hash = $2",
                )
                .bind(node)
                .bind(hash)
                .fetch_optional(self.reader())
                .await?;
                let Some(r) = r else { return Ok(None) };
                let (mut inv, ids) = inventory_row(&r)?;
                if let Some(ids) = ids {
                    let wanted = ids.iter().copied().collect();
                    let packages = load_packages(self.reader(), &wanted).await?;
                    fill_packages(&mut inv, &ids, &packages)?;
                }
                Ok(Some(inv))
            }

            async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
                self.findings_page(f, None, i64::MAX).await
            }

            async fn findings_page(
                &self,
                f: &FindingFilter,
                after: Option<&$crate::store::FindingKey>,
                limit: i64,
            ) -> Result<Vec<Finding>, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT f.body, f.node_id, f.fingerprint, b.body AS template FROM findings f
                     JOIN nodes n ON n.id = f.node_id AND n.findings_run = f.run_id
                     LEFT JOIN finding_bodies b ON b.id = f.body_id
                     WHERE n.revoked = FALSE",
                );
                if let Some(s) = &f.site {
                    qb.push(" AND n.site = ").push_bind(s.clone());
                }
                if let Some(c) = &f.cell {
                    qb.push(" AND n.cell = ").push_bind(c.clone());
                }
                if let Some(n) = &f.node {
                    qb.push(" AND n.id = ").push_bind(n.clone());
                }
                if let Some(c) = f.code {
                    qb.push(" AND f.code = ").push_bind(c.as_str());
                }
                if let Some(s) = f.severity {
                    qb.push(" AND f.severity_rank >= ").push_bind(severity_rank(s));
                }
                if let Some(p) = &f.package {
                    qb.push(" AND f.name = ").push_bind(p.clone());
                }
                if !f.waived {
                    qb.push(" AND f.waived = FALSE");
                }
                if let Some(k) = after {
                    qb.push(" AND (f.node_id, f.ecosystem, f.name, f.version, f.code, f.fingerprint) > (")
                        .push_bind(k.node.clone())
                        .push(", ")
                        .push_bind(k.ecosystem.clone())
                        .push(", ")
                        .push_bind(k.name.clone())
                        .push(", ")
                        .push_bind(k.version.clone())
                        .push(", ")
                        .push_bind(k.code.clone())
                        .push(", ")
                        .push_bind(k.fingerprint.clone())
                        .push(")");
                }
                qb.push(" ORDER BY f.node_id, f.ecosystem, f.name, f.version, f.code, f.fingerprint");
                qb.push(" LIMIT ").push_bind(limit);
                let rows = qb.build().fetch_all(self.reader()).await?;
                rows.iter()
                    .map(|r| {
                        let b: sqlx::types::Json<Option<Finding>> =
                            r.try_get("body").map_err(|e| StoreError::Corrupt {
                                what: "finding",
                                message: e.to_string(),
                            })?;
                        let template: Option<String> = r.try_get("template")?;
                        $crate::store::bodies::finding(
                            template.as_deref(),
                            b.0,
                            r.try_get("node_id")?,
                            r.try_get("fingerprint")?,
                        )
                    })
                    .collect()
            }

            async fn finding_counts(&self) -> Result<Vec<FindingCount>, StoreError> {
                let rows = sqlx::query(
                    "SELECT COALESCE(n.site, '') AS site, f.code, f.severity, COUNT(*) AS c
                     FROM findings f JOIN nodes n ON n.id = f.node_id AND n.findings_run = f.run_id
                     WHERE n.revoked = FALSE AND f.waived = FALSE
                     GROUP BY COALESCE(n.site, ''), f.code, f.severity ORDER BY 1, 2, 3",
                )
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(FindingCount {
                            site: r.try_get("site")?,
                            code: r.try_get("code")?,
                            severity: r.try_get("severity")?,
                            count: r.try_get("c")?,
                        })
                    })
                    .collect()
            }

            async fn package_holders(
                &self,
                name: &str,
                version: Option<&str>,
            ) -> Result<Vec<PackageHolder>, StoreError> {
                let pattern = format!("%\t{}\t%", like_escape(name));
                let rows = sqlx::query(
                    "SELECT n.id, n.site, n.cell, COALESCE(l.package_index, i.package_index) AS package_index
                     FROM nodes n
                     JOIN inventories i ON i.node_id = n.id AND i.hash = n.current_hash
                     LEFT JOIN package_lists l ON l.hash = i.list_hash
                     WHERE n.revoked = FALSE AND COALESCE(l.package_index, i.package_index) LIKE $1 ESCAPE '\\'
                     ORDER BY n.id",
                )
                .bind(pattern)
                .fetch_all(self.reader())
                .await?;
                let mut out = Vec::new();
                for r in rows {
                    let node: String = r.try_get("id")?;
                    let site: Option<String> = r.try_get("site")?;
                    let cell: Option<String> = r.try_get("cell")?;
                    let index: String = r.try_get("package_index")?;
                    let mut seen = std::collections::BTreeSet::new();
                    for line in index.lines() {
                        let mut it = line.splitn(3, '\t');
                        let (Some(eco), Some(n), Some(v)) = (it.next(), it.next(), it.next())
                        else {
                            continue;
                        };
                        if n != name || version.is_some_and(|want| want != v) {
                            continue;
                        }
                        if seen.insert((eco, v)) {
                            out.push(PackageHolder {
                                node: node.clone(),
                                site: site.clone(),
                                cell: cell.clone(),
                                ecosystem: eco.to_owned(),
                                name: n.to_owned(),
                                version: v.to_owned(),
                            });
                        }
                    }
                }
                Ok(out)
            }
        }
    };
}

pub(super) use store_impl;
