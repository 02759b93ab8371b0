//! Upgrade plans: a target per site (a series given with `--to`, or the oldest series a policy
//! accepts), a SLURP-valid path to it, and per hop the steps in DAG order with preconditions,
//! post-steps, reversibility and deployer hints. Computes go last, in batches per cell /
//! aggregate / availability zone, canary first. Hosts held back for a tenant (scenario 2) stay
//! one hop behind, within the control plane's compute skew, and the plan's rollback list says
//! how to fall back onto them.

mod control;
mod hold;
mod infra;
mod planner;
mod rollback_steps;
mod targets;
#[cfg(test)]
mod tests;

use targets::{lookup_series, policy_target, refuse_series_without_releases};

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Action, BatchKind, DeployerHints, Limit, LimitCode, Phase, Plan, PlanInputs, PlanKind, Reason,
    Reversibility, Scope, SeriesRef, Step, Target, PLAN_SCHEMA_VERSION,
};
use crate::policy::Policy;
use crate::releases::openstack::{OpenStackCatalog, Series};

use super::deployer::kolla_tag;
use super::fleet::{Deployer, Installed, InstalledAs, NodeView};
use super::order::{self, Component};
use super::path::{self, series_ref};

use super::{current_nodes, end_of_day, finish, in_scope, ymd, Context, PlanError, PlanInput};

/// What to upgrade to and how.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// Which nodes.
    pub scope: Scope,
    /// Target series (name or release id).
    pub to: Option<String>,
    /// Or: the policy whose series rules pick the target.
    pub policy: Option<Policy>,
    /// Computes in the canary batch (0: no canary batch). Nodes labelled `canary=true` are the
    /// canary batch when there are any.
    pub canary: usize,
    /// Computes per later batch (0: one batch per cell / aggregate / AZ group).
    pub batch_size: usize,
    /// Hosts held back one hop for a tenant fallback (`aggregate=agg-acme-hold`).
    pub hold_back: Vec<Scope>,
    /// Never skip a release.
    pub adjacent_only: bool,
    /// The control plane (a discovery) whose endpoints each step's verification names.
    pub control_plane: Option<crate::model::controlplane::PlanControlPlane>,
}

/// Services with a `<service>-status upgrade check` command (probe on the host: E20).
const STATUS_CHECKS: &[&str] = &[
    "nova",
    "cinder",
    "placement",
    "ironic",
    "keystone",
    "glance",
    "neutron",
    "heat",
    "octavia",
    "designate",
    "manila",
    "barbican",
];

#[allow(clippy::too_many_arguments)] // every field a step needs; named at each call site
pub(crate) fn new_step(
    id: String,
    site: &str,
    hop: Option<u32>,
    phase: Phase,
    action: Action,
    component: Option<&str>,
    title: String,
    rev: Reversibility,
) -> Step {
    Step {
        id,
        order: 0,
        site: Some(site.to_owned()),
        hop,
        phase,
        action,
        component: component.map(str::to_owned),
        title,
        targets: Vec::new(),
        preconditions: Vec::new(),
        post_steps: Vec::new(),
        reversibility: rev,
        reason: Reason::default(),
        hints: DeployerHints::default(),
        batch: None,
        blocked_by: Vec::new(),
        verification: Vec::new(),
    }
}

/// A target of nova-compute on each of these hosts.
pub(crate) fn compute_targets<'s>(hosts: impl IntoIterator<Item = &'s String>) -> Vec<Target> {
    hosts
        .into_iter()
        .map(|h| Target {
            node: Some(h.clone()),
            component: Some("nova-compute".into()),
            ..Target::default()
        })
        .collect()
}

