//! Persistence of the fleet: nodes and their tokens, inventories (deduplicated by content per
//! node), when each node's inventory changed, analysis runs and findings (rows that stay open
//! across runs until a run no longer has them: see [`delta`]).
//!
//! [`Store`] is the one trait (with a trait per query group as its supertraits), implemented
//! once, generically, in [`sql`] for the two backends ([`sqlite`], the embedded default, and
//! [`postgres`], for several `serve` replicas on one database), which hold only what differs. Schemas
//! live in `migrations/<backend>/`, embedded and applied by [`open`]. Every write that a client
//! is told succeeded is one committed transaction: a push is stored whole or not at all.
//!
//! A failed write never leaves a connection inside a transaction: a writer connection that
//! comes back to its pool with a transaction still open (SQLite rolls a transaction back by
//! itself on `SQLITE_FULL`, so the driver's own `ROLLBACK` fails and its transaction depth
//! stays above zero; the next `BEGIN` would then be a `SAVEPOINT` and its "commit" only a
//! `RELEASE`) is closed, never reused. A failed write also marks the store not ready
//! ([`Store::ready`]) until a probe write of the same size succeeds.
//!
//! This module knows nothing of HTTP or of how findings are made: it stores what it is given.

mod bodies;
pub(crate) mod controlplane;
mod delta;
mod lists;
pub(crate) mod postgres;
mod sql;
pub(crate) mod sqlite;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::util::hex;

use crate::model::{Finding, FindingCode, Inventory, NodeInfo, Severity};

pub(crate) use crate::util::Millis;
pub(crate) use delta::change;
pub use delta::OpenFindings;
pub(crate) use delta::PreparedFindings;

/// A node as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Node id.
    pub id: String,
    /// Hostname, from its inventory.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Site.
    #[serde(default)]
    pub site: Option<String>,
    /// Cell.
    #[serde(default)]
    pub cell: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When it enrolled.
    pub enrolled_at: Millis,
    /// Its first push.
    #[serde(default)]
    pub registered_at: Option<Millis>,
    /// Its last push or heartbeat.
    #[serde(default)]
    pub last_seen: Option<Millis>,
    /// Content hash of its latest inventory.
    #[serde(default)]
    pub current_hash: Option<String>,
    /// The last analysis run that changed its findings (its open findings are as of that run).
    #[serde(default)]
    pub findings_run: Option<i64>,
    /// Open findings not waived.
    #[serde(default)]
    pub open_findings: i64,
    /// No open finding fails the gate (unknown before its first analysis).
    #[serde(default)]
    pub compliant: Option<bool>,
    /// Its token was revoked.
    #[serde(default)]
    pub revoked: bool,
}

/// The node a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    /// Node id.
    pub node: String,
    /// Content hash of its current inventory.
    pub current_hash: Option<String>,
}

/// One change of a node's inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Content hash.
    pub hash: String,
    /// When the server received it.
    pub received_at: Millis,
    /// When the agent collected it.
    #[serde(default)]
    pub collected_at: Option<String>,
}

/// An analysis run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Id.
    pub id: i64,
    /// `push` (one node, on receipt) or `fleet` (every stored inventory).
    pub kind: String,
    /// Start.
    pub started_at: Millis,
    /// End (absent while running, or when it was interrupted).
    #[serde(default)]
    pub finished_at: Option<Millis>,
    /// Digest of the feeds and policy it judged with.
    pub revision: String,
    /// Nodes judged.
    pub nodes: i64,
    /// Findings stored.
    pub findings: i64,
}

/// A node's findings from one analysis, with its verdict.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Every finding (waived ones carry their waiver).
    pub findings: Vec<Finding>,
    /// No open finding fails the gate.
    pub compliant: bool,
}

