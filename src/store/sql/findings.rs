//! Findings: written with a push or a fleet round as a change to each node's open rows
//! ([`write_findings`], [`apply_delta`]; see [`delta`](crate::store::delta)), read back open.

use std::collections::{HashMap, HashSet};

use sqlx::types::Json;
use sqlx::{QueryBuilder, Transaction};

use super::driver::{tx, BuilderExt as _, QueryExt as _, RowExt as _, SeparatedExt as _, Sql};
use super::{corrupt, Backend, Db, FINDINGS_PER_INSERT};
use crate::model::Finding;
use crate::store::bodies::{self, Template};
use crate::store::delta;
use crate::store::lists::PACKAGES_PER_STATEMENT;
use crate::store::{
    hex, severity_rank, FindingCount, FindingFilter, FindingKey, FindingKeyHash, Findings,
    FleetDelta, OpenFindings, PreparedFindings, StoreError,
};

/// Store each distinct template of `templates` once in `finding_bodies` (see
/// [`bodies`](crate::store::bodies)); their ids by digest. `key_share` holds the rows until
/// commit (PostgreSQL), so that a prune cannot delete a template this write names.
async fn store_templates<DB: Sql>(
    txn: &mut Transaction<'_, DB>,
    templates: &[Option<&Template>],
    key_share: &str,
) -> Result<HashMap<[u8; 32], i64>, StoreError> {
    let mut ids = HashMap::with_capacity(templates.len());
    let mut distinct: Vec<&Template> = Vec::new();
    let mut seen = HashSet::with_capacity(templates.len());
    for t in templates.iter().flatten() {
        if seen.insert(t.digest) {
            distinct.push(t);
        }
    }
    for chunk in distinct.chunks(PACKAGES_PER_STATEMENT) {
        let mut qb = QueryBuilder::<DB>::new("INSERT INTO finding_bodies (digest, body) ");
        qb.push_values(chunk, |mut b, t| {
            b.arg(t.digest.to_vec()).arg(t.json.clone());
        });
        qb.push(" ON CONFLICT (digest) DO NOTHING");
        qb.statement().execute(tx(txn)).await?;
        let mut qb =
            QueryBuilder::<DB>::new("SELECT id, digest FROM finding_bodies WHERE digest IN (");
        let mut sep = qb.separated(", ");
        for t in chunk {
            sep.arg(t.digest.to_vec());
        }
        qb.push(")").push(key_share);
        for r in qb.statement().fetch_all(tx(txn)).await? {
            let d: Vec<u8> = r.col("digest")?;
            if let Ok(d) = <[u8; 32]>::try_from(d.as_slice()) {
                ids.insert(d, r.col("id")?);
            }
        }
    }
    Ok(ids)
}

/// Insert `findings` of `node` (with their `prepared` templates, position by position) as open
/// rows found by `run`: each template once in `finding_bodies` (see
/// [`bodies`](crate::store::bodies)), a row naming it per finding.
pub(super) async fn insert_findings<B: Backend>(
    txn: &mut Transaction<'_, B::DB>,
    run: i64,
    node: &str,
    hash: &str,
    findings: &[(&Finding, Option<&Template>)],
) -> Result<(), StoreError> {
    let templates: Vec<Option<&Template>> = findings.iter().map(|(_, t)| *t).collect();
    let ids = store_templates(txn, &templates, B::KEY_SHARE).await?;
    let rows: Vec<(&Finding, Option<i64>)> = findings
        .iter()
        .map(|(f, t)| match t {
            None => Ok((*f, None)),
            Some(t) => ids.get(&t.digest).map(|id| (*f, Some(*id))).ok_or_else(|| {
                corrupt(
                    "finding",
                    format!("template {} was not stored", hex(&t.digest)),
                )
            }),
        })
        .collect::<Result<_, _>>()?;
    for chunk in rows.chunks(FINDINGS_PER_INSERT) {
        let mut qb = QueryBuilder::<B::DB>::new(
            "INSERT INTO findings (run_id, node_id, inventory_hash, code, severity, severity_rank, ecosystem, name, version, advisory_id, fingerprint, waived, body, body_id) ",
        );
        qb.push_values(chunk, |mut b, (f, body_id)| {
            b.arg(run)
                .arg(node.to_owned())
                .arg(hash.to_owned())
                .arg(f.code.as_str())
                .arg(f.severity.as_str())
                .arg(severity_rank(f.severity))
                .arg(f.subject.ecosystem.to_string())
                .arg(f.subject.name.clone())
                .arg(f.subject.version.clone())
                .arg(f.advisory.as_ref().map(|a| a.id.clone()))
                .arg(f.fingerprint.clone())
                .arg(f.waived_by.is_some())
                // With a template the row's own body is JSON null.
                .arg(Json(body_id.is_none().then(|| (*f).clone())))
                .arg(*body_id);
        });
        qb.statement().execute(tx(txn)).await?;
    }
    Ok(())
}

