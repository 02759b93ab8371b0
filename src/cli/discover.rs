//! `nminus discover`: the cloud as its APIs show it (Keystone catalog, version documents,
//! implied series), once or periodically, with service-level probes exported to Prometheus.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::discover::{
    self, apidata::ApiData, cloud, http::Limits, probe, Discovery, EndpointStatus,
};
use crate::sources::feeds::FeedsConfig;

mod query;
mod serve;
pub(super) use query::query_control_plane;
pub(super) use serve::{control_plane_loop, ServeDiscoverArgs};

const AFTER_HELP: &str = "\
Authenticates as the OpenStack clients do: --os-cloud NAME reads clouds.yaml (OS_CLIENT_CONFIG_FILE,
./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml) merged with secure.yaml;
without it, the OS_* variables (openrc). Password, application-credential and token auth; cacert for a
private CA. The token goes to Keystone only: version documents are read without it.

Exit codes: 0 discovered, no finding; 1 findings of warning or high severity; 2 Keystone refused or
an endpoint could not be read (everything else is still discovered and written).

Examples:
  nminus discover --os-cloud prod --data /var/lib/nminus/data
  nminus discover --os-cloud prod --format json -o cloud.json --previous cloud-yesterday.json
  nminus discover --os-cloud prod --site RegionOne=par1 --interface public --policy openstack-n1
  nminus discover --os-cloud prod --interval 300 --listen 127.0.0.1:9184 --probe-interval 30";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A terminal table.
    Table,
    /// JSON (schema `nminus-discovery/1`).
    Json,
}

/// Arguments of `nminus discover`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DiscoverArgs {
    /// The cloud of clouds.yaml; without it, the OS_* environment variables.
    #[arg(long, env = "OS_CLOUD")]
    pub os_cloud: Option<String>,
    /// The data directory (openstack-api and openstack-releases are read from it).
    #[arg(long, env = "NMINUS_DATA", default_value = "/var/lib/nminus/data")]
    pub data: PathBuf,
    /// The openstack-api folder, when not `<data>/openstack-api`.
    #[arg(long, value_name = "DIR")]
    pub api_data: Option<PathBuf>,
    /// An openstack/releases checkout, when not in the data directory.
    #[arg(long, value_name = "DIR")]
    pub releases: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the output here (rewritten after every round) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// A previous discovery (JSON): new endpoints, endpoints that stopped answering and
    /// version changes are findings.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Only these interfaces (comma-separated: public, internal, admin). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub interface: Vec<String>,
    /// Map a region to a site (`RegionOne=par1`); repeatable. A region not mapped is its own site.
    #[arg(long = "site", value_name = "REGION=SITE")]
    pub sites: Vec<String>,
    /// Policy (shipped name or file) whose `series` rules judge each endpoint's service, as
    /// `scan` judges the services on nodes (`max_lag`, `allow_previous_slurp`, severity).
    #[arg(long, default_value = "default")]
    pub policy: String,
    /// Series allowed behind n for every endpoint, instead of the policy (1 = n or n-1).
    #[arg(long)]
    pub max_lag: Option<usize>,
    /// Endpoints inspected at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Seconds a request may take, body included.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Redirects followed at most.
    #[arg(long, default_value_t = 5)]
    pub max_redirects: usize,
    /// Bytes of a response read at most.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body: usize,
    /// Discover again every SECONDS (runs until stopped; each round compares with the last).
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<u64>,
    /// Stop after this many rounds (with --interval).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Probe every discovered endpoint and serve Prometheus metrics on this address
    /// (`/metrics`); discovery repeats every --interval (default 300 s).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Seconds between probe rounds (with --listen).
    #[arg(long, default_value_t = 30)]
    pub probe_interval: u64,
}

fn releases_dir(a: &DiscoverArgs) -> anyhow::Result<PathBuf> {
    if let Some(r) = &a.releases {
        return Ok(r.clone());
    }
    FeedsConfig::builtin()
        .folder_of_kind(&a.data, "openstack-releases")
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no openstack/releases data under {}: sync it (`nminus sync --feed openstack-releases`) or give --releases DIR",
                a.data.display()
            )
        })
}

