//! Rollback plans: bring a scope back to the versions it ran before, taken from the history of
//! inventories, honouring what cannot be rolled back and saying so
//! (`shared/docs/openstack-domain.md` §4.1, §4.3):
//! - no database downgrade: a control-plane series rollback restores the backup taken before
//!   the upgrade and redeploys the older code (writes since are lost);
//! - nova-compute cannot register older once every compute is newer (`ServiceTooOld`), and
//!   must stay at or above the control plane's oldest supported compute;
//! - no live migration onto an older hypervisor: tenants move by cold migration;
//! - the control plane is shared: a tenant gets an older data plane only. With hosts held back
//!   for the tenant before the upgrade, its fallback is those hosts plus cold migration.
//!
//! Downgrades go in reverse upgrade order: data plane first, control plane after, the
//! infrastructure last.

use std::collections::{BTreeMap, BTreeSet};

use time::Date;

use crate::model::{
    Action, DeployerHints, Inventory, KollaHint, Limit, LimitCode, OsaHint, Phase, Plan,
    PlanInputs, PlanKind, Reason, Reversibility, Scope, SeriesRef, Step, Target,
    PLAN_SCHEMA_VERSION,
};
use crate::releases::openstack::OpenStackCatalog;

use super::deployer;
use super::fleet::{node_view, Deployer, Installed, NodeView};
use super::order;
use super::path::{oldest_supported_compute, series_ref};
use super::upgrade::{fallback_migrate_step, fallback_pin_step, new_step, site_deployer};
use super::{end_of_day, finish, history_by_node, in_scope, ymd, Context, PlanError, PlanInput};

/// What to roll back to.
#[derive(Debug, Clone, Default)]
pub enum RollbackTarget {
    /// Per node, the last state that differs from the current one.
    #[default]
    Previous,
    /// Per node, the latest inventory collected on or before this date.
    Date(Date),
    /// These inventories (per node, the latest of them).
    Inventories(Vec<Inventory>),
}

/// Rollback options.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Which nodes.
    pub scope: Scope,
    /// To what.
    pub to: RollbackTarget,
}

/// One component going back on one node.
#[derive(Debug, Clone)]
struct Change<'a> {
    node: &'a NodeView,
    cur: Installed,
    prev: Installed,
    prev_node: NodeView,
}

fn versions(n: &NodeView) -> BTreeMap<&'static str, (String, Vec<String>)> {
    n.installed
        .iter()
        .map(|i| {
            (
                i.component,
                (
                    i.version.clone(),
                    i.images.iter().map(|x| x.tag.clone()).collect(),
                ),
            )
        })
        .collect()
}

fn label_of(cat: &OpenStackCatalog, ord: Option<usize>) -> String {
    ord.and_then(|o| cat.series().iter().find(|s| s.ordinal == o))
        .map(|s| series_ref(s).label())
        .unwrap_or_else(|| "?".to_owned())
}

/// Per node, the latest of the given inventories.
fn latest_by_node(to: &RollbackTarget) -> BTreeMap<String, &Inventory> {
    let mut m: BTreeMap<String, &Inventory> = BTreeMap::new();
    if let RollbackTarget::Inventories(v) = to {
        for i in v {
            let e = m.entry(i.node.id.clone()).or_insert(i);
            if i.collected_at > e.collected_at {
                *e = i;
            }
        }
    }
    m
}

/// The inventory a node goes back to: the last with other versions, the last on or before a
/// date, or the one given. `history` is the node's, oldest first, its current state last.
fn rollback_point<'i>(
    cat: &OpenStackCatalog,
    node: &NodeView,
    history: &[&'i Inventory],
    to: &RollbackTarget,
    given: &BTreeMap<String, &'i Inventory>,
) -> Option<&'i Inventory> {
    match to {
        RollbackTarget::Previous => {
            let cur = versions(node);
            history
                .iter()
                .rev()
                .skip(1)
                .find(|i| versions(&node_view(i, cat)) != cur)
                .copied()
        }
        RollbackTarget::Date(d) => {
            let bound = end_of_day(*d);
            history
                .iter()
                .rev()
                .find(|i| i.collected_at.as_str() <= bound.as_str())
                .copied()
        }
        RollbackTarget::Inventories(_) => given.get(&node.id).copied(),
    }
}

