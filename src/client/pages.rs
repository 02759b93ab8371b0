//! The read side of the API: stored inventories (the planner's input), findings and nodes a
//! page at a time, the fleet report and the control plane (what `query` asks).

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::model::{Finding, Report};

use super::wire::{Page, StoredInventory};
use super::{ApiClient, ClientError, LARGE_REPLY, PAGE_REPLY};

/// Entries asked per page of `/v1/nodes` and `/v1/findings` (the server's default page).
const PAGE: usize = 1000;

/// Stored inventories as read from the server's pages, in the server's order: where each entry
/// came from (the URL, the node and the hash's start) and the entry, or why it is not one.
#[derive(Debug, Default)]
pub(crate) struct FetchedInventories {
    /// `(where, entry or why not)`.
    pub entries: Vec<(String, Result<StoredInventory, String>)>,
}

/// A page of `/v1/inventories` as sent, each entry read on its own (one bad entry is reported,
/// the rest proceed).
#[derive(Deserialize)]
struct RawInventoryPage {
    inventories: Vec<serde_json::Value>,
    #[serde(default)]
    next: Option<String>,
}

/// Where entry `i` of a page of `url` came from: `url (node#hash…)`.
fn entry_at(url: &str, i: usize, v: &serde_json::Value) -> String {
    let node = v.get("node").and_then(|n| n.as_str()).unwrap_or("?");
    let hash = v
        .get("hash")
        .and_then(|h| h.as_str())
        .map_or_else(|| i.to_string(), |h| h.chars().take(12).collect());
    super::printable(&format!("{url} ({node}#{hash})"))
}

/// The next cursor, or an error when the server sends the same page again.
fn next_cursor(
    url: &str,
    after: Option<&str>,
    next: Option<String>,
) -> Result<Option<String>, ClientError> {
    match next {
        Some(n) if after == Some(n.as_str()) => Err(ClientError::Unexpected {
            url: url.to_owned(),
            message: format!(
                "the server sent the same page twice (after `{}`)",
                super::printable(&n)
            ),
        }),
        other => Ok(other),
    }
}

impl ApiClient {
    /// `GET /v1/inventories`, page by page: every node's inventories collected at or before
    /// `until` (RFC 3339 or a date), each node's latest only when `latest`, else its history.
    pub(crate) fn inventories(
        &self,
        until: &str,
        latest: bool,
    ) -> Result<FetchedInventories, ClientError> {
        let url = self.url("/v1/inventories");
        let mut out = FetchedInventories::default();
        let mut after: Option<String> = None;
        loop {
            let mut q = vec![("until", until.to_owned())];
            if latest {
                q.push(("latest", "true".to_owned()));
            }
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let page: RawInventoryPage = self.get_json("/v1/inventories", &q, PAGE_REPLY)?;
            for (i, v) in page.inventories.into_iter().enumerate() {
                let at = entry_at(&url, i, &v);
                let entry = serde_json::from_value::<StoredInventory>(v)
                    .map_err(|e| format!("not an nminus inventory: {e}"));
                out.entries.push((at, entry));
            }
            match next_cursor(&url, after.as_deref(), page.next)? {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Every entry of a paged endpoint (`/v1/nodes`, `/v1/findings`) matching `query`, read
    /// a page at a time (`limit`, then `cursor` = the previous page's `next`).
    fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        let url = self.url(path);
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.to_string()));
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let page: Page<T> = self.get_json(path, &q, PAGE_REPLY)?;
            out.extend(page.items);
            match next_cursor(&url, cursor.as_deref(), page.next)? {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// `GET /v1/nodes`, every page: the nodes matching `query` (`site`, `cell`, `status`), as
    /// the caller's node view (the server's `NodeView`).
    pub(crate) fn nodes<T: DeserializeOwned>(
        &self,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ClientError> {
        self.all_pages("/v1/nodes", query)
    }

    /// `GET /v1/findings`, every page: the current findings matching `query` (`site`, `cell`,
    /// `node`, `code`, `severity`, `package`, `waived`).
    pub(crate) fn findings(&self, query: &[(&str, String)]) -> Result<Vec<Finding>, ClientError> {
        self.all_pages("/v1/findings", query)
    }

    /// `GET /v1/report.json`: the fleet's report.
    pub(crate) fn report(&self) -> Result<Report, ClientError> {
        self.get_json("/v1/report.json", &[], LARGE_REPLY)
    }

    /// `GET /v1/controlplane`: the newest control-plane round (of `cloud`), or round `id`; the
    /// round's JSON as discovery wrote it.
    pub(crate) fn control_plane(
        &self,
        cloud: Option<&str>,
        id: Option<i64>,
    ) -> Result<serde_json::Value, ClientError> {
        let q: Vec<(&str, String)> = [
            cloud.map(|c| ("cloud", c.to_owned())),
            id.map(|i| ("id", i.to_string())),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.get_json("/v1/controlplane", &q, LARGE_REPLY)
    }

    /// `GET /v1/controlplane/history`: the rounds stored (of `cloud`), newest first, at most
    /// `limit`.
    pub(crate) fn control_plane_history(
        &self,
        cloud: Option<&str>,
        limit: i64,
    ) -> Result<serde_json::Value, ClientError> {
        let mut q = vec![("limit", limit.to_string())];
        if let Some(c) = cloud {
            q.push(("cloud", c.to_owned()));
        }
        self.get_json("/v1/controlplane/history", &q, LARGE_REPLY)
    }
}