/// Per image of `i` on node `n`, its move to the kolla tag of `to` on the node's base.
pub(crate) fn image_targets<'i>(
    n: &'i NodeView,
    comp: &'i str,
    i: &'i Installed,
    to: &'i Series,
) -> impl Iterator<Item = Target> + 'i {
    let (distro, ver) = n.kolla_base.clone().unwrap_or_default();
    i.images.iter().map(move |img| Target {
        node: Some(n.id.clone()),
        component: Some(comp.to_owned()),
        image: Some(img.repository.clone()),
        from: Some(img.tag.clone()),
        to: Some(kolla_tag(to, &distro, &ver)),
        ..Target::default()
    })
}

/// Scenario 2's first step for tenant `t`: pin it to its held-back hosts (their aggregates).
pub(crate) fn fallback_pin_step<'s>(
    t: &str,
    site: &str,
    title: String,
    held: impl IntoIterator<Item = &'s String>,
) -> Step {
    let mut p = new_step(
        format!("fallback-pin-{t}-{site}"),
        site,
        None,
        Phase::Fallback,
        Action::ConfigureAggregate,
        Some("nova-compute"),
        title,
        Reversibility::CodeOnly,
    );
    p.targets = compute_targets(held);
    p
}

/// Scenario 2's second step for tenant `t`: cold-migrate its instances off the upgraded hosts
/// (live migration onto an older hypervisor is refused).
pub(crate) fn fallback_migrate_step<'s>(
    t: &str,
    site: &str,
    title: String,
    upgraded: impl IntoIterator<Item = &'s String>,
) -> Step {
    let mut m = new_step(
        format!("fallback-cold-migrate-{t}-{site}"),
        site,
        None,
        Phase::Fallback,
        Action::ColdMigrate,
        Some("nova-compute"),
        title,
        Reversibility::CodeOnly,
    );
    m.reason = Reason {
        text: "live migration onto an older hypervisor is refused (DestinationHypervisorTooOld): cold migration, rebuild or re-create".into(),
        edges: Vec::new(),
    };
    m.targets = compute_targets(upgraded);
    m
}

/// The deployer most of a site's nodes use.
pub(crate) fn site_deployer(nodes: &[&NodeView]) -> Deployer {
    let mut count: BTreeMap<Deployer, usize> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.deployer != Deployer::Unknown) {
        *count.entry(n.deployer).or_default() += 1;
    }
    count
        .into_iter()
        .max_by_key(|(d, c)| (*c, std::cmp::Reverse(*d)))
        .map_or(Deployer::Unknown, |(d, _)| d)
}

struct SitePlanner<'a> {
    cat: &'a OpenStackCatalog,
    opts: &'a UpgradeOptions,
    site: String,
    deployer: Deployer,
    /// In-scope nodes of the site.
    nodes: Vec<&'a NodeView>,
    /// Every node of the site (for skew checks).
    site_nodes: Vec<&'a NodeView>,
    held: BTreeSet<String>,
    steps: Vec<Step>,
    rollback: Vec<Step>,
    limits: Vec<Limit>,
    warnings: Vec<String>,
    /// Components present in scope, in DAG order.
    present: Vec<&'static Component>,
}

/// Compute batches: the canary batch first (hosts labelled `canary=true`, else the first
/// `canary` hosts in (group, id) order), then per group (cell / aggregate / AZ) chunks of
/// `batch_size` (0: the whole group).
pub(crate) fn compute_batches<'a>(
    nodes: &[&'a NodeView],
    canary: usize,
    batch_size: usize,
) -> Vec<(BatchKind, String, Vec<&'a NodeView>)> {
    let mut sorted: Vec<&NodeView> = nodes.to_vec();
    sorted.sort_by(|a, b| (a.group(), &a.id).cmp(&(b.group(), &b.id)));
    let labelled: Vec<&NodeView> = sorted.iter().copied().filter(|n| n.is_canary()).collect();
    let canary_nodes: Vec<&NodeView> = if !labelled.is_empty() {
        labelled
    } else {
        sorted.iter().copied().take(canary).collect()
    };
    let mut out = Vec::new();
    if !canary_nodes.is_empty() && canary_nodes.len() < sorted.len() {
        let groups: BTreeSet<String> = canary_nodes.iter().map(|n| n.group()).collect();
        out.push((
            BatchKind::Canary,
            groups.into_iter().collect::<Vec<_>>().join("; "),
            canary_nodes.clone(),
        ));
    }
    let rest: Vec<&NodeView> = if out.is_empty() {
        sorted
    } else {
        sorted
            .into_iter()
            .filter(|n| !canary_nodes.iter().any(|c| c.id == n.id))
            .collect()
    };
    let mut by_group: BTreeMap<String, Vec<&NodeView>> = BTreeMap::new();
    for n in rest {
        by_group.entry(n.group()).or_default().push(n);
    }
    for (g, members) in by_group {
        let size = if batch_size == 0 {
            members.len()
        } else {
            batch_size
        };
        for chunk in members.chunks(size.max(1)) {
            out.push((BatchKind::Batch, g.clone(), chunk.to_vec()));
        }
    }
    out
}

