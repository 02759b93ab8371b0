//! `nminus agent`: enroll once, then collect and push to the central analyzer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::serve::parse_duration;
use crate::agent::{self, Agent, AgentConfig, Retry};
use crate::model::{Inventory, NodeInfo};

/// Arguments of `nminus agent`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  nminus agent enroll --server https://nminus.example:8443 --token-file /etc/nminus/enroll-secret \\
      --ca-file /etc/nminus/ca.pem                                       # a private CA, kept for runs
  nminus agent --once --site par1 --cell cell1 --label role=compute      # from cron
  nminus agent --interval 1h --jitter 10m --site par1                    # as a service
  nminus agent --once --inventory /var/lib/nminus/inventory.json         # push `nminus collect -o` output

Exit codes (--once): 0 delivered (or heartbeat), 2 not delivered (spooled for the next run, or
refused), or delivered trimmed to the server's body limit (the inventory says what was left out)."
)]
pub struct AgentArgs {
    /// `enroll`, or nothing to run.
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    /// Run options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands of `nminus agent`.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Get this node's token from the server with the enrollment secret.
    Enroll(EnrollArgs),
}

/// Arguments of `nminus agent enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The server's base URL.
    #[arg(long, env = "NMINUS_SERVER")]
    pub server: String,
    /// The enrollment secret.
    #[arg(
        long,
        env = "NMINUS_ENROLL_TOKEN",
        hide_env_values = true,
        required_unless_present = "token_file"
    )]
    pub token: Option<String>,
    /// A file holding the enrollment secret.
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Node id (default: the root's /etc/hostname).
    #[arg(long)]
    pub node_id: Option<String>,
    /// Root whose hostname names the node.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Where the agent keeps its token, last hash and spool.
    #[arg(
        long,
        env = "NMINUS_AGENT_STATE",
        default_value = "/var/lib/nminus/agent"
    )]
    pub state_dir: PathBuf,
    /// TLS (kept in the state for later runs).
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How the agent talks TLS to the server.
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Trust only these PEM CA certificates for the server (a private CA).
    #[arg(long, env = "NMINUS_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Present this PEM client certificate (a server with --tls-client-ca requires one).
    #[arg(
        long,
        env = "NMINUS_CLIENT_CERT",
        requires = "client_key",
        value_name = "PEM"
    )]
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of --client-cert.
    #[arg(
        long,
        env = "NMINUS_CLIENT_KEY",
        requires = "client_cert",
        value_name = "PEM"
    )]
    pub client_key: Option<PathBuf>,
}

impl TlsArgs {
    fn options(&self) -> agent::TlsOptions {
        let abs = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        };
        agent::TlsOptions {
            ca_file: abs(&self.ca_file),
            client_cert: abs(&self.client_cert),
            client_key: abs(&self.client_key),
        }
    }
}

/// Arguments of a run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The server's base URL (default: the one enrolled with).
    #[arg(long, env = "NMINUS_SERVER")]
    pub server: Option<String>,
    /// Collect and push once, then exit.
    #[arg(long, conflicts_with = "interval")]
    pub once: bool,
    /// Time between runs.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub interval: Duration,
    /// Up to this much random delay before each run (spreads a fleet's pushes).
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub jitter: Duration,
    /// Site of this node.
    #[arg(long)]
    pub site: Option<String>,
    /// Cell of this node.
    #[arg(long)]
    pub cell: Option<String>,
    /// A label `key=value` (repeatable).
    #[arg(long = "label", value_parser = crate::util::parse_label)]
    pub labels: Vec<(String, String)>,
    /// Root to collect.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Push this inventory (`nminus collect -o` output, read again on every run) instead of
    /// collecting --root: its node id must be the enrolled one (or empty); its site, cell,
    /// labels and collection time are sent as they are.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["root", "site", "cell", "labels"])]
    pub inventory: Option<PathBuf>,
    /// Where the agent keeps its token, last hash and spool.
    #[arg(
        long,
        env = "NMINUS_AGENT_STATE",
        default_value = "/var/lib/nminus/agent"
    )]
    pub state_dir: PathBuf,
    /// Retries of a failed request (exponential backoff) before spooling.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// First retry delay (doubled each retry, at most 1 minute).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub retry_delay: Duration,
    /// Timeout of one request, the server's answer included.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub timeout: Duration,
    /// TLS (default: what was given at enrollment).
    #[command(flatten)]
    pub tls: TlsArgs,
}

