//! Group commit: one task writes the heartbeats and pushes that handlers hand it. It takes
//! whatever is waiting (no timer: an empty queue sleeps until the next request, a lone request
//! is written at once), writes the heartbeats in one transaction and the pushes in another,
//! and answers each caller only after its transaction committed, so a 2xx still means stored.
//! A batch that fails is written again one request at a time, so that each caller gets the
//! answer it would have had alone (one bad push does not fail its neighbours).
//!
//! The queue is bounded ([`QUEUE`] requests; a full queue holds handlers back, under their
//! request deadline) and a batch is capped by count and bytes ([`MAX_BEATS`], [`MAX_PUSHES`],
//! [`MAX_PUSH_BYTES`]). A queued push's memory is already charged to the push budget
//! ([`super::limits::PushBudget`]) by its handler, which holds that charge until answered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use crate::model::Inventory;
use crate::store::{
    Beat, Judged, Millis, NewInventory, PreparedInventory, PushOutcome, Store, StoreError,
};

/// Requests waiting for the writer, at most.
pub(crate) const QUEUE: usize = 4096;
/// Heartbeats per transaction, at most.
pub(crate) const MAX_BEATS: usize = 1024;
/// Pushes per transaction, at most.
pub(crate) const MAX_PUSHES: usize = 32;
/// Bytes of stored inventory JSON per push transaction, at most (one larger push goes alone).
pub(crate) const MAX_PUSH_BYTES: usize = 16 * 1024 * 1024;

/// A heartbeat to record (owned: it crosses to the writer task).
#[derive(Debug, Clone)]
pub(crate) struct OwnedBeat {
    pub(crate) node: String,
    pub(crate) token_hash: String,
    pub(crate) hash: String,
    pub(crate) at: Millis,
}

impl OwnedBeat {
    fn beat(&self) -> Beat<'_> {
        Beat {
            node: &self.node,
            token_hash: &self.token_hash,
            hash: &self.hash,
            at: self.at,
        }
    }
}

/// A changed inventory to store, with its analysis (owned: it crosses to the writer task and
/// comes back with the answer).
#[derive(Debug)]
pub(crate) struct OwnedPush {
    pub(crate) inventory: Inventory,
    pub(crate) body: Box<RawValue>,
    pub(crate) hash: String,
    pub(crate) received_at: Millis,
    pub(crate) judged: Judged,
    pub(crate) analysis_started: Millis,
    pub(crate) revision: String,
    /// Its packages ready for the store (see [`PreparedInventory`]).
    pub(crate) prepared: PreparedInventory,
}

impl OwnedPush {
    fn new_inventory(&self) -> NewInventory<'_> {
        NewInventory {
            node: &self.inventory.node,
            inventory: &self.inventory,
            body: &self.body,
            hash: &self.hash,
            received_at: self.received_at,
            judged: &self.judged,
            analysis_started: self.analysis_started,
            revision: &self.revision,
        }
    }
}

type BeatReply = oneshot::Sender<Result<bool, StoreError>>;
type PushReply = oneshot::Sender<(Box<OwnedPush>, Result<PushOutcome, StoreError>)>;

enum Job {
    Beat(OwnedBeat, BeatReply),
    Push(Box<OwnedPush>, PushReply),
}

/// The handle of the writer task; the task ends with the last handle.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    counts: Arc<Counts>,
}

/// Transactions and requests the writer wrote, by kind (for `/metrics`).
#[derive(Debug, Default)]
struct Counts {
    beat_batches: AtomicU64,
    beats: AtomicU64,
    push_batches: AtomicU64,
    pushes: AtomicU64,
}

/// The writer task went away (the runtime is shutting down).
fn gone() -> StoreError {
    StoreError::Corrupt {
        what: "writer",
        message: "the group-commit writer stopped".into(),
    }
}

impl Writer {
    /// Start the writer task over `store` (on the current runtime).
    pub(crate) fn spawn(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        tokio::spawn(run(store, rx, Arc::clone(&counts)));
        Self { tx, counts }
    }

    /// Batches written so far: (heartbeat transactions, push transactions).
    #[cfg(test)]
    fn batches(&self) -> (u64, u64) {
        (
            self.counts.beat_batches.load(Ordering::Relaxed),
            self.counts.push_batches.load(Ordering::Relaxed),
        )
    }

    /// The writer's counters in the Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let c = &self.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "# HELP nminus_write_batches_total Transactions of the group-commit writer, by kind (a batch that failed and was written again one by one counts once).\n\
             # TYPE nminus_write_batches_total counter\n\
             nminus_write_batches_total{{kind=\"heartbeat\"}} {}\n\
             nminus_write_batches_total{{kind=\"inventory\"}} {}\n\
             # HELP nminus_write_batched_total Requests written by the group-commit writer, by kind.\n\
             # TYPE nminus_write_batched_total counter\n\
             nminus_write_batched_total{{kind=\"heartbeat\"}} {}\n\
             nminus_write_batched_total{{kind=\"inventory\"}} {}\n",
            get(&c.beat_batches),
            get(&c.push_batches),
            get(&c.beats),
            get(&c.pushes),
        )
    }

