//! PostgreSQL: for fleets that outgrow one machine, with several stateless `serve` replicas on
//! one database. The fleet re-analysis is held by one replica at a time through a session-level
//! advisory lock (`pg_try_advisory_lock`) on a connection taken out of the pool for as long as
//! the lock is held; if the replica dies, its session ends and the lock is free again.
//! `node_history` is partitioned by month; [`PgStore::open`] (and each re-analysis) creates the
//! partitions of this month and the next two.
//!
//! Bounded waits: a connection is waited for at most 10 s, a statement runs at most 60 s (a
//! push waiting on another push's row lock included), and a session idle inside a transaction
//! is ended by the server after 60 s. A
//! database whose `synchronous_commit` is `off` is overridden to `on` for nminus's sessions: an
//! acknowledged push must survive a crash of PostgreSQL. A connection that comes back to the
//! pool inside a transaction is closed, not reused.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection as _, Pool, Postgres};

use super::sql::{Backend, Db};
use super::{redact, AnalysisLock, HeldLock, Millis, StoreError};

/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a statement may run (`statement_timeout`).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a session may sit idle inside a transaction
/// (`idle_in_transaction_session_timeout`).
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(60);

/// The advisory lock key of the fleet re-analysis (`nminus` in ASCII).
pub(crate) const ANALYSIS_LOCK_KEY: i64 = 0x0000_6e6d_696e_7573;

/// The PostgreSQL store.
pub(crate) type PgStore = Db<PgBackend>;

/// What is PostgreSQL's own: one pool for reads and writes, the advisory fleet-analysis lock,
/// the monthly history partitions.
#[derive(Debug)]
pub(crate) struct PgBackend {
    pool: Pool<Postgres>,
}

struct Held(Option<PoolConnection<Postgres>>);

#[async_trait::async_trait]
impl HeldLock for Held {
    async fn release(mut self: Box<Self>) {
        if let Some(mut c) = self.0.take() {
            let r = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(ANALYSIS_LOCK_KEY)
                .execute(&mut *c)
                .await;
            if r.is_err() {
                // The session may still hold the lock: close it rather than pool it.
                drop(c.detach());
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Not released explicitly: end the session, which frees the lock.
        if let Some(c) = self.0.take() {
            drop(c.detach());
        }
    }
}

#[async_trait::async_trait]
impl Backend for PgBackend {
    type DB = Postgres;
    const BACKEND: &'static str = "postgres";
    /// Row locks are taken by the statements.
    const BEGIN_WRITE: &'static str = "BEGIN";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const KEY_SHARE: &'static str = " FOR KEY SHARE";

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn writer(&self) -> &Pool<Postgres> {
        &self.pool
    }

    async fn lock_analysis(&self) -> Result<Option<AnalysisLock>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ANALYSIS_LOCK_KEY)
            .fetch_one(&mut *c)
            .await?;
        Ok(got.then(|| AnalysisLock(Box::new(Held(Some(c))))))
    }

    async fn maintain(&self, now: Millis) -> Result<(), StoreError> {
        self.ensure_partitions(now).await
    }
}

impl PgStore {
    /// Connect and migrate (concurrent replicas serialise on sqlx's migration lock).
    pub(crate) async fn open(url: &str) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let opts: PgConnectOptions = url.parse().map_err(open_err)?;
        let opts = opts.options([
            (
                "statement_timeout",
                format!("{}ms", STATEMENT_TIMEOUT.as_millis()),
            ),
            (
                "idle_in_transaction_session_timeout",
                format!("{}ms", IDLE_IN_TRANSACTION.as_millis()),
            ),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|c, _| {
                Box::pin(async move {
                    let sync: String = sqlx::query_scalar("SHOW synchronous_commit")
                        .fetch_one(&mut *c)
                        .await?;
                    if sync == "off" {
                        sqlx::query("SET synchronous_commit = on")
                            .execute(&mut *c)
                            .await?;
                    }
                    Ok(())
                })
            })
            // sqlx counts a dropped transaction's queued ROLLBACK at once (the pool's own
            // ping sends it): the depth is exact here without a round trip.
            .after_release(|c, _| Box::pin(async move { Ok(outside_transaction(c)) }))
            .connect_with(opts)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let backend = PgBackend { pool };
        backend.ensure_partitions(Millis::now()).await?;
        Ok(Self::new(backend))
    }
}

impl PgBackend {
    /// Create the monthly `node_history` partitions of `now`'s month and the next two (a
    /// month whose rows already sit in the default partition is left there).
    async fn ensure_partitions(&self, now: Millis) -> Result<(), StoreError> {
        let t = now.to_datetime();
        let (mut y, mut m) = (t.year(), u8::from(t.month()));
        for _ in 0..3 {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let start = month_start(y, m);
            let end = month_start(ny, nm);
            let name = format!("node_history_{y:04}{m:02}");
            let ddl = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF node_history FOR VALUES FROM ({start}) TO ({end})"
            );
            if let Err(e) = sqlx::query(&ddl).execute(&self.pool).await {
                // Two replicas starting at once, or rows of that month in the default
                // partition: the default partition keeps working.
                tracing::debug!("partition {name} not created: {e}");
            }
            (y, m) = (ny, nm);
        }
        Ok(())
    }
}

/// Whether a pooled connection may be used again: not when a transaction is still open on it.
fn outside_transaction(c: &PgConnection) -> bool {
    let clean = !c.is_in_transaction();
    if !clean {
        tracing::warn!("closing a database connection left inside a transaction");
    }
    clean
}

fn month_start(y: i32, m: u8) -> i64 {
    let month = time::Month::try_from(m).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(y, month, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
        .unwrap_or(0)
}
