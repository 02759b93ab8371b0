//! `/metrics` in the Prometheus text format (0.0.4), written by hand: node gauges are read from
//! the store at scrape time (so every replica reports the same fleet); the findings gauge is
//! maintained ([`FindingCounters`]: updated on each stored push, re-read from the store after each
//! fleet run); latency histograms and counters are this process's own.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::Finding;
use crate::store::{FindingCount, FindingFilter, Millis, NodeRecord, Store, StoreError};

/// Bucket bounds in seconds.
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Hist {
    counts: [u64; BOUNDS.len()],
    count: u64,
    sum: f64,
}

/// A histogram family with one label.
#[derive(Debug, Default)]
pub struct Histogram {
    series: Mutex<BTreeMap<String, Hist>>,
}

impl Histogram {
    /// Record one observation under `label`.
    pub fn observe(&self, label: &str, d: Duration) {
        let v = d.as_secs_f64();
        let mut s = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = s.entry(label.to_owned()).or_default();
        for (i, b) in BOUNDS.iter().enumerate() {
            if v <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += v;
    }

    fn render(&self, out: &mut String, name: &str, help: &str, label: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let s = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (l, h) in &s {
            let l = escape(l);
            for (i, b) in BOUNDS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{label}=\"{l}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{{label}=\"{l}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{{label}=\"{l}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{{label}=\"{l}\"}} {}", h.count);
        }
    }
}

/// Counters with two labels.
#[derive(Debug, Default)]
pub struct Counter {
    series: Mutex<BTreeMap<(String, String), u64>>,
}

impl Counter {
    /// Add one.
    pub fn inc(&self, a: &str, b: &str) {
        *self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((a.to_owned(), b.to_owned()))
            .or_default() += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str, la: &str, lb: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let s = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for ((a, b), v) in &s {
            let _ = writeln!(
                out,
                "{name}{{{la}=\"{}\",{lb}=\"{}\"}} {v}",
                escape(a),
                escape(b)
            );
        }
    }
}

/// This process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Push handling time, by kind (`heartbeat`, `inventory`).
    pub ingest: Histogram,
    /// Analysis time, by kind (`push`: one node; `fleet`: every stored inventory).
    pub analysis: Histogram,
    /// Push handling time by stage (`read`, `parse`, `judge`, `store`) for full inventories.
    pub stages: Histogram,
    /// Pushes by kind and result.
    pub pushes: Counter,
    /// Open findings by site, code and severity.
    pub findings: FindingCounters,
}

/// A node's open findings counted by (code, severity), under its site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NodeCounts {
    site: String,
    counts: BTreeMap<(&'static str, &'static str), i64>,
}

impl NodeCounts {
    fn of(site: &str, findings: &[Finding]) -> Self {
        let mut counts = BTreeMap::new();
        for f in findings.iter().filter(|f| f.waived_by.is_none()) {
            *counts
                .entry((f.code.as_str(), f.severity.as_str()))
                .or_default() += 1;
        }
        Self {
            site: site.to_owned(),
            counts,
        }
    }
}

/// What [`FindingCounters`] holds.
#[derive(Debug, Default)]
struct CountState {
    /// Each (not revoked) node's contribution.
    per_node: HashMap<String, NodeCounts>,
    /// The sums by (site, code, severity).
    totals: BTreeMap<(String, &'static str, &'static str), i64>,
    /// While a seed reads the store: the nodes written meanwhile (`None`: removed), applied
    /// over what the seed read.
    during_seed: Option<HashMap<String, Option<NodeCounts>>>,
    /// The finished fleet run the seed read after (`None`: not seeded yet).
    seeded_after: Option<Option<i64>>,
}

impl CountState {
    fn apply(&mut self, node: &str, new: Option<NodeCounts>) {
        if let Some(old) = self.per_node.remove(node) {
            for ((code, sev), n) in old.counts {
                let key = (old.site.clone(), code, sev);
                if let Some(t) = self.totals.get_mut(&key) {
                    *t -= n;
                    if *t <= 0 {
                        self.totals.remove(&key);
                    }
                }
            }
        }
        if let Some(new) = new {
            for ((code, sev), n) in &new.counts {
                *self
                    .totals
                    .entry((new.site.clone(), code, sev))
                    .or_default() += n;
            }
            self.per_node.insert(node.to_owned(), new);
        }
    }
}