    /// Record a heartbeat; `Ok(true)` once committed (see [`Store::heartbeats`]).
    pub(crate) async fn heartbeat(&self, beat: OwnedBeat) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Beat(beat, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Store a changed inventory; the push comes back with the outcome once committed.
    pub(crate) async fn push(
        &self,
        push: OwnedPush,
    ) -> Result<(Box<OwnedPush>, PushOutcome), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Push(Box::new(push), reply))
            .await
            .map_err(|_| gone())?;
        let (push, r) = answer.await.map_err(|_| gone())?;
        r.map(|o| (push, o))
    }
}

/// One batch taken from the queue.
#[derive(Default)]
struct Batch {
    beats: Vec<(OwnedBeat, BeatReply)>,
    pushes: Vec<(Box<OwnedPush>, PushReply)>,
    push_bytes: usize,
}

impl Batch {
    fn add(&mut self, job: Job) {
        match job {
            Job::Beat(b, r) => self.beats.push((b, r)),
            Job::Push(p, r) => {
                self.push_bytes += p.body.get().len();
                self.pushes.push((p, r));
            }
        }
    }

    fn full(&self) -> bool {
        self.beats.len() >= MAX_BEATS
            || self.pushes.len() >= MAX_PUSHES
            || self.push_bytes >= MAX_PUSH_BYTES
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, counts: Arc<Counts>) {
    while let Some(first) = rx.recv().await {
        let mut batch = Batch::default();
        batch.add(first);
        while !batch.full() {
            match rx.try_recv() {
                Ok(job) => batch.add(job),
                Err(_) => break,
            }
        }
        if !batch.beats.is_empty() {
            counts.beat_batches.fetch_add(1, Ordering::Relaxed);
            counts
                .beats
                .fetch_add(batch.beats.len() as u64, Ordering::Relaxed);
            write_beats(store.as_ref(), batch.beats).await;
        }
        if !batch.pushes.is_empty() {
            counts.push_batches.fetch_add(1, Ordering::Relaxed);
            counts
                .pushes
                .fetch_add(batch.pushes.len() as u64, Ordering::Relaxed);
            write_pushes(store.as_ref(), batch.pushes).await;
        }
    }
}

async fn write_beats(store: &dyn Store, beats: Vec<(OwnedBeat, BeatReply)>) {
    let all: Vec<Beat<'_>> = beats.iter().map(|(b, _)| b.beat()).collect();
    match store.heartbeats(&all).await {
        Ok(done) if done.len() == beats.len() => {
            for ((_, reply), ok) in beats.into_iter().zip(done) {
                let _ = reply.send(Ok(ok));
            }
        }
        Ok(_) => {
            for (_, reply) in beats {
                let _ = reply.send(Err(StoreError::Corrupt {
                    what: "heartbeat",
                    message: "the store answered a batch with the wrong count".into(),
                }));
            }
        }
        Err(e) if beats.len() == 1 => {
            if let Some((_, reply)) = beats.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::debug!(
                "a batch of {} heartbeats failed ({e}); writing them one at a time",
                beats.len()
            );
            for (b, reply) in beats {
                let r = store.heartbeats(&[b.beat()]).await.and_then(|v| {
                    v.first().copied().ok_or_else(|| StoreError::Corrupt {
                        what: "heartbeat",
                        message: "the store answered no outcome".into(),
                    })
                });
                let _ = reply.send(r);
            }
        }
    }
}

async fn write_pushes(store: &dyn Store, pushes: Vec<(Box<OwnedPush>, PushReply)>) {
    let all: Vec<_> = pushes
        .iter()
        .map(|(p, _)| (p.new_inventory(), &p.prepared))
        .collect();
    let r = store.push_batch(&all).await;
    drop(all);
    let pushes = match r {
        Ok(out) if out.len() == pushes.len() => {
            for ((p, reply), o) in pushes.into_iter().zip(out) {
                let _ = reply.send((p, Ok(o)));
            }
            return;
        }
        Err(e) if pushes.len() == 1 => {
            if let Some((p, reply)) = pushes.into_iter().next() {
                let _ = reply.send((p, Err(e)));
            }
            return;
        }
        Err(e) => {
            tracing::debug!(
                "a batch of {} pushes failed ({e}); writing them one at a time",
                pushes.len()
            );
            pushes
        }
        Ok(_) => pushes,
    };
    for (p, reply) in pushes {
        let r = store
            .push_batch(&[(p.new_inventory(), &p.prepared)])
            .await
            .and_then(|v| {
                v.first().copied().ok_or_else(|| StoreError::Corrupt {
                    what: "inventory",
                    message: "the store answered no outcome".into(),
                })
            });
        let _ = reply.send((p, r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, FindingCode, Severity};

    fn inventory(node: &str, salt: usize) -> Inventory {
        crate::store::test_support::inventory(node, 40, salt)
    }

    /// A finding; a bad one (no fingerprint, which the store's CHECK refuses) is about another
    /// version, so that it is a new row even after a good push (only new rows are written).
    fn finding(node: &str, fingerprint: bool) -> Finding {
        let mut f = Finding::for_test(
            node,
            FindingCode::Vulnerable,
            Severity::High,
            crate::Ecosystem::Pypi.into(),
            "p1",
            if fingerprint { "1.0.1" } else { "1.0.2" },
        );
        if fingerprint {
            f.fingerprint = f.compute_fingerprint();
        }
        f
    }

    fn owned(node: &str, salt: usize, good: bool) -> OwnedPush {
        let inventory = inventory(node, salt);
        let (hash, body) = crate::client::hash_and_body(&inventory);
        OwnedPush {
            body: RawValue::from_string(body).expect("JSON"),
            hash,
            received_at: Millis(10 + salt as i64),
            judged: Judged {
                findings: vec![finding(node, good)],
                compliant: true,
            },
            analysis_started: Millis(10),
            revision: "test".into(),
            prepared: PreparedInventory::new(&inventory).expect("prepared"),
            inventory,
        }
    }

    /// Requests queued together are written together, each answered after the commit; a batch
    /// that fails (one push breaks a CHECK constraint, failing the transaction) is written again
    /// one by one: the bad push gets its error, its neighbours are stored. Read back through a
    /// new connection to the file.
    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_is_committed_before_its_answers_and_a_bad_push_fails_alone() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
        let store = crate::store::open(&url).await.expect("open");
        const NODES: usize = 24;
        let nodes: Vec<String> = (0..NODES).map(|i| format!("n{i}")).collect();
        for n in &nodes {
            store
                .enroll(n, &format!("hash-of-{n}"), Millis(1))
                .await
                .expect("enroll");
        }
        let writer = Writer::spawn(Arc::clone(&store));
        // Every request is queued before the writer task runs again (one thread, tasks run in
        // the order they were woken): one batch.
        let push = |n: &str, salt: usize, good: bool| {
            let (w, p) = (writer.clone(), owned(n, salt, good));
            tokio::spawn(async move { w.push(p).await })
        };
        let first: Vec<_> = nodes.iter().map(|n| push(n, 1, true)).collect();
        let mut hashes = Vec::new();
        for h in first {
            hashes.push(h.await.expect("task").expect("stored").0.hash.clone());
        }
        assert_eq!(writer.batches(), (0, 1), "the pushes were not batched");

        // Heartbeats (one with a stale token, one with an old hash) beside pushes, one bad.
        let beats: Vec<_> = nodes
            .iter()
            .zip(&hashes)
            .enumerate()
            .map(|(i, (n, h))| {
                let w = writer.clone();
                let beat = OwnedBeat {
                    node: n.clone(),
                    token_hash: if i == 10 {
                        "stale".into()
                    } else {
                        format!("hash-of-{n}")
                    },
                    hash: if i == 11 { "old".into() } else { h.clone() },
                    at: Millis(1_000 + i as i64),
                };
                tokio::spawn(async move { w.heartbeat(beat).await })
            })
            .collect();
        let pushes: Vec<_> = nodes
            .iter()
            .take(8)
            .enumerate()
            .map(|(i, n)| push(n, 2, i != 5))
            .collect();
        for (i, b) in beats.into_iter().enumerate() {
            let b = b.await.expect("task").expect("heartbeat written");
            assert_eq!(b, i != 10 && i != 11, "heartbeat {i}");
        }
        let mut results = Vec::new();
        for p in pushes {
            results.push(p.await.expect("task"));
        }
        assert_eq!(writer.batches(), (1, 2), "one batch of each kind");
        let fresh = crate::store::open(&url).await.expect("reopen");
        for (i, (n, r)) in nodes.iter().zip(&results).enumerate() {
            let stored = fresh.node(n).await.expect("node").expect("enrolled");
            let history = fresh.history(n).await.expect("history");
            match r {
                Ok((p, out)) => {
                    assert!(out.changed);
                    assert_eq!(stored.current_hash.as_deref(), Some(p.hash.as_str()));
                    assert_eq!(history.len(), 2, "{n}");
                }
                Err(e) => {
                    assert_eq!(i, 5, "push {i} failed: {e}");
                    assert_eq!(stored.current_hash.as_ref(), Some(&hashes[i]));
                    assert_eq!(history.len(), 1, "{n}: the failed push left history");
                }
            }
        }
        assert!(results[5].is_err(), "the bad push was stored");
        for (i, n) in nodes.iter().enumerate().skip(8) {
            let stored = fresh.node(n).await.expect("node").expect("enrolled");
            let seen = stored.last_seen.expect("seen").0;
            if i == 10 || i == 11 {
                assert!(seen < 1_000, "{n}: a refused heartbeat was recorded");
            } else {
                assert_eq!(seen, 1_000 + i as i64, "{n}: heartbeat not stored");
            }
        }
    }
}