/// The components whose version, image tags or packages differ between a node now and the
/// state it goes back to.
fn component_changes<'a>(node: &'a NodeView, prev: &NodeView) -> Vec<Change<'a>> {
    let mut out = Vec::new();
    for c in &node.installed {
        let Some(p) = prev.get(c.component) else {
            continue;
        };
        let tags = |i: &Installed| i.images.iter().map(|x| x.tag.clone()).collect::<Vec<_>>();
        if c.version != p.version || tags(c) != tags(p) || c.packages != p.packages {
            out.push(Change {
                node,
                cur: c.clone(),
                prev: p.clone(),
                prev_node: prev.clone(),
            });
        }
    }
    out
}

/// Every change of the scope; a node with no state to go back to is a limit.
fn scope_changes<'a>(
    cat: &OpenStackCatalog,
    scoped: &[&'a NodeView],
    hist: &BTreeMap<String, Vec<&Inventory>>,
    to: &RollbackTarget,
    limits: &mut Vec<Limit>,
) -> Vec<Change<'a>> {
    let given = latest_by_node(to);
    let mut changes = Vec::new();
    for n in scoped {
        let h = &hist[&n.id];
        let Some(prev_inv) = rollback_point(cat, n, h, to, &given) else {
            if matches!(to, RollbackTarget::Previous) && h.len() > 1 {
                // Every earlier inventory has the same versions: nothing changed, nothing to undo.
                continue;
            }
            limits.push(Limit {
                code: LimitCode::NoHistory,
                message: format!(
                    "{}: no earlier inventory with different versions: nothing to roll back to",
                    n.id
                ),
                steps: Vec::new(),
                nodes: vec![n.id.clone()],
            });
            continue;
        };
        changes.extend(component_changes(n, &node_view(prev_inv, cat)));
    }
    changes
}

/// A tenant-scoped rollback keeps what every tenant shares (the control plane, and the
/// infrastructure it shares: database, queue, caches, load balancers, Ceph monitors, OVN
/// databases), saying so per node; the data plane and the per-host agents under it go back.
fn without_shared<'a>(changes: Vec<Change<'a>>, warnings: &mut Vec<String>) -> Vec<Change<'a>> {
    let (kept, shared): (Vec<Change<'_>>, Vec<Change<'_>>) = changes.into_iter().partition(|c| {
        order::component(c.cur.component).is_none_or(|k| !k.shared_by_every_tenant())
    });
    let mut by_node: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in &shared {
        by_node.entry(&c.node.id).or_default().push(c.cur.component);
    }
    for (node, comps) in by_node {
        warnings.push(format!(
            "{node}: {} belong to the shared control plane and stay as they are; only the data plane of this scope is rolled back",
            comps.join(", ")
        ));
    }
    kept
}

/// What a rollback plan collects while it walks the sites.
#[derive(Default)]
struct Outcome {
    steps: Vec<Step>,
    limits: Vec<Limit>,
    warnings: Vec<String>,
}

/// One site of the rollback.
struct SiteRollback<'r, 'a> {
    cat: &'r OpenStackCatalog,
    site: &'r str,
    /// Every node of the site, in scope or not.
    site_nodes: Vec<&'r NodeView>,
    /// The scope's nodes of the site.
    in_site: Vec<&'r NodeView>,
    changes: Vec<&'r Change<'a>>,
    /// The oldest control-plane series of the site.
    control_ord: Option<usize>,
}

/// The computes of a tenant's site split into the held-back ones (labelled `hold`, or older
/// than the newest) and the upgraded ones.
fn held_and_upgraded<'n>(in_site: &[&'n NodeView]) -> (Vec<&'n NodeView>, Vec<&'n NodeView>) {
    let compute_ord = |n: &NodeView| n.get("nova-compute").and_then(|i| i.ordinal);
    let computes = in_site
        .iter()
        .copied()
        .filter(|n| n.get("nova-compute").is_some());
    let newest = computes.clone().filter_map(compute_ord).max();
    computes.partition(|n| {
        n.labels.get("hold").is_some_and(|v| v == "true")
            || compute_ord(n).zip(newest).is_some_and(|(o, m)| o < m)
    })
}

