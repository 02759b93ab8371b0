//! Inventories kept by the central analyzer (`nminus serve`) as a [`PlanInput`]: read over HTTP
//! (`GET /v1/inventories`, page by page, with the API token when the server wants one) or
//! straight from its store. Each history entry comes with its own collection time, so the
//! planner orders a node's history exactly as it orders inventory files.

use std::time::Duration;

use crate::model::{Inventory, Location, Problem, ProblemKind};
use crate::serve::protocol::ErrorBody;
use crate::serve::query::{stored_inventories, InventoryCursor, InventoryQuery, StoredInventory};
use crate::store::Store;

use super::{PlanError, PlanInput};

/// Which stored inventories a plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum History {
    /// Each node's latest inventory collected on or before the plan's date (upgrades and
    /// replications read only that).
    Latest,
    /// Every inventory of every node up to that date (rollbacks go back through it).
    All,
}

/// Inventories read from a server or its store.
#[derive(Debug, Default, Clone)]
pub(crate) struct StoredInput {
    inventories: Vec<Inventory>,
    problems: Vec<Problem>,
}

/// The query string of `GET /v1/inventories`, without the cursor.
fn query_pairs(until: &str, history: History) -> Vec<(&'static str, String)> {
    let mut q = vec![("until", until.to_owned())];
    if history == History::Latest {
        q.push(("latest", "true".to_owned()));
    }
    q
}

/// An HTTP client for the analyzer's API: `timeout` bounds a request; with `ca_file` (PEM), the
/// server's certificate must come from that CA only (a server with a private CA).
pub(crate) fn api_client(
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::blocking::Client, String> {
    let mut b = reqwest::blocking::Client::builder().timeout(timeout);
    if let Some(ca) = ca_file {
        let pem = fs_err::read(ca).map_err(|e| e.to_string())?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("{}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: holds no PEM certificate", ca.display()));
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("cannot start an HTTP client: {e}"))
}

fn server_error(url: &str, message: String) -> PlanError {
    PlanError::Server {
        url: url.to_owned(),
        message,
    }
}

impl StoredInput {
    /// Read every inventory collected at or before `until` (RFC 3339) from the server at
    /// `server` (its base URL), page by page. An entry that cannot be read as an inventory is a
    /// problem (a plan warning); a server that cannot be reached or refuses is an error.
    pub(crate) fn fetch(
        server: &str,
        token: Option<&str>,
        ca_file: Option<&std::path::Path>,
        until: &str,
        history: History,
        timeout: Duration,
    ) -> Result<Self, PlanError> {
        let http = api_client(timeout, ca_file).map_err(|message| PlanError::Server {
            url: server.to_owned(),
            message,
        })?;
        let url = format!("{}/v1/inventories", server.trim_end_matches('/'));
        let mut me = Self::default();
        let mut after: Option<String> = None;
        loop {
            let mut q = query_pairs(until, history);
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let mut rq = http.get(&url).query(&q);
            if let Some(t) = token {
                rq = rq.bearer_auth(t);
            }
            let resp = rq
                .send()
                .map_err(|e| server_error(&url, format!("cannot reach `{url}`: {e}")))?;
            let status = resp.status();
            let bytes = resp
                .bytes()
                .map_err(|e| server_error(&url, format!("{url}: cannot read the answer: {e}")))?;
            if !status.is_success() {
                let msg = serde_json::from_slice::<ErrorBody>(&bytes)
                    .map(|e| e.error)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
                let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
                    " (give the server's API token with --token or NMINUS_API_TOKEN)"
                } else {
                    ""
                };
                return Err(server_error(&url, format!("{url}: {status}: {msg}{hint}")));
            }
            let page: RawPage = serde_json::from_slice(&bytes).map_err(|e| {
                server_error(&url, format!("{url}: not a page of inventories: {e}"))
            })?;
            for (i, v) in page.inventories.into_iter().enumerate() {
                let at = format!(
                    "{url} ({}#{})",
                    v.get("node").and_then(|n| n.as_str()).unwrap_or("?"),
                    v.get("hash")
                        .and_then(|h| h.as_str())
                        .map_or_else(|| i.to_string(), |h| h.chars().take(12).collect()),
                );
                match serde_json::from_value::<StoredInventory>(v) {
                    Ok(s) => match super::plannable(&s.inventory) {
                        Ok(()) => me.inventories.push(s.inventory),
                        Err(why) => me.problems.push(Problem::new(
                            Location::path(at),
                            ProblemKind::Malformed,
                            why,
                        )),
                    },
                    Err(e) => me.problems.push(Problem::new(
                        Location::path(at),
                        ProblemKind::Malformed,
                        format!("not an nminus inventory: {e}"),
                    )),
                }
            }
            match page.next {
                Some(n) if after.as_deref() != Some(n.as_str()) => after = Some(n),
                Some(n) => {
                    return Err(server_error(
                        &url,
                        format!("{url}: the server sent the same page twice (after `{n}`)"),
                    ))
                }
                None => break,
            }
        }
        Ok(me)
    }

    /// Read every inventory collected at or before `until` straight from a store (what
    /// `GET /v1/inventories` answers, without the pages).
    pub(crate) async fn read(
        store: &dyn Store,
        until: &str,
        history: History,
    ) -> Result<Self, PlanError> {
        let mut me = Self::default();
        let mut after: Option<InventoryCursor> = None;
        loop {
            let q = InventoryQuery {
                until: Some(until.to_owned()),
                latest: history == History::Latest,
                after: after.take(),
                limit: 1000,
                ..InventoryQuery::default()
            };
            let page = stored_inventories(store, &q)
                .await
                .map_err(|e| PlanError::Store(e.to_string()))?;
            for s in page.inventories {
                match super::plannable(&s.inventory) {
                    Ok(()) => me.inventories.push(s.inventory),
                    Err(why) => me.problems.push(Problem::new(
                        Location::path(format!(
                            "{} (stored)",
                            crate::plan::render::one_line(&s.inventory.node.id)
                        )),
                        ProblemKind::Malformed,
                        why,
                    )),
                }
            }
            match page.next.as_deref().and_then(InventoryCursor::parse) {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        Ok(me)
    }
}

/// A page as sent, each entry read on its own.
#[derive(serde::Deserialize)]
struct RawPage {
    inventories: Vec<serde_json::Value>,
    #[serde(default)]
    next: Option<String>,
}

impl PlanInput for StoredInput {
    fn inventories(&self) -> &[Inventory] {
        &self.inventories
    }
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}
