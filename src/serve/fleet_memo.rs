//! A replica's compact memory of the fleet, so that a fleet round costs what is distinct.
//!
//! Per node it keeps the hash of the current inventory it holds, the inventory without its
//! packages (shared `Arc`) and its packages as `u32` ids into an interner of distinct packages
//! (each an `Arc<Package>`, keyed by the store's content id), so the fleet costs 4 bytes a
//! package occurrence, not a copy. The store stays the truth: an entry is keyed by content hash
//! and is replaced when a round sees another hash for the node, dropped when the node is gone.
//!
//! Per distinct package and distro release it keeps, for the analyzer in force, the package's
//! advisory finding templates and their [`finding_key`]s; per node the currency findings,
//! keyed by (inventory hash, catalog revision, date), so a feed change or a second round on the
//! same day does not recompute them. A node's findings digest ([`Judged::digest`]) is then
//! computed from ids and precomputed keys; only nodes whose digest differs from the stored one
//! have their findings built ([`FleetMemo::judge`]).
//!
//! No I/O here: the round (`serve::analysis`) reads heads and inventories and writes results.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use time::Date;

use crate::analyze::{waiver_covers, Analyzer, DistroKeys};
use crate::model::{Finding, Inventory, Package};
use crate::store::{finding_key, findings_digest, CurrentInventory, FindingKeyHash, FleetHead};

/// Interned packages past which, when fewer than half are still used by a node, the memory is
/// dropped and built again from the store (the interner never renumbers).
const COMPACT_AT: usize = 65_536;

/// The fleet as one replica remembers it.
#[derive(Debug, Default)]
pub(crate) struct FleetMemo {
    state: Mutex<MemoState>,
}

#[derive(Debug, Default)]
struct MemoState {
    nodes: BTreeMap<String, NodeMemo>,
    packages: Interner,
    /// Distinct distro keys of the nodes (a node names one by index).
    distros: Vec<DistroKeys>,
    judged: Option<PackageJudgements>,
}

/// One node: its current inventory as ids.
#[derive(Debug)]
struct NodeMemo {
    hash: String,
    /// The inventory without its packages.
    skeleton: Arc<Inventory>,
    ids: Box<[u32]>,
    distro: usize,
    currency: Option<CurrencyMemo>,
}

/// A node's currency findings for one (catalog revision, day), as their keys only (a node
/// whose findings are built judges them again: memory stays 16 bytes a finding).
#[derive(Debug)]
struct CurrencyMemo {
    revision: Arc<str>,
    day: Date,
    keys: Vec<FindingKeyHash>,
    fails: bool,
    /// A waiver of the policy (in force or not) matches one of them.
    waiver: bool,
}

/// Distinct packages, by the store's package id.
#[derive(Debug, Default)]
struct Interner {
    by_store_id: HashMap<i64, u32>,
    packages: Vec<Arc<Package>>,
    /// Nodes using each package.
    uses: Vec<u32>,
    /// Packages some node uses.
    live: usize,
}

impl Interner {
    fn intern(&mut self, store_id: Option<i64>, p: &Package) -> u32 {
        let id = match store_id.and_then(|s| self.by_store_id.get(&s)) {
            Some(id) => *id,
            None => {
                let id = u32::try_from(self.packages.len()).unwrap_or(u32::MAX);
                self.packages.push(Arc::new(p.clone()));
                self.uses.push(0);
                if let Some(s) = store_id {
                    self.by_store_id.insert(s, id);
                }
                id
            }
        };
        if let Some(u) = self.uses.get_mut(id as usize) {
            if *u == 0 {
                self.live += 1;
            }
            *u += 1;
        }
        id
    }

    fn release(&mut self, ids: &[u32]) {
        for id in ids {
            if let Some(u) = self.uses.get_mut(*id as usize) {
                *u = u.saturating_sub(1);
                if *u == 0 {
                    self.live = self.live.saturating_sub(1);
                }
            }
        }
    }
}

/// The advisory side of each distinct (package, distro) under one analyzer.
#[derive(Debug)]
struct PackageJudgements {
    analyzer: Weak<Analyzer>,
    /// By distro index, then package id.
    items: Vec<Vec<Option<Arc<PackageItems>>>>,
}