/// The `nminus_findings` gauge, maintained: each stored push replaces its node's counts, and
/// the whole is read from the store once at start-up and again after each finished fleet run
/// (so a scrape never aggregates all findings). A seed runs alone; pushes stored while it
/// reads win over what it read.
#[derive(Debug, Default)]
pub struct FindingCounters {
    state: Mutex<CountState>,
    seeding: tokio::sync::Mutex<()>,
}

impl FindingCounters {
    fn lock(&self) -> std::sync::MutexGuard<'_, CountState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A node's findings were stored (`findings` all of its current ones, waived included).
    pub(crate) fn node_judged(&self, node: &str, site: Option<&str>, findings: &[Finding]) {
        let counts = NodeCounts::of(site.unwrap_or_default(), findings);
        let mut s = self.lock();
        if let Some(d) = s.during_seed.as_mut() {
            d.insert(node.to_owned(), Some(counts.clone()));
        }
        s.apply(node, Some(counts));
    }

    /// Read the counts from the store unless they were read after `fleet_run` (the id of the
    /// latest finished fleet run) already.
    pub(crate) async fn seed_if_stale(
        &self,
        store: &dyn Store,
        fleet_run: Option<i64>,
    ) -> Result<(), StoreError> {
        if self.lock().seeded_after == Some(fleet_run) {
            return Ok(());
        }
        let _one = self.seeding.lock().await;
        if self.lock().seeded_after == Some(fleet_run) {
            return Ok(());
        }
        self.lock().during_seed = Some(HashMap::new());
        let r = Self::read(store).await;
        let mut s = self.lock();
        let during = s.during_seed.take().unwrap_or_default();
        let per_node = r?;
        s.per_node.clear();
        s.totals.clear();
        for (node, c) in per_node {
            s.apply(&node, Some(c));
        }
        for (node, c) in during {
            s.apply(&node, c);
        }
        s.seeded_after = Some(fleet_run);
        Ok(())
    }

    async fn read(store: &dyn Store) -> Result<HashMap<String, NodeCounts>, StoreError> {
        let nodes = store.nodes().await?;
        let mut site: HashMap<String, String> = nodes
            .into_iter()
            .filter(|n| !n.revoked)
            .map(|n| (n.id, n.site.unwrap_or_default()))
            .collect();
        let mut by_node: HashMap<String, Vec<Finding>> = HashMap::new();
        for f in store.findings(&FindingFilter::default()).await? {
            if site.contains_key(&f.node) {
                by_node.entry(f.node.clone()).or_default().push(f);
            }
        }
        Ok(by_node
            .into_iter()
            .map(|(node, f)| {
                let s = site.remove(&node).unwrap_or_default();
                let c = NodeCounts::of(&s, &f);
                (node, c)
            })
            .collect())
    }

    /// The counts by site, code and severity (in that order).
    pub fn snapshot(&self) -> Vec<FindingCount> {
        self.lock()
            .totals
            .iter()
            .map(|((site, code, sev), n)| FindingCount {
                site: site.clone(),
                code: (*code).to_owned(),
                severity: (*sev).to_owned(),
                count: *n,
            })
            .collect()
    }
}

