//! Inventories: pushes (an inventory with its analysis, in one transaction) and what was
//! pushed. An inventory is stored as its body without packages and a content-addressed list of
//! packages (see [`lists`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{Pool, QueryBuilder, Transaction};

use super::driver::{tx, BuilderExt as _, QueryExt as _, RowExt as _, SeparatedExt as _, Sql};
use super::findings::write_findings;
use super::{corrupt, retry_contention, Backend, Db};
use crate::model::{Inventory, Package};
use crate::store::lists::{self, SplitInventory, PACKAGES_PER_STATEMENT};
use crate::store::{
    hex, package_index, CurrentInventory, HistoryEntry, Inventories, Millis, NewInventory,
    PackageHolder, PreparedFindings, PreparedInventory, PushOutcome, StoreError,
};

/// `%` and `_` escaped for `LIKE … ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// The ids of those of `packages` that are stored, into `ids` by digest.
async fn package_ids<DB: Sql>(
    txn: &mut Transaction<'_, DB>,
    packages: &[&lists::StoredPackage],
    ids: &mut HashMap<[u8; 32], i64>,
) -> Result<(), StoreError> {
    let mut qb = QueryBuilder::<DB>::new("SELECT id, digest FROM packages WHERE digest IN (");
    let mut sep = qb.separated(", ");
    for p in packages {
        sep.arg(p.digest.to_vec());
    }
    qb.push(")");
    for r in qb.statement().fetch_all(tx(txn)).await? {
        let d: Vec<u8> = r.col("digest")?;
        if let Ok(d) = <[u8; 32]>::try_from(d.as_slice()) {
            ids.insert(d, r.col("id")?);
        }
    }
    Ok(())
}

/// Insert the packages of `split` that are new; the ids of all of them by digest. The stored
/// ones are looked up first and only the new ones sent (a changed inventory usually brings a
/// few among a thousand).
async fn store_packages<DB: Sql>(
    txn: &mut Transaction<'_, DB>,
    split: &SplitInventory,
) -> Result<HashMap<[u8; 32], i64>, StoreError> {
    let mut ids = HashMap::with_capacity(split.packages.len());
    let all: Vec<&lists::StoredPackage> = split.packages.iter().collect();
    for chunk in all.chunks(PACKAGES_PER_STATEMENT) {
        package_ids(txn, chunk, &mut ids).await?;
    }
    let mut new = HashSet::new();
    let missing: Vec<&lists::StoredPackage> = split
        .packages
        .iter()
        .filter(|p| !ids.contains_key(&p.digest) && new.insert(p.digest))
        .collect();
    for chunk in missing.chunks(PACKAGES_PER_STATEMENT) {
        let mut qb = QueryBuilder::<DB>::new("INSERT INTO packages (digest, body) ");
        qb.push_values(chunk, |mut b, p| {
            b.arg(p.digest.to_vec()).arg(p.json.clone());
        });
        qb.push(" ON CONFLICT (digest) DO NOTHING");
        qb.statement().execute(tx(txn)).await?;
        package_ids(txn, chunk, &mut ids).await?;
    }
    Ok(ids)
}