/// A package's advisory findings as templates (no node, no fingerprint, its own location), with
/// their keys.
#[derive(Debug, Default)]
struct PackageItems {
    templates: Vec<Finding>,
    keys: Vec<FindingKeyHash>,
    fails: bool,
}

/// What judging a node came to.
#[derive(Debug)]
pub(crate) enum Judgement {
    /// Its stored findings and counters stand: this many findings.
    Same(usize),
    /// Its findings changed, and no waiver of the policy touches them: the keys of its new
    /// findings, to compare with its open rows; only the findings whose key is new are built
    /// ([`FleetMemo::build`]).
    Keys(Box<KeyChange>),
    /// Its findings, to store whole (waivers not marked yet): the inventory judged and its hash.
    Changed(Box<Changed>),
}

/// A node whose findings changed, as keys.
#[derive(Debug)]
pub(crate) struct KeyChange {
    /// Node.
    pub(crate) node: String,
    /// Inventory hash.
    pub(crate) hash: String,
    /// The stored digest it was judged against.
    pub(crate) base: Option<Vec<u8>>,
    /// The keys of its findings (sorted).
    pub(crate) keys: Vec<FindingKeyHash>,
    /// Their digest.
    pub(crate) digest: [u8; 32],
    /// No finding fails the gate.
    pub(crate) compliant: bool,
    /// Its currency findings, when they were judged for this round.
    currency: Option<Vec<Finding>>,
}

/// A node whose findings are to be stored.
#[derive(Debug)]
pub(crate) struct Changed {
    /// Node.
    pub(crate) node: String,
    /// Inventory hash.
    pub(crate) hash: String,
    /// The inventory.
    pub(crate) inventory: Inventory,
    /// Its findings, advisories then currency (waivers not marked yet).
    pub(crate) findings: Vec<Finding>,
}

impl FleetMemo {
    /// The positions of the heads whose inventory this memory does not hold (to read from the
    /// store).
    pub(crate) fn missing(&self, heads: &[FleetHead]) -> Vec<usize> {
        let st = self.lock();
        heads
            .iter()
            .enumerate()
            .filter(|(_, h)| st.nodes.get(&h.node).is_none_or(|n| n.hash != h.hash))
            .map(|(i, _)| i)
            .collect()
    }

    /// How many nodes with `after < id <= until` (`None`: no upper bound) this memory holds
    /// (a replica claims the chunks it holds first, so that its rounds stay warm).
    pub(crate) fn held(&self, after: &str, until: Option<&str>) -> usize {
        use std::ops::Bound;
        let hi = until.map_or(Bound::Unbounded, Bound::Included);
        self.lock()
            .nodes
            .range::<str, _>((Bound::Excluded(after), hi))
            .count()
    }

