//! SQLite: the embedded default. WAL journal with `synchronous=NORMAL`: a committed push
//! survives the server process being killed (the WAL is in the kernel's page cache); only a
//! power cut may lose the last commits. The WAL is checkpointed every half second by a
//! connection of its own (`PASSIVE`), so commits never wait for a checkpoint's sync. Writes go through one connection (SQLite has one
//! writer; a single-connection pool queues them instead of spinning on `SQLITE_BUSY`), reads
//! through several. The fleet-analysis lock is in-process: several servers on one SQLite file
//! are not supported (use PostgreSQL for that).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::common::store_impl;
use super::{redact, HeldLock};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    read: Pool<Sqlite>,
    write: Pool<Sqlite>,
    lock: Arc<tokio::sync::Mutex<()>>,
    _checkpointer: Option<Arc<AbortOnDrop>>,
}

/// Stops the background checkpoint task with the last clone of the store.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

struct Held(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>);

#[async_trait::async_trait]
impl HeldLock for Held {
    async fn release(self: Box<Self>) {}
}

impl SqliteStore {
    const BACKEND: &'static str = "sqlite";
    const FOR_UPDATE: &'static str = "";

    /// Open (creating the file) and migrate.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
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
            .pragma("cache_size", "-16000");
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        // The writer never checkpoints (a checkpoint syncs the database file, and the writer
        // would wait for it): a separate connection does, in the background.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                opts.clone()
                    .pragma("wal_autocheckpoint", if memory { "1000" } else { "0" }),
            )
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
            let ck = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .map_err(open_err)?;
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&ck)
                        .await
                    {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
            });
            (read, Some(Arc::new(AbortOnDrop(task))))
        };
        Ok(Self {
            read,
            write,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            _checkpointer: checkpointer,
        })
    }

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

    async fn maintain_impl(&self, _now: Millis) -> Result<(), StoreError> {
        sqlx::query("PRAGMA optimize").execute(&self.write).await?;
        Ok(())
    }

    /// Close the pools (pending writes finish first).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

store_impl!(SqliteStore, Sqlite);
