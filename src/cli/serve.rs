//! `nminus serve`: the central analyzer.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::analyze::{Analyzer, AnalyzerConfig};
use crate::serve::{Access, ApiTokens, AppState, Endpoints, Limits, Role, ServeOptions, TlsFiles};

/// Arguments of `nminus serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Agents enroll with the enrollment secret and push with their own token (see `nminus agent`).
Reads, re-analysis and /metrics need an API token with a role (--api-tokens-file); without one,
serve refuses to start unless given --insecure-no-auth on a loopback address.

Examples:
  nminus serve --db sqlite:///var/lib/nminus/fleet.db --data /var/lib/nminus/data \\
      --listen 0.0.0.0:8443 --tls-cert /etc/nminus/tls/cert.pem --tls-key /etc/nminus/tls/key.pem \\
      --enroll-secret-file /etc/nminus/enroll-secret --api-tokens-file /etc/nminus/api-tokens \\
      --reanalyze-interval 1h
  nminus serve --db postgres://nminus@db.example/nminus --data /var/lib/nminus/data --listen :8080 \\
      --api-tokens-file /etc/nminus/api-tokens --metrics-listen 10.0.0.5:9180
  nminus serve --db sqlite://fleet.db --data ./data --insecure-no-auth     # a laptop, loopback only

A tokens file holds one token a line, `ROLE SHA256 [NAME]`, ROLE one of metrics, read, operate,
admin, and the sha256 of the token, never the token:
  t=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'); printf 'read %s grafana\\n' \\
      \"$(printf %s \"$t\" | sha256sum | cut -d' ' -f1)\" >> /etc/nminus/api-tokens

Endpoints: POST /v1/enroll, /v1/inventories, /v1/reanalyze; GET /v1/nodes[/ID[/history]],
/v1/findings, /v1/where, /v1/diff, /v1/report.json, /v1/report.html, /v1/controlplane[/history],
/healthz, /readyz, /metrics.

With --discover-cloud NAME (clouds.yaml, --clouds-yaml FILE), serve discovers the OpenStack control
plane every --discover-interval, stores each round (GET /v1/controlplane), judges it against the
fleet's packages, and probes every endpoint every --probe-interval (metrics on /metrics)."
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
    /// API tokens with roles, one a line: `ROLE SHA256 [NAME]` (ROLE: `metrics`, `read`,
    /// `operate`, `admin`; the sha256 of the token in hex, never the token itself).
    #[arg(long, env = "NMINUS_API_TOKENS_FILE")]
    pub api_tokens_file: Option<PathBuf>,
    /// File holding one API token in clear, with the `admin` role (prefer --api-tokens-file,
    /// which holds only hashes).
    #[arg(long, env = "NMINUS_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Serve without API tokens: anyone who reaches the port reads every inventory and starts
    /// re-analyses. Refused unless --listen is a loopback address.
    #[arg(long, conflicts_with_all = ["api_tokens_file", "api_token_file"])]
    pub insecure_no_auth: bool,
    /// Also serve `/metrics` without a token on this address (plain HTTP; an interface only
    /// the monitoring network reaches). On --listen, `/metrics` needs a `metrics` token.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first).
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Agents must present a client certificate signed by these PEM CA certificates to enroll
    /// and push (`nminus agent --client-cert`); readers still use API tokens.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_client_ca: Option<PathBuf>,
    /// Reload the feeds and re-analyze the fleet when they, the policy or the date changed, this
    /// often (`30m`, `1h`); also run `nminus sync` on the data directory, e.g. from a timer.
    #[arg(long, value_parser = parse_duration)]
    pub reanalyze_interval: Option<Duration>,
    /// Largest request body accepted, after decompression (`64MiB`, `500k`).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub body_limit: usize,
    /// Time a client has to send a request's head, from the connection's start or its
    /// previous response (also how long an idle connection stays open).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Time a client has to send a whole request body.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// Time a response write may make no progress before the connection is closed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub write_timeout: Duration,
    /// Connections open at once (default: 16384, or the open-file limit less 128 when lower;
    /// the soft limit is raised to the hard one at start). At the cap the oldest idle
    /// connection is closed to make room.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Memory for the pushes read, parsed and judged at once (a push is charged its size on
    /// the wire and twelve times its decoded size); pushes beyond it wait, then get 503.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    pub push_memory: usize,
    /// Pushes a node may make per minute, after a burst of 200 (0: no limit); more get 429.
    #[arg(long, default_value_t = crate::serve::limits::DEFAULT_PUSH_RATE)]
    pub push_rate_limit: u32,
    /// Keep findings of superseded analysis runs this long.
    #[arg(long, default_value = "90d", value_parser = parse_duration)]
    pub retain: Duration,
    /// Where the compiled feed cache is kept (default: `$XDG_CACHE_HOME/nminus`, else
    /// `~/.cache/nminus`), as for `nminus scan`.
    #[arg(long, env = "NMINUS_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Parse every feed file instead of using the compiled feed cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Discovery of the OpenStack control plane.
    #[command(flatten)]
    pub discover: super::discover::ServeDiscoverArgs,
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

