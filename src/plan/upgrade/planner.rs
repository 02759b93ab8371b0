//! The site planner: which nodes a hop moves, and the hop itself (prepare, components in DAG
//! order, finalize, verify).

use std::collections::BTreeSet;

use crate::model::{
    Action, Hop, HopKind, KollaHint, OsaHint, Phase, Reason, Reversibility, SitePath,
};
use crate::releases::openstack::Series;

use crate::plan::deployer::{self};
use crate::plan::fleet::{Deployer, Installed, InstalledAs, NodeView};
use crate::plan::order::{self};
use crate::plan::path::{self, series_ref, PathOptions};
use crate::version::pep440::Pep440Version;

use crate::plan::PlanError;

use super::{new_step, SitePlanner, STATUS_CHECKS};

impl<'a> SitePlanner<'a> {
    pub(super) fn present_ids(&self) -> BTreeSet<&'static str> {
        self.present.iter().map(|c| c.id).collect()
    }

    /// In-scope nodes running `comp` that this hop changes: held hosts stay out of the last
    /// hop; nodes already at (or past) the hop's target are left alone.
    pub(super) fn nodes_with(
        &self,
        comp: &str,
        hop: &Hop,
        to: &Series,
        last: bool,
    ) -> Vec<&'a NodeView> {
        self.nodes
            .iter()
            .copied()
            .filter(|n| !(last && self.held.contains(&n.id)))
            .filter(|n| n.get(comp).is_some_and(|i| self.needs(i, to, hop.kind)))
            .collect()
    }

    /// Whether an installed component moves in a hop to `to`.
    pub(super) fn needs(&self, i: &Installed, to: &Series, kind: HopKind) -> bool {
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
            None => i.install == InstalledAs::Image && kind != HopKind::Patch,
        }
    }

    pub(super) fn reason_for(&self, comp: &str, text: String) -> Reason {
        let present = self.present_ids();
        let edges = order::edges_into(comp, &present)
            .into_iter()
            .map(order::Edge::to_ref)
            .collect();
        Reason { text, edges }
    }

    pub(super) fn id(&self, base: &str, hop: &Hop) -> String {
        format!("{base}-{}-h{}", self.site, hop.index)
    }

    pub(super) fn kolla_cmd(&self, tags: &str, verb: &str, hosts: Option<&[String]>) -> String {
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
    pub(super) fn limit_for(&self, comp: &str, hosts: &[String]) -> Option<Vec<String>> {
        let all: BTreeSet<&str> = self
            .site_nodes
            .iter()
            .filter(|n| n.get(comp).is_some())
            .map(|n| n.id.as_str())
            .collect();
        let mine: BTreeSet<&str> = hosts.iter().map(String::as_str).collect();
        (all != mine).then(|| hosts.to_vec())
    }

    pub(super) fn target_version(&self, i: &Installed, to: &Series) -> Option<String> {
        let d = i.deliverable.as_deref()?;
        self.cat
            .latest_in_series(d, &to.name)
            .map(|r| r.version.clone())
    }

    pub(super) fn plan(&mut self, from: &'a Series, to: &'a Series) -> Result<SitePath, PlanError> {
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

    pub(super) fn hop(&mut self, hop: &Hop, from: &'a Series, to: &'a Series, last: bool) {
        let series_change = hop.kind != HopKind::Patch;
        let deliverables: BTreeSet<&str> =
            self.present.iter().filter_map(|c| c.deliverable).collect();
        let hop_label = if series_change {
            format!("{} → {}", hop.from.label(), hop.to.label())
        } else {
            format!("point releases of {}", hop.to.label())
        };

        // ---- prepare ----
        self.prepare_steps(hop, to, &deliverables, &hop_label);

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
        self.verify_step(hop, &hop_label);
    }

    /// Before the window: data migrations confirmed, databases backed up, new code staged,
    /// upgrade checks run with it.
    fn prepare_steps(
        &mut self,
        hop: &Hop,
        to: &Series,
        deliverables: &BTreeSet<&str>,
        hop_label: &str,
    ) {
        let series_change = hop.kind != HopKind::Patch;
        let h = Some(hop.index);
        let site = self.site.clone();
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
        self.backup_step(hop, hop_label);
        self.stage_step(hop, to, hop_label);

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
    }

    fn backup_step(&mut self, hop: &Hop, hop_label: &str) {
        let h = Some(hop.index);
        let site = self.site.clone();
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
    }

    fn stage_step(&mut self, hop: &Hop, to: &Series, hop_label: &str) {
        let h = Some(hop.index);
        let site = self.site.clone();
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
    }

    fn verify_step(&mut self, hop: &Hop, hop_label: &str) {
        let h = Some(hop.index);
        let site = self.site.clone();
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
}
