//! Judging: one node on push, and the fleet re-analysis that re-evaluates every stored inventory
//! (without touching a node) under the fleet lock, in batches, each distinct package identity
//! matched once.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::model::{Finding, Inventory};
use crate::store::{FleetEntry, Judged, Millis};

/// Inventories judged per batch of a fleet run.
const BATCH: i64 = 128;

/// A judged inventory, ready to store.
#[derive(Debug)]
pub struct JudgedPush {
    /// The inventory.
    pub inventory: Inventory,
    /// Its findings.
    pub judged: Judged,
    /// Analyzer revision.
    pub revision: String,
}

/// Judge one inventory with the analyzer in force (on a blocking thread).
pub async fn judge_one(state: &AppState, inv: Inventory) -> Result<JudgedPush, ApiError> {
    let an = state.analyzer();
    let started = Instant::now();
    let r = tokio::task::spawn_blocking(move || {
        let today = Millis::now().to_datetime().date();
        let findings = an.judge(&inv, today);
        let judged = verdict(&an, &inv, findings, today);
        JudgedPush {
            inventory: inv,
            judged,
            revision: an.revision().to_owned(),
        }
    })
    .await
    .map_err(ApiError::internal)?;
    state.metrics().analysis.observe("push", started.elapsed());
    Ok(r)
}

/// The stored verdict: the node's findings with the waivers in force today marked.
fn verdict(
    an: &crate::analyze::Analyzer,
    inv: &Inventory,
    mut findings: Vec<Finding>,
    today: time::Date,
) -> Judged {
    an.waive(&mut findings, inv, today);
    let compliant = !findings
        .iter()
        .any(|f| f.waived_by.is_none() && an.gate().fails(f));
    Judged {
        findings,
        compliant,
    }
}

/// What a fleet run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRun {
    /// Run id.
    pub run: i64,
    /// Nodes judged and stored.
    pub nodes: usize,
    /// Findings stored.
    pub findings: usize,
    /// Analyzer revision.
    pub revision: String,
    /// Milliseconds taken.
    pub millis: u128,
}

/// Re-evaluate every stored inventory. `Conflict` when another replica (or task) holds the
/// fleet lock.
pub async fn reanalyze(state: &AppState) -> Result<FleetRun, ApiError> {
    let store = state.store();
    let Some(lock) = store.try_lock_analysis().await? else {
        return Err(ApiError::Conflict {
            code: "analysis-running",
            message: "a fleet re-analysis is already running (on this or another replica)".into(),
        });
    };
    let r = run_locked(state).await;
    lock.release().await;
    r
}

async fn run_locked(state: &AppState) -> Result<FleetRun, ApiError> {
    let store = state.store();
    let started = Instant::now();
    let an = state.analyzer();
    let now = Millis::now();
    let run = store.begin_run("fleet", now, an.revision()).await?;
    let (mut nodes, mut findings) = (0usize, 0usize);
    let mut after = String::new();
    loop {
        let batch = store.current_inventories(&after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after.clone_from(&last.node);
        let an2 = std::sync::Arc::clone(&an);
        let entries = tokio::task::spawn_blocking(move || {
            let today = Millis::now().to_datetime().date();
            let refs: Vec<&Inventory> = batch.iter().map(|c| &c.inventory).collect();
            let judged = an2.judge_fleet(&refs, today);
            batch
                .iter()
                .zip(judged)
                .map(|(c, f)| FleetEntry {
                    node: c.node.clone(),
                    hash: c.hash.clone(),
                    judged: verdict(&an2, &c.inventory, f, today),
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(ApiError::internal)?;
        let stored = store.record_run(run, &entries).await?;
        nodes += stored;
        findings += entries
            .iter()
            .map(|e| e.judged.findings.len())
            .sum::<usize>();
    }
    let end = Millis::now();
    store
        .finish_run(
            run,
            end,
            i64::try_from(nodes).unwrap_or(i64::MAX),
            i64::try_from(findings).unwrap_or(i64::MAX),
        )
        .await?;
    let retain = i64::try_from(state.options().retain.as_millis()).unwrap_or(i64::MAX);
    let pruned = store.prune(Millis(end.0.saturating_sub(retain))).await?;
    state.metrics().analysis.observe("fleet", started.elapsed());
    tracing::info!(
        "fleet re-analysis {run}: {nodes} nodes, {findings} findings in {} ms (revision {}, {pruned} old findings pruned)",
        started.elapsed().as_millis(),
        &an.revision()[..12.min(an.revision().len())]
    );
    Ok(FleetRun {
        run,
        nodes,
        findings,
        revision: an.revision().to_owned(),
        millis: started.elapsed().as_millis(),
    })
}

/// Whether the fleet needs re-evaluating: no fleet run yet, or one made with other feeds or
/// policy, or on an earlier day (currency and lifecycle verdicts depend on the date).
pub async fn due(state: &AppState) -> Result<bool, ApiError> {
    let an = state.analyzer();
    let last = state.store().latest_run("fleet").await?;
    let today = Millis::now().to_datetime().date();
    Ok(match last {
        None => !state.store().current_inventories("", 1).await?.is_empty(),
        Some(r) => r.revision != an.revision() || r.started_at.to_datetime().date() != today,
    })
}

/// Take the fleet lock (or give up if another holds it) and re-analyze when [`due`]: checked
/// under the lock, so replicas do not repeat a run that another just finished.
pub async fn reanalyze_if_due(state: &AppState) -> Result<Option<FleetRun>, ApiError> {
    let Some(lock) = state.store().try_lock_analysis().await? else {
        return Ok(None);
    };
    let r = match due(state).await {
        Ok(true) => run_locked(state).await.map(Some),
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    lock.release().await;
    r
}

/// Every `every`: store upkeep, reload the analyzer from the data directory, re-analyze the
/// fleet when [`due`]. Errors are logged; the loop goes on.
pub async fn background(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.store().maintain(Millis::now()).await {
            tracing::warn!("store upkeep failed: {e}");
        }
        if let Err(e) = state.reload_analyzer().await {
            tracing::warn!("cannot reload the feeds: {e}");
            continue;
        }
        if let Err(e) = reanalyze_if_due(&state).await {
            tracing::warn!("fleet re-analysis failed: {e}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
