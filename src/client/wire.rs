//! The client ↔ server contract: request and response bodies of `/v1/enroll` and
//! `/v1/inventories` (pushes and pages), the error body of every endpoint, and the inventory
//! content hash both sides compute. `serve` answers with these types, the client reads them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Inventory;
use crate::util::Millis;

/// `POST /v1/enroll` body (with `Authorization: Bearer <enrollment secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrollRequest {
    /// The node id the token will belong to.
    pub node: String,
}

/// `POST /v1/enroll` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EnrollResponse {
    /// The node id.
    pub node: String,
    /// The node's token (shown once; the server keeps only its sha256).
    pub token: String,
}

/// A heartbeat body: "my inventory is still the one with this hash".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Heartbeat {
    /// Content hash of the node's unchanged inventory.
    pub heartbeat: String,
}

/// `POST /v1/inventories` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PushResponse {
    /// `stored` (a new inventory, judged) or `unchanged` (heartbeat).
    pub status: String,
    /// The node.
    pub node: String,
    /// The content hash the server holds for the node.
    pub hash: String,
    /// Findings not waived (stored pushes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<usize>,
    /// The analysis run (stored pushes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
}

/// Error bodies of every endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// A stable code (`unauthorized`, `too-large`, `invalid-inventory`, `inventory-required` …).
    pub code: String,
    /// The offending JSON field, for invalid inventories (`packages[3].version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The largest body the server accepts, after decompression (`too-large` answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One entry of a node's history with its whole inventory (`GET /v1/inventories`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredInventory {
    /// Node.
    pub node: String,
    /// Content hash.
    pub hash: String,
    /// When the server received it.
    pub received_at: Millis,
    /// The inventory; its `collected_at` is this entry's collection time (an inventory that
    /// came back after a change is stored once, but each of its entries keeps its own time).
    pub inventory: Inventory,
}

/// One page of `/v1/nodes` or `/v1/findings`: `next` is the cursor of the following page
/// (`null` on the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Page<T> {
    /// The entries, in a stable order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// A page of [`StoredInventory`]s.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InventoryPage {
    /// By node id, then collection time (oldest first).
    pub inventories: Vec<StoredInventory>,
    /// Give it as `after` to read the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The content hash of an inventory: sha256 (hex) over its JSON serialisation (fields in schema
/// order, maps sorted by key, no whitespace) without the `collected_at` member, so an unchanged
/// node hashes the same every run. Agent and server compute it with this same function.
pub fn content_hash(inv: &Inventory) -> String {
    hash_and_body(inv).0
}

/// The content hash and the serialisation it was computed from (what the server stores).
pub fn hash_and_body(inv: &Inventory) -> (String, String) {
    let body = serde_json::to_string(inv).unwrap_or_default();
    let mut h = Sha256::new();
    match time_member(inv, &body) {
        Some((start, end)) => {
            h.update(&body.as_bytes()[..start]);
            h.update(&body.as_bytes()[end..]);
        }
        None => {
            // A layout this code does not expect: hash a copy without the time instead.
            let mut c = inv.clone();
            c.collected_at.clear();
            h.update(serde_json::to_string(&c).unwrap_or_default().as_bytes());
        }
    }
    (crate::util::hex(&h.finalize()), body)
}

/// Where `,"collected_at":"…"` sits in `body` (the serialisation of `inv`): right after the
/// node, as the fields are declared.
fn time_member(inv: &Inventory, body: &str) -> Option<(usize, usize)> {
    let start = format!("{{\"schema_version\":{},\"node\":", inv.schema_version).len()
        + serde_json::to_string(&inv.node).ok()?.len();
    let member = format!(
        ",\"collected_at\":{}",
        serde_json::to_string(&inv.collected_at).ok()?
    );
    body.get(start..)?
        .starts_with(&member)
        .then_some((start, start + member.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_collection_time_only() {
        let mut a: Inventory = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "node": {"id": "n1"}, "collected_at": "2026-01-01T00:00:00Z",
            "agent": {"name": "nminus", "version": "0"}, "root": "/", "packages": []
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let h1 = content_hash(&a);
        a.collected_at = "2026-02-02T00:00:00Z".into();
        assert_eq!(content_hash(&a), h1);
        a.node.site = Some("par1".into());
        assert_ne!(content_hash(&a), h1);
        assert_eq!(h1.len(), 64);
        let (_, body) = hash_and_body(&a);
        assert!(
            time_member(&a, &body).is_some(),
            "the time is cut out of the serialisation"
        );
    }
}