fn options(a: &DiscoverArgs) -> anyhow::Result<discover::Options> {
    let mut sites = BTreeMap::new();
    for s in &a.sites {
        let (r, site) = s
            .split_once('=')
            .filter(|(r, s)| !r.is_empty() && !s.is_empty())
            .with_context(|| format!("--site `{s}`: expected REGION=SITE"))?;
        sites.insert(r.to_owned(), site.to_owned());
    }
    for i in &a.interface {
        if !matches!(i.as_str(), "public" | "internal" | "admin") {
            anyhow::bail!("--interface `{i}`: expected public, internal or admin");
        }
    }
    Ok(discover::Options {
        limits: Limits {
            connect_timeout: Duration::from_secs(a.timeout.clamp(1, 5)),
            timeout: Duration::from_secs(a.timeout.max(1)),
            max_redirects: a.max_redirects,
            max_body: a.max_body,
        },
        concurrency: usize::from(a.concurrency),
        interfaces: a.interface.clone(),
        sites,
        max_lag: a.max_lag.unwrap_or(1),
        policy: Some(Arc::new(
            crate::policy::load(&a.policy).map_err(|e| anyhow::anyhow!("invalid policy:\n{e}"))?,
        )),
        max_lag_override: a.max_lag.is_some(),
    })
}

fn load_cloud(
    a: &DiscoverArgs,
    clouds_yaml: Option<&std::path::Path>,
) -> anyhow::Result<cloud::CloudConfig> {
    let env = |k: &str| match clouds_yaml {
        Some(f) if k == "OS_CLIENT_CONFIG_FILE" => Some(f.display().to_string()),
        _ => std::env::var(k).ok(),
    };
    Ok(match &a.os_cloud {
        Some(name) => {
            let mut c = cloud::from_clouds_yaml(name, &env)?;
            c.name.clone_from(name);
            c
        }
        None => {
            let mut c = cloud::from_env(&env).context("no --os-cloud: reading OS_* variables")?;
            c.name = "env".into();
            c
        }
    })
}

pub(super) fn run(a: &DiscoverArgs) -> anyhow::Result<u8> {
    let cfg = load_cloud(a, None)?;
    if cfg.insecure {
        eprintln!(
            "warning: {}: TLS certificates are not verified (verify: false / OS_INSECURE)",
            cfg.origin
        );
    }
    let opts = options(a)?;
    let api_dir = a
        .api_data
        .clone()
        .unwrap_or_else(|| a.data.join("openstack-api"));
    let data = Arc::new(
        ApiData::load(&api_dir, &releases_dir(a)?.join("data/series_status.yaml"))
            .context("loading the OpenStack API data")?,
    );
    let previous: Option<Discovery> = match &a.previous {
        Some(p) => {
            let text = fs_err::read_to_string(p)?;
            let d: Discovery = serde_json::from_str(&text)
                .with_context(|| format!("--previous {}: not a discovery", p.display()))?;
            if d.schema != discover::SCHEMA {
                anyhow::bail!(
                    "--previous {}: schema `{}`, expected `{}`",
                    p.display(),
                    d.schema,
                    discover::SCHEMA
                );
            }
            Some(d)
        }
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move { run_async(a, cfg, opts, data, previous).await })
}

async fn run_async(
    a: &DiscoverArgs,
    cfg: cloud::CloudConfig,
    opts: discover::Options,
    data: Arc<ApiData>,
    previous: Option<Discovery>,
) -> anyhow::Result<u8> {
    let metrics: probe::Shared = Arc::new(Mutex::new(probe::Metrics::default()));
    let server = match &a.listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--listen {addr}"))?;
            eprintln!(
                "serving probe metrics on http://{}/metrics",
                l.local_addr()?
            );
            Some(tokio::spawn(probe::serve(l, metrics.clone())))
        }
        None => None,
    };
    let periodic = discover::service::Periodic {
        cfg,
        data,
        opts,
        interval: a
            .interval
            .or(a.listen.as_ref().map(|_| 300))
            .map(|s| Duration::from_secs(s.max(1))),
        probe_interval: a
            .listen
            .as_ref()
            .map(|_| Duration::from_secs(a.probe_interval.max(1))),
        rounds: a.rounds,
        metrics,
    };
    let last = periodic
        .run(previous, super::collect::now_rfc3339, |d| {
            let written = write_output(a, &d);
            if let Some(e) = &d.keystone.error {
                eprintln!("error: {}", super::terminal_text(&e.message));
            }
            std::future::ready(written.map(|()| d))
        })
        .await;
    if let Some(s) = server {
        s.abort();
    }
    Ok(exit_code(&last?))
}

