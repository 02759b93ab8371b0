//! Plan renderers: one [`PlanRenderer`] per format, chosen in one place ([`PlanFormat::renderer`]).
//!
//! - `json`: the plan itself (schema `reports/schema/plan-v1.json`);
//! - `markdown`: for the change ticket;
//! - `ansible`: a generic playbook with apt/dnf pins and holds per host;
//! - `kolla`: per site and hop, `globals.yml`, inventory `group_vars`/`host_vars` with image
//!   tags, and the command sequence;
//! - `osa`: per site and hop, `user_variables` with install-branch (SHA) pins, and the command
//!   sequence.
//!
//! Renderers only format: everything they print is in the plan.

mod ansible;
mod kolla;
mod markdown;
mod osa;

pub(crate) use ansible::AnsibleRenderer;
pub(crate) use kolla::KollaRenderer;
pub(crate) use markdown::MarkdownRenderer;
pub(crate) use osa::OsaRenderer;

use crate::model::Plan;

/// A rendered file, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative path (`kolla/par1/hop-1-2025.1/commands.sh`).
    pub path: String,
    /// Content.
    pub content: String,
}

/// Output formats of `nminus plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// The plan as JSON (`plan.json`).
    Json,
    /// Markdown for a change ticket (`plan.md`).
    Markdown,
    /// A generic Ansible playbook: apt/dnf pins and holds (`playbook.yml`).
    Ansible,
    /// kolla-ansible: globals, group_vars/host_vars image tags, command sequence (a directory).
    Kolla,
    /// OpenStack-Ansible: install-branch pins, command sequence (a directory).
    Osa,
}

impl PlanFormat {
    /// Name as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Markdown => "markdown",
            Self::Ansible => "ansible",
            Self::Kolla => "kolla",
            Self::Osa => "osa",
        }
    }

    /// The renderer of this format.
    pub fn renderer(self) -> Box<dyn PlanRenderer> {
        match self {
            Self::Json => Box::new(JsonRenderer),
            Self::Markdown => Box::new(MarkdownRenderer),
            Self::Ansible => Box::new(AnsibleRenderer),
            Self::Kolla => Box::new(KollaRenderer),
            Self::Osa => Box::new(OsaRenderer),
        }
    }

    /// Whether the format is a single file (else a tree of files).
    pub fn single_file(self) -> bool {
        matches!(self, Self::Json | Self::Markdown | Self::Ansible)
    }
}

/// Formats a plan.
pub trait PlanRenderer {
    /// The format.
    fn format(&self) -> PlanFormat;
    /// The files.
    fn render(&self, plan: &Plan) -> Vec<RenderedFile>;
}

/// `plan.json`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonRenderer;

impl PlanRenderer for JsonRenderer {
    fn format(&self) -> PlanFormat {
        PlanFormat::Json
    }
    fn render(&self, plan: &Plan) -> Vec<RenderedFile> {
        vec![RenderedFile {
            path: "plan.json".to_owned(),
            content: serde_json::to_string_pretty(plan).unwrap_or_default() + "\n",
        }]
    }
}

/// Render all formats' files for one plan.
pub fn render(plan: &Plan, format: PlanFormat) -> Vec<RenderedFile> {
    format.renderer().render(plan)
}

/// A value for the YAML files Ansible reads (playbooks, kolla-ansible and OpenStack-Ansible
/// variables): a double-quoted scalar tagged `!unsafe`, so that Ansible never evaluates
/// `{{ … }}` or `{% … %}` inside it (node data such as a package version or an image tag
/// must stay data), with every control character, C1 control, line or paragraph separator and
/// byte-order mark escaped (a YAML reader refuses them raw; a newline must not start a key).
pub(crate) fn yq(s: &str) -> String {
    format!("!unsafe {}", yaml_dq(s))
}

