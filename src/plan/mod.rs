//! The planner: inventories (and their history) + release data + policy → [`Plan`]s for
//! deployers. Nothing here executes anything.
//!
//! - [`order`]: the upgrade-order DAG, with a reason per edge.
//! - [`path`]: SLURP-valid series paths.
//! - [`upgrade`], [`rollback`], [`replicate`]: the three plan kinds.
//! - [`render`]: JSON, kolla-ansible, OpenStack-Ansible, a generic Ansible playbook, Markdown.
//!
//! Inputs come through [`PlanInput`]: a set of inventories of the same nodes at different
//! times. [`FileInput`] reads them from files and directories (`nminus collect` output);
//! [`Gathered`] holds what the command line read from the central analyzer (`nminus serve`),
//! over HTTP or from its store: the planner itself does no I/O of that kind.

pub(crate) mod catalog;
pub(crate) mod deployer;
pub(crate) mod fleet;
pub(crate) mod order;
pub(crate) mod path;
pub(crate) mod render;
pub(crate) mod replicate;
pub(crate) mod rollback;
pub(crate) mod upgrade;
pub(crate) mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::Date;

use crate::model::{Inventory, Location, Plan, Problem, ProblemKind, Scope, Step};
use crate::policy::Glob;
use crate::releases::openstack::OpenStackCatalog;

use fleet::NodeView;

/// Where a planner's inventories come from: every inventory known for the nodes, current and
/// historical, in any order.
pub trait PlanInput {
    /// Every inventory.
    fn inventories(&self) -> &[Inventory];
    /// Problems met while reading (unreadable files); they become plan warnings.
    fn problems(&self) -> &[Problem] {
        &[]
    }
}

/// Inventories read from JSON files and directories (recursively, `*.json`, sorted by path).
#[derive(Debug, Default, Clone)]
pub struct FileInput {
    inventories: Vec<Inventory>,
    problems: Vec<Problem>,
}

impl FileInput {
    /// Read every path; a file that cannot be read or parsed is a problem, the rest proceed.
    pub fn load(paths: &[PathBuf]) -> Self {
        let mut files = Vec::new();
        let mut me = Self::default();
        for p in paths {
            collect_json(p, &mut files, &mut me.problems);
        }
        files.sort();
        files.dedup();
        for f in files {
            match fs_err::read_to_string(&f) {
                Ok(text) => {
                    let de = &mut serde_json::Deserializer::from_str(&text);
                    match serde_path_to_error::deserialize::<_, Inventory>(de) {
                        Ok(inv) => match plannable(&inv) {
                            Ok(()) => me.inventories.push(inv),
                            Err(why) => me.problems.push(Problem::new(
                                Location::path(f.display().to_string()),
                                ProblemKind::Malformed,
                                why.to_string(),
                            )),
                        },
                        Err(e) => me.problems.push(Problem::new(
                            Location::path(f.display().to_string()),
                            ProblemKind::Malformed,
                            format!("not an nminus inventory: {} at `{}`", e.inner(), e.path()),
                        )),
                    }
                }
                Err(e) => me.problems.push(Problem::new(
                    Location::path(f.display().to_string()),
                    ProblemKind::Unreadable,
                    e.to_string(),
                )),
            }
        }
        me
    }

    /// From inventories already in memory.
    pub fn from_inventories(inventories: Vec<Inventory>) -> Self {
        Self {
            inventories,
            problems: Vec::new(),
        }
    }
}

/// Whether the planner may plan from `inv`: a schema version it knows, and names and package
/// strings it can put into file names, shell lines and playbooks safely (what `serve` checks
/// on every push: [`Inventory::unsafe_fields`]). The reason names the field.
pub(crate) fn plannable(inv: &Inventory) -> Result<(), NotPlannable> {
    use crate::model::INVENTORY_SCHEMA_VERSION;
    if inv.schema_version == 0 || inv.schema_version > INVENTORY_SCHEMA_VERSION {
        return Err(NotPlannable::SchemaVersion(inv.schema_version));
    }
    match inv.unsafe_fields().into_iter().next() {
        None => Ok(()),
        Some((field, why)) => Err(NotPlannable::Field {
            node: crate::plan::render::one_line(&inv.node.id),
            field: field.to_string(),
            why: why.to_string(),
        }),
    }
}

/// Why an inventory is not planned from: the field that stops it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotPlannable {
    /// A schema version this nminus does not read.
    #[error("not planned: `schema_version` is {0}, this nminus reads 1 to {max}", max = crate::model::INVENTORY_SCHEMA_VERSION)]
    SchemaVersion(u32),
    /// A name or package string that is not safe in file names, shell lines and playbooks.
    #[error("not planned: node `{node}`: `{field}`: {why}")]
    Field {
        /// The node id (on one line).
        node: String,
        /// The field.
        field: String,
        /// What is wrong with it.
        why: String,
    },
}

