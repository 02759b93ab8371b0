//! Read-side answers shared by the HTTP API and `nminus query --db`: node views with a status,
//! current findings (with `inventory-stale` ones computed at read time), package holders,
//! inventory diffs and the fleet report.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::analyze::Analyzer;
use crate::client::{InventoryPage, Page, StoredInventory};
use crate::model::{Finding, FindingCode, Inventory, NodeInfo, Report};
use crate::store::{FindingFilter, FindingKey, Millis, NodeRecord, Store, StoreError};

/// A node with its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeView {
    /// What the registry knows.
    #[serde(flatten)]
    pub node: NodeRecord,
    /// `active`, `stale` (silent longer than the policy allows), `enrolled` (never pushed) or
    /// `revoked`.
    pub status: String,
}

/// The status of a node at `now` under a maximum inventory age.
pub(crate) fn status(n: &NodeRecord, max_age_hours: Option<u32>, now: Millis) -> &'static str {
    if n.revoked {
        return "revoked";
    }
    let Some(seen) = n.last_seen else {
        return "enrolled";
    };
    match max_age_hours {
        Some(h) if now.0 - seen.0 > i64::from(h) * 3_600_000 => "stale",
        _ => "active",
    }
}

/// Every node with its status.
pub(crate) async fn nodes(
    store: &dyn Store,
    an: &Analyzer,
    now: Millis,
) -> Result<Vec<NodeView>, StoreError> {
    let max = an.policy().max_inventory_age_hours;
    Ok(store
        .nodes()
        .await?
        .into_iter()
        .map(|node| {
            let status = status(&node, max, now).to_owned();
            NodeView { node, status }
        })
        .collect())
}

fn node_info(n: &NodeRecord) -> NodeInfo {
    NodeInfo {
        id: n.id.clone(),
        hostname: n.hostname.clone(),
        site: n.site.clone(),
        cell: n.cell.clone(),
        labels: n.labels.clone(),
    }
}

/// Current findings matching `filter`, plus `inventory-stale` findings of silent nodes.
pub(crate) async fn findings(
    store: &dyn Store,
    an: &Analyzer,
    filter: &FindingFilter,
    now: Millis,
) -> Result<Vec<Finding>, StoreError> {
    let mut out = if filter.code == Some(FindingCode::InventoryStale) {
        Vec::new()
    } else {
        store.findings(filter).await?
    };
    out.extend(stale_findings(store, an, filter, now, None, usize::MAX).await?);
    Ok(out)
}

