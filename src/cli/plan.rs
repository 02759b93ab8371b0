//! `nminus plan upgrade|rollback|replicate`: inventories (and their history) → an ordered,
//! explained plan, rendered for a deployer. nminus never executes a plan.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::discover::apidata::ApiData;
use crate::discover::plan_view::plan_view;
use crate::discover::Discovery;
use crate::model::controlplane::PlanControlPlane;
use crate::plan::render::{render, PlanFormat, RenderedFile};
use crate::plan::replicate::{plan_replicate, Footprint, ReplicateOptions};
use crate::plan::rollback::{plan_rollback, RollbackOptions, RollbackTarget};
use crate::plan::upgrade::{plan_upgrade, UpgradeOptions};
use crate::plan::{end_of_day, parse_scope, Context, FileInput, PlanInput};
use crate::releases::openstack::OpenStackCatalog;
use crate::sources::feeds::FeedsConfig;

mod input;

use input::History;

pub(super) const PLAN_HELP: &str = "\
How plans are made:
  * Inputs are inventories (`nminus collect` output): files or directories, read recursively
    (--inventories), or what the central analyzer stored from its agents: --server URL (the
    `nminus serve` API; --token or NMINUS_API_TOKEN when it requires one) or --db URL (its
    database, read directly). Several inventories of the same node at different times are its
    history: the newest one (collected on or before --as-of) is the current state, older ones
    are what a rollback goes back to. Nodes are placed by their site, cell and labels
    (aggregate=, az=, tenant=, role=, canary=true).
  * Series come from openstack/releases (--data or --releases); n, SLURP flags and statuses
    are never hard-coded. pbr dev builds (31.0.1.dev12) count as the release below them.
  * Every step says why it is where it is (the upgrade-order DAG edge), what must hold before
    it, what to do after it, and what undoing it takes: code-only, needs-db-restore or
    irreversible. docs/planner.md explains the DAG, the SLURP rules and the rollback limits.
  * With a control plane (--discovery FILE, or the newest round stored by --server / --db),
    each upgrade step that moves an API lists its catalog endpoints, the microversion or
    version id expected after it and the PromQL to check before going on; replicate lists the
    catalog entries the new site needs (docs/operations.md: gating an upgrade).

Formats: json (the plan; schema reports/schema/plan-v1.json), markdown (change ticket),
ansible (generic playbook: apt/dnf pins and holds), kolla (globals, group_vars/host_vars image
tags, command sequence), osa (install-branch SHA pins, command sequence). kolla and osa write a
directory (-o DIR); without -o every file is printed with a `# ==> path <==` header.

Exit codes: 0 plan written; 2 bad arguments or release data, an unreachable server, or some
inventory could not be read (the plan is still written, the unreadable ones are printed as
warnings).";

/// `nminus plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Upgrade a scope to a series (--to) or into policy (--policy), along a SLURP-valid path.
    ///
    /// Per site: the series path (N → N+1 always; SLURP → next SLURP; never an unsupported
    /// jump), then per hop: checks, database backup, staged code, the infrastructure (RabbitMQ
    /// through its allowed intermediate versions), keystone, glance, placement before nova,
    /// conductors before API, neutron server before agents, cinder, heat, octavia, horizon,
    /// then computes in batches per cell / aggregate / AZ with a canary batch first, then the
    /// steps that close the rollback window (contract, online data migrations, SIGHUP).
    #[command(after_help = "Examples:
  nminus plan upgrade --inventories fleet/ --data /var/lib/nminus/data --scope site=par1 --to 2025.1
  nminus plan upgrade --inventories fleet/ --policy default --format kolla -o plan-kolla/
  nminus plan upgrade --server http://nminus:8080 --scope site=par1 --to 2025.1
  nminus plan upgrade --inventories fleet/ --scope site=par1 --to 2025.1 \\
      --hold-back aggregate=agg-acme-hold --canary 2 --format markdown -o plan.md")]
    Upgrade(UpgradeArgs),
    /// Roll a scope back to earlier versions from its inventory history, within the limits.
    ///
    /// No database downgrade (a control-plane series rollback restores the backup); nova-compute
    /// cannot register older once every compute is newer; no live migration onto an older
    /// hypervisor. For a tenant (--scope tenant=T) the fallback is its held-back aggregate plus
    /// cold migration; the shared control plane stays.
    #[command(after_help = "Examples:
  nminus plan rollback --inventories history/ --scope tenant=acme
  nminus plan rollback --server http://nminus:8080 --scope tenant=acme
  nminus plan rollback --inventories history/ --scope site=par1,aggregate=agg-acme --to 2026-05-01
  nminus plan rollback --inventories history/ --scope node=cmp-a1 --to before/cmp-a1.json --format ansible")]
    Rollback(RollbackArgs),
    /// Turn a site's running versions into a pinned bill of materials for a new site.
    ///
    /// Every service (version and release commit), image (tag and digest) and OS package
    /// (exact version), as deploy steps for a new site with fewer hosts (--footprint small),
    /// sharing the source's keystone as a new region.
    #[command(after_help = "Examples:
  nminus plan replicate --inventories fleet/ --from par1 --to ber1 --footprint small --format kolla -o ber1/
  nminus plan replicate --server http://nminus:8080 --from par1 --to ber1 --format markdown
  nminus plan replicate --inventories fleet/ --from lon1 --to dub1 --format markdown")]
    Replicate(ReplicateArgs),
}

