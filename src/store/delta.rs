//! Findings rows that outlive a run (no SQL here): a node's *open* findings are its rows not
//! closed yet; a write compares the findings it stores with them, by key ([`finding_key`]: the
//! digest of a finding's template), closes the rows whose key the new findings have no longer
//! (or not as often) and inserts only the findings whose key is new. A push that moved one
//! package on, or a feed change that touches 1 % of the packages, writes the rows of what
//! changed, not every finding of the node again.

use std::collections::{HashMap, HashSet};

use super::bodies::{self, Template};
use super::{findings_digest, FindingKeyHash, StoreError};
use crate::model::Finding;

/// A node's findings made ready for the store away from the one writer: each finding's
/// template (`None`: it is another node's and stored whole) and key.
#[derive(Debug)]
pub(crate) struct PreparedFindings {
    pub(crate) templates: Vec<Option<Template>>,
    pub(crate) keys: Vec<FindingKeyHash>,
}

impl PreparedFindings {
    /// Prepare the `findings` of `node`.
    pub(crate) fn new(findings: &[Finding], node: &str) -> Result<Self, StoreError> {
        let templates = findings
            .iter()
            .map(|f| bodies::template(f, node))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = findings
            .iter()
            .zip(&templates)
            .map(|(f, t)| match t {
                Some(t) => key_of(&t.digest),
                None => super::finding_key(f, node),
            })
            .collect();
        Ok(Self { templates, keys })
    }

    /// The digest stored with these findings for inventory `hash` (equal to
    /// [`Judged::digest`](super::Judged::digest)).
    pub(crate) fn digest(&self, hash: &str) -> [u8; 32] {
        let mut keys = self.keys.clone();
        findings_digest(hash, &mut keys)
    }

    /// Whether finding `i` has a template (is stored by its key).
    pub(crate) fn templated(&self, i: usize) -> bool {
        self.templates.get(i).is_some_and(Option::is_some)
    }
}

/// The key of a template digest.
pub(crate) fn key_of(digest: &[u8; 32]) -> FindingKeyHash {
    let mut k = [0u8; 16];
    k.copy_from_slice(&digest[..16]);
    k
}

/// A node's open findings as stored: the rows per template (by key: the template's full digest
/// and how many rows name it), and how many rows are stored whole (no template; their key is
/// not known to the store, so a write closes them all and inserts its whole findings again).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenFindings {
    pub(crate) by_key: HashMap<FindingKeyHash, ([u8; 32], u32)>,
    pub(crate) whole: u32,
}

impl OpenFindings {
    /// Count one more row naming template `digest` (`None`: a row stored whole).
    pub(crate) fn add(&mut self, digest: Option<[u8; 32]>, rows: u32) {
        match digest {
            Some(d) => {
                let e = self.by_key.entry(key_of(&d)).or_insert((d, 0));
                e.1 += rows;
            }
            None => self.whole += rows,
        }
    }
}

/// What a write of a node's findings changes in its open rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// Templates whose open rows are all closed.
    pub(crate) close: Vec<[u8; 32]>,
    /// Close the rows stored whole.
    pub(crate) close_whole: bool,
    /// Keys whose findings are all inserted.
    pub(crate) insert: HashSet<FindingKeyHash>,
}

impl Change {
    /// Nothing to write.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.close.is_empty() && !self.close_whole && self.insert.is_empty()
    }
}

/// The change from the `open` rows to the findings whose templated keys are `keys` (with
/// repetition; findings stored whole are inserted whatever this says): a key whose count
/// differs has its rows closed and its findings inserted, so the open rows are the new
/// findings exactly, as a multiset.
pub(crate) fn change(open: &OpenFindings, keys: &[FindingKeyHash]) -> Change {
    let mut new: HashMap<FindingKeyHash, u32> = HashMap::with_capacity(keys.len());
    for k in keys {
        *new.entry(*k).or_default() += 1;
    }
    let mut out = Change {
        close_whole: open.whole > 0,
        ..Change::default()
    };
    for (k, (digest, n)) in &open.by_key {
        if new.get(k) != Some(n) {
            out.close.push(*digest);
        }
    }
    for (k, n) in new {
        if open.by_key.get(&k).map(|(_, o)| *o) != Some(n) {
            out.insert.insert(k);
        }
    }
    out.close.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> [u8; 32] {
        [b; 32]
    }

    /// Applying a change to the open rows gives the new findings exactly, as a multiset:
    /// checked against every small multiset pair over three keys.
    #[test]
    fn a_change_turns_the_open_rows_into_the_new_findings_exactly() {
        let counts = |v: &[u32]| -> HashMap<FindingKeyHash, u32> {
            v.iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (key_of(&d(i as u8)), *n))
                .collect()
        };
        let all: Vec<[u32; 3]> = (0..27).map(|i| [i % 3, (i / 3) % 3, i / 9]).collect();
        for old in &all {
            for new in &all {
                for whole in [0, 2] {
                    let mut open = OpenFindings::default();
                    for (i, n) in old.iter().enumerate() {
                        if *n > 0 {
                            open.add(Some(d(i as u8)), *n);
                        }
                    }
                    open.add(None, whole);
                    let keys: Vec<FindingKeyHash> = new
                        .iter()
                        .enumerate()
                        .flat_map(|(i, n)| std::iter::repeat_n(key_of(&d(i as u8)), *n as usize))
                        .collect();
                    let c = change(&open, &keys);
                    assert_eq!(c.close_whole, whole > 0);
                    // Apply: close, then insert every finding of an inserted key.
                    let mut rows = counts(old);
                    for digest in &c.close {
                        rows.remove(&key_of(digest));
                    }
                    for k in &keys {
                        if c.insert.contains(k) {
                            *rows.entry(*k).or_default() += 1;
                        }
                    }
                    assert_eq!(rows, counts(new), "{old:?} -> {new:?}");
                    // Only what differs is touched.
                    for (i, (o, n)) in old.iter().zip(new).enumerate() {
                        let k = key_of(&d(i as u8));
                        assert_eq!(
                            c.insert.contains(&k),
                            o != n && *n > 0,
                            "{old:?} -> {new:?}"
                        );
                        assert_eq!(c.close.contains(&d(i as u8)), o != n && *o > 0);
                    }
                    assert_eq!(c.is_empty(), old == new && whole == 0);
                }
            }
        }
    }
}
