//! SQLite: the embedded default. WAL journal with `synchronous=NORMAL`: a committed push
//! survives the server process being killed (the WAL is in the kernel's page cache); only a
//! power cut may lose the last commits. Writes go through one connection (SQLite has one
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
}

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
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts.clone())
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = if memory {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts.read_only(true))
                .await
                .map_err(open_err)?
        };
        Ok(Self {
            read,
            write,
            lock: Arc::new(tokio::sync::Mutex::new(())),
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