impl Judged {
    /// The digest stored with these findings of `node` for inventory `hash`: sha256 over the
    /// hash and the sorted [`finding_key`]s of the findings (each the sha256 of exactly what a
    /// row stores, its template, which holds the waiver marking; the row's fingerprint is a
    /// function of the node and the template). Equal digests mean the same rows: the findings
    /// are read back in an order of their own (node, subject, code, fingerprint), so the order
    /// they were judged in does not matter. The fleet round computes the same digest from keys
    /// it keeps per package identity, without building the findings.
    #[cfg(test)]
    pub(crate) fn digest(&self, node: &str, hash: &str) -> [u8; 32] {
        let mut keys: Vec<FindingKeyHash> =
            self.findings.iter().map(|f| finding_key(f, node)).collect();
        findings_digest(hash, &mut keys)
    }

    /// Findings not waived.
    pub fn open(&self) -> i64 {
        i64::try_from(
            self.findings
                .iter()
                .filter(|f| f.waived_by.is_none())
                .count(),
        )
        .unwrap_or(i64::MAX)
    }
}

/// The first 16 bytes of the sha256 of a finding's stored form (see [`finding_key`]).
pub(crate) type FindingKeyHash = [u8; 16];

/// The key of finding `f` of `node` in [`Judged::digest`]: the sha256 (first 16 bytes) of its
/// template, the JSON a row names (node and fingerprint left out), or of its whole JSON, with
/// a marker, when it is another node's (stored whole then).
pub(crate) fn finding_key(f: &Finding, node: &str) -> FindingKeyHash {
    use sha2::Digest as _;
    let d: [u8; 32] = match bodies::template(f, node) {
        Ok(Some(t)) => t.digest,
        // A model value always serialises; were it ever not to, the key only differs.
        Ok(None) | Err(_) => {
            let mut h = sha2::Sha256::new();
            h.update(b"whole\0");
            h.update(serde_json::to_vec(f).unwrap_or_default());
            h.finalize().into()
        }
    };
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// The digest of the findings with these keys for inventory `hash` (sorts `keys`).
pub(crate) fn findings_digest(hash: &str, keys: &mut [FindingKeyHash]) -> [u8; 32] {
    use sha2::Digest as _;
    keys.sort_unstable();
    let mut h = sha2::Sha256::new();
    h.update(hash.as_bytes());
    h.update([0]);
    for k in keys.iter() {
        h.update(k);
    }
    h.finalize().into()
}

/// A current node as a fleet round sees it before judging: what it needs to tell whether its
/// stored findings can stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHead {
    /// Node.
    pub node: String,
    /// Content hash of its current inventory.
    pub hash: String,
    /// The digest of its stored findings ([`Judged::digest`]), when it has one.
    pub digest: Option<Vec<u8>>,
    /// Open findings stored.
    pub open: i64,
    /// Its stored verdict.
    pub compliant: Option<bool>,
}

/// A changed inventory to store, with its analysis.
#[derive(Debug, Clone, Copy)]
pub struct NewInventory<'a> {
    /// The node (must be enrolled and not revoked).
    pub node: &'a NodeInfo,
    /// The inventory.
    pub inventory: &'a Inventory,
    /// The inventory as JSON (what is stored).
    pub body: &'a serde_json::value::RawValue,
    /// Its content hash.
    pub hash: &'a str,
    /// Reception time.
    pub received_at: Millis,
    /// Its findings.
    pub judged: &'a Judged,
    /// Analysis start.
    pub analysis_started: Millis,
    /// Analyzer revision.
    pub revision: &'a str,
}

/// A changed inventory made ready for [`Store::push_batch`] by the caller (its packages
/// serialised and hashed, its package index written), so that the one writer does not spend
/// that CPU while others wait.
#[derive(Debug)]
pub struct PreparedInventory {
    index: String,
    split: lists::SplitInventory,
    findings: Option<PreparedFindings>,
}

impl PreparedInventory {
    /// Prepare `inv` for storing.
    pub fn new(inv: &Inventory) -> Result<Self, StoreError> {
        Ok(Self {
            index: package_index(inv),
            split: lists::split(inv)?,
            findings: None,
        })
    }

