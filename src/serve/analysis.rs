//! Judging: one node on push, and the fleet re-analysis that re-evaluates every stored inventory
//! (without touching a node). A round is planned under the fleet lock as chunks of nodes; every
//! replica on the database claims chunks (a guarded `UPDATE`; those whose nodes it holds in
//! memory first), judges them
//! in batches (each distinct package identity matched once per analyzer) and records their
//! findings under the round's run; the replica that judges the last chunk finishes the run.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::fleet_memo::{Judgement, KeyChange};
use super::{ApiError, AppState};
use crate::model::{Finding, Inventory};
use crate::store::{FleetDelta, FleetEntry, Judged, Millis, PreparedInventory};

/// Nodes whose heads a fleet round reads at once.
const BATCH: i64 = 128;

/// Nodes judged and written at once (bounds the findings built and held: ~700 a node).
const GROUP: usize = 32;

/// A judged inventory, ready to store.
#[derive(Debug)]
pub(crate) struct JudgedPush {
    /// The inventory.
    pub inventory: Inventory,
    /// Its findings.
    pub judged: Judged,
    /// Analyzer revision.
    pub revision: String,
    /// The inventory and its findings, prepared for the store.
    pub prepared: PreparedInventory,
}

/// Judge one inventory with the analyzer in force (on a blocking thread), and prepare its
/// findings for the store there too (`prepared`: the inventory's packages, prepared already).
pub(crate) async fn judge_one(
    state: &AppState,
    inv: Inventory,
    mut prepared: PreparedInventory,
) -> Result<JudgedPush, ApiError> {
    let an = state.analyzer();
    let started = Instant::now();
    let r = tokio::task::spawn_blocking(move || {
        let today = Millis::now().to_datetime().date();
        let findings = an.judge(&inv, today);
        let judged = verdict(&an, &inv, findings, today);
        prepared.prepare_findings(&judged, &inv.node.id)?;
        Ok::<_, crate::store::StoreError>(JudgedPush {
            inventory: inv,
            judged,
            revision: an.revision().to_owned(),
            prepared,
        })
    })
    .await
    .map_err(ApiError::internal)??;
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

/// Nodes per chunk of a fleet round (what one replica claims at a time).
pub(crate) const CHUNK: i64 = 512;

/// A chunk claim older than this is taken over by another replica (its own died or stalled).
const STALE_CLAIM: Duration = Duration::from_secs(600);

/// What one replica did in the rounds it shared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    /// The last run it worked on.
    pub run: Option<i64>,
    /// Chunks it judged.
    pub chunks: usize,
    /// Nodes it judged and stored.
    pub nodes: usize,
    /// Findings it stored.
    pub findings: usize,
    /// It finished that run (judged its last chunk).
    pub finished: bool,
}

/// Re-evaluate every stored inventory: start a round (unless another replica is starting
/// one), then judge chunks of it, and of any round another replica started, with the other
/// replicas on the same database until none is left.
pub async fn reanalyze(state: &AppState) -> Result<FleetRun, ApiError> {
    reanalyze_on(state, Millis::now().to_datetime().date()).await
}

/// [`reanalyze`] as of `today` (currency, lifecycles and waivers depend on the date; tests
/// move it).
pub async fn reanalyze_on(state: &AppState, today: time::Date) -> Result<FleetRun, ApiError> {
    let started = Instant::now();
    let an = state.analyzer();
    let planned = start_round(state, CHUNK).await?;
    let share = share_rounds_on(state, today).await?;
    state.metrics().analysis.observe("fleet", started.elapsed());
    Ok(FleetRun {
        run: share.run.or(planned).unwrap_or_default(),
        nodes: share.nodes,
        findings: share.findings,
        revision: an.revision().to_owned(),
        millis: started.elapsed().as_millis(),
    })
}