/// A YAML double-quoted scalar (printable characters as they are, the rest escaped).
pub(crate) fn yaml_dq(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for one comment line: control characters (newlines, carriage returns, escapes)
/// become spaces, so that node data can never end the comment and start a command.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A shell word: as it is when it holds only characters the shell takes literally
/// (letters, digits, `._:,/=@+-`), else single-quoted.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:,/=@+-".contains(&b))
    {
        s.to_owned()
    } else {
        shell_quote(s)
    }
}

/// An Ansible variable name: letters, digits and `_`; anything else becomes `_`.
pub(crate) fn var_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A YAML-safe file-name component.
pub(crate) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Header comment lines shared by the generated files.
pub(crate) fn header(plan: &Plan, what: &str) -> String {
    format!(
        "# {}\n# Generated by nminus {} from {} ({} plan, scope {}, as of {}).\n# nminus never runs a plan: review every line, then apply it yourself.\n",
        one_line(what),
        env!("CARGO_PKG_VERSION"),
        one_line(&plan.id),
        plan.kind.as_str(),
        one_line(&plan.scope.describe()),
        one_line(&plan.as_of)
    )
}

/// Steps grouped by (site, hop) in plan order, as (directory name, steps).
pub(crate) fn by_site_hop(
    plan: &Plan,
    steps: &[crate::model::Step],
) -> Vec<(String, Vec<crate::model::Step>)> {
    let mut out: Vec<(String, Vec<crate::model::Step>)> = Vec::new();
    for s in steps {
        let site = s.site.clone().unwrap_or_else(|| "all".to_owned());
        let dir = match s.hop {
            Some(h) => {
                let to = plan
                    .paths
                    .iter()
                    .find(|p| p.site == site)
                    .and_then(|p| p.hops.iter().find(|x| x.index == h))
                    .map(|x| x.to.id.clone())
                    .unwrap_or_default();
                format!("{}/hop-{h}-{}", slug(&site), slug(&to))
            }
            None => slug(&site),
        };
        match out.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, v)) => v.push(s.clone()),
            None => out.push((dir, vec![s.clone()])),
        }
    }
    out
}

/// The shell prelude of a command sequence: stops before each step until confirmed.
pub(crate) fn shell_prelude(plan: &Plan, what: &str, inventory_var: &str) -> String {
    let mut s = String::from("#!/usr/bin/env bash\n");
    s.push_str(&header(plan, what));
    s.push_str(
        "# Each step waits for confirmation; `#` lines are what the step asks of you by hand.\n",
    );
    s.push_str("set -euo pipefail\n");
    if !inventory_var.is_empty() {
        s.push_str(&format!("{inventory_var}=\"${{{inventory_var}:?set {inventory_var} to your inventory path}}\"\n"));
    }
    s.push_str("confirm() { read -r -p \"$1 -- run it? [y/N] \" a; [ \"$a\" = y ]; }\n");
    if plan.steps.iter().any(|x| !x.verification.is_empty()) {
        s.push_str(SHELL_VERIFY);
    }
    s
}

/// One step of a command sequence.
pub(crate) fn shell_step(
    step: &crate::model::Step,
    commands: &[String],
    inventory_var: &str,
) -> String {
    let mut s = format!(
        "\n# ---- {}: {} [{}]\n",
        one_line(&step.id),
        one_line(&step.title),
        step.reversibility.as_str()
    );
    for p in &step.preconditions {
        s.push_str(&format!("#   before: {}\n", one_line(p)));
    }
    for c in &step.hints.commands {
        s.push_str(&format!("#   by hand: {}\n", one_line(c)));
    }
    for b in &step.blocked_by {
        s.push_str(&format!("#   BLOCKED: {}\n", one_line(b)));
    }
    let runnable: Vec<&String> = commands
        .iter()
        .filter(|c| !c.trim_start().starts_with('#'))
        .collect();
    for c in commands.iter().filter(|c| c.trim_start().starts_with('#')) {
        s.push_str(&format!(
            "#   {}\n",
            one_line(c.trim_start().trim_start_matches('#').trim())
        ));
    }
    if !runnable.is_empty() && step.blocked_by.is_empty() {
        s.push_str(&format!(
            "if confirm {}; then\n",
            shell_quote(&one_line(&format!("{} {}", step.id, step.title)))
        ));
        for c in runnable {
            let c = if inventory_var.is_empty() {
                c.clone()
            } else {
                c.replace(" INVENTORY", &format!(" \"${inventory_var}\""))
            };
            // Commands are built by the planner with node data shell-quoted; a line break
            // would still start another command, so none survives.
            s.push_str(&format!("  {}\n", one_line(&c)));
        }
        s.push_str("fi\n");
    }
    for p in &step.post_steps {
        s.push_str(&format!("#   after: {}\n", one_line(p)));
    }
    s.push_str(&shell_verification(step));
    s
}

