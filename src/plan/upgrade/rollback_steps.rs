//! The upgrade plan's rollback list: tenant fallback, then per hop the reverse of the steps.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Action, DeployerHints, Hop, KollaHint, Limit, LimitCode, OsaHint, Phase, Reason, Reversibility,
    SitePath, Step, Target,
};

use crate::plan::fleet::{Deployer, ImageInfo};

use super::{fallback_migrate_step, fallback_pin_step, new_step, SitePlanner};

impl<'a> SitePlanner<'a> {
    /// The rollback list of the upgrade: per-tenant fallback first, then per hop (newest first)
    /// the reverse of the steps, each with what undoing it takes.
    pub(super) fn rollback_steps(&mut self, paths: &SitePath) {
        if !self.held.is_empty() {
            self.fallback_steps();
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
            self.undo_hop(hop, &hop_steps, first_restore);
        }
    }

    /// Scenario 2: per tenant with held-back hosts, pin it to them and cold-migrate its instances.
    fn fallback_steps(&mut self) {
        let site = self.site.clone();
        let mut tenants: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
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
            let mut p = fallback_pin_step(
                t,
                &site,
                format!("If tenant {t} breaks: pin it to its held-back aggregate {aggs}"),
                held,
            );
            p.reason = Reason { text: "scenario 2: the control plane is shared and cannot be downgraded per tenant; the tenant gets the previous data plane on hosts held back before the upgrade".into(), edges: Vec::new() };
            p.hints.commands = vec![format!("openstack aggregate set --property filter_tenant_id=<project id of {t}> {aggs}"), format!("openstack aggregate unset --property filter_tenant_id <the aggregates {t} used on the upgraded hosts>")];
            self.rollback.push(p);
            let mut m = fallback_migrate_step(
                t,
                &site,
                format!("Cold-migrate tenant {t}'s instances onto the held-back hosts"),
                upgraded,
            );
            m.hints.commands = vec![
                    format!("openstack server list --project <project id of {t}> --long   # instances on {}", upgraded.iter().cloned().collect::<Vec<_>>().join(", ")),
                    format!("openstack --os-compute-api-version 2.56 server migrate --host <one of {}> <server>", held.iter().cloned().collect::<Vec<_>>().join(", ")),
                    "openstack server resize confirm <server>".into(),
                ];
            self.limits.push(Limit { code: LimitCode::NoLiveMigrationToOlder, message: format!("tenant {t}: instances move to the held-back hosts by cold migration only; live migration onto an older hypervisor is refused"), steps: vec![m.id.clone()], nodes: upgraded.iter().cloned().collect() });
            self.rollback.push(m);
        }
    }

    /// The reverse of one hop's steps (newest first), then the database restore if a step
    /// needs it.
    fn undo_hop(&mut self, hop: &Hop, hop_steps: &[&Step], first_restore: Option<String>) {
        let site = self.site.clone();
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

pub(super) fn downgrade_hints(
    fwd: &DeployerHints,
    targets: &[Target],
    d: Deployer,
) -> DeployerHints {
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
