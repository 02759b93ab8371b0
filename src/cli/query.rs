//! `nminus query`: ask a server (`--server`) or a store directly (`--db`) about the fleet.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::analyze::{AdvisoryIndex, Analyzer, Catalogs};
use crate::client::{ApiClient, ClientOptions, Credential, LARGE_REPLY};
use std::collections::BTreeMap;

use crate::model::{DeliverableCurrency, Finding, FindingCode, Inventory, Report, Severity};
use crate::releases::openstack::OpenStackCatalog;
use crate::serve::query::{self, NodeDiff, NodeView};
use crate::store::{FindingFilter, Millis, PackageHolder};

/// Arguments of `nminus query`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  nminus query --server http://nminus:8080 nodes --status stale
  nminus query --db sqlite:///var/lib/nminus/fleet.db findings --site par1 --severity high
  nminus query --server http://nminus:8080 where openssl@3.0.11-1~deb12u2
  nminus query --server http://nminus:8080 diff par1 --since 2026-01-01
  nminus query --server http://nminus:8080 openstack --site par1
  nminus query --db sqlite:///var/lib/nminus/fleet.db --data /var/lib/nminus/data openstack
  nminus query --server http://nminus:8080 controlplane --history")]
pub struct QueryArgs {
    /// The server's base URL.
    #[arg(long, env = "NMINUS_SERVER", conflicts_with = "db", global = true)]
    pub server: Option<String>,
    /// The store, read directly (`sqlite://PATH` or `postgres://…`).
    #[arg(long, env = "NMINUS_DB", global = true)]
    pub db: Option<String>,
    /// The server's API token, when it requires one.
    #[arg(long, env = "NMINUS_API_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Trust only this CA (PEM) for the server's certificate (a server with a private CA).
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Policy deciding which nodes are stale (`--db` only; a server uses its own).
    #[arg(long, default_value = "default", global = true)]
    pub policy: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table, global = true)]
    pub format: QueryFormat,
    /// What to ask.
    #[command(subcommand)]
    pub command: QueryCommand,
}

/// Output formats of `nminus query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns.
    Table,
    /// JSON, as the API answers.
    Json,
}

/// Questions.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Nodes with their status (active, stale, enrolled, revoked).
    Nodes {
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Only this cell.
        #[arg(long)]
        cell: Option<String>,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
    },
    /// Current findings.
    Findings {
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Only this cell.
        #[arg(long)]
        cell: Option<String>,
        /// Only this node.
        #[arg(long)]
        node: Option<String>,
        /// Only this code.
        #[arg(long)]
        code: Option<FindingCode>,
        /// At or above this severity.
        #[arg(long)]
        severity: Option<Severity>,
        /// Only this package (subject name).
        #[arg(long)]
        package: Option<String>,
        /// Include waived findings.
        #[arg(long)]
        waived: bool,
    },
    /// Which nodes run PACKAGE (at VERSION).
    Where {
        /// `PACKAGE` or `PACKAGE@VERSION`.
        spec: String,
    },
    /// How a node's (or every node of a site's) packages changed since a date.
    Diff {
        /// A node id or a site.
        target: String,
        /// `YYYY-MM-DD` or an RFC 3339 time.
        #[arg(long)]
        since: String,
    },
    /// The OpenStack currency of every deliverable of every node, compliant or not: series,
    /// status, lag from n, newest release of its series and how many releases behind.
    Openstack {
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Only this node.
        #[arg(long)]
        node: Option<String>,
        /// The data directory holding `openstack-releases` (`--db` only; a server uses its own).
        #[arg(long, default_value = "/var/lib/nminus/data")]
        data: std::path::PathBuf,
    },
    /// The control plane as discovery last saw it (`serve --discover-cloud`): endpoints,
    /// versions, implied series and findings; or the rounds stored (`--history`).
    Controlplane {
        /// Only this cloud.
        #[arg(long)]
        cloud: Option<String>,
        /// This round (an id of `--history`) instead of the newest.
        #[arg(long)]
        id: Option<i64>,
        /// List the rounds stored, newest first.
        #[arg(long, conflicts_with = "id")]
        history: bool,
        /// At most this many rounds (`--history`).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// Where the answers come from.
enum Source {
    /// A running `nminus serve`.
    Server(ApiClient),
    /// Its database, read directly.
    Db {
        rt: tokio::runtime::Runtime,
        store: std::sync::Arc<dyn crate::store::Store>,
        analyzer: Box<Analyzer>,
    },
}

impl Source {
    fn open(a: &QueryArgs) -> anyhow::Result<Self> {
        match (&a.server, &a.db) {
            (Some(s), _) => {
                let opts = ClientOptions::new(std::time::Duration::from_secs(120))
                    .ca_file(a.ca_file.as_deref());
                Ok(Self::Server(ApiClient::new(
                    s,
                    a.token.as_deref(),
                    Credential::ApiToken,
                    &opts,
                )?))
            }
            (None, Some(db)) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let store = rt.block_on(crate::store::open_existing(db))?;
                let policy = crate::policy::load(&a.policy)
                    .map_err(|e| anyhow::anyhow!("invalid policy:\n{e}"))?;
                let analyzer = Box::new(Analyzer::from_parts(
                    AdvisoryIndex::build(Vec::new()),
                    Catalogs::default(),
                    policy,
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    String::new(),
                ));
                Ok(Self::Db {
                    rt,
                    store,
                    analyzer,
                })
            }
            (None, None) => anyhow::bail!(
                "say where the fleet is: --server URL (a running nminus serve) or --db URL (its database, read directly)"
            ),
        }
    }
}

