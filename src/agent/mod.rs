//! The node side of the central analyzer: enroll once, then collect and push.
//!
//! Each run collects the root ([`crate::collect::collect_root`]), hashes the inventory
//! ([`content_hash`]) and, when the hash is the one the server last acknowledged, sends a
//! heartbeat instead of the inventory. Full inventories are sent gzipped with `If-None-Match`
//! so a server that already holds them answers without reading them. Transient failures
//! (connection errors, timeouts, 5xx, 429) are retried with exponential backoff; when the server
//! stays unreachable the inventory is spooled to `<state-dir>/spool/` and delivered, oldest
//! first, before anything else on a later run. A rejected inventory (4xx) is never retried: a
//! spooled one moves to `<state-dir>/rejected/` so that it cannot block the spool; a refused
//! credential (401, 403) is not the inventory's fault, and the spool is kept until it passes.
//!
//! The HTTP side is [`crate::client`]: every answer of the server is read with a bound on its
//! size ([`crate::client::SMALL_REPLY`]) and on its time (the request timeout): a hostile
//! server, or anyone on the path of plain HTTP, cannot grow the agent's memory. An inventory over the server's body limit is trimmed to fit
//! ([`trim::trim_to_fit`]) with a problem saying what was left out, never refused forever;
//! the limit the server announced is remembered so later runs trim before sending.
//!
//! State files (`<state-dir>`, default `/var/lib/nminus/agent`): `agent.json` (server, node id,
//! token, TLS files; mode 0600), `last-hash` (the hash the server last acknowledged),
//! `body-limit` (the server's limit, once it refused a body), `spool/`, `rejected/`.

mod trim;

pub(crate) use trim::trim_to_fit;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{content_hash, ApiClient, ClientError, ClientOptions, Credential, Pushed};
use crate::collect::{collect_root, CollectOptions, Root};
use crate::model::{Inventory, NodeInfo};
use crate::util::Millis;

pub(crate) use crate::client::TlsOptions;

/// What an enrolled agent keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentState {
    /// The server's base URL.
    pub server: String,
    /// This node's id.
    pub node: String,
    /// This node's token.
    pub token: String,
    /// TLS settings given at enrollment (used when a run gives none).
    #[serde(default, flatten)]
    pub tls: TlsOptions,
}

/// Why the agent failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentError {
    /// A state file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The agent is not enrolled.
    #[error("not enrolled: `{0}` is missing\nhint: run `nminus agent enroll --server URL --token SECRET` first")]
    NotEnrolled(PathBuf),
    /// A state file is corrupt.
    #[error("`{path}` is not a valid agent state file: {message}")]
    BadState {
        /// File.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An argument cannot work (a server that is not an http(s) URL, an unusable node id).
    #[error("{0}")]
    Invalid(String),
    /// The server could not be reached (after retries).
    #[error("cannot reach the server `{server}`: {message}")]
    Unreachable {
        /// Server.
        server: String,
        /// Last error.
        message: String,
    },
    /// The body is over the server's limit (after decompression).
    #[error("the server refused the {what}: over its body limit of {limit} bytes")]
    TooLarge {
        /// What was sent.
        what: &'static str,
        /// The server's limit.
        limit: usize,
    },
    /// The server refused the request; retrying would not help.
    #[error("the server refused the {what}: {source}")]
    Rejected {
        /// What was sent.
        what: &'static str,
        /// The refusal (URL, status, the server's message; a 401 says which secret to give).
        source: ClientError,
    },
    /// The node id is unknown.
    #[error("cannot tell this node's id: the root has no /etc/hostname\nhint: pass --node-id")]
    NoNodeId,
    /// The HTTP client could not be built, or the server is not an http(s) URL.
    #[error(transparent)]
    Client(ClientError),
}

