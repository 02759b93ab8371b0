//! The advisory index: (canonical ecosystem, normalised package) → affected entries.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::{Advisory, Affected};
use crate::sources::cache::CompiledFeed;
use crate::sources::feeds::FeedAdvisories;

/// Canonical ecosystem key: lower case, Ubuntu's `:LTS`/`:Pro` qualifiers dropped, Alpine's
/// `v` prefix dropped (`Alpine:v3.18` → `alpine:3.18`), Debian point releases dropped.
pub(crate) fn canonical_ecosystem(s: &str) -> String {
    let l = s.trim().to_ascii_lowercase();
    let mut parts = l.splitn(3, ':');
    let name = parts.next().unwrap_or("");
    match parts.next() {
        None => name.to_owned(),
        Some(rel) => {
            let rel = rel.trim();
            let rel = match name {
                "alpine" => {
                    let r = rel.trim_start_matches('v');
                    r.split('.').take(2).collect::<Vec<_>>().join(".")
                }
                "debian" | "almalinux" | "rocky linux" | "red hat" | "rhel" => {
                    rel.split('.').next().unwrap_or(rel).to_owned()
                }
                _ => rel.to_owned(),
            };
            format!("{name}:{rel}")
        }
    }
}

/// Advisories indexed for lookup. Withdrawn advisories are kept (for reporting counts) but not
/// indexed. Advisories of compiled feeds (read back from the cache) are decoded on first lookup
/// and kept; a lockfile scan decodes only the advisories about its packages.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    slots: Vec<Slot>,
    feeds: Vec<CompiledFeed>,
    by_key: ByKey,
    withdrawn: usize,
}

/// (canonical ecosystem, lower-case package) → (advisory, affected entry). foldhash: several
/// times faster than SipHash on these short keys, still seeded per process.
type ByKey = HashMap<(String, String), Vec<(u32, u32)>, foldhash::fast::RandomState>;

/// One advisory: decoded, or where to decode it from (feed, item).
#[derive(Debug)]
struct Slot {
    cell: OnceLock<Option<Box<Advisory>>>,
    compiled: Option<(u32, u32)>,
}

impl AdvisoryIndex {
    /// Build from advisories of every feed.
    pub fn build(advisories: Vec<Advisory>) -> Self {
        Self::from_feeds(vec![FeedAdvisories::Parsed(advisories)])
    }

    /// Build from each feed's advisories, in feed order.
    pub fn from_feeds(feeds: Vec<FeedAdvisories>) -> Self {
        let mut idx = Self::default();
        let keys: usize = feeds
            .iter()
            .map(|f| match f {
                FeedAdvisories::Parsed(v) => v.iter().map(|a| a.affected.len()).sum::<usize>(),
                FeedAdvisories::Compiled(c) => c.items().iter().map(|i| i.affected.len()).sum(),
            })
            .sum();
        idx.by_key.reserve(keys);
        idx.slots
            .reserve(feeds.iter().map(FeedAdvisories::len).sum());
        // A feed spells a handful of ecosystems thousands of times: canonicalise each once.
        let mut canon: HashMap<String, String, foldhash::fast::RandomState> = HashMap::default();
        let mut key = |by_key: &mut ByKey, ai: usize, fi: usize, eco: &str, pkg: &str| {
            let c = match canon.get(eco) {
                Some(c) => c.clone(),
                None => {
                    let c = canonical_ecosystem(eco);
                    canon.insert(eco.to_owned(), c.clone());
                    c
                }
            };
            by_key
                .entry((c, pkg.to_ascii_lowercase()))
                .or_default()
                .push((
                    u32::try_from(ai).unwrap_or(u32::MAX),
                    u32::try_from(fi).unwrap_or(u32::MAX),
                ));
        };
        for feed in feeds {
            match feed {
                FeedAdvisories::Parsed(advisories) => {
                    for a in advisories {
                        let ai = idx.slots.len();
                        if a.withdrawn.is_some() {
                            idx.withdrawn += 1;
                        } else {
                            for (fi, f) in a.affected.iter().enumerate() {
                                key(&mut idx.by_key, ai, fi, &f.ecosystem, &f.package);
                            }
                        }
                        idx.slots.push(Slot {
                            cell: OnceLock::from(Some(Box::new(a))),
                            compiled: None,
                        });
                    }
                }
                FeedAdvisories::Compiled(c) => {
                    let fidx = u32::try_from(idx.feeds.len()).unwrap_or(u32::MAX);
                    for (i, it) in c.items().iter().enumerate() {
                        let ai = idx.slots.len();
                        if it.withdrawn {
                            idx.withdrawn += 1;
                        } else {
                            for (fi, (eco, pkg)) in it.affected.iter().enumerate() {
                                key(&mut idx.by_key, ai, fi, eco, pkg);
                            }
                        }
                        idx.slots.push(Slot {
                            cell: OnceLock::new(),
                            compiled: Some((fidx, u32::try_from(i).unwrap_or(u32::MAX))),
                        });
                    }
                    idx.feeds.push(c);
                }
            }
        }
        idx
    }

