//! The agent ↔ server contract: request and response bodies of `/v1/enroll` and
//! `/v1/inventories`, and the inventory content hash both sides compute.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Inventory;

/// `POST /v1/enroll` body (with `Authorization: Bearer <enrollment secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The node id the token will belong to.
    pub node: String,
}

/// `POST /v1/enroll` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The node id.
    pub node: String,
    /// The node's token (shown once; the server keeps only its sha256).
    pub token: String,
}

/// A heartbeat body: "my inventory is still the one with this hash".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Content hash of the node's unchanged inventory.
    pub heartbeat: String,
}

/// `POST /v1/inventories` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
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
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// A stable code (`unauthorized`, `too-large`, `invalid-inventory`, `inventory-required` …).
    pub code: String,
    /// The offending JSON field, for invalid inventories (`packages[3].version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The content hash of an inventory: sha256 (hex) over its canonical JSON (object keys sorted,
/// no whitespace) without `collected_at`, so an unchanged node hashes the same every run.
pub fn content_hash(inv: &Inventory) -> String {
    let mut v = serde_json::to_value(inv).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("collected_at");
    }
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    canonical(&v, &mut buf);
    h.update(&buf);
    crate::store::hex(&h.finalize())
}

fn canonical(v: &serde_json::Value, out: &mut Vec<u8>) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Writing a string into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                canonical(&m[k], out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
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
    }
}