fn exit_code(d: &Discovery) -> u8 {
    if d.problems() > 0 {
        super::EXIT_ERROR
    } else if d
        .findings
        .iter()
        .any(|f| f.severity >= discover::Severity::Warning)
    {
        super::EXIT_VIOLATIONS
    } else {
        super::EXIT_OK
    }
}

fn write_output(a: &DiscoverArgs, d: &Discovery) -> anyhow::Result<()> {
    let text = match a.format {
        Format::Json => serde_json::to_string_pretty(d)? + "\n",
        Format::Table => table(d),
    };
    match &a.output {
        Some(p) => {
            // Whole files only: a reader (or the next --previous) never sees half a round.
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(text.as_bytes())?;
            tmp.persist(p).map_err(|e| e.error)?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

fn table(d: &Discovery) -> String {
    use std::fmt::Write as _;
    let t = |s: &str| super::terminal_text(s).into_owned();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "cloud {} at {}: {} services, {} endpoints in {} regions; n = {}, allowed {}",
        t(&d.cloud),
        t(&d.keystone.auth_url),
        d.services.len(),
        d.endpoints.len(),
        d.regions.len(),
        d.policy.n.as_deref().unwrap_or("?"),
        d.policy.allowed.join(", ")
    );
    if let Some(e) = &d.keystone.error {
        let _ = writeln!(o, "Keystone: {}", t(&e.message));
        return o;
    }
    let rows: Vec<[String; 8]> = d
        .endpoints
        .iter()
        .map(|e| {
            let status = match e.status {
                EndpointStatus::Ok => "ok".to_owned(),
                EndpointStatus::NoVersionDocument => "no-version-doc".to_owned(),
                EndpointStatus::Unreachable => "unreachable".to_owned(),
            };
            let mv = match (e.min_microversion, e.max_microversion) {
                (Some(a), Some(b)) => format!("{a}-{b}"),
                (None, Some(b)) => b.to_string(),
                _ => e
                    .max_version_id
                    .map(|v| format!("v{v}"))
                    .unwrap_or_else(|| "-".into()),
            };
            let series = e
                .series
                .as_ref()
                .map(|s| match s.candidates.len() {
                    0 => "-".to_owned(),
                    1 => s.candidates[0].clone(),
                    n => format!("{}..{}", s.candidates[0], s.candidates[n - 1]),
                })
                .unwrap_or_else(|| "-".into());
            [
                t(&e.service_type),
                t(&e.region),
                t(&e.interface),
                status,
                t(e.version.as_deref().unwrap_or("-")),
                mv,
                series,
                t(&e.url),
            ]
        })
        .collect();
    let head = [
        "SERVICE",
        "REGION",
        "INTERFACE",
        "STATUS",
        "VERSION",
        "MICROVERSIONS",
        "SERIES",
        "URL",
    ];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |o: &mut String, cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<width$}  ", width = w[i]);
            }
        }
        let _ = writeln!(o, "{}", s.trim_end());
    };
    line(&mut o, &head);
    for r in &rows {
        line(&mut o, &r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for e in d.endpoints.iter().filter(|e| !e.errors.is_empty()) {
        for f in &e.errors {
            let _ = writeln!(
                o,
                "problem: {} {} {}: {}",
                t(&e.service_type),
                t(&e.region),
                t(&e.interface),
                t(&f.message)
            );
        }
    }
    for f in &d.findings {
        let _ = writeln!(
            o,
            "finding [{:?}] {}: {}",
            f.severity,
            serde_json::to_value(f.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            t(&f.message)
        );
    }
    o
}