/// `inventory-stale` findings of the silent nodes matching `filter`, by node id, after node
/// `after`, at most `limit`.
async fn stale_findings(
    store: &dyn Store,
    an: &Analyzer,
    filter: &FindingFilter,
    now: Millis,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Finding>, StoreError> {
    let wants_stale =
        filter.code.is_none_or(|c| c == FindingCode::InventoryStale) && filter.package.is_none();
    let mut out = Vec::new();
    if !wants_stale || limit == 0 {
        return Ok(out);
    }
    let mut nodes = store.nodes().await?;
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    for n in nodes {
        if n.revoked
            || after.is_some_and(|a| n.id.as_str() <= a)
            || filter
                .site
                .as_ref()
                .is_some_and(|s| n.site.as_ref() != Some(s))
            || filter
                .cell
                .as_ref()
                .is_some_and(|c| n.cell.as_ref() != Some(c))
            || filter.node.as_ref().is_some_and(|x| *x != n.id)
        {
            continue;
        }
        let Some(seen) = n.last_seen else { continue };
        if let Some(f) = an.stale_finding(&node_info(&n), seen.to_datetime(), now.to_datetime()) {
            if filter.severity.is_none_or(|s| f.severity >= s) {
                out.push(f);
                if out.len() == limit {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Where a page of findings starts: after a stored finding, or (the stored ones all given)
/// after the `inventory-stale` finding of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FindingCursor {
    /// After this stored finding.
    Stored(FindingKey),
    /// After this node's `inventory-stale` finding.
    Stale(String),
}

impl FindingCursor {
    /// Opaque text (hexadecimal, safe in a query string).
    pub(crate) fn encode(&self) -> String {
        crate::util::hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    /// The cursor `encode` wrote, or `None`.
    pub(crate) fn decode(s: &str) -> Option<Self> {
        if s.len() % 2 != 0 || s.len() > 16 * 1024 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect();
        serde_json::from_slice(&bytes?).ok()
    }
}

/// A page of [`findings`]: the stored findings in the store's order, then the
/// `inventory-stale` ones by node id; at most `limit` (at least one).
pub(crate) async fn findings_page(
    store: &dyn Store,
    an: &Analyzer,
    filter: &FindingFilter,
    cursor: Option<&FindingCursor>,
    limit: usize,
    now: Millis,
) -> Result<Page<Finding>, StoreError> {
    let limit = limit.max(1);
    let mut items = Vec::new();
    let stale_after = match cursor {
        Some(FindingCursor::Stale(node)) => Some(node.as_str()),
        None | Some(FindingCursor::Stored(_)) => {
            if filter.code != Some(FindingCode::InventoryStale) {
                let after = match cursor {
                    Some(FindingCursor::Stored(k)) => Some(k),
                    _ => None,
                };
                let want = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
                items = store.findings_page(filter, after, want).await?;
                if items.len() > limit {
                    items.truncate(limit);
                    let next = items
                        .last()
                        .map(|f| FindingCursor::Stored(FindingKey::of(f)));
                    return Ok(Page {
                        items,
                        next: next.map(|c| c.encode()),
                    });
                }
            }
            None
        }
    };
    let room = limit - items.len();
    let mut stale = stale_findings(store, an, filter, now, stale_after, room + 1).await?;
    let next = if stale.len() > room {
        stale.truncate(room);
        // A full page of stored findings ends just before the first stale one.
        Some(match stale.last() {
            Some(f) => FindingCursor::Stale(f.node.clone()),
            None => FindingCursor::Stale(String::new()),
        })
    } else {
        None
    };
    items.extend(stale);
    Ok(Page {
        items,
        next: next.map(|c| c.encode()),
    })
}

/// A page of nodes by id, after node `after`, filtered by `keep`.
pub(crate) async fn nodes_page(
    store: &dyn Store,
    an: &Analyzer,
    now: Millis,
    after: Option<&str>,
    limit: usize,
    keep: impl Fn(&NodeView) -> bool,
) -> Result<Page<NodeView>, StoreError> {
    let limit = limit.max(1);
    let mut all: Vec<NodeView> = nodes(store, an, now)
        .await?
        .into_iter()
        .filter(|n| after.is_none_or(|a| n.node.id.as_str() > a) && keep(n))
        .collect();
    all.sort_by(|a, b| a.node.id.cmp(&b.node.id));
    let next = (all.len() > limit).then(|| {
        all.truncate(limit);
        all.last().map(|n| n.node.id.clone()).unwrap_or_default()
    });
    Ok(Page { items: all, next })
}

/// The fleet report: every node's current inventory and findings, waivers applied across the
/// fleet, `inventory-stale` findings added.
pub(crate) async fn report(
    store: &dyn Store,
    an: &Analyzer,
    now: Millis,
) -> Result<Report, StoreError> {
    let mut invs: Vec<Inventory> = Vec::new();
    let mut after = String::new();
    loop {
        let batch = store.current_inventories(&after, 256).await?;
        let Some(last) = batch.last() else { break };
        after.clone_from(&last.node);
        invs.extend(batch.into_iter().map(|c| c.inventory));
    }
    let all = store
        .findings(&FindingFilter {
            waived: true,
            ..FindingFilter::default()
        })
        .await?;
    let mut by_node: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for f in all {
        by_node.entry(f.node.clone()).or_default().push(f);
    }
    let max = an.policy().max_inventory_age_hours;
    for n in store.nodes().await? {
        if status(&n, max, now) != "stale" {
            continue;
        }
        if let Some(seen) = n.last_seen {
            if let Some(f) = an.stale_finding(&node_info(&n), seen.to_datetime(), now.to_datetime())
            {
                by_node.entry(n.id.clone()).or_default().push(f);
            }
        }
    }
    let judged: Vec<(&Inventory, Vec<Finding>)> = invs
        .iter()
        .map(|i| (i, by_node.remove(&i.node.id).unwrap_or_default()))
        .collect();
    let mut r = an.report(judged, Vec::new(), now.rfc3339(), now.to_datetime().date());
    r.control_plane = super::controlplane::report_view(store).await?;
    Ok(r)
}

/// A package identity in a diff.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct PackageVersion {
    /// Ecosystem.
    pub ecosystem: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// A package whose versions changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PackageChange {
    /// Ecosystem.
    pub ecosystem: String,
    /// Name.
    pub name: String,
    /// Versions before.
    pub from: Vec<String>,
    /// Versions now.
    pub to: Vec<String>,
}

/// How one node's inventory changed since a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeDiff {
    /// Node.
    pub node: String,
    /// Site.
    #[serde(default)]
    pub site: Option<String>,
    /// The inventory in force at the date (absent: the node reported later).
    #[serde(default)]
    pub since_hash: Option<String>,
    /// The current inventory.
    #[serde(default)]
    pub current_hash: Option<String>,
    /// Packages installed since.
    pub added: Vec<PackageVersion>,
    /// Packages removed since.
    pub removed: Vec<PackageVersion>,
    /// Packages whose version changed.
    pub changed: Vec<PackageChange>,
}

fn versions(inv: Option<&Inventory>) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut m: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for p in inv.map(|i| i.packages.as_slice()).unwrap_or_default() {
        m.entry((p.ecosystem.as_str().to_owned(), p.name.clone()))
            .or_default()
            .insert(p.version.clone());
    }
    m
}

/// Diff the inventories of a node (or every node of a site, when `target` names no node) between
/// `since` and now.
pub(crate) async fn diff(
    store: &dyn Store,
    target: &str,
    since: Millis,
) -> Result<Option<Vec<NodeDiff>>, StoreError> {
    let nodes: Vec<NodeRecord> = match store.node(target).await? {
        Some(n) => vec![n],
        None => store
            .nodes()
            .await?
            .into_iter()
            .filter(|n| n.site.as_deref() == Some(target))
            .collect(),
    };
    if nodes.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for n in nodes {
        let then = store.history_at(&n.id, since).await?;
        let before = match &then {
            Some(h) => store.inventory(&n.id, &h.hash).await?,
            None => None,
        };
        let after = match &n.current_hash {
            Some(h) => store.inventory(&n.id, h).await?,
            None => None,
        };
        let (b, a) = (versions(before.as_ref()), versions(after.as_ref()));
        let mut d = NodeDiff {
            node: n.id.clone(),
            site: n.site.clone(),
            since_hash: then.map(|h| h.hash),
            current_hash: n.current_hash.clone(),
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        };
        let keys: BTreeSet<&(String, String)> = b.keys().chain(a.keys()).collect();
        for k in keys {
            let pv = |v: &String| PackageVersion {
                ecosystem: k.0.clone(),
                name: k.1.clone(),
                version: v.clone(),
            };
            match (b.get(k), a.get(k)) {
                (None, Some(now)) => d.added.extend(now.iter().map(pv)),
                (Some(was), None) => d.removed.extend(was.iter().map(pv)),
                (Some(was), Some(now)) if was != now => d.changed.push(PackageChange {
                    ecosystem: k.0.clone(),
                    name: k.1.clone(),
                    from: was.iter().cloned().collect(),
                    to: now.iter().cloned().collect(),
                }),
                _ => {}
            }
        }
        out.push(d);
    }
    Ok(Some(out))
}

/// Where a page of stored inventories ends: (node, collected at, received at, hash), the order
/// of the entries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InventoryCursor {
    node: String,
    collected_at: String,
    received_at: i64,
    hash: String,
}

impl InventoryCursor {
    /// Parse a page's `next`; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        // Node ids and hashes never hold `|`; the collection time goes last, whatever it holds.
        let mut it = s.splitn(4, '|');
        let (node, received, hash, collected) = (it.next()?, it.next()?, it.next()?, it.next()?);
        (!node.is_empty() && !hash.is_empty()).then_some(())?;
        Some(Self {
            node: node.to_owned(),
            collected_at: collected.to_owned(),
            received_at: received.parse().ok()?,
            hash: hash.to_owned(),
        })
    }
}

impl std::fmt::Display for InventoryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}",
            self.node, self.received_at, self.hash, self.collected_at
        )
    }
}

