//! Markdown for a change ticket: paths, warnings, limits, then every step with its reason
//! (DAG edges), targets, preconditions, commands, post-steps and reversibility; then the
//! rollback list and, for replication, the bill of materials.

use super::{PlanFormat, PlanRenderer, RenderedFile};
use crate::model::{Plan, Step};

/// Markdown renderer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MarkdownRenderer;

/// Text for a Markdown line or table cell: one line, and every character Markdown or HTML
/// would read as markup (emphasis, code, links, tags, entities, table pipes) escaped, so that
/// what a node reported reads as text.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::one_line(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A name as inline code: `` `name` `` when it is one line without backticks (in a code span
/// nothing is markup), else as escaped text.
fn code(s: &str) -> String {
    if s.is_empty() || s.contains('`') || s.chars().any(char::is_control) {
        cell(s)
    } else {
        format!("`{s}`")
    }
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn step_md(s: &Step, out: &mut String) {
    out.push_str(&format!("\n### {} — {}\n\n", cell(&s.id), cell(&s.title)));
    let mut meta = vec![format!(
        "phase `{}`",
        serde_json::to_value(s.phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    )];
    meta.push(format!(
        "action `{}`",
        serde_json::to_value(s.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    ));
    meta.push(format!("reversibility **{}**", s.reversibility.as_str()));
    if let Some(c) = &s.component {
        meta.push(format!("component {}", code(c)));
    }
    if let Some(b) = &s.batch {
        meta.push(format!(
            "{} {}/{} ({})",
            if b.kind == crate::model::BatchKind::Canary {
                "canary"
            } else {
                "batch"
            },
            b.index,
            b.of,
            cell(&b.group)
        ));
    }
    out.push_str(&format!("{}\n\n", meta.join(" · ")));
    for b in &s.blocked_by {
        out.push_str(&format!("> **Blocked:** {}\n\n", cell(b)));
    }
    if !s.reason.text.is_empty() {
        out.push_str(&format!("*Why here:* {}\n", cell(&s.reason.text)));
    }
    for e in &s.reason.edges {
        out.push_str(&format!(
            "- {} {} → {} ({}): {}\n",
            cell(&e.id),
            cell(&e.before),
            cell(&e.after),
            e.strength,
            cell(&e.why)
        ));
    }
    if !s.targets.is_empty() {
        out.push_str("\n| node | component | what | from | to |\n|---|---|---|---|---|\n");
        for t in &s.targets {
            let what = t
                .image
                .clone()
                .or_else(|| t.package.clone())
                .or_else(|| t.service.clone())
                .unwrap_or_default();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(t.node.as_deref().unwrap_or("")),
                cell(t.component.as_deref().unwrap_or("")),
                cell(&what),
                cell(t.from.as_deref().unwrap_or("")),
                cell(t.to.as_deref().unwrap_or(""))
            ));
        }
    }
    let list = |title: &str, items: &[String], out: &mut String| {
        if !items.is_empty() {
            out.push_str(&format!("\n{title}:\n"));
            for i in items {
                out.push_str(&format!("- {}\n", cell(i)));
            }
        }
    };
    list("Before", &s.preconditions, out);
    let mut cmds: Vec<String> = s.hints.commands.clone();
    if let Some(k) = &s.hints.kolla {
        cmds.extend(k.commands.iter().map(|c| format!("(kolla-ansible) {c}")));
        for (k, v) in &k.globals {
            cmds.push(format!("(kolla-ansible globals.yml) {k}: {v}"));
        }
    }
    if let Some(o) = &s.hints.osa {
        cmds.extend(
            o.commands
                .iter()
                .map(|c| format!("(openstack-ansible) {c}")),
        );
        for (k, v) in &o.vars {
            cmds.push(format!("(openstack-ansible user_variables) {k}: {v}"));
        }
    }
    for p in &s.hints.packages {
        cmds.push(format!(
            "({:?} pin) {} {} {} on {}{}",
            p.manager,
            p.name,
            if p.exact { "=" } else { "matching" },
            p.version,
            p.hosts.join(", "),
            p.repo
                .as_ref()
                .map(|r| format!(" from {r}"))
                .unwrap_or_default()
        ));
    }
    if !cmds.is_empty() {
        let body: String = cmds.iter().map(|c| super::one_line(c) + "\n").collect();
        let f = fence(&body);
        out.push_str(&format!("\nHow:\n{f}text\n{body}{f}\n"));
    }
    list("After", &s.post_steps, out);
    verification_md(s, out);
}

/// The bill of materials of a replication plan, and the catalog entries the new site needs.
fn manifest_md(m: &crate::model::Manifest, out: &mut String) {
    out.push_str(&format!(
        "\n## Bill of materials: {} → {} ({} footprint, {})\n\n",
        cell(&m.source_site),
        cell(&m.target_site),
        cell(&m.footprint.to_string()),
        cell(&m.deployer.to_string())
    ));
    out.push_str("| role | source nodes | new hosts | components |\n|---|---|---|---|\n");
    for r in &m.roles {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&r.role),
            cell(&r.source_nodes.join(", ")),
            cell(&r.hosts.join(", ")),
            cell(&r.components.join(", "))
        ));
    }
    out.push_str("\n| service | version | series | commit | install |\n|---|---|---|---|---|\n");
    for s in &m.services {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&s.deliverable),
            cell(&s.version),
            cell(s.series.as_deref().unwrap_or("?")),
            cell(s.commit.as_deref().unwrap_or("—")),
            cell(&s.install)
        ));
    }
    if !m.images.is_empty() {
        out.push_str("\n| image | tag | digest |\n|---|---|---|\n");
        for i in &m.images {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&i.repository),
                cell(&i.tag),
                cell(i.digest.as_deref().unwrap_or("—"))
            ));
        }
    }
    if !m.packages.is_empty() {
        out.push_str("\n| package | version | roles |\n|---|---|---|\n");
        for p in &m.packages {
            out.push_str(&format!(
                "| {} ({}) | {} | {} |\n",
                cell(&p.name),
                cell(&p.ecosystem.to_string()),
                cell(&p.version),
                cell(&p.roles.join(", "))
            ));
        }
    }
    if let Some(c) = &m.catalog {
        catalog_md(c, out);
    }
}

