//! `nminus scan`: collect → match advisories → report, in one process.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::analyze::{
    apply_waivers, build_report, judge_currency, match_inventory, AdvisoryIndex, CatalogPaths,
    Catalogs, Gate, GateTerm, ReportInput,
};
use crate::collect::{self, lockfile::LockfileCollector, CollectOptions, Collector, Root};
use crate::model::{Inventory, NodeInfo};
use crate::report::Format;
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
    /// Output formats, comma-separated (`json,html,sarif`); several need `-o DIR`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "table")]
    pub format: Vec<Format>,
    /// Write the report to this file (atomically) instead of stdout; with several formats, a
    /// directory receiving `report.<ext>` per format.
    #[arg(short, long, value_name = "FILE|DIR")]
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
    /// Where loaded feeds are cached between scans (default: `$XDG_CACHE_HOME/nminus`, else
    /// `~/.cache/nminus`). A feed whose files changed is parsed again.
    #[arg(long, env = "NMINUS_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Parse every feed from its files; neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Policy: a shipped one (`default`, `openstack-n1`, `strict`) or a YAML file.
    #[arg(long, default_value = "default")]
    pub policy: String,
    /// apt `Packages` indexes to judge "upgrade available" against (files or directories;
    /// default: the scanned root's own `/var/lib/apt/lists`).
    #[arg(long = "apt-indexes")]
    pub apt_indexes: Vec<PathBuf>,
}

pub(super) fn run(a: &ScanArgs) -> anyhow::Result<u8> {
    super::report::check_outputs(&a.format, a.output.as_deref())?;
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
    let policy =
        crate::policy::load(&a.policy).map_err(|e| anyhow::anyhow!("invalid policy:\n{e}"))?;
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
    let loaded = if !a.data.is_dir() {
        Default::default()
    } else if a.no_cache {
        load_all(&cfg, &a.data, local.as_deref(), Some(as_of_date))
    } else {
        crate::sources::cache::load_all_cached(
            &cfg,
            &a.data,
            local.as_deref(),
            Some(as_of_date),
            a.cache_dir.as_deref(),
        )
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
    let mut paths = CatalogPaths {
        openstack: cfg.folder_of_kind(&a.data, "openstack-releases"),
        endoflife: cfg.folder_of_kind(&a.data, "endoflife"),
        apt: apt_index_files(&a.apt_indexes),
    };
    if paths.apt.is_empty() && targets.len() == 1 && targets[0].is_dir() {
        paths.apt = apt_index_files(&[targets[0].join("var/lib/apt/lists")]);
    }
    let (catalogs, catalog_notes) = Catalogs::load(&paths);
    if a.data.is_dir() {
        // A missing part of the release data matters only when something needs it: OpenStack
        // series for nodes running OpenStack, lifecycles for nodes with an OS.
        let has_services = inventories.iter().any(|i| !i.services.is_empty());
        let has_os = inventories.iter().any(|i| i.os.is_some());
        not_judged.extend(catalog_notes.into_iter().filter(|n| {
            if n.contains("openstack/releases") {
                has_services
            } else if n.contains("endoflife") {
                has_os
            } else {
                true
            }
        }));
    }
    let loaded_at = started.elapsed();

    // Judge.
    let gate = Gate(if !a.fail_on.is_empty() {
        a.fail_on.clone()
    } else if !policy.gate.is_empty() {
        policy.gate.clone()
    } else {
        vec![GateTerm::Severity(crate::model::Severity::Unknown)]
    });
    let mut all: Vec<_> = inventories
        .iter()
        .flat_map(|inv| {
            let mut f = match_inventory(inv, &idx);
            f.extend(judge_currency(inv, &catalogs, &policy, as_of_date));
            f
        })
        .collect();
    let refs: Vec<&Inventory> = inventories.iter().collect();
    // Waiver findings belong to the policy (`node: policy`); they are reported with the first
    // node's findings so that they count in the summary and the gate.
    let waiver_findings = apply_waivers(&mut all, &refs, &policy, as_of_date);
    let mut judged: Vec<_> = inventories
        .iter()
        .map(|inv| {
            (
                inv,
                all.iter()
                    .filter(|f| f.node == inv.node.id)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    if let Some((_, f)) = judged.first_mut() {
        f.extend(waiver_findings);
    }
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

    super::report::write_reports(&report, &a.format, a.output.as_deref(), None)?;
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

/// `Packages` index files among `paths` (files, or directories holding `*_Packages[.gz]` as apt
/// keeps them in `/var/lib/apt/lists` or `Packages[.gz]` files at any depth).
fn apt_index_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                let Ok(rd) = fs_err::read_dir(&d) else {
                    continue;
                };
                for e in rd.flatten() {
                    let path = e.path();
                    let name = e.file_name().to_string_lossy().into_owned();
                    if path.is_dir() {
                        stack.push(path);
                    } else if name.ends_with("_Packages")
                        || name.ends_with("Packages.gz")
                        || name == "Packages"
                    {
                        out.push(path);
                    }
                }
            }
        }
    }
    out.sort();
    out
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
