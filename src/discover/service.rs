//! Discovery on an interval, with probes between rounds: the loop of `nminus discover
//! --interval/--listen`, and the hook for running it inside another process. `nminus serve`
//! builds a [`Periodic`] with its own [`probe::Shared`] metrics, spawns [`Periodic::run`],
//! stores each round, and appends [`probe::Metrics::render`] to its `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::apidata::ApiData;
use super::cloud::CloudConfig;
use super::{probe, Discovery, EndpointRecord, Options, Target};

/// What to run.
pub(crate) struct Periodic {
    /// The cloud.
    pub cfg: CloudConfig,
    /// API data.
    pub data: Arc<ApiData>,
    /// Bounds and policy.
    pub opts: Options,
    /// Discover again after this long (`None`: once).
    pub interval: Option<Duration>,
    /// Probe every endpoint this often between rounds (`None`: no probes).
    pub probe_interval: Option<Duration>,
    /// Stop after this many rounds.
    pub rounds: Option<u64>,
    /// Where rounds and probes are recorded.
    pub metrics: probe::Shared,
}

fn series_ordinal(data: &ApiData, r: &EndpointRecord) -> Option<usize> {
    r.series
        .as_ref()
        .and_then(|e| e.series.as_deref())
        .and_then(|s| data.series_named(s))
        .map(|s| s.ordinal)
}

fn record_probes(metrics: &probe::Shared, data: &ApiData, records: Vec<EndpointRecord>) {
    if let Ok(mut m) = metrics.lock() {
        for r in records {
            let ord = series_ordinal(data, &r);
            m.probe(r, ord);
        }
    }
}

impl Periodic {
    /// Run the rounds; `on_round` gets each discovery (add findings to it, store it, write it)
    /// and gives it back, and an error from it stops the loop. Each round is judged against the
    /// previous successful one as given back (the first against `previous`). Returns the last
    /// discovery.
    pub(crate) async fn run<F>(
        self,
        mut previous: Option<Discovery>,
        now: impl Fn() -> String,
        mut on_round: impl FnMut(Discovery) -> F,
    ) -> anyhow::Result<Discovery>
    where
        F: std::future::Future<Output = anyhow::Result<Discovery>>,
    {
        let targets: Arc<Mutex<Vec<Target>>> = Arc::default();
        let prober = self.probe_interval.map(|every| {
            let (targets, metrics, data, opts, cfg) = (
                targets.clone(),
                self.metrics.clone(),
                self.data.clone(),
                self.opts.clone(),
                self.cfg.clone(),
            );
            tokio::spawn(async move {
                let Ok(client) =
                    super::http::client(opts.limits, cfg.cacert.as_deref(), cfg.insecure)
                else {
                    return;
                };
                loop {
                    tokio::time::sleep(every).await;
                    let list = targets.lock().map(|t| t.clone()).unwrap_or_default();
                    let records = super::inspect_all(&client, &list, &data, &opts).await;
                    record_probes(&metrics, &data, records);
                }
            })
        });
        let mut round = 0u64;
        let result = loop {
            round += 1;
            let (d, found) =
                match super::discover(&self.cfg, &self.data, &self.opts, previous.as_ref(), now())
                    .await
                {
                    Ok(x) => x,
                    Err(e) => break Err(e),
                };
            let ok = d.keystone.error.is_none();
            if let Some(e) = &d.keystone.error {
                // Every round authenticates anew (a token is never kept past its round), so a
                // refused or expired credential shows here, and the next round tries again.
                tracing::warn!(
                    "discovery round {round} of cloud `{}` failed, next round in {:?}: {}",
                    d.cloud,
                    self.interval.unwrap_or_default(),
                    e.message
                );
            }
            let at = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
            if let Ok(mut m) = self.metrics.lock() {
                let keep: Vec<_> = d.endpoints.iter().map(EndpointRecord::key).collect();
                m.discovery(ok, &keep, at);
            }
            if ok {
                record_probes(&self.metrics, &self.data, d.endpoints.clone());
                if let Ok(mut t) = targets.lock() {
                    *t = found;
                }
            }
            let d = match on_round(d).await {
                Ok(d) => d,
                Err(e) => break Err(e),
            };
            let last_round = self.rounds.is_some_and(|n| round >= n);
            match self.interval {
                Some(i) if !last_round => {
                    if ok {
                        previous = Some(d);
                    }
                    tokio::time::sleep(i).await;
                }
                _ => break Ok(d),
            }
        };
        if let Some(p) = prober {
            p.abort();
        }
        result
    }
}