fn opt(k: &'static str, v: Option<&String>) -> Option<(&'static str, String)> {
    v.map(|v| (k, v.clone()))
}

/// The query string of the filters given.
fn pairs<const N: usize>(
    filters: [Option<(&'static str, String)>; N],
) -> Vec<(&'static str, String)> {
    filters.into_iter().flatten().collect()
}

pub(super) fn run(a: &QueryArgs) -> anyhow::Result<u8> {
    let src = Source::open(a)?;
    let now = Millis::now();
    let mut out = Vec::new();
    let f = a.format;
    match &a.command {
        QueryCommand::Nodes { site, cell, status } => {
            let all = nodes(&src, [site, cell, status], now)?;
            emit(f, &all, &mut out, |o| nodes_table(&all, now, o))?;
        }
        QueryCommand::Findings {
            site,
            cell,
            node,
            code,
            severity,
            package,
            waived,
        } => {
            let filter = FindingFilter {
                site: site.clone(),
                cell: cell.clone(),
                node: node.clone(),
                code: *code,
                severity: *severity,
                package: package.clone(),
                waived: *waived,
            };
            let all = findings(&src, &filter, now)?;
            emit(f, &all, &mut out, |o| findings_table(&all, o))?;
        }
        QueryCommand::Where { spec } => {
            let all = holders(&src, spec)?;
            emit(f, &all, &mut out, |o| where_table(&all, o))?;
        }
        QueryCommand::Diff { target, since } => {
            let all = diff(&src, target, since)?;
            emit(f, &all, &mut out, |o| diff_text(&all, o))?;
        }
        QueryCommand::Openstack { site, node, data } => {
            let all = openstack(&src, site.as_ref(), node.as_ref(), data, now)?;
            emit(f, &all, &mut out, |o| openstack_table(&all, o))?;
        }
        QueryCommand::Controlplane {
            cloud,
            id,
            history,
            limit,
        } => super::discover::query_control_plane(
            f == QueryFormat::Json,
            *history,
            &mut out,
            |history| control_plane(&src, cloud.as_deref(), *id, history, *limit),
        )?,
    }
    if !matches!(f, QueryFormat::Json) {
        let text = String::from_utf8_lossy(&out);
        out = super::terminal_text(&text).into_owned().into_bytes();
    }
    std::io::stdout().lock().write_all(&out)?;
    Ok(super::EXIT_OK)
}

/// `query nodes`: by site, cell and status.
fn nodes(
    src: &Source,
    [site, cell, status]: [&Option<String>; 3],
    now: Millis,
) -> anyhow::Result<Vec<NodeView>> {
    Ok(match src {
        Source::Server(api) => api.nodes(&pairs([
            opt("site", site.as_ref()),
            opt("cell", cell.as_ref()),
            opt("status", status.as_ref()),
        ]))?,
        Source::Db {
            rt,
            store,
            analyzer,
        } => rt
            .block_on(query::nodes(store.as_ref(), analyzer, now))?
            .into_iter()
            .filter(|n| {
                site.as_ref()
                    .is_none_or(|s| n.node.site.as_ref() == Some(s))
            })
            .filter(|n| {
                cell.as_ref()
                    .is_none_or(|c| n.node.cell.as_ref() == Some(c))
            })
            .filter(|n| status.as_ref().is_none_or(|s| &n.status == s))
            .collect(),
    })
}

/// `query findings`: the current findings `filter` keeps.
fn findings(src: &Source, filter: &FindingFilter, now: Millis) -> anyhow::Result<Vec<Finding>> {
    Ok(match src {
        Source::Server(api) => {
            let code = filter.code.map(|c| c.as_str().to_owned());
            let sev = filter.severity.map(|s| s.as_str().to_owned());
            let waived = filter.waived.then(|| "true".to_owned());
            api.findings(&pairs([
                opt("site", filter.site.as_ref()),
                opt("cell", filter.cell.as_ref()),
                opt("node", filter.node.as_ref()),
                opt("code", code.as_ref()),
                opt("severity", sev.as_ref()),
                opt("package", filter.package.as_ref()),
                opt("waived", waived.as_ref()),
            ]))?
        }
        Source::Db {
            rt,
            store,
            analyzer,
        } => rt.block_on(query::findings(store.as_ref(), analyzer, filter, now))?,
    })
}

/// `query where PACKAGE[@VERSION]`.
fn holders(src: &Source, spec: &str) -> anyhow::Result<Vec<PackageHolder>> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
        None => (spec.to_owned(), None),
    };
    Ok(match src {
        Source::Server(api) => api.get_json(
            "/v1/where",
            &pairs([
                Some(("package", name.clone())),
                opt("version", version.as_ref()),
            ]),
            LARGE_REPLY,
        )?,
        Source::Db { rt, store, .. } => {
            rt.block_on(store.package_holders(&name, version.as_deref()))?
        }
    })
}