    /// Prepare its findings too (else the store prepares them, before its transaction).
    pub fn prepare_findings(&mut self, judged: &Judged, node: &str) -> Result<(), StoreError> {
        self.findings = Some(PreparedFindings::new(&judged.findings, node)?);
        Ok(())
    }

    pub(crate) fn parts(&self) -> (&str, &lists::SplitInventory) {
        (&self.index, &self.split)
    }

    pub(crate) fn findings(&self) -> Option<&PreparedFindings> {
        self.findings.as_ref()
    }
}

/// A heartbeat to record ([`Store::heartbeats`]).
#[derive(Debug, Clone, Copy)]
pub struct Beat<'a> {
    /// The node.
    pub node: &'a str,
    /// The sha256 of the token it presented ([`token_hash`]): the heartbeat is recorded only
    /// while that is still the node's token.
    pub token_hash: &'a str,
    /// The inventory hash it announced.
    pub hash: &'a str,
    /// When it was received.
    pub at: Millis,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOutcome {
    /// The inventory differs from the node's previous one (a history entry was written).
    pub changed: bool,
    /// The analysis run recorded.
    pub run_id: i64,
}

/// One node's judgement in a fleet run.
#[derive(Debug)]
pub struct FleetEntry {
    /// Node.
    pub node: String,
    /// The inventory hash judged (the entry is dropped if the node has moved on since).
    pub hash: String,
    /// Its findings.
    pub judged: Judged,
}

/// A node whose findings a fleet round changed, as a change to its open rows computed against
/// them (see [`OpenFindings`]): the rows to close and the findings to insert. It is written
/// only while the node's inventory is still `hash` and its stored digest still `base`, so a
/// change computed against rows that moved on since is dropped (the next round judges again).
#[derive(Debug)]
pub struct FleetDelta {
    /// Node.
    pub node: String,
    /// The inventory hash judged.
    pub hash: String,
    /// The stored digest the change was computed against (`None`: the node had none).
    pub base: Option<Vec<u8>>,
    /// The digest of the node's findings after the change ([`Judged::digest`]).
    pub digest: [u8; 32],
    /// Open findings after the change.
    pub open: i64,
    /// The verdict after the change.
    pub compliant: bool,
    /// Templates (by digest) whose open rows are closed.
    pub close: Vec<[u8; 32]>,
    /// Close the rows stored whole.
    pub close_whole: bool,
    /// Findings inserted.
    pub insert: Vec<Finding>,
}

/// A chunk of a fleet re-analysis round: the current nodes with `after < id <= until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunChunk {
    /// The round's run.
    pub run: i64,
    /// The chunk's number in the round.
    pub seq: i64,
    /// Nodes after this id …
    pub after: String,
    /// … up to this one (`None`: no bound).
    pub until: Option<String>,
    /// The revision the round judges with.
    pub revision: String,
}

/// Filters of [`Findings::findings`]; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFilter {
    /// Site.
    #[serde(default)]
    pub site: Option<String>,
    /// Cell.
    #[serde(default)]
    pub cell: Option<String>,
    /// Node.
    #[serde(default)]
    pub node: Option<String>,
    /// Code.
    #[serde(default)]
    pub code: Option<FindingCode>,
    /// At or above this severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Subject name (package, deliverable, product).
    #[serde(default)]
    pub package: Option<String>,
    /// Include waived findings.
    #[serde(default)]
    pub waived: bool,
}

/// Where a finding sorts in [`Findings::findings`]: node, subject ecosystem, name and version,
/// code, fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey {
    /// Node.
    pub node: String,
    /// Subject ecosystem.
    pub ecosystem: String,
    /// Subject name.
    pub name: String,
    /// Subject version.
    pub version: String,
    /// Code.
    pub code: String,
    /// Fingerprint.
    pub fingerprint: String,
}

impl FindingKey {
    /// The key of `f`.
    pub fn of(f: &Finding) -> Self {
        Self {
            node: f.node.clone(),
            ecosystem: f.subject.ecosystem.to_string(),
            name: f.subject.name.clone(),
            version: f.subject.version.clone(),
            code: f.code.as_str().to_owned(),
            fingerprint: f.fingerprint.clone(),
        }
    }
}

