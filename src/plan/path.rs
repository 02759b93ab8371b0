//! SLURP-valid series paths, from the catalog's `slurp` flags (never inferred from numbers).
//!
//! The rules (`shared/docs/openstack-domain.md` §2.1):
//! - N → N+1 is always supported;
//! - SLURP → the next SLURP (skipping one release) is supported, from 2023.1 on;
//! - from a non-SLURP release, only the next release;
//! - more than one SLURP interval steps through each intermediate SLURP;
//! - before 2023.1 (no SLURP flags) only N → N+1.
//!
//! A path never contains an unsupported jump: it is built from supported hops only, taking
//! the SLURP skip whenever it does not overshoot the target.

use std::fmt;

use crate::model::{Hop, HopKind, SeriesRef};
use crate::releases::openstack::{OpenStackCatalog, Series};

/// Why no path exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// A series name the catalog does not know.
    UnknownSeries(String),
    /// The target is older than the source: that is a rollback, not an upgrade.
    Backwards {
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// A hop from this series has no successor in the data.
    NoSuccessor(String),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownSeries(s) => write!(
                f,
                "unknown series `{s}`: not in openstack/releases data/series_status.yaml"
            ),
            Self::Backwards { from, to } => {
                write!(f, "`{to}` is older than `{from}`: series are never downgraded in place (see `nminus plan rollback`)")
            }
            Self::NoSuccessor(s) => write!(f, "no series after `{s}` in the release data"),
        }
    }
}

impl std::error::Error for PathError {}

/// A series as a plan names it.
pub(crate) fn series_ref(s: &Series) -> SeriesRef {
    SeriesRef {
        id: s.id().to_owned(),
        name: s.name.clone(),
        slurp: s.slurp,
    }
}

/// Path options.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathOptions {
    /// Never skip a release, even SLURP → SLURP (tools that only do N+1, such as Charmed
    /// OpenStack).
    pub adjacent_only: bool,
}

fn coordinated(cat: &OpenStackCatalog) -> impl Iterator<Item = &Series> {
    cat.series().iter().filter(|s| !s.is_independent())
}

/// The series right after `s`.
pub(crate) fn next_series<'a>(cat: &'a OpenStackCatalog, s: &Series) -> Option<&'a Series> {
    coordinated(cat).find(|x| x.ordinal == s.ordinal + 1)
}

/// The next SLURP after `s`.
pub(crate) fn next_slurp<'a>(cat: &'a OpenStackCatalog, s: &Series) -> Option<&'a Series> {
    coordinated(cat)
        .filter(|x| x.slurp && x.ordinal > s.ordinal)
        .min_by_key(|x| x.ordinal)
}

/// The newest SLURP before `s`.
pub(crate) fn previous_slurp<'a>(cat: &'a OpenStackCatalog, s: &Series) -> Option<&'a Series> {
    coordinated(cat)
        .filter(|x| x.slurp && x.ordinal < s.ordinal)
        .max_by_key(|x| x.ordinal)
}

/// Whether upgrading directly from `from` to `to` is supported, and how.
pub fn jump_kind(cat: &OpenStackCatalog, from: &Series, to: &Series) -> Option<HopKind> {
    if to.ordinal == from.ordinal {
        Some(HopKind::Patch)
    } else if to.ordinal == from.ordinal + 1 {
        Some(HopKind::Adjacent)
    } else if from.slurp
        && to.slurp
        && next_slurp(cat, from).is_some_and(|n| n.ordinal == to.ordinal)
    {
        Some(HopKind::SlurpSkip)
    } else {
        None
    }
}

