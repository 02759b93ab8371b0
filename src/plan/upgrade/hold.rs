//! Hold-back (scenario 2): the aggregates held for a tenant fallback, and the hold step.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Action, Hop, KollaHint, Limit, LimitCode, Phase, Reason, Reversibility, Target,
};
use crate::releases::openstack::Series;

use crate::plan::deployer::{self, kolla_tag};
use crate::plan::fleet::NodeView;
use crate::plan::path::{self, series_ref};

use super::{lookup_series, new_step, SitePlanner};

impl<'a> SitePlanner<'a> {
    pub(super) fn hold_back_setup(&mut self, hop: &Hop) {
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

    pub(super) fn hold_step(&mut self, hop: &Hop, from: &'a Series, to: &'a Series) {
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
}
