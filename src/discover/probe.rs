//! Service-level probes: every discovered endpoint is probed on an interval (the same bounded
//! requests as discovery) and the results are exported as Prometheus metrics, per service
//! type, region and interface. Discovery itself is repeated on its own interval, so an endpoint
//! added to the catalog is probed from the next round on, without a restart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::{EndpointRecord, EndpointStatus};

/// Latency buckets, seconds.
pub(crate) const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Clone)]
struct Series {
    record: EndpointRecord,
    series_ordinal: Option<usize>,
    latency: Histogram,
}

/// What `/metrics` shows; shared between the probe loop and the HTTP server.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    endpoints: BTreeMap<(String, String, String, String), Series>,
    probes_ok: u64,
    probes_failed: u64,
    discoveries_ok: u64,
    discoveries_failed: u64,
    last_discovery: Option<f64>,
    last_discovery_error: bool,
}

/// Shared metrics.
pub(crate) type Shared = Arc<Mutex<Metrics>>;

impl Metrics {
    /// Record a discovery round: endpoints gone from the catalog stop being exported.
    pub(crate) fn discovery(
        &mut self,
        ok: bool,
        keep: &[(String, String, String, String)],
        at: f64,
    ) {
        if ok {
            self.discoveries_ok += 1;
            self.last_discovery = Some(at);
            self.endpoints.retain(|k, _| keep.contains(k));
        } else {
            self.discoveries_failed += 1;
        }
        self.last_discovery_error = !ok;
    }

