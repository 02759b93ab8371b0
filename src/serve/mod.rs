//! The central analyzer's HTTP service: agents enroll and push inventories; the service judges
//! them, stores them with their findings, re-evaluates stored inventories when the feeds change,
//! and serves nodes, findings, reports and metrics.
//!
//! [`app`] builds the router from an [`AppState`] (tests drive it in process); [`serve`] runs it
//! on a listener with graceful shutdown and, optionally, the periodic re-analysis. All state is
//! in the [`Store`]: replicas on one PostgreSQL answer alike.
//!
//! Who may call what is in [`auth`]; the limits that keep it answering under hostile clients
//! in [`limits`] and [`listener`].
//!
//! Routes: `POST /v1/enroll`, `POST /v1/inventories`, `POST /v1/reanalyze`,
//! `GET /v1/inventories`, `/v1/nodes`,
//! `/v1/nodes/{id}`, `/v1/nodes/{id}/history`, `/v1/findings`, `/v1/where`, `/v1/diff`,
//! `/v1/report.json`, `/v1/report.html`, `/healthz`, `/readyz`, `/metrics`.

pub(crate) mod analysis;
pub(crate) mod auth;
pub(crate) mod batch;
pub(crate) mod controlplane;
pub(crate) mod error;
mod fleet_memo;
pub(crate) mod limits;
pub(crate) mod listener;
pub(crate) mod metrics;
pub(crate) mod query;
mod routes;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::analyze::{Analyzer, AnalyzerConfig};
use crate::store::Store;

pub use auth::{Access, ApiTokens, Role};
pub(crate) use error::ApiError;
pub(crate) use limits::Limits;
pub(crate) use listener::{tls_acceptor, Peer, TlsFiles};

/// Default request body limit (after decompression): 64 MiB.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The enrollment secret (`None`: enrollment disabled).
    pub enroll_secret: Option<String>,
    /// Who may read, operate and scrape metrics (default: nobody).
    pub access: Access,
    /// Agents must present a client certificate (`--tls-client-ca`) to enroll and push.
    pub require_client_cert: bool,
    /// Timeouts, connection cap, push memory and rate.
    pub limits: Limits,
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
            access: Access::default(),
            require_client_cert: false,
            limits: Limits::default(),
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
    push_budget: limits::PushBudget,
    push_rate: limits::PushRate,
    node_tokens: auth::NodeTokens,
    writer: std::sync::OnceLock<batch::Writer>,
    probe_metrics: std::sync::OnceLock<crate::discover::probe::Shared>,
    fleet: fleet_memo::FleetMemo,
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
            push_budget: limits::PushBudget::new(options.limits.push_memory),
            push_rate: limits::PushRate::new(options.limits.push_rate),
            node_tokens: auth::NodeTokens::default(),
            writer: std::sync::OnceLock::new(),
            options,
            metrics: metrics::Metrics::default(),
            probe_metrics: std::sync::OnceLock::new(),
            fleet: fleet_memo::FleetMemo::default(),
        }))
    }

    /// Serve these discovery probe metrics on `/metrics` too (the first call wins).
    pub(crate) fn set_probe_metrics(&self, m: crate::discover::probe::Shared) {
        let _ = self.0.probe_metrics.set(m);
    }

    /// This replica's memory of the fleet (see [`fleet_memo`]).
    pub(crate) fn fleet_memo(&self) -> &fleet_memo::FleetMemo {
        &self.0.fleet
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

    pub(crate) fn push_budget(&self) -> &limits::PushBudget {
        &self.0.push_budget
    }

    pub(crate) fn push_rate(&self) -> &limits::PushRate {
        &self.0.push_rate
    }

    pub(crate) fn node_tokens(&self) -> &auth::NodeTokens {
        &self.0.node_tokens
    }

    /// The group-commit writer of heartbeats and pushes, started on first use (on the
    /// runtime of the handler that first needs it).
    pub(crate) fn writer(&self) -> &batch::Writer {
        self.0
            .writer
            .get_or_init(|| batch::Writer::spawn(Arc::clone(&self.0.store)))
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
        let old = self.analyzer();
        let a = tokio::task::spawn_blocking(move || {
            let a = Analyzer::load(&cfg, policy, today)?;
            // Verdicts of packages the feed change did not touch stay valid.
            let carried = a.carry_verdicts(&old);
            tracing::debug!("verdicts carried over a feed reload: {carried:?}");
            Ok::<_, crate::analyze::EngineError>(a)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        self.set_analyzer(a);
        Ok(true)
    }
}

/// The router: the routes, the body deadline, the guard of `/metrics` and of the agent routes.
pub fn app(state: AppState) -> axum::Router {
    let timeout = state.options().limits.body_timeout;
    routes::router(state.clone())
        .layer(axum::middleware::from_fn_with_state(state, guard))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            limits::body_deadline,
        ))
}

