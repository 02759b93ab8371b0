//! The analyzer as one loaded value: advisory index, release catalogs and policy, loaded once from
//! a data directory and then used to judge any number of inventories. `nminus serve` keeps one
//! behind an `Arc` and swaps it when the feeds change; `nminus scan` loads one per run.
//!
//! [`Analyzer::judge_fleet`] matches advisories once per distinct package identity of the fleet
//! (see [`super::verdicts`]) and joins the verdicts into every node that has it, so the cost of
//! a re-analysis grows with the number of distinct versions, not with nodes × packages. The
//! result equals [`super::match_inventory`] per node (tests hold it to that).
//!
//! This module does no I/O beyond loading: it never touches a store or the network.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};

use super::matching::sort_findings;
use super::verdicts::{CarryStats, DistroKeys, VerdictCache};
use super::{
    apply_waivers, build_report, judge_currency, AdvisoryIndex, CatalogPart, CatalogPaths,
    Catalogs, Gate, GateTerm, ReportInput,
};
use crate::model::{
    Evidence, FeedStatus, Finding, FindingCode, Inventory, NodeInfo, Problem, Report, Severity,
    Subject,
};
use crate::policy::Policy;
use crate::sources::feeds::{FeedsConfig, FeedsError, SyncState};

/// Where an [`Analyzer`] loads from.
#[derive(Debug, Clone, Default)]
pub struct AnalyzerConfig {
    /// The data directory (`nminus sync`).
    pub data: PathBuf,
    /// Feed definitions (default: the shipped `advisories/sources.yaml`).
    pub sources: Option<PathBuf>,
    /// Only these feeds (empty: all).
    pub feeds: Vec<String>,
    /// Operator-written OSV advisories.
    pub local_advisories: Option<PathBuf>,
    /// apt `Packages` index files for `upgrade-available`.
    pub apt_indexes: Vec<PathBuf>,
    /// The compiled feed cache directory (`None`: parse every feed file).
    pub cache: Option<PathBuf>,
}

/// Why an analyzer could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The feed definitions are invalid.
    #[error(transparent)]
    Feeds(#[from] FeedsError),
}

/// Loaded feeds, catalogs and policy.
#[derive(Debug)]
pub struct Analyzer {
    index: AdvisoryIndex,
    catalogs: Catalogs,
    policy: Policy,
    gate: Gate,
    feeds: Vec<FeedStatus>,
    feed_problems: Vec<Problem>,
    not_judged: Vec<String>,
    revision: String,
    /// The part of `revision` currency depends on: release catalogs and policy, not advisories.
    catalog_revision: String,
    verdicts: Mutex<VerdictCache>,
    /// Configured advisory feeds that could not be loaded (see [`Analyzer::not_judged_for`]).
    missing_feeds: Vec<MissingFeed>,
}

/// A configured advisory feed that could not be loaded, and what it would have judged.
#[derive(Debug, Clone)]
struct MissingFeed {
    name: String,
    /// Lookup ecosystems (before any `:release`); `None`: unknown, taken as everything.
    covers: Option<Vec<String>>,
    reason: String,
}

/// Feed kinds that are release data (catalogs), not advisories, and the part each feeds.
const RELEASE_KINDS: [(&str, CatalogPart); 5] = [
    ("openstack-releases", CatalogPart::OpenStack),
    ("endoflife", CatalogPart::Lifecycles),
    ("openstack-requirements", CatalogPart::Requirements),
    ("distro-info", CatalogPart::Distro),
    ("debian-security-support", CatalogPart::Distro),
];