    /// Forget the nodes held with `after < id <= until` (`None`: no upper bound): the end of a
    /// chunk whose current nodes were all judged.
    pub(crate) fn forget_range(&self, after: &str, until: Option<&str>) {
        self.lock().forget_range(after, until, &HashSet::new());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Judge the nodes of `heads`, the range of current nodes after `after` (in id order):
    /// `read` are the inventories read from the store for the heads not held. Nodes held in that
    /// range that are no longer current are forgotten. Returns one judgement per node judged
    /// (a head whose inventory is neither held nor read is skipped: it is gone).
    pub(crate) fn judge(
        &self,
        an: &Arc<Analyzer>,
        after: &str,
        heads: &[FleetHead],
        read: Vec<CurrentInventory>,
        day: Date,
    ) -> Vec<Judgement> {
        let mut st = self.lock();
        st.compact();
        st.analyzer(an);
        if let Some(last) = heads.last() {
            let current: HashSet<&str> = heads.iter().map(|h| h.node.as_str()).collect();
            st.forget_range(after, Some(&last.node), &current);
        }
        let mut fresh: HashMap<String, Inventory> = HashMap::with_capacity(read.len());
        for c in read {
            let node = c.node.clone();
            fresh.insert(node, st.insert(c));
        }
        heads
            .iter()
            .filter_map(|h| st.judge_node(an, h, fresh.remove(&h.node), day))
            .collect()
    }
}

impl FleetMemo {
    /// The findings of `k` whose key is in `insert`, built from the templates held (and its
    /// currency findings), every occurrence of each; `None` when this memory no longer holds
    /// what `k` was judged from (another inventory, another analyzer, another day), or the
    /// built findings do not match the keys (the caller judges the node whole then).
    pub(crate) fn build(
        &self,
        an: &Analyzer,
        k: &mut KeyChange,
        insert: &HashSet<FindingKeyHash>,
        day: Date,
    ) -> Option<Vec<Finding>> {
        let st = self.lock();
        let n = st.nodes.get(&k.node).filter(|n| n.hash == k.hash)?;
        let per = st.judged.as_ref()?.items.get(n.distro)?;
        let mut out = Vec::new();
        for id in n.ids.iter() {
            let items = per.get(*id as usize)?.as_deref()?;
            for (t, key) in items.templates.iter().zip(&items.keys) {
                if insert.contains(key) {
                    let mut f = t.clone();
                    k.node.clone_into(&mut f.node);
                    f.fingerprint = f.compute_fingerprint();
                    out.push(f);
                }
            }
        }
        let c = n.currency.as_ref()?;
        if c.day != day || *c.revision != *an.catalog_revision() {
            return None;
        }
        if c.keys.iter().any(|key| insert.contains(key)) {
            let findings = match k.currency.take() {
                Some(f) => f,
                None => an.currency(&whole(&st.packages, n), day),
            };
            if findings.len() != c.keys.len() {
                return None;
            }
            out.extend(
                findings
                    .into_iter()
                    .zip(&c.keys)
                    .filter(|(_, key)| insert.contains(*key))
                    .map(|(f, _)| f),
            );
        }
        // What is built is what the keys said: checked on the built findings' own keys (as
        // many as change, not the node's whole).
        let mut wanted: Vec<FindingKeyHash> = k
            .keys
            .iter()
            .filter(|key| insert.contains(*key))
            .copied()
            .collect();
        let mut got: Vec<FindingKeyHash> = out.iter().map(|f| finding_key(f, &k.node)).collect();
        wanted.sort_unstable();
        got.sort_unstable();
        (got == wanted).then_some(out)
    }

    /// Node `node`'s findings judged whole from the inventory held (when it is still `hash`).
    pub(crate) fn judge_whole(
        &self,
        an: &Analyzer,
        node: &str,
        hash: &str,
        day: Date,
    ) -> Option<Changed> {
        let inventory = {
            let st = self.lock();
            let n = st.nodes.get(node).filter(|n| n.hash == hash)?;
            whole(&st.packages, n)
        };
        let mut findings = an.advisory_findings(&inventory);
        findings.extend(an.currency(&inventory, day));
        Some(Changed {
            node: node.to_owned(),
            hash: hash.to_owned(),
            inventory,
            findings,
        })
    }
}

impl MemoState {
    /// Drop everything when most interned packages are no longer used (memory stays bounded
    /// by what the fleet holds now).
    fn compact(&mut self) {
        if self.packages.packages.len() >= COMPACT_AT
            && self.packages.live < self.packages.packages.len() / 2
        {
            *self = Self::default();
        }
    }

    /// Start the per-package judgements afresh for another analyzer.
    fn analyzer(&mut self, an: &Arc<Analyzer>) {
        let same = self
            .judged
            .as_ref()
            .is_some_and(|j| Weak::ptr_eq(&j.analyzer, &Arc::downgrade(an)));
        if !same {
            self.judged = Some(PackageJudgements {
                analyzer: Arc::downgrade(an),
                items: Vec::new(),
            });
        }
    }

