//! `nminus scan`: collect → match advisories → report, in one process.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::analyze::{Analyzer, AnalyzerConfig};
use crate::collect::{self, lockfile::LockfileCollector, CollectOptions, Collector, Root};
use crate::model::{Inventory, NodeInfo};
use crate::policy::{Gate, GateTerm};
use crate::report::Format;

/// Arguments of `nminus scan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Targets: a directory is inventoried as a node's root (`/` by default: this machine); a file is read as a lockfile (Cargo.lock, requirements.txt, poetry.lock, uv.lock, Pipfile.lock, pylock.toml, pdm.lock): by its name when it is one of these, else by its content; a named file that is none of them is an error (exit 2), never skipped.

Exit codes: 0 nothing at or above the gate; 1 findings at or above the gate; 2 could not complete (no advisory feed, a configured feed missing for packages it covers, unreadable target or files: the report is still written first).

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
    /// Only these advisory feeds (repeatable). The release data (openstack-releases, endoflife,
    /// openstack-requirements) stays in unless one of them is named too; then only the named
    /// ones are used, and what is left out is not judged without making the scan incomplete.
    #[arg(long = "feed")]
    pub feeds: Vec<String>,
    /// Operator-written OSV advisories (a directory), always loaded. Default:
    /// `<data>/advisories/local` when there is one (never the working directory's); a path
    /// given here that is not a directory is an error.
    #[arg(long, env = "NMINUS_LOCAL_ADVISORIES", value_name = "DIR")]
    pub local_advisories: Option<PathBuf>,
    /// Output formats, comma-separated (`json,html,sarif`); several need `-o DIR`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "table")]
    pub format: Vec<Format>,
    /// Write the report to this file (atomically) instead of stdout; with several formats, a
    /// directory receiving `report.<ext>` per format.
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// Gate: a severity (findings at or above it fail) or a finding code; repeatable or
    /// comma-separated (`--fail-on high,eol`). Default: the policy's `fail_on` (`high` in
    /// `default`), else `unknown` (every vulnerability fails, informational notices do not).
    #[arg(long = "fail-on", value_name = "SEVERITY|CODE", value_delimiter = ',')]
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
    let targets = if a.targets.is_empty() {
        vec![PathBuf::from("/")]
    } else {
        a.targets.clone()
    };
    // A target the operator named that is not there is a typo to fix, not a node problem to
    // report after loading every feed.
    if let Some(t) = targets
        .iter()
        .find(|t| std::fs::symlink_metadata(t).is_err())
    {
        anyhow::bail!("`{}`: no such file or directory", t.display());
    }
    if let Some(l) = a.local_advisories.as_ref().filter(|l| !l.is_dir()) {
        anyhow::bail!("--local-advisories `{}` is not a directory", l.display());
    }
    let cfg = analyzer_config(a, &targets);

    // Load the analyzer (feeds, catalogs) while the targets are collected; lockfiles alone
    // (a millisecond to read) are read first on this thread, without a second one.
    let collect_all = || {
        let mut inventories: Vec<Inventory> = Vec::new();
        let mut inventory_targets: Vec<&PathBuf> = Vec::new();
        let mut setup_problems = Vec::new();
        for t in &targets {
            match inventory_of(t, a, &today) {
                Ok(inv) => {
                    inventories.push(inv);
                    inventory_targets.push(t);
                }
                Err(e) => setup_problems.push(crate::model::Problem::new(
                    crate::model::Location::path(t.display().to_string()),
                    crate::model::ProblemKind::Unreadable,
                    format!("{e:#}"),
                )),
            }
        }
        // Findings stay with their node: two targets that would be the same node are an error,
        // never merged.
        let mut seen: std::collections::BTreeMap<&str, &Path> = Default::default();
        for (inv, t) in inventories.iter().zip(&inventory_targets) {
            if let Some(first) = seen.insert(inv.node.id.as_str(), t.as_path()) {
                anyhow::bail!(
                    "{} and {} are both node `{}`: give each root its own /etc/hostname (or a directory of its own name), or scan them one at a time with --node-id",
                    first.display(),
                    t.display(),
                    inv.node.id
                );
            }
        }
        Ok((inventories, setup_problems, started.elapsed()))
    };
    let load = || {
        let t = Instant::now();
        (Analyzer::load(&cfg, policy, as_of_date), t.elapsed())
    };
    let side_by_side = !targets.iter().all(|t| t.is_file());
    let (analyzer, inventories, setup_problems, collected, loaded) = if !side_by_side {
        let (inventories, setup_problems, collected) = collect_all()?;
        let (analyzer, loaded) = load();
        (analyzer?, inventories, setup_problems, collected, loaded)
    } else {
        std::thread::scope(|s| {
            let loader = s.spawn(load);
            let (inventories, setup_problems, collected) = collect_all()?;
            let (analyzer, loaded) = loader
                .join()
                .map_err(|_| anyhow::anyhow!("loading the feeds panicked"))?;
            anyhow::Ok((analyzer?, inventories, setup_problems, collected, loaded))
        })?
    };
    let analyzer = if a.fail_on.is_empty() {
        analyzer
    } else {
        analyzer.with_gate(Gate(a.fail_on.clone()))
    };
    let ready = started.elapsed();
    warn_unloaded_feeds(&analyzer);

    // Judge.
    let refs: Vec<&Inventory> = inventories.iter().collect();
    let judged = analyzer.judge_fleet(&refs, as_of_date);
    let nodes: Vec<(&Inventory, Vec<_>)> = refs.iter().copied().zip(judged).collect();
    let report = analyzer.report(nodes, setup_problems, today, as_of_date);
    // As the report counts them: every problem, and how many of them leave the scan
    // incomplete (the rest are inputs deliberately skipped, such as an unpinned requirement).
    let node_problems = report.problems.len();
    let incomplete = report
        .problems
        .iter()
        .filter(|p| p.leaves_incomplete())
        .count();
    let judged_at = started.elapsed();

    super::report::write_reports(&report, &a.format, a.output.as_deref(), None)?;
    eprintln!(
        "scanned {} target(s), {} packages against {} advisories in {} ms (collect {} ms, feeds and release data {} ms{}; judge {} ms); {} findings, {} node problems ({} leaving it incomplete), {}",
        report.summary.nodes,
        report.summary.packages,
        analyzer.index().len(),
        started.elapsed().as_millis(),
        collected.as_millis(),
        loaded.as_millis(),
        if side_by_side { ", side by side" } else { "" },
        (judged_at - ready).as_millis(),
        report.summary.findings,
        node_problems,
        incomplete,
        crate::report::FeedProblems::of(&report.feed_problems).short(),
    );
    // Written to a file, the report's verdict and why it is incomplete still reach the
    // terminal: the exit code alone does not say what was not judged.
    if a.output.is_some() {
        eprintln!("{}", report.verdict().as_str());
        for why in report.incomplete_reasons() {
            eprintln!("  not judged: {}", super::terminal_text(&why));
        }
    }
    let failed = report.findings.iter().any(|f| analyzer.gate().fails(f));
    // The process ends here: freeing the loaded feeds and catalogs (hundreds of thousands of
    // small allocations) would only add to the scan's time.
    std::mem::forget(analyzer);
    std::mem::forget(inventories);
    Ok(if !report.is_complete() {
        super::EXIT_ERROR
    } else if failed {
        super::EXIT_VIOLATIONS
    } else {
        super::EXIT_OK
    })
}