/// Arguments every plan takes.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("input")
        .required(true)
        .args(["inventories", "server", "db"])
))]
pub(super) struct CommonArgs {
    /// Inventory files or directories (read recursively); history = several inventories of
    /// the same node.
    #[arg(
        long,
        short = 'i',
        value_name = "DIR|FILE",
        num_args = 1..
    )]
    pub(super) inventories: Vec<PathBuf>,
    /// Read the inventories and their history from the central analyzer (`nminus serve`) at
    /// this base URL, as its agents pushed them.
    #[arg(long, value_name = "URL")]
    pub(super) server: Option<String>,
    /// Read them straight from the analyzer's database (`sqlite://PATH` or `postgres://…`).
    #[arg(long, value_name = "URL")]
    pub(super) db: Option<String>,
    /// The server's API token, when it requires one (--server).
    #[arg(long, env = "NMINUS_API_TOKEN", hide_env_values = true)]
    pub(super) token: Option<String>,
    /// Trust only this CA (PEM) for the server's certificate (--server with a private CA).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(super) ca_file: Option<PathBuf>,
    /// The data directory holding the synced feeds (openstack-releases).
    #[arg(long, env = "NMINUS_DATA", default_value = "/var/lib/nminus/data")]
    pub(super) data: PathBuf,
    /// An openstack/releases checkout, instead of the one in --data.
    #[arg(long, value_name = "DIR")]
    pub(super) releases: Option<PathBuf>,
    /// Judge release data and pick inventories as of this date (`YYYY-MM-DD`). Default: today.
    #[arg(long, value_name = "DATE")]
    pub(super) as_of: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub(super) format: PlanFormat,
    /// Write to this file (json, markdown, ansible) or directory (any format; kolla and osa
    /// write several files) instead of stdout.
    #[arg(short, long, value_name = "FILE|DIR")]
    pub(super) output: Option<PathBuf>,
}

/// Where a plan reads the control plane its steps are checked against.
#[derive(Debug, Args)]
pub(super) struct ControlPlaneArgs {
    /// A discovery (`nminus discover --format json` output): each step that moves an API
    /// names its endpoints, the version expected after it and the PromQL to check. With
    /// --server or --db the newest stored control-plane round is read unless this is given.
    #[arg(long, value_name = "FILE")]
    discovery: Option<PathBuf>,
    /// The openstack-api folder (per-series maximum versions), when not `<data>/openstack-api`.
    #[arg(long, value_name = "DIR")]
    api_data: Option<PathBuf>,
}

