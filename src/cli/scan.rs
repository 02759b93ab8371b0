//! `nminus scan`: collect → match advisories → report, in one process.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::analyze::{build_report, match_inventory, AdvisoryIndex, Gate, GateTerm, ReportInput};
use crate::collect::{self, lockfile::LockfileCollector, CollectOptions, Collector, Root};
use crate::model::{Inventory, NodeInfo};
use crate::report::{Format, WriterOptions};
use crate::sources::feeds::{load_all, FeedsConfig};

/// Arguments of `nminus scan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Targets: a directory is inventoried as a node's root (`/` by default: this machine); a file is read as a lockfile (Cargo.lock, requirements.txt, poetry.lock, uv.lock, Pipfile.lock, pylock.toml, pdm.lock).

Exit codes: 0 nothing at or above the gate; 1 findings at or above the gate; 2 could not complete (no advisory feed, unreadable target or files: the report is still written first).

Examples:
  nminus scan --data /var/lib/nminus/data                   # this machine
  nminus scan --data ../shared/data --format json -o r.json Cargo.lock
  nminus scan --data DIR --fail-on high /mnt/node-root      # CI gate on high and critical"
)]
pub struct ScanArgs {
    /// Roots (directories) or lockfiles to scan; default `/`.
    pub targets: Vec<PathBuf>,
    /// The data directory holding the synced feeds (`nminus sync`).
    #[arg(long, env = "NMINUS_DATA", default_value = "/var/lib/nminus/data")]
    pub data: PathBuf,
    /// Feed definitions (default: the shipped `advisories/sources.yaml`).
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// Only these feeds (repeatable).
    #[arg(long = "feed")]
    pub feeds: Vec<String>,
    /// Operator-written OSV advisories, always loaded (default: `advisories/local` beside the
    /// data directory's parent, when it exists).
    #[arg(long)]
    pub local_advisories: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to this file (atomically) instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Gate: a severity (findings at or above it fail) or a finding code; repeatable.
    /// Default `unknown`: every vulnerability fails, informational notices do not.
    #[arg(long = "fail-on", value_name = "SEVERITY|CODE")]
    pub fail_on: Vec<GateTerm>,
    /// Node id for a single root target (default: its /etc/hostname).
    #[arg(long)]
    pub node_id: Option<String>,
    /// Site of the scanned node.
    #[arg(long)]
    pub site: Option<String>,
    /// Cell of the scanned node.
    #[arg(long)]
    pub cell: Option<String>,
    /// Judge as of this date (`YYYY-MM-DD`; audits and reproducible tests). Default: today.
    #[arg(long)]
    pub as_of: Option<String>,
}

