//! `nminus collect`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::collect::{self, lockfile::LockfileCollector, CollectOptions, Collector, Root};
use crate::model::{Inventory, NodeInfo};

/// Output format of `collect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CollectFormat {
    /// The inventory, as JSON (schema `reports/schema/inventory-v1.json`).
    Json,
    /// A summary table for people.
    Table,
}

/// Arguments of `nminus collect`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nminus collect -o /var/lib/nminus/inventory.json\n  nminus collect --root /mnt/image --node-id ctl1 --site par1 --cell cell1 --label role=control\n  nminus collect --root /mnt/image --lockfile /srv/app/Cargo.lock --format table"
)]
pub struct CollectArgs {
    /// The filesystem root to inventory (a live node's `/`, a mounted image, an unpacked tree).
    /// Default `/`; with --image and no --root, only the images are inventoried.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// A container image to inventory: an OCI image layout (directory or tar) or a `docker save`
    /// archive (tar, tar.gz). Repeatable. Its packages get locations `image:<tag>:<path>`.
    #[arg(long = "image", value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// A Docker Engine or Podman API socket (`/var/run/docker.sock`, `/run/podman/podman.sock`):
    /// inventory the images of its running containers. Repeatable.
    #[arg(long = "runtime", value_name = "SOCKET")]
    pub runtimes: Vec<String>,
    /// With --runtime: stopped containers' images too.
    #[arg(long)]
    pub all_containers: bool,
    /// openstack/releases data (its root), to map kolla images' services to a series exactly.
    #[arg(long, value_name = "DIR")]
    pub openstack_releases: Option<PathBuf>,
    /// Node id recorded in the inventory (default: the root's /etc/hostname).
    #[arg(long)]
    pub node_id: Option<String>,
    /// Site (region / data centre) of the node.
    #[arg(long)]
    pub site: Option<String>,
    /// Nova cell of the node.
    #[arg(long)]
    pub cell: Option<String>,
    /// A label `key=value` (repeatable): role, aggregate, az, tenant…
    #[arg(long = "label", value_parser = crate::util::parse_label)]
    pub labels: Vec<(String, String)>,
    /// Extra lockfiles to read (Cargo.lock, requirements.txt, poetry.lock, uv.lock,
    /// Pipfile.lock, pylock.toml), as host paths. Repeatable.
    #[arg(long = "lockfile")]
    pub lockfiles: Vec<PathBuf>,
    /// Write to this file instead of stdout (written atomically).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CollectFormat::Json)]
    pub format: CollectFormat,
    /// Exit 0 even when some files could not be read (they are still listed as problems).
    #[arg(long)]
    pub problems_ok: bool,
}