fn collect_json(p: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    if p.is_dir() {
        match fs_err::read_dir(p) {
            Ok(rd) => {
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() || path.extension().is_some_and(|x| x == "json") {
                        collect_json(&path, out, problems);
                    }
                }
            }
            Err(e) => problems.push(Problem::new(
                Location::path(p.display().to_string()),
                ProblemKind::Unreadable,
                e.to_string(),
            )),
        }
    } else if p.exists() {
        out.push(p.to_path_buf());
    } else {
        problems.push(Problem::new(
            Location::path(p.display().to_string()),
            ProblemKind::Unreadable,
            "no such file or directory",
        ));
    }
}

impl PlanInput for FileInput {
    fn inventories(&self) -> &[Inventory] {
        &self.inventories
    }
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// Inventories read elsewhere (a server's pages, a store), each checked with [`plannable`] as
/// it is added: one that may not be planned from is a problem naming where it came from.
#[derive(Debug, Default, Clone)]
pub(crate) struct Gathered {
    inventories: Vec<Inventory>,
    problems: Vec<Problem>,
}

impl Gathered {
    /// Add `inv`, read from `at` (a URL and entry, a store and node).
    pub(crate) fn add(&mut self, at: &str, inv: Inventory) {
        match plannable(&inv) {
            Ok(()) => self.inventories.push(inv),
            Err(why) => self.problem(at, why.to_string()),
        }
    }

    /// An entry of `at` that could not be read.
    pub(crate) fn problem(&mut self, at: &str, why: String) {
        self.problems.push(Problem::new(
            Location::path(at.to_owned()),
            ProblemKind::Malformed,
            why,
        ));
    }
}

impl PlanInput for Gathered {
    fn inventories(&self) -> &[Inventory] {
        &self.inventories
    }
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// A planning failure (bad arguments, impossible requests, an unreachable input); per-node
/// issues are warnings. Each names the option, series, site, server or store it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `--scope`: a part that is not `KEY=VALUE`.
    #[error("--scope: expected KEY=VALUE, found `{part}` (keys: site, cell, aggregate, az, tenant, node)")]
    ScopeSyntax {
        /// The part as given.
        part: String,
    },
    /// `--scope`: a key the planner does not know.
    #[error("--scope: unknown key `{key}` (keys: site, cell, aggregate, az, tenant, node)")]
    ScopeKey {
        /// The key as given.
        key: String,
    },
    /// No inventory at or before the planning date.
    #[error("no inventory collected on or before {as_of}")]
    NoInventory {
        /// `YYYY-MM-DD`.
        as_of: String,
    },
    /// The scope leaves no node; `sites` lists the sites known (empty: not listed).
    #[error("--scope {scope} matches no node{}", sites_note(.sites))]
    EmptyScope {
        /// The scope, described.
        scope: String,
        /// The sites of the inventories read.
        sites: Vec<String>,
    },
    /// An upgrade needs `--to` or `--policy`.
    #[error("give the target: --to SERIES, or --policy NAME|FILE to take it from the policy's series rules")]
    NoTarget,
    /// The release data has no maintained series at the planning date.
    #[error("no maintained series as of {as_of}")]
    NoMaintainedSeries {
        /// `YYYY-MM-DD`.
        as_of: String,
    },
    /// `--to` names a series whose coordinated services have not released yet.
    #[error("--to {to}: {series} ({status}) has no releases of its coordinated services (nova, neutron, keystone …) in openstack/releases yet, so there is no version to upgrade to; the newest series with releases is {newest}")]
    SeriesWithoutReleases {
        /// `--to` as given.
        to: String,
        /// The series' label.
        series: String,
        /// Its status in the release data.
        status: String,
        /// The newest series with releases (`none`).
        newest: String,
    },
    /// No SLURP-valid path (or an unknown series).
    #[error(transparent)]
    Path(#[from] path::PathError),
    /// `replicate --from`: a site no inventory belongs to.
    #[error("--from {site}: no node of that site{}", sites_note_paren(.sites))]
    UnknownSite {
        /// `--from` as given.
        site: String,
        /// The sites of the inventories read.
        sites: Vec<String>,
    },
    /// `replicate --to`: empty, or the source site.
    #[error("--to must name a new site, different from --from")]
    SameSite,
}

fn sites_note(sites: &[String]) -> String {
    if sites.is_empty() {
        String::new()
    } else {
        format!(" (sites: {})", sites.join(", "))
    }
}

fn sites_note_paren(sites: &[String]) -> String {
    format!(" (sites: {})", sites.join(", "))
}

/// What every plan needs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// openstack/releases.
    pub catalog: &'a OpenStackCatalog,
    /// Judge the release data as of this date; also the latest inventory date considered.
    pub as_of: Date,
    /// RFC 3339 time stamped on the plan.
    pub generated_at: &'a str,
}

/// Parse `site=par1,cell=cell1,aggregate=a,az=z,tenant=t,node=glob`.
pub fn parse_scope(s: &str) -> Result<Scope, PlanError> {
    let mut scope = Scope::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(PlanError::ScopeSyntax {
                part: part.to_owned(),
            });
        };
        let v = Some(v.trim().to_owned());
        match k.trim() {
            "site" => scope.site = v,
            "cell" => scope.cell = v,
            "aggregate" => scope.aggregate = v,
            "az" => scope.az = v,
            "tenant" => scope.tenant = v,
            "node" => scope.node = v,
            other => {
                return Err(PlanError::ScopeKey {
                    key: other.to_owned(),
                })
            }
        }
    }
    Ok(scope)
}

