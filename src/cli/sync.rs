//! `nminus sync`: fetch feeds into the data directory, from upstream or from a mirror / bundle;
//! `--bundle-out` writes a bundle to carry into an air-gapped site.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::sources::feeds::FeedsConfig;
use crate::sources::sync::{self, ExtractLimits, Outcome, SyncFrom, SyncOptions};

/// The long help of `nminus sync` (the subcommand's `long_about`).
pub(super) const LONG_ABOUT: &str =
    "Bring the feeds of the data directory (advisories, release data) up to date.

Each feed of the feed definitions (`advisories/sources.yaml`, or --sources FILE) is one folder of \
the data directory. Without --from, every feed is fetched from its `upstream`: a git repository \
(fetched into a bare repository under DATA/.nminus/git, then its branch's tree, or its `subdir`, \
is written as the feed folder) or an archive URL (http(s):// or file://; a conditional request, \
so an unchanged feed costs one round trip; a .tar.gz is extracted, a single document stored as \
`file`). Feeds without an upstream are skipped.

Air-gapped sites sync --from a mirror instead: a directory with the data directory's layout \
(another site's data directory, a read-only mount), a file:// URL of one, or a bundle .tar.gz \
written by `nminus sync --bundle-out` on a connected machine. Feeds keep the upstream sync time \
the mirror records, so a scan still warns when the carried data is old.

Feed folders are replaced whole: the new tree is prepared beside the old one and renamed into \
place, so a scan running meanwhile sees the old feed or the new one. Archives and bundles are \
extracted safely: absolute paths, `..`, links pointing outside, device files and archives over \
--max-bytes / --max-files are refused and nothing is written. The outcome of each feed is \
recorded in DATA/.nminus/state.json (time, source, git commit or content digest); one feed \
failing does not stop the others.";

/// Arguments of `nminus sync`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 every selected feed synced, unchanged or skipped (no upstream); 2 some feed failed (the others were synced) or the command could not run.

Examples:
  nminus sync --data /var/lib/nminus/data                     # every feed from upstream
  nminus sync --data DIR --feed rustsec --feed pypa           # only these feeds
  nminus sync --data DIR --from /mnt/mirror/nminus-data       # air-gapped: from a mirror
  nminus sync --data DIR --from file:///srv/feeds-2026-11-24.tar.gz
  nminus sync --data DIR --bundle-out feeds.tar.gz            # connected side: write a bundle
  nminus sync --data DIR --sources my-sources.yaml            # your own upstreams (mirrors)"
)]
pub struct SyncArgs {
    /// The data directory to update (created when missing).
    #[arg(long, env = "NMINUS_DATA", default_value = "/var/lib/nminus/data")]
    pub data: PathBuf,
    /// Take feeds from a mirror directory, a file:// URL or a bundle .tar.gz with the data
    /// directory's layout, instead of their upstreams.
    #[arg(long, value_name = "DIR|file://URL|BUNDLE.tar.gz")]
    pub from: Option<String>,
    /// Only this feed (repeatable; default: every feed).
    #[arg(long = "feed", value_name = "NAME")]
    pub feeds: Vec<String>,
    /// Feed definitions (default: the shipped `advisories/sources.yaml`).
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
    /// Write a bundle .tar.gz of the data directory's feeds (and their sync state) to FILE,
    /// for `nminus sync --from FILE` at another site. Nothing is fetched.
    #[arg(long, value_name = "FILE.tar.gz", conflicts_with = "from")]
    pub bundle_out: Option<PathBuf>,
    /// Rewrite feed folders even when their revision did not change.
    #[arg(long)]
    pub force: bool,
    /// Refuse an archive, bundle or download larger than this many bytes once extracted.
    #[arg(long, value_name = "BYTES", default_value_t = ExtractLimits::default().max_bytes)]
    pub max_bytes: u64,
    /// Refuse an archive or bundle with more entries than this.
    #[arg(long, value_name = "N", default_value_t = ExtractLimits::default().max_entries)]
    pub max_files: u64,
    /// Print the per-feed outcome as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(a: &SyncArgs) -> anyhow::Result<u8> {
    let cfg = match &a.sources {
        Some(p) => FeedsConfig::load(p)?,
        None => FeedsConfig::builtin(),
    };
    if let Some(out) = &a.bundle_out {
        let cfg = cfg.select(&a.feeds)?;
        let s = sync::write_bundle(&cfg, &a.data, out)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("writing bundle {}", out.display()))?;
        for m in &s.missing {
            let fetchable = cfg
                .feeds
                .iter()
                .any(|f| &f.name == m && f.upstream.is_some());
            let how = if fetchable {
                format!("run `nminus sync --feed {m}` first")
            } else {
                "it has no upstream in the feed definitions: sync it `--from` a mirror that has it, or give it an `upstream` in your own --sources".to_owned()
            };
            eprintln!(
                "warning: feed `{m}` not in the bundle: {} has no folder for it ({how})",
                a.data.display()
            );
        }
        println!(
            "wrote {}: {} feeds, {} files, {} bytes of content",
            out.display(),
            s.feeds.len(),
            s.files,
            s.bytes
        );
        return Ok(if s.feeds.is_empty() {
            super::EXIT_ERROR
        } else {
            super::EXIT_OK
        });
    }
    let mut opts = SyncOptions::new(super::collect::now_rfc3339());
    opts.from = a.from.as_deref().map(SyncFrom::parse);
    opts.feeds.clone_from(&a.feeds);
    opts.force = a.force;
    opts.limits = ExtractLimits {
        max_bytes: a.max_bytes,
        max_entries: a.max_files,
    };
    opts.progress = Some(sync::stderr_progress());
    let report = sync::sync(&cfg, &a.data, &opts);
    drop(opts);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let w = report.feeds.iter().map(|f| f.name.len()).max().unwrap_or(4);
        for f in &report.feeds {
            let rev = f
                .revision
                .as_deref()
                .map(|r| {
                    let body = r.strip_prefix("sha256:").unwrap_or(r);
                    let short = &body[..body.len().min(12)];
                    if r.starts_with("sha256:") {
                        format!("sha256:{short}")
                    } else {
                        short.to_owned()
                    }
                })
                .unwrap_or_default();
            let mut line = format!("{:<w$}  {:<9}", f.name, f.outcome.as_str());
            if !rev.is_empty() {
                line.push_str(&format!("  {rev}"));
            }
            if !f.from.is_empty() && f.outcome != Outcome::Failed {
                line.push_str(&format!("  from {}", f.from));
            }
            if !f.message.is_empty() {
                line.push_str(&format!("  ({})", f.message));
            }
            println!("{}", line.trim_end());
        }
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    let failed = report
        .feeds
        .iter()
        .filter(|f| f.outcome == Outcome::Failed)
        .count();
    if failed > 0 {
        let others = report.feeds.len() - failed;
        eprintln!(
            "{failed} of {} feed(s) failed{}",
            report.feeds.len(),
            if others > 0 {
                format!("; the other {others} were synced into {}", a.data.display())
            } else {
                String::new()
            }
        );
    }
    Ok(if report.ok() {
        super::EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}