impl AgentError {
    /// Whether the failure is the server's absence (spool and try later).
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First delay; doubled each retry.
    pub delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            retries: 5,
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub(crate) struct AgentConfig {
    /// State directory.
    pub state_dir: PathBuf,
    /// Server base URL (default: the enrolled one).
    pub server: Option<String>,
    /// Root to collect.
    pub root: PathBuf,
    /// Site, cell, labels (the id comes from enrollment).
    pub node: NodeInfo,
    /// Retries.
    pub retry: Retry,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Spooled inventories kept at most (oldest dropped).
    pub spool_limit: usize,
    /// TLS settings (missing ones from the enrollment).
    pub tls: TlsOptions,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from("/var/lib/nminus/agent"),
            server: None,
            root: PathBuf::from("/"),
            node: NodeInfo::default(),
            retry: Retry::default(),
            timeout: Duration::from_secs(60),
            spool_limit: 168,
            tls: TlsOptions::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunOutcome {
    /// The inventory's hash.
    pub hash: String,
    /// `stored`, `unchanged` or `spooled`.
    pub status: String,
    /// Spooled inventories delivered first.
    pub delivered_from_spool: usize,
    /// Inventories left in the spool.
    pub spooled: usize,
    /// What was left out of an inventory over the server's body limit.
    pub trimmed: Option<String>,
}

/// The agent's client of `server` with `token`.
fn client(
    server: &str,
    token: &str,
    credential: Credential,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<ApiClient, AgentError> {
    let opts = ClientOptions {
        timeout,
        tls: tls.clone(),
        user_agent: concat!("nminus-agent/", env!("CARGO_PKG_VERSION")),
    };
    ApiClient::new(server, Some(token), credential, &opts).map_err(AgentError::Client)
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("agent.json")
}

/// Write `bytes` to `path` atomically (temporary file + rename, `fsync`ed), with `mode` on Unix.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    crate::util::Atomic {
        create_dir: true,
        mode: Some(mode),
        sync: true,
    }
    .write(path, bytes)
}

/// Enroll with the server's enrollment `secret` as node `node`; writes `<state_dir>/agent.json`.
pub(crate) fn enroll(
    server: &str,
    secret: &str,
    node: &str,
    state_dir: &Path,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<AgentState, AgentError> {
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(AgentError::Invalid(format!(
            "--server `{server}`: expected an http:// or https:// URL (for example `https://{server}`)"
        )));
    }
    if !crate::model::valid_name(node) {
        return Err(AgentError::Invalid(format!(
            "node id `{node}`: expected 1 to 253 letters, digits, `.`, `-`, `_` or `:` (give --node-id)"
        )));
    }
    let c = client(server, secret, Credential::EnrollSecret, timeout, tls)?;
    let e = c.enroll(node).map_err(|e| match e {
        ClientError::Unreachable { message, .. } => AgentError::Unreachable {
            server: server.to_owned(),
            message,
        },
        source => AgentError::Rejected {
            what: "enrollment",
            source,
        },
    })?;
    let st = AgentState {
        server: server.to_owned(),
        node: e.node,
        token: e.token,
        tls: tls.clone(),
    };
    let json = serde_json::to_vec_pretty(&st).map_err(std::io::Error::other)?;
    write_atomic(&state_path(state_dir), &json, 0o600)?;
    Ok(st)
}

/// The node id to enroll as: `explicit`, else the root's hostname.
pub(crate) fn default_node_id(explicit: Option<&str>, root: &Path) -> Result<String, AgentError> {
    if let Some(n) = explicit {
        return Ok(n.to_owned());
    }
    Root::new(root).hostname().ok_or(AgentError::NoNodeId)
}

/// An enrolled agent.
#[derive(Debug)]
pub(crate) struct Agent {
    cfg: AgentConfig,
    state: AgentState,
    api: ApiClient,
}

impl Agent {
    /// Load the enrollment from the state directory.
    pub(crate) fn open(cfg: AgentConfig) -> Result<Self, AgentError> {
        let path = state_path(&cfg.state_dir);
        let bytes = match fs_err::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AgentError::NotEnrolled(path))
            }
            Err(e) => return Err(e.into()),
        };
        let state: AgentState =
            serde_json::from_slice(&bytes).map_err(|e| AgentError::BadState {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let server = cfg.server.clone().unwrap_or_else(|| state.server.clone());
        let tls = cfg.tls.clone().or(&state.tls);
        let api = client(
            &server,
            &state.token,
            Credential::NodeToken,
            cfg.timeout,
            &tls,
        )?;
        Ok(Self { cfg, state, api })
    }

    /// The enrolled node id.
    pub(crate) fn node(&self) -> &str {
        &self.state.node
    }

    /// Collect the root as this node at `collected_at`.
    pub(crate) fn collect(&self, collected_at: &str) -> Inventory {
        let mut node = self.cfg.node.clone();
        node.id.clone_from(&self.state.node);
        let opts = CollectOptions {
            node,
            collected_at: collected_at.to_owned(),
        };
        collect_root(&Root::new(&self.cfg.root), &opts)
    }

    /// Collect and deliver (spool first, then this inventory or a heartbeat).
    pub(crate) fn run_once(&self, collected_at: &str) -> Result<RunOutcome, AgentError> {
        let inv = self.collect(collected_at);
        self.deliver(&inv)
    }

    /// Deliver `inv` (after the spool); spools it when the server is unreachable.
    /// An inventory over the server's body limit is trimmed to fit first (see [`trim_to_fit`]).
    pub(crate) fn deliver(&self, collected: &Inventory) -> Result<RunOutcome, AgentError> {
        let mut limit = self.known_limit();
        let mut delivered = None;
        loop {
            let (inv, trimmed) = match limit.and_then(|l| trim_to_fit(collected, l)) {
                Some((t, m)) => (std::borrow::Cow::Owned(t), Some(m)),
                None => (std::borrow::Cow::Borrowed(collected), None),
            };
            let hash = content_hash(&inv);
            let delivered = match delivered {
                Some(n) => n,
                None => match self.flush_spool() {
                    Ok(n) => *delivered.insert(n),
                    Err(e) if e.is_unreachable() => {
                        self.spool(&inv, &hash)?;
                        return Ok(self.spooled_outcome(hash, 0, trimmed));
                    }
                    Err(e) => return Err(e),
                },
            };
            let last = self.last_hash();
            let r = if last.as_deref() == Some(hash.as_str()) {
                match self.send_heartbeat(&hash) {
                    Ok(Pushed::NeedInventory) => self.send_inventory(&inv, &hash),
                    other => other,
                }
            } else {
                self.send_inventory(&inv, &hash)
            };
            return match r {
                Ok(Pushed::Stored(p) | Pushed::Unchanged(p)) => {
                    self.set_last_hash(&p.hash)?;
                    Ok(RunOutcome {
                        hash,
                        status: p.status,
                        delivered_from_spool: delivered,
                        spooled: self.spool_entries()?.len(),
                        trimmed,
                    })
                }
                Ok(Pushed::NeedInventory) => Err(AgentError::Rejected {
                    what: "inventory",
                    source: ClientError::Unexpected {
                        url: self.api.url("/v1/inventories"),
                        message: "the server asked for the inventory it was just sent".into(),
                    },
                }),
                // Over the limit: remember it and trim (once per limit learned).
                Err(AgentError::TooLarge { limit: l, .. }) if limit != Some(l) => {
                    tracing::warn!("the server's body limit is {l} bytes: trimming the inventory");
                    self.set_known_limit(l)?;
                    limit = Some(l);
                    continue;
                }
                Err(e) if e.is_unreachable() => {
                    self.spool(&inv, &hash)?;
                    Ok(self.spooled_outcome(hash, delivered, trimmed))
                }
                Err(e) => Err(e),
            };
        }
    }

    fn limit_path(&self) -> PathBuf {
        self.cfg.state_dir.join("body-limit")
    }

    /// The body limit the server announced when it last refused a body.
    fn known_limit(&self) -> Option<usize> {
        fs_err::read_to_string(self.limit_path())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn set_known_limit(&self, limit: usize) -> Result<(), AgentError> {
        write_atomic(&self.limit_path(), limit.to_string().as_bytes(), 0o644)?;
        Ok(())
    }

    fn spooled_outcome(
        &self,
        hash: String,
        delivered: usize,
        trimmed: Option<String>,
    ) -> RunOutcome {
        RunOutcome {
            hash,
            status: "spooled".into(),
            delivered_from_spool: delivered,
            spooled: self.spool_entries().map(|v| v.len()).unwrap_or(0),
            trimmed,
        }
    }

    fn last_hash_path(&self) -> PathBuf {
        self.cfg.state_dir.join("last-hash")
    }

    fn last_hash(&self) -> Option<String> {
        fs_err::read_to_string(self.last_hash_path())
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    fn set_last_hash(&self, h: &str) -> Result<(), AgentError> {
        write_atomic(&self.last_hash_path(), h.as_bytes(), 0o644)?;
        Ok(())
    }

    fn spool_dir(&self) -> PathBuf {
        self.cfg.state_dir.join("spool")
    }

    /// Spooled files, oldest first.
    pub(crate) fn spool_entries(&self) -> Result<Vec<PathBuf>, AgentError> {
        let dir = self.spool_dir();
        let rd = match fs_err::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut v: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
            .collect();
        v.sort();
        Ok(v)
    }

    fn spool(&self, inv: &Inventory, hash: &str) -> Result<(), AgentError> {
        let mut entries = self.spool_entries()?;
        let short = &hash[..16.min(hash.len())];
        if entries
            .last()
            .is_some_and(|p| p.to_string_lossy().ends_with(&format!("-{short}.json.gz")))
        {
            return Ok(()); // the same inventory waits already
        }
        let now = Millis::now().0;
        let path = self.spool_dir().join(format!("{now:014}-{short}.json.gz"));
        let json = serde_json::to_vec(inv).map_err(std::io::Error::other)?;
        write_atomic(&path, &gzip(&json)?, 0o600)?;
        entries.push(path);
        while entries.len() > self.cfg.spool_limit.max(1) {
            let old = entries.remove(0);
            tracing::warn!("spool full: dropping {}", old.display());
            fs_err::remove_file(&old)?;
        }
        Ok(())
    }

    /// Deliver spooled inventories oldest first; returns how many were delivered. Stops (with
    /// the error) at the first that cannot be delivered for lack of a server.
    pub(crate) fn flush_spool(&self) -> Result<usize, AgentError> {
        let mut n = 0;
        for path in self.spool_entries()? {
            let body = fs_err::read(&path)?;
            let name = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut sent = self.post_inventory(body.clone(), None);
            if let Err(AgentError::TooLarge { limit, .. }) = sent {
                self.set_known_limit(limit)?;
                if let Some(gz) = trim_spooled(&body, limit) {
                    sent = self.post_inventory(gz, None);
                }
            }
            match sent {
                Ok(Pushed::Stored(p) | Pushed::Unchanged(p)) => {
                    self.set_last_hash(&p.hash)?;
                    fs_err::remove_file(&path)?;
                    n += 1;
                }
                Ok(Pushed::NeedInventory) => {}
                // A refused credential (401) or node (403) says nothing about the inventory:
                // it stays in the spool for when the node is enrolled again.
                Err(AgentError::Rejected { source, what })
                    if matches!(source.status(), Some(401 | 403)) =>
                {
                    return Err(AgentError::Rejected { what, source });
                }
                Err(e @ AgentError::Rejected { .. }) => {
                    let dest = self.cfg.state_dir.join("rejected").join(&name);
                    fs_err::create_dir_all(self.cfg.state_dir.join("rejected"))?;
                    fs_err::rename(&path, &dest)?;
                    tracing::warn!(
                        "spooled inventory {name} rejected, moved to {}: {e}",
                        dest.display()
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    fn send_heartbeat(&self, hash: &str) -> Result<Pushed, AgentError> {
        self.with_retries("heartbeat", || self.api.heartbeat(hash))
    }

    fn send_inventory(&self, inv: &Inventory, hash: &str) -> Result<Pushed, AgentError> {
        let json = serde_json::to_vec(inv).map_err(std::io::Error::other)?;
        self.post_inventory(gzip(&json)?, Some(hash))
    }

    fn post_inventory(&self, gz: Vec<u8>, hash: Option<&str>) -> Result<Pushed, AgentError> {
        self.with_retries("inventory", || self.api.push_inventory(&gz, hash))
    }

    /// `send` until it is answered, retrying what may pass later (no answer, 5xx, 429) with
    /// exponential backoff; a refusal is final, and a 413 says the server's body limit.
    fn with_retries(
        &self,
        what: &'static str,
        send: impl Fn() -> Result<Pushed, ClientError>,
    ) -> Result<Pushed, AgentError> {
        let r = self.cfg.retry;
        let mut delay = r.delay;
        let mut attempt = 0;
        loop {
            let e = match send() {
                Ok(p) => return Ok(p),
                Err(e) => e,
            };
            if !e.is_transient() {
                return Err(match e.body_limit() {
                    Some(limit) => AgentError::TooLarge { what, limit },
                    None => AgentError::Rejected { what, source: e },
                });
            }
            let last_error = match e.status() {
                Some(status) => format!("{status}: {}", e.message()),
                None => e.message(),
            };
            if attempt >= r.retries {
                return Err(AgentError::Unreachable {
                    server: self.api.base().to_owned(),
                    message: last_error,
                });
            }
            attempt += 1;
            tracing::info!(
                "{what} failed ({last_error}); retry {attempt}/{} in {} ms",
                r.retries,
                delay.as_millis()
            );
            std::thread::sleep(delay + jitter(delay / 4));
            delay = (delay * 2).min(r.max_delay);
        }
    }
}

/// A spooled inventory (gzip JSON) trimmed to `limit`; `None` when it cannot be read or fits.
fn trim_spooled(gz: &[u8], limit: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_mul(64))
        .read_to_end(&mut json)
        .ok()?;
    let inv: Inventory = serde_json::from_slice(&json).ok()?;
    let (t, m) = trim_to_fit(&inv, limit)?;
    tracing::warn!("spooled inventory of `{}`: {m}", inv.node.id);
    gzip(&serde_json::to_vec(&t).ok()?).ok()
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 6),
        flate2::Compression::default(),
    );
    e.write_all(bytes)?;
    e.finish()
}

/// A random duration in `[0, max)`.
pub(crate) fn jitter(max: Duration) -> Duration {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() || max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(u64::from_le_bytes(b) % nanos)
}