/// The Keystone catalog entries of a replicated site.
fn catalog_md(c: &crate::model::CatalogChanges, out: &mut String) {
    out.push_str(&format!(
        "\n### Catalog entries (copied from region(s) {})\n\n",
        cell(&c.source_regions.join(", "))
    ));
    out.push_str("| create | what | region | interface | URL |\n|---|---|---|---|---|\n");
    for r in &c.regions {
        out.push_str(&format!("| region | {} | | | |\n", code(r)));
    }
    for s in &c.services {
        out.push_str(&format!(
            "| service | {} ({}) | | | |\n",
            code(&s.catalog_type),
            cell(&s.name)
        ));
    }
    for e in &c.endpoints {
        out.push_str(&format!(
            "| endpoint | {} ({}) | {} | {} | {} |\n",
            code(&e.catalog_type),
            cell(&e.service_name),
            cell(&e.region),
            cell(&e.interface),
            code(&e.url)
        ));
    }
    for x in &c.existing {
        out.push_str(&format!("- exists, skipped: {}\n", cell(x)));
    }
    for (ph, what) in &c.placeholders {
        out.push_str(&format!("- {}: {}\n", code(ph), cell(what)));
    }
}

/// What to check before the next step: the endpoints, the version each must serve, the PromQL.
fn verification_md(s: &Step, out: &mut String) {
    if s.verification.is_empty() {
        return;
    }
    out.push_str("\nVerify before going on (endpoints of the catalog, version expected after the step):\n\n| service | region | interface | endpoint | expected | observed |\n|---|---|---|---|---|---|\n");
    let mut notes = Vec::new();
    let mut queries: Vec<&str> = Vec::new();
    for c in &s.verification {
        let expected = c.expected.as_ref().map_or_else(
            || "no upstream maximum for the series".to_owned(),
            |x| {
                format!(
                    "{} **{}** ({}; {})",
                    x.kind.describe(),
                    cell(&x.value),
                    cell(&x.series),
                    cell(&x.source)
                )
            },
        );
        if let Some(d) = c.expected.as_ref().and_then(|x| x.disagreement.as_ref()) {
            if !notes.contains(&d) {
                notes.push(d);
            }
        }
        let observed = match &c.observed.value {
            Some(v) if c.observed.series.is_empty() => cell(v),
            Some(v) => format!("{} ({})", cell(v), cell(&c.observed.series.join(", "))),
            None => cell(&c.observed.status),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} (id {}) | {} | {} |\n",
            code(&c.service_type),
            cell(&c.region),
            cell(&c.interface),
            code(&c.url),
            code(&c.endpoint_id),
            expected,
            observed
        ));
        queries.extend(c.promql.iter().map(|q| q.expr.as_str()));
    }
    for n in notes {
        out.push_str(&format!("\n- upstream disagrees: {}\n", cell(n)));
    }
    queries.dedup();
    let body: String = queries.iter().map(|q| super::one_line(q) + "\n").collect();
    let f = fence(&body);
    out.push_str(&format!(
        "\nPromQL (each returns a sample when its check holds):\n{f}promql\n{body}{f}\n"
    ));
}