pub(super) fn run(a: &CollectArgs) -> anyhow::Result<u8> {
    let root_path = match &a.root {
        Some(r) => Some(r.clone()),
        None if a.images.is_empty() => Some(PathBuf::from("/")),
        None => None,
    };
    let root = match &root_path {
        Some(r) if !r.is_dir() => anyhow::bail!("root `{}` is not a directory", r.display()),
        Some(r) => Root::new(r),
        None => Root::mem(std::sync::Arc::new(collect::image::memfs::MemFs::new()), ""),
    };
    let opts = CollectOptions {
        node: NodeInfo {
            id: a.node_id.clone().unwrap_or_default(),
            hostname: None,
            site: a.site.clone(),
            cell: a.cell.clone(),
            labels: a.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        },
        collected_at: now_rfc3339(),
    };
    // A lockfile named on the command line is the operator's input, not a node's file:
    // missing, it is an error even with --problems-ok.
    if let Some(l) = a.lockfiles.iter().find(|l| !l.is_file()) {
        anyhow::bail!("--lockfile `{}` is not a readable file", l.display());
    }
    let mut collectors: Vec<Box<dyn Collector>> = collect::all();
    if !a.lockfiles.is_empty() {
        for c in &mut collectors {
            if c.name() == "lockfile" {
                *c = Box::new(LockfileCollector::with_targets(a.lockfiles.clone()));
            }
        }
    }
    let started = Instant::now();
    let mut inv = collect::collect_with(&root, &opts, &collectors);
    images(a, &mut inv)?;
    inv.quarantine_unsafe();
    // What is left is the node's identity (flags or /etc/hostname): a name the server, the
    // planner and the deployers could not use safely is an error here, not later.
    if let Some((field, why)) = inv.unsafe_fields().into_iter().next() {
        let hint = if field == "node.id" && a.node_id.is_none() {
            " (taken from the root's /etc/hostname: give --node-id)"
        } else {
            ""
        };
        anyhow::bail!("{field}: {why}{hint}");
    }
    let elapsed = started.elapsed();
    // Streamed to the output: the inventory is never held twice (as values and as text).
    let render = |w: &mut dyn Write| -> anyhow::Result<()> {
        match a.format {
            CollectFormat::Json => {
                serde_json::to_writer_pretty(&mut *w, &inv)?;
                w.write_all(b"\n")?;
            }
            CollectFormat::Table => w.write_all(super::terminal_text(&table(&inv)).as_bytes())?,
        }
        Ok(())
    };
    match &a.output {
        Some(path) => crate::util::Atomic::default().write_with(path, render)?,
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            render(&mut out)?;
            out.flush()?;
        }
    }
    eprintln!(
        "collected {} packages, {} OpenStack deliverables, {} images, {} problems from {} in {} ms",
        inv.packages.len(),
        inv.services.len(),
        inv.images.len(),
        inv.problems.len(),
        super::terminal_line(&root_path.as_ref().map_or_else(
            || format!("{} image(s)", a.images.len()),
            |r| r.display().to_string()
        )),
        elapsed.as_millis()
    );
    // A node's file names and contents end up in problems: never raw on the terminal.
    for p in inv.problems.iter().take(20) {
        eprintln!("problem: {}", super::terminal_line(&p.to_string()));
    }
    if inv.problems.len() > 20 {
        eprintln!(
            "… and {} more problems (see the inventory's `problems`)",
            inv.problems.len() - 20
        );
    }
    Ok(if inv.problems.is_empty() || a.problems_ok {
        super::EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}

/// `--image` and `--runtime`: add images to the inventory; a source that cannot be read at all
/// is a problem, not a failure of the run.
fn images(a: &CollectArgs, inv: &mut Inventory) -> anyhow::Result<()> {
    use collect::image::{self, ImageOptions};
    if a.images.is_empty() && a.runtimes.is_empty() {
        return Ok(());
    }
    let catalog = match &a.openstack_releases {
        Some(dir) => Some(
            crate::releases::openstack::OpenStackCatalog::load(dir)
                .with_context(|| format!("loading {}", dir.display()))?
                .0,
        ),
        None => None,
    };
    let opts = ImageOptions::default();
    let mut found = Vec::new();
    for path in &a.images {
        match image::collect_path(path, &opts) {
            Ok(v) => found.extend(v),
            Err(e) => inv
                .problems
                .push(image::error_problem(&path.display().to_string(), &e)),
        }
    }
    for socket in &a.runtimes {
        match image::runtime::collect_runtime(socket, a.all_containers, &opts) {
            Ok(v) => found.extend(v),
            Err(e) => inv.problems.push(image::error_problem(socket, &e)),
        }
    }
    // The collector records a kolla image's facts; its series is judged against the catalog.
    if let Some(cat) = &catalog {
        for k in found.iter_mut().filter_map(|i| i.image.kolla.as_mut()) {
            crate::fleet::check_kolla(k, cat);
        }
    }
    image::add_to_inventory(inv, found);
    Ok(())
}

fn table(inv: &Inventory) -> String {
    let mut s = String::new();
    let os = inv.os.as_ref().map_or("unknown".to_owned(), |o| {
        o.pretty_name
            .clone()
            .unwrap_or_else(|| format!("{} {}", o.id, o.version_id.clone().unwrap_or_default()))
    });
    s.push_str(&format!(
        "node {}  os {}  packages {}\n",
        inv.node.id,
        os,
        inv.packages.len()
    ));
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &inv.packages {
        *by.entry(p.ecosystem.as_str()).or_default() += 1;
    }
    for (e, n) in by {
        s.push_str(&format!("  {e:<8} {n}\n"));
    }
    for i in &inv.images {
        s.push_str(&format!(
            "  image {}  {}  packages {}{}\n",
            i.reference,
            i.os.as_ref()
                .and_then(|o| o.pretty_name.clone())
                .unwrap_or_default(),
            i.packages,
            i.kolla
                .as_ref()
                .and_then(|k| k.tag_series.as_deref())
                .map(|t| format!("  kolla {t}"))
                .unwrap_or_default()
        ));
    }
    if !inv.services.is_empty() {
        s.push_str("\nOpenStack deliverables\n");
        let w = inv
            .services
            .iter()
            .map(|x| x.deliverable.len())
            .max()
            .unwrap_or(0);
        for x in &inv.services {
            s.push_str(&format!(
                "  {:<w$}  {:<14} {:<14} {}\n",
                x.deliverable, x.version, x.kind, x.install
            ));
        }
    }
    if !inv.problems.is_empty() {
        s.push_str(&format!("\n{} problems\n", inv.problems.len()));
        for p in &inv.problems {
            s.push_str(&format!("  {p}\n"));
        }
    }
    s
}

/// Now, as RFC 3339 UTC seconds. `NMINUS_NOW` overrides it (reproducible tests and goldens).
pub(crate) fn now_rfc3339() -> String {
    if let Ok(s) = std::env::var("NMINUS_NOW") {
        return s;
    }
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}