/// `query diff TARGET --since DATE`.
fn diff(src: &Source, target: &str, since: &str) -> anyhow::Result<Vec<NodeDiff>> {
    Ok(match src {
        Source::Server(api) => api.get_json(
            "/v1/diff",
            &[("target", target.to_owned()), ("since", since.to_owned())],
            LARGE_REPLY,
        )?,
        Source::Db { rt, store, .. } => {
            let at = Millis::parse(since).with_context(|| {
                format!("--since: expected YYYY-MM-DD or an RFC 3339 time, found `{since}`")
            })?;
            rt.block_on(query::diff(store.as_ref(), target, at))?
                .with_context(|| format!("no node or site `{target}`"))?
        }
    })
}

/// `query openstack`: every deliverable's currency, of one site or node.
fn openstack(
    src: &Source,
    site: Option<&String>,
    node: Option<&String>,
    data: &std::path::Path,
    now: Millis,
) -> anyhow::Result<Vec<DeliverableCurrency>> {
    let (rows, sites): (Vec<DeliverableCurrency>, BTreeMap<String, String>) = match src {
        Source::Server(api) => {
            let r: Report = api.report()?;
            let sites = r
                .nodes
                .iter()
                .filter_map(|n| Some((n.id.clone(), n.site.clone()?)))
                .collect();
            (r.openstack, sites)
        }
        Source::Db { rt, store, .. } => {
            let dir = data.join("openstack-releases");
            let (cat, _) = OpenStackCatalog::load(&dir).with_context(|| {
                format!(
                    "openstack/releases in {} (give --data, the directory `nminus sync` keeps)",
                    data.display()
                )
            })?;
            let invs = rt.block_on(current_inventories(store.as_ref()))?;
            let today = now.to_datetime().date();
            let sites = invs
                .iter()
                .filter_map(|i| Some((i.node.id.clone(), i.node.site.clone()?)))
                .collect();
            let rows = invs
                .iter()
                .flat_map(|i| crate::fleet::currency(i, &cat, today))
                .collect();
            (rows, sites)
        }
    };
    Ok(rows
        .into_iter()
        .filter(|r| node.is_none_or(|n| &r.node == n))
        .filter(|r| site.is_none_or(|s| sites.get(&r.node) == Some(s)))
        .collect())
}

/// `query controlplane`: a round (the newest, of `cloud`, or `id`), or the rounds stored.
fn control_plane(
    src: &Source,
    cloud: Option<&str>,
    id: Option<i64>,
    history: bool,
    limit: i64,
) -> anyhow::Result<serde_json::Value> {
    match src {
        Source::Server(api) if history => Ok(api.control_plane_history(cloud, limit)?),
        Source::Server(api) => Ok(api.control_plane(cloud, id)?),
        Source::Db { rt, store, .. } => rt.block_on(async {
            if history {
                let r = store
                    .control_plane_rounds(cloud, limit.clamp(1, 10_000))
                    .await?;
                return Ok(serde_json::to_value(r)?);
            }
            match store.control_plane_round(id, cloud).await? {
                Some((_, body)) => Ok(body),
                None => {
                    anyhow::bail!("no control-plane round stored (run serve with --discover-cloud)")
                }
            }
        }),
    }
}

fn emit<T: serde::Serialize>(
    f: QueryFormat,
    v: &T,
    out: &mut Vec<u8>,
    table: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match f {
        QueryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, v)?;
            out.push(b'\n');
        }
        QueryFormat::Table => table(out)?,
    }
    Ok(())
}