pub(super) fn run(a: &ScanArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let today = super::collect::now_rfc3339();
    let as_of = a
        .as_of
        .clone()
        .unwrap_or_else(|| today.chars().take(10).collect());
    let as_of_date = time::Date::parse(
        &as_of,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .with_context(|| format!("--as-of: expected YYYY-MM-DD, found `{as_of}`"))?;
    let cfg = match &a.sources {
        Some(p) => FeedsConfig::load(p)?,
        None => FeedsConfig::builtin(),
    }
    .select(&a.feeds)?;

    // Collect every target.
    let targets = if a.targets.is_empty() {
        vec![PathBuf::from("/")]
    } else {
        a.targets.clone()
    };
    let mut inventories: Vec<Inventory> = Vec::new();
    let mut setup_problems = Vec::new();
    for t in &targets {
        match inventory_of(t, a, &today) {
            Ok(inv) => inventories.push(inv),
            Err(e) => setup_problems.push(crate::model::Problem::new(
                crate::model::Location::path(t.display().to_string()),
                crate::model::ProblemKind::Unreadable,
                format!("{e:#}"),
            )),
        }
    }
    let collected = started.elapsed();

    // Load feeds.
    let mut not_judged = Vec::new();
    let local = a.local_advisories.clone().or_else(|| {
        let p = PathBuf::from("advisories/local");
        p.is_dir().then_some(p)
    });
    let loaded = if a.data.is_dir() {
        load_all(&cfg, &a.data, local.as_deref(), Some(as_of_date))
    } else {
        Default::default()
    };
    let feeds_loaded = loaded
        .status
        .iter()
        .filter(|f| f.loaded && f.name != "local")
        .count();
    if feeds_loaded == 0 {
        not_judged.push(format!(
            "no advisory feed could be loaded from `{}`: vulnerabilities were not judged. Run `nminus sync --data {}` (or `--from MIRROR` when offline), or point --data at a synced directory",
            a.data.display(),
            a.data.display()
        ));
    }
    for f in &loaded.status {
        if !f.loaded {
            eprintln!(
                "warning: feed `{}` not loaded: {}",
                f.name,
                f.note.as_deref().unwrap_or("")
            );
        } else if let Some(n) = f.note.as_deref().filter(|n| n.contains("more than")) {
            eprintln!("warning: feed `{}`: {n}", f.name);
        }
    }
    let feed_problems = loaded.problems.len();
    let idx = AdvisoryIndex::build(loaded.advisories);
    let loaded_at = started.elapsed();

    // Judge.
    let gate = Gate(if a.fail_on.is_empty() {
        vec![GateTerm::Severity(crate::model::Severity::Unknown)]
    } else {
        a.fail_on.clone()
    });
    let judged: Vec<_> = inventories
        .iter()
        .map(|inv| (inv, match_inventory(inv, &idx)))
        .collect();
    // Skipped items (an unpinned requirement, a size limit) are reported but do not make the
    // scan incomplete; unreadable and malformed files do.
    let node_problems: usize = inventories
        .iter()
        .flat_map(|i| &i.problems)
        .filter(|p| p.kind != crate::model::ProblemKind::Skipped)
        .count()
        + setup_problems.len();
    let problems = setup_problems;
    let report = build_report(ReportInput {
        nodes: judged,
        feeds: loaded.status,
        problems,
        feed_problems: loaded.problems,
        gate: &gate,
        generated_at: today,
        as_of,
        not_judged,
    });

    let color = a.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let writer = a.format.writer(WriterOptions { color, width });
    let mut buf = Vec::new();
    writer.write(&report, &mut buf)?;
    match &a.output {
        Some(p) => super::collect::write_atomic(p, &buf)?,
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    eprintln!(
        "scanned {} target(s), {} packages against {} advisories in {} ms (collect {} ms, feeds {} ms); {} findings, {} node problems, {} feed problems",
        report.summary.nodes,
        report.summary.packages,
        idx.len(),
        started.elapsed().as_millis(),
        collected.as_millis(),
        (loaded_at - collected).as_millis(),
        report.summary.findings,
        node_problems,
        feed_problems
    );
    let failed = report.findings.iter().any(|f| gate.fails(f));
    Ok(if node_problems > 0 || !report.not_judged.is_empty() {
        super::EXIT_ERROR
    } else if failed {
        super::EXIT_VIOLATIONS
    } else {
        super::EXIT_OK
    })
}

fn inventory_of(t: &Path, a: &ScanArgs, now: &str) -> anyhow::Result<Inventory> {
    let meta = fs_err::metadata(t)?;
    let node = NodeInfo {
        id: a.node_id.clone().unwrap_or_default(),
        hostname: None,
        site: a.site.clone(),
        cell: a.cell.clone(),
        labels: Default::default(),
    };
    let opts = CollectOptions {
        node,
        collected_at: now.to_owned(),
    };
    if meta.is_dir() {
        return Ok(collect::collect_root(&Root::new(t), &opts));
    }
    // A lockfile: only the lockfile collector, over an empty root.
    let mut opts = opts;
    if opts.node.id.is_empty() {
        opts.node.id = t.display().to_string();
    }
    // The lockfile collector alone, with no search inside a root: only the given file is read.
    let collectors: Vec<Box<dyn Collector>> = vec![Box::new(
        LockfileCollector::with_targets(vec![t.to_path_buf()]).with_search_roots(Vec::new()),
    )];
    let mut inv = collect::collect_with(&Root::new("/nonexistent-nminus-root"), &opts, &collectors);
    inv.root = String::new();
    Ok(inv)
}
