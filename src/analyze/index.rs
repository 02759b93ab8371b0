//! The advisory index: (canonical ecosystem, normalised package) → affected entries.

use std::collections::HashMap;

use crate::model::{Advisory, Affected};

/// Canonical ecosystem key: lower case, Ubuntu's `:LTS`/`:Pro` qualifiers dropped, Alpine's
/// `v` prefix dropped (`Alpine:v3.18` → `alpine:3.18`), Debian point releases dropped.
pub fn canonical_ecosystem(s: &str) -> String {
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
/// indexed.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<Advisory>,
    by_key: HashMap<(String, String), Vec<(u32, u32)>>,
    withdrawn: usize,
}

impl AdvisoryIndex {
    /// Build from advisories of every feed.
    pub fn build(advisories: Vec<Advisory>) -> Self {
        let mut by_key: HashMap<(String, String), Vec<(u32, u32)>> = HashMap::new();
        let mut withdrawn = 0;
        for (ai, a) in advisories.iter().enumerate() {
            if a.withdrawn.is_some() {
                withdrawn += 1;
                continue;
            }
            for (fi, f) in a.affected.iter().enumerate() {
                let key = (
                    canonical_ecosystem(&f.ecosystem),
                    f.package.to_ascii_lowercase(),
                );
                by_key.entry(key).or_default().push((
                    u32::try_from(ai).unwrap_or(u32::MAX),
                    u32::try_from(fi).unwrap_or(u32::MAX),
                ));
            }
        }
        Self {
            advisories,
            by_key,
            withdrawn,
        }
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
                let a = self.advisories.get(*ai as usize)?;
                Some((a, a.affected.get(*fi as usize)?))
            })
    }

    /// Number of advisories (withdrawn included).
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// Number of withdrawn advisories (loaded, never matched).
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// Every advisory.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
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