    /// Forget the nodes held in (`after`, `until`] that are not `current`.
    fn forget_range(&mut self, after: &str, until: Option<&str>, current: &HashSet<&str>) {
        use std::ops::Bound;
        let hi = until.map_or(Bound::Unbounded, Bound::Included);
        let gone: Vec<String> = self
            .nodes
            .range::<str, _>((Bound::Excluded(after), hi))
            .filter(|(k, _)| !current.contains(k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.forget(&k);
        }
    }

    fn forget(&mut self, node: &str) {
        if let Some(n) = self.nodes.remove(node) {
            self.packages.release(&n.ids);
        }
    }

    fn distro(&mut self, d: DistroKeys) -> usize {
        if let Some(i) = self.distros.iter().position(|x| *x == d) {
            return i;
        }
        self.distros.push(d);
        self.distros.len() - 1
    }

    /// Hold `c` (replacing what was held for its node); returns its inventory.
    fn insert(&mut self, c: CurrentInventory) -> Inventory {
        self.forget(&c.node);
        let mut skeleton = c.inventory;
        let packages = std::mem::take(&mut skeleton.packages);
        let same_len = c.package_ids.len() == packages.len();
        let ids: Box<[u32]> = packages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let sid = same_len.then(|| c.package_ids.get(i).copied()).flatten();
                self.packages.intern(sid, p)
            })
            .collect();
        let distro = self.distro(DistroKeys::of(skeleton.os.as_ref()));
        let skeleton = Arc::new(skeleton);
        let mut inv = (*skeleton).clone();
        inv.packages = packages;
        self.nodes.insert(
            c.node,
            NodeMemo {
                hash: c.hash,
                skeleton,
                ids,
                distro,
                currency: None,
            },
        );
        inv
    }

    /// The node's inventory, whole again.
    fn inventory(&self, n: &NodeMemo) -> Inventory {
        whole(&self.packages, n)
    }

    /// Judge one node: [`Judgement::Same`] when the digest of what it would store equals the
    /// stored one (with equal counters), else its findings.
    /// `fresh` is the node's inventory when it was just read.
    fn judge_node(
        &mut self,
        an: &Analyzer,
        h: &FleetHead,
        mut fresh: Option<Inventory>,
        day: Date,
    ) -> Option<Judgement> {
        let revision = an.catalog_revision();
        let stale = self
            .nodes
            .get(&h.node)?
            .currency
            .as_ref()
            .is_none_or(|c| c.day != day || *c.revision != *revision);
        // Currency judged now, kept for building the findings below.
        let mut currency = None;
        if stale {
            if fresh.is_none() {
                fresh = self.nodes.get(&h.node).map(|n| self.inventory(n));
            }
            let inv = fresh.as_ref()?;
            let (c, findings) = currency_memo(an, inv, day);
            currency = Some(findings);
            if let Some(n) = self.nodes.get_mut(&h.node) {
                n.currency = Some(c);
            }
        }
        let waivers = !an.policy().waivers.is_empty();
        let mut keys: Vec<FindingKeyHash> = Vec::new();
        let (mut fails, mut waived) = (false, false);
        let Self {
            nodes,
            packages,
            distros,
            judged,
        } = self;
        let n = nodes.get(&h.node)?;
        // Judge the packages not judged yet, then join by reference.
        for id in n.ids.iter() {
            items(
                judged,
                packages,
                distros,
                an,
                (*id, n.distro),
                n.skeleton.os.as_ref(),
            );
        }
        let per = judged
            .as_ref()
            .and_then(|j| j.items.get(n.distro))
            .map_or(&[][..], Vec::as_slice);
        for id in n.ids.iter() {
            let Some(items) = per.get(*id as usize).and_then(Option::as_deref) else {
                continue;
            };
            keys.extend_from_slice(&items.keys);
            fails |= items.fails;
            if waivers && !waived {
                waived = items
                    .templates
                    .iter()
                    .any(|t| waiver_covers(an.policy(), t, &n.skeleton.node));
            }
        }
        let c = n.currency.as_ref()?;
        keys.extend_from_slice(&c.keys);
        fails |= c.fails;
        waived |= c.waiver;
        let count = keys.len();
        let digest = findings_digest(&n.hash, &mut keys);
        let same = !waived
            && n.hash == h.hash
            && h.digest.as_deref() == Some(digest.as_slice())
            && h.open == i64::try_from(count).unwrap_or(i64::MAX)
            && h.compliant == Some(!fails);
        if same {
            return Some(Judgement::Same(count));
        }
        if !waived && n.hash == h.hash {
            return Some(Judgement::Keys(Box::new(KeyChange {
                node: h.node.clone(),
                hash: n.hash.clone(),
                base: h.digest.clone(),
                keys,
                digest,
                compliant: !fails,
                currency,
            })));
        }
        let inventory = fresh.unwrap_or_else(|| whole(packages, n));
        let mut findings = an.advisory_findings(&inventory);
        findings.extend(currency.unwrap_or_else(|| an.currency(&inventory, day)));
        Some(Judgement::Changed(Box::new(Changed {
            node: h.node.clone(),
            hash: n.hash.clone(),
            inventory,
            findings,
        })))
    }
}

