//! Upgrade plans: a target per site (a series given with `--to`, or the oldest series a policy
//! accepts), a SLURP-valid path to it, and per hop the steps in DAG order with preconditions,
//! post-steps, reversibility and deployer hints. Computes go last, in batches per cell /
//! aggregate / availability zone, canary first. Hosts held back for a tenant (scenario 2) stay
//! one hop behind, within the control plane's compute skew, and the plan's rollback list says
//! how to fall back onto them.

use std::collections::{BTreeMap, BTreeSet};

use crate::fleet::{n_as_of, status_as_of};
use crate::model::{
    Action, Batch, BatchKind, DeployerHints, Hop, HopKind, KollaHint, Limit, LimitCode, OsaHint,
    Phase, Plan, PlanInputs, PlanKind, Reason, Reversibility, Scope, SeriesRef, SitePath, Step,
    Target, PLAN_SCHEMA_VERSION,
};
use crate::policy::{Policy, SubjectFacts, SubjectKind};
use crate::releases::openstack::{OpenStackCatalog, Series, SeriesStatus};

use super::deployer::{self, kolla_tag};
use super::fleet::{Deployer, ImageInfo, Installed, NodeView};
use super::order::{self, Component, DbStyle};
use super::path::{self, series_ref, PathOptions};
use crate::version::pep440::Pep440Version;

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
    }
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

fn lookup_series(cat: &OpenStackCatalog, ordinal: usize) -> Option<&Series> {
    cat.series()
        .iter()
        .find(|s| s.ordinal == ordinal && !s.is_independent())
}

/// The target series a policy asks for, for one site: for each service below what the policy
/// allows, the oldest allowed series above it; the site moves to the newest of those.
fn policy_target<'a>(
    cat: &'a OpenStackCatalog,
    policy: &Policy,
    ctx: &Context<'_>,
    nodes: &[&NodeView],
    from: &'a Series,
) -> Result<&'a Series, PlanError> {
    let n = n_as_of(cat, ctx.as_of)
        .ok_or_else(|| PlanError(format!("no maintained series as of {}", ymd(ctx.as_of))))?;
    let mut target = from;
    for node in nodes {
        for i in node.installed.iter().filter(|i| i.deliverable.is_some()) {
            let (Some(d), Some(ord)) = (&i.deliverable, i.ordinal) else {
                continue;
            };
            let facts = SubjectFacts {
                kind: Some(SubjectKind::Openstack),
                ecosystem: "openstack",
                name: d,
                deliverable_type: Some("service"),
                purl: None,
                node: &node.id,
                site: Some(&node.site),
                cell: node.cell.as_deref(),
                labels: Some(&node.labels),
            };
            let Some((_, rule)) = policy.rule_for(&facts, |r| r.series.as_ref()) else {
                continue;
            };
            let prev_slurp = path::previous_slurp(cat, n);
            let allowed = |s: &Series| {
                let lag_ok =
                    s.ordinal <= n.ordinal && n.ordinal - s.ordinal <= rule.max_lag as usize;
                let slurp_ok =
                    rule.allow_previous_slurp && prev_slurp.is_some_and(|p| p.ordinal == s.ordinal);
                let status_ok = !rule.require_maintained
                    || status_as_of(s, ctx.as_of) == SeriesStatus::Maintained;
                (lag_ok || slurp_ok) && status_ok
            };
            let Some(cur) = lookup_series(cat, ord) else {
                continue;
            };
            if allowed(cur) {
                continue;
            }
            let want = cat
                .series()
                .iter()
                .filter(|s| {
                    !s.is_independent() && s.ordinal > ord && s.ordinal <= n.ordinal && allowed(s)
                })
                .min_by_key(|s| s.ordinal);
            if let Some(w) = want {
                if w.ordinal > target.ordinal {
                    target = w;
                }
            }
        }
    }
    Ok(target)
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

