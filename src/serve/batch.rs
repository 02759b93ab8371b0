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

use std::sync::Arc;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use crate::model::Inventory;
use crate::store::{Beat, Judged, Millis, NewInventory, PushOutcome, Store, StoreError};

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
        tokio::spawn(run(store, rx));
        Self { tx }
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

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
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
            write_beats(store.as_ref(), batch.beats).await;
        }
        if !batch.pushes.is_empty() {
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
    if pushes.len() == 1 {
        for (p, reply) in pushes {
            let r = store.push(p.new_inventory()).await;
            let _ = reply.send((p, r));
        }
        return;
    }
    let all: Vec<NewInventory<'_>> = pushes.iter().map(|(p, _)| p.new_inventory()).collect();
    let r = store.push_batch(&all).await;
    drop(all);
    match r {
        Ok(out) if out.len() == pushes.len() => {
            for ((p, reply), o) in pushes.into_iter().zip(out) {
                let _ = reply.send((p, Ok(o)));
            }
        }
        r => {
            if let Err(e) = &r {
                tracing::debug!(
                    "a batch of {} pushes failed ({e}); writing them one at a time",
                    pushes.len()
                );
            }
            for (p, reply) in pushes {
                let r = store.push(p.new_inventory()).await;
                let _ = reply.send((p, r));
            }
        }
    }
}