/// Open findings counted by site, code and severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    /// Site (empty when unknown).
    pub site: String,
    /// Code.
    pub code: String,
    /// Severity.
    pub severity: String,
    /// Count.
    pub count: i64,
}

/// A node running a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageHolder {
    /// Node.
    pub node: String,
    /// Site.
    #[serde(default)]
    pub site: Option<String>,
    /// Cell.
    #[serde(default)]
    pub cell: Option<String>,
    /// Ecosystem.
    pub ecosystem: String,
    /// Package name.
    pub name: String,
    /// Installed version.
    pub version: String,
}

/// A stored inventory that is some node's current one.
#[derive(Debug)]
pub struct CurrentInventory {
    /// Node.
    pub node: String,
    /// Content hash.
    pub hash: String,
    /// The inventory.
    pub inventory: Inventory,
    /// The store's ids of its packages, in order (equal ids, equal packages; empty for an
    /// inventory stored whole).
    pub package_ids: Vec<i64>,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported backend.
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    BadUrl(String),
    /// The database could not be opened.
    #[error("cannot open the database `{url}`: {source}")]
    Open {
        /// The URL, password removed.
        url: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A SQLite database named for reading does not exist.
    #[error("no database at `{0}`: check the path (only `nminus serve` creates the database)")]
    Missing(String),
    /// Migrations failed.
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The node is unknown or revoked.
    #[error("node `{0}` is not enrolled or was revoked")]
    NotEnrolled(String),
    /// The node was revoked: enrolling again needs an operator.
    #[error("node `{0}` was revoked")]
    Revoked(String),
    /// Stored data could not be read back.
    #[error("stored {what} cannot be read: {message}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// Whether writes currently fail: set by a failed write, cleared by a write (or a probe write
/// from [`Store::ready`]) at least as large as the one that failed.
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    /// Bytes of the failed write (0: writes succeed); probes need at least one byte.
    failing: std::sync::atomic::AtomicUsize,
}

/// The largest probe write [`Store::ready`] makes (a failed write larger than this is probed
/// with this much).
pub(crate) const MAX_PROBE_BYTES: usize = 8 << 20;

/// The smallest probe write (a failed heartbeat is probed with this much).
const MIN_PROBE_BYTES: usize = 64 << 10;

impl WriteHealth {
    /// Record the outcome of a write of about `bytes` bytes; returns it unchanged.
    pub(crate) fn observe<T>(
        &self,
        r: Result<T, StoreError>,
        bytes: usize,
    ) -> Result<T, StoreError> {
        use std::sync::atomic::Ordering;
        match &r {
            Ok(_) => {
                // Only a write at least as large as the failed one shows that it would pass.
                let _ = self
                    .failing
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |need| {
                        (need != 0 && bytes >= need).then_some(0)
                    });
            }
            Err(StoreError::Db(e)) => {
                tracing::debug!("a database write of {bytes} bytes failed: {e}");
                self.failing.fetch_max(
                    bytes.clamp(MIN_PROBE_BYTES, MAX_PROBE_BYTES),
                    Ordering::AcqRel,
                );
            }
            Err(_) => {}
        }
        r
    }

    /// The size of the write that failed, while writes fail.
    pub(crate) fn failing(&self) -> Option<usize> {
        match self.failing.load(std::sync::atomic::Ordering::Acquire) {
            0 => None,
            n => Some(n),
        }
    }
}

/// Random bytes for a probe write (incompressible, so that PostgreSQL stores them whole).
pub(crate) fn probe_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    if getrandom::fill(&mut v).is_err() {
        // Not random, still incompressible enough for TOAST's pglz (xorshift).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for b in &mut v {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x.to_le_bytes()[0];
        }
    }
    v
}

/// A held fleet-analysis lock; [`AnalysisLock::release`] gives it back (dropping it also does,
/// for PostgreSQL by closing the session that holds it).
pub struct AnalysisLock(Box<dyn HeldLock>);

