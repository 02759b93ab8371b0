//! The discovery options of `nminus serve` (`--discover-cloud` and the rest), turned into the
//! loop `serve` runs in the background.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::{load_cloud, options, releases_dir, DiscoverArgs, Format};
use crate::discover::{self, apidata::ApiData, probe};
use crate::releases::openstack::OpenStackCatalog;
use crate::serve::controlplane::ControlPlaneLoop;

/// Discovery inside `serve`.
#[derive(Debug, Args)]
pub struct ServeDiscoverArgs {
    /// Discover this cloud of clouds.yaml periodically (`env`: the OS_* variables), store each
    /// round as the control-plane inventory, and serve the probes' metrics on /metrics.
    #[arg(long, value_name = "NAME")]
    pub discover_cloud: Option<String>,
    /// The clouds.yaml to read (default: openstacksdk's search path).
    #[arg(long, value_name = "FILE", requires = "discover_cloud")]
    pub clouds_yaml: Option<PathBuf>,
    /// Discover again this often (`5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = crate::cli::serve::parse_duration)]
    pub discover_interval: Duration,
    /// Probe every discovered endpoint this often between rounds.
    #[arg(long, default_value = "30s", value_parser = crate::cli::serve::parse_duration)]
    pub probe_interval: Duration,
    /// Map a region to a site (`RegionOne=par1`), as agents name sites; repeatable.
    #[arg(long = "discover-site", value_name = "REGION=SITE")]
    pub discover_sites: Vec<String>,
    /// Only these interfaces (comma-separated: public, internal, admin). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub discover_interface: Vec<String>,
    /// Seconds a discovery or probe request may take, body included.
    #[arg(long, default_value_t = 10)]
    pub discover_timeout: u64,
    /// Endpoints inspected at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub discover_concurrency: u16,
}

/// The loop `serve` runs, when `--discover-cloud` is given: the cloud, the API data and the
/// policy are read now, so that a mistake stops `serve` before it listens.
pub(crate) fn control_plane_loop(
    a: &ServeDiscoverArgs,
    data: &Path,
    policy: &str,
    retain: Duration,
) -> anyhow::Result<Option<ControlPlaneLoop>> {
    let Some(name) = &a.discover_cloud else {
        return Ok(None);
    };
    let d = DiscoverArgs {
        os_cloud: (name != "env").then(|| name.clone()),
        data: data.to_path_buf(),
        api_data: None,
        releases: None,
        format: Format::Json,
        output: None,
        previous: None,
        interface: a.discover_interface.clone(),
        sites: a.discover_sites.clone(),
        policy: policy.to_owned(),
        max_lag: None,
        concurrency: a.discover_concurrency,
        timeout: a.discover_timeout,
        max_redirects: 5,
        max_body: 1 << 20,
        interval: None,
        rounds: None,
        listen: None,
        probe_interval: 30,
    };
    let cfg = load_cloud(&d, a.clouds_yaml.as_deref())
        .with_context(|| format!("--discover-cloud {name}"))?;
    if cfg.insecure {
        tracing::warn!(
            "{}: TLS certificates are not verified (verify: false / OS_INSECURE)",
            cfg.origin
        );
    }
    let releases = releases_dir(&d)?;
    let api = ApiData::load(
        &data.join("openstack-api"),
        &releases.join("data/series_status.yaml"),
    )
    .context("--discover-cloud: loading the OpenStack API data")?;
    let catalog = match OpenStackCatalog::load(&releases) {
        Ok((c, _)) => Some(Arc::new(c)),
        Err(e) => {
            tracing::warn!("the control plane is not compared with the fleet's packages: {e}");
            None
        }
    };
    Ok(Some(ControlPlaneLoop {
        periodic: discover::service::Periodic {
            cfg,
            data: Arc::new(api),
            opts: options(&d)?,
            interval: Some(a.discover_interval.max(Duration::from_secs(1))),
            probe_interval: Some(a.probe_interval.max(Duration::from_secs(1))),
            rounds: None,
            metrics: Arc::new(Mutex::new(probe::Metrics::default())),
        },
        catalog,
        retain,
    }))
}