/// `/metrics` needs the `metrics` role (or a listener of its own, [`Endpoints::metrics`]);
/// enrolling and pushing need a client certificate when `--tls-client-ca` is set.
async fn guard(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    if path == "/metrics" {
        if let Err(e) = st.options().access.require(req.headers(), Role::Metrics) {
            return e.into_response();
        }
    }
    let agent_route = path == "/v1/enroll"
        || (path == "/v1/inventories" && req.method() == axum::http::Method::POST);
    if agent_route
        && st.options().require_client_cert
        && !req
            .extensions()
            .get::<Peer>()
            .is_some_and(|p| p.client_cert)
    {
        return ApiError::Forbidden(
            "enrolling and pushing need a client certificate signed by the server's --tls-client-ca"
                .into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// Where the service listens.
pub(crate) struct Endpoints {
    /// The API.
    pub listener: tokio::net::TcpListener,
    /// TLS on the API listener ([`tls_acceptor`]).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// A listener of its own for `/metrics` (plain HTTP, no token: reach it only from the
    /// monitoring network).
    pub metrics: Option<tokio::net::TcpListener>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .field("metrics", &self.metrics)
            .finish()
    }
}

/// Serve `state` on `endpoints` until `shutdown` resolves; with `reanalyze_every`, re-evaluate
/// the fleet in the background when the feeds, policy or date changed.
pub(crate) async fn serve(
    endpoints: Endpoints,
    state: AppState,
    reanalyze_every: Option<Duration>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The findings gauge, read once now rather than on the first scrape.
    let seed = state.clone();
    tokio::spawn(async move {
        let r = match seed.store().latest_run("fleet").await {
            Ok(last) => {
                let c = &seed.metrics().findings;
                c.seed_if_stale(seed.store(), last.map(|r| r.id)).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            tracing::warn!("cannot count the stored findings: {e}");
        }
    });
    let bg = reanalyze_every.map(|every| {
        let st = state.clone();
        tokio::spawn(async move { analysis::background(st, every).await })
    });
    let l = &state.options().limits;
    let fd_limit = limits::raise_fd_limit();
    let cap = limits::connection_cap(l.max_connections, fd_limit);
    tracing::info!("at most {cap} connections (open-file limit {fd_limit})");
    let cfg = listener::ListenerConfig {
        header_timeout: l.header_timeout,
        write_timeout: l.write_timeout,
        max_connections: cap,
        tls: endpoints.tls,
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let metrics = endpoints.metrics.map(|m| {
        let router = axum::Router::new()
            .route("/metrics", axum::routing::get(routes::metrics))
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                l.body_timeout,
                limits::body_deadline,
            ));
        let cfg = listener::ListenerConfig {
            max_connections: 64,
            tls: None,
            ..cfg.clone()
        };
        tokio::spawn(listener::run(m, router, cfg, rx.clone()))
    });
    let r = listener::run(endpoints.listener, app(state.clone()), cfg, rx).await;
    if let Some(h) = bg {
        h.abort();
    }
    if let Some(m) = metrics {
        m.abort();
    }
    r
}