/// `nminus plan upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    control: ControlPlaneArgs,
    /// Which nodes: `site=..,cell=..,aggregate=..,az=..,tenant=..,node=GLOB` (all must match).
    #[arg(long, default_value = "")]
    scope: String,
    /// Target series (`2025.1` or `epoxy`); the path to it never skips unsupported releases.
    #[arg(long, value_name = "SERIES", conflicts_with = "policy")]
    to: Option<String>,
    /// Take the target from a policy's series rules (a shipped name or a YAML file): the
    /// oldest series the policy accepts, or the latest point releases when already in policy.
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// Computes in the canary batch (nodes labelled canary=true take precedence; 0: none).
    #[arg(long, default_value_t = 1)]
    canary: usize,
    /// Computes per later batch (0: one batch per cell / aggregate / AZ group).
    #[arg(long, default_value_t = 0)]
    batch_size: usize,
    /// Hold these computes one hop behind for a tenant fallback (`aggregate=agg-acme-hold`,
    /// `tenant=acme`); repeatable. The rollback list then plans the cold migration onto them.
    #[arg(long, value_name = "SELECTOR")]
    hold_back: Vec<String>,
    /// Never skip a release, even SLURP → SLURP.
    #[arg(long)]
    adjacent_only: bool,
}

/// `nminus plan rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Which nodes: `site=..,cell=..,aggregate=..,az=..,tenant=..,node=GLOB`.
    #[arg(long, required = true)]
    scope: String,
    /// Back to: a date (`YYYY-MM-DD`: each node's latest inventory by then), or inventory
    /// files/directories. Default: each node's last state with other versions.
    #[arg(long, value_name = "DATE|INVENTORY")]
    to: Option<String>,
}

/// `nminus plan replicate`.
#[derive(Debug, Args)]
pub struct ReplicateArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    control: ControlPlaneArgs,
    /// The site to copy.
    #[arg(long, value_name = "SITE")]
    from: String,
    /// The new site.
    #[arg(long = "to", value_name = "SITE")]
    to_site: String,
    /// Hosts of the new site: small (one per role, two computes) or same.
    #[arg(long, value_enum, default_value = "small")]
    footprint: Footprint,
    /// Deploy a keystone (and horizon) in the new site instead of sharing the source's.
    #[arg(long)]
    own_keystone: bool,
}

pub(super) fn run(c: PlanCommand) -> anyhow::Result<u8> {
    match c {
        PlanCommand::Upgrade(a) => {
            let (cat, input, as_of, now) = load(&a.common, History::Latest)?;
            let ctx = Context {
                catalog: &cat,
                as_of,
                generated_at: &now,
            };
            let policy = match &a.policy {
                Some(p) => Some(
                    crate::policy::load(p).map_err(|e| anyhow::anyhow!("invalid policy:\n{e}"))?,
                ),
                None => None,
            };
            let hold_back = a
                .hold_back
                .iter()
                .map(|h| parse_scope(h))
                .collect::<Result<Vec<_>, _>>()?;
            let opts = UpgradeOptions {
                scope: parse_scope(&a.scope)?,
                to: a.to.clone(),
                policy,
                canary: a.canary,
                batch_size: a.batch_size,
                hold_back,
                adjacent_only: a.adjacent_only,
                control_plane: control_plane(&a.common, &a.control)?,
            };
            let mut plan = plan_upgrade(input.as_ref(), &ctx, &opts)?;
            plan.inputs.releases = Some(cat.root().display().to_string());
            emit(&plan, &a.common, input.as_ref())
        }
        PlanCommand::Rollback(a) => {
            let (cat, input, as_of, now) = load(&a.common, History::All)?;
            let ctx = Context {
                catalog: &cat,
                as_of,
                generated_at: &now,
            };
            let to = match &a.to {
                None => RollbackTarget::Previous,
                Some(t) => match parse_date(t) {
                    Ok(d) if !Path::new(t).exists() => RollbackTarget::Date(d),
                    _ => {
                        let fi = FileInput::load(&[PathBuf::from(t)]);
                        if let Some(p) = fi.problems().first() {
                            anyhow::bail!("--to {t}: neither a date (YYYY-MM-DD) nor readable inventories: {p}");
                        }
                        RollbackTarget::Inventories(fi.inventories().to_vec())
                    }
                },
            };
            let opts = RollbackOptions {
                scope: parse_scope(&a.scope)?,
                to,
            };
            let mut plan = plan_rollback(input.as_ref(), &ctx, &opts)?;
            plan.inputs.releases = Some(cat.root().display().to_string());
            emit(&plan, &a.common, input.as_ref())
        }
        PlanCommand::Replicate(a) => {
            let (cat, input, as_of, now) = load(&a.common, History::Latest)?;
            let ctx = Context {
                catalog: &cat,
                as_of,
                generated_at: &now,
            };
            let opts = ReplicateOptions {
                from: a.from.clone(),
                to: a.to_site.clone(),
                footprint: a.footprint,
                own_keystone: a.own_keystone,
                control_plane: control_plane(&a.common, &a.control)?,
            };
            let mut plan = plan_replicate(input.as_ref(), &ctx, &opts)?;
            plan.inputs.releases = Some(cat.root().display().to_string());
            emit(&plan, &a.common, input.as_ref())
        }
    }
}

