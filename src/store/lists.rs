//! Content-addressed package lists: an inventory is stored as its body without packages plus a
//! reference to its list; a list is the ids of its packages; a package is stored once, keyed by
//! the sha256 of its JSON. This module holds the encoding (no SQL): digests, the list's id
//! blob, and the split and re-assembly of an inventory.

use sha2::{Digest, Sha256};

use super::StoreError;
use crate::model::{Inventory, Package};

/// Packages inserted or looked up per statement (2 parameters each; under both backends'
/// limits).
pub(crate) const PACKAGES_PER_STATEMENT: usize = 500;

/// One package ready to store: the sha256 of its JSON, and the JSON.
#[derive(Debug)]
pub(crate) struct StoredPackage {
    pub(crate) digest: [u8; 32],
    pub(crate) json: String,
}

/// An inventory split for storage.
#[derive(Debug)]
pub(crate) struct SplitInventory {
    /// The inventory without its packages, JSON.
    pub(crate) skeleton: String,
    /// Its packages, in order.
    pub(crate) packages: Vec<StoredPackage>,
    /// The list's content address: sha256 over the packages' digests in order.
    pub(crate) list_hash: [u8; 32],
}

/// Split `inv` into its skeleton and packages. Serialising a model value cannot fail (no
/// maps with non-string keys); a failure is reported as corrupt input all the same.
pub(crate) fn split(inv: &Inventory) -> Result<SplitInventory, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        what: "inventory",
        message: e.to_string(),
    };
    let mut packages = Vec::with_capacity(inv.packages.len());
    let mut list = Sha256::new();
    for p in &inv.packages {
        let json = serde_json::to_string(p).map_err(corrupt)?;
        let digest: [u8; 32] = Sha256::digest(json.as_bytes()).into();
        list.update(digest);
        packages.push(StoredPackage { digest, json });
    }
    let skeleton = Inventory {
        schema_version: inv.schema_version,
        node: inv.node.clone(),
        collected_at: inv.collected_at.clone(),
        agent: inv.agent.clone(),
        root: inv.root.clone(),
        os: inv.os.clone(),
        packages: Vec::new(),
        images: inv.images.clone(),
        services: inv.services.clone(),
        problems: inv.problems.clone(),
    };
    Ok(SplitInventory {
        skeleton: serde_json::to_string(&skeleton).map_err(corrupt)?,
        packages,
        list_hash: list.finalize().into(),
    })
}

/// A list's ids as stored (8 bytes each, little-endian).
pub(crate) fn encode_ids(ids: &[i64]) -> Vec<u8> {
    ids.iter().flat_map(|i| i.to_le_bytes()).collect()
}

/// A stored list's ids; [`StoreError::Corrupt`] naming the list when its length is not a
/// multiple of 8.
pub(crate) fn decode_ids(blob: &[u8], list: &[u8]) -> Result<Vec<i64>, StoreError> {
    if blob.len() % 8 != 0 {
        return Err(StoreError::Corrupt {
            what: "package list",
            message: format!(
                "list {} is {} bytes long, not a multiple of 8",
                super::hex(list),
                blob.len()
            ),
        });
    }
    Ok(blob
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}

/// Decode one stored package, naming it when it cannot be read.
pub(crate) fn decode_package(id: i64, json: &str) -> Result<Package, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "package",
        message: format!("package {id}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_a_torn_list_is_an_error() {
        let ids = [1i64, -2, i64::MAX];
        assert_eq!(decode_ids(&encode_ids(&ids), b"l").ok(), Some(ids.to_vec()));
        let e = decode_ids(&[0; 9], b"l").err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("not a multiple of 8")));
    }
}
