//! SQLite: the embedded default. WAL journal with `synchronous=NORMAL`: a committed push
//! survives the server process being killed (the WAL is in the kernel's page cache); only a
//! power cut may lose the last commits. The WAL is checkpointed every half second by a
//! connection of its own (`PASSIVE`), so commits never wait for a checkpoint's sync; when
//! readers under load keep it from reaching the end and the WAL passes 64 MiB, a `TRUNCATE`
//! checkpoint empties it (as the upkeep tick does), and `journal_size_limit` cuts the file back.
//! Writes go through one connection (SQLite has one writer; a single-connection pool queues
//! them instead of spinning on `SQLITE_BUSY`), reads through several. Other connections still
//! take the write lock now and then (the checkpointer, `nminus node` on the same file): write
//! transactions begin `IMMEDIATE`, so that they wait for it under the busy timeout, and a write
//! held off past it is tried again (a bounded number of times) before a client hears of it. The fleet-analysis lock is in-process: several servers on one SQLite file
//! are not supported (use PostgreSQL for that).
//!
//! The writer connection is closed rather than reused when it comes back to its pool still
//! inside a transaction. SQLite rolls the whole transaction back by itself when a write fails
//! with `SQLITE_FULL` (a full disk, at commit); sqlx's `ROLLBACK` then fails and its
//! transaction depth stays at one, so the next `begin()` issued `SAVEPOINT` instead of `BEGIN`.
//! After one more failure (`ROLLBACK TO` a savepoint keeps the transaction open) every later
//! "commit" was only a `RELEASE SAVEPOINT` inside a transaction that never committed: pushes
//! were acknowledged and lost, also after the disk had space again.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection as _, Pool, Sqlite};

use super::sql::{Backend, Db};
use super::{redact, AnalysisLock, HeldLock, Millis, StoreError};

/// The SQLite store.
pub(crate) type SqliteStore = Db<SqliteBackend>;

/// What is SQLite's own: a writer pool of one connection, a reader pool, the in-process
/// fleet-analysis lock and the WAL checkpointer.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    read: Pool<Sqlite>,
    write: Pool<Sqlite>,
    lock: Arc<tokio::sync::Mutex<()>>,
    _checkpointer: Option<AbortOnDrop>,
}

/// Stops the background checkpoint task with the last clone of the store.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// WAL frames (4 KiB pages) past which a checkpoint that readers kept from finishing is
/// followed by a `TRUNCATE` one: 64 MiB.
const WAL_TRUNCATE_FRAMES: i64 = 16_384;

