//! The OpenStack model of a fleet: for each node, each OpenStack deliverable it runs, placed in
//! openstack/releases once — its series (codename and release id), the deliverable's own status
//! there, SLURP, lag from n, the newest release of its series and how far behind it is, its
//! release model, whether it is independent, and for a pbr dev build the release it is based on.
//!
//! This is the one place where a version is mapped to a series ([`place`]); the analyzer's
//! currency judgement, the reports' currency view, the kolla image check and the planner all
//! read it, so that they cannot disagree.

mod kolla;

use std::cmp::Ordering;

use time::Date;

use crate::model::{DeliverableCurrency, Inventory};
use crate::releases::openstack::{Match, OpenStackCatalog, ReleaseModel, Series, SeriesStatus};
use crate::version::pep440::Pep440Version;

pub use kolla::check_kolla;

/// A series' status as of a date: the data's status, advanced by `next-phase` once its date has
/// passed (the snapshot may predate a transition).
pub(crate) fn status_as_of(s: &Series, as_of: Date) -> SeriesStatus {
    match &s.next_phase {
        Some(np) if np.date.is_some_and(|d| d <= as_of) => np.status,
        _ => s.status,
    }
}

/// n as of a date: the newest series whose status (as of then) is maintained.
pub fn n_as_of(cat: &OpenStackCatalog, as_of: Date) -> Option<&Series> {
    cat.series()
        .iter()
        .filter(|s| !s.is_independent() && status_as_of(s, as_of) == SeriesStatus::Maintained)
        .max_by_key(|s| s.ordinal)
}

/// Place an installed distribution in openstack/releases: the release it is (or, for a pbr dev
/// build, the release it is based on). The one mapping from a version to a series.
pub(crate) fn place(cat: &OpenStackCatalog, package: &str, version: &str) -> Option<Match> {
    cat.lookup(package, version)
}

/// Other `series/deliverable` files that list the same exact release (upstream lists 22 old
/// releases twice; [`place`] takes the oldest).
fn also_in(cat: &OpenStackCatalog, package: &str, version: &str, m: &Match) -> Vec<String> {
    if !m.exact {
        return Vec::new();
    }
    cat.lookup_all(package, version)
        .into_iter()
        .filter(|o| o.series != m.series || o.deliverable != m.deliverable)
        .map(|o| format!("{}/{}", o.series, o.deliverable))
        .collect()
}

/// The currency of every OpenStack deliverable of `inv` (each service record once), as of
/// `as_of`, compliant or not.
pub(crate) fn currency(
    inv: &Inventory,
    cat: &OpenStackCatalog,
    as_of: Date,
) -> Vec<DeliverableCurrency> {
    let n = n_as_of(cat, as_of);
    let mut out: Vec<DeliverableCurrency> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for svc in &inv.services {
        if !seen.insert((&svc.deliverable, &svc.version, &svc.install)) {
            continue;
        }
        let mut row = DeliverableCurrency {
            node: inv.node.id.clone(),
            deliverable: svc.deliverable.clone(),
            package: svc.package.clone(),
            version: svc.version.clone(),
            install: svc.install.clone(),
            kind: svc.kind.clone(),
            ..DeliverableCurrency::default()
        };
        if let Some(m) = place(cat, &svc.package, &svc.version) {
            row.also_in = also_in(cat, &svc.package, &svc.version, &m);
            fill(&mut row, &m, cat, n, as_of);
        }
        out.push(row);
    }
    out.sort_by(|a, b| (&a.deliverable, &a.install).cmp(&(&b.deliverable, &b.install)));
    out
}

fn fill(
    row: &mut DeliverableCurrency,
    m: &Match,
    cat: &OpenStackCatalog,
    n: Option<&Series>,
    as_of: Date,
) {
    row.deliverable.clone_from(&m.deliverable);
    row.kind = m.kind.as_str().to_owned();
    row.exact = m.exact;
    row.based_on.clone_from(&m.based_on);
    row.commits_after = m.commits_after;
    let Some(series) = cat.series_named(&m.series) else {
        return;
    };
    let d = cat.deliverable(&m.deliverable, &m.series);
    row.release_model = d.and_then(|d| d.model.as_ref()).map(|m| match m {
        ReleaseModel::CycleWithRc => "cycle-with-rc".to_owned(),
        ReleaseModel::CycleWithIntermediary => "cycle-with-intermediary".to_owned(),
        ReleaseModel::Independent => "independent".to_owned(),
        ReleaseModel::Untagged => "untagged".to_owned(),
        ReleaseModel::Abandoned => "abandoned".to_owned(),
        ReleaseModel::Legacy(s) => s.clone(),
    });
    row.independent = series.is_independent();
    row.series = Some(series.name.clone());
    row.release_id.clone_from(&series.release_id);
    row.slurp = series.slurp;
    let status = match cat.effective_status(&m.deliverable, &m.series) {
        Some(e) if e.marker.is_some() => e.status,
        _ => status_as_of(series, as_of),
    };
    row.status = Some(status.as_str().to_owned());
    if !row.independent {
        row.lag = n.map(|n| n.ordinal.saturating_sub(series.ordinal) as u32);
    }
    let installed: Option<Pep440Version> = row.version.trim().parse().ok();
    if let Some(d) = d {
        row.newest_in_series = d.latest_final().map(|r| r.version.clone());
        row.behind = installed.as_ref().map(|v| {
            d.releases
                .iter()
                .filter(|r| r.is_final())
                .filter_map(|r| r.tag.version())
                .filter(|x| (*x).cmp(v) == Ordering::Greater)
                .count() as u32
        });
    }
}