/// Plan an upgrade.
pub fn plan_upgrade(
    input: &dyn PlanInput,
    ctx: &Context<'_>,
    opts: &UpgradeOptions,
) -> Result<Plan, PlanError> {
    let cat = ctx.catalog;
    let until = end_of_day(ctx.as_of);
    let all = current_nodes(input.inventories(), Some(&until), cat);
    if all.is_empty() {
        return Err(PlanError::NoInventory {
            as_of: ymd(ctx.as_of),
        });
    }
    let mut scope = opts.scope.clone();
    let scoped: Vec<&NodeView> = all.iter().filter(|n| in_scope(&scope, n)).collect();
    if scoped.is_empty() {
        let sites: BTreeSet<&str> = all.iter().map(|n| n.site.as_str()).collect();
        return Err(PlanError::EmptyScope {
            scope: scope.describe(),
            sites: sites.into_iter().map(str::to_owned).collect(),
        });
    }
    if opts.to.is_none() && opts.policy.is_none() {
        return Err(PlanError::NoTarget);
    }
    if let Some(t) = &opts.to {
        refuse_series_without_releases(cat, t)?;
    }
    scope.nodes = scoped.iter().map(|n| n.id.clone()).collect();
    let mut warnings: Vec<String> = input
        .problems()
        .iter()
        .map(|p| format!("input: {p}"))
        .collect();
    let mut limits = Vec::new();
    let mut steps = Vec::new();
    let mut rollback = Vec::new();
    let mut paths = Vec::new();
    let sites: BTreeSet<String> = scoped.iter().map(|n| n.site.clone()).collect();
    let several_sites = sites.len() > 1;
    for site in sites {
        let site_nodes: Vec<&NodeView> = all.iter().filter(|n| n.site == site).collect();
        let nodes: Vec<&NodeView> = scoped.iter().copied().filter(|n| n.site == site).collect();
        series_limits(&nodes, &mut limits, &mut warnings);
        let Some((from, to)) = site_series(
            ctx,
            opts,
            &site,
            &site_nodes,
            &nodes,
            several_sites,
            &mut warnings,
        )?
        else {
            continue;
        };
        let mut sp = site_planner(cat, opts, site.clone(), nodes, site_nodes, &mut warnings);
        if sp.deployer == Deployer::Kolla && to.ordinal > from.ordinal {
            sp.warnings.push(format!("{site}: kolla-ansible discourages --limit (known bugs with register:); the plan uses it only for compute batches and cell conductors, the documented per-cell exception"));
        }
        if to.ordinal > from.ordinal {
            compute_skew_limits(&mut sp, to);
        }
        let sp_path = sp.plan(from, to)?;
        sp.rollback_steps(&sp_path);
        paths.push(sp_path);
        steps.extend(sp.steps);
        rollback.extend(sp.rollback);
        limits.extend(sp.limits);
        warnings.extend(sp.warnings);
    }
    let mut from_series: Vec<SeriesRef> = paths.iter().map(|p| p.from.clone()).collect();
    from_series.sort_by_key(|s| cat.series_named(&s.name).map_or(0, |x| x.ordinal));
    from_series.dedup();
    let to_series = paths
        .iter()
        .map(|p| &p.to)
        .max_by_key(|s| cat.series_named(&s.name).map_or(0, |x| x.ordinal))
        .cloned();
    let mut plan = Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        id: String::new(),
        kind: PlanKind::Upgrade,
        generated_at: ctx.generated_at.to_owned(),
        as_of: ymd(ctx.as_of),
        inputs: PlanInputs {
            inventories: input.inventories().len(),
            nodes: all.len(),
            releases: None,
            policy: opts.policy.as_ref().map(|p| p.name.clone()),
            control_plane: None,
        },
        scope,
        from_series,
        to_series,
        paths,
        steps,
        rollback,
        limits,
        warnings,
        manifest: None,
    };
    if let Some(cp) = &opts.control_plane {
        super::verify::attach(&mut plan, cp);
    }
    Ok(finish(plan))
}

