//! Where a plan's inventories come from when the central analyzer (`nminus serve`) holds them:
//! its API (`--server`, through [`crate::client`], page by page, with the API token when the
//! server wants one) or its database (`--db`, the store read as `GET /v1/inventories` reads
//! it). Each history entry comes with its own collection time, so the planner orders a node's
//! history exactly as it orders inventory files.

use std::path::Path;
use std::time::Duration;

use crate::client::{ApiClient, ClientError, ClientOptions, Credential};
use crate::plan::Gathered;
use crate::serve::query::{stored_inventories, InventoryCursor, InventoryQuery};
use crate::store::{Store, StoreError};

/// Which stored inventories a plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum History {
    /// Each node's latest inventory collected on or before the plan's date (upgrades and
    /// replications read only that).
    Latest,
    /// Every inventory of every node up to that date (rollbacks go back through it).
    All,
}

/// Every inventory collected at or before `until` (RFC 3339) from the server at `server` (its
/// base URL). An entry that cannot be read as an inventory, or may not be planned from, is a
/// problem (a plan warning); a server that cannot be reached or refuses is an error.
pub(super) fn from_server(
    server: &str,
    token: Option<&str>,
    ca_file: Option<&Path>,
    until: &str,
    history: History,
    timeout: Duration,
) -> Result<Gathered, ClientError> {
    let opts = ClientOptions::new(timeout).ca_file(ca_file);
    let api = ApiClient::new(server, token, Credential::ApiToken, &opts)?;
    let fetched = api.inventories(until, history == History::Latest)?;
    let mut input = Gathered::default();
    for (at, entry) in fetched.entries {
        match entry {
            Ok(e) => input.add(&at, e.inventory),
            Err(why) => input.problem(&at, why),
        }
    }
    Ok(input)
}

/// Every inventory collected at or before `until` straight from a store (what
/// `GET /v1/inventories` answers, without the pages).
pub(super) async fn from_store(
    store: &dyn Store,
    until: &str,
    history: History,
) -> Result<Gathered, StoreError> {
    let mut input = Gathered::default();
    let mut after: Option<InventoryCursor> = None;
    loop {
        let q = InventoryQuery {
            until: Some(until.to_owned()),
            latest: history == History::Latest,
            after: after.take(),
            limit: 1000,
            ..InventoryQuery::default()
        };
        let page = stored_inventories(store, &q).await?;
        for s in page.inventories {
            let at = format!(
                "{} (stored)",
                crate::plan::render::one_line(&s.inventory.node.id)
            );
            input.add(&at, s.inventory);
        }
        match page.next.as_deref().and_then(InventoryCursor::parse) {
            Some(c) => after = Some(c),
            None => return Ok(input),
        }
    }
}