/// Where the analyzer reads its data from, as the scan's options say.
fn analyzer_config(a: &ScanArgs, targets: &[PathBuf]) -> AnalyzerConfig {
    let mut apt_indexes = apt_index_files(&a.apt_indexes);
    if a.apt_indexes.is_empty() && targets.len() == 1 && targets[0].is_dir() {
        apt_indexes = apt_index_files(&[targets[0].join("var/lib/apt/lists")]);
    }
    AnalyzerConfig {
        data: a.data.clone(),
        sources: a.sources.clone(),
        feeds: a.feeds.clone(),
        local_advisories: a
            .local_advisories
            .clone()
            .or_else(|| default_local_advisories(&a.data)),
        apt_indexes,
        cache: if a.no_cache {
            None
        } else {
            a.cache_dir
                .clone()
                .or_else(crate::sources::cache::default_cache_dir)
        },
    }
}

/// A feed that did not load, or loaded only in part, is said on the terminal before the report.
fn warn_unloaded_feeds(analyzer: &Analyzer) {
    for f in analyzer.feeds() {
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
}

/// Where operator-written advisories are read from when no directory is named:
/// `<data>/advisories/local` when it is a directory. Relative to the data directory, never to
/// the working directory: the same data gives the same findings wherever the command runs.
pub(super) fn default_local_advisories(data: &Path) -> Option<PathBuf> {
    let p = data.join("advisories/local");
    p.is_dir().then_some(p)
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
                        || name.ends_with("_Packages.lz4")
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