/// Limits for services the planner cannot move: a version of no known series, an unreleased
/// build.
fn series_limits(nodes: &[&NodeView], limits: &mut Vec<Limit>, warnings: &mut Vec<String>) {
    for n in nodes {
        for i in n.installed.iter().filter(|i| i.deliverable.is_some()) {
            if i.ordinal.is_none() && i.install != InstalledAs::Image {
                let msg = format!("{}: {} {} matches no release in openstack/releases: its series is unknown and it is not planned", n.id, i.deliverable.as_deref().unwrap_or(""), i.version);
                limits.push(Limit {
                    code: LimitCode::UnknownSeries,
                    message: msg.clone(),
                    steps: Vec::new(),
                    nodes: vec![n.id.clone()],
                });
                warnings.push(msg);
            }
            if !i.exact && i.based_on.is_some() {
                limits.push(Limit {
                        code: LimitCode::UnreleasedBuild,
                        message: format!("{}: {} {} is an unreleased build ({} + {} commits): the plan moves it to a release; check what the extra commits carry", n.id, i.deliverable.as_deref().unwrap_or(""), i.version, i.based_on.as_deref().unwrap_or(""), i.commits_after.unwrap_or(0)),
                        steps: Vec::new(),
                        nodes: vec![n.id.clone()],
                    });
            }
        }
    }
}

/// The series a site starts from (its oldest control plane, else data plane) and the one it
/// moves to; `None` when the site is left out (a warning says why).
fn site_series<'c>(
    ctx: &Context<'c>,
    opts: &UpgradeOptions,
    site: &str,
    site_nodes: &[&NodeView],
    nodes: &[&NodeView],
    several_sites: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<(&'c Series, &'c Series)>, PlanError> {
    let cat = ctx.catalog;
    let control = site_nodes
        .iter()
        .filter_map(|n| n.min_ordinal(Phase::ControlPlane))
        .min();
    let data = site_nodes
        .iter()
        .filter_map(|n| n.min_ordinal(Phase::DataPlane))
        .min();
    let Some(from_ord) = control.or(data) else {
        warnings.push(format!(
            "{site}: no OpenStack service with a known series: nothing to plan"
        ));
        return Ok(None);
    };
    let Some(from) = lookup_series(cat, from_ord) else {
        return Ok(None);
    };
    let mut to = match (&opts.to, &opts.policy) {
        (Some(t), _) => path::find_series(cat, t)?,
        (None, Some(p)) => policy_target(cat, p, ctx, nodes, from)?,
        (None, None) => from,
    };
    if to.ordinal < from.ordinal && several_sites {
        warnings.push(format!(
                "{site}: already runs {}, newer than the target {}: left out (series are never downgraded in place)",
                series_ref(from).label(),
                series_ref(to).label()
            ));
        return Ok(None);
    }
    if to.ordinal < from.ordinal {
        return Err(path::PathError::Backwards {
            from: from.id().to_owned(),
            to: to.id().to_owned(),
        }
        .into());
    }
    // The scope must include the control plane for the data plane to move past it (E19).
    let control_nodes: Vec<&NodeView> = site_nodes
        .iter()
        .copied()
        .filter(|n| n.min_ordinal(Phase::ControlPlane).is_some())
        .collect();
    let control_in_scope = control_nodes
        .iter()
        .all(|c| nodes.iter().any(|n| n.id == c.id));
    if !control_in_scope && to.ordinal > from.ordinal {
        warnings.push(format!(
                "{site}: the scope leaves out control-plane nodes ({}): computes must never be newer than conductors (E19), so the target is capped at the control plane's {} (point releases only)",
                control_nodes.iter().filter(|c| !nodes.iter().any(|n| n.id == c.id)).map(|c| c.id.as_str()).collect::<Vec<_>>().join(", "),
                series_ref(from).label()
            ));
        to = from;
    }
    Ok(Some((from, to)))
}

