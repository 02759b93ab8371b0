//! The OpenStack name table: normalised PyPI name → deliverable and type, generated data
//! (`openstack_deliverables.tsv`, from openstack/releases; the drift test lives with the OpenStack
//! collector). The agent recognises services by it, and the analyzer looks up OSSA advisories by
//! deliverable with it, without loading openstack/releases.

use std::sync::OnceLock;

/// `normalized PyPI name \t deliverable \t type`, sorted by name, generated (see the module
/// docs).
pub(crate) const TABLE: &str = include_str!("openstack_deliverables.tsv");

/// A recognised deliverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deliverable {
    /// Deliverable name in openstack/releases.
    pub name: &'static str,
    /// `service`, `library`, `client-library`, `horizon-plugin`, `trailing`, `other`.
    pub kind: &'static str,
}

/// The table's rows, parsed once, sorted by name.
fn table() -> &'static [(&'static str, Deliverable)] {
    static ROWS: OnceLock<Vec<(&'static str, Deliverable)>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows: Vec<(&str, Deliverable)> = TABLE
            .lines()
            .filter_map(|l| {
                let mut it = l.split('\t');
                let (n, d, k) = (it.next()?, it.next()?, it.next()?);
                Some((n, Deliverable { name: d, kind: k }))
            })
            .collect();
        rows.sort_by_key(|(n, _)| *n);
        rows
    })
}

/// Look up a PEP 503-normalised PyPI name (a binary search: this runs for every Python
/// package of every node).
pub fn lookup(normalized: &str) -> Option<Deliverable> {
    let rows = table();
    rows.binary_search_by_key(&normalized, |(n, _)| n)
        .ok()
        .map(|i| rows[i].1)
}