pub(super) fn run(a: &AgentArgs) -> anyhow::Result<u8> {
    super::serve::init_logging();
    match &a.command {
        Some(AgentCommand::Enroll(e)) => enroll(e),
        None => run_agent(&a.run),
    }
}

pub(super) fn enroll(e: &EnrollArgs) -> anyhow::Result<u8> {
    let secret = match (&e.token, &e.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => fs_err::read_to_string(f)?.trim().to_owned(),
        (None, None) => anyhow::bail!("--token or --token-file is required"),
    };
    let node = agent::default_node_id(e.node_id.as_deref(), &e.root)?;
    let st = agent::enroll(
        &e.server,
        &secret,
        &node,
        &e.state_dir,
        Duration::from_secs(30),
        &e.tls.options(),
    )?;
    eprintln!(
        "enrolled as `{}` with {}; token saved in {}",
        st.node,
        st.server,
        e.state_dir.join("agent.json").display()
    );
    Ok(super::EXIT_OK)
}

pub(super) fn run_agent(a: &RunArgs) -> anyhow::Result<u8> {
    let cfg = AgentConfig {
        state_dir: a.state_dir.clone(),
        server: a.server.clone(),
        root: a.root.clone(),
        node: NodeInfo {
            id: String::new(),
            hostname: None,
            site: a.site.clone(),
            cell: a.cell.clone(),
            labels: a.labels.iter().cloned().collect(),
        },
        retry: Retry {
            retries: a.retries,
            delay: a.retry_delay,
            max_delay: Duration::from_secs(60),
        },
        timeout: a.timeout,
        tls: a.tls.options(),
        ..AgentConfig::default()
    };
    let agent = Agent::open(cfg).context("cannot start the agent")?;
    let file = a.inventory.as_deref();
    if a.once {
        return Ok(once(&agent, file));
    }
    loop {
        std::thread::sleep(agent::jitter(a.jitter));
        once(&agent, file);
        std::thread::sleep(a.interval);
    }
}

/// Read an inventory file for this agent's node.
fn read_inventory(agent: &Agent, path: &Path) -> anyhow::Result<Inventory> {
    let text = fs_err::read_to_string(path)?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let mut inv: Inventory = serde_path_to_error::deserialize(de).map_err(|e| {
        anyhow::anyhow!(
            "{}: not an nminus inventory: {} at `{}`",
            path.display(),
            e.inner(),
            e.path()
        )
    })?;
    if inv.node.id.is_empty() {
        inv.node.id = agent.node().to_owned();
    } else if inv.node.id != agent.node() {
        anyhow::bail!(
            "{}: the inventory of node `{}`, but this agent is enrolled as `{}`",
            path.display(),
            inv.node.id,
            agent.node()
        );
    }
    Ok(inv)
}

fn once(agent: &Agent, file: Option<&Path>) -> u8 {
    let r = match file {
        None => agent.run_once(&super::collect::now_rfc3339()),
        Some(p) => match read_inventory(agent, p) {
            Ok(inv) => agent.deliver(&inv),
            Err(e) => {
                eprintln!(
                    "error: {}: {}",
                    agent.node(),
                    super::terminal_text(&format!("{e:#}"))
                );
                return super::EXIT_ERROR;
            }
        },
    };
    match r {
        Ok(o) if o.status == "spooled" => {
            eprintln!(
                "{}: server unreachable: inventory {} spooled ({} waiting)",
                agent.node(),
                &o.hash[..12],
                o.spooled
            );
            super::EXIT_ERROR
        }
        Ok(o) => {
            if let Some(t) = &o.trimmed {
                eprintln!("error: {}: {t}", agent.node());
            }
            eprintln!(
                "{}: {} {}{}",
                agent.node(),
                o.status,
                &o.hash[..12],
                if o.delivered_from_spool > 0 {
                    format!(
                        " (and {} spooled inventories delivered)",
                        o.delivered_from_spool
                    )
                } else {
                    String::new()
                }
            );
            if o.trimmed.is_some() {
                super::EXIT_ERROR
            } else {
                super::EXIT_OK
            }
        }
        Err(e) => {
            eprintln!(
                "error: {}: {}",
                agent.node(),
                super::terminal_text(&e.to_string())
            );
            super::EXIT_ERROR
        }
    }
}