/// A `PASSIVE` checkpoint, never waiting for anyone; when the WAL has grown past
/// [`WAL_TRUNCATE_FRAMES`] without being copied back whole (readers under load keep a passive
/// checkpoint from reaching the end, and the WAL then grows without bound), a `TRUNCATE`
/// checkpoint, which waits for the readers (at most the busy timeout) and empties the file.
async fn checkpoint(ck: &Pool<Sqlite>) -> Result<(), sqlx::Error> {
    let (_busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(ck)
        .await?;
    if log >= WAL_TRUNCATE_FRAMES && done < log {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(ck)
            .await?;
    }
    Ok(())
}

/// WAL pages (4 KiB) past which the writer checkpoints after its commit: 256 MiB, four times
/// the size at which the background checkpointer truncates the WAL.
const WRITER_CHECKPOINT_PAGES: &str = "65536";

/// How long a write waits for the writer connection (the queue of writers).
const WRITER_QUEUE: Duration = Duration::from_secs(120);

/// How long the checkpointer waits for readers (holding writers off meanwhile).
const CHECKPOINT_BUSY: Duration = Duration::from_secs(1);

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

struct Held(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>);

#[async_trait::async_trait]
impl HeldLock for Held {
    async fn release(self: Box<Self>) {}
}

#[async_trait::async_trait]
impl Backend for SqliteBackend {
    type DB = Sqlite;
    const BACKEND: &'static str = "sqlite";
    /// `IMMEDIATE` takes the write lock at `BEGIN`, waiting for it under the busy timeout. A
    /// deferred transaction takes it at its first write, and when it has read first SQLite
    /// does not wait there: while another connection held the lock (a `TRUNCATE` checkpoint,
    /// `nminus node` on the same file) the push failed at once with "database is locked".
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const FOR_UPDATE: &'static str = "";
    const KEY_SHARE: &'static str = "";

    fn reader(&self) -> &Pool<Sqlite> {
        &self.read
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.write
    }

    async fn lock_analysis(&self) -> Result<Option<AnalysisLock>, StoreError> {
        Ok(Arc::clone(&self.lock)
            .try_lock_owned()
            .ok()
            .map(|g| AnalysisLock(Box::new(Held(g)))))
    }

    async fn maintain(&self, _now: Millis) -> Result<(), StoreError> {
        sqlx::query("PRAGMA optimize").execute(&self.write).await?;
        // On the upkeep tick the WAL is emptied whatever the readers do (the writer waits
        // for them, at most the busy timeout).
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

impl SqliteStore {
    /// Open (creating the file) and migrate.
    pub(crate) async fn open(url: &str) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-16000")
            // After a checkpoint, a WAL larger than this is cut back to it.
            .pragma("journal_size_limit", "67108864");
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        // The writer does not checkpoint while the background connection keeps up (a
        // checkpoint syncs the database file, and the writer would wait for it). Under heavy
        // I/O that connection fell behind a stream of pushes and the WAL reached 4.9 GB (the
        // reanalyze benchmark at 3,816 nodes): past WRITER_CHECKPOINT_PAGES the writer copies
        // the WAL back itself after a commit, holding the next pushes back meanwhile.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // Writers queue here for the one connection: a burst of pushes waits its turn
            // rather than failing after sqlx's default 30 s.
            .acquire_timeout(WRITER_QUEUE)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_release(|c, _| {
                Box::pin(async move {
                    // Runs the rollback a dropped transaction queued, then looks at the depth.
                    c.ping().await?;
                    Ok(outside_transaction(c))
                })
            })
            .before_acquire(|c, _| Box::pin(async move { Ok(outside_transaction(c)) }))
            .connect_with(opts.clone().pragma(
                "wal_autocheckpoint",
                if memory {
                    "1000"
                } else {
                    WRITER_CHECKPOINT_PAGES
                },
            ))
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let (read, checkpointer) = if memory {
            (write.clone(), None)
        } else {
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts.clone().read_only(true))
                .await
                .map_err(open_err)?;
            // A `TRUNCATE` checkpoint holds the write lock while it waits for readers: it
            // gives up after a second, so that writers never wait on it for long.
            let ck = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts.busy_timeout(CHECKPOINT_BUSY))
                .await
                .map_err(open_err)?;
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = checkpoint(&ck).await {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
            });
            (read, Some(AbortOnDrop(task)))
        };
        Ok(Self::new(SqliteBackend {
            read,
            write,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            _checkpointer: checkpointer,
        }))
    }
}