/// Open rows of some nodes, counted by template: [`OPEN_ROWS`], the node ids, [`OPEN_ROWS_END`].
/// Grouped in the order of the open rows' index (node, body), then joined to the templates.
const OPEN_ROWS: &str = "SELECT g.node_id, b.digest, g.n FROM (
       SELECT node_id, body_id, COUNT(*) AS n FROM findings
       WHERE closed_run IS NULL AND node_id IN (";

/// The end of [`OPEN_ROWS`].
const OPEN_ROWS_END: &str = ") GROUP BY node_id, body_id) g
     LEFT JOIN finding_bodies b ON b.id = g.body_id";

/// Fold rows of [`OPEN_ROWS`] into each node's open findings.
fn fold_open<DB: Sql>(
    rows: &[DB::Row],
    out: &mut HashMap<String, OpenFindings>,
) -> Result<(), StoreError> {
    for r in rows {
        let node: String = r.col("node_id")?;
        let digest: Option<Vec<u8>> = r.col("digest")?;
        let n: i64 = r.col("n")?;
        let digest = match digest {
            None => None,
            Some(d) => Some(<[u8; 32]>::try_from(d.as_slice()).map_err(|_| {
                corrupt(
                    "finding",
                    format!("a template digest of node {node} is {} bytes", d.len()),
                )
            })?),
        };
        out.entry(node)
            .or_default()
            .add(digest, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(())
}

/// Close the open rows of `node` that `change` names, as of `run`.
async fn close_rows<DB: Sql>(
    txn: &mut Transaction<'_, DB>,
    run: i64,
    node: &str,
    close: &[[u8; 32]],
    close_whole: bool,
) -> Result<(), StoreError> {
    if close_whole {
        sqlx::query(
            "UPDATE findings SET closed_run = $1
             WHERE node_id = $2 AND closed_run IS NULL AND body_id IS NULL",
        )
        .arg(run)
        .arg(node)
        .execute(tx(txn))
        .await?;
    }
    for chunk in close.chunks(PACKAGES_PER_STATEMENT) {
        let mut qb = QueryBuilder::<DB>::new("UPDATE findings SET closed_run = ");
        qb.arg(run)
            .push(" WHERE node_id = ")
            .arg(node.to_owned())
            .push(" AND closed_run IS NULL AND body_id IN (SELECT id FROM finding_bodies WHERE digest IN (");
        let mut sep = qb.separated(", ");
        for d in chunk {
            sep.arg(d.to_vec());
        }
        qb.push("))");
        qb.statement().execute(tx(txn)).await?;
    }
    Ok(())
}

/// Make the open rows of `node` its `findings` (with their `prepared` templates and keys):
/// read its open rows inside `txn` (the caller holds the node's row), close those the findings
/// no longer have, insert the findings that are new, found by `run`.
pub(super) async fn write_findings<B: Backend>(
    txn: &mut Transaction<'_, B::DB>,
    run: i64,
    node: &str,
    hash: &str,
    findings: &[Finding],
    prepared: &PreparedFindings,
) -> Result<(), StoreError> {
    let mut qb = QueryBuilder::<B::DB>::new(OPEN_ROWS);
    qb.arg(node.to_owned()).push(OPEN_ROWS_END);
    let rows = qb.statement().fetch_all(tx(txn)).await?;
    let mut open = HashMap::new();
    fold_open::<B::DB>(&rows, &mut open)?;
    let open = open.remove(node).unwrap_or_default();
    let templated: Vec<FindingKeyHash> = prepared
        .keys
        .iter()
        .enumerate()
        .filter(|(i, _)| prepared.templated(*i))
        .map(|(_, k)| *k)
        .collect();
    let change = delta::change(&open, &templated);
    close_rows(txn, run, node, &change.close, change.close_whole).await?;
    let insert: Vec<(&Finding, Option<&Template>)> = findings
        .iter()
        .zip(&prepared.templates)
        .zip(&prepared.keys)
        .filter(|((_, t), k)| t.is_none() || change.insert.contains(*k))
        .map(|((f, t), _)| (f, t.as_ref()))
        .collect();
    insert_findings::<B>(txn, run, node, hash, &insert).await
}

/// Apply a change a round computed ([`FleetDelta`]) to the open rows of its node, inside `txn`
/// (the caller updated the node's row under the delta's guard).
pub(super) async fn apply_delta<B: Backend>(
    txn: &mut Transaction<'_, B::DB>,
    run: i64,
    d: &FleetDelta,
    templates: &[Option<Template>],
) -> Result<(), StoreError> {
    close_rows(txn, run, &d.node, &d.close, d.close_whole).await?;
    let insert: Vec<(&Finding, Option<&Template>)> = d
        .insert
        .iter()
        .zip(templates)
        .map(|(f, t)| (f, t.as_ref()))
        .collect();
    insert_findings::<B>(txn, run, &d.node, &d.hash, &insert).await
}

/// The `WHERE` conditions of `f` and the keyset bound `after`, pushed onto `qb`.
fn push_filter<DB: Sql>(
    qb: &mut QueryBuilder<'_, DB>,
    f: &FindingFilter,
    after: Option<&FindingKey>,
) {
    if let Some(s) = &f.site {
        qb.push(" AND n.site = ").arg(s.clone());
    }
    if let Some(c) = &f.cell {
        qb.push(" AND n.cell = ").arg(c.clone());
    }
    if let Some(n) = &f.node {
        qb.push(" AND n.id = ").arg(n.clone());
    }
    if let Some(c) = f.code {
        qb.push(" AND f.code = ").arg(c.as_str());
    }
    if let Some(s) = f.severity {
        qb.push(" AND f.severity_rank >= ").arg(severity_rank(s));
    }
    if let Some(p) = &f.package {
        qb.push(" AND f.name = ").arg(p.clone());
    }
    if !f.waived {
        qb.push(" AND f.waived = FALSE");
    }
    if let Some(k) = after {
        qb.push(" AND (f.node_id, f.ecosystem, f.name, f.version, f.code, f.fingerprint) > (")
            .arg(k.node.clone())
            .push(", ")
            .arg(k.ecosystem.clone())
            .push(", ")
            .arg(k.name.clone())
            .push(", ")
            .arg(k.version.clone())
            .push(", ")
            .arg(k.code.clone())
            .push(", ")
            .arg(k.fingerprint.clone())
            .push(")");
    }
}

/// A finding row read back: its body or its template, with the node and fingerprint.
fn finding_row<DB: Sql>(r: &DB::Row) -> Result<Finding, StoreError> {
    let b: Json<Option<Finding>> = r.col("body").map_err(|e| corrupt("finding", e))?;
    let template: Option<String> = r.col("template")?;
    bodies::finding(
        template.as_deref(),
        b.0,
        r.col("node_id")?,
        r.col("fingerprint")?,
    )
}

#[async_trait::async_trait]
impl<B: Backend> Findings for Db<B> {
    async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        self.findings_page(f, None, i64::MAX).await
    }

    async fn findings_page(
        &self,
        f: &FindingFilter,
        after: Option<&FindingKey>,
        limit: i64,
    ) -> Result<Vec<Finding>, StoreError> {
        let mut qb = QueryBuilder::<B::DB>::new(
            "SELECT f.body, f.node_id, f.fingerprint, b.body AS template FROM findings f
             JOIN nodes n ON n.id = f.node_id
             LEFT JOIN finding_bodies b ON b.id = f.body_id
             WHERE f.closed_run IS NULL AND n.revoked = FALSE",
        );
        push_filter(&mut qb, f, after);
        qb.push(" ORDER BY f.node_id, f.ecosystem, f.name, f.version, f.code, f.fingerprint");
        qb.push(" LIMIT ").arg(limit);
        let rows = qb.statement().fetch_all(self.read()).await?;
        rows.iter().map(finding_row::<B::DB>).collect()
    }

    async fn finding_counts(&self) -> Result<Vec<FindingCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(n.site, '') AS site, f.code, f.severity, COUNT(*) AS c
             FROM findings f JOIN nodes n ON n.id = f.node_id
             WHERE f.closed_run IS NULL AND n.revoked = FALSE AND f.waived = FALSE
             GROUP BY COALESCE(n.site, ''), f.code, f.severity ORDER BY 1, 2, 3",
        )
        .fetch_all(self.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FindingCount {
                    site: r.col("site")?,
                    code: r.col("code")?,
                    severity: r.col("severity")?,
                    count: r.col("c")?,
                })
            })
            .collect()
    }

    async fn open_findings(
        &self,
        nodes: &[String],
    ) -> Result<HashMap<String, OpenFindings>, StoreError> {
        let mut out = HashMap::with_capacity(nodes.len());
        for chunk in nodes.chunks(PACKAGES_PER_STATEMENT) {
            let mut qb = QueryBuilder::<B::DB>::new(OPEN_ROWS);
            let mut sep = qb.separated(", ");
            for n in chunk {
                sep.arg(n.clone());
            }
            qb.push(OPEN_ROWS_END);
            let rows = qb.statement().fetch_all(self.read()).await?;
            fold_open::<B::DB>(&rows, &mut out)?;
        }
        Ok(out)
    }
}
