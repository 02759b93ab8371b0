//! Control-plane and data-plane steps: schema expansion, service upgrades, amphorae, compute
//! batches and the finalize (contract, reload, online migrations) steps.

use std::collections::BTreeSet;

use crate::model::{
    Action, Batch, BatchKind, Hop, HopKind, KollaHint, Limit, LimitCode, Phase, Reason,
    Reversibility, Step, Target,
};
use crate::releases::openstack::Series;

use crate::plan::fleet::{Deployer, NodeView};
use crate::plan::order::{Component, DbStyle};

use super::{compute_batches, image_targets, new_step, SitePlanner, STATUS_CHECKS};

impl<'a> SitePlanner<'a> {
    pub(super) fn control_step(
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
            self.db_expand_step(comp, hop, d);
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
        s.reason = self.reason_for(comp.id, control_why(comp));
        self.control_targets(&mut s, comp, &nodes, hop, to, d);
        self.control_notes(&mut s, comp, hop, d);
        self.deployer_hints(&mut s, comp, &nodes, to, series_change);
        self.share_runs(&mut s, comp, &nodes, hop, first_of_deliverable, d);
        self.steps.push(s);
    }

    /// The additive schema step before the first component of the deliverable `d`.
    fn db_expand_step(&mut self, comp: &'static Component, hop: &Hop, d: &str) {
        let site = self.site.clone();
        let kolla = self.deployer == Deployer::Kolla;
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

    /// What a control-plane step moves: the service's version and its images, per node.
    fn control_targets(
        &mut self,
        s: &mut Step,
        comp: &'static Component,
        nodes: &[&NodeView],
        hop: &Hop,
        to: &Series,
        d: &str,
    ) {
        for n in nodes {
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
                s.targets.extend(image_targets(n, comp.id, i, to));
            }
        }
    }

    /// A control-plane step's preconditions, post-steps and commands, per component.
    fn control_notes(&self, s: &mut Step, comp: &'static Component, hop: &Hop, d: &str) {
        let site = self.site.clone();
        let series_change = hop.kind != HopKind::Patch;
        let kolla = self.deployer == Deployer::Kolla;
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
    }

    /// One deployer run covers several components of a deliverable: the later steps say so.
    fn share_runs(
        &self,
        s: &mut Step,
        comp: &'static Component,
        nodes: &[&NodeView],
        hop: &Hop,
        first_of_deliverable: bool,
        d: &str,
    ) {
        let series_change = hop.kind != HopKind::Patch;
        let kolla = self.deployer == Deployer::Kolla;
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
    }

    pub(super) fn data_step(
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

    pub(super) fn amphora_step(&mut self, hop: &Hop, to: &Series) {
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

    pub(super) fn compute_steps(
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
                    s.targets.extend(image_targets(n, comp.id, i, to));
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

    pub(super) fn finalize(
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
}

/// Why a control-plane component goes where it goes.
fn control_why(comp: &Component) -> String {
    match comp.id {
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
    }
}