/// Whether a node is in the scope.
pub(crate) fn in_scope(scope: &Scope, n: &NodeView) -> bool {
    let eq =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    eq(&scope.site, Some(&n.site))
        && eq(&scope.cell, n.cell.as_deref())
        && eq(&scope.aggregate, n.aggregate.as_deref())
        && eq(&scope.az, n.az.as_deref())
        && eq(&scope.tenant, n.tenant.as_deref())
        && scope
            .node
            .as_deref()
            .is_none_or(|g| Glob::new(g).matches(&n.id))
}

/// The end of day `d` as an RFC 3339 prefix bound (`YYYY-MM-DDT23:59:59Z`).
pub(crate) fn end_of_day(d: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}T23:59:59Z",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}

/// `YYYY-MM-DD`.
pub(crate) fn ymd(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Per node, its inventories sorted by collection time (oldest first), keeping only those
/// collected at or before `until` (an RFC 3339 bound; times compare as UTC text).
pub(crate) fn history_by_node<'a>(
    invs: &'a [Inventory],
    until: Option<&str>,
) -> BTreeMap<String, Vec<&'a Inventory>> {
    let mut m: BTreeMap<String, Vec<&Inventory>> = BTreeMap::new();
    for inv in invs {
        if until.is_some_and(|u| inv.collected_at.as_str() > u) {
            continue;
        }
        m.entry(inv.node.id.clone()).or_default().push(inv);
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| a.collected_at.cmp(&b.collected_at));
        v.dedup_by(|a, b| a.collected_at == b.collected_at);
    }
    m
}

/// The latest inventory of every node, as of `until`, as node views sorted by (site, id).
pub(crate) fn current_nodes(
    invs: &[Inventory],
    until: Option<&str>,
    cat: &OpenStackCatalog,
) -> Vec<NodeView> {
    let mut v: Vec<NodeView> = history_by_node(invs, until)
        .values()
        .filter_map(|h| h.last())
        .map(|i| fleet::node_view(i, cat))
        .collect();
    v.sort_by(|a, b| (&a.site, &a.id).cmp(&(&b.site, &b.id)));
    v
}

/// Number steps, make ids unique, and derive the plan id from the content.
pub(crate) fn finish(mut plan: Plan) -> Plan {
    fn number(steps: &mut [Step], prefix: char) {
        let width = steps.len().to_string().len().max(2);
        for (i, s) in steps.iter_mut().enumerate() {
            s.order = u32::try_from(i + 1).unwrap_or(u32::MAX);
            s.id = format!("{prefix}{:0width$}-{}", i + 1, s.id);
        }
    }
    number(&mut plan.steps, 's');
    number(&mut plan.rollback, 'r');
    resolve_refs(&mut plan);
    for s in plan.steps.iter_mut().chain(plan.rollback.iter_mut()) {
        s.preconditions.dedup();
        s.post_steps.dedup();
    }
    plan.warnings.sort();
    plan.warnings.dedup();
    plan.id.clear();
    let stamp = std::mem::take(&mut plan.generated_at);
    let bytes = serde_json::to_vec(&plan).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    plan.id = format!(
        "plan-{}",
        digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    plan.generated_at = stamp;
    plan
}

/// Resolve symbolic step references (`@<base id>`) in preconditions, post-steps, limits and
/// warnings to the numbered ids.
fn resolve_refs(plan: &mut Plan) {
    let mut ids: Vec<(String, String)> = plan
        .steps
        .iter()
        .chain(plan.rollback.iter())
        .filter_map(|s| {
            s.id.split_once('-')
                .map(|(_, tail)| (format!("@{tail}"), s.id.clone()))
        })
        .collect();
    // Longest first, so `@a-b` is not rewritten as `@a` + `-b`.
    ids.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    let fix = |t: &mut String| {
        if t.contains('@') {
            for (k, v) in &ids {
                if t.contains(k.as_str()) {
                    *t = t.replace(k.as_str(), v);
                }
            }
        }
    };
    for s in plan.steps.iter_mut().chain(plan.rollback.iter_mut()) {
        s.preconditions.iter_mut().for_each(fix);
        s.post_steps.iter_mut().for_each(fix);
        s.blocked_by.iter_mut().for_each(fix);
    }
    plan.warnings.iter_mut().for_each(fix);
    for l in &mut plan.limits {
        fix(&mut l.message);
        for st in &mut l.steps {
            if let Some((_, v)) = ids.iter().find(|(k, _)| k[1..] == **st) {
                *st = v.clone();
            }
        }
    }
}
