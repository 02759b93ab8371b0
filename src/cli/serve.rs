//! `nminus serve`: the central analyzer.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::analyze::{Analyzer, AnalyzerConfig};
use crate::serve::{AppState, ServeOptions};

/// Arguments of `nminus serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Agents enroll with the enrollment secret and push with their own token (see `nminus agent`).

Examples:
  nminus serve --db sqlite:///var/lib/nminus/fleet.db --data /var/lib/nminus/data \\
      --listen 0.0.0.0:8080 --enroll-secret-file /etc/nminus/enroll-secret --reanalyze-interval 1h
  nminus serve --db postgres://nminus@db.example/nminus --data /var/lib/nminus/data --listen :8080

Endpoints: POST /v1/enroll, /v1/inventories, /v1/reanalyze; GET /v1/nodes[/ID[/history]],
/v1/findings, /v1/where, /v1/diff, /v1/report.json, /v1/report.html, /healthz, /readyz, /metrics."
)]
pub struct ServeArgs {
    /// The store: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "NMINUS_DB")]
    pub db: String,
    /// Address to listen on (`:8080` = every interface; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The data directory holding the synced feeds (`nminus sync`).
    #[arg(long, env = "NMINUS_DATA", default_value = "/var/lib/nminus/data")]
    pub data: PathBuf,
    /// Policy: a shipped one (`default`, `openstack-n1`, `strict`) or a YAML file.
    #[arg(long, default_value = "default")]
    pub policy: String,
    /// Feed definitions (default: the shipped `advisories/sources.yaml`).
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// Only these feeds (repeatable).
    #[arg(long = "feed")]
    pub feeds: Vec<String>,
    /// Operator-written OSV advisories (a directory), always loaded. Default:
    /// `<data>/advisories/local` when there is one (never the working directory's).
    #[arg(long, env = "NMINUS_LOCAL_ADVISORIES", value_name = "DIR")]
    pub local_advisories: Option<PathBuf>,
    /// apt `Packages` indexes to judge `upgrade-available` against (files).
    #[arg(long = "apt-indexes")]
    pub apt_indexes: Vec<PathBuf>,
    /// File holding the enrollment secret (without it, enrollment is disabled).
    #[arg(long, env = "NMINUS_ENROLL_SECRET_FILE")]
    pub enroll_secret_file: Option<PathBuf>,
    /// File holding a token required on reads and on `POST /v1/reanalyze`.
    #[arg(long, env = "NMINUS_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Reload the feeds and re-analyze the fleet when they, the policy or the date changed, this
    /// often (`30m`, `1h`); also run `nminus sync` on the data directory, e.g. from a timer.
    #[arg(long, value_parser = parse_duration)]
    pub reanalyze_interval: Option<Duration>,
    /// Largest request body accepted, after decompression (`64MiB`, `500k`).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub body_limit: usize,
    /// Keep findings of superseded analysis runs this long.
    #[arg(long, default_value = "90d", value_parser = parse_duration)]
    pub retain: Duration,
    /// Parse every feed file instead of using the compiled feed cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// `30s`, `10m`, `1h`, `2d`, `500ms`, or seconds.
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("expected a duration like 30s, 10m, 1h or 2d, found `{s}`"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => return Ok(Duration::from_millis(n)),
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "expected a duration like 30s, 10m, 1h or 2d, found `{s}`"
            ))
        }
    };
    Ok(Duration::from_secs(secs))
}

/// `1024`, `500k`, `64MiB`, `1G`.
pub(super) fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: usize = n
        .parse()
        .map_err(|_| format!("expected a size like 500k or 64MiB, found `{s}`"))?;
    let m = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("expected a size like 500k or 64MiB, found `{s}`")),
    };
    Ok(n.saturating_mul(m))
}

fn read_secret(p: &PathBuf) -> anyhow::Result<String> {
    let s = fs_err::read_to_string(p)?;
    let s = s.trim().to_owned();
    anyhow::ensure!(!s.is_empty(), "`{}` is empty", p.display());
    Ok(s)
}

/// Log to stderr (`NMINUS_LOG` filters, default `info`); colour only on a terminal and without
/// `NO_COLOR` (a log file or the journal gets plain text).
pub(super) fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("NMINUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .try_init();
}

pub(super) fn run(a: &ServeArgs) -> anyhow::Result<u8> {
    init_logging();
    if let Some(l) = a.local_advisories.as_ref().filter(|l| !l.is_dir()) {
        anyhow::bail!("--local-advisories `{}` is not a directory", l.display());
    }
    let policy =
        crate::policy::load(&a.policy).map_err(|e| anyhow::anyhow!("invalid policy:\n{e}"))?;
    let cfg = AnalyzerConfig {
        data: a.data.clone(),
        sources: a.sources.clone(),
        feeds: a.feeds.clone(),
        local_advisories: a
            .local_advisories
            .clone()
            .or_else(|| super::scan::default_local_advisories(&a.data)),
        apt_indexes: a.apt_indexes.clone(),
        cache: if a.no_cache {
            None
        } else {
            crate::sources::cache::default_cache_dir()
        },
    };
    let today = time::OffsetDateTime::now_utc().date();
    let analyzer = Analyzer::load(&cfg, policy, today)?;
    let release = crate::sources::feeds::RELEASE_KINDS;
    for f in analyzer
        .feeds()
        .iter()
        .filter(|f| !f.loaded && !release.contains(&f.kind.as_str()))
    {
        tracing::warn!(
            "feed `{}` not loaded: {}",
            f.name,
            f.note.as_deref().unwrap_or("")
        );
    }
    for n in analyzer.not_judged() {
        tracing::warn!("{n}");
    }
    let options = ServeOptions {
        enroll_secret: a.enroll_secret_file.as_ref().map(read_secret).transpose()?,
        api_token: a.api_token_file.as_ref().map(read_secret).transpose()?,
        body_limit: a.body_limit,
        analyzer: Some(cfg),
        retain: a.retain,
    };
    if options.enroll_secret.is_none() {
        tracing::warn!("no --enroll-secret-file: agents cannot enroll");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let store = crate::store::open(&a.db).await?;
        let listen = if a.listen.starts_with(':') {
            format!("0.0.0.0{}", a.listen)
        } else {
            a.listen.clone()
        };
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on `{listen}`"))?;
        let addr = listener.local_addr()?;
        let advisories = analyzer.index().len();
        let state = AppState::new(store, analyzer, options);
        // Tests and scripts read the address from this line.
        eprintln!(
            "nminus serve: listening on http://{addr} ({} store, {advisories} advisories)",
            state.store().backend()
        );
        crate::serve::serve(listener, state, a.reanalyze_interval, shutdown_signal()).await?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(super::EXIT_OK)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("1y").is_err());
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("500k"), Ok(500 << 10));
        assert!(parse_size("lots").is_err());
    }
}