impl SiteRollback<'_, '_> {
    /// Scenario 2: tenant `t`'s fallback onto the hosts held back for it before the upgrade.
    fn tenant_fallback(&self, t: &str, out: &mut Outcome) {
        let site = self.site;
        let (held, upgraded) = held_and_upgraded(&self.in_site);
        if held.is_empty() {
            out.warnings.push(format!("{site}: tenant {t} has no held-back hosts (an aggregate kept at the previous release before the upgrade): its fallback is an in-place downgrade of its hosts, limited below"));
            return;
        }
        let aggs: BTreeSet<String> = held.iter().filter_map(|n| n.aggregate.clone()).collect();
        let aggs = aggs.into_iter().collect::<Vec<_>>().join(", ");
        let held_ids: Vec<String> = held.iter().map(|n| n.id.clone()).collect();
        let up_ids: Vec<String> = upgraded.iter().map(|n| n.id.clone()).collect();
        let held_series = label_of(
            self.cat,
            held.iter()
                .filter_map(|n| n.get("nova-compute").and_then(|i| i.ordinal))
                .min(),
        );
        let mut p = fallback_pin_step(
            t,
            site,
            format!("Pin tenant {t} to its held-back aggregate {aggs} ({held_series})"),
            &held_ids,
        );
        p.reason = Reason { text: format!("scenario 2: {aggs} was held at {held_series} before the upgrade for this fallback; its older nova-compute records are alive, so nothing has to re-register"), edges: Vec::new() };
        p.hints.commands = vec![
            format!("openstack aggregate set --property filter_tenant_id=<project id of {t}> {aggs}"),
            format!("remove filter_tenant_id=<project id of {t}> from the aggregates of {}", up_ids.join(", ")),
            "nova.conf [scheduler] limit_tenants_to_placement_aggregate=True (AggregateMultiTenancyIsolation keeps other tenants off the held hosts)".into(),
        ];
        out.steps.push(p);
        let mut m = fallback_migrate_step(
            t,
            site,
            format!(
                "Cold-migrate tenant {t}'s instances from {} onto {}",
                up_ids.join(", "),
                held_ids.join(", ")
            ),
            &up_ids,
        );
        m.hints.commands = vec![
            format!("openstack server list --all-projects --project <project id of {t}> --long"),
            format!("openstack --os-compute-api-version 2.56 server migrate --host <one of {}> <server>", held_ids.join(", ")),
            "openstack server resize confirm <server>".into(),
        ];
        m.preconditions.push(format!("@fallback-pin-{t}-{site} done, so rebuilt or re-created instances also land on the held hosts"));
        m.post_steps.push(format!(
            "tenant {t} now runs on {held_series}; other tenants keep the newer release"
        ));
        out.limits.push(Limit { code: LimitCode::NoLiveMigrationToOlder, message: format!("tenant {t}: instances move from {} to the older {} by cold migration only (live migration to an older hypervisor is refused)", up_ids.join(", "), held_ids.join(", ")), steps: vec![m.id.clone()], nodes: up_ids.clone() });
        out.steps.push(m);
    }

    /// The database restore a control-plane series rollback needs, with its limit.
    fn restore_step(&self, out: &mut Outcome) {
        let site = self.site;
        let mut r = new_step(format!("restore-database-{site}"), site, None, Phase::Restore, Action::RestoreDatabase, Some("mariadb"), format!("Stop the {site} control plane and restore the database backup taken before the upgrade"), Reversibility::NeedsDbRestore);
        r.reason = Reason { text: "no database schema is ever downgraded (NOVA-UPG, KS-UPG, CIN-UPG, GL-UPG): past a contract or data-migration step only the backup serves the older release".into(), edges: Vec::new() };
        r.preconditions.push("the backup taken by the upgrade plan (its backup-database step) exists and is readable; every write since it will be lost".into());
        r.preconditions
            .push("every OpenStack API and service of the site is stopped".into());
        r.hints.commands = vec!["restore the MariaDB backup (kolla: the documented mariadb restore procedure; OSA/distro: mariabackup --prepare / --copy-back, or the mysqldump file)".into()];
        out.limits.push(Limit { code: LimitCode::NoDbDowngrade, message: format!("{site}: the control plane goes back a series: the database cannot be downgraded, @{} restores the pre-upgrade backup (writes since are lost)", r.id), steps: vec![r.id.clone()], nodes: Vec::new() });
        out.steps.push(r);
    }

