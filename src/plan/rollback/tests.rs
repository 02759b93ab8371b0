//! The rollback planner's pieces, one by one, on the fixture fleet `tenant-rollback` (par1,
//! kolla: 2024.1 on 2026-05-01, 2025.1 on 2026-08-01 except the held-back `par1-cmp-h1`) and the
//! shared `openstack-releases` data.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::model::{Action, Inventory, LimitCode, Phase, Reversibility};
use crate::plan::{FileInput, PlanInput};
use crate::releases::openstack::OpenStackCatalog;
use crate::releases::test_data::shared;

use super::*;

fn cat() -> &'static OpenStackCatalog {
    static CAT: OnceLock<OpenStackCatalog> = OnceLock::new();
    CAT.get_or_init(|| {
        OpenStackCatalog::load(&shared("openstack-releases"))
            .expect("openstack-releases")
            .0
    })
}

fn load(dirs: &[&str]) -> Vec<Inventory> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleets/tenant-rollback");
    let fi = FileInput::load(&dirs.iter().map(|d| base.join(d)).collect::<Vec<_>>());
    assert!(fi.problems().is_empty(), "{:?}", fi.problems());
    fi.inventories().to_vec()
}

/// Both dates of the fleet.
fn fleet() -> &'static [Inventory] {
    static FLEET: OnceLock<Vec<Inventory>> = OnceLock::new();
    FLEET.get_or_init(|| load(&["2026-05-01", "2026-08-01"]))
}

fn history() -> BTreeMap<String, Vec<&'static Inventory>> {
    history_by_node(fleet(), None)
}

/// The node's view now (its last inventory).
fn now(id: &str) -> NodeView {
    node_view(history()[id].last().unwrap(), cat())
}

fn label(ord: Option<usize>) -> String {
    label_of(cat(), ord)
}

#[test]
fn latest_by_node_keeps_the_newest_inventory_of_each_node() {
    let to = RollbackTarget::Inventories(fleet().to_vec());
    let given = latest_by_node(&to);
    assert_eq!(given.len(), 9);
    assert!(given
        .values()
        .all(|i| i.collected_at == "2026-08-01T06:00:00Z"));
    assert!(latest_by_node(&RollbackTarget::Previous).is_empty());
}

#[test]
fn the_rollback_point_follows_the_target() {
    let hist = history();
    let h = &hist["par1-cmp-a1"];
    let n = now("par1-cmp-a1");
    let none = BTreeMap::new();
    let prev = rollback_point(cat(), &n, h, &RollbackTarget::Previous, &none).unwrap();
    assert_eq!(prev.collected_at, "2026-05-01T06:00:00Z");
    let on = |d: time::Date| {
        rollback_point(cat(), &n, h, &RollbackTarget::Date(d), &none)
            .map(|i| i.collected_at.as_str())
    };
    use time::macros::date;
    assert_eq!(on(date!(2026 - 06 - 30)), Some("2026-05-01T06:00:00Z"));
    assert_eq!(on(date!(2026 - 08 - 01)), Some("2026-08-01T06:00:00Z"));
    assert_eq!(on(date!(2026 - 01 - 01)), None);
    // The held-back host ran 2024.1 on both dates: nothing earlier differs.
    let held = &hist["par1-cmp-h1"];
    let hn = now("par1-cmp-h1");
    assert!(rollback_point(cat(), &hn, held, &RollbackTarget::Previous, &none).is_none());
    // Given inventories: the one of the node, whatever its date.
    let older = load(&["2026-05-01"]);
    let to = RollbackTarget::Inventories(older.clone());
    let given = latest_by_node(&to);
    let p = rollback_point(cat(), &n, h, &to, &given).unwrap();
    assert_eq!(p.node.id, "par1-cmp-a1");
    assert_eq!(p.collected_at, "2026-05-01T06:00:00Z");
}