/// Start a fleet round in chunks of `chunk` nodes: its run id, or `None` when another replica
/// holds the fleet lock (it is starting one: join it with [`share_rounds`]).
pub async fn start_round(state: &AppState, chunk: i64) -> Result<Option<i64>, ApiError> {
    let store = state.store();
    let Some(lock) = store.try_lock_analysis().await? else {
        return Ok(None);
    };
    let r = async {
        let run = store
            .begin_run("fleet", Millis::now(), state.analyzer().revision())
            .await?;
        store.plan_chunks(run, chunk).await?;
        Ok::<_, ApiError>(run)
    }
    .await;
    lock.release().await;
    r.map(Some)
}

/// Claim and judge chunks of open rounds judged with this replica's analyzer until none is
/// left; the replica that judges a round's last chunk finishes it and prunes old findings.
pub async fn share_rounds(state: &AppState) -> Result<Share, ApiError> {
    share_rounds_on(state, Millis::now().to_datetime().date()).await
}

/// [`share_rounds`], judging as of `today`.
async fn share_rounds_on(state: &AppState, today: time::Date) -> Result<Share, ApiError> {
    let store = state.store();
    let an = state.analyzer();
    let worker = format!("{}-{:08x}", std::process::id(), rand_u32());
    let stale = i64::try_from(STALE_CLAIM.as_millis()).unwrap_or(i64::MAX);
    let mut share = Share::default();
    loop {
        let now = Millis::now();
        let memo = state.fleet_memo();
        let held = |c: &crate::store::RunChunk| memo.held(&c.after, c.until.as_deref());
        let Some(chunk) = store
            .claim_chunk(
                &worker,
                an.revision(),
                (now, Millis(now.0.saturating_sub(stale))),
                &held,
            )
            .await?
        else {
            break;
        };
        let (nodes, findings) = judge_chunk(state, &an, &chunk, today).await?;
        let last = store
            .finish_chunk(
                &chunk,
                i64::try_from(nodes).unwrap_or(i64::MAX),
                i64::try_from(findings).unwrap_or(i64::MAX),
                Millis::now(),
            )
            .await?;
        share.run = Some(chunk.run);
        share.chunks += 1;
        share.nodes += nodes;
        share.findings += findings;
        share.finished = last;
        if last {
            let retain = i64::try_from(state.options().retain.as_millis()).unwrap_or(i64::MAX);
            let pruned = store
                .prune(Millis(Millis::now().0.saturating_sub(retain)))
                .await?;
            tracing::info!(
                "fleet re-analysis {} finished (revision {}, {pruned} old findings pruned)",
                chunk.run,
                &an.revision()[..12.min(an.revision().len())]
            );
        }
    }
    if share.chunks > 0 {
        // What the round read and built is freed: give it back between rounds.
        crate::util::release_free_memory();
    }
    Ok(share)
}

/// Judge the current nodes of one chunk, in batches, and record under the chunk's run the
/// findings of those whose findings changed: (nodes judged, findings they have). Each batch
/// reads the nodes' heads (inventory hash, stored digest and counters), reads back only the
/// inventories this replica does not hold ([`super::fleet_memo`]), and builds and writes the
/// findings of a node only when their digest differs from the stored one.
async fn judge_chunk(
    state: &AppState,
    an: &std::sync::Arc<crate::analyze::Analyzer>,
    chunk: &crate::store::RunChunk,
    today: time::Date,
) -> Result<(usize, usize), ApiError> {
    let store = state.store();
    let (mut nodes, mut findings) = (0usize, 0usize);
    let mut after = chunk.after.clone();
    loop {
        let heads = store
            .fleet_heads(&after, chunk.until.as_deref(), BATCH)
            .await?;
        let Some(last) = heads.last() else { break };
        let end = i64::try_from(heads.len()).unwrap_or(i64::MAX) < BATCH;
        let next = last.node.clone();
        // Groups of nodes read, judged and written in turn: at most GROUP nodes' inventories
        // read back and findings built at once (a cold round's memory peak).
        let mut from = after.clone();
        for group in heads.chunks(GROUP) {
            let mine = read_missing(state, &from, group).await?;
            let (n, f) =
                judge_group(state, an, chunk.run, &from, group.to_vec(), mine, today).await?;
            nodes += n;
            findings += f;
            if let Some(h) = group.last() {
                from.clone_from(&h.node);
            }
        }
        after = next;
        if end {
            break;
        }
    }
    // Nodes held past the last current one of the chunk are gone.
    state
        .fleet_memo()
        .forget_range(&after, chunk.until.as_deref());
    Ok((nodes, findings))
}