fn hop_notes(cat: &OpenStackCatalog, from: &Series, to: &Series, kind: HopKind) -> Vec<String> {
    let mut n = Vec::new();
    match kind {
        HopKind::Patch => n.push(format!(
            "point releases within {}: no schema migrations on stable branches",
            series_ref(from).label()
        )),
        HopKind::Adjacent => {
            if from.release_id.is_none() {
                n.push("before 2023.1 only N → N+1 upgrades are supported (yoga → 2023.1 was an untested rehearsal)".to_owned());
            } else {
                n.push(
                    "N → N+1: always supported; rolling where each service allows it".to_owned(),
                );
            }
        }
        HopKind::SlurpSkip => {
            let skipped: Vec<String> = coordinated(cat)
                .filter(|s| s.ordinal > from.ordinal && s.ordinal < to.ordinal)
                .map(|s| series_ref(s).label())
                .collect();
            n.push(format!(
                "SLURP → next SLURP, skipping {}: supported, but not necessarily rolling (RPC compatibility is only N ↔ N-1): plan downtime",
                skipped.join(", ")
            ));
            n.push(format!("force-complete the online data migrations of {} before starting (mandatory migrations live only in SLURP releases)", series_ref(from).label()));
            n.push(format!(
                "read the release notes of the skipped release(s) {} as well",
                skipped.join(", ")
            ));
            n.push("kolla-ansible: upgrade ansible-core to the range the target supports; RabbitMQ goes through an allowed intermediate version".to_owned());
        }
    }
    n
}

/// The supported path from `from` to `to`. Empty when they are the same series.
pub fn upgrade_path(
    cat: &OpenStackCatalog,
    from: &Series,
    to: &Series,
    opts: PathOptions,
) -> Result<Vec<Hop>, PathError> {
    if to.ordinal < from.ordinal {
        return Err(PathError::Backwards {
            from: from.id().to_owned(),
            to: to.id().to_owned(),
        });
    }
    let mut hops = Vec::new();
    let mut cur = from;
    while cur.ordinal < to.ordinal {
        let skip = (!opts.adjacent_only && cur.slurp)
            .then(|| next_slurp(cat, cur))
            .flatten()
            .filter(|s| s.ordinal <= to.ordinal && s.ordinal > cur.ordinal + 1);
        let (next, kind) = match skip {
            Some(s) => (s, HopKind::SlurpSkip),
            None => (
                next_series(cat, cur).ok_or_else(|| PathError::NoSuccessor(cur.id().to_owned()))?,
                HopKind::Adjacent,
            ),
        };
        let index = u32::try_from(hops.len() + 1).unwrap_or(u32::MAX);
        hops.push(Hop {
            index,
            from: series_ref(cur),
            to: series_ref(next),
            kind,
            notes: hop_notes(cat, cur, next, kind),
        });
        cur = next;
    }
    Ok(hops)
}

/// The single patch hop of a plan that stays within `s`.
pub(crate) fn patch_hop(cat: &OpenStackCatalog, s: &Series) -> Hop {
    Hop {
        index: 1,
        from: series_ref(s),
        to: series_ref(s),
        kind: HopKind::Patch,
        notes: hop_notes(cat, s, s, HopKind::Patch),
    }
}

/// The oldest nova-compute series a control plane at `control` accepts
/// (`OLDEST_SUPPORTED_SERVICE_VERSION`, domain notes §2.3): from 2023.1 on the previous SLURP
/// (N-2 at a SLURP, N-1 otherwise); before, and where no previous SLURP exists, N-1.
pub fn oldest_supported_compute<'a>(cat: &'a OpenStackCatalog, control: &'a Series) -> &'a Series {
    let n1 = coordinated(cat)
        .find(|s| s.ordinal + 1 == control.ordinal)
        .unwrap_or(control);
    if control.release_id.is_none() {
        return n1;
    }
    previous_slurp(cat, control).unwrap_or(n1)
}

/// A series by name or release id, never the independent pseudo-series.
pub(crate) fn find_series<'a>(
    cat: &'a OpenStackCatalog,
    key: &str,
) -> Result<&'a Series, PathError> {
    cat.series_named(key)
        .filter(|s| !s.is_independent())
        .ok_or_else(|| PathError::UnknownSeries(key.to_owned()))
}