/// Escape a label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Fleet facts for a scrape.
#[derive(Debug, Default)]
pub(crate) struct FleetFacts {
    /// Every node, with its status.
    pub nodes: Vec<(NodeRecord, &'static str)>,
    /// Open findings by (site, code, severity).
    pub findings: Vec<crate::store::FindingCount>,
    /// Latest finished fleet run.
    pub last_fleet_run: Option<crate::store::RunRecord>,
    /// Feeds: (name, loaded, advisories).
    pub feeds: Vec<(String, bool, usize)>,
    /// Scrape time.
    pub now: Millis,
}

/// Render everything.
pub(crate) fn render(m: &Metrics, f: &FleetFacts) -> String {
    let mut out = String::with_capacity(8192);
    let site_of = |n: &NodeRecord| n.site.clone().unwrap_or_default();

    let _ = writeln!(
        out,
        "# HELP nminus_build_info The nminus version serving.\n# TYPE nminus_build_info gauge\nnminus_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );

    let mut by_status: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut judged: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut age: BTreeMap<String, f64> = BTreeMap::new();
    for (n, status) in &f.nodes {
        *by_status.entry((site_of(n), status)).or_default() += 1;
        if n.revoked {
            continue;
        }
        if let Some(c) = n.compliant {
            let e = judged.entry(site_of(n)).or_default();
            e.0 += 1;
            if c {
                e.1 += 1;
            }
        }
        if let Some(seen) = n.last_seen {
            let a = ((f.now.0 - seen.0).max(0) as f64) / 1000.0;
            let e = age.entry(site_of(n)).or_insert(0.0);
            *e = e.max(a);
        }
    }
    out.push_str("# HELP nminus_nodes Nodes by site and status (active, stale, enrolled: never pushed, revoked).\n# TYPE nminus_nodes gauge\n");
    for ((site, status), v) in &by_status {
        let _ = writeln!(
            out,
            "nminus_nodes{{site=\"{}\",status=\"{status}\"}} {v}",
            escape(site)
        );
    }
    out.push_str("# HELP nminus_findings Open (not waived) findings of each node's current analysis, by site, code and severity.\n# TYPE nminus_findings gauge\n");
    for c in &f.findings {
        let _ = writeln!(
            out,
            "nminus_findings{{site=\"{}\",code=\"{}\",severity=\"{}\"}} {}",
            escape(&c.site),
            escape(&c.code),
            escape(&c.severity),
            c.count
        );
    }
    let (all, ok) = judged
        .values()
        .fold((0, 0), |(a, o), (x, y)| (a + x, o + y));
    out.push_str("# HELP nminus_compliance_ratio Share of judged nodes with no open finding failing the gate (1 when none is judged).\n# TYPE nminus_compliance_ratio gauge\n");
    let _ = writeln!(out, "nminus_compliance_ratio {}", ratio(ok, all));
    out.push_str("# HELP nminus_site_compliance_ratio Share of a site's judged nodes with no open finding failing the gate.\n# TYPE nminus_site_compliance_ratio gauge\n");
    for (site, (a, o)) in &judged {
        let _ = writeln!(
            out,
            "nminus_site_compliance_ratio{{site=\"{}\"}} {}",
            escape(site),
            ratio(*o, *a)
        );
    }
    out.push_str("# HELP nminus_inventory_age_max_seconds Time since the least recently seen node of a site last pushed or sent a heartbeat.\n# TYPE nminus_inventory_age_max_seconds gauge\n");
    for (site, a) in &age {
        let _ = writeln!(
            out,
            "nminus_inventory_age_max_seconds{{site=\"{}\"}} {a}",
            escape(site)
        );
    }
    out.push_str("# HELP nminus_last_fleet_analysis_timestamp_seconds When the latest fleet re-analysis finished (0: never).\n# TYPE nminus_last_fleet_analysis_timestamp_seconds gauge\n");
    let last = f
        .last_fleet_run
        .as_ref()
        .and_then(|r| r.finished_at)
        .map_or(0.0, |t| t.0 as f64 / 1000.0);
    let _ = writeln!(out, "nminus_last_fleet_analysis_timestamp_seconds {last}");
    out.push_str("# HELP nminus_feed_advisories Advisories loaded per feed by this replica.\n# TYPE nminus_feed_advisories gauge\n");
    for (name, _, n) in &f.feeds {
        let _ = writeln!(
            out,
            "nminus_feed_advisories{{feed=\"{}\"}} {n}",
            escape(name)
        );
    }
    out.push_str("# HELP nminus_feed_loaded Whether this replica could load a feed (1) or not (0).\n# TYPE nminus_feed_loaded gauge\n");
    for (name, loaded, _) in &f.feeds {
        let _ = writeln!(
            out,
            "nminus_feed_loaded{{feed=\"{}\"}} {}",
            escape(name),
            u8::from(*loaded)
        );
    }
    m.pushes.render(
        &mut out,
        "nminus_pushes_total",
        "Pushes handled by this replica, by kind and result.",
        "kind",
        "result",
    );
    m.ingest.render(
        &mut out,
        "nminus_ingest_duration_seconds",
        "Time to handle a push, by kind (heartbeat, inventory).",
        "kind",
    );
    m.stages.render(
        &mut out,
        "nminus_ingest_stage_duration_seconds",
        "Time spent on full inventory pushes by stage (read: body and gunzip, parse: JSON and content hash, judge, store: the transaction).",
        "stage",
    );
    m.analysis.render(
        &mut out,
        "nminus_analysis_duration_seconds",
        "Time to judge, by kind (push: one node on receipt; fleet: every stored inventory).",
        "kind",
    );
    out
}

fn ratio(ok: u64, all: u64) -> f64 {
    if all == 0 {
        1.0
    } else {
        ok as f64 / all as f64
    }
}