impl fmt::Debug for AnalysisLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnalysisLock")
    }
}

impl AnalysisLock {
    /// Release it.
    pub async fn release(self) {
        self.0.release().await;
    }
}

#[async_trait::async_trait]
trait HeldLock: Send + Sync {
    async fn release(self: Box<Self>);
}

/// The fleet's persistence; `Arc<dyn Store>` in the server's state. Its methods are grouped
/// in one trait per query group ([`Nodes`], [`Inventories`], [`Runs`], [`Findings`],
/// [`ControlPlane`](controlplane::ControlPlane)), each implemented once for both backends in
/// [`sql`].
#[async_trait::async_trait]
pub trait Store:
    Nodes + Inventories + Runs + Findings + controlplane::ControlPlane + Send + Sync
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Whether the store can take pushes: the database answers and, after a write failed, a
    /// probe write of the same size (at most 8 MiB) commits. An error while
    /// writes fail, e.g. while the disk is full; ready again once the cause is gone.
    async fn ready(&self) -> Result<(), StoreError>;
    /// Try to take the fleet-analysis lock (one holder across every replica).
    async fn try_lock_analysis(&self) -> Result<Option<AnalysisLock>, StoreError>;
    /// Periodic upkeep (PostgreSQL: create the coming months' history partitions).
    async fn maintain(&self, now: Millis) -> Result<(), StoreError>;
}

