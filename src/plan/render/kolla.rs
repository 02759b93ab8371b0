//! kolla-ansible output: per site and hop, `globals.yml` (`openstack_release`),
//! `inventory/group_vars/all.yml` (per-service image tags), `inventory/host_vars/<host>.yml`
//! (per-host tags: held-back hosts, rollbacks, replication pins) and `commands.sh`.
//!
//! Per-host and per-group values go in the inventory, never in `globals.yml`: kolla passes
//! `globals.yml` as extra-vars, the highest precedence, so a value there cannot differ between
//! hosts (KA-MULTI).

use std::collections::BTreeMap;

use super::{
    by_site_hop, header, shell_prelude, shell_step, slug, var_name, yq, PlanFormat, PlanRenderer,
    RenderedFile,
};
use crate::model::Plan;

/// kolla-ansible renderer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KollaRenderer;

fn vars_yaml(plan: &Plan, what: &str, vars: &BTreeMap<String, String>) -> String {
    let mut s = header(plan, what);
    s.push_str("---\n");
    if vars.is_empty() {
        s.push_str("{}\n");
    }
    for (k, v) in vars {
        s.push_str(&format!("{}: {}\n", var_name(k), yq(v)));
    }
    s
}

impl PlanRenderer for KollaRenderer {
    fn format(&self) -> PlanFormat {
        PlanFormat::Kolla
    }

    fn render(&self, plan: &Plan) -> Vec<RenderedFile> {
        let mut files = Vec::new();
        let mut lists = vec![("", &plan.steps)];
        if !plan.rollback.is_empty() {
            lists.push(("rollback/", &plan.rollback));
        }
        for (prefix, steps) in lists {
            for (dir, steps) in by_site_hop(plan, steps) {
                if !steps.iter().any(|s| s.hints.kolla.is_some()) {
                    continue;
                }
                let base = format!("kolla/{prefix}{dir}");
                let mut globals = BTreeMap::new();
                let mut groups: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
                let mut hosts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
                let mut sh = shell_prelude(
                    plan,
                    &format!("kolla-ansible command sequence for {dir}"),
                    "INVENTORY",
                );
                sh.push_str(&format!("# Copy globals.yml values into /etc/kolla/globals.yml and the inventory/ files beside your inventory first ({base}).\n"));
                for s in &steps {
                    let k = s.hints.kolla.clone().unwrap_or_default();
                    globals.extend(k.globals.clone());
                    for (g, v) in &k.group_vars {
                        groups.entry(g.clone()).or_default().extend(v.clone());
                    }
                    for (h, v) in &k.host_vars {
                        hosts.entry(h.clone()).or_default().extend(v.clone());
                    }
                    sh.push_str(&shell_step(s, &k.commands, "INVENTORY"));
                }
                files.push(RenderedFile {
                    path: format!("{base}/globals.yml"),
                    content: vars_yaml(
                        plan,
                        "kolla-ansible globals (same for every host)",
                        &globals,
                    ),
                });
                for (g, v) in &groups {
                    files.push(RenderedFile {
                        path: format!("{base}/inventory/group_vars/{}.yml", slug(g)),
                        content: vars_yaml(
                            plan,
                            &format!("kolla-ansible group_vars for `{g}`: per-service image tags"),
                            v,
                        ),
                    });
                }
                for (h, v) in &hosts {
                    files.push(RenderedFile {
                        path: format!("{base}/inventory/host_vars/{}.yml", slug(h)),
                        content: vars_yaml(
                            plan,
                            &format!(
                                "kolla-ansible host_vars for `{h}`: tags that differ on this host"
                            ),
                            v,
                        ),
                    });
                }
                files.push(RenderedFile {
                    path: format!("{base}/commands.sh"),
                    content: sh,
                });
            }
        }
        if files.is_empty() {
            files.push(RenderedFile {
                path: "kolla/README.txt".to_owned(),
                content: header(plan, "kolla-ansible output")
                    + "# No step of this plan runs on a kolla-ansible site.\n",
            });
        }
        files
    }
}