/// Judge the advisory items of package `id` on distro `d` of a node running `os`, unless
/// judged.
fn items(
    judged: &mut Option<PackageJudgements>,
    packages: &Interner,
    distros: &[DistroKeys],
    an: &Analyzer,
    (id, d): (u32, usize),
    os: Option<&crate::model::OsRelease>,
) {
    let Some(j) = judged.as_mut() else {
        return;
    };
    if j.items.len() <= d {
        j.items.resize_with(d + 1, Vec::new);
    }
    let per = &mut j.items[d];
    let i = id as usize;
    if per.len() <= i {
        per.resize(packages.packages.len().max(i + 1), None);
    }
    if per[i].is_some() {
        return;
    }
    let (Some(p), Some(distro)) = (packages.packages.get(i), distros.get(d)) else {
        return;
    };
    let v = an.package_verdict(p, distro, os);
    let templates: Vec<Finding> = v
        .templates()
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.node.clear();
            t.fingerprint.clear();
            t.subject.location = Some(p.location.clone());
            t
        })
        .collect();
    let items = Arc::new(PackageItems {
        keys: templates.iter().map(|t| finding_key(t, "")).collect(),
        fails: templates.iter().any(|t| an.gate().fails(t)),
        templates,
    });
    per[i] = Some(items);
}

/// The inventory of `n`, whole again.
fn whole(packages: &Interner, n: &NodeMemo) -> Inventory {
    let mut inv = (*n.skeleton).clone();
    inv.packages = n
        .ids
        .iter()
        .filter_map(|id| packages.packages.get(*id as usize))
        .map(|p| (**p).clone())
        .collect();
    inv
}