/// The planner of one site: its held-back hosts and the components present in scope.
fn site_planner<'a>(
    cat: &'a OpenStackCatalog,
    opts: &'a UpgradeOptions,
    site: String,
    nodes: Vec<&'a NodeView>,
    site_nodes: Vec<&'a NodeView>,
    warnings: &mut Vec<String>,
) -> SitePlanner<'a> {
    let held: BTreeSet<String> = site_nodes
        .iter()
        .filter(|n| {
            n.get("nova-compute").is_some() && opts.hold_back.iter().any(|h| in_scope(h, n))
        })
        .map(|n| n.id.clone())
        .collect();
    if !opts.hold_back.is_empty() && held.is_empty() {
        warnings.push(format!(
            "{site}: --hold-back matches no compute host of the site"
        ));
    }
    let present_ids: BTreeSet<&str> = nodes
        .iter()
        .flat_map(|n| n.installed.iter().map(|i| i.component))
        .collect();
    let mut present: Vec<&'static Component> = order::upgrade_order()
        .iter()
        .filter(|c| present_ids.contains(*c))
        .filter_map(|c| order::component(c))
        .collect();
    if present_ids.contains("octavia") {
        present.retain(|c| c.id != "octavia-amphora");
        if let Some(a) = order::component("octavia-amphora") {
            present.push(a);
            present.sort_by_key(|c| order::position(c.id));
        }
    }
    SitePlanner {
        cat,
        opts,
        site,
        deployer: site_deployer(&nodes),
        nodes,
        site_nodes,
        held,
        steps: Vec::new(),
        rollback: Vec::new(),
        limits: Vec::new(),
        warnings: Vec::new(),
        present,
    }
}

/// Computes left behind (outside the scope) must stay within the target's compute skew.
fn compute_skew_limits(sp: &mut SitePlanner<'_>, to: &Series) {
    let cat = sp.cat;
    let site = sp.site.clone();
    let oldest = path::oldest_supported_compute(cat, to);
    for n in sp
        .site_nodes
        .iter()
        .filter(|n| n.get("nova-compute").is_some() && !sp.nodes.iter().any(|m| m.id == n.id))
    {
        if let Some(o) = n.get("nova-compute").and_then(|i| i.ordinal) {
            if o < oldest.ordinal {
                let msg = format!("{site}: {} stays at {} outside the scope, below the {} control plane's oldest supported compute {}: nova-conductor would refuse to start (TooOldComputeService); include it in the scope", n.id, lookup_series(cat, o).map(|s| series_ref(s).label()).unwrap_or_default(), series_ref(to).label(), series_ref(oldest).label());
                sp.limits.push(Limit {
                    code: LimitCode::ComputeSkew,
                    message: msg.clone(),
                    steps: Vec::new(),
                    nodes: vec![n.id.clone()],
                });
                sp.warnings.push(msg);
            }
        }
    }
}