/// Judge the nodes of `heads` (the current nodes after `after`, in id order; `read` the
/// inventories read for those not held) and record under `run` those whose findings changed:
/// (nodes judged, findings they have). A node no waiver touches is written as a change to its
/// open rows: their counts are read, and only the findings whose key is new are built.
async fn judge_group(
    state: &AppState,
    an: &std::sync::Arc<crate::analyze::Analyzer>,
    run: i64,
    after: &str,
    heads: Vec<crate::store::FleetHead>,
    read: Vec<crate::store::CurrentInventory>,
    today: time::Date,
) -> Result<(usize, usize), ApiError> {
    let (state2, an2, after2) = (state.clone(), std::sync::Arc::clone(an), after.to_owned());
    let (same, keyed, entries) = tokio::task::spawn_blocking(move || {
        let judged = state2
            .fleet_memo()
            .judge(&an2, &after2, &heads, read, today);
        let (mut same, mut keyed, mut entries) = ((0usize, 0usize), Vec::new(), Vec::new());
        for j in judged {
            match j {
                Judgement::Same(n) => {
                    same.0 += 1;
                    same.1 += n;
                }
                Judgement::Keys(k) => keyed.push(*k),
                Judgement::Changed(c) => entries.push(full_entry(&an2, *c, today)),
            }
        }
        (same, keyed, entries)
    })
    .await
    .map_err(ApiError::internal)?;
    let (mut nodes, mut findings) = same;
    let (deltas, more) = build_deltas(state, an, keyed, today).await?;
    if !deltas.is_empty() {
        nodes += state.store().record_deltas(run, &deltas).await?;
        findings += deltas
            .iter()
            .map(|d| usize::try_from(d.open).unwrap_or(0))
            .sum::<usize>();
    }
    let entries: Vec<FleetEntry> = entries.into_iter().chain(more).collect();
    if !entries.is_empty() {
        nodes += state.store().record_run(run, &entries).await?;
        findings += entries
            .iter()
            .map(|e| e.judged.findings.len())
            .sum::<usize>();
    }
    Ok((nodes, findings))
}

/// A node judged whole, with the waivers in force marked.
fn full_entry(
    an: &crate::analyze::Analyzer,
    c: super::fleet_memo::Changed,
    today: time::Date,
) -> FleetEntry {
    FleetEntry {
        judged: verdict(an, &c.inventory, c.findings, today),
        node: c.node,
        hash: c.hash,
    }
}

/// The changes of the `keyed` nodes against their open rows (read now), with only the
/// findings whose key is new built; a node the memory cannot build is judged whole instead
/// (the second list).
async fn build_deltas(
    state: &AppState,
    an: &std::sync::Arc<crate::analyze::Analyzer>,
    keyed: Vec<KeyChange>,
    today: time::Date,
) -> Result<(Vec<FleetDelta>, Vec<FleetEntry>), ApiError> {
    if keyed.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let names: Vec<String> = keyed.iter().map(|k| k.node.clone()).collect();
    let mut open = state.store().open_findings(&names).await?;
    let (state2, an2) = (state.clone(), std::sync::Arc::clone(an));
    tokio::task::spawn_blocking(move || {
        let memo = state2.fleet_memo();
        let (mut deltas, mut whole) = (Vec::with_capacity(keyed.len()), Vec::new());
        for mut k in keyed {
            let rows = open.remove(&k.node).unwrap_or_default();
            let change = crate::store::change(&rows, &k.keys);
            match memo.build(&an2, &mut k, &change.insert, today) {
                Some(insert) => deltas.push(FleetDelta {
                    open: i64::try_from(k.keys.len()).unwrap_or(i64::MAX),
                    compliant: k.compliant,
                    close: change.close,
                    close_whole: change.close_whole,
                    insert,
                    digest: k.digest,
                    base: k.base,
                    node: k.node,
                    hash: k.hash,
                }),
                None => {
                    if let Some(c) = memo.judge_whole(&an2, &k.node, &k.hash, today) {
                        whole.push(full_entry(&an2, c, today));
                    }
                }
            }
        }
        (deltas, whole)
    })
    .await
    .map_err(ApiError::internal)
}