#[test]
fn component_changes_are_what_differs() {
    let hist = history();
    let n = now("par1-cmp-a1");
    let before = node_view(hist["par1-cmp-a1"][0], cat());
    let changes = component_changes(&n, &before);
    let nova = changes
        .iter()
        .find(|c| c.cur.component == "nova-compute")
        .expect("nova-compute changed");
    assert_eq!(
        (nova.cur.version.as_str(), nova.prev.version.as_str()),
        ("31.2.0", "29.2.0")
    );
    assert!(
        label(nova.cur.ordinal).starts_with("2025.1"),
        "{}",
        label(nova.cur.ordinal)
    );
    assert!(
        label(nova.prev.ordinal).starts_with("2024.1"),
        "{}",
        label(nova.prev.ordinal)
    );
    assert!(nova.series_down());
    assert!(nova.cur.ordinal > nova.prev.ordinal);
    // A node against itself changes nothing.
    assert!(component_changes(&n, &n).is_empty());
}

#[test]
fn scope_changes_report_nodes_without_history() {
    let only_now = load(&["2026-08-01"]);
    let hist = history_by_node(&only_now, None);
    let views: Vec<NodeView> = hist.values().map(|h| node_view(h[0], cat())).collect();
    let scoped: Vec<&NodeView> = views.iter().collect();
    let mut limits = Vec::new();
    let changes = scope_changes(
        cat(),
        &scoped,
        &hist,
        &RollbackTarget::Previous,
        &mut limits,
    );
    assert!(changes.is_empty());
    assert_eq!(limits.len(), 9);
    assert!(limits
        .iter()
        .all(|l| l.code == LimitCode::NoHistory && l.nodes.len() == 1));

    // With both dates: every node but the held one goes back, and the held one is no limit.
    let hist = history();
    let views: Vec<NodeView> = hist
        .values()
        .map(|h| node_view(h.last().unwrap(), cat()))
        .collect();
    let scoped: Vec<&NodeView> = views.iter().collect();
    let mut limits = Vec::new();
    let changes = scope_changes(
        cat(),
        &scoped,
        &hist,
        &RollbackTarget::Previous,
        &mut limits,
    );
    assert!(limits.is_empty(), "{limits:?}");
    let nodes: BTreeSet<&str> = changes.iter().map(|c| c.node.id.as_str()).collect();
    assert_eq!(nodes.len(), 8);
    assert!(!nodes.contains("par1-cmp-h1"));
}

/// Every change of the fleet back to 2026-05-01.
fn all_changes(views: &[NodeView]) -> Vec<Change<'_>> {
    let hist = history();
    let scoped: Vec<&NodeView> = views.iter().collect();
    let mut limits = Vec::new();
    scope_changes(
        cat(),
        &scoped,
        &hist,
        &RollbackTarget::Previous,
        &mut limits,
    )
}

fn views() -> Vec<NodeView> {
    history()
        .values()
        .map(|h| node_view(h.last().unwrap(), cat()))
        .collect()
}

#[test]
fn a_tenant_scope_keeps_what_every_tenant_shares() {
    let views = views();
    let changes = all_changes(&views);
    let total = changes.len();
    let mut warnings = Vec::new();
    let kept = without_shared(changes, &mut warnings);
    assert!(kept.len() < total);
    for c in &kept {
        let comp = order::component(c.cur.component).unwrap();
        assert!(!comp.shared_by_every_tenant(), "{}", c.cur.component);
    }
    assert!(kept.iter().any(|c| c.cur.component == "nova-compute"));
    // One warning per node running shared components, naming what stays.
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].starts_with("par1-ctl-01: ") && warnings[0].contains("keystone"));
    assert!(warnings[1].starts_with("par1-ctl-02: "));
    assert!(warnings[2].starts_with("par1-stor-01: cinder-volume, cinder-backup belong"));
}