    /// Downgrades in reverse upgrade order, the database restored before the first
    /// control-plane or infrastructure step when the control plane goes back a series.
    fn downgrades(&self, deployer: Deployer, out: &mut Outcome) {
        let mut by_comp: BTreeMap<&'static str, Vec<&Change<'_>>> = BTreeMap::new();
        for c in &self.changes {
            by_comp.entry(c.cur.component).or_default().push(c);
        }
        let mut comps: Vec<&'static str> = by_comp.keys().copied().collect();
        comps.sort_by_key(|c| std::cmp::Reverse(order::position(c)));
        let control_series_down = self.changes.iter().any(|c| {
            order::component(c.cur.component)
                .is_some_and(|x| x.phase == Phase::ControlPlane && x.db != order::DbStyle::None)
                && c.series_down()
        });
        let mut restore_emitted = false;
        for comp_id in comps {
            let Some(comp) = order::component(comp_id) else {
                continue;
            };
            if comp.phase != Phase::DataPlane && control_series_down && !restore_emitted {
                self.restore_step(out);
                restore_emitted = true;
            }
            let s = self.downgrade_step(comp, &by_comp[comp_id], deployer, &mut out.limits);
            out.steps.push(s);
        }
    }

    /// One component's downgrade on the site's hosts that run it, with its limits.
    fn downgrade_step(
        &self,
        comp: &order::Component,
        list: &[&Change<'_>],
        deployer: Deployer,
        limits: &mut Vec<Limit>,
    ) -> Step {
        let (cat, site, comp_id) = (self.cat, self.site, comp.id);
        let series_down = list.iter().any(|c| c.series_down());
        let rev =
            if comp.phase != Phase::DataPlane && series_down && comp.db != order::DbStyle::None {
                Reversibility::NeedsDbRestore
            } else if comp.id == "rabbitmq" {
                Reversibility::Irreversible
            } else {
                Reversibility::CodeOnly
            };
        let hosts: Vec<String> = list.iter().map(|c| c.node.id.clone()).collect();
        let (from_l, to_l) = span_labels(cat, comp, list);
        let title = format!(
            "Roll {comp_id} back on {} ({} → {})",
            hosts.join(", "),
            from_l,
            to_l
        );
        let phase = match comp.phase {
            Phase::DataPlane => Phase::DataPlane,
            Phase::Infrastructure => Phase::Infrastructure,
            _ => Phase::ControlPlane,
        };
        let mut s = new_step(
            format!("downgrade-{comp_id}-{site}"),
            site,
            None,
            phase,
            Action::Downgrade,
            Some(comp_id),
            title,
            rev,
        );
        s.reason = Reason {
            text: match comp.phase {
                Phase::DataPlane => "reverse upgrade order: the data plane goes back first, so computes and agents are never newer than the control plane (E19)".into(),
                _ => "reverse upgrade order: control plane after the data plane, infrastructure last".into(),
            },
            edges: Vec::new(),
        };
        s.targets = downgrade_targets(comp_id, list);
        if comp_id == "nova-compute" {
            self.compute_limits(&mut s, list, &hosts, limits);
            s.post_steps.push("SIGHUP or restart nova-conductor, nova-scheduler and nova-api so the `auto` RPC cap is recomputed (or pin [upgrade_levels]compute)".into());
        }
        if comp_id == "rabbitmq" {
            let msg = format!("{site}: RabbitMQ has no downgrade: going back to {} means a new cluster importing the definitions exported before the upgrade (queued messages are lost)", list.first().map(|c| c.prev.version.clone()).unwrap_or_default());
            s.blocked_by.push(msg.clone());
            limits.push(Limit {
                code: LimitCode::NoRabbitmqDowngrade,
                message: msg,
                steps: vec![s.id.clone()],
                nodes: hosts.clone(),
            });
        }
        if rev == Reversibility::NeedsDbRestore {
            s.preconditions
                .push(format!("@restore-database-{site} done"));
        }
        s.hints = downgrade_hints(cat, comp, list, deployer);
        s
    }

    /// What blocks a nova-compute downgrade: no other compute as old (ServiceTooOld), a
    /// series below what the control plane supports (TooOldComputeService); and the host to
    /// empty first when its hypervisor goes back.
    fn compute_limits(
        &self,
        s: &mut Step,
        list: &[&Change<'_>],
        hosts: &[String],
        limits: &mut Vec<Limit>,
    ) {
        let (cat, site) = (self.cat, self.site);
        let control = self
            .control_ord
            .and_then(|o| cat.series().iter().find(|s| s.ordinal == o));
        for c in list {
            let Some(to_o) = c.prev.ordinal else { continue };
            if c.cur.ordinal.is_some_and(|o| o == to_o) {
                continue;
            }
            let others_older = self.site_nodes.iter().any(|n| {
                !hosts.contains(&n.id)
                    && n.get("nova-compute")
                        .and_then(|i| i.ordinal)
                        .is_some_and(|o| o <= to_o)
            });
            if !others_older {
                let msg = format!("{}: every other nova-compute of {site} is newer than {}: a compute started at {} refuses to register (ServiceTooOld)", c.node.id, label_of(cat, Some(to_o)), label_of(cat, Some(to_o)));
                block(s, limits, LimitCode::ComputeServiceTooOld, msg, &c.node.id);
            }
            if let Some(cs) = control {
                let oldest = oldest_supported_compute(cat, cs);
                if to_o < oldest.ordinal {
                    let msg = format!("{}: {} is below the {} control plane's oldest supported compute ({}): nova-conductor would refuse to start (TooOldComputeService)", c.node.id, label_of(cat, Some(to_o)), series_ref(cs).label(), series_ref(oldest).label());
                    block(s, limits, LimitCode::ComputeSkew, msg, &c.node.id);
                }
            }
            let hv_down =
                c.cur.ordinal > c.prev.ordinal || c.node.hypervisor != c.prev_node.hypervisor;
            if hv_down {
                s.preconditions.push(format!("{}: empty the host first (cold-migrate or stop its instances): instances cannot live-migrate onto an older hypervisor", c.node.id));
            }
        }
    }
}

/// A limit that blocks step `s` on one node: said on the step and in the plan's limits.
fn block(s: &mut Step, limits: &mut Vec<Limit>, code: LimitCode, msg: String, node: &str) {
    s.blocked_by.push(msg.clone());
    limits.push(Limit {
        code,
        message: msg,
        steps: vec![s.id.clone()],
        nodes: vec![node.to_owned()],
    });
}

impl Change<'_> {
    /// Whether the component goes back a series.
    fn series_down(&self) -> bool {
        matches!((self.cur.ordinal, self.prev.ordinal), (Some(a), Some(b)) if b < a)
    }
}

/// From and to of a downgrade: series for OpenStack services, the versions otherwise.
fn span_labels(
    cat: &OpenStackCatalog,
    comp: &order::Component,
    list: &[&Change<'_>],
) -> (String, String) {
    let span = |v: Vec<String>| {
        let set: BTreeSet<String> = v.into_iter().collect();
        set.into_iter().collect::<Vec<_>>().join(", ")
    };
    if comp.deliverable.is_some() {
        (
            label_of(cat, list.iter().filter_map(|c| c.cur.ordinal).max()),
            label_of(cat, list.iter().filter_map(|c| c.prev.ordinal).min()),
        )
    } else {
        (
            span(list.iter().map(|c| c.cur.version.clone()).collect()),
            span(list.iter().map(|c| c.prev.version.clone()).collect()),
        )
    }
}

/// A downgrade's targets: per host the version back, and each image whose tag or digest changes.
fn downgrade_targets(comp_id: &str, list: &[&Change<'_>]) -> Vec<Target> {
    let mut out = Vec::new();
    for c in list {
        out.push(Target {
            node: Some(c.node.id.clone()),
            component: Some(comp_id.into()),
            service: c.cur.deliverable.clone(),
            from: Some(c.cur.version.clone()),
            to: Some(c.prev.version.clone()),
            ..Target::default()
        });
        for (a, b) in c.cur.images.iter().zip(c.prev.images.iter()) {
            if a.tag != b.tag || a.digest != b.digest {
                out.push(Target {
                    node: Some(c.node.id.clone()),
                    component: Some(comp_id.into()),
                    image: Some(b.repository.clone()),
                    from: Some(a.tag.clone()),
                    to: Some(b.tag.clone()),
                    ..Target::default()
                });
            }
        }
    }
    out
}

/// The closing check of a site.
fn verify_step(site: &str) -> Step {
    let mut v = new_step(
        format!("verify-{site}"),
        site,
        None,
        Phase::Verify,
        Action::Verify,
        None,
        format!("Verify {site} after the rollback"),
        Reversibility::CodeOnly,
    );
    v.hints.commands = vec!["openstack compute service list   # the rolled-back computes are up and registered".into(), "nminus collect on the rolled-back nodes; nminus plan rollback again should find them at the target".into()];
    v
}

/// The series a rollback goes from (newest per site, each once) and to (the oldest target of
/// the last site with one).
fn series_span(
    cat: &OpenStackCatalog,
    changes: &[Change<'_>],
    sites: &BTreeSet<String>,
) -> (Vec<SeriesRef>, Option<SeriesRef>) {
    let mut from_series: Vec<SeriesRef> = Vec::new();
    let mut to_series: Option<SeriesRef> = None;
    let by_ordinal = |o: usize| cat.series().iter().find(|s| s.ordinal == o).map(series_ref);
    for site in sites {
        let site_changes = changes.iter().filter(|c| &c.node.site == site);
        if let Some(r) = site_changes
            .clone()
            .filter_map(|c| c.cur.ordinal)
            .max()
            .and_then(by_ordinal)
        {
            if !from_series.contains(&r) {
                from_series.push(r);
            }
        }
        if let Some(o) = site_changes.filter_map(|c| c.prev.ordinal).min() {
            to_series = by_ordinal(o);
        }
    }
    (from_series, to_series)
}

/// Plan a rollback.
pub fn plan_rollback(
    input: &dyn PlanInput,
    ctx: &Context<'_>,
    opts: &RollbackOptions,
) -> Result<Plan, PlanError> {
    let cat = ctx.catalog;
    let until = end_of_day(ctx.as_of);
    let hist = history_by_node(input.inventories(), Some(&until));
    if hist.is_empty() {
        return Err(PlanError::NoInventory {
            as_of: ymd(ctx.as_of),
        });
    }
    let mut current: Vec<NodeView> = hist
        .values()
        .filter_map(|h| h.last())
        .map(|i| node_view(i, cat))
        .collect();
    current.sort_by(|a, b| (&a.site, &a.id).cmp(&(&b.site, &b.id)));
    let mut scope = opts.scope.clone();
    let scoped: Vec<&NodeView> = current.iter().filter(|n| in_scope(&scope, n)).collect();
    if scoped.is_empty() {
        return Err(PlanError::EmptyScope {
            scope: scope.describe(),
            sites: Vec::new(),
        });
    }
    scope.nodes = scoped.iter().map(|n| n.id.clone()).collect();
    let mut out = Outcome {
        warnings: input
            .problems()
            .iter()
            .map(|p| format!("input: {p}"))
            .collect(),
        ..Outcome::default()
    };
    let mut changes = scope_changes(cat, &scoped, &hist, &opts.to, &mut out.limits);
    if changes.is_empty() {
        out.warnings.push(
            "nothing to roll back: the scope's history has no earlier state with other versions"
                .to_owned(),
        );
    }
    let sites: BTreeSet<String> = scoped.iter().map(|n| n.site.clone()).collect();
    let tenantish = scope.tenant.is_some()
        || scope.aggregate.is_some()
        || scope.az.is_some()
        || scope.cell.is_some();
    if tenantish {
        changes = without_shared(changes, &mut out.warnings);
    }
    let (from_series, to_series) = series_span(cat, &changes, &sites);
    for site in &sites {
        let site_nodes: Vec<&NodeView> = current.iter().filter(|n| &n.site == site).collect();
        let sr = SiteRollback {
            cat,
            site,
            control_ord: site_nodes
                .iter()
                .filter_map(|n| n.min_ordinal(Phase::ControlPlane))
                .min(),
            site_nodes,
            in_site: scoped.iter().copied().filter(|n| &n.site == site).collect(),
            changes: changes.iter().filter(|c| &c.node.site == site).collect(),
        };
        if tenantish {
            let cp = sr
                .control_ord
                .map(|o| label_of(cat, Some(o)))
                .unwrap_or_else(|| "?".to_owned());
            out.limits.push(Limit {
                code: LimitCode::SharedControlPlane,
                message: format!("{site}: the control plane (APIs, conductors, databases) is shared by every tenant and stays at {cp}: only the data plane of the scope goes back; a per-tenant control-plane version needs a separate region (see `nminus plan replicate`)"),
                steps: Vec::new(),
                nodes: Vec::new(),
            });
        }
        if let Some(t) = &scope.tenant {
            sr.tenant_fallback(t, &mut out);
        }
        sr.downgrades(site_deployer(&sr.in_site), &mut out);
        if !sr.changes.is_empty() {
            out.steps.push(verify_step(site));
        }
    }
    let plan = Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        id: String::new(),
        kind: PlanKind::Rollback,
        generated_at: ctx.generated_at.to_owned(),
        as_of: ymd(ctx.as_of),
        inputs: PlanInputs {
            inventories: input.inventories().len(),
            nodes: hist.len(),
            releases: None,
            policy: None,
            control_plane: None,
        },
        scope,
        from_series,
        to_series,
        paths: Vec::new(),
        steps: out.steps,
        rollback: Vec::new(),
        limits: out.limits,
        warnings: out.warnings,
        manifest: None,
    };
    Ok(finish(plan))
}

fn downgrade_hints(
    cat: &OpenStackCatalog,
    comp: &order::Component,
    list: &[&Change<'_>],
    d: Deployer,
) -> DeployerHints {
    let mut h = DeployerHints::default();
    let hosts: Vec<String> = list.iter().map(|c| c.node.id.clone()).collect();
    match d {
        Deployer::Kolla if !comp.kolla_tag.is_empty() => {
            let mut k = KollaHint {
                tags: vec![comp.kolla_tag.to_owned()],
                ..KollaHint::default()
            };
            for c in list {
                for img in &c.prev.images {
                    let vars = k.host_vars.entry(c.node.id.clone()).or_default();
                    vars.insert(format!("{}_tag", img.var_stem()), img.tag.clone());
                    if let Some(dg) = &img.digest {
                        vars.insert(
                            format!("{}_image_full", img.var_stem()),
                            format!("{}@{dg}", img.repository),
                        );
                    }
                }
            }
            k.commands.push(format!(
                "kolla-ansible deploy -i INVENTORY --tags {} --limit {}",
                comp.kolla_tag,
                crate::plan::render::shell_word(&hosts.join(","))
            ));
            h.kolla = Some(k);
        }
        Deployer::Osa if !comp.osa_playbook.is_empty() => {
            let mut o = OsaHint::default();
            if let (Some(dl), Some(c)) = (comp.deliverable, list.first()) {
                if let Some(series) = &c.prev.series {
                    if let Some(sha) = deployer::release_commit(cat, dl, series, &c.prev.version) {
                        o.vars
                            .insert(format!("{}_git_install_branch", dl.replace('-', "_")), sha);
                    }
                }
            }
            o.commands.push(format!(
                "openstack-ansible {} --limit {}",
                comp.osa_playbook,
                crate::plan::render::shell_word(&hosts.join(","))
            ));
            h.osa = Some(o);
        }
        _ => {}
    }
    for c in list {
        if let Some(mgr) = deployer::manager_of(c.node) {
            h.packages.extend(deployer::exact_pins(
                std::slice::from_ref(&c.node.id),
                mgr,
                &c.prev.packages,
            ));
        }
    }
    h.packages = deployer::merge_pins(std::mem::take(&mut h.packages));
    h
}

#[cfg(test)]
mod tests;