/// The current inventories of the heads this replica does not hold, read from the store: one
/// by one when they are few, else in id order from `after` a batch at a time, up to the last.
async fn read_missing(
    state: &AppState,
    after: &str,
    heads: &[crate::store::FleetHead],
) -> Result<Vec<crate::store::CurrentInventory>, ApiError> {
    let missing = state.fleet_memo().missing(heads);
    let Some(last) = missing.last().and_then(|i| heads.get(*i)) else {
        return Ok(Vec::new());
    };
    let store = state.store();
    let mut out = Vec::with_capacity(missing.len());
    if missing.len() * 8 <= heads.len() {
        // The first current node after the head before it is the node itself.
        for &i in &missing {
            let before = i
                .checked_sub(1)
                .and_then(|j| heads.get(j))
                .map_or(after, |h| h.node.as_str());
            let node = heads.get(i).map(|h| h.node.as_str());
            out.extend(
                store
                    .current_inventories(before, 1)
                    .await?
                    .into_iter()
                    .filter(|c| Some(c.node.as_str()) == node),
            );
        }
        return Ok(out);
    }
    let wanted: std::collections::HashSet<&str> = missing
        .iter()
        .filter_map(|i| heads.get(*i))
        .map(|h| h.node.as_str())
        .collect();
    let mut from = after.to_owned();
    loop {
        let page = i64::try_from(GROUP).unwrap_or(BATCH);
        let batch = store.current_inventories(&from, page).await?;
        let full = i64::try_from(batch.len()).unwrap_or(i64::MAX) >= page;
        let Some(end) = batch.last().map(|c| c.node.clone()) else {
            break;
        };
        out.extend(
            batch
                .into_iter()
                .filter(|c| wanted.contains(c.node.as_str())),
        );
        if !full || end >= last.node {
            break;
        }
        from = end;
    }
    Ok(out)
}

/// A random worker tag (several replicas may share a process id across hosts).
fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// Whether the fleet needs re-evaluating: no fleet run yet, or one made with other feeds or
/// policy, or on an earlier day (currency and lifecycle verdicts depend on the date).
pub(crate) async fn due(state: &AppState) -> Result<bool, ApiError> {
    let an = state.analyzer();
    let last = state.store().latest_run("fleet").await?;
    let today = Millis::now().to_datetime().date();
    Ok(match last {
        None => !state.store().current_inventories("", 1).await?.is_empty(),
        Some(r) => r.revision != an.revision() || r.started_at.to_datetime().date() != today,
    })
}

/// Start a round when [`due`] (checked under the fleet lock, so replicas do not repeat a round
/// another just finished), then share any open round with the other replicas.
pub(crate) async fn reanalyze_if_due(state: &AppState) -> Result<Option<FleetRun>, ApiError> {
    let started = Instant::now();
    if let Some(lock) = state.store().try_lock_analysis().await? {
        let planned = match due(state).await {
            Ok(true) => {
                let store = state.store();
                let an = state.analyzer();
                match store.begin_run("fleet", Millis::now(), an.revision()).await {
                    Ok(run) => store
                        .plan_chunks(run, CHUNK)
                        .await
                        .map(|_| ())
                        .map_err(ApiError::from),
                    Err(e) => Err(ApiError::from(e)),
                }
            }
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        };
        lock.release().await;
        planned?;
    }
    let share = share_rounds(state).await?;
    let Some(run) = share.run else {
        return Ok(None);
    };
    state.metrics().analysis.observe("fleet", started.elapsed());
    Ok(Some(FleetRun {
        run,
        nodes: share.nodes,
        findings: share.findings,
        revision: state.analyzer().revision().to_owned(),
        millis: started.elapsed().as_millis(),
    }))
}

/// Every `every`: store upkeep, reload the analyzer from the data directory, re-analyze the
/// fleet when [`due`]. Errors are logged; the loop goes on.
pub(crate) async fn background(state: AppState, every: Duration) {
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