/// Where the steps' checks come from, or that there are none.
fn control_plane_md(plan: &Plan, out: &mut String) {
    match &plan.inputs.control_plane {
        Some(cp) => out.push_str(&format!(
            "\nSteps are verified against the control plane: {}.\n",
            cell(cp)
        )),
        None if plan.kind == crate::model::PlanKind::Upgrade => out.push_str(
            "\nNo control-plane data: run `nminus discover` (or `nminus serve --discover-cloud`) and plan with `--discovery FILE` (or `--server`/`--db` with stored rounds) for each step's endpoints, expected microversions and PromQL.\n",
        ),
        None => {}
    }
}

impl PlanRenderer for MarkdownRenderer {
    fn format(&self) -> PlanFormat {
        PlanFormat::Markdown
    }

    fn render(&self, plan: &Plan) -> Vec<RenderedFile> {
        let mut o = format!("# {} plan {}\n\n", plan.kind.as_str(), code(&plan.id));
        o.push_str(&format!(
            "Generated {} by nminus {}, release data as of {}. Scope: {} ({} node(s)). nminus never executes a plan.\n",
            cell(&plan.generated_at),
            env!("CARGO_PKG_VERSION"),
            cell(&plan.as_of),
            code(&plan.scope.describe()),
            plan.scope.nodes.len()
        ));
        control_plane_md(plan, &mut o);
        if !plan.paths.is_empty() {
            o.push_str("\n## Series paths\n\n| site | from | to | hops |\n|---|---|---|---|\n");
            for p in &plan.paths {
                let hops: Vec<String> = p
                    .hops
                    .iter()
                    .map(|h| {
                        format!(
                            "{} → {} ({})",
                            cell(&h.from.id),
                            cell(&h.to.id),
                            h.kind.describe()
                        )
                    })
                    .collect();
                o.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    cell(&p.site),
                    cell(&p.from.label()),
                    cell(&p.to.label()),
                    hops.join("; ")
                ));
            }
            for p in &plan.paths {
                for h in &p.hops {
                    for n in &h.notes {
                        o.push_str(&format!(
                            "- {} hop {}: {}\n",
                            cell(&p.site),
                            h.index,
                            cell(n)
                        ));
                    }
                }
            }
        }
        if !plan.warnings.is_empty() {
            o.push_str("\n## Warnings\n\n");
            for w in &plan.warnings {
                o.push_str(&format!("- {}\n", cell(w)));
            }
        }
        if !plan.limits.is_empty() {
            o.push_str("\n## Limits\n\n| limit | what it means here |\n|---|---|\n");
            for l in &plan.limits {
                o.push_str(&format!(
                    "| `{}` | {} |\n",
                    serde_json::to_value(l.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    cell(&l.message)
                ));
            }
        }
        if let Some(m) = &plan.manifest {
            manifest_md(m, &mut o);
        }
        o.push_str("\n## Steps\n\n| # | step | reversibility |\n|---|---|---|\n");
        for s in &plan.steps {
            o.push_str(&format!(
                "| {} | {} | {} |\n",
                s.order,
                cell(&s.title),
                s.reversibility.as_str()
            ));
        }
        for s in &plan.steps {
            step_md(s, &mut o);
        }
        if !plan.rollback.is_empty() {
            o.push_str("\n## Rollback\n\nIn order; each says what undoing takes.\n");
            for s in &plan.rollback {
                step_md(s, &mut o);
            }
        }
        vec![RenderedFile {
            path: "plan.md".to_owned(),
            content: o,
        }]
    }
}
