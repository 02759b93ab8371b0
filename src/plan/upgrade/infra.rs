//! Infrastructure steps (database, message queue, caches, OVS/OVN) and the deployer hints every
//! component step carries.

use crate::model::{
    Action, Hop, HopKind, KollaHint, Limit, LimitCode, OsaHint, Phase, Reversibility, Step, Target,
};
use crate::releases::openstack::Series;

use crate::plan::deployer::{self, kolla_tag};
use crate::plan::fleet::{Deployer, NodeView};
use crate::plan::order::Component;

use super::{image_targets, new_step, SitePlanner};

impl<'a> SitePlanner<'a> {
    pub(super) fn infra_step(
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
        if comp.id == "rabbitmq"
            && self.deployer == Deployer::Kolla
            && series_change
            && self.kolla_rabbitmq_steps(comp, hop, from, to, &nodes)
        {
            return;
        }
        let (rev, title, pre, osa_rabbitmq) = self.infra_change(comp, hop, from, to);
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
        s.reason = self.reason_for(comp.id, infra_why(comp.id).to_owned());
        self.infra_targets(&mut s, comp, &nodes, hop, to);
        self.deployer_hints(&mut s, comp, &nodes, to, series_change);
        if self.deployer == Deployer::Osa && comp.osa_playbook.is_empty() {
            s.post_steps.push(format!("OpenStack-Ansible installs {} with the neutron playbook: it moves with the neutron steps", comp.id));
        }
        if comp.id == "mariadb" {
            s.post_steps.push("wait for every galera node to be Synced (`wsrep_local_state_comment`) before the next".to_owned());
        }
        self.steps.push(s);
    }

    /// kolla's RabbitMQ steps, one per allow-listed intermediate version; false when there is
    /// none to take (the ordinary infrastructure step follows then).
    fn kolla_rabbitmq_steps(
        &mut self,
        comp: &'static Component,
        hop: &Hop,
        from: &'a Series,
        to: &'a Series,
        nodes: &[&NodeView],
    ) -> bool {
        let site = self.site.clone();
        let hosts: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let cur = nodes
            .iter()
            .find_map(|n| {
                n.get("rabbitmq")
                    .and_then(|i| i.packages.first().and_then(|p| deployer::minor_of(&p.2)))
            })
            .or_else(|| deployer::kolla_rabbitmq_minor(from).map(str::to_owned));
        let want = deployer::kolla_rabbitmq_minor(to);
        let (Some(cur), Some(want)) = (cur, want) else {
            return false;
        };
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
            s.post_steps.push(format!(
                "`rabbitmqctl cluster_status`: every node runs {v}; enable the new feature flags"
            ));
            self.limits.push(Limit { code: LimitCode::NoRabbitmqDowngrade, message: format!("RabbitMQ {prev} → {v} cannot be undone in place: a rollback is a new cluster at {prev} importing the exported definitions (queued messages are lost)"), steps: vec![s.id.clone()], nodes: hosts.clone() });
            self.steps.push(s);
            prev.clone_from(v);
        }
        !hops.is_empty()
    }

    /// An infrastructure step's reversibility, title and preconditions, and whether it is
    /// OpenStack-Ansible's RabbitMQ upgrade (irreversible in place).
    fn infra_change(
        &self,
        comp: &'static Component,
        hop: &Hop,
        from: &'a Series,
        to: &'a Series,
    ) -> (Reversibility, String, Vec<String>, bool) {
        let site = self.site.clone();
        let series_change = hop.kind != HopKind::Patch;
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
        (rev, title, pre, osa_rabbitmq)
    }

    /// The images (or versions) an infrastructure step moves, per node.
    fn infra_targets(
        &self,
        s: &mut Step,
        comp: &Component,
        nodes: &[&NodeView],
        hop: &Hop,
        to: &Series,
    ) {
        for n in nodes {
            if let Some(i) = n.get(comp.id) {
                s.targets.extend(image_targets(n, comp.id, i, to));
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
    }

    pub(super) fn deployer_hints(
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
}

/// Why an infrastructure component goes where it goes.
fn infra_why(id: &str) -> &'static str {
    match id {
    "mariadb" => "E1: the DB tier goes first; galera nodes are restarted one at a time and must resync before the next",
    "rabbitmq" => "E2: the message queue before every oslo.messaging user",
    "memcached" | "haproxy" => "E3: caches and load balancers before the API services",
    "openvswitch" => "OVS userspace first, kernel module after (E12); before OVN and the neutron agents",
    "ovn-controller" => "E11: chassis controllers first (rolling OVN upgrade within the LTS span; outside it pin ovn-match-northd-version and do the databases first)",
    "ovn-db" => "E11: NB/SB databases and northd after the chassis, before neutron's OVN integration",
    _ => "infrastructure before services",
    }
}
