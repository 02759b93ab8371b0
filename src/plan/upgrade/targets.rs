//! Upgrade targets: the series a policy asks for, and the refusal of a series without releases.

use crate::fleet::{n_as_of, status_as_of};
use crate::policy::{Policy, SubjectFacts, SubjectKind};
use crate::releases::openstack::{OpenStackCatalog, Series, SeriesStatus};

use crate::plan::fleet::NodeView;
use crate::plan::path::{self, series_ref};

use crate::plan::{ymd, Context, PlanError};

pub(super) fn lookup_series(cat: &OpenStackCatalog, ordinal: usize) -> Option<&Series> {
    cat.series()
        .iter()
        .find(|s| s.ordinal == ordinal && !s.is_independent())
}

/// The target series a policy asks for, for one site: for each service below what the policy
/// allows, the oldest allowed series above it; the site moves to the newest of those.
pub(super) fn policy_target<'a>(
    cat: &'a OpenStackCatalog,
    policy: &Policy,
    ctx: &Context<'_>,
    nodes: &[&NodeView],
    from: &'a Series,
) -> Result<&'a Series, PlanError> {
    let n = n_as_of(cat, ctx.as_of).ok_or_else(|| PlanError::NoMaintainedSeries {
        as_of: ymd(ctx.as_of),
    })?;
    let mut target = from;
    for node in nodes {
        for i in node.installed.iter().filter(|i| i.deliverable.is_some()) {
            let (Some(d), Some(ord)) = (&i.deliverable, i.ordinal) else {
                continue;
            };
            let facts = SubjectFacts {
                kind: Some(SubjectKind::Openstack),
                ecosystem: "openstack",
                name: d,
                deliverable_type: Some("service"),
                purl: None,
                node: &node.id,
                site: Some(&node.site),
                cell: node.cell.as_deref(),
                labels: Some(&node.labels),
            };
            let Some((_, rule)) = policy.rule_for(&facts, |r| r.series.as_ref()) else {
                continue;
            };
            let prev_slurp = path::previous_slurp(cat, n);
            let allowed = |s: &Series| {
                let lag_ok =
                    s.ordinal <= n.ordinal && n.ordinal - s.ordinal <= rule.max_lag as usize;
                let slurp_ok =
                    rule.allow_previous_slurp && prev_slurp.is_some_and(|p| p.ordinal == s.ordinal);
                let status_ok = !rule.require_maintained
                    || status_as_of(s, ctx.as_of) == SeriesStatus::Maintained;
                (lag_ok || slurp_ok) && status_ok
            };
            let Some(cur) = lookup_series(cat, ord) else {
                continue;
            };
            if allowed(cur) {
                continue;
            }
            let want = cat
                .series()
                .iter()
                .filter(|s| {
                    !s.is_independent() && s.ordinal > ord && s.ordinal <= n.ordinal && allowed(s)
                })
                .min_by_key(|s| s.ordinal);
            if let Some(w) = want {
                if w.ordinal > target.ordinal {
                    target = w;
                }
            }
        }
    }
    Ok(target)
}

/// A `--to` series must have releases in the data: a plan to a series whose deliverables have
/// no final release yet (hibiscus in development) would list every step with no version to
/// install.
pub(super) fn refuse_series_without_releases(
    cat: &OpenStackCatalog,
    to: &str,
) -> Result<(), PlanError> {
    let series = path::find_series(cat, to)?;
    // Libraries and intermediary services (horizon, ironic, swift) release during
    // development; a series is released when its coordinated (cycle-with-rc) services are.
    let released = |s: &Series| {
        cat.deliverables_in(&s.name).any(|d| {
            d.model == Some(crate::releases::openstack::ReleaseModel::CycleWithRc)
                && d.latest_final().is_some()
        })
    };
    if released(series) {
        return Ok(());
    }
    let newest = cat
        .series()
        .iter()
        .rev()
        .find(|s| released(s))
        .map_or_else(|| "none".to_owned(), |s| series_ref(s).label());
    Err(PlanError::SeriesWithoutReleases {
        to: to.to_owned(),
        series: series_ref(series).label(),
        status: series.status.as_str().to_owned(),
        newest,
    })
}
