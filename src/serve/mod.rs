//! The central analyzer's HTTP service: agents enroll and push inventories; the service judges
//! them, stores them with their findings, re-evaluates stored inventories when the feeds change,
//! and serves nodes, findings, reports and metrics.
//!
//! [`app`] builds the router from an [`AppState`] (tests drive it in process); [`serve`] runs it
//! on a listener with graceful shutdown and, optionally, the periodic re-analysis. All state is
//! in the [`Store`]: replicas on one PostgreSQL answer alike.
//!
//! Routes: `POST /v1/enroll`, `POST /v1/inventories`, `POST /v1/reanalyze`,
//! `GET /v1/inventories`, `/v1/nodes`,
//! `/v1/nodes/{id}`, `/v1/nodes/{id}/history`, `/v1/findings`, `/v1/where`, `/v1/diff`,
//! `/v1/report.json`, `/v1/report.html`, `/healthz`, `/readyz`, `/metrics`.

pub mod analysis;
pub mod error;
pub mod metrics;
pub mod protocol;
pub mod query;
mod routes;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::analyze::{Analyzer, AnalyzerConfig};
use crate::store::Store;

pub use error::ApiError;

/// Default request body limit (after decompression): 64 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The enrollment secret (`None`: enrollment disabled).
    pub enroll_secret: Option<String>,
    /// A bearer token required on reads and `reanalyze` (`None`: reads are open).
    pub api_token: Option<String>,
    /// Maximum request body, after decompression.
    pub body_limit: usize,
    /// Where to reload the analyzer from (`None`: keep the one given).
    pub analyzer: Option<AnalyzerConfig>,
    /// Findings of analysis runs older than this, no longer current, are deleted.
    pub retain: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            enroll_secret: None,
            api_token: None,
            body_limit: DEFAULT_BODY_LIMIT,
            analyzer: None,
            retain: Duration::from_secs(90 * 86_400),
        }
    }
}

struct Inner {
    store: Arc<dyn Store>,
    analyzer: RwLock<Arc<Analyzer>>,
    options: ServeOptions,
    metrics: metrics::Metrics,
}

/// Shared state of the handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.0.store.backend())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over a store and a loaded analyzer.
    pub fn new(store: Arc<dyn Store>, analyzer: Analyzer, options: ServeOptions) -> Self {
        Self(Arc::new(Inner {
            store,
            analyzer: RwLock::new(Arc::new(analyzer)),
            options,
            metrics: metrics::Metrics::default(),
        }))
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// The analyzer in force.
    pub fn analyzer(&self) -> Arc<Analyzer> {
        Arc::clone(
            &self
                .0
                .analyzer
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Replace the analyzer.
    pub fn set_analyzer(&self, a: Analyzer) {
        *self
            .0
            .analyzer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(a);
    }

    /// Settings.
    pub fn options(&self) -> &ServeOptions {
        &self.0.options
    }

    /// Metrics of this process.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.metrics
    }

    /// Reload the analyzer from its data directory (when configured); returns whether it was
    /// reloaded.
    pub async fn reload_analyzer(&self) -> Result<bool, ApiError> {
        let Some(cfg) = self.0.options.analyzer.clone() else {
            return Ok(false);
        };
        let policy = self.analyzer().policy().clone();
        let today = crate::store::Millis::now().to_datetime().date();
        let a = tokio::task::spawn_blocking(move || Analyzer::load(&cfg, policy, today))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        self.set_analyzer(a);
        Ok(true)
    }
}

/// The router.
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serve `state` on `listener` until `shutdown` resolves; with `reanalyze_every`, re-evaluate
/// the fleet in the background when the feeds, policy or date changed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    reanalyze_every: Option<Duration>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bg = reanalyze_every.map(|every| {
        let st = state.clone();
        tokio::spawn(async move { analysis::background(st, every).await })
    });
    let r = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(h) = bg {
        h.abort();
    }
    r
}