/// A discovery read back, at most this large.
const MAX_DISCOVERY: u64 = 64 << 20;

/// The control plane the plan's steps are checked against: `--discovery FILE`, else the newest
/// round stored by the server or in the database; `None` when there is none (the plan says so).
fn control_plane(a: &CommonArgs, c: &ControlPlaneArgs) -> anyhow::Result<Option<PlanControlPlane>> {
    let (body, source) = if let Some(f) = &c.discovery {
        let file = fs_err::File::open(f).with_context(|| format!("--discovery {}", f.display()))?;
        (
            read_bounded(file, &f.display().to_string())?,
            f.display().to_string(),
        )
    } else if let Some(server) = &a.server {
        match fetch_control_plane(server, a.token.as_deref(), a.ca_file.as_deref())? {
            Some(b) => (b, format!("the server at {server}")),
            None => return Ok(None),
        }
    } else if let Some(db) = &a.db {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let round = rt.block_on(async {
            let store = crate::store::open_existing(db).await?;
            anyhow::Ok(store.control_plane_round(None, None).await?)
        })?;
        match round {
            Some((id, body)) => (
                serde_json::to_vec(&body)?,
                format!(
                    "round {} of the database {}",
                    id.id,
                    crate::store::redact(db)
                ),
            ),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let d: Discovery = serde_path_to_error::deserialize(de).map_err(|e| {
        anyhow::anyhow!(
            "{source}: not a discovery (nminus discover --format json): {} at `{}`",
            e.inner(),
            e.path()
        )
    })?;
    if d.schema != crate::discover::SCHEMA {
        anyhow::bail!(
            "{source}: schema `{}`, expected `{}`",
            d.schema,
            crate::discover::SCHEMA
        );
    }
    if let Some(e) = &d.keystone.error {
        eprintln!(
            "warning: {source}: the discovery of cloud `{}` at {} failed ({}): the plan's steps are not verified",
            d.cloud, d.discovered_at, e.message
        );
        return Ok(None);
    }
    let api_dir = c
        .api_data
        .clone()
        .unwrap_or_else(|| a.data.join("openstack-api"));
    let data = ApiData::load(&api_dir, &releases_dir(a)?.join("data/series_status.yaml"))
        .context("loading the OpenStack API data (--api-data)")?;
    Ok(Some(plan_view(&d, &data, source)))
}

/// At most [`MAX_DISCOVERY`] bytes of `r`, else an error naming `what`.
fn read_bounded(r: impl std::io::Read, what: &str) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut body = Vec::new();
    r.take(MAX_DISCOVERY + 1)
        .read_to_end(&mut body)
        .with_context(|| format!("reading {what}"))?;
    if body.len() as u64 > MAX_DISCOVERY {
        anyhow::bail!("{what}: larger than {} MiB", MAX_DISCOVERY >> 20);
    }
    Ok(body)
}

/// `GET /v1/controlplane`: the newest stored round, `None` when the server has none.
fn fetch_control_plane(
    server: &str,
    token: Option<&str>,
    ca_file: Option<&Path>,
) -> anyhow::Result<Option<Vec<u8>>> {
    use crate::client::{ApiClient, ClientOptions, Credential};
    let opts = ClientOptions::new(std::time::Duration::from_secs(60)).ca_file(ca_file);
    let client = ApiClient::new(server, token, Credential::ApiToken, &opts)?;
    match client.get_json::<serde_json::Value>("/v1/controlplane", &[], MAX_DISCOVERY) {
        Ok(v) => Ok(Some(serde_json::to_vec(&v)?)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn parse_date(s: &str) -> anyhow::Result<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .with_context(|| format!("expected YYYY-MM-DD, found `{s}`"))
}

fn releases_dir(a: &CommonArgs) -> anyhow::Result<PathBuf> {
    if let Some(r) = &a.releases {
        return Ok(r.clone());
    }
    if let Some(p) = FeedsConfig::builtin().folder_of_kind(&a.data, "openstack-releases") {
        return Ok(p);
    }
    if a.data.join("data/series_status.yaml").exists() {
        return Ok(a.data.clone());
    }
    anyhow::bail!(
        "no openstack/releases data under {}: sync it (`nminus sync --feed openstack-releases`) or give --releases DIR",
        a.data.display()
    )
}

/// What `load` returns: the release catalog, the inventories, the plan date and now.
type Loaded = (OpenStackCatalog, Box<dyn PlanInput>, time::Date, String);

fn load(a: &CommonArgs, history: History) -> anyhow::Result<Loaded> {
    let now = super::collect::now_rfc3339();
    let as_of = match &a.as_of {
        Some(d) => parse_date(d).context("--as-of")?,
        None => parse_date(&now.chars().take(10).collect::<String>())?,
    };
    let dir = releases_dir(a)?;
    let (cat, _problems) = OpenStackCatalog::load(&dir)
        .with_context(|| format!("loading openstack/releases from {}", dir.display()))?;
    let until = end_of_day(as_of);
    let (input, from): (Box<dyn PlanInput>, String) = match (&a.server, &a.db) {
        (Some(server), _) => (
            Box::new(input::from_server(
                server,
                a.token.as_deref(),
                a.ca_file.as_deref(),
                &until,
                history,
                std::time::Duration::from_secs(300),
            )?),
            format!(
                "the server at {server} (collected on or before {})",
                crate::plan::ymd(as_of)
            ),
        ),
        (None, Some(db)) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let input = rt.block_on(async {
                let store = crate::store::open_existing(db).await?;
                anyhow::Ok(input::from_store(store.as_ref(), &until, history).await?)
            })?;
            (
                Box::new(input),
                format!(
                    "the database {} (collected on or before {})",
                    crate::store::redact(db),
                    crate::plan::ymd(as_of)
                ),
            )
        }
        (None, None) => (
            Box::new(FileInput::load(&a.inventories)),
            format!("{:?}", a.inventories),
        ),
    };
    if input.inventories().is_empty() {
        let why = input
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  ");
        anyhow::bail!(
            "no inventory could be read from {from}{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(":\n  {why}")
            }
        );
    }
    Ok((cat, input, as_of, now))
}

fn emit(plan: &crate::model::Plan, a: &CommonArgs, input: &dyn PlanInput) -> anyhow::Result<u8> {
    let files = render(plan, a.format);
    write_files(&files, a.format, a.output.as_deref())?;
    for p in input.problems() {
        eprintln!("warning: {}", super::terminal_line(&p.to_string()));
    }
    Ok(if input.problems().is_empty() {
        super::EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}

fn write_files(
    files: &[RenderedFile],
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    use std::io::Write;
    match out {
        None => {
            let mut so = std::io::stdout().lock();
            for f in files {
                if files.len() > 1 {
                    writeln!(so, "# ==> {} <==", super::terminal_text(&f.path))?;
                }
                so.write_all(super::terminal_text(&f.content).as_bytes())?;
            }
            so.flush()?;
        }
        Some(p)
            if format.single_file()
                && files.len() == 1
                && !(p.is_dir() || p.to_string_lossy().ends_with('/')) =>
        {
            if let Some(parent) = p.parent().filter(|x| !x.as_os_str().is_empty()) {
                fs_err::create_dir_all(parent)?;
            }
            crate::util::write_atomic(p, files[0].content.as_bytes())?;
        }
        Some(dir) => {
            for f in files {
                // Renderers name files after sites, hops and hosts (slugged); a path that
                // could still leave the output directory is refused, never written.
                let rel = Path::new(&f.path);
                if !rel
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
                {
                    anyhow::bail!(
                        "refusing to write `{}`: not a plain path inside {}",
                        f.path,
                        dir.display()
                    );
                }
                let path = dir.join(rel);
                if let Some(parent) = path.parent() {
                    fs_err::create_dir_all(parent)?;
                }
                crate::util::write_atomic(&path, f.content.as_bytes())?;
                if f.path.ends_with(".sh") {
                    use std::os::unix::fs::PermissionsExt;
                    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
                }
            }
        }
    }
    Ok(())
}