    /// Advisory `ai`, decoding it on first use. A compiled advisory that does not decode (a
    /// damaged cache entry that passed its checksum) is said once on standard error and left
    /// out; `--no-cache` reads the feed again.
    fn get(&self, ai: usize) -> Option<&Advisory> {
        let slot = self.slots.get(ai)?;
        slot.cell
            .get_or_init(|| {
                let (f, i) = slot.compiled?;
                match self.feeds.get(f as usize)?.decode(i as usize) {
                    Ok(a) => Some(Box::new(a)),
                    Err(e) => {
                        eprintln!(
                            "warning: advisory cache entry damaged ({e}); that advisory is not judged: rerun with --no-cache"
                        );
                        None
                    }
                }
            })
            .as_deref()
    }

    /// Affected entries for (ecosystem, package); `ecosystem` must be canonical.
    pub fn lookup<'a>(
        &'a self,
        ecosystem: &str,
        package: &str,
    ) -> impl Iterator<Item = (&'a Advisory, &'a Affected)> + 'a {
        let key = (ecosystem.to_owned(), package.to_ascii_lowercase());
        self.by_key
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|(ai, fi)| {
                let a = self.get(*ai as usize)?;
                Some((a, a.affected.get(*fi as usize)?))
            })
    }

    /// Number of advisories (withdrawn included).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Number of withdrawn advisories (loaded, never matched).
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// Every advisory, in feed order (decoding all of them).
    pub fn advisories(&self) -> impl Iterator<Item = &Advisory> + '_ {
        (0..self.slots.len()).filter_map(|i| self.get(i))
    }

    /// A fingerprint of advisory `ai`'s content: the checksum and length of its compiled JSON,
    /// or a hash of the advisory when it was parsed in memory.
    fn content_digest(&self, ai: usize) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        let Some(slot) = self.slots.get(ai) else {
            return 0;
        };
        match slot.compiled {
            Some((f, i)) => match self
                .feeds
                .get(f as usize)
                .and_then(|c| c.items().get(i as usize))
            {
                Some(it) => {
                    it.id.hash(&mut h);
                    it.checksum().hash(&mut h);
                }
                None => u64::MAX.hash(&mut h),
            },
            None => match slot.cell.get() {
                Some(Some(a)) => serde_json::to_vec(a).unwrap_or_default().hash(&mut h),
                _ => u64::MAX.hash(&mut h),
            },
        }
        h.finish()
    }

    /// A digest per index key of the advisories listed under it (their content and which
    /// `affected` entry matched).
    fn key_digests(&self) -> HashMap<&(String, String), u64> {
        use std::hash::{Hash, Hasher};
        self.by_key
            .iter()
            .map(|(k, entries)| {
                let mut h = std::hash::DefaultHasher::new();
                for (ai, fi) in entries {
                    self.content_digest(*ai as usize).hash(&mut h);
                    fi.hash(&mut h);
                }
                (k, h.finish())
            })
            .collect()
    }

    /// The (ecosystem, package) keys whose advisories differ between `self` and `new`: added,
    /// removed or changed in content. A verdict looked up under none of them is unchanged.
    pub(crate) fn changed_keys(&self, new: &Self) -> std::collections::HashSet<(String, String)> {
        let a = self.key_digests();
        let b = new.key_digests();
        let mut out = std::collections::HashSet::new();
        for (k, d) in &a {
            if b.get(k) != Some(d) {
                out.insert((*k).clone());
            }
        }
        for k in b.keys() {
            if !a.contains_key(k) {
                out.insert((*k).clone());
            }
        }
        out
    }

    /// Ecosystems present, with the number of (package) keys each.
    pub fn ecosystems(&self) -> Vec<(String, usize)> {
        let mut m: HashMap<&str, usize> = HashMap::new();
        for (e, _) in self.by_key.keys() {
            *m.entry(e.as_str()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys() {
        assert_eq!(canonical_ecosystem("Ubuntu:22.04:LTS"), "ubuntu:22.04");
        assert_eq!(canonical_ecosystem("Alpine:v3.18"), "alpine:3.18");
        assert_eq!(canonical_ecosystem("alpine:3.18.4"), "alpine:3.18");
        assert_eq!(canonical_ecosystem("Debian:12"), "debian:12");
        assert_eq!(canonical_ecosystem("Debian:12.5"), "debian:12");
        assert_eq!(canonical_ecosystem("PyPI"), "pypi");
        assert_eq!(canonical_ecosystem("crates.io"), "crates.io");
        assert_eq!(canonical_ecosystem("Rocky Linux:9.3"), "rocky linux:9");
    }
}
