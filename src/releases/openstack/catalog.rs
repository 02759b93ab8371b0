//! The catalog's questions about deliverables: lookups of installed versions, effective
//! status, latest releases and their dates.

use std::collections::BTreeMap;
use std::path::Path;

use time::Date;

use super::*;
use crate::util::normalize_name;
use crate::version::pep440::Pep440Version;

impl OpenStackCatalog {
    /// The checkout this was loaded from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All deliverables (every series and `_independent`).
    pub fn deliverables(&self) -> &[Deliverable] {
        &self.deliverables
    }

    /// The deliverables of one series (name, release id or `_independent`).
    pub fn deliverables_in<'a>(&'a self, series: &str) -> impl Iterator<Item = &'a Deliverable> {
        let dir = self.series_dir(series);
        self.deliverables
            .iter()
            .filter(move |d| dir.as_deref() == Some(d.series.as_str()))
    }

    fn series_dir(&self, key: &str) -> Option<String> {
        let s = self.series_named(key)?;
        Some(if s.is_independent() {
            INDEPENDENT_DIR.to_owned()
        } else {
            s.name.clone()
        })
    }

    /// One deliverable file: `deliverable("nova", "2024.1")`.
    pub fn deliverable(&self, deliverable: &str, series: &str) -> Option<&Deliverable> {
        let dir = self.series_dir(series)?;
        self.by_key
            .get(&(dir, deliverable.to_owned()))
            .map(|&i| &self.deliverables[i])
    }

    /// The series a deliverable's directory stands for.
    pub fn series_of(&self, d: &Deliverable) -> Option<&Series> {
        self.series_named(&d.series)
    }

    /// Which release an installed `(name, version)` is.
    ///
    /// `name` is a PyPI distribution name (any spelling; compared after PEP 503
    /// normalisation) matched against each repository's `pypi-name` and its basename
    /// (`openstack/oslo.messaging` → `oslo-messaging`). When a name starting with
    /// `openstack-` (`openstack-placement`, `openstack-heat`) gives no match, the name without
    /// that prefix is tried. The version is compared by PEP 440 equality (`29.0` = `29.0.0`).
    ///
    /// - An exact release gives `exact: true`. The 9 (repo, version) pairs listed in two series
    ///   give the older series.
    /// - A version with a local label (`29.0.0+ubuntu1`) is not equal to the release (PEP 440)
    ///   and gives `None` unless it is also a dev build.
    /// - A pbr dev build (`31.0.1.dev12`) with no exact release gives the greatest released tag
    ///   (versions only, marker tags excluded) sorting below it, with `exact: false`,
    ///   `based_on: Some("31.0.0")` and `commits_after: Some(12)`.
    /// - Anything else (unknown name, unparseable version, a non-dev version that is not a
    ///   release) gives `None`.
    pub fn lookup(&self, name: &str, version: &str) -> Option<Match> {
        let v: Pep440Version = version.trim().parse().ok()?;
        self.candidate_names(name).into_iter().find_map(|n| {
            let entries = self.by_name.get(&n)?;
            let start = entries.partition_point(|e| e.version < v);
            if let Some(e) = entries.get(start).filter(|e| e.version == v) {
                return Some(self.to_match(e, true, None));
            }
            let dev = v.dev()?;
            let below = entries[..start].last()?;
            Some(self.to_match(below, false, Some(dev)))
        })
    }

    /// Every distribution name any release is published under (see
    /// [`Deliverable::artifact_name`]) with the deliverable and type of its newest release
    /// (`_independent` counts as newest): the agent's name table
    /// (`model/openstack_deliverables.tsv`) is exactly this, so that the agent recognises
    /// what the analyzer can map.
    pub fn name_table(&self) -> BTreeMap<String, (String, DeliverableType)> {
        self.by_name
            .iter()
            .filter_map(|(name, entries)| {
                let newest = entries.iter().max_by_key(|e| (e.ordinal, &e.version))?;
                let d = &self.deliverables[newest.deliverable];
                Some((name.clone(), (d.name.clone(), d.kind.clone())))
            })
            .collect()
    }

    /// Every release equal to `(name, version)` (usually one; see [`Self::lookup`]).
    pub fn lookup_all(&self, name: &str, version: &str) -> Vec<Match> {
        let Ok(v) = version.trim().parse::<Pep440Version>() else {
            return Vec::new();
        };
        for n in self.candidate_names(name) {
            let Some(entries) = self.by_name.get(&n) else {
                continue;
            };
            let start = entries.partition_point(|e| e.version < v);
            let found: Vec<Match> = entries[start..]
                .iter()
                .take_while(|e| e.version == v)
                .map(|e| self.to_match(e, true, None))
                .collect();
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// The normalised name, then (for `openstack-*`) the name without that prefix.
    fn candidate_names(&self, name: &str) -> Vec<String> {
        let n = normalize_name(name);
        let stripped = n
            .strip_prefix("openstack-")
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let mut out = vec![n];
        out.extend(stripped);
        out
    }

    fn to_match(&self, e: &IndexEntry, exact: bool, dev: Option<u64>) -> Match {
        let d = &self.deliverables[e.deliverable];
        let rel = &d.releases[e.release];
        Match {
            series: d.series.clone(),
            deliverable: d.name.clone(),
            kind: d.kind.clone(),
            repo: rel
                .projects
                .get(e.repo)
                .map(|(r, _)| r.clone())
                .unwrap_or_default(),
            version: rel.version.clone(),
            exact,
            based_on: (!exact).then(|| rel.version.clone()),
            commits_after: dev,
        }
    }

    /// The deliverable's own status in a series: its marker tags first (eol > eom > em >
    /// last), else the series status. `None` when the deliverable has no file in that series.
    pub fn effective_status(&self, deliverable: &str, series: &str) -> Option<EffectiveStatus> {
        let d = self.deliverable(deliverable, series)?;
        let s = self.series_of(d)?;
        let marker = d.markers_for(s).min();
        let status = match marker {
            Some(MarkerKind::Eol) => SeriesStatus::EndOfLife,
            Some(MarkerKind::Eom) => SeriesStatus::Unmaintained,
            Some(MarkerKind::Em) => SeriesStatus::ExtendedMaintenance,
            Some(MarkerKind::Last) | None => s.status,
        };
        Some(EffectiveStatus { status, marker })
    }

    /// The newest final pbr version of a deliverable in a series (no `rc`/`b`/`a`/`dev`).
    pub fn latest_in_series(&self, deliverable: &str, series: &str) -> Option<&Release> {
        self.deliverable(deliverable, series)?.latest_final()
    }

    /// The date `version` of `deliverable` in `series` was released (`release-dates.csv`).
    pub fn release_date(&self, deliverable: &str, series: &str, version: &str) -> Option<Date> {
        let d = self.deliverable(deliverable, series)?;
        let v: Option<Pep440Version> = version.parse().ok();
        d.releases
            .iter()
            .find(|r| {
                r.version == version || matches!((&r.tag, &v), (Tag::Version(a), Some(b)) if a == b)
            })
            .and_then(Release::date)
    }

    /// How many days an installed version has been behind: days from the release date of the
    /// oldest final release in the same series newer than `installed`, to `as_of`.
    ///
    /// `Some(0)` when `installed` is at or above the series' latest final release; `None`
    /// when the deliverable, the version or the needed date is unknown.
    pub fn days_behind(
        &self,
        deliverable: &str,
        series: &str,
        installed: &str,
        as_of: Date,
    ) -> Option<i64> {
        let d = self.deliverable(deliverable, series)?;
        let v: Pep440Version = installed.trim().parse().ok()?;
        let first_newer = d
            .releases
            .iter()
            .filter(|r| r.is_final() && r.tag.version().is_some_and(|x| *x > v))
            .min_by(|a, b| cmp_tags(&a.tag, &b.tag));
        match first_newer {
            None => Some(0),
            Some(r) => Some((as_of - r.date()?).whole_days().max(0)),
        }
    }
}