fn columns(rows: &[Vec<String>], out: &mut Vec<u8>) -> std::io::Result<()> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn ago(now: Millis, t: Option<Millis>) -> String {
    let Some(t) = t else { return "never".into() };
    let s = (now.0 - t.0).max(0) / 1000;
    match s {
        0..=119 => format!("{s}s ago"),
        120..=7199 => format!("{}m ago", s / 60),
        7200..=172_799 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

fn nodes_table(v: &[NodeView], now: Millis, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut rows = vec![[
        "NODE",
        "SITE",
        "CELL",
        "STATUS",
        "LAST SEEN",
        "FINDINGS",
        "COMPLIANT",
    ]
    .map(str::to_owned)
    .to_vec()];
    for n in v {
        rows.push(vec![
            n.node.id.clone(),
            n.node.site.clone().unwrap_or_default(),
            n.node.cell.clone().unwrap_or_default(),
            n.status.clone(),
            ago(now, n.node.last_seen),
            n.node.open_findings.to_string(),
            match n.node.compliant {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            },
        ]);
    }
    columns(&rows, out)?;
    writeln!(out, "{} node(s)", v.len())
}

fn findings_table(v: &[Finding], out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut rows = vec![["NODE", "SEVERITY", "CODE", "SUBJECT", "ADVISORY"]
        .map(str::to_owned)
        .to_vec()];
    for f in v {
        rows.push(vec![
            f.node.clone(),
            f.severity.as_str().to_owned(),
            f.code.as_str().to_owned(),
            format!(
                "{} {} {}",
                f.subject.ecosystem, f.subject.name, f.subject.version
            )
            .trim()
            .to_owned(),
            f.advisory
                .as_ref()
                .map(|a| a.id.clone())
                .unwrap_or_default(),
        ]);
    }
    columns(&rows, out)?;
    writeln!(out, "{} finding(s)", v.len())
}

fn where_table(v: &[PackageHolder], out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut rows = vec![["NODE", "SITE", "CELL", "ECOSYSTEM", "PACKAGE", "VERSION"]
        .map(str::to_owned)
        .to_vec()];
    for h in v {
        rows.push(vec![
            h.node.clone(),
            h.site.clone().unwrap_or_default(),
            h.cell.clone().unwrap_or_default(),
            h.ecosystem.clone(),
            h.name.clone(),
            h.version.clone(),
        ]);
    }
    columns(&rows, out)?;
    let nodes: std::collections::BTreeSet<&str> = v.iter().map(|h| h.node.as_str()).collect();
    writeln!(out, "{} node(s)", nodes.len())
}

fn diff_text(v: &[NodeDiff], out: &mut Vec<u8>) -> std::io::Result<()> {
    for d in v {
        let short = |h: &Option<String>| {
            h.as_deref()
                .map_or("(none)".to_owned(), |h| h.chars().take(12).collect())
        };
        writeln!(
            out,
            "{} ({}): {} -> {}: {} added, {} removed, {} changed",
            d.node,
            d.site.as_deref().unwrap_or("-"),
            short(&d.since_hash),
            short(&d.current_hash),
            d.added.len(),
            d.removed.len(),
            d.changed.len()
        )?;
        for p in &d.added {
            writeln!(out, "  + {} {} {}", p.ecosystem, p.name, p.version)?;
        }
        for p in &d.removed {
            writeln!(out, "  - {} {} {}", p.ecosystem, p.name, p.version)?;
        }
        for c in &d.changed {
            writeln!(
                out,
                "  ~ {} {} {} -> {}",
                c.ecosystem,
                c.name,
                c.from.join(","),
                c.to.join(",")
            )?;
        }
    }
    Ok(())
}

/// Every node's current inventory, in pages.
async fn current_inventories(
    store: &dyn crate::store::Store,
) -> Result<Vec<Inventory>, crate::store::StoreError> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let batch = store.current_inventories(&after, 256).await?;
        let Some(last) = batch.last() else { break };
        after.clone_from(&last.node);
        out.extend(batch.into_iter().map(|c| c.inventory));
    }
    Ok(out)
}

fn openstack_table(v: &[DeliverableCurrency], out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut rows = vec![[
        "NODE",
        "DELIVERABLE",
        "INSTALLED",
        "SERIES",
        "STATUS",
        "LAG",
        "NEWEST",
        "BEHIND",
    ]
    .map(str::to_owned)
    .to_vec()];
    for d in v {
        let series = d.series_label();
        rows.push(vec![
            d.node.clone(),
            d.deliverable.clone(),
            d.version.clone(),
            series,
            d.status.clone().unwrap_or_else(|| "-".to_owned()),
            d.lag_label(),
            d.newest_in_series.clone().unwrap_or_else(|| "-".to_owned()),
            d.behind.map_or_else(|| "-".to_owned(), |b| b.to_string()),
        ]);
    }
    columns(&rows, out)
}