impl Analyzer {
    /// Load feeds (through the cache when `cfg.cache` is set) and catalogs from `cfg.data`.
    /// Feeds that cannot be read are recorded in [`Analyzer::feeds`] and
    /// [`Analyzer::not_judged`], never fatal; only invalid feed definitions are.
    pub fn load(cfg: &AnalyzerConfig, policy: Policy, today: Date) -> Result<Self, EngineError> {
        let all_cfg = match &cfg.sources {
            Some(p) => FeedsConfig::load(p)?,
            None => FeedsConfig::builtin(),
        };
        let feeds_cfg = all_cfg.clone().select(&cfg.feeds)?;
        // `--feed` picks advisory feeds; the release data (openstack/releases, endoflife.date,
        // upper-constraints) stays unless the selection names some of it, and then what it
        // leaves out was left out on purpose: not judged, without making the scan incomplete.
        let names_release = !cfg.feeds.is_empty()
            && feeds_cfg
                .feeds
                .iter()
                .any(|f| RELEASE_KINDS.iter().any(|(k, _)| *k == f.kind));
        let catalog_cfg = if names_release { &feeds_cfg } else { &all_cfg };
        let excluded: Vec<CatalogPart> = if names_release {
            RELEASE_KINDS
                .into_iter()
                .filter(|(k, _)| {
                    all_cfg.feeds.iter().any(|f| f.kind == *k)
                        && !feeds_cfg.feeds.iter().any(|f| f.kind == *k)
                })
                .map(|(_, p)| p)
                .collect()
        } else {
            Vec::new()
        };
        let sync_state = SyncState::load(&cfg.data);
        let paths = CatalogPaths {
            openstack: catalog_cfg.folder_of_kind(&cfg.data, "openstack-releases"),
            endoflife: catalog_cfg.folder_of_kind(&cfg.data, "endoflife"),
            apt: cfg.apt_indexes.clone(),
            distro_info: catalog_cfg.folder_of_kind(&cfg.data, "distro-info"),
            security_support: catalog_cfg.folder_of_kind(&cfg.data, "debian-security-support"),
            requirements: catalog_cfg.folder_of_kind(&cfg.data, "openstack-requirements"),
            synced: crate::sources::cache::synced_folders(catalog_cfg, &cfg.data, &sync_state),
        };
        // Feeds and release catalogs are independent: load them side by side.
        let (loaded, (mut catalogs, panicked)) = std::thread::scope(|s| {
            // No thread when there are no catalogs to read (a lockfile scan of one feed).
            let nothing = paths.openstack.is_none()
                && paths.endoflife.is_none()
                && paths.apt.is_empty()
                && paths.requirements.is_none();
            let catalogs =
                (!nothing).then(|| s.spawn(|| Catalogs::load_cached(&paths, cfg.cache.as_deref())));
            let loaded = if !cfg.data.is_dir() {
                crate::sources::feeds::LoadedFeeds::default()
            } else if let Some(cache) = cfg.cache.as_deref() {
                crate::sources::cache::load_all_cached(
                    &feeds_cfg,
                    &cfg.data,
                    cfg.local_advisories.as_deref(),
                    Some(today),
                    Some(cache),
                )
            } else {
                crate::sources::feeds::load_all(
                    &feeds_cfg,
                    &cfg.data,
                    cfg.local_advisories.as_deref(),
                    Some(today),
                )
            };
            let catalogs = match catalogs {
                Some(h) => h
                    .join()
                    .map_or_else(|_| (Catalogs::default(), true), |(c, _)| (c, false)),
                None => (Catalogs::load_cached(&paths, cfg.cache.as_deref()).0, false),
            };
            (loaded, catalogs)
        });
        let mut not_judged = Vec::new();
        if !loaded.status.iter().any(|f| f.loaded && f.name != "local") {
            not_judged.push(format!(
                "no advisory feed could be loaded from `{}`: vulnerabilities were not judged. Run `nminus sync --data {}` (or `--from MIRROR` when offline), or point --data at a synced directory",
                cfg.data.display(),
                cfg.data.display()
            ));
        }
        if panicked {
            not_judged
                .push("the release catalogs could not be loaded (their reader panicked)".into());
        }
        // Without a data directory, the one note above says it all.
        if !cfg.data.is_dir() {
            catalogs.notes.clear();
        }
        catalogs.notes.retain(|n| !excluded.contains(&n.part));
        let revision = revision_digest(&sync_state, &loaded.status, &policy);
        let catalog_revision =
            catalog_digest(&sync_state, &loaded.status, catalog_cfg, &paths, &policy);
        // Feeds that did not load: each makes the nodes with packages it covers incomplete
        // (unless no feed loaded at all, which the note above says once).
        let missing_feeds = if not_judged.is_empty() {
            loaded
                .status
                .iter()
                .filter(|s| !s.loaded)
                .filter_map(|s| {
                    let def = feeds_cfg.feeds.iter().find(|f| f.name == s.name)?;
                    let covers = def.covers();
                    if covers.as_ref().is_some_and(Vec::is_empty) {
                        return None;
                    }
                    Some(MissingFeed {
                        name: s.name.clone(),
                        covers,
                        reason: s.note.clone().unwrap_or_else(|| "not loaded".to_owned()),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        // The operator's own advisories not whole: every report incomplete (exit 2).
        if let Some(n) = loaded.local_incomplete(cfg.local_advisories.as_deref()) {
            not_judged.push(n);
        }
        let index = AdvisoryIndex::from_feeds(loaded.advisories);
        let mut analyzer = Self::from_parts(
            index,
            catalogs,
            policy,
            loaded.status,
            loaded.problems,
            not_judged,
            revision,
        );
        analyzer.missing_feeds = missing_feeds;
        analyzer.catalog_revision = catalog_revision;
        Ok(analyzer)
    }

    /// Build from parts already loaded (tests).
    pub fn from_parts(
        index: AdvisoryIndex,
        catalogs: Catalogs,
        policy: Policy,
        feeds: Vec<FeedStatus>,
        feed_problems: Vec<Problem>,
        not_judged: Vec<String>,
        revision: String,
    ) -> Self {
        let gate = Gate(if policy.gate.is_empty() {
            vec![GateTerm::Severity(Severity::Unknown)]
        } else {
            policy.gate.clone()
        });
        Self {
            index,
            catalogs,
            policy,
            gate,
            feeds,
            feed_problems,
            not_judged,
            catalog_revision: format!("parts:{revision}"),
            revision,
            verdicts: Mutex::new(VerdictCache::default()),
            missing_feeds: Vec::new(),
        }
    }

    /// The same analyzer over another advisory index (a feed change, as a reload would load
    /// it), with its own revision; verdicts start empty (see [`Analyzer::carry_verdicts`]).
    #[must_use]
    pub fn with_index(mut self, index: AdvisoryIndex, revision: String) -> Self {
        self.index = index;
        self.revision = revision;
        self.verdicts = Mutex::new(VerdictCache::default());
        self
    }

    /// Replace the gate (`nminus scan --fail-on`).
    #[must_use]
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.gate = gate;
        self
    }

    /// The advisory index.
    pub fn index(&self) -> &AdvisoryIndex {
        &self.index
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The gate: the policy's, or every vulnerability when it has none.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Feed status as loaded.
    pub fn feeds(&self) -> &[FeedStatus] {
        &self.feeds
    }

    /// What could not be judged for lack of data (for any node).
    pub fn not_judged(&self) -> Vec<String> {
        self.not_judged
            .iter()
            .cloned()
            .chain(self.catalogs.notes.iter().map(|n| n.message.clone()))
            .collect()
    }

    /// What could not be judged for these nodes: a missing part of the release data matters
    /// only when something needs it (OpenStack series for nodes running OpenStack services,
    /// lifecycles for nodes with a known OS, upper-constraints for nodes running services
    /// installed outside the OS package manager, under a policy with a `constraints` check).
    pub fn not_judged_for(&self, invs: &[&Inventory]) -> Vec<String> {
        let has_services = invs.iter().any(|i| !i.services.is_empty());
        let has_os = invs.iter().any(|i| i.os.is_some());
        let wants_constraints = self.policy.rules.iter().any(|r| r.constraints.is_some())
            && invs.iter().any(|i| {
                i.services.iter().any(|s| {
                    s.kind == "service"
                        && !matches!(
                            s.install.kind,
                            crate::model::InstallKind::Distro { owner: Some(_) }
                        )
                })
            });
        let relevant = |part| match part {
            CatalogPart::Requirements => wants_constraints,
            CatalogPart::OpenStack => has_services,
            CatalogPart::Lifecycles | CatalogPart::Distro => has_os,
            CatalogPart::Apt => true,
        };
        self.not_judged
            .iter()
            .cloned()
            .chain(
                self.catalogs
                    .notes
                    .iter()
                    .filter(|n| relevant(n.part))
                    .map(|n| n.message.clone()),
            )
            .chain(
                self.missing_feeds
                    .iter()
                    .filter_map(|m| missing_feed_note(m, invs)),
            )
            .collect()
    }

    /// A digest of what the verdicts depend on (feed sync state, feed sizes, policy): equal
    /// digests, equal verdicts for the same inventory and date.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The part of [`Analyzer::revision`] that currency, lifecycle, upgrade and constraints
    /// findings depend on (release catalogs and policy, not the advisories): equal catalog
    /// revisions, equal [`Analyzer::currency`] for the same inventory and date. An analyzer
    /// built from parts has one of its own (its whole revision); a feed change
    /// ([`Analyzer::with_index`]) keeps it.
    pub(crate) fn catalog_revision(&self) -> &str {
        &self.catalog_revision
    }

    /// The currency, lifecycle, upgrade and constraints findings of one inventory (what
    /// [`Analyzer::judge`] adds to the advisory findings).
    pub(crate) fn currency(&self, inv: &Inventory, as_of: Date) -> Vec<Finding> {
        judge_currency(inv, &self.catalogs, &self.policy, as_of)
    }

    /// The advisory verdict of package `p` on a node with distro keys `distro` running `os`
    /// (judged once per identity, as [`Analyzer::judge_fleet`] does).
    pub(crate) fn package_verdict(
        &self,
        p: &crate::model::Package,
        distro: &DistroKeys,
        os: Option<&crate::model::OsRelease>,
    ) -> super::verdicts::Verdict {
        self.verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .verdict(p, distro, os, &self.index)
    }

    /// Judge one inventory: advisories, currency, and the policy's waivers marked on the
    /// findings (waiver-level findings belong to the fleet: see [`Analyzer::report`]).
    pub fn judge(&self, inv: &Inventory, as_of: Date) -> Vec<Finding> {
        self.judge_fleet(&[inv], as_of).pop().unwrap_or_default()
    }

    /// Judge every inventory, matching each distinct package identity once (and once per
    /// advisory index: verdicts are remembered, and carried over a feed change by
    /// [`Analyzer::carry_verdicts`]). Returns the findings of each inventory, in the order given.
    pub fn judge_fleet(&self, invs: &[&Inventory], as_of: Date) -> Vec<Vec<Finding>> {
        invs.iter()
            .map(|inv| {
                let mut out = self.advisory_findings(inv);
                out.extend(self.currency(inv, as_of));
                out
            })
            .collect()
    }

    /// Mark the findings the policy's waivers cover as of `as_of` (`waived_by`), for a verdict
    /// stored per node (the server). A report applies the waivers itself ([`Self::report`]),
    /// with the fleet's waiver findings; judging applies none.
    pub fn waive(&self, findings: &mut [Finding], inv: &Inventory, as_of: Date) {
        // The counts are for the fleet's waiver findings (expired, unused): a report's.
        super::waivers::mark_waivers(findings, &[inv], &self.policy, as_of);
    }

    /// Judge one inventory package by package, without the verdict cache: the per-node path
    /// the fleet engine replaced, kept as its reference (tests compare the two node by node;
    /// the re-analysis benchmark measures both).
    pub fn judge_per_node(&self, inv: &Inventory, as_of: Date) -> Vec<Finding> {
        let mut out = super::match_inventory(inv, &self.index);
        out.extend(judge_currency(inv, &self.catalogs, &self.policy, as_of));
        out
    }

    /// The advisory findings of one inventory: a join of its packages' verdicts.
    pub(crate) fn advisory_findings(&self, inv: &Inventory) -> Vec<Finding> {
        let distro = DistroKeys::of(inv.os.as_ref());
        let mut out = Vec::new();
        {
            let mut cache = self
                .verdicts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for p in &inv.packages {
                let v = cache.verdict(p, &distro, inv.os.as_ref(), &self.index);
                v.findings_for(&inv.node.id, p, &mut out);
            }
        }
        sort_findings(&mut out);
        out
    }

    /// Take over the verdicts `old` judged that this analyzer's feeds did not change: after
    /// it, only the package identities looked up under a changed (ecosystem, package) key are
    /// judged again. Call before judging with `self`.
    pub fn carry_verdicts(&self, old: &Self) -> CarryStats {
        let (carried, stats) = {
            let cache = old
                .verdicts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.carry(&old.index, &self.index)
        };
        *self
            .verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = carried;
        stats
    }

    /// (identities remembered, identities judged) by this analyzer so far.
    pub fn verdict_counts(&self) -> (usize, usize) {
        let cache = self
            .verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (cache.len(), cache.judged())
    }

    /// An `inventory-stale` finding when `last_seen` is older than the policy's
    /// `inventory.max_age_hours` at `now`.
    pub fn stale_finding(
        &self,
        node: &NodeInfo,
        last_seen: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<Finding> {
        let max = self.policy.max_inventory_age_hours?;
        let age = now - last_seen;
        if age <= time::Duration::hours(i64::from(max)) {
            return None;
        }
        let seen = last_seen
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut f = Finding {
            code: FindingCode::InventoryStale,
            severity: Severity::Medium,
            node: node.id.clone(),
            subject: Subject {
                ecosystem: crate::model::SubjectEcosystem::Node,
                name: node.id.clone(),
                version: String::new(),
                purl: None,
                location: None,
            },
            advisory: None,
            fixed_in: Vec::new(),
            evidence: Evidence {
                searched: format!("last inventory or heartbeat of {}", node.id),
                matched: format!("last seen {seen}"),
                message: format!(
                    "{} has not reported for {} hours, more than the {max} the policy `{}` allows: check its agent",
                    node.id,
                    age.whole_hours(),
                    self.policy.name
                ),
            },
            waived_by: None,
            fingerprint: String::new(),
        };
        f.fingerprint = f.compute_fingerprint();
        Some(f)
    }

    /// The report over judged inventories: the fleet's waiver findings are computed here and
    /// reported with the first node's findings (as `nminus scan` does); `problems` are those
    /// outside the inventories (unreadable targets).
    pub fn report(
        &self,
        mut nodes: Vec<(&Inventory, Vec<Finding>)>,
        problems: Vec<Problem>,
        generated_at: String,
        as_of: Date,
    ) -> Report {
        let invs: Vec<&Inventory> = nodes.iter().map(|(i, _)| *i).collect();
        let mut all: Vec<Finding> = nodes.iter_mut().flat_map(|(_, f)| f.drain(..)).collect();
        let waiver_findings = apply_waivers(&mut all, &invs, &self.policy, as_of);
        let mut by_node: HashMap<String, Vec<Finding>> = HashMap::new();
        for f in all {
            by_node.entry(f.node.clone()).or_default().push(f);
        }
        for (inv, f) in &mut nodes {
            *f = by_node.remove(&inv.node.id).unwrap_or_default();
        }
        if let Some((_, f)) = nodes.first_mut() {
            f.extend(waiver_findings);
        }
        let openstack = match &self.catalogs.openstack {
            Some(cat) => invs
                .iter()
                .flat_map(|inv| crate::fleet::currency(inv, cat, as_of))
                .collect(),
            None => Vec::new(),
        };
        let mut report = build_report(ReportInput {
            nodes,
            feeds: self.feeds.clone(),
            problems,
            feed_problems: self.feed_problems.clone(),
            gate: &self.gate,
            generated_at,
            as_of: as_of.to_string(),
            not_judged: self.not_judged_for(&invs),
        });
        report.openstack = openstack;
        report
    }
}

/// The note for a feed that did not load, when some package of `invs` is one it would judge.
fn missing_feed_note(m: &MissingFeed, invs: &[&Inventory]) -> Option<String> {
    let mut packages = 0usize;
    let mut nodes = 0usize;
    for inv in invs {
        let n = inv
            .packages
            .iter()
            .filter(|p| {
                crate::analyze::matching::lookup_keys(p, inv.os.as_ref())
                    .iter()
                    .any(|k| match &m.covers {
                        None => true,
                        Some(c) => {
                            let eco = k.ecosystem.split(':').next().unwrap_or_default();
                            c.iter().any(|e| e == eco)
                        }
                    })
            })
            .count();
        packages += n;
        nodes += usize::from(n > 0);
    }
    if packages == 0 {
        return None;
    }
    let what = match &m.covers {
        Some(c) => format!(" ({})", c.join(", ")),
        None => String::new(),
    };
    Some(format!(
        "advisory feed `{}` could not be loaded ({}): {packages} package(s) it judges{what} on {nodes} node(s) were not checked against it. Sync it (`nminus sync --feed {}`, or `--from` a mirror), or leave it out on purpose (`--feed`, or your own `--sources`)",
        m.name, m.reason, m.name
    ))
}

/// sha256 over the sync state of the release-data feeds, the apt indexes named and the policy:
/// what the catalogs (and so the currency findings) depend on, the advisory feeds left out.
fn catalog_digest(
    state: &SyncState,
    status: &[FeedStatus],
    cfg: &FeedsConfig,
    paths: &CatalogPaths,
    policy: &Policy,
) -> String {
    let mut h = Sha256::new();
    for f in &cfg.feeds {
        if !RELEASE_KINDS.iter().any(|(k, _)| *k == f.kind) {
            continue;
        }
        match state.feeds.get(&f.name) {
            Some(s) => h.update(format!("{}\0{}\0{:?}\0", f.name, s.synced_at, s.revision)),
            None => h.update(format!("{}\0-\0", f.name)),
        }
        for st in status.iter().filter(|st| st.name == f.name) {
            h.update(format!("{}\0{}\0", st.loaded, st.advisories));
        }
    }
    for p in &paths.apt {
        h.update(format!("apt\0{}\0", p.display()));
    }
    h.update(format!("{policy:?}").as_bytes());
    let d = h.finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 over the sync state, the feeds as loaded and the policy.
fn revision_digest(state: &SyncState, feeds: &[FeedStatus], policy: &Policy) -> String {
    let mut h = Sha256::new();
    for (name, s) in &state.feeds {
        h.update(format!("{name}\0{}\0{:?}\0", s.synced_at, s.revision).as_bytes());
    }
    for f in feeds {
        h.update(format!("{}\0{}\0{}\0", f.name, f.loaded, f.advisories).as_bytes());
    }
    h.update(format!("{policy:?}").as_bytes());
    let d = h.finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::match_inventory;
    use crate::model::Package;

    fn pkg(name: &str, version: &str, loc: &str) -> Package {
        Package::pypi_for_test(name, version, loc)
    }

    fn inv(id: &str, packages: Vec<Package>) -> Inventory {
        Inventory::for_test(id, packages)
    }

    #[test]
    fn fleet_judgement_equals_per_node_matching() {
        let adv: crate::model::Advisory = serde_json::from_value(serde_json::json!({
            "id": "PYSEC-0000-1",
            "source": "test",
            "kind": "vulnerability",
            "summary": "x",
            "affected": [{
                "ecosystem": "pypi",
                "package": "foo",
                "ranges": {"type": "osv", "ranges": [{"events": [{"introduced": "0"}, {"fixed": "2.0"}]}]},
                "fixed": ["2.0"]
            }]
        }))
        .unwrap_or_else(|e| panic!("advisory fixture: {e}"));
        let idx = AdvisoryIndex::build(vec![adv]);
        let a = inv("a", vec![pkg("foo", "1.0", "/a"), pkg("bar", "1.0", "/a")]);
        let b = inv("b", vec![pkg("foo", "1.0", "/b"), pkg("foo", "2.0", "/b2")]);
        let want: Vec<Vec<Finding>> = [&a, &b].iter().map(|i| match_inventory(i, &idx)).collect();
        let policy = crate::policy::load("default").unwrap_or_else(|e| panic!("{e}"));
        let an = Analyzer::from_parts(
            idx,
            Catalogs::default(),
            policy,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            String::new(),
        );
        let got = an.judge_fleet(&[&a, &b], time::macros::date!(2026 - 01 - 01));
        assert_eq!(got, want);
        assert_eq!(got[0].len(), 1);
        assert_eq!(got[1].len(), 1);
    }

    fn advisory(id: &str, package: &str, fixed: &str) -> crate::model::Advisory {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "source": "test",
            "kind": "vulnerability",
            "summary": "x",
            "affected": [{
                "ecosystem": "pypi",
                "package": package,
                "ranges": {"type": "osv", "ranges": [{"events": [{"introduced": "0"}, {"fixed": fixed}]}]},
                "fixed": [fixed]
            }]
        }))
        .unwrap_or_else(|e| panic!("advisory fixture: {e}"))
    }

    fn analyzer(advisories: Vec<crate::model::Advisory>) -> Analyzer {
        let policy = crate::policy::load("default").unwrap_or_else(|e| panic!("{e}"));
        Analyzer::from_parts(
            AdvisoryIndex::build(advisories),
            Catalogs::default(),
            policy,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            String::new(),
        )
    }

    /// After a feed change, only identities looked up under a changed key are judged again,
    /// and the result is what judging from scratch gives.
    #[test]
    fn a_feed_change_rejudges_only_the_packages_it_touches() {
        let day = time::macros::date!(2026 - 01 - 01);
        let a = inv(
            "a",
            vec![
                pkg("foo", "2.5", "/a"),
                pkg("bar", "1.0", "/a"),
                pkg("baz", "1.0", "/a"),
            ],
        );
        let b = inv("b", vec![pkg("foo", "1.0", "/b"), pkg("bar", "1.0", "/b2")]);
        let old = analyzer(vec![
            advisory("PYSEC-1", "foo", "2.0"),
            advisory("PYSEC-2", "bar", "3.0"),
        ]);
        let before = old.judge_fleet(&[&a, &b], day);
        assert_eq!(
            old.verdict_counts(),
            (4, 4),
            "foo 2.5, foo 1.0, bar 1.0, baz 1.0"
        );
        assert_eq!(before[1].len(), 2);
        // foo's advisory now also covers 2.5; bar's is unchanged.
        let new = analyzer(vec![
            advisory("PYSEC-1", "foo", "3.0"),
            advisory("PYSEC-2", "bar", "3.0"),
        ]);
        let stats = new.carry_verdicts(&old);
        assert_eq!(stats.changed_keys, 1, "{stats:?}");
        assert_eq!((stats.kept, stats.dropped), (2, 2), "{stats:?}");
        let after = new.judge_fleet(&[&a, &b], day);
        assert_eq!(
            new.verdict_counts(),
            (4, 2),
            "only the two foo identities judged again"
        );
        for (inv, got) in [&a, &b].iter().zip(&after) {
            assert_eq!(got, &new.judge_per_node(inv, day));
        }
        assert_eq!(after[0].len(), 2, "foo 2.5 is now affected: {:?}", after[0]);
    }

    /// One identity on two nodes at two locations: each finding names its own node and location.
    #[test]
    fn verdicts_join_with_each_node_and_location() {
        let day = time::macros::date!(2026 - 01 - 01);
        let an = analyzer(vec![advisory("PYSEC-1", "foo", "2.0")]);
        let a = inv("a", vec![pkg("foo", "1.0", "/x"), pkg("foo", "1.0", "/y")]);
        let b = inv("b", vec![pkg("foo", "1.0", "/z")]);
        let got = an.judge_fleet(&[&a, &b], day);
        assert_eq!(an.verdict_counts(), (1, 1));
        let locs: Vec<(&str, &str)> = got
            .iter()
            .flatten()
            .map(|f| {
                (
                    f.node.as_str(),
                    f.subject.location.as_ref().map_or("", |l| l.path.as_str()),
                )
            })
            .collect();
        assert_eq!(locs, [("a", "/x"), ("a", "/y"), ("b", "/z")]);
        assert_eq!(got[0], an.judge_per_node(&a, day));
        assert_eq!(got[1], an.judge_per_node(&b, day));
    }

    /// Missing upper-constraints are "not judged" only under a policy with a `constraints`
    /// check and for nodes running services installed outside the OS package manager.
    #[test]
    fn missing_requirements_matter_only_when_relevant() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let today = time::macros::date!(2026 - 01 - 01);
        let cfg = AnalyzerConfig {
            data: tmp.path().to_path_buf(),
            ..AnalyzerConfig::default()
        };
        let load = |name: &str| {
            let policy = crate::policy::load(name).unwrap_or_else(|e| panic!("{e}"));
            Analyzer::load(&cfg, policy, today).unwrap_or_else(|e| panic!("{e}"))
        };
        let service = |install: &str| crate::model::ServiceInstance {
            deliverable: "nova".into(),
            kind: "service".into(),
            package: "nova".into(),
            version: "33.0.2".into(),
            install: install.parse().unwrap(),
            units: Vec::new(),
        };
        let mut venv = inv("venv", Vec::new());
        venv.services
            .push(service("venv:/openstack/venvs/nova-33.0.2"));
        let mut distro = inv("distro", Vec::new());
        distro.services.push(service("distro:dpkg"));
        let is_req = |n: &String| n.contains("openstack/requirements");
        let an = load("default");
        assert!(an.not_judged().iter().any(is_req), "{:?}", an.not_judged());
        assert!(an.not_judged_for(&[&venv]).iter().any(is_req));
        assert!(!an.not_judged_for(&[&distro]).iter().any(is_req));
        assert!(!an
            .not_judged_for(&[&inv("bare", Vec::new())])
            .iter()
            .any(is_req));
        let mut no_check = crate::policy::load("default").unwrap_or_else(|e| panic!("{e}"));
        no_check.rules.iter_mut().for_each(|r| r.constraints = None);
        let an = Analyzer::load(&cfg, no_check, today).unwrap_or_else(|e| panic!("{e}"));
        assert!(!an.not_judged_for(&[&venv]).iter().any(is_req));
    }

    /// The catalog revision (what currency depends on) stays over a feed change and moves with
    /// the policy; the whole revision moves with both.
    #[test]
    fn catalog_revision_follows_catalogs_and_policy_not_advisories() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let today = time::macros::date!(2026 - 01 - 01);
        let cfg = AnalyzerConfig {
            data: tmp.path().to_path_buf(),
            ..AnalyzerConfig::default()
        };
        let load = |policy| Analyzer::load(&cfg, policy, today).unwrap_or_else(|e| panic!("{e}"));
        let default = crate::policy::load("default").unwrap_or_else(|e| panic!("{e}"));
        let a = load(default.clone());
        let (rev, cat) = (a.revision().to_owned(), a.catalog_revision().to_owned());
        assert_eq!(
            load(default.clone()).catalog_revision(),
            cat,
            "deterministic"
        );
        let b = a.with_index(
            AdvisoryIndex::build(vec![advisory("PYSEC-1", "foo", "2.0")]),
            "feed-change".into(),
        );
        assert_ne!(b.revision(), rev);
        assert_eq!(b.catalog_revision(), cat, "a feed change keeps it");
        let mut other = default;
        other.max_inventory_age_hours = Some(1);
        let c = load(other);
        assert_ne!(c.catalog_revision(), cat, "a policy change moves it");
        assert_ne!(c.revision(), rev);
    }
}