/// Single-quote for the shell.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What finds the versions a version document lists: for a microversion the `version` and
/// `max_version` values (`"max_version": "1.39"`), for a version id the `id` values
/// (`"id": "v3.14"`). `python`: a Python regex capturing the number (Ansible's
/// `regex_findall`), else an extended regex for `grep -oE`. The check is that the highest
/// found is the expected one: a list of versions (glance, octavia) names older ones too.
pub(crate) fn version_find(
    kind: crate::model::controlplane::VersionKind,
    python: bool,
) -> &'static str {
    use crate::model::controlplane::VersionKind;
    match (kind, python) {
        (VersionKind::Microversion, true) => r#""(?:max_version|version)" *: *"([0-9]+\.[0-9]+)""#,
        (VersionKind::Microversion, false) => r#""(max_version|version)" *: *"[0-9]+\.[0-9]+""#,
        (VersionKind::VersionId, true) => r#""id" *: *"v([0-9]+\.[0-9]+)""#,
        (VersionKind::VersionId, false) => r#""id" *: *"v[0-9]+\.[0-9]+""#,
    }
}

/// The shell function verification lines call (only in plans with verification).
pub(crate) const SHELL_VERIFY: &str = r#"# verify URL FIND VALUE WHAT: the highest version the document at URL lists (FIND: grep -E) must be
# VALUE; NMINUS_VERIFY_TRIES tries (default 10), NMINUS_VERIFY_DELAY seconds apart (default 30).
verify() {
  local i max=
  for ((i = 1; i <= ${NMINUS_VERIFY_TRIES:-10}; i++)); do
    max=$(curl -fsS --max-time 10 "$1" | grep -oE "$2" | grep -oE '[0-9]+\.[0-9]+' | sort -V | tail -n 1) || max=
    if [ "$max" = "$3" ]; then echo "verified: $4"; return 0; fi
    [ "$i" -lt "${NMINUS_VERIFY_TRIES:-10}" ] && sleep "${NMINUS_VERIFY_DELAY:-30}"
  done
  echo "NOT verified: $4 ($1 shows ${max:-no version}): stop here" >&2
  return 1
}
"#;

/// The verification of a step as shell lines: a `verify` call per endpoint with an expected
/// version, the PromQL as comments.
pub(crate) fn shell_verification(step: &crate::model::Step) -> String {
    let mut s = String::new();
    if step.verification.is_empty() {
        return s;
    }
    s.push_str("#   verify before going on:\n");
    for c in &step.verification {
        let what = format!("{} {} {} {}", c.service_type, c.region, c.interface, c.url);
        match (&c.expected, &c.version_url) {
            (Some(x), Some(url)) => s.push_str(&format!(
                "verify {} {} {} {}\n",
                shell_quote(url),
                shell_quote(version_find(x.kind, false)),
                shell_quote(&x.value),
                shell_quote(&one_line(&format!(
                    "{what}: {} {} ({})",
                    x.kind.describe(),
                    x.value,
                    x.series
                )))
            )),
            _ => s.push_str(&format!(
                "#   {}: no expected version (no upstream maximum for the series)\n",
                one_line(&what)
            )),
        }
        for q in &c.promql {
            s.push_str(&format!(
                "#   promql ({}): {}\n",
                q.check,
                one_line(&q.expr)
            ));
        }
    }
    s
}