/// Store a package list (and the packages it names that are new) unless it is stored.
async fn store_list<DB: Sql>(
    txn: &mut Transaction<'_, DB>,
    split: &SplitInventory,
    index: &str,
) -> Result<(), StoreError> {
    let known: i64 = sqlx::query("SELECT COUNT(*) AS n FROM package_lists WHERE hash = $1")
        .arg(split.list_hash.to_vec())
        .fetch_one(tx(txn))
        .await?
        .col("n")?;
    if known > 0 {
        return Ok(());
    }
    let ids = store_packages(txn, split).await?;
    let list: Vec<i64> = split
        .packages
        .iter()
        .map(|p| {
            ids.get(&p.digest).copied().ok_or_else(|| {
                corrupt(
                    "package",
                    format!("package {} was not stored", hex(&p.digest)),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    sqlx::query(
        "INSERT INTO package_lists (hash, ids, package_index) VALUES ($1, $2, $3)
         ON CONFLICT (hash) DO NOTHING",
    )
    .arg(split.list_hash.to_vec())
    .arg(lists::encode_ids(&list))
    .arg(index)
    .execute(tx(txn))
    .await?;
    Ok(())
}

/// The packages with these ids, each decoded once.
async fn load_packages<DB: Sql>(
    pool: &Pool<DB>,
    ids: &HashSet<i64>,
) -> Result<HashMap<i64, Package>, StoreError> {
    let ids: Vec<i64> = ids.iter().copied().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(PACKAGES_PER_STATEMENT) {
        let mut qb = QueryBuilder::<DB>::new("SELECT id, body FROM packages WHERE id IN (");
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.arg(*id);
        }
        qb.push(")");
        for r in qb.statement().fetch_all(DB::pool(pool)).await? {
            let id: i64 = r.col("id")?;
            let body: String = r.col("body")?;
            out.insert(id, lists::decode_package(id, &body)?);
        }
    }
    Ok(out)
}

/// A stored inventory row (`body`, and `ids` and `list_hash` of its list when it has one)
/// decoded, its packages left to [`fill_packages`].
fn inventory_row<DB: Sql>(r: &DB::Row) -> Result<(Inventory, Option<Vec<i64>>), StoreError> {
    let body: Json<Inventory> = r.col("body").map_err(|e| corrupt("inventory", e))?;
    let ids: Option<Vec<u8>> = r.col("ids")?;
    let list: Option<Vec<u8>> = r.col("list_hash")?;
    let ids = match (ids, list) {
        (Some(ids), Some(list)) => Some(lists::decode_ids(&ids, &list)?),
        (None, Some(list)) => {
            return Err(corrupt(
                "inventory",
                format!("package list {} is missing", hex(&list)),
            ))
        }
        _ => None,
    };
    Ok((body.0, ids))
}

/// Put the packages of `ids` into `inv`.
fn fill_packages(
    inv: &mut Inventory,
    ids: &[i64],
    packages: &HashMap<i64, Package>,
) -> Result<(), StoreError> {
    inv.packages = ids
        .iter()
        .map(|id| {
            packages.get(id).cloned().ok_or_else(|| {
                corrupt(
                    "package",
                    format!("package {id} of node {} is missing", inv.node.id),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// A history row read back.
fn history_row<DB: Sql>(r: &DB::Row) -> Result<HistoryEntry, StoreError> {
    Ok(HistoryEntry {
        hash: r.col("hash")?,
        received_at: Millis(r.col("received_at")?),
        collected_at: r.col("collected_at")?,
    })
}

/// A node's inventory changes, newest first; `$2`, when bound, is the latest time of one.
const HISTORY: &str =
    "SELECT h.hash, h.received_at, COALESCE(h.collected_at, i.collected_at) AS collected_at
     FROM node_history h
     LEFT JOIN inventories i ON i.node_id = h.node_id AND i.hash = h.hash
     WHERE h.node_id = $1";

impl<B: Backend> Db<B> {
    /// The push transaction (see [`Inventories::push`]), without retries.
    async fn push_tx(
        &self,
        p: NewInventory<'_>,
        index: &str,
        split: &SplitInventory,
    ) -> Result<PushOutcome, StoreError> {
        let findings = PreparedFindings::new(&p.judged.findings, &p.node.id)?;
        let mut t = self.begin().await?;
        let out = self.push_rows(&mut t, p, (index, split), &findings).await?;
        t.commit().await?;
        Ok(out)
    }

    /// Several pushes in one transaction (see [`Inventories::push_batch`]), without retries.
    async fn push_batch_tx(
        &self,
        pushes: &[(NewInventory<'_>, &PreparedInventory)],
    ) -> Result<Vec<PushOutcome>, StoreError> {
        // Findings prepared by the caller, else here (before the transaction).
        let computed = pushes
            .iter()
            .map(|(p, prepared)| match prepared.findings() {
                Some(_) => Ok(None),
                None => PreparedFindings::new(&p.judged.findings, &p.node.id).map(Some),
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut t = self.begin().await?;
        let mut out = Vec::with_capacity(pushes.len());
        for ((p, prepared), computed) in pushes.iter().zip(&computed) {
            let Some(findings) = prepared.findings().or(computed.as_ref()) else {
                return Err(corrupt("finding", "findings not prepared"));
            };
            out.push(
                self.push_rows(&mut t, *p, prepared.parts(), findings)
                    .await?,
            );
        }
        t.commit().await?;
        Ok(out)
    }

    /// The rows of one push, inside `t`.
    async fn push_rows(
        &self,
        t: &mut Transaction<'_, B::DB>,
        p: NewInventory<'_>,
        (index, split): (&str, &SplitInventory),
        prepared: &PreparedFindings,
    ) -> Result<PushOutcome, StoreError> {
        let skeleton =
            RawValue::from_string(split.skeleton.clone()).map_err(|e| corrupt("inventory", e))?;
        let q = format!(
            "SELECT current_hash FROM nodes WHERE id = $1 AND revoked = FALSE{}",
            B::FOR_UPDATE
        );
        let Some(row) = sqlx::query(&q)
            .arg(p.node.id.as_str())
            .fetch_optional(tx(t))
            .await?
        else {
            return Err(StoreError::NotEnrolled(p.node.id.clone()));
        };
        let previous: Option<String> = row.col("current_hash")?;
        let changed = previous.as_deref() != Some(p.hash);
        // The node's row is locked (PostgreSQL) or this is the only writer (SQLite): pushes of
        // one node are serialised, and the last to commit must be the newest history entry,
        // whatever the clocks of the replicas that received them said.
        let mut received_at = p.received_at.0;
        if changed {
            let newest: Option<i64> = sqlx::query(
                "SELECT MAX(received_at) AS newest FROM node_history WHERE node_id = $1",
            )
            .arg(p.node.id.as_str())
            .fetch_one(tx(t))
            .await?
            .col("newest")?;
            if let Some(newest) = newest.filter(|n| *n >= received_at) {
                received_at = newest.saturating_add(1);
            }
        }
        store_list(t, split, index).await?;
        sqlx::query(
            "INSERT INTO inventories (node_id, hash, collected_at, received_at, package_index, body, list_hash)
             VALUES ($1, $2, $3, $4, '', $5, $6) ON CONFLICT (node_id, hash) DO NOTHING",
        )
        .arg(p.node.id.as_str())
        .arg(p.hash)
        .arg(p.inventory.collected_at.as_str())
        .arg(received_at)
        .arg(Json(&*skeleton))
        .arg(split.list_hash.to_vec())
        .execute(tx(t))
        .await?;
        if changed {
            sqlx::query(
                "INSERT INTO node_history (node_id, hash, received_at, collected_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .arg(p.node.id.as_str())
            .arg(p.hash)
            .arg(received_at)
            .arg(p.inventory.collected_at.as_str())
            .execute(tx(t))
            .await?;
        }
        let run = self.record_push_run(t, p, received_at, prepared).await?;
        Ok(PushOutcome {
            changed,
            run_id: run,
        })
    }

    /// The push's analysis run, its findings (the rows that differ from the node's open ones),
    /// and the node's row pointing at them; the run.
    async fn record_push_run(
        &self,
        t: &mut Transaction<'_, B::DB>,
        p: NewInventory<'_>,
        received_at: i64,
        prepared: &PreparedFindings,
    ) -> Result<i64, StoreError> {
        let findings = i64::try_from(p.judged.findings.len()).unwrap_or(i64::MAX);
        let run: i64 = sqlx::query(
            "INSERT INTO analysis_runs (kind, started_at, finished_at, revision, nodes, findings)
             VALUES ('push', $1, $2, $3, 1, $4) RETURNING id",
        )
        .arg(p.analysis_started.0)
        .arg(received_at)
        .arg(p.revision)
        .arg(findings)
        .fetch_one(tx(t))
        .await?
        .col("id")?;
        write_findings::<B>(t, run, &p.node.id, p.hash, &p.judged.findings, prepared).await?;
        sqlx::query(
            "UPDATE nodes SET hostname = $2, site = $3, cell = $4, labels = $5,
               registered_at = COALESCE(registered_at, $6), last_seen = $6,
               current_hash = $7, findings_run = $8, open_findings = $9, compliant = $10,
               findings_digest = $11
             WHERE id = $1",
        )
        .arg(p.node.id.as_str())
        .arg(p.node.hostname.as_deref())
        .arg(p.node.site.as_deref())
        .arg(p.node.cell.as_deref())
        .arg(Json(&p.node.labels))
        .arg(received_at)
        .arg(p.hash)
        .arg(run)
        .arg(p.judged.open())
        .arg(p.judged.compliant)
        .arg(prepared.digest(p.hash).to_vec())
        .execute(tx(t))
        .await?;
        Ok(run)
    }
}

#[async_trait::async_trait]
impl<B: Backend> Inventories for Db<B> {
    async fn push(&self, p: NewInventory<'_>) -> Result<PushOutcome, StoreError> {
        let index = package_index(p.inventory);
        let bytes = p.body.get().len() + index.len();
        let split = lists::split(p.inventory)?;
        let r = retry_contention(|| self.push_tx(p, &index, &split)).await;
        self.health().observe(r, bytes)
    }

    async fn push_batch(
        &self,
        pushes: &[(NewInventory<'_>, &PreparedInventory)],
    ) -> Result<Vec<PushOutcome>, StoreError> {
        let bytes = pushes
            .iter()
            .map(|(p, prep)| p.body.get().len() + prep.parts().0.len())
            .sum();
        let r = retry_contention(|| self.push_batch_tx(pushes)).await;
        self.health().observe(r, bytes)
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
        .arg(after)
        .arg(limit)
        .fetch_all(self.read())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut lists = Vec::with_capacity(rows.len());
        let mut wanted = HashSet::new();
        for r in rows {
            let (inventory, ids) = inventory_row::<B::DB>(&r)?;
            if let Some(ids) = &ids {
                wanted.extend(ids.iter().copied());
            }
            out.push(CurrentInventory {
                node: r.col("id")?,
                hash: r.col("hash")?,
                inventory,
                package_ids: ids.clone().unwrap_or_default(),
            });
            lists.push(ids);
        }
        // Each distinct package of the batch is read and decoded once.
        let packages = load_packages(self.backend.reader(), &wanted).await?;
        for (c, ids) in out.iter_mut().zip(&lists) {
            if let Some(ids) = ids {
                fill_packages(&mut c.inventory, ids, &packages)?;
            }
        }
        Ok(out)
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let q = format!("{HISTORY} ORDER BY h.received_at DESC");
        let rows = sqlx::query(&q).arg(id).fetch_all(self.read()).await?;
        rows.iter().map(history_row::<B::DB>).collect()
    }

    async fn history_at(&self, id: &str, at: Millis) -> Result<Option<HistoryEntry>, StoreError> {
        let q = format!("{HISTORY} AND h.received_at <= $2 ORDER BY h.received_at DESC LIMIT 1");
        let r = sqlx::query(&q)
            .arg(id)
            .arg(at.0)
            .fetch_optional(self.read())
            .await?;
        r.as_ref().map(history_row::<B::DB>).transpose()
    }

    async fn inventory(&self, node: &str, hash: &str) -> Result<Option<Inventory>, StoreError> {
        let r = sqlx::query(
            "SELECT i.body, i.list_hash, l.ids FROM inventories i
             LEFT JOIN package_lists l ON l.hash = i.list_hash
             WHERE i.node_id = $1 AND i.hash = $2",
        )
        .arg(node)
        .arg(hash)
        .fetch_optional(self.read())
        .await?;
        let Some(r) = r else { return Ok(None) };
        let (mut inv, ids) = inventory_row::<B::DB>(&r)?;
        if let Some(ids) = ids {
            let wanted = ids.iter().copied().collect();
            let packages = load_packages(self.backend.reader(), &wanted).await?;
            fill_packages(&mut inv, &ids, &packages)?;
        }
        Ok(Some(inv))
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
        .arg(pattern)
        .fetch_all(self.read())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let node: String = r.col("id")?;
            let site: Option<String> = r.col("site")?;
            let cell: Option<String> = r.col("cell")?;
            let index: String = r.col("package_index")?;
            let mut seen = BTreeSet::new();
            for line in index.lines() {
                let mut it = line.splitn(3, '\t');
                let (Some(eco), Some(n), Some(v)) = (it.next(), it.next(), it.next()) else {
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