/// Whether a pooled connection may be used again: not when a transaction is still open on it
/// (closing it rolls that transaction back).
fn outside_transaction(c: &SqliteConnection) -> bool {
    let clean = !c.is_in_transaction();
    if !clean {
        tracing::warn!(
            "closing the database writer connection: a failed write left it inside a transaction"
        );
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, FindingCode, Inventory, Severity};
    use crate::store::{
        test_support, Inventories as _, Judged, NewInventory, Nodes as _, Store as _,
    };

    async fn push(
        s: &SqliteStore,
        inv: &Inventory,
        findings: Vec<Finding>,
        at: i64,
    ) -> Result<String, StoreError> {
        let hash = crate::client::content_hash(inv);
        let body = serde_json::value::to_raw_value(inv).map_err(|e| StoreError::Corrupt {
            what: "test inventory",
            message: e.to_string(),
        })?;
        let judged = Judged {
            findings,
            compliant: true,
        };
        s.push(NewInventory {
            node: &inv.node,
            inventory: inv,
            body: &body,
            hash: &hash,
            received_at: Millis(at),
            judged: &judged,
            analysis_started: Millis(at),
            revision: "test",
        })
        .await?;
        Ok(hash)
    }

    async fn set_max_pages(s: &SqliteStore, extra: i64) {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&s.backend.write)
            .await
            .expect("page count");
        sqlx::query(&format!("PRAGMA max_page_count = {}", pages + extra))
            .execute(&s.backend.write)
            .await
            .expect("max_page_count");
    }

    /// The lost-acknowledged-push bug, rootless: `PRAGMA max_page_count` gives `SQLITE_FULL`,
    /// which SQLite answers by rolling the transaction back itself, so sqlx's `ROLLBACK` fails
    /// and its depth stays at 1; a failing statement inside the next (`SAVEPOINT`) transaction
    /// is rolled back `TO` the savepoint, which keeps SQLite inside a transaction; every later
    /// push then "commits" with `RELEASE SAVEPOINT` and is never stored. The writer must come
    /// back clean, the store report not ready while writes fail, and be ready once they pass.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_never_leaves_the_writer_inside_a_transaction() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
        let s = SqliteStore::open(&url).await.expect("open");
        for n in ["n1", "n2", "n3"] {
            s.enroll(n, &format!("token-{n}"), Millis(1))
                .await
                .expect("enroll");
        }
        assert!(s.ready().await.is_ok());

        // A full database: the push fails and says so.
        set_max_pages(&s, 3).await;
        let big = test_support::inventory("n1", 2_000, 1);
        let e = push(&s, &big, Vec::new(), 10)
            .await
            .expect_err("the database is full");
        assert!(e.to_string().contains("full"), "{e}");
        let c = s.backend.write.acquire().await.expect("writer");
        assert!(
            !sqlx::Connection::is_in_transaction(&*c),
            "the writer came back inside a transaction"
        );
        drop(c);

        // Not ready while a write of that size cannot commit; ready when it can.
        set_max_pages(&s, 3).await;
        assert!(s.ready().await.is_err(), "ready while writes fail");
        assert!(s.ready().await.is_err(), "ready while writes fail");
        sqlx::query("PRAGMA max_page_count = 1073741823")
            .execute(&s.backend.write)
            .await
            .expect("space again");
        s.ready().await.expect("ready once writes pass");

        // A statement that fails inside the push transaction (an empty fingerprint breaks a
        // CHECK constraint), then a good push: it must be committed, seen by new connections.
        let mut bad = Finding::for_test(
            "n2",
            FindingCode::Vulnerable,
            Severity::High,
            crate::Ecosystem::Pypi.into(),
            "p1",
            "1.2.1",
        );
        let inv2 = test_support::inventory("n2", 10, 2);
        assert!(push(&s, &inv2, vec![bad.clone()], 20).await.is_err());
        bad.fingerprint = bad.compute_fingerprint();
        let h2 = push(&s, &inv2, vec![bad], 30)
            .await
            .expect("push after failures");
        let h3 = push(&s, &test_support::inventory("n3", 10, 3), Vec::new(), 40)
            .await
            .expect("push after failures");
        s.backend.read.close().await;
        s.backend.write.close().await;
        let fresh = SqliteStore::open(&url).await.expect("reopen");
        for (node, hash) in [("n2", &h2), ("n3", &h3)] {
            let stored = fresh.node(node).await.expect("node").expect("enrolled");
            assert_eq!(
                stored.current_hash.as_ref(),
                Some(hash),
                "acknowledged push of {node} lost"
            );
        }
    }

    /// Pushes of one node are serialised and the last one committed is the newest history
    /// entry, even when its reception time is older than the one committed before it.
    #[tokio::test]
    async fn the_last_push_committed_is_the_newest_history_entry() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
        let s = SqliteStore::open(&url).await.expect("open");
        s.enroll("n1", "token", Millis(1)).await.expect("enroll");
        let a = push(&s, &test_support::inventory("n1", 3, 1), Vec::new(), 5_000)
            .await
            .expect("push");
        // Received earlier (another replica's clock, or a slower analysis), committed later.
        let b = push(&s, &test_support::inventory("n1", 3, 2), Vec::new(), 4_000)
            .await
            .expect("push");
        let c = push(&s, &test_support::inventory("n1", 3, 3), Vec::new(), 5_001)
            .await
            .expect("push");
        let history = s.history("n1").await.expect("history");
        let order: Vec<&str> = history.iter().map(|h| h.hash.as_str()).collect();
        assert_eq!(order, [c.as_str(), b.as_str(), a.as_str()]);
        assert!(history[0].received_at > history[1].received_at);
        assert!(history[1].received_at > history[2].received_at);
        let node = s.node("n1").await.expect("node").expect("enrolled");
        assert_eq!(node.current_hash.as_deref(), Some(history[0].hash.as_str()));
    }
}