    /// Record one probe.
    pub(crate) fn probe(&mut self, r: EndpointRecord, series_ordinal: Option<usize>) {
        if r.status == EndpointStatus::Ok {
            self.probes_ok += 1;
        } else {
            self.probes_failed += 1;
        }
        let e = self.endpoints.entry(r.key()).or_insert_with(|| Series {
            record: r.clone(),
            series_ordinal,
            latency: Histogram::default(),
        });
        if let Some(ms) = r.latency_ms {
            #[allow(clippy::cast_precision_loss)]
            let s = ms as f64 / 1000.0;
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    e.latency.counts[i] += 1;
                }
            }
            e.latency.count += 1;
            e.latency.sum += s;
        }
        e.record = r;
        e.series_ordinal = series_ordinal;
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let mut o = String::new();
        let esc = |s: &str| {
            s.chars()
                .flat_map(|c| match c {
                    '\\' => vec!['\\', '\\'],
                    '"' => vec!['\\', '"'],
                    '\n' => vec!['\\', 'n'],
                    c => vec![c],
                })
                .collect::<String>()
        };
        let labels = |r: &EndpointRecord| {
            format!(
                "service_type=\"{}\",region=\"{}\",site=\"{}\",interface=\"{}\",url=\"{}\"",
                esc(&r.service_type),
                esc(&r.region),
                esc(&r.site),
                esc(&r.interface),
                esc(&r.url)
            )
        };
        let _ = writeln!(o, "# HELP nminus_openstack_endpoint_up 1 when the endpoint's last probe read a version document.\n# TYPE nminus_openstack_endpoint_up gauge");
        for s in self.endpoints.values() {
            let up = u8::from(s.record.status == EndpointStatus::Ok);
            let _ = writeln!(
                o,
                "nminus_openstack_endpoint_up{{{}}} {up}",
                labels(&s.record)
            );
        }
        let _ = writeln!(o, "# HELP nminus_openstack_endpoint_http_status HTTP status of the last probe (0 = no answer).\n# TYPE nminus_openstack_endpoint_http_status gauge");
        for s in self.endpoints.values() {
            let _ = writeln!(
                o,
                "nminus_openstack_endpoint_http_status{{{}}} {}",
                labels(&s.record),
                s.record.http_status.unwrap_or(0)
            );
        }
        let _ = writeln!(o, "# HELP nminus_openstack_endpoint_probe_duration_seconds Time to the endpoint's version document.\n# TYPE nminus_openstack_endpoint_probe_duration_seconds histogram");
        for s in self.endpoints.values() {
            let l = labels(&s.record);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "nminus_openstack_endpoint_probe_duration_seconds_bucket{{{l},le=\"{b}\"}} {}",
                    s.latency.counts[i]
                );
            }
            let _ = writeln!(
                o,
                "nminus_openstack_endpoint_probe_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}\nnminus_openstack_endpoint_probe_duration_seconds_sum{{{l}}} {}\nnminus_openstack_endpoint_probe_duration_seconds_count{{{l}}} {}",
                s.latency.count, s.latency.sum, s.latency.count
            );
        }
        let _ = writeln!(o, "# HELP nminus_openstack_endpoint_api_info The API version the endpoint serves and the series its maximum implies (value 1).\n# TYPE nminus_openstack_endpoint_api_info gauge");
        for s in self
            .endpoints
            .values()
            .filter(|s| s.record.status == EndpointStatus::Ok)
        {
            let r = &s.record;
            let show = |v: Option<super::ApiVersion>| v.map(|v| v.to_string()).unwrap_or_default();
            let _ = writeln!(
                o,
                "nminus_openstack_endpoint_api_info{{{},version=\"{}\",min_microversion=\"{}\",max_microversion=\"{}\",version_id=\"{}\",series=\"{}\"}} 1",
                labels(r),
                esc(r.version.as_deref().unwrap_or("")),
                show(r.min_microversion),
                show(r.max_microversion),
                show(r.max_version_id),
                esc(r.series.as_ref().and_then(|e| e.series.as_deref()).unwrap_or(""))
            );
        }
        let _ = writeln!(o, "# HELP nminus_openstack_endpoint_max_microversion Maximum microversion as MAJOR + MINOR/1000 (2.104 -> 2.104, 2.9 -> 2.009); changes on an upgrade.\n# TYPE nminus_openstack_endpoint_max_microversion gauge");
        for s in self.endpoints.values() {
            if let Some(v) = s.record.max_microversion.or(s.record.max_version_id) {
                let _ = writeln!(
                    o,
                    "nminus_openstack_endpoint_max_microversion{{{}}} {}",
                    labels(&s.record),
                    f64::from(v.major) + f64::from(v.minor) / 1000.0
                );
            }
        }
        let _ = writeln!(o, "# HELP nminus_openstack_endpoint_series_ordinal Chronological index of the implied series (series_status.yaml, oldest = 0).\n# TYPE nminus_openstack_endpoint_series_ordinal gauge");
        for s in self.endpoints.values() {
            if let Some(n) = s.series_ordinal {
                let _ = writeln!(
                    o,
                    "nminus_openstack_endpoint_series_ordinal{{{}}} {n}",
                    labels(&s.record)
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP nminus_openstack_probes_total Probes made, by result.\n# TYPE nminus_openstack_probes_total counter\nnminus_openstack_probes_total{{result=\"ok\"}} {}\nnminus_openstack_probes_total{{result=\"failed\"}} {}",
            self.probes_ok, self.probes_failed
        );
        let _ = writeln!(
            o,
            "# HELP nminus_openstack_discoveries_total Discovery rounds (Keystone and catalog), by result.\n# TYPE nminus_openstack_discoveries_total counter\nnminus_openstack_discoveries_total{{result=\"ok\"}} {}\nnminus_openstack_discoveries_total{{result=\"failed\"}} {}",
            self.discoveries_ok, self.discoveries_failed
        );
        let _ = writeln!(
            o,
            "# HELP nminus_openstack_discovery_last_success_timestamp_seconds When the catalog was last read.\n# TYPE nminus_openstack_discovery_last_success_timestamp_seconds gauge\nnminus_openstack_discovery_last_success_timestamp_seconds {}",
            self.last_discovery.unwrap_or(0.0)
        );
        let _ = writeln!(
            o,
            "# HELP nminus_openstack_discovery_failing 1 when the last discovery round failed (Keystone refused or unreachable).\n# TYPE nminus_openstack_discovery_failing gauge\nnminus_openstack_discovery_failing {}",
            u8::from(self.last_discovery_error)
        );
        o
    }
}

/// Serve `/metrics` on `listener` until the process ends.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Shared,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    let body = m.lock().map(|m| m.render()).unwrap_or_default();
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    axum::serve(listener, app).await
}