/// The currency findings of `inv` on `day`, and what is kept of them.
fn currency_memo(an: &Analyzer, inv: &Inventory, day: Date) -> (CurrencyMemo, Vec<Finding>) {
    let findings = an.currency(inv, day);
    let policy = an.policy();
    let memo = CurrencyMemo {
        revision: Arc::from(an.catalog_revision()),
        day,
        keys: findings
            .iter()
            .map(|f| finding_key(f, &inv.node.id))
            .collect(),
        fails: findings.iter().any(|f| an.gate().fails(f)),
        waiver: !policy.waivers.is_empty()
            && findings.iter().any(|f| waiver_covers(policy, f, &inv.node)),
    };
    (memo, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{AdvisoryIndex, Catalogs};
    use crate::store::Judged;

    fn pkg(name: &str, version: &str) -> Package {
        Package::pypi_for_test(name, version, "/venv")
    }

    fn current(id: &str, packages: Vec<(i64, Package)>) -> CurrentInventory {
        let (ids, packages): (Vec<i64>, Vec<Package>) = packages.into_iter().unzip();
        let inventory = Inventory::for_test(id, packages);
        CurrentInventory {
            node: id.into(),
            hash: format!("hash-{id}-{}", ids.len()),
            inventory,
            package_ids: ids,
        }
    }

    fn head(c: &CurrentInventory, digest: Option<[u8; 32]>, open: i64) -> FleetHead {
        FleetHead {
            node: c.node.clone(),
            hash: c.hash.clone(),
            digest: digest.map(|d| d.to_vec()),
            open,
            compliant: Some(false),
        }
    }

    /// The digest a node's keys give equals the digest of its findings built and stored
    /// (`Judged::digest`), so an unchanged node is recognised without building them; a node
    /// gone from the heads is forgotten and its packages released.
    #[test]
    fn digests_from_keys_equal_stored_digests_and_gone_nodes_are_forgotten() {
        let adv: crate::model::Advisory = serde_json::from_value(serde_json::json!({
            "id": "PYSEC-0000-1", "source": "test", "kind": "vulnerability", "summary": "x",
            "affected": [{"ecosystem": "pypi", "package": "foo",
                "ranges": {"type": "osv", "ranges": [{"events": [{"introduced": "0"}, {"fixed": "2.0"}]}]},
                "fixed": ["2.0"]}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let policy = crate::policy::load("default").unwrap_or_else(|e| panic!("{e}"));
        let an = Arc::new(Analyzer::from_parts(
            AdvisoryIndex::build(vec![adv]),
            Catalogs::default(),
            policy,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            "r".into(),
        ));
        let day = time::macros::date!(2026 - 01 - 01);
        let a = current("a", vec![(1, pkg("foo", "1.0")), (2, pkg("bar", "1.0"))]);
        let b = current("b", vec![(1, pkg("foo", "1.0")), (3, pkg("foo", "1.5"))]);
        let memo = FleetMemo::default();
        let heads = vec![head(&a, None, 0), head(&b, None, 0)];
        assert_eq!(memo.missing(&heads), vec![0, 1]);
        let (ha, hb) = (a.hash.clone(), b.hash.clone());
        let got = memo.judge(&an, "", &heads, vec![a, b], day);
        let mut stored = Vec::new();
        for j in got {
            // No waiver in the policy: a node is judged as keys, and built from them.
            let Judgement::Keys(mut k) = j else {
                panic!("nothing stored yet: every node is judged again ({j:?})")
            };
            let all: HashSet<FindingKeyHash> = k.keys.iter().copied().collect();
            let mut findings = memo.build(&an, &mut k, &all, day).expect("built");
            let c = memo.judge_whole(&an, &k.node, &k.hash, day).expect("held");
            let mut reference = an.judge_per_node(&c.inventory, day);
            let json = |f: &Finding| serde_json::to_string(f).unwrap_or_default();
            findings.sort_by_cached_key(json);
            reference.sort_by_cached_key(json);
            assert_eq!(findings, reference);
            let judged = Judged {
                compliant: !findings.iter().any(|f| an.gate().fails(f)),
                findings,
            };
            assert_eq!(judged.digest(&k.node, &k.hash), k.digest);
            assert_eq!(judged.compliant, k.compliant);
            stored.push((k.digest, judged.open(), judged.compliant));
        }
        assert_eq!(stored[0].1, 1, "foo 1.0 on a");
        assert_eq!(stored[1].1, 2, "foo 1.0 and 1.5 on b");
        let heads: Vec<FleetHead> = [("a", &ha), ("b", &hb)]
            .iter()
            .zip(&stored)
            .map(|((n, h), (d, open, compliant))| FleetHead {
                node: (*n).into(),
                hash: (*h).clone(),
                digest: Some(d.to_vec()),
                open: *open,
                compliant: Some(*compliant),
            })
            .collect();
        assert!(memo.missing(&heads).is_empty(), "both held");
        let again = memo.judge(&an, "", &heads, Vec::new(), day);
        assert!(
            again.iter().all(|j| matches!(j, Judgement::Same(_))),
            "{again:?}"
        );
        // A wrong stored digest (another inventory's, say) is not taken for the same.
        let mut wrong = heads.clone();
        wrong[1].digest.clone_from(&heads[0].digest);
        let j = memo.judge(&an, "", &wrong, Vec::new(), day);
        assert!(matches!(j[1], Judgement::Keys(_)), "{j:?}");
        // b gone: forgotten, its own package released.
        let st = memo.lock();
        let live = st.packages.live;
        drop(st);
        let j = memo.judge(&an, "", &heads[..1], Vec::new(), day);
        assert!(matches!(j[..], [Judgement::Same(1)]), "{j:?}");
        assert_eq!(memo.lock().nodes.len(), 2, "b is past the heads read");
        memo.forget_range("a", None);
        let st = memo.lock();
        assert_eq!(st.nodes.len(), 1);
        assert_eq!(st.packages.live, live - 1, "foo 1.5 is no node's");
    }
}
