//! OpenStack-Ansible output: per site and hop, `user_variables_nminus.yml` with
//! `<service>_git_install_branch: <SHA>` pins (a SHA, never a branch name, or hosts drift) and
//! `commands.sh` with the playbook sequence.

use std::collections::BTreeMap;

use super::{
    by_site_hop, header, one_line, shell_prelude, shell_step, var_name, yq, PlanFormat,
    PlanRenderer, RenderedFile,
};
use crate::model::Plan;

/// OpenStack-Ansible renderer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OsaRenderer;

impl PlanRenderer for OsaRenderer {
    fn format(&self) -> PlanFormat {
        PlanFormat::Osa
    }

    fn render(&self, plan: &Plan) -> Vec<RenderedFile> {
        let mut files = Vec::new();
        let mut lists = vec![("", &plan.steps)];
        if !plan.rollback.is_empty() {
            lists.push(("rollback/", &plan.rollback));
        }
        for (prefix, steps) in lists {
            for (dir, steps) in by_site_hop(plan, steps) {
                if !steps.iter().any(|s| s.hints.osa.is_some()) {
                    continue;
                }
                let base = format!("osa/{prefix}{dir}");
                // var → (value, comment)
                let mut vars: BTreeMap<String, (String, String)> = BTreeMap::new();
                let mut sh = shell_prelude(
                    plan,
                    &format!("OpenStack-Ansible command sequence for {dir}"),
                    "",
                );
                sh.push_str(&format!("# Copy user_variables_nminus.yml into /etc/openstack_deploy/ first ({base}).\n"));
                for s in &steps {
                    let o = s.hints.osa.clone().unwrap_or_default();
                    for (k, v) in &o.vars {
                        let svc = k.split("_git_").next().unwrap_or(k).replace('_', "-");
                        let version = s
                            .targets
                            .iter()
                            .find(|t| t.service.as_deref() == Some(svc.as_str()))
                            .and_then(|t| t.to.clone())
                            .unwrap_or_default();
                        vars.insert(
                            k.clone(),
                            (v.clone(), format!("{svc} {version} ({})", s.id)),
                        );
                    }
                    sh.push_str(&shell_step(s, &o.commands, ""));
                }
                let mut y = header(
                    plan,
                    "OpenStack-Ansible user variables: per-service install-branch pins",
                );
                y.push_str("# Verify afterwards with /openstack/venvs/<service>-<osa version>/bin/pip3 freeze.\n---\n");
                if vars.is_empty() {
                    y.push_str("{}\n");
                }
                for (k, (v, c)) in &vars {
                    y.push_str(&format!("{}: {}  # {}\n", var_name(k), yq(v), one_line(c)));
                }
                files.push(RenderedFile {
                    path: format!("{base}/user_variables_nminus.yml"),
                    content: y,
                });
                files.push(RenderedFile {
                    path: format!("{base}/commands.sh"),
                    content: sh,
                });
            }
        }
        if files.is_empty() {
            files.push(RenderedFile {
                path: "osa/README.txt".to_owned(),
                content: header(plan, "OpenStack-Ansible output")
                    + "# No step of this plan runs on an OpenStack-Ansible site.\n",
            });
        }
        files
    }
}