impl<'a> SitePlanner<'a> {
    fn present_ids(&self) -> BTreeSet<&'static str> {
        self.present.iter().map(|c| c.id).collect()
    }

    /// In-scope nodes running `comp` that this hop changes: held hosts stay out of the last
    /// hop; nodes already at (or past) the hop's target are left alone.
    fn nodes_with(&self, comp: &str, hop: &Hop, to: &Series, last: bool) -> Vec<&'a NodeView> {
        self.nodes
            .iter()
            .copied()
            .filter(|n| !(last && self.held.contains(&n.id)))
            .filter(|n| n.get(comp).is_some_and(|i| self.needs(i, to, hop.kind)))
            .collect()
    }

    /// Whether an installed component moves in a hop to `to`.
    fn needs(&self, i: &Installed, to: &Series, kind: HopKind) -> bool {
        if i.deliverable.is_none() {
            return kind != HopKind::Patch;
        }
        match i.ordinal {
            Some(o) if o > to.ordinal => false,
            Some(o) if o == to.ordinal => {
                let latest = self
                    .target_version(i, to)
                    .and_then(|v| v.parse::<Pep440Version>().ok());
                let have = i.version.parse::<Pep440Version>().ok();
                match (have, latest) {
                    (Some(h), Some(l)) => h < l,
                    _ => false,
                }
            }
            Some(_) => true,
            None => i.install == "image" && kind != HopKind::Patch,
        }
    }

    fn reason_for(&self, comp: &str, text: String) -> Reason {
        let present = self.present_ids();
        let edges = order::edges_into(comp, &present)
            .into_iter()
            .map(order::Edge::to_ref)
            .collect();
        Reason { text, edges }
    }

    fn id(&self, base: &str, hop: &Hop) -> String {
        format!("{base}-{}-h{}", self.site, hop.index)
    }

    fn kolla_cmd(&self, tags: &str, verb: &str, hosts: Option<&[String]>) -> String {
        let mut s = format!("kolla-ansible {verb} -i INVENTORY --tags {tags}");
        if let Some(h) = hosts {
            s.push_str(&format!(
                " --limit {}",
                crate::plan::render::shell_word(&h.join(","))
            ));
        }
        s
    }

    /// `--limit` when the step covers only some of the site's hosts running the component.
    fn limit_for(&self, comp: &str, hosts: &[String]) -> Option<Vec<String>> {
        let all: BTreeSet<&str> = self
            .site_nodes
            .iter()
            .filter(|n| n.get(comp).is_some())
            .map(|n| n.id.as_str())
            .collect();
        let mine: BTreeSet<&str> = hosts.iter().map(String::as_str).collect();
        (all != mine).then(|| hosts.to_vec())
    }

    fn target_version(&self, i: &Installed, to: &Series) -> Option<String> {
        let d = i.deliverable.as_deref()?;
        self.cat
            .latest_in_series(d, &to.name)
            .map(|r| r.version.clone())
    }

    fn plan(&mut self, from: &'a Series, to: &'a Series) -> Result<SitePath, PlanError> {
        let hops = if from.ordinal == to.ordinal {
            vec![path::patch_hop(self.cat, from)]
        } else {
            path::upgrade_path(
                self.cat,
                from,
                to,
                PathOptions {
                    adjacent_only: self.opts.adjacent_only,
                },
            )?
        };
        let nhops = hops.len();
        for hop in &hops {
            let last = usize::try_from(hop.index).unwrap_or(0) == nhops;
            let hop_from = path::find_series(self.cat, &hop.from.name)?;
            let hop_to = path::find_series(self.cat, &hop.to.name)?;
            self.hop(hop, hop_from, hop_to, last);
        }
        Ok(SitePath {
            site: self.site.clone(),
            from: series_ref(from),
            to: series_ref(to),
            hops,
        })
    }

    fn hop(&mut self, hop: &Hop, from: &'a Series, to: &'a Series, last: bool) {
        let series_change = hop.kind != HopKind::Patch;
        let h = Some(hop.index);
        let site = self.site.clone();
        let deliverables: BTreeSet<&str> =
            self.present.iter().filter_map(|c| c.deliverable).collect();
        let hop_label = if series_change {
            format!("{} → {}", hop.from.label(), hop.to.label())
        } else {
            format!("point releases of {}", hop.to.label())
        };

        // ---- prepare ----
        if series_change && (deliverables.contains("nova") || deliverables.contains("cinder")) {
            let mut s = new_step(
                self.id("verify-data-migrations", hop),
                &site,
                h,
                Phase::Prepare,
                Action::VerifyDataMigrations,
                None,
                format!(
                    "Confirm {}'s online data migrations are complete",
                    hop.from.label()
                ),
                Reversibility::CodeOnly,
            );
            for d in ["nova", "cinder"]
                .iter()
                .filter(|d| deliverables.contains(**d))
            {
                s.hints.commands.push(format!("{d}-manage db online_data_migrations   # must exit 0 (1: rerun; 2: errors to fix)"));
            }
            s.reason = Reason { text: format!("E21 (hard): release N's online data migrations must be complete before the upgrade to N+1 or a SLURP jump; nova and cinder refuse the next schema otherwise ({hop_label})"), edges: Vec::new() };
            self.steps.push(s);
        }
        let mut b = new_step(
            self.id("backup-database", hop),
            &site,
            h,
            Phase::Prepare,
            Action::BackupDatabase,
            Some("mariadb"),
            format!("Back up every OpenStack database before {hop_label}"),
            Reversibility::CodeOnly,
        );
        b.reason = Reason { text: "no database schema is ever downgraded (NOVA-UPG, KS-UPG, CIN-UPG, GL-UPG): this backup is the only way back once a step marked needs-db-restore has run".to_owned(), edges: Vec::new() };
        b.post_steps.push(
            "copy the backup off the database hosts and record its location in the change ticket"
                .to_owned(),
        );
        match self.deployer {
            Deployer::Kolla => {
                b.hints.kolla = Some(KollaHint {
                    commands: vec![
                        "kolla-ansible mariadb-backup -i INVENTORY".to_owned(),
                        "tar czf kolla-config-backup.tgz /etc/kolla".to_owned(),
                    ],
                    ..KollaHint::default()
                });
            }
            Deployer::Osa => {
                b.hints.osa = Some(OsaHint {
                    commands: vec!["tar czf osa-config-backup.tgz /etc/openstack_deploy".to_owned()],
                    ..OsaHint::default()
                });
                b.hints.commands.push("mariabackup --backup --target-dir=/var/backup/openstack-before-upgrade   # on one galera node (container), then --prepare".to_owned());
            }
            _ => {}
        }
        b.hints.commands.push("mysqldump --all-databases --single-transaction --routines --events > openstack-before-upgrade.sql   # if the deployer has no backup command".to_owned());
        self.steps.push(b);

        let mut st = new_step(
            self.id("stage-code", hop),
            &site,
            h,
            Phase::Prepare,
            Action::StageCode,
            None,
            format!("Stage the new code for {hop_label} beside the running one"),
            Reversibility::CodeOnly,
        );
        st.reason = Reason { text: "new code is installed before the window (images pulled, venvs built, repositories enabled); nothing restarts yet".to_owned(), edges: Vec::new() };
        match self.deployer {
            Deployer::Kolla => {
                let mut k = KollaHint::default();
                k.globals
                    .insert("openstack_release".to_owned(), to.id().to_owned());
                if let Some(r) = self.cat.latest_in_series("kolla-ansible", &to.name) {
                    k.commands.push(format!(
                        "python3 -m pip install 'kolla-ansible=={}'   # latest kolla-ansible of {}",
                        r.version,
                        to.id()
                    ));
                }
                k.commands.push("kolla-ansible install-deps".to_owned());
                if hop.kind == HopKind::SlurpSkip {
                    k.commands.push("# SLURP jump: upgrade ansible-core to the range this kolla-ansible supports first".to_owned());
                }
                k.commands
                    .push("kolla-ansible pull -i INVENTORY".to_owned());
                k.commands
                    .push("kolla-ansible prechecks -i INVENTORY".to_owned());
                st.hints.kolla = Some(k);
                let bases: BTreeSet<(String, String)> = self
                    .nodes
                    .iter()
                    .filter_map(|n| n.kolla_base.clone())
                    .collect();
                for (distro, ver) in bases {
                    let next = deployer::kolla_base_for(to, &distro, &ver);
                    if next != ver {
                        let msg = format!("{site}: kolla {} builds {distro} images on {next} (the site runs {ver}): the hosts' OS must be supported by {} before this hop (kolla base-distro support matrix), or build your own images", to.id(), to.id());
                        st.preconditions.push(msg.clone());
                        self.warnings.push(msg);
                    }
                }
                st.post_steps.push("keep per-host and per-group tag overrides in inventory host_vars/group_vars, never in globals.yml (extra-vars precedence cannot differ per host)".to_owned());
            }
            Deployer::Osa => {
                let mut o = OsaHint::default();
                if let Some(r) = self.cat.latest_in_series("openstack-ansible", &to.name) {
                    o.commands.push(format!("git -C /opt/openstack-ansible fetch --tags && git -C /opt/openstack-ansible checkout {}   # latest openstack-ansible of {}", r.version, to.id()));
                }
                o.commands
                    .push("cd /opt/openstack-ansible && scripts/bootstrap-ansible.sh".to_owned());
                if hop.kind == HopKind::SlurpSkip {
                    o.commands.push("# SLURP jump: read the skipped release's OpenStack-Ansible upgrade notes too".to_owned());
                }
                st.hints.osa = Some(o);
            }
            Deployer::Distro => {
                let mut repos = BTreeSet::new();
                for n in &self.nodes {
                    if let Some(r) = deployer::distro_repo(n, to) {
                        repos.insert(r);
                    }
                }
                for r in repos {
                    if r.starts_with("cloud-archive:") {
                        st.hints
                            .commands
                            .push(format!("add-apt-repository -y {r} && apt-get update"));
                    } else {
                        st.hints.commands.push(format!("dnf install -y {r}"));
                    }
                }
            }
            Deployer::Unknown => {}
        }
        self.steps.push(st);

        let checks: Vec<&str> = STATUS_CHECKS
            .iter()
            .copied()
            .filter(|d| series_change && deliverables.contains(d))
            .collect();
        if !checks.is_empty() {
            let mut c = new_step(
                self.id("upgrade-check", hop),
                &site,
                h,
                Phase::Prepare,
                Action::UpgradeCheck,
                None,
                "Run the upgrade checks with the new code".to_owned(),
                Reversibility::CodeOnly,
            );
            for d in &checks {
                c.hints.commands.push(format!("{d}-status upgrade check   # with the NEW code; 0 ok, 1 warning (read it), 2 stop: the upgrade will fail"));
            }
            c.preconditions.push("the command exists only where the service ships it: probe for `<service>-status` on each host".to_owned());
            c.reason = Reason { text: "E20 (gate): `<service>-status upgrade check` with the new code before restarting that service".to_owned(), edges: Vec::new() };
            self.steps.push(c);
        }

        // ---- hold-back (scenario 2) ----
        if !self.held.is_empty() && hop.index == 1 {
            self.hold_back_setup(hop);
        }
        if !self.held.is_empty() && last {
            self.hold_step(hop, from, to);
        }

        // ---- components in DAG order ----
        let present = self.present.clone();
        for comp in present {
            if comp.id == "octavia-amphora" {
                continue;
            }
            match comp.phase {
                Phase::Infrastructure => self.infra_step(comp, hop, from, to, last),
                Phase::ControlPlane => self.control_step(comp, hop, from, to, last),
                Phase::DataPlane => {
                    if comp.id == "nova-compute" {
                        if deliverables.contains("octavia") && series_change {
                            self.amphora_step(hop, to);
                        }
                        self.compute_steps(comp, hop, from, to, last);
                    } else {
                        self.data_step(comp, hop, from, to, last);
                    }
                }
                _ => {}
            }
        }
        if deliverables.contains("octavia")
            && series_change
            && !self.present.iter().any(|c| c.id == "nova-compute")
        {
            self.amphora_step(hop, to);
        }

        // ---- finalize ----
        if series_change {
            self.finalize(hop, from, to, last, &deliverables);
        }
        let mut v = new_step(
            self.id("verify", hop),
            &site,
            h,
            Phase::Verify,
            Action::Verify,
            None,
            format!("Verify {hop_label}"),
            Reversibility::CodeOnly,
        );
        v.hints.commands = vec![
            "openstack compute service list   # every nova service up, no orphaned records".to_owned(),
            "openstack network agent list".to_owned(),
            "openstack volume service list".to_owned(),
            "nminus collect on every node, then nminus plan upgrade again: the plan should be empty".to_owned(),
        ];
        v.reason = Reason {
            text: "close the hop: the next hop starts only from a verified state".to_owned(),
            edges: Vec::new(),
        };
        self.steps.push(v);
    }

    fn hold_back_setup(&mut self, hop: &Hop) {
        let site = self.site.clone();
        let mut held_aggs: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
        for n in self.site_nodes.iter().filter(|n| self.held.contains(&n.id)) {
            let e = held_aggs
                .entry(
                    n.aggregate
                        .clone()
                        .unwrap_or_else(|| format!("hold-{}", n.id)),
                )
                .or_insert_with(|| (n.tenant.clone(), Vec::new()));
            e.1.push(n.id.clone());
        }
        let mut s = new_step(
            self.id("configure-aggregates", hop),
            &site,
            Some(hop.index),
            Phase::HoldBack,
            Action::ConfigureAggregate,
            Some("nova-compute"),
            "Identify the canary and hold-back aggregates before the upgrade".to_owned(),
            Reversibility::CodeOnly,
        );
        s.reason = Reason {
            text: "scenario 2: per-tenant fallback is designed before the upgrade by holding the tenant's hosts back, not by downgrading them afterwards (nova-compute cannot re-register older once every compute is newer)".to_owned(),
            edges: Vec::new(),
        };
        for (agg, (tenant, hosts)) in &held_aggs {
            s.targets.extend(hosts.iter().map(|h| Target {
                node: Some(h.clone()),
                component: Some("nova-compute".to_owned()),
                ..Target::default()
            }));
            let t = tenant.clone().unwrap_or_else(|| "<project>".to_owned());
            s.hints.commands.push(format!(
                "openstack aggregate show {agg}   # hold-back aggregate of tenant {t}: hosts {}",
                hosts.join(", ")
            ));
            s.hints.commands.push(format!("openstack aggregate set --property filter_tenant_id=<project id of {t}> {agg}   # suffix the key (filter_tenant_id2) for more tenants"));
        }
        s.hints.commands.push("nova.conf [scheduler] limit_tenants_to_placement_aggregate=True, placement_aggregate_required_for_tenants=False; enable the AggregateMultiTenancyIsolation filter".to_owned());
        s.post_steps.push("check that nova-api mirrored the aggregates in placement (`openstack resource provider aggregate list <rp>`)".to_owned());
        self.steps.push(s);
    }

    fn hold_step(&mut self, hop: &Hop, from: &'a Series, to: &'a Series) {
        let site = self.site.clone();
        let held: Vec<&NodeView> = self
            .site_nodes
            .iter()
            .copied()
            .filter(|n| self.held.contains(&n.id))
            .collect();
        // Each held host keeps the series it runs when the hold begins: on the first hop the
        // one it actually runs (its data-plane services, else whatever it runs), which may be
        // older than the control plane's; on a later hop the earlier hops have brought it to
        // this hop's starting series.
        let held_series: Vec<(&NodeView, Option<&Series>)> = held
            .iter()
            .map(|n| {
                let ord = if hop.index == 1 {
                    n.min_ordinal(Phase::DataPlane)
                        .or_else(|| n.min_ordinal(Phase::ControlPlane))
                } else {
                    Some(from.ordinal)
                };
                (*n, ord.and_then(|o| lookup_series(self.cat, o)))
            })
            .collect();
        let labels: BTreeSet<String> = held_series
            .iter()
            .map(|(_, s)| s.map_or_else(|| hop.from.label(), |s| series_ref(s).label()))
            .collect();
        let held_at = labels.into_iter().collect::<Vec<_>>().join(", ");
        let mut s = new_step(
            self.id("hold", hop),
            &site,
            Some(hop.index),
            Phase::HoldBack,
            Action::Hold,
            Some("nova-compute"),
            format!(
                "Hold {} host(s) at {held_at} while the rest moves to {}",
                held.len(),
                hop.to.label()
            ),
            Reversibility::CodeOnly,
        );
        let oldest = path::oldest_supported_compute(self.cat, to);
        let below: Vec<&NodeView> = held_series
            .iter()
            .filter(|(_, s)| s.map_or(from.ordinal, |s| s.ordinal) < oldest.ordinal)
            .map(|(n, _)| *n)
            .collect();
        s.reason = Reason {
            text: format!(
                "scenario 2: the hold-back aggregate stays at {held_at}; legal while it is at or above the {} control plane's OLDEST_SUPPORTED_SERVICE_VERSION ({}), and it keeps older nova-compute service records alive (no ServiceTooOld on fallback)",
                hop.to.label(),
                series_ref(oldest).label()
            ),
            edges: Vec::new(),
        };
        if !below.is_empty() {
            let msg = format!(
                "holding {} at {held_at} is below the {} control plane's oldest supported compute ({}): nova-conductor and nova-api would refuse to start (TooOldComputeService)",
                below.iter().map(|n| n.id.as_str()).collect::<Vec<_>>().join(", "),
                hop.to.label(),
                series_ref(oldest).label()
            );
            s.blocked_by.push(msg.clone());
            self.limits.push(Limit {
                code: LimitCode::ComputeSkew,
                message: msg.clone(),
                steps: vec![s.id.clone()],
                nodes: below.iter().map(|n| n.id.clone()).collect(),
            });
            self.warnings.push(msg);
        }
        let mut k = KollaHint::default();
        for n in &held {
            for i in &n.installed {
                s.targets.push(Target {
                    node: Some(n.id.clone()),
                    component: Some(i.component.to_owned()),
                    service: i.deliverable.clone(),
                    from: Some(i.version.clone()),
                    to: Some(format!("{} (held)", i.version)),
                    ..Target::default()
                });
                for img in &i.images {
                    let (distro, ver) = n.kolla_base.clone().unwrap_or_default();
                    k.host_vars.entry(n.id.clone()).or_default().insert(
                        format!("{}_tag", img.var_stem()),
                        kolla_tag(from, &distro, &ver),
                    );
                }
            }
            if let Some(mgr) = deployer::manager_of(n) {
                for i in &n.installed {
                    if hop.index == 1 {
                        s.hints.packages.extend(deployer::exact_pins(
                            std::slice::from_ref(&n.id),
                            mgr,
                            &i.packages,
                        ));
                    } else if let Some(r) = i
                        .deliverable
                        .as_deref()
                        .and_then(|d| self.cat.latest_in_series(d, &from.name))
                    {
                        s.hints.packages.extend(deployer::glob_pins(
                            &n.id,
                            mgr,
                            &i.packages,
                            deployer::upstream_major(&r.version),
                            None,
                        ));
                    }
                }
            }
        }
        if !k.host_vars.is_empty() {
            k.commands.push("# this hop's inventory/host_vars pin the held hosts' images; later `kolla-ansible upgrade` runs leave them as they are".to_owned());
            s.hints.kolla = Some(k);
        }
        s.hints.packages = deployer::merge_pins(std::mem::take(&mut s.hints.packages));
        s.post_steps.push("OVN controllers and neutron agents on held hosts must stay within their skew rules (neutron-server handles older agents; OVN within the LTS upgrade span, E11)".to_owned());
        self.steps.push(s);
    }

    fn infra_step(
        &mut self,
        comp: &'static Component,
        hop: &Hop,
        from: &'a Series,
        to: &'a Series,
        last: bool,
    ) {
        let site = self.site.clone();
        let nodes = self.nodes_with(comp.id, hop, to, last);
        if nodes.is_empty() {
            return;
        }
        if matches!(comp.id, "ceph-mon" | "ceph-osd") {
            if hop.index == 1 {
                self.warnings.push(format!("{site}: Ceph ({}) is upgraded separately from OpenStack (E17); the plan only orders it — follow the Ceph release notes and the client version your deployer pins", comp.id));
            }
            return;
        }
        if self.deployer == Deployer::Distro
            && !matches!(comp.id, "openvswitch" | "ovn-controller" | "ovn-db")
        {
            if hop.index == 1 {
                self.warnings.push(format!("{site}: {} comes from the distribution, not from the OpenStack series: it is outside this plan (keep it within what {} supports)", comp.id, hop.to.label()));
            }
            return;
        }
        let hosts: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let series_change = hop.kind != HopKind::Patch;
        // RabbitMQ: one step per allowed intermediate version (kolla ships a known minor).
        if comp.id == "rabbitmq" && self.deployer == Deployer::Kolla && series_change {
            let cur = nodes
                .iter()
                .find_map(|n| {
                    n.get("rabbitmq")
                        .and_then(|i| i.packages.first().and_then(|p| deployer::minor_of(&p.2)))
                })
                .or_else(|| deployer::kolla_rabbitmq_minor(from).map(str::to_owned));
            let want = deployer::kolla_rabbitmq_minor(to);
            if let (Some(cur), Some(want)) = (cur, want) {
                let hops = deployer::rabbitmq_hops(&cur, want);
                let mut prev = cur.clone();
                for (k, v) in hops.iter().enumerate() {
                    let mut s = new_step(
                        format!("{}-{}", self.id("upgrade-rabbitmq", hop), k + 1),
                        &site,
                        Some(hop.index),
                        Phase::Infrastructure,
                        Action::Upgrade,
                        Some("rabbitmq"),
                        format!("RabbitMQ {prev} → {v} (one allowed hop at a time)"),
                        Reversibility::Irreversible,
                    );
                    s.targets = hosts
                        .iter()
                        .map(|h| Target {
                            node: Some(h.clone()),
                            component: Some("rabbitmq".to_owned()),
                            from: Some(prev.clone()),
                            to: Some(v.clone()),
                            ..Target::default()
                        })
                        .collect();
                    s.reason = self.reason_for(comp.id, format!("E2: the message queue before every oslo.messaging user; RabbitMQ cannot jump two releases in one upgrade, so it goes through the allow-listed {v} (rabbitmq_allowed_upgrades)"));
                    s.preconditions.push("every RabbitMQ feature flag enabled (`rabbitmqctl enable_feature_flag all`) and the cluster healthy".to_owned());
                    s.preconditions.push("definitions exported (`rabbitmqctl export_definitions`): the only way back is a new cluster importing them".to_owned());
                    s.hints.kolla = Some(KollaHint { tags: vec!["rabbitmq".to_owned()], commands: vec![format!("kolla-ansible upgrade -i INVENTORY --tags rabbitmq   # with the image that ships RabbitMQ {v}")], ..KollaHint::default() });
                    s.post_steps.push(format!("`rabbitmqctl cluster_status`: every node runs {v}; enable the new feature flags"));
                    self.limits.push(Limit { code: LimitCode::NoRabbitmqDowngrade, message: format!("RabbitMQ {prev} → {v} cannot be undone in place: a rollback is a new cluster at {prev} importing the exported definitions (queued messages are lost)"), steps: vec![s.id.clone()], nodes: hosts.clone() });
                    self.steps.push(s);
                    prev.clone_from(v);
                }
                if !hops.is_empty() {
                    return;
                }
            }
        }
        let mut rev = Reversibility::CodeOnly;
        let mut title = if series_change {
            format!("Upgrade {} to what {} ships", comp.id, hop.to.label())
        } else {
            format!("Update {} within {}", comp.id, hop.to.label())
        };
        let mut pre = Vec::new();
        if comp.id == "mariadb" && self.deployer == Deployer::Kolla && series_change {
            let a = deployer::kolla_mariadb_minor(from);
            let b = deployer::kolla_mariadb_minor(to);
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    rev = Reversibility::NeedsDbRestore;
                    title = format!("MariaDB {a} → {b}");
                    pre.push("the backup of @backup-database-{site}-h{hop} is complete and copied away: MariaDB upgrades its data directory (mariadb-upgrade) and cannot be downgraded".to_owned());
                }
            }
        }
        // OpenStack-Ansible installs RabbitMQ and MariaDB from the versions each release of
        // its roles pins: a series change moves them too, and neither goes back in place.
        let mut osa_rabbitmq = false;
        if self.deployer == Deployer::Osa && series_change {
            match comp.id {
                "rabbitmq" => {
                    rev = Reversibility::Irreversible;
                    osa_rabbitmq = true;
                    title = format!(
                        "RabbitMQ to what OpenStack-Ansible {} pins (one minor at a time)",
                        hop.to.label()
                    );
                    pre.push("every RabbitMQ feature flag enabled (`rabbitmqctl enable_feature_flag all`) and the cluster healthy".to_owned());
                    pre.push("definitions exported (`rabbitmqctl export_definitions`): the only way back is a new cluster importing them".to_owned());
                    pre.push("RabbitMQ upgrades one minor at a time (3.13 → 4.0 → 4.1 …): when the pinned `rabbitmq_package_version` is more than one minor ahead, run `openstack-ansible rabbitmq-install.yml -e rabbitmq_upgrade=true` once per intermediate minor".to_owned());
                }
                "mariadb" => {
                    rev = Reversibility::NeedsDbRestore;
                    pre.push("the backup of @backup-database-{site}-h{hop} is complete and copied away: a MariaDB minor upgrade rewrites its data directory (mariadb-upgrade) and cannot be downgraded".to_owned());
                }
                _ => {}
            }
        }
        let pre: Vec<String> = pre
            .into_iter()
            .map(|p| {
                p.replace("{site}", &site)
                    .replace("{hop}", &hop.index.to_string())
            })
            .collect();
        let mut s = new_step(
            self.id(&format!("upgrade-{}", comp.id), hop),
            &site,
            Some(hop.index),
            Phase::Infrastructure,
            Action::Upgrade,
            Some(comp.id),
            title,
            rev,
        );
        s.preconditions = pre;
        if osa_rabbitmq {
            self.limits.push(Limit { code: LimitCode::NoRabbitmqDowngrade, message: format!("{site}: the RabbitMQ upgrade to what OpenStack-Ansible {} pins cannot be undone in place: a rollback is a new cluster at the previous version importing the exported definitions (queued messages are lost)", hop.to.label()), steps: vec![s.id.clone()], nodes: hosts.clone() });
        }
        let why = match comp.id {
            "mariadb" => "E1: the DB tier goes first; galera nodes are restarted one at a time and must resync before the next",
            "rabbitmq" => "E2: the message queue before every oslo.messaging user",
            "memcached" | "haproxy" => "E3: caches and load balancers before the API services",
            "openvswitch" => "OVS userspace first, kernel module after (E12); before OVN and the neutron agents",
            "ovn-controller" => "E11: chassis controllers first (rolling OVN upgrade within the LTS span; outside it pin ovn-match-northd-version and do the databases first)",
            "ovn-db" => "E11: NB/SB databases and northd after the chassis, before neutron's OVN integration",
            _ => "infrastructure before services",
        };
        s.reason = self.reason_for(comp.id, why.to_owned());
        for n in &nodes {
            if let Some(i) = n.get(comp.id) {
                for img in &i.images {
                    let (distro, ver) = n.kolla_base.clone().unwrap_or_default();
                    s.targets.push(Target {
                        node: Some(n.id.clone()),
                        component: Some(comp.id.to_owned()),
                        image: Some(img.repository.clone()),
                        from: Some(img.tag.clone()),
                        to: Some(kolla_tag(to, &distro, &ver)),
                        ..Target::default()
                    });
                }
                if i.images.is_empty() {
                    s.targets.push(Target {
                        node: Some(n.id.clone()),
                        component: Some(comp.id.to_owned()),
                        from: Some(i.version.clone()),
                        to: Some(format!(
                            "as shipped by {} {}",
                            self.deployer.as_str(),
                            hop.to.id
                        )),
                        ..Target::default()
                    });
                }
            }
        }
        self.deployer_hints(&mut s, comp, &nodes, to, series_change);
        if self.deployer == Deployer::Osa && comp.osa_playbook.is_empty() {
            s.post_steps.push(format!("OpenStack-Ansible installs {} with the neutron playbook: it moves with the neutron steps", comp.id));
        }
        if comp.id == "mariadb" {
            s.post_steps.push("wait for every galera node to be Synced (`wsrep_local_state_comment`) before the next".to_owned());
        }
        self.steps.push(s);
    }

    fn deployer_hints(
        &self,
        s: &mut Step,
        comp: &Component,
        nodes: &[&NodeView],
        to: &Series,
        series_change: bool,
    ) {
        let hosts: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        match self.deployer {
            Deployer::Kolla if !comp.kolla_tag.is_empty() => {
                let mut k = KollaHint {
                    tags: vec![comp.kolla_tag.to_owned()],
                    ..KollaHint::default()
                };
                let verb = if series_change { "upgrade" } else { "deploy" };
                let limit = self.limit_for(comp.id, &hosts);
                k.commands
                    .push(self.kolla_cmd(comp.kolla_tag, verb, limit.as_deref()));
                for n in nodes {
                    if let Some(i) = n.get(comp.id) {
                        for img in &i.images {
                            let (distro, ver) = n.kolla_base.clone().unwrap_or_default();
                            k.group_vars.entry("all".to_owned()).or_default().insert(
                                format!("{}_tag", img.var_stem()),
                                kolla_tag(to, &distro, &ver),
                            );
                        }
                    }
                }
                s.hints.kolla = Some(k);
            }
            Deployer::Osa if !comp.osa_playbook.is_empty() => {
                let mut o = OsaHint::default();
                let mut cmd = format!("openstack-ansible {}", comp.osa_playbook);
                if comp.id == "mariadb" && series_change {
                    cmd.push_str(" -e galera_upgrade=true");
                }
                if comp.id == "rabbitmq" && series_change {
                    cmd.push_str(" -e rabbitmq_upgrade=true");
                }
                if let Some(l) = self.limit_for(comp.id, &hosts) {
                    cmd.push_str(&format!(
                        " --limit {}",
                        crate::plan::render::shell_word(&l.join(","))
                    ));
                }
                o.commands.push(cmd);
                if let Some(d) = comp.deliverable {
                    if let Some(r) = self.cat.latest_in_series(d, &to.name) {
                        if let Some(sha) =
                            deployer::release_commit(self.cat, d, &to.name, &r.version)
                        {
                            o.vars
                                .insert(format!("{}_git_install_branch", d.replace('-', "_")), sha);
                        }
                    }
                }
                s.hints.osa = Some(o);
            }
            Deployer::Distro => {
                for n in nodes {
                    let Some(i) = n.get(comp.id) else { continue };
                    let Some(mgr) = deployer::manager_of(n) else {
                        continue;
                    };
                    let repo = deployer::distro_repo(n, to);
                    match i
                        .deliverable
                        .as_deref()
                        .and_then(|d| self.cat.latest_in_series(d, &to.name))
                    {
                        Some(r) => s.hints.packages.extend(deployer::glob_pins(
                            &n.id,
                            mgr,
                            &i.packages,
                            deployer::upstream_major(&r.version),
                            repo,
                        )),
                        None => s
                            .hints
                            .packages
                            .extend(i.packages.iter().map(|(_, name, v)| {
                                crate::model::PackagePin {
                                    hosts: vec![n.id.clone()],
                                    manager: mgr,
                                    name: name.clone(),
                                    version: format!("{}*", deployer::epoch_of(v)),
                                    exact: false,
                                    hold: false,
                                    repo: repo.clone(),
                                }
                            })),
                    }
                }
                s.hints.packages = deployer::merge_pins(std::mem::take(&mut s.hints.packages));
            }
            _ => {}
        }
    }

    fn control_step(
        &mut self,
        comp: &'static Component,
        hop: &Hop,
        _from: &'a Series,
        to: &'a Series,
        last: bool,
    ) {
        let site = self.site.clone();
        let nodes = self.nodes_with(comp.id, hop, to, last);
        if nodes.is_empty() {
            return;
        }
        let series_change = hop.kind != HopKind::Patch;
        let d = comp.deliverable.unwrap_or(comp.id);
        let kolla = self.deployer == Deployer::Kolla;
        let first_of_deliverable = self
            .present
            .iter()
            .find(|c| c.deliverable == Some(d))
            .is_some_and(|c| c.id == comp.id);
        // Additive schema step before the first component of the deliverable.
        if series_change
            && first_of_deliverable
            && matches!(comp.db, DbStyle::ExpandContract | DbStyle::SyncOnline)
            && !(kolla && comp.db == DbStyle::ExpandContract)
        {
            let mut e = new_step(
                self.id(&format!("db-expand-{d}"), hop),
                &site,
                Some(hop.index),
                Phase::ControlPlane,
                Action::DbExpand,
                Some(comp.id),
                format!("{d}: additive schema changes both releases run on"),
                Reversibility::CodeOnly,
            );
            e.reason = self.reason_for(comp.id, format!("E1: after the DB tier; the schema is expanded before any {d} service restarts, and {} and {} both run on the result", hop.from.label(), hop.to.label()));
            e.hints.commands = match d {
                "keystone" => vec!["keystone-manage doctor".into(), "keystone-manage db_sync --expand   # on one node; MySQL needs log_bin_trust_function_creators=1 (or SUPER)".into(), "keystone-manage db_sync --check   # 0 done, 2 expand needed, 4 contract needed".into()],
                "glance" => vec!["glance-manage db expand".into(), "glance-manage db migrate   # before any new glance-api starts".into()],
                "neutron" => vec!["neutron-db-manage upgrade --expand   # safe with old neutron-servers running".into()],
                "nova" => vec!["nova-manage api_db sync   # the API DB first: it holds the cell mappings".into(), "nova-manage db sync   # for every cell database, cell0 included".into()],
                "cinder" => vec!["cinder-manage service list   # then `cinder-manage service remove <binary> <host>` for orphaned rows (they block RPC version detection: ServiceTooOld)".into(), "cinder-manage db sync   # with the new code".into()],
                _ => Vec::new(),
            };
            if kolla && d == "nova" {
                e.hints.kolla = Some(KollaHint { tags: vec!["nova-bootstrap".into()], commands: vec!["kolla-ansible upgrade -i INVENTORY --tags nova-bootstrap   # schema only (multi-cell staged upgrade)".into()], ..KollaHint::default() });
            }
            self.steps.push(e);
        }
        let rev = if !series_change {
            Reversibility::CodeOnly
        } else {
            match comp.db {
                DbStyle::Sync => Reversibility::NeedsDbRestore,
                DbStyle::ExpandContract if kolla => Reversibility::NeedsDbRestore,
                _ => Reversibility::CodeOnly,
            }
        };
        let title = if series_change {
            format!("Upgrade {} to {}", comp.id, hop.to.label())
        } else {
            format!(
                "Update {} to the latest {} point release",
                comp.id,
                hop.to.label()
            )
        };
        let mut s = new_step(
            self.id(&format!("upgrade-{}", comp.id), hop),
            &site,
            Some(hop.index),
            Phase::ControlPlane,
            Action::Upgrade,
            Some(comp.id),
            title,
            rev,
        );
        let why = match comp.id {
            "keystone" => "E4: every other service validates tokens against keystone, so it goes first among the services".to_owned(),
            "placement" => "E8 (hard): placement before any nova service".to_owned(),
            "nova-conductor" => "nova: conductor first (I-NOVA-1), after placement (E8), glance (E6), cinder (E7)".to_owned(),
            "nova-scheduler" => "nova: scheduler after the conductor, before the API".to_owned(),
            "nova-api" => "nova: API last among the nova control services (I-NOVA-1)".to_owned(),
            "neutron-server" => "neutron-server before its agents (I-NEUTRON-1); unordered with nova (E10, conflicting between tools): same window, kolla's order".to_owned(),
            "heat" => "E15: heat drives the other APIs, after nova and neutron".to_owned(),
            "octavia" => "E13: octavia builds on nova, neutron, glance, keystone and barbican".to_owned(),
            "horizon" => "E16: the dashboard consumes every API, last of the control plane".to_owned(),
            x if x.starts_with("cinder-") => "cinder: scheduler → volume → backup → api (CIN-UPG), before nova (E7)".to_owned(),
            _ => format!("{} after keystone (E4) and the infrastructure (E1–E3)", comp.id),
        };
        s.reason = self.reason_for(comp.id, why);
        for n in &nodes {
            if let Some(i) = n.get(comp.id) {
                let tv = self.target_version(i, to);
                if tv.is_none() {
                    self.warnings.push(format!(
                        "{}: {} has no release in {}: not planned",
                        n.id,
                        d,
                        hop.to.label()
                    ));
                }
                s.targets.push(Target {
                    node: Some(n.id.clone()),
                    component: Some(comp.id.to_owned()),
                    service: Some(d.to_owned()),
                    from: Some(i.version.clone()),
                    to: tv,
                    ..Target::default()
                });
                for img in &i.images {
                    let (distro, ver) = n.kolla_base.clone().unwrap_or_default();
                    s.targets.push(Target {
                        node: Some(n.id.clone()),
                        component: Some(comp.id.to_owned()),
                        image: Some(img.repository.clone()),
                        from: Some(img.tag.clone()),
                        to: Some(kolla_tag(to, &distro, &ver)),
                        ..Target::default()
                    });
                }
            }
        }
        if series_change && STATUS_CHECKS.contains(&d) {
            s.preconditions.push(format!(
                "`{d}-status upgrade check` (new code) exited 0 or 1 in @upgrade-check-{site}-h{}",
                hop.index
            ));
        }
        if series_change && hop.kind == HopKind::SlurpSkip {
            s.preconditions.push("downtime announced: skip-level upgrades need not be rolling (RPC compatibility is N ↔ N-1 only)".to_owned());
        }
        match (comp.id, series_change) {
            ("keystone", true) if kolla => s.post_steps.push("kolla-ansible runs keystone's expand, migrate and contract inside this command: the rollback window for keystone closes here".to_owned()),
            ("glance", true) if kolla => s.post_steps.push("kolla-ansible runs glance's expand/migrate/contract inside this command (rolling upgrade): the window for glance closes here".to_owned()),
            ("neutron-server", true) if kolla => s.post_steps.push("kolla-ansible runs neutron-db-manage expand and contract inside this command: the window for neutron closes here".to_owned()),
            ("keystone", true) => s.post_steps.push("roll every keystone node (mixed versions are fine while the triggers keep both schemas in sync)".to_owned()),
            ("placement", true) => {
                s.hints.commands = vec!["placement-status upgrade check".into(), "placement-manage db sync".into(), "restart placement-api".into()];
            }
            ("nova-conductor", true) => {
                s.preconditions.push("gracefully stop (SIGTERM) every nova service except nova-compute".to_owned());
                s.post_steps.push(format!("start the new code with [upgrade_levels]compute=auto (or pin compute={}: with several cells, a release name avoids nova-api hanging on an unreachable cell); expect extra conductor load", hop.from.name));
            }
            ("nova-api", true) => s.post_steps.push("`openstack compute service list`: look for orphaned service records".to_owned()),
            ("cinder-volume", _) => s.preconditions.push("cinder-volume is active/passive per backend: keep the gap shorter than service_down_time".to_owned()),
            ("cinder-api", _) => s.post_steps.push("restart cinder-api (it ignores SIGHUP)".to_owned()),
            ("octavia", true) => {
                s.preconditions.push("cold upgrade: stop housekeeping, then health-manager, API and worker, in that order".to_owned());
                s.hints.commands = vec!["octavia-db-manage upgrade head".into()];
            }
            ("heat", true) => s.hints.commands = vec!["heat-manage db_sync".into()],
            ("barbican", true) => s.hints.commands = vec!["barbican-manage db upgrade".into()],
            ("ironic", true) => s.hints.commands = vec!["ironic-status upgrade check".into(), "ironic-dbsync upgrade".into()],
            ("designate", true) => s.hints.commands = vec!["designate-manage database sync".into()],
            ("manila", true) => s.hints.commands = vec!["manila-manage db sync".into()],
            _ => {}
        }
        if comp.db == DbStyle::Sync && series_change {
            s.post_steps.push(format!("{d} has no documented expand/contract split: its schema sync is treated as one-way (needs-db-restore)"));
        }
        self.deployer_hints(&mut s, comp, &nodes, to, series_change);
        // OpenStack-Ansible: one playbook run covers the deliverable's control-plane components.
        if self.deployer == Deployer::Osa && !first_of_deliverable {
            if let Some(o) = s.hints.osa.as_mut() {
                o.commands = vec![format!(
                    "# done by the {} playbook run of the first {d} step",
                    comp.osa_playbook
                )];
            }
        }
        // kolla: one run covers several components of a deliverable.
        if kolla {
            if let Some(k) = s.hints.kolla.as_mut() {
                match comp.id {
                    "nova-conductor" if series_change => {
                        k.tags = vec!["nova-api-upgrade".into(), "nova-cell-upgrade".into()];
                        let hosts: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
                        k.commands = vec![
                            "kolla-ansible upgrade -i INVENTORY --tags nova-api-upgrade   # global services: super-conductor, scheduler, API, conductor first".into(),
                            format!("kolla-ansible upgrade -i INVENTORY --tags nova-cell-upgrade --limit {}   # cell conductors (computes follow in batches)", crate::plan::render::shell_word(&hosts.join(","))),
                        ];
                    }
                    "nova-scheduler" | "nova-api" if series_change => {
                        k.commands = vec!["# done by `--tags nova-api-upgrade` in the nova-conductor step (kolla keeps conductor → scheduler → API)".into()];
                    }
                    x if x.starts_with("cinder-") && !first_of_deliverable => {
                        k.commands = vec!["# done by the cinder run of the first cinder step (kolla keeps scheduler → volume → backup → api)".into()];
                    }
                    _ => {}
                }
            }
        }
        self.steps.push(s);
    }

    fn data_step(
        &mut self,
        comp: &'static Component,
        hop: &Hop,
        _from: &'a Series,
        to: &'a Series,
        last: bool,
    ) {
        let site = self.site.clone();
        let nodes = self.nodes_with(comp.id, hop, to, last);
        if nodes.is_empty() {
            return;
        }
        let series_change = hop.kind != HopKind::Patch;
        let title = format!(
            "Upgrade {} on {} host(s), node by node",
            comp.id,
            nodes.len()
        );
        let mut s = new_step(
            self.id(&format!("upgrade-{}", comp.id), hop),
            &site,
            Some(hop.index),
            Phase::DataPlane,
            Action::Upgrade,
            Some(comp.id),
            title,
            Reversibility::CodeOnly,
        );
        s.reason = self.reason_for(comp.id, "E19 (hard): control plane before data plane; neutron-server handles older agents, not the reverse; per node L2 before L3/DHCP/metadata (I-NEUTRON-2)".to_owned());
        for n in &nodes {
            if let Some(i) = n.get(comp.id) {
                s.targets.push(Target {
                    node: Some(n.id.clone()),
                    component: Some(comp.id.to_owned()),
                    service: i.deliverable.clone(),
                    from: Some(i.version.clone()),
                    to: self.target_version(i, to),
                    ..Target::default()
                });
            }
        }
        self.deployer_hints(&mut s, comp, &nodes, to, series_change);
        if series_change {
            s.preconditions.push(format!(
                "neutron-server runs {} (@upgrade-neutron-server-{site}-h{})",
                hop.to.label(),
                hop.index
            ));
        }
        self.steps.push(s);
    }

    fn amphora_step(&mut self, hop: &Hop, to: &Series) {
        let site = self.site.clone();
        let mut s = new_step(
            self.id("amphora-failover", hop),
            &site,
            Some(hop.index),
            Phase::DataPlane,
            Action::AmphoraFailover,
            Some("octavia-amphora"),
            format!(
                "Build and tag the {} amphora image, then fail load balancers over",
                hop.to.label()
            ),
            Reversibility::CodeOnly,
        );
        s.reason = self.reason_for("octavia-amphora", "E14: new amphora agent code reaches amphorae only through an image rebuild and a failover, after the octavia control plane".to_owned());
        s.hints.commands = vec![
            format!("build the amphora image with the {} octavia branch and tag it (amp_image_tag)", to.id()),
            "openstack loadbalancer failover <lb>   # one load balancer at a time; its data plane drops during failover".into(),
        ];
        s.post_steps.push("an Octavia flavor whose profile sets an older amp_image_tag keeps chosen load balancers on the older amphora (per-LB fallback)".into());
        self.steps.push(s);
    }

    fn compute_steps(
        &mut self,
        comp: &'static Component,
        hop: &Hop,
        _from: &'a Series,
        to: &'a Series,
        last: bool,
    ) {
        let site = self.site.clone();
        let nodes = self.nodes_with(comp.id, hop, to, last);
        if nodes.is_empty() {
            return;
        }
        let series_change = hop.kind != HopKind::Patch;
        let batches = compute_batches(&nodes, self.opts.canary, self.opts.batch_size);
        let of = u32::try_from(batches.len()).unwrap_or(u32::MAX);
        // Would every compute of the site be newer after the last batch?
        let site_computes: Vec<&NodeView> = self
            .site_nodes
            .iter()
            .copied()
            .filter(|n| n.get("nova-compute").is_some())
            .collect();
        let all_moving = site_computes
            .iter()
            .all(|n| nodes.iter().any(|m| m.id == n.id));
        for (idx, (kind, group, members)) in batches.iter().enumerate() {
            let index = u32::try_from(idx + 1).unwrap_or(u32::MAX);
            let last_batch = index == of;
            let rev = if series_change && last_batch && all_moving {
                Reversibility::Irreversible
            } else {
                Reversibility::CodeOnly
            };
            let label = match kind {
                BatchKind::Canary => "canary batch".to_owned(),
                BatchKind::Batch => format!("batch {index}/{of}"),
            };
            let mut s = new_step(
                format!("{}-b{index}", self.id("upgrade-nova-compute", hop)),
                &site,
                Some(hop.index),
                Phase::DataPlane,
                Action::Upgrade,
                Some(comp.id),
                format!(
                    "Upgrade nova-compute, {label}: {} ({group})",
                    members
                        .iter()
                        .map(|n| n.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                rev,
            );
            s.batch = Some(Batch {
                kind: *kind,
                index,
                of,
                group: group.clone(),
            });
            s.reason = self.reason_for(comp.id, "computes last (E19, hard): conductors must be at least as new as computes; in small batches per cell / aggregate / AZ, canary first".to_owned());
            for n in members {
                if let Some(i) = n.get(comp.id) {
                    s.targets.push(Target {
                        node: Some(n.id.clone()),
                        component: Some(comp.id.to_owned()),
                        service: Some("nova".into()),
                        from: Some(i.version.clone()),
                        to: self.target_version(i, to),
                        ..Target::default()
                    });
                    for img in &i.images {
                        let (distro, ver) = n.kolla_base.clone().unwrap_or_default();
                        s.targets.push(Target {
                            node: Some(n.id.clone()),
                            component: Some(comp.id.to_owned()),
                            image: Some(img.repository.clone()),
                            from: Some(img.tag.clone()),
                            to: Some(kolla_tag(to, &distro, &ver)),
                            ..Target::default()
                        });
                    }
                }
            }
            s.preconditions.push("per host: disable the compute service and drain or accept a short pause of its instances (SIGTERM, upgrade, start)".to_owned());
            if *kind == BatchKind::Batch && idx > 0 {
                s.preconditions.push(format!(
                    "the canary batch (@upgrade-nova-compute-{site}-h{}-b1) ran its tests cleanly",
                    hop.index
                ));
            }
            if *kind == BatchKind::Canary {
                s.post_steps.push("stop here: boot, migrate, attach and network-test instances on the canary hosts before the next batch".to_owned());
            }
            if rev == Reversibility::Irreversible {
                s.post_steps.push(format!("after this batch every nova-compute runs {}: an older compute would refuse to register (ServiceTooOld). Hold an aggregate back (--hold-back) to keep a fallback", hop.to.label()));
                self.limits.push(Limit {
                    code: LimitCode::ComputeServiceTooOld,
                    message: format!("{site}: once @{} completes every nova-compute runs {}; a rolled-back compute refuses to register (ServiceTooOld): no compute rollback after it", s.id, hop.to.label()),
                    steps: vec![s.id.clone()],
                    nodes: members.iter().map(|n| n.id.clone()).collect(),
                });
            }
            let hosts: Vec<String> = members.iter().map(|n| n.id.clone()).collect();
            self.deployer_hints(&mut s, comp, members, to, series_change);
            if let Some(k) = s.hints.kolla.as_mut() {
                k.tags = vec!["nova-cell-upgrade".into()];
                let verb = if series_change { "upgrade" } else { "deploy" };
                k.commands = vec![format!("kolla-ansible {verb} -i INVENTORY --tags nova-cell --limit {}   # documented per-cell exception to `--limit`", crate::plan::render::shell_word(&hosts.join(",")))];
                k.group_vars.clear();
            }
            self.steps.push(s);
        }
    }

    fn finalize(
        &mut self,
        hop: &Hop,
        _from: &'a Series,
        _to: &'a Series,
        last: bool,
        deliverables: &BTreeSet<&str>,
    ) {
        let site = self.site.clone();
        let kolla = self.deployer == Deployer::Kolla;
        let held_note = (!self.held.is_empty() && last).then(|| "only once the tenant fallback (held-back aggregate) is no longer wanted: this closes the rollback window; it is a precondition for the next upgrade, not for running the new release".to_owned());
        let add = |me: &mut Self,
                   base: &str,
                   comp: &str,
                   action: Action,
                   title: String,
                   cmds: Vec<String>,
                   kolla_cmd: Option<&str>,
                   why: String| {
            let mut s = new_step(
                me.id(base, hop),
                &site,
                Some(hop.index),
                Phase::Finalize,
                action,
                Some(comp),
                title,
                Reversibility::NeedsDbRestore,
            );
            s.hints.commands = cmds;
            if kolla {
                if let Some(c) = kolla_cmd {
                    s.hints.kolla = Some(KollaHint {
                        tags: c.split(',').map(str::to_owned).collect(),
                        commands: vec![format!("kolla-ansible upgrade -i INVENTORY --tags {c}")],
                        ..KollaHint::default()
                    });
                }
            }
            s.reason = Reason {
                text: why,
                edges: Vec::new(),
            };
            s.preconditions.push(format!(
                "every {comp} host runs {} (@verify-{site}-h{} passed)",
                hop.to.label(),
                hop.index
            ));
            if let Some(n) = &held_note {
                s.preconditions.push(n.clone());
            } else {
                s.preconditions.push("no rollback wanted any more: after this step only the database backup brings the previous release back".to_owned());
            }
            me.limits.push(Limit { code: LimitCode::NoDbDowngrade, message: format!("{site}: after @{} the {} schema/data no longer serve {}: rolling back needs the backup of @backup-database-{site}-h{} (writes since are lost)", s.id, comp, hop.from.label(), hop.index), steps: vec![s.id.clone()], nodes: Vec::new() });
            me.steps.push(s);
        };
        if !kolla && deliverables.contains("keystone") {
            add(self, "db-contract-keystone", "keystone", Action::DbContract, "keystone: contract the schema".into(), vec!["keystone-manage db_sync --contract".into()], None, "keystone's contract runs after every node runs the new code; after it the DB no longer supports the previous release (KS-UPG)".into());
        }
        if !kolla && deliverables.contains("glance") {
            add(
                self,
                "db-contract-glance",
                "glance",
                Action::DbContract,
                "glance: contract the schema".into(),
                vec!["glance-manage db contract   # after every old glance node is gone".into()],
                None,
                "glance contracts after all old nodes are gone (GL-UPG)".into(),
            );
        }
        if !kolla && deliverables.contains("neutron") {
            add(self, "db-contract-neutron", "neutron-server", Action::DbContract, "neutron: contract the schema".into(), vec!["neutron-db-manage has_offline_migrations   # nothing pending → contract can run with servers up".into(), "neutron-db-manage upgrade --contract   # otherwise with every neutron-server stopped".into()], None, "neutron contracts last (NEU-UPG)".into());
        }
        if deliverables.contains("nova") {
            add(self, "reload-nova", "nova-conductor", Action::Reload, "nova: SIGHUP every service, drop RPC pins".into(), vec!["send SIGHUP to every nova service (conductor, scheduler, API, compute) so it drops the cached minimum service version".into(), "remove a static [upgrade_levels]compute pin, if one was set, and restart".into()], Some("nova-reload"), "after the window: SIGHUP makes every service use the new RPC; the window for nova closes here (NOVA-UPG)".into());
            add(self, "online-data-migrations-nova", "nova-conductor", Action::OnlineDataMigrations, "nova: online data migrations".into(), vec!["nova-manage db online_data_migrations --max-count 1000   # rerun while it exits 1; 2 = errors; done at 0".into()], Some("nova-online-data-migrations"), "data rewritten for the new objects; must finish before the next upgrade (E21)".into());
        }
        if deliverables.contains("cinder") {
            add(self, "reload-cinder", "cinder-scheduler", Action::Reload, "cinder: SIGHUP the services, restart cinder-api".into(), vec!["SIGHUP cinder-scheduler, cinder-volume, cinder-backup; restart cinder-api (it ignores SIGHUP)".into()], None, "cinder drops its RPC pins (CIN-UPG)".into());
            add(self, "online-data-migrations-cinder", "cinder-scheduler", Action::OnlineDataMigrations, "cinder: online data migrations".into(), vec!["cinder-manage db online_data_migrations --max_count 1000   # rerun while it exits 1; done at 0".into()], None, "N's migrations must finish before N+1's schema migrations can run (CIN-UPG, E21)".into());
        }
    }

    /// The rollback list of the upgrade: per-tenant fallback first, then per hop (newest first)
    /// the reverse of the steps, each with what undoing it takes.
    fn rollback_steps(&mut self, paths: &SitePath) {
        let site = self.site.clone();
        if !self.held.is_empty() {
            let mut tenants: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> =
                BTreeMap::new();
            for n in &self.site_nodes {
                if let Some(t) = &n.tenant {
                    let e = tenants.entry(t.clone()).or_default();
                    if self.held.contains(&n.id) {
                        e.0.insert(n.id.clone());
                    } else if n.get("nova-compute").is_some() {
                        e.1.insert(n.id.clone());
                    }
                }
            }
            for (t, (held, upgraded)) in tenants.iter().filter(|(_, (h, _))| !h.is_empty()) {
                let held_aggs: BTreeSet<String> = self
                    .site_nodes
                    .iter()
                    .filter(|n| held.contains(&n.id))
                    .filter_map(|n| n.aggregate.clone())
                    .collect();
                let aggs = held_aggs.into_iter().collect::<Vec<_>>().join(", ");
                let mut p = new_step(
                    format!("fallback-pin-{t}-{site}"),
                    &site,
                    None,
                    Phase::Fallback,
                    Action::ConfigureAggregate,
                    Some("nova-compute"),
                    format!("If tenant {t} breaks: pin it to its held-back aggregate {aggs}"),
                    Reversibility::CodeOnly,
                );
                p.reason = Reason { text: "scenario 2: the control plane is shared and cannot be downgraded per tenant; the tenant gets the previous data plane on hosts held back before the upgrade".into(), edges: Vec::new() };
                p.hints.commands = vec![format!("openstack aggregate set --property filter_tenant_id=<project id of {t}> {aggs}"), format!("openstack aggregate unset --property filter_tenant_id <the aggregates {t} used on the upgraded hosts>")];
                p.targets = held
                    .iter()
                    .map(|h| Target {
                        node: Some(h.clone()),
                        component: Some("nova-compute".into()),
                        ..Target::default()
                    })
                    .collect();
                self.rollback.push(p);
                let mut m = new_step(
                    format!("fallback-cold-migrate-{t}-{site}"),
                    &site,
                    None,
                    Phase::Fallback,
                    Action::ColdMigrate,
                    Some("nova-compute"),
                    format!("Cold-migrate tenant {t}'s instances onto the held-back hosts"),
                    Reversibility::CodeOnly,
                );
                m.reason = Reason { text: "live migration onto an older hypervisor is refused (DestinationHypervisorTooOld): cold migration, rebuild or re-create".into(), edges: Vec::new() };
                m.hints.commands = vec![
                    format!("openstack server list --project <project id of {t}> --long   # instances on {}", upgraded.iter().cloned().collect::<Vec<_>>().join(", ")),
                    format!("openstack --os-compute-api-version 2.56 server migrate --host <one of {}> <server>", held.iter().cloned().collect::<Vec<_>>().join(", ")),
                    "openstack server resize confirm <server>".into(),
                ];
                m.targets = upgraded
                    .iter()
                    .map(|h| Target {
                        node: Some(h.clone()),
                        component: Some("nova-compute".into()),
                        ..Target::default()
                    })
                    .collect();
                self.limits.push(Limit { code: LimitCode::NoLiveMigrationToOlder, message: format!("tenant {t}: instances move to the held-back hosts by cold migration only; live migration onto an older hypervisor is refused"), steps: vec![m.id.clone()], nodes: upgraded.iter().cloned().collect() });
                self.rollback.push(m);
            }
        }
        let forward: Vec<Step> = self.steps.clone();
        for hop in paths.hops.iter().rev() {
            let hop_steps: Vec<&Step> = forward
                .iter()
                .filter(|s| {
                    s.hop == Some(hop.index)
                        && matches!(
                            s.phase,
                            Phase::Infrastructure
                                | Phase::ControlPlane
                                | Phase::DataPlane
                                | Phase::Finalize
                        )
                })
                .collect();
            if hop_steps.is_empty() {
                continue;
            }
            let first_restore = hop_steps
                .iter()
                .find(|s| s.reversibility == Reversibility::NeedsDbRestore)
                .map(|s| s.id.clone());
            for f in hop_steps.iter().rev() {
                match f.reversibility {
                    Reversibility::CodeOnly if matches!(f.action, Action::Upgrade) => {
                        let mut r = new_step(
                            format!("downgrade-{}", f.id),
                            &site,
                            Some(hop.index),
                            Phase::Restore,
                            Action::Downgrade,
                            f.component.as_deref(),
                            format!("Undo @{}: redeploy {}", f.id, hop.from.label()),
                            Reversibility::CodeOnly,
                        );
                        r.targets = f
                            .targets
                            .iter()
                            .map(|t| Target {
                                from: t.to.clone(),
                                to: t.from.clone(),
                                ..t.clone()
                            })
                            .collect();
                        r.reason = Reason { text: format!("code-only while the database still serves {} (before any needs-db-restore step)", hop.from.label()), edges: Vec::new() };
                        if let Some(fr) = &first_restore {
                            r.preconditions.push(format!(
                                "@{fr} has not run; otherwise use the database restore below"
                            ));
                        }
                        if f.component.as_deref() == Some("nova-compute") {
                            r.preconditions.push(format!("some nova-compute of the cell still runs {} (a held-back aggregate or a batch not yet upgraded): otherwise it will not register (ServiceTooOld)", hop.from.label()));
                        }
                        r.hints = downgrade_hints(&f.hints, &r.targets, self.deployer);
                        self.rollback.push(r);
                    }
                    Reversibility::Irreversible => {
                        let mut r = new_step(
                            format!("cannot-undo-{}", f.id),
                            &site,
                            Some(hop.index),
                            Phase::Restore,
                            Action::Downgrade,
                            f.component.as_deref(),
                            format!("@{} cannot be undone in place", f.id),
                            Reversibility::Irreversible,
                        );
                        r.blocked_by.push(match f.component.as_deref() {
                            Some("rabbitmq") => "RabbitMQ has no downgrade: build a new cluster at the previous version and import the definitions exported before the upgrade".to_owned(),
                            Some("nova-compute") => "every nova-compute is newer: older computes refuse to register (ServiceTooOld)".to_owned(),
                            _ => "irreversible".to_owned(),
                        });
                        r.reason = Reason {
                            text: "stated so the rollback does not count on it".into(),
                            edges: Vec::new(),
                        };
                        self.rollback.push(r);
                    }
                    _ => {}
                }
            }
            if let Some(fr) = first_restore {
                let mut r = new_step(format!("restore-database-{site}-h{}", hop.index), &site, Some(hop.index), Phase::Restore, Action::RestoreDatabase, Some("mariadb"), format!("If @{fr} (or any later needs-db-restore step) ran: restore the databases and redeploy {}", hop.from.label()), Reversibility::NeedsDbRestore);
                r.reason = Reason { text: "no schema downgrade exists: restore the backup taken before the hop and redeploy the previous code everywhere (writes since the backup are lost)".into(), edges: Vec::new() };
                r.preconditions
                    .push(format!("stop every OpenStack API and service of {site}"));
                r.hints.commands = vec![format!("restore the backup of @backup-database-{site}-h{} (kolla: the documented mariadb restore procedure; OSA/distro: mariabackup --prepare/--copy-back or the mysqldump file)", hop.index), format!("redeploy {} on every host (kolla: openstack_release: \"{}\" then `kolla-ansible deploy -i INVENTORY`)", hop.from.label(), hop.from.id)];
                self.rollback.push(r);
            }
        }
    }
}

fn downgrade_hints(fwd: &DeployerHints, targets: &[Target], d: Deployer) -> DeployerHints {
    let mut h = DeployerHints::default();
    match d {
        Deployer::Kolla => {
            let mut k = KollaHint {
                tags: fwd
                    .kolla
                    .as_ref()
                    .map(|k| k.tags.clone())
                    .unwrap_or_default(),
                ..KollaHint::default()
            };
            for t in targets {
                if let (Some(node), Some(img), Some(tag)) = (&t.node, &t.image, &t.to) {
                    let stem = ImageInfo::parse(&format!("{img}:x"), None)
                        .map_or_else(|| img.replace('-', "_"), |i| i.var_stem());
                    k.host_vars
                        .entry(node.clone())
                        .or_default()
                        .insert(format!("{stem}_tag"), tag.clone());
                }
            }
            if let Some(tag) = k.tags.first() {
                let hosts: BTreeSet<&str> =
                    targets.iter().filter_map(|t| t.node.as_deref()).collect();
                k.commands.push(format!(
                    "kolla-ansible deploy -i INVENTORY --tags {tag} --limit {}",
                    hosts.into_iter().collect::<Vec<_>>().join(",")
                ));
            }
            h.kolla = Some(k);
        }
        Deployer::Osa => {
            h.osa = Some(OsaHint {
                commands: fwd
                    .osa
                    .as_ref()
                    .map(|o| o.commands.clone())
                    .unwrap_or_default(),
                vars: BTreeMap::new(),
            });
            if let Some(o) = h.osa.as_mut() {
                o.commands.insert(0, "# pin <service>_git_install_branch to the previous release's SHA in user_variables, then:".to_owned());
            }
        }
        _ => {}
    }
    h
}

/// Compute batches: the canary batch first (hosts labelled `canary=true`, else the first
/// `canary` hosts in (group, id) order), then per group (cell / aggregate / AZ) chunks of
/// `batch_size` (0: the whole group).
pub fn compute_batches<'a>(
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
/// A `--to` series must have releases in the data: a plan to a series whose deliverables have
/// no final release yet (hibiscus in development) would list every step with no version to
/// install.
fn refuse_series_without_releases(cat: &OpenStackCatalog, to: &str) -> Result<(), PlanError> {
    let series = path::find_series(cat, to)?;
    // Libraries and intermediary services (horizon, ironic, swift) release during
    // development; a series is released when its coordinated (cycle-with-rc) services are.
    let released = |s: &Series| {
        cat.deliverables_in(&s.name).any(|d| {
            d.model == Some(crate::releases::openstack::ReleaseModel::CycleWithRc)
                && d.latest_final().is_some()
        })
    };
    if released(series) {
        return Ok(());
    }
    let newest = cat
        .series()
        .iter()
        .rev()
        .find(|s| released(s))
        .map_or_else(|| "none".to_owned(), |s| series_ref(s).label());
    Err(PlanError(format!(
        "--to {to}: {} ({}) has no releases of its coordinated services (nova, neutron, keystone …) in openstack/releases yet, so there is no version to upgrade to; the newest series with releases is {newest}",
        series_ref(series).label(),
        series.status.as_str()
    )))
}

pub fn plan_upgrade(
    input: &dyn PlanInput,
    ctx: &Context<'_>,
    opts: &UpgradeOptions,
) -> Result<Plan, PlanError> {
    let cat = ctx.catalog;
    let until = end_of_day(ctx.as_of);
    let all = current_nodes(input.inventories(), Some(&until), cat);
    if all.is_empty() {
        return Err(PlanError(format!(
            "no inventory collected on or before {}",
            ymd(ctx.as_of)
        )));
    }
    let mut scope = opts.scope.clone();
    let scoped: Vec<&NodeView> = all.iter().filter(|n| in_scope(&scope, n)).collect();
    if scoped.is_empty() {
        let sites: BTreeSet<&str> = all.iter().map(|n| n.site.as_str()).collect();
        return Err(PlanError(format!(
            "--scope {} matches no node (sites: {})",
            scope.describe(),
            sites.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    if opts.to.is_none() && opts.policy.is_none() {
        return Err(PlanError("give the target: --to SERIES, or --policy NAME|FILE to take it from the policy's series rules".into()));
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
        for n in &nodes {
            for i in n.installed.iter().filter(|i| i.deliverable.is_some()) {
                if i.ordinal.is_none() && i.install != "image" {
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
            continue;
        };
        let Some(from) = lookup_series(cat, from_ord) else {
            continue;
        };
        let mut to = match (&opts.to, &opts.policy) {
            (Some(t), _) => path::find_series(cat, t)?,
            (None, Some(p)) => policy_target(cat, p, ctx, &nodes, from)?,
            (None, None) => from,
        };
        if to.ordinal < from.ordinal && several_sites {
            warnings.push(format!(
                "{site}: already runs {}, newer than the target {}: left out (series are never downgraded in place)",
                series_ref(from).label(),
                series_ref(to).label()
            ));
            continue;
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
        let mut sp = SitePlanner {
            cat,
            opts,
            site: site.clone(),
            deployer: site_deployer(&nodes),
            nodes,
            site_nodes,
            held,
            steps: Vec::new(),
            rollback: Vec::new(),
            limits: Vec::new(),
            warnings: Vec::new(),
            present,
        };
        if sp.deployer == Deployer::Kolla && to.ordinal > from.ordinal {
            sp.warnings.push(format!("{site}: kolla-ansible discourages --limit (known bugs with register:); the plan uses it only for compute batches and cell conductors, the documented per-cell exception"));
        }
        // Computes left behind (outside the scope) must stay within the target's compute skew.
        if to.ordinal > from.ordinal {
            let oldest = path::oldest_supported_compute(cat, to);
            for n in sp.site_nodes.iter().filter(|n| {
                n.get("nova-compute").is_some() && !sp.nodes.iter().any(|m| m.id == n.id)
            }) {
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
    let plan = Plan {
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
    Ok(finish(plan))
}