/// Nodes: enrollment, tokens, heartbeats and the registry.
#[async_trait::async_trait]
pub trait Nodes: Send + Sync {
    /// Enroll `node` with the hash of its new token (replacing an earlier token).
    /// [`StoreError::Revoked`] for a revoked node.
    async fn enroll(&self, node: &str, token_hash: &str, now: Millis) -> Result<(), StoreError>;
    /// Revoke a node's token; `false` when there is no such node.
    async fn revoke(&self, node: &str) -> Result<bool, StoreError>;
    /// The node a token hash belongs to (and its current inventory hash), unless revoked.
    async fn authenticate(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError>;
    /// Record a heartbeat: `true` (and `last_seen` updated) when `hash` is the node's current
    /// inventory, `false` when the full inventory is needed.
    async fn heartbeat(&self, node: &str, hash: &str, now: Millis) -> Result<bool, StoreError>;
    /// Record several heartbeats in one transaction: for each, `true` (and `last_seen`
    /// updated) when the token is still the node's (not revoked, not replaced) and `hash` is
    /// its current inventory.
    async fn heartbeats(&self, beats: &[Beat<'_>]) -> Result<Vec<bool>, StoreError>;
    /// Every node, by id.
    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;
    /// One node.
    async fn node(&self, id: &str) -> Result<Option<NodeRecord>, StoreError>;
}

/// Inventories: pushes, and what was pushed.
#[async_trait::async_trait]
pub trait Inventories: Send + Sync {
    /// Store a changed inventory with its analysis, in one transaction.
    async fn push(&self, push: NewInventory<'_>) -> Result<PushOutcome, StoreError>;
    /// Store several changed inventories in one transaction (a group commit): all or none;
    /// the outcomes in order.
    async fn push_batch(
        &self,
        pushes: &[(NewInventory<'_>, &PreparedInventory)],
    ) -> Result<Vec<PushOutcome>, StoreError>;
    /// Current inventories of nodes whose id is after `after`, by id, at most `limit`.
    async fn current_inventories(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CurrentInventory>, StoreError>;
    /// A node's inventory changes, newest first.
    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, StoreError>;
    /// A node's inventory as of `at` (its latest change at or before it).
    async fn history_at(&self, id: &str, at: Millis) -> Result<Option<HistoryEntry>, StoreError>;
    /// A stored inventory.
    async fn inventory(&self, node: &str, hash: &str) -> Result<Option<Inventory>, StoreError>;
    /// Nodes whose current inventory has package `name` (at `version` when given).
    async fn package_holders(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<PackageHolder>, StoreError>;
}

/// Analysis runs: fleet rounds, their chunks, and pruning.
#[async_trait::async_trait]
pub trait Runs: Send + Sync {
    /// Start an analysis run; returns its id.
    async fn begin_run(
        &self,
        kind: &str,
        started: Millis,
        revision: &str,
    ) -> Result<i64, StoreError>;
    /// Record the findings of some nodes in run `run` (one transaction; only the rows that
    /// differ from their open findings are written); entries whose node has a newer inventory
    /// than the one judged are skipped. Returns the number stored.
    async fn record_run(&self, run: i64, entries: &[FleetEntry]) -> Result<usize, StoreError>;
    /// Record changes a round computed against the nodes' open findings (one transaction): each
    /// only while the node's inventory and stored digest are those it was computed against.
    /// Returns the number stored.
    async fn record_deltas(&self, run: i64, deltas: &[FleetDelta]) -> Result<usize, StoreError>;
    /// Finish a run.
    async fn finish_run(
        &self,
        run: i64,
        finished: Millis,
        nodes: i64,
        findings: i64,
    ) -> Result<(), StoreError>;
    /// Split fleet run `run` into chunks of at most `size` current nodes (by id) for replicas
    /// to claim; returns the number of chunks.
    async fn plan_chunks(&self, run: i64, size: i64) -> Result<i64, StoreError>;
    /// Claim a chunk of the oldest unfinished fleet run judged with `revision`: one nobody
    /// claimed, or one whose claim is older than `stale_before` (its replica died); of those,
    /// the one `prefer` scores highest (a replica prefers the nodes it holds in memory), the
    /// first by number among equals. Replicas never get the same chunk at once.
    async fn claim_chunk(
        &self,
        worker: &str,
        revision: &str,
        (now, stale_before): (Millis, Millis),
        prefer: &(dyn for<'c> Fn(&'c RunChunk) -> usize + Sync),
    ) -> Result<Option<RunChunk>, StoreError>;
    /// Mark a chunk done with what it stored; the replica that finishes a run's last chunk
    /// finishes the run (with the totals of its chunks) and gets `true`.
    async fn finish_chunk(
        &self,
        chunk: &RunChunk,
        nodes: i64,
        findings: i64,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// The latest finished run of `kind`.
    async fn latest_run(&self, kind: &str) -> Result<Option<RunRecord>, StoreError>;
    /// Delete the closed findings rows whose closing run started before `before` (open rows
    /// are kept however old), and the templates no row names any more.
    async fn prune(&self, before: Millis) -> Result<u64, StoreError>;
    /// The current nodes whose id is after `after` (and at most `until`, when given), by id, at
    /// most `limit`: their inventory hash and what is stored of their findings.
    async fn fleet_heads(
        &self,
        after: &str,
        until: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FleetHead>, StoreError>;
}

/// Current findings: each node's open rows.
#[async_trait::async_trait]
pub trait Findings: Send + Sync {
    /// Current findings (of each node's current run), by node then subject.
    async fn findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError>;
    /// At most `limit` of [`Findings::findings`], those after `after` in the same order
    /// (keyset pagination: stable while findings are added or removed elsewhere).
    async fn findings_page(
        &self,
        filter: &FindingFilter,
        after: Option<&FindingKey>,
        limit: i64,
    ) -> Result<Vec<Finding>, StoreError>;
    /// Open current findings counted by site, code and severity.
    async fn finding_counts(&self) -> Result<Vec<FindingCount>, StoreError>;
    /// The open findings rows of `nodes`, counted by template (a round computes its changes
    /// against them: see [`FleetDelta`]); a node without open rows is absent.
    async fn open_findings(
        &self,
        nodes: &[String],
    ) -> Result<std::collections::HashMap<String, OpenFindings>, StoreError>;
}

/// Open the store named by `url` (`sqlite://PATH`, `sqlite::memory:`, `postgres://…`) and apply
/// its migrations.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(StoreError::BadUrl(redact(url)))
    }
}

/// [`open`] for the commands that read or administer an existing fleet (`query`, `plan --db`,
/// `node`): a SQLite file that does not exist is an error, not a new empty database, so that a
/// mistyped path never reads as a fleet with no nodes.
pub(crate) async fn open_existing(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if let Some(path) = sqlite_file(url) {
        if !std::path::Path::new(path).exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
    }
    open(url).await
}

/// The file a `sqlite:` URL names (`None`: in memory, or not SQLite).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.starts_with(":memory:")).then_some(path)
}

/// `url` with any password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// sha256 of a token, hex (what the store keeps).
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(token.as_bytes()))
}

/// The package index line format: `ecosystem\tname\tversion\n` per package.
pub(crate) fn package_index(inv: &Inventory) -> String {
    let mut s = String::with_capacity(inv.packages.len() * 40);
    for p in &inv.packages {
        s.push_str(p.ecosystem.as_str());
        s.push('\t');
        s.push_str(&p.name);
        s.push('\t');
        s.push_str(&p.version);
        s.push('\n');
    }
    s
}

/// Rank of a severity (its order).
pub(crate) fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::None => 0,
        Severity::Unknown => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip() {
        let m = Millis::parse("2026-03-04T05:06:07.089Z").unwrap_or(Millis(0));
        assert_eq!(m.rfc3339(), "2026-03-04T05:06:07.089Z");
        assert_eq!(
            Millis::parse("2026-03-04").map(Millis::rfc3339).as_deref(),
            Some("2026-03-04T00:00:00.000Z")
        );
    }

    #[test]
    fn write_health_clears_only_on_a_write_as_large_as_the_failed_one() {
        let h = WriteHealth::default();
        let full = || StoreError::Db(sqlx::Error::PoolTimedOut);
        assert_eq!(h.failing(), None);
        assert!(h.observe(Err::<(), _>(full()), 300_000).is_err());
        assert_eq!(h.failing(), Some(300_000));
        // A heartbeat passing says nothing about a push of that size.
        assert!(h.observe(Ok(()), 0).is_ok());
        assert_eq!(h.failing(), Some(300_000));
        // Errors that are not the database's leave it alone.
        let _ = h.observe(Err::<(), _>(StoreError::NotEnrolled("n".into())), 1 << 30);
        assert_eq!(h.failing(), Some(300_000));
        // A failed heartbeat is probed with at least MIN_PROBE_BYTES, a huge push with at most
        // MAX_PROBE_BYTES.
        let _ = h.observe(Err::<(), _>(full()), 10 << 30);
        assert_eq!(h.failing(), Some(MAX_PROBE_BYTES));
        assert!(h.observe(Ok(()), MAX_PROBE_BYTES).is_ok());
        assert_eq!(h.failing(), None);
        let _ = h.observe(Err::<(), _>(full()), 0);
        assert_eq!(h.failing(), Some(MIN_PROBE_BYTES));
        assert!(probe_bytes(4096).iter().any(|b| *b != 0));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
    }
}

/// What the store's and the writer's unit tests build their inventories from.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::model::{Inventory, Location, Package, PackageMeta};

    /// An inventory of node `node`: `packages` Python packages whose versions `salt` moves.
    pub(crate) fn inventory(node: &str, packages: usize, salt: usize) -> Inventory {
        let mut inv = Inventory::for_test(
            node,
            (0..packages)
                .map(|k| Package {
                    ecosystem: crate::Ecosystem::Pypi,
                    name: format!("p{k}"),
                    version: format!("1.{salt}.{k}"),
                    source: None,
                    purl: format!("pkg:pypi/p{k}@1.{salt}.{k}"),
                    found_by: "test".into(),
                    location: Location::path("/usr/lib/python3/dist-packages"),
                    meta: PackageMeta::Python {
                        display_name: format!("p{k}"),
                        os_owner: None,
                        environment: None,
                    },
                    extra: std::collections::BTreeMap::new(),
                })
                .collect(),
        );
        inv.collected_at = "2026-01-01T00:00:00Z".into();
        inv
    }
}