/// What [`stored_inventories`] reads.
#[derive(Debug, Clone)]
pub struct InventoryQuery {
    /// Only entries collected at or before this RFC 3339 UTC time (compared as text, as the
    /// planner compares collection times).
    pub until: Option<String>,
    /// Only each node's latest entry (at or before `until`): what upgrade and replication plans
    /// read. Otherwise its whole history, which rollbacks need.
    pub latest: bool,
    /// Resume after this cursor (a page's `next`).
    pub after: Option<InventoryCursor>,
    /// At most this many entries (at least one).
    pub limit: usize,
    /// At most about this many bytes of JSON (an inventory larger than that comes alone).
    pub max_bytes: usize,
}

impl Default for InventoryQuery {
    fn default() -> Self {
        Self {
            until: None,
            latest: false,
            after: None,
            limit: usize::MAX,
            max_bytes: usize::MAX,
        }
    }
}

/// Bytes of `v` as JSON, without keeping them.
fn json_len<T: Serialize>(v: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// The stored inventories of every node that is not revoked, with their history: by node id,
/// then by collection time (then reception), one page at a time. Entries collected at the same
/// time as an earlier one of the node are left out, as the planner would ignore them.
pub async fn stored_inventories(
    store: &dyn Store,
    q: &InventoryQuery,
) -> Result<InventoryPage, StoreError> {
    let mut nodes: Vec<NodeRecord> = store
        .nodes()
        .await?
        .into_iter()
        .filter(|n| !n.revoked && n.current_hash.is_some())
        .filter(|n| q.after.as_ref().is_none_or(|c| n.id >= c.node))
        .collect();
    // Byte order, whatever the database's collation.
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    let limit = q.limit.max(1);
    let mut page = InventoryPage::default();
    let mut bytes = 0usize;
    let mut last: Option<InventoryCursor> = None;
    for n in &nodes {
        let mut entries: Vec<InventoryCursor> = store
            .history(&n.id)
            .await?
            .into_iter()
            .filter_map(|e| {
                Some(InventoryCursor {
                    node: n.id.clone(),
                    collected_at: e.collected_at?,
                    received_at: e.received_at.0,
                    hash: e.hash,
                })
            })
            .filter(|k| {
                q.until
                    .as_deref()
                    .is_none_or(|u| k.collected_at.as_str() <= u)
            })
            .collect();
        entries.sort();
        entries.dedup_by(|later, earlier| later.collected_at == earlier.collected_at);
        if q.latest {
            entries.drain(..entries.len().saturating_sub(1));
        }
        for key in entries {
            if q.after.as_ref().is_some_and(|c| key <= *c) {
                continue;
            }
            if page.inventories.len() >= limit {
                page.next = last.map(|c| c.to_string());
                return Ok(page);
            }
            let Some(mut inventory) = store.inventory(&n.id, &key.hash).await? else {
                continue;
            };
            inventory.collected_at.clone_from(&key.collected_at);
            let entry = StoredInventory {
                node: n.id.clone(),
                hash: key.hash.clone(),
                received_at: Millis(key.received_at),
                inventory,
            };
            let size = json_len(&entry);
            if !page.inventories.is_empty() && bytes.saturating_add(size) > q.max_bytes {
                page.next = last.map(|c| c.to_string());
                return Ok(page);
            }
            bytes = bytes.saturating_add(size);
            page.inventories.push(entry);
            last = Some(key);
        }
    }
    Ok(page)
}