/// Who may read: the tokens given, or everyone with --insecure-no-auth on loopback; refuses to
/// go on with neither.
fn access(a: &ServeArgs, listen: &str) -> anyhow::Result<Access> {
    if a.insecure_no_auth {
        let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(listen)
            .with_context(|| format!("--listen `{listen}`"))?
            .collect();
        if addrs.is_empty() || !addrs.iter().all(|s| s.ip().is_loopback()) {
            anyhow::bail!(
                "--insecure-no-auth is allowed only on a loopback --listen (127.0.0.1, ::1), not `{listen}`\n\
                 hint: give API tokens with --api-tokens-file FILE (see `nminus serve --help`)"
            );
        }
        tracing::warn!(
            "--insecure-no-auth: anyone who reaches {listen} reads every inventory and starts re-analyses"
        );
        return Ok(Access::Open);
    }
    let mut tokens = ApiTokens::new();
    if let Some(f) = &a.api_tokens_file {
        let text = fs_err::read_to_string(f)?;
        tokens = ApiTokens::parse(&text, &f.display().to_string())?;
        anyhow::ensure!(!tokens.is_empty(), "`{}` holds no token", f.display());
    }
    if let Some(f) = &a.api_token_file {
        tokens = tokens.with_token(&read_secret(f)?, Role::Admin, "--api-token-file");
    }
    if tokens.is_empty() {
        anyhow::bail!(
            "refusing to serve without API tokens: every inventory would be open to anyone who reaches `{listen}`\n\
             hint: give --api-tokens-file FILE (lines `ROLE SHA256 [NAME]`, see `nminus serve --help`), \
             or --insecure-no-auth with a loopback --listen such as 127.0.0.1:8080"
        );
    }
    Ok(Access::Tokens(tokens))
}

/// `:8080` = every interface.
fn listen_addr(s: &str) -> String {
    if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    }
}

/// Warn when an existing SQLite database can be read by others (new ones are created 0600).
fn check_db_mode(db: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Some(path) = db
            .strip_prefix("sqlite://")
            .or_else(|| db.strip_prefix("sqlite:"))
            .and_then(|p| p.split('?').next())
        else {
            return;
        };
        for p in [
            path.to_owned(),
            format!("{path}-wal"),
            format!("{path}-shm"),
        ] {
            if let Ok(m) = fs_err::metadata(&p) {
                if m.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        "`{p}` is readable by other users (mode {:o}): chmod 600 it",
                        m.permissions().mode() & 0o777
                    );
                }
            }
        }
    }
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
    let listen = listen_addr(&a.listen);
    let access = access(a, &listen)?;
    let tls = a
        .tls_cert
        .as_ref()
        .zip(a.tls_key.as_ref())
        .map(|(cert, key)| {
            crate::serve::tls_acceptor(&TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: a.tls_client_ca.clone(),
            })
        })
        .transpose()?;
    // The database, its -wal and -shm, and anything else this process creates: owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    check_db_mode(&a.db);
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
            a.cache_dir
                .clone()
                .or_else(crate::sources::cache::default_cache_dir)
        },
    };
    let control_plane =
        super::discover::control_plane_loop(&a.discover, &a.data, &a.policy, a.retain)?;
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
        access,
        require_client_cert: a.tls_client_ca.is_some(),
        limits: Limits {
            header_timeout: a.header_timeout,
            body_timeout: a.body_timeout,
            write_timeout: a.write_timeout,
            max_connections: a.max_connections,
            push_memory: a.push_memory,
            push_rate: a.push_rate_limit,
        },
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
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on `{listen}`"))?;
        let addr = listener.local_addr()?;
        let metrics = match &a.metrics_listen {
            None => None,
            Some(m) => {
                let m = listen_addr(m);
                let l = tokio::net::TcpListener::bind(&m)
                    .await
                    .with_context(|| format!("cannot listen on `{m}` (--metrics-listen)"))?;
                eprintln!(
                    "nminus serve: metrics on http://{}/metrics",
                    l.local_addr()?
                );
                Some(l)
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let advisories = analyzer.index().len();
        let state = AppState::new(store, analyzer, options);
        // Tests and scripts read the address from this line.
        eprintln!(
            "nminus serve: listening on {scheme}://{addr} ({} store, {advisories} advisories)",
            state.store().backend()
        );
        let endpoints = Endpoints {
            listener,
            tls,
            metrics,
        };
        let discovery =
            control_plane.map(|l| tokio::spawn(crate::serve::controlplane::run(state.clone(), l)));
        crate::serve::serve(endpoints, state, a.reanalyze_interval, shutdown_signal()).await?;
        if let Some(d) = discovery {
            d.abort();
        }
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