#[test]
fn held_back_hosts_are_labelled_or_older() {
    let views = views();
    let acme: Vec<&NodeView> = views
        .iter()
        .filter(|n| n.tenant.as_deref() == Some("acme"))
        .collect();
    let (held, upgraded) = held_and_upgraded(&acme);
    let ids = |v: &[&NodeView]| v.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&held), ["par1-cmp-h1"]);
    assert_eq!(ids(&upgraded), ["par1-cmp-a1", "par1-cmp-a2"]);
    // Without the held host, nothing is older: nothing held.
    let (held, upgraded) = held_and_upgraded(&acme[..2]);
    assert!(held.is_empty());
    assert_eq!(upgraded.len(), 2);
}

#[test]
fn the_series_span_is_from_the_newest_to_the_oldest() {
    let views = views();
    let changes = all_changes(&views);
    let sites: BTreeSet<String> = ["par1".to_owned()].into();
    let (from, to) = series_span(cat(), &changes, &sites);
    assert_eq!(from.len(), 1);
    assert_eq!(from[0].name, "epoxy");
    assert_eq!(to.expect("a target series").name, "caracal");
    let (from, to) = series_span(cat(), &[], &sites);
    assert!(from.is_empty() && to.is_none());
}

fn site<'r, 'a>(views: &'r [NodeView], changes: &'r [Change<'a>]) -> SiteRollback<'r, 'a> {
    let site_nodes: Vec<&NodeView> = views.iter().collect();
    SiteRollback {
        cat: cat(),
        site: "par1",
        control_ord: site_nodes
            .iter()
            .filter_map(|n| n.min_ordinal(Phase::ControlPlane))
            .min(),
        in_site: site_nodes.clone(),
        site_nodes,
        changes: changes.iter().collect(),
    }
}

#[test]
fn downgrade_steps_go_in_reverse_order_after_the_database_restore() {
    let views = views();
    let changes = all_changes(&views);
    let sr = site(&views, &changes);
    let mut out = Outcome::default();
    sr.downgrades(Deployer::Kolla, &mut out);
    let ids: Vec<&str> = out.steps.iter().map(|s| s.id.as_str()).collect();
    let restore = ids
        .iter()
        .position(|i| *i == "restore-database-par1")
        .expect("restore");
    let compute = ids
        .iter()
        .position(|i| *i == "downgrade-nova-compute-par1")
        .unwrap();
    let keystone = ids
        .iter()
        .position(|i| *i == "downgrade-keystone-par1")
        .unwrap();
    assert!(compute < restore && restore < keystone, "{ids:?}");
    assert_eq!(out.steps[restore].action, Action::RestoreDatabase);
    assert!(out
        .limits
        .iter()
        .any(|l| l.code == LimitCode::NoDbDowngrade && l.steps == ["restore-database-par1"]));
    let ks = &out.steps[keystone];
    assert_eq!(ks.reversibility, Reversibility::NeedsDbRestore);
    assert!(ks
        .preconditions
        .contains(&"@restore-database-par1 done".to_owned()));
    assert_eq!(ks.hints.kolla.as_ref().unwrap().tags, ["keystone"]);
    // The reverse of the upgrade order throughout.
    let downgrades: Vec<usize> = out
        .steps
        .iter()
        .filter(|s| s.action == Action::Downgrade)
        .map(|s| order::position(s.component.as_deref().unwrap()))
        .collect();
    assert!(downgrades.len() > 3, "{downgrades:?}");
    assert!(
        downgrades.windows(2).all(|w| w[0] >= w[1]),
        "{downgrades:?}"
    );
}

#[test]
fn a_compute_with_no_older_peer_is_blocked() {
    let views = views();
    let changes = all_changes(&views);
    // With the held host in the site, it runs the older series: the others may go back.
    let sr = site(&views, &changes);
    let list: Vec<&Change<'_>> = changes
        .iter()
        .filter(|c| c.cur.component == "nova-compute")
        .collect();
    let hosts: Vec<String> = list.iter().map(|c| c.node.id.clone()).collect();
    let comp = order::component("nova-compute").unwrap();
    let mut limits = Vec::new();
    let s = sr.downgrade_step(comp, &list, Deployer::Kolla, &mut limits);
    assert!(
        !limits
            .iter()
            .any(|l| l.code == LimitCode::ComputeServiceTooOld),
        "{limits:?}"
    );
    assert!(s.post_steps.iter().any(|p| p.contains("SIGHUP")));
    assert_eq!(
        s.targets.iter().filter(|t| t.image.is_none()).count(),
        hosts.len()
    );
    assert!(
        s.targets.iter().any(|t| t.image.is_some()),
        "kolla image targets"
    );
    assert!(s
        .preconditions
        .iter()
        .all(|p| p.contains("empty the host first")));
    // Without it, every other compute is newer: each downgrade is blocked (ServiceTooOld).
    let without: Vec<NodeView> = views
        .iter()
        .filter(|n| n.id != "par1-cmp-h1")
        .cloned()
        .collect();
    let sr = site(&without, &changes);
    let mut limits = Vec::new();
    let s = sr.downgrade_step(comp, &list, Deployer::Kolla, &mut limits);
    let too_old: Vec<&Limit> = limits
        .iter()
        .filter(|l| l.code == LimitCode::ComputeServiceTooOld)
        .collect();
    assert_eq!(too_old.len(), list.len());
    assert_eq!(s.blocked_by.len(), list.len());
    assert!(too_old.iter().all(|l| l.steps == [s.id.clone()]));
}

#[test]
fn a_tenant_fallback_pins_then_cold_migrates() {
    let views = views();
    let changes = all_changes(&views);
    let mut sr = site(&views, &changes);
    let tenant = |t: &str| -> Vec<&NodeView> {
        views
            .iter()
            .filter(|n| n.tenant.as_deref() == Some(t))
            .collect()
    };
    sr.in_site = tenant("acme");
    let mut out = Outcome::default();
    sr.tenant_fallback("acme", &mut out);
    let ids: Vec<&str> = out.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["fallback-pin-acme-par1", "fallback-cold-migrate-acme-par1"]
    );
    assert_eq!(out.steps[0].targets.len(), 1);
    assert_eq!(out.steps[0].targets[0].node.as_deref(), Some("par1-cmp-h1"));
    assert!(out.steps[0].title.contains("agg-acme-hold"));
    assert_eq!(out.steps[1].targets.len(), 2);
    assert_eq!(out.limits.len(), 1);
    assert_eq!(out.limits[0].code, LimitCode::NoLiveMigrationToOlder);
    // globex has no held host: a warning, no step.
    sr.in_site = tenant("globex");
    let mut out = Outcome::default();
    sr.tenant_fallback("globex", &mut out);
    assert!(out.steps.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("tenant globex has no held-back hosts"));
}

#[test]
fn span_labels_are_series_for_services_and_versions_for_infrastructure() {
    let views = views();
    let changes = all_changes(&views);
    let of = |comp: &str| -> Vec<&Change<'_>> {
        changes.iter().filter(|c| c.cur.component == comp).collect()
    };
    let nova = order::component("nova-compute").unwrap();
    let (from, to) = span_labels(cat(), nova, &of("nova-compute"));
    assert!(
        from.starts_with("2025.1") && to.starts_with("2024.1"),
        "{from} → {to}"
    );
    if let Some(infra) = changes
        .iter()
        .find(|c| order::component(c.cur.component).is_some_and(|k| k.deliverable.is_none()))
    {
        let comp = order::component(infra.cur.component).unwrap();
        let (from, to) = span_labels(cat(), comp, &of(comp.id));
        assert!(from.contains(&infra.cur.version) && to.contains(&infra.prev.version));
    }
    let v = verify_step("par1");
    assert_eq!((v.id.as_str(), v.phase), ("verify-par1", Phase::Verify));
}
