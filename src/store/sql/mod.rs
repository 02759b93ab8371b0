//! The SQL of both backends, written once as ordinary generic code: [`Db<B>`] is the store over
//! a [`Backend`] `B`, and each query group implements its trait of the store for every `Db<B>`
//! ([`nodes`], [`inventories`], [`runs`], [`findings`], [`controlplane`]).
//!
//! Conventions: `$N` placeholders work in SQLite (sqlx binds `$N` to argument N) and
//! PostgreSQL; JSON columns go through `sqlx::types::Json` (TEXT in SQLite, JSONB in
//! PostgreSQL); times are integer milliseconds. What the SQL needs of a sqlx driver is stated
//! once in [`driver::Sql`]. Every write reports its outcome to the store's
//! [`WriteHealth`](super::WriteHealth).

mod controlplane;
mod driver;
mod findings;
mod inventories;
mod nodes;
mod runs;

use sqlx::{Database, Executor, Pool, Transaction};

use self::driver::{QueryExt as _, Run as _, Sql, Stmt};
use super::{probe_bytes, AnalysisLock, Millis, Store, StoreError, WriteHealth};

/// What differs between SQLite and PostgreSQL; everything else is [`Db`]'s.
#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    /// The sqlx driver.
    type DB: Sql;
    /// `sqlite` or `postgres`.
    const BACKEND: &'static str;
    /// How a write transaction starts.
    const BEGIN_WRITE: &'static str;
    /// Appended to a `SELECT` whose rows the transaction goes on to update (PostgreSQL locks
    /// them; SQLite has one writer).
    const FOR_UPDATE: &'static str;
    /// How a push keeps the finding templates it names from being pruned before it commits
    /// (SQLite: the one writer already does).
    const KEY_SHARE: &'static str;
    /// The pool reads go to.
    fn reader(&self) -> &Pool<Self::DB>;
    /// The pool writes go to.
    fn writer(&self) -> &Pool<Self::DB>;
    /// Try to take the fleet-analysis lock.
    async fn lock_analysis(&self) -> Result<Option<AnalysisLock>, StoreError>;
    /// Periodic upkeep.
    async fn maintain(&self, now: Millis) -> Result<(), StoreError>;
}

/// The store over backend `B`.
#[derive(Debug)]
pub(crate) struct Db<B> {
    /// The backend: its pools and what is its own.
    pub(crate) backend: B,
    /// Whether writes currently fail.
    health: WriteHealth,
}

impl<B: Backend> Db<B> {
    /// The store over `backend`.
    pub(crate) fn new(backend: B) -> Self {
        Self {
            backend,
            health: WriteHealth::default(),
        }
    }

    /// The reader pool, as an executor.
    fn read(&self) -> impl Executor<'_, Database = B::DB> {
        B::DB::pool(self.backend.reader())
    }

    /// The writer pool, as an executor.
    fn write(&self) -> impl Executor<'_, Database = B::DB> {
        B::DB::pool(self.backend.writer())
    }

    /// Begin a write transaction.
    async fn begin(&self) -> Result<Transaction<'static, B::DB>, sqlx::Error> {
        self.backend.writer().begin_with(B::BEGIN_WRITE).await
    }

    fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// Execute the statement `stmt` builds on the writer, again while it meets lock contention
    /// (see [`retry_contention`]); the outcome goes to the write health.
    async fn write_retrying<'a>(
        &'a self,
        stmt: impl Fn() -> Stmt<'a, B::DB> + Send + Sync,
    ) -> Result<<B::DB as Database>::QueryResult, StoreError> {
        let r = retry_contention(|| async { Ok(stmt().execute(self.write()).await?) }).await;
        self.health().observe(r, 0)
    }
}

/// Findings (and other rows) inserted per statement (13 parameters each, under both backends'
/// limits).
const FINDINGS_PER_INSERT: usize = 500;

/// Attempts at a write that the database refused for lock contention (SQLite `BUSY` or
/// `LOCKED` after its busy timeout, a PostgreSQL deadlock or serialisation failure).
const WRITE_ATTEMPTS: u32 = 4;

/// Whether `e` is lock contention that a later attempt may pass (nothing was written).
fn is_contention(e: &StoreError) -> bool {
    let StoreError::Db(sqlx::Error::Database(d)) = e else {
        return false;
    };
    let code = d.code().unwrap_or_default();
    match code.parse::<i64>() {
        // SQLite's primary codes BUSY (5) and LOCKED (6), with their extended codes.
        Ok(n) => matches!(n & 0xff, 5 | 6),
        // PostgreSQL: serialization_failure, deadlock_detected.
        Err(_) => matches!(&*code, "40001" | "40P01"),
    }
}

/// Run the write `attempt` until it passes, fails otherwise than by lock contention, or has
/// failed [`WRITE_ATTEMPTS`] times (a pause of 50, 100, 200 ms, with jitter, in between): a
/// writer that another connection held off past the busy timeout queues again instead of
/// answering the client with an error.
async fn retry_contention<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(e) if n < WRITE_ATTEMPTS && is_contention(&e) => {
                let mut b = [0u8; 1];
                let _ = getrandom::fill(&mut b);
                let pause = (50u64 << (n - 1)) + u64::from(b[0] % 32);
                tracing::debug!(
                    "a write met lock contention ({e}); attempt {} in {pause} ms",
                    n + 1
                );
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            r => return r,
        }
    }
}

/// A corrupt-data error: `what` could not be read, for `message`.
fn corrupt(what: &'static str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        message: message.to_string(),
    }
}

#[async_trait::async_trait]
impl<B: Backend> Store for Db<B> {
    fn backend(&self) -> &'static str {
        B::BACKEND
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.ping().await?;
        let Some(bytes) = self.health().failing() else {
            return Ok(());
        };
        // Writes failed: commit a row of that size (then delete it); ready when it commits.
        // The row's space is freed for the next push.
        let r = async {
            let id = i64::from_le_bytes(probe_bytes(8).try_into().unwrap_or([1; 8]));
            sqlx::query("INSERT INTO write_probe (id, filler) VALUES ($1, $2)")
                .arg(id)
                .arg(probe_bytes(bytes))
                .execute(self.write())
                .await?;
            sqlx::query("DELETE FROM write_probe WHERE id = $1")
                .arg(id)
                .execute(self.write())
                .await?;
            Ok(())
        }
        .await;
        self.health().observe(r, bytes)
    }

    async fn try_lock_analysis(&self) -> Result<Option<AnalysisLock>, StoreError> {
        self.backend.lock_analysis().await
    }

    async fn maintain(&self, now: Millis) -> Result<(), StoreError> {
        let r = self.backend.maintain(now).await;
        self.health().observe(r, 0)
    }
}
