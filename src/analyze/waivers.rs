//! Waivers: a matching, unexpired waiver marks a finding waived (it stays in the report with its
//! waiver, out of the gate). An expired waiver that still matches is a `waiver-expired` finding
//! (and the findings it covered are open again); a waiver that matched nothing is
//! `waiver-unused`: stale waivers must not pile up silently.

use std::collections::HashMap;

use time::Date;

use crate::model::{
    Evidence, Finding, FindingCode, Inventory, Location, Severity, Subject, SubjectEcosystem,
    WaiverRef,
};
use crate::policy::{Policy, SubjectFacts, SubjectKind, Waiver};

fn kind_of(f: &Finding) -> SubjectKind {
    match f.subject.ecosystem {
        SubjectEcosystem::OpenStack => SubjectKind::Openstack,
        SubjectEcosystem::Product => SubjectKind::Product,
        _ => SubjectKind::Package,
    }
}

fn matches(w: &Waiver, f: &Finding, inv: Option<&Inventory>) -> bool {
    matches_on(w, f, &f.node, inv.map(|i| &i.node))
}

/// Whether any of `policy`'s waivers, in force or expired, matches `f` on node `node` (`f`'s
/// own node ignored: a finding template with no node is judged as the node's): the findings
/// [`mark_waivers`] may mark, or whose marking may change with the date.
pub(crate) fn waiver_covers(policy: &Policy, f: &Finding, node: &crate::model::NodeInfo) -> bool {
    policy
        .waivers
        .iter()
        .any(|w| matches_on(w, f, &node.id, Some(node)))
}

fn matches_on(
    w: &Waiver,
    f: &Finding,
    node_id: &str,
    node: Option<&crate::model::NodeInfo>,
) -> bool {
    if !w.codes.is_empty() && !w.codes.contains(&f.code) {
        return false;
    }
    if !w.advisories.is_empty() {
        let Some(a) = &f.advisory else { return false };
        let hit = w.advisories.iter().any(|id| {
            a.id.eq_ignore_ascii_case(id) || a.aliases.iter().any(|x| x.eq_ignore_ascii_case(id))
        });
        if !hit {
            return false;
        }
    }
    let facts = SubjectFacts {
        kind: Some(kind_of(f)),
        ecosystem: f.subject.ecosystem.as_str(),
        name: &f.subject.name,
        deliverable_type: None,
        purl: f.subject.purl.as_deref(),
        node: node_id,
        site: node.and_then(|n| n.site.as_deref()),
        cell: node.and_then(|n| n.cell.as_deref()),
        labels: node.map(|n| &n.labels),
    };
    // Deliverable types are not known here; a waiver selecting on them matches by name instead.
    let mut sel = w.select.clone();
    sel.deliverable_types.clear();
    sel.matches(&facts)
}

fn waiver_finding(code: FindingCode, w: &Waiver, policy: &Policy, message: String) -> Finding {
    let mut f = Finding {
        code,
        severity: if code == FindingCode::WaiverExpired {
            Severity::Medium
        } else {
            Severity::Low
        },
        node: "policy".to_owned(),
        subject: Subject {
            ecosystem: SubjectEcosystem::Policy,
            name: w.id.clone(),
            version: w.expires.to_string(),
            purl: None,
            location: Some(Location {
                line: w.line.and_then(|l| u32::try_from(l).ok()),
                ..Location::path(policy.file.clone())
            }),
        },
        advisory: None,
        fixed_in: Vec::new(),
        evidence: Evidence {
            searched: format!("waiver {} in {}", w.id, policy.file),
            matched: String::new(),
            message,
        },
        waived_by: None,
        fingerprint: String::new(),
    };
    f.fingerprint = f.compute_fingerprint();
    f
}

/// Apply `policy`'s waivers as of `as_of` to the findings of `nodes`; returns the waiver
/// findings to add (expired waivers, unused ones).
pub fn apply_waivers(
    findings: &mut [Finding],
    nodes: &[&Inventory],
    policy: &Policy,
    as_of: Date,
) -> Vec<Finding> {
    let used = mark_waivers(findings, nodes, policy, as_of);
    waiver_findings(policy, &used, as_of)
}

/// Mark the findings a waiver in force covers (`waived_by`, the first matching waiver) and
/// unmark the others: a finding stored with an earlier mark (the server marks pushed findings,
/// then its report applies the waivers again) is judged by the waivers as of `as_of`, so that
/// applying twice is applying once. Returns how many findings each waiver matched, expired
/// ones included.
pub(crate) fn mark_waivers(
    findings: &mut [Finding],
    nodes: &[&Inventory],
    policy: &Policy,
    as_of: Date,
) -> Vec<usize> {
    let by_id: HashMap<&str, &Inventory> = nodes.iter().map(|i| (i.node.id.as_str(), *i)).collect();
    let mut used = vec![0usize; policy.waivers.len()];
    for f in findings.iter_mut() {
        let inv = by_id.get(f.node.as_str()).copied();
        f.waived_by = None;
        for (i, w) in policy.waivers.iter().enumerate() {
            if matches(w, f, inv) {
                used[i] += 1;
                if w.expires >= as_of {
                    f.waived_by = Some(WaiverRef {
                        id: w.id.clone(),
                        reason: w.reason.clone(),
                        owner: w.owner.clone(),
                        expires: w.expires.to_string(),
                    });
                }
                break;
            }
        }
    }
    used
}

/// The findings about the waivers themselves: expired, or matching nothing.
fn waiver_findings(policy: &Policy, used: &[usize], as_of: Date) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, w) in policy.waivers.iter().enumerate() {
        if w.expires < as_of {
            out.push(waiver_finding(
                FindingCode::WaiverExpired,
                w,
                policy,
                format!("waiver {} (owner {}) expired on {}; the {} finding(s) it covered are open again: renew it with a reason or fix them", w.id, w.owner, w.expires, used[i]),
            ));
        } else if used[i] == 0 {
            out.push(waiver_finding(
                FindingCode::WaiverUnused,
                w,
                policy,
                format!(
                    "waiver {} (owner {}) matched no finding: remove it or correct its selector",
                    w.id, w.owner
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubjectEcosystem;

    fn finding(name: &str) -> Finding {
        let mut f = Finding::for_test(
            "n1",
            FindingCode::SeriesBehind,
            Severity::Medium,
            SubjectEcosystem::OpenStack,
            name,
            "25.0.0",
        );
        f.fingerprint = f.compute_fingerprint();
        f
    }

    fn day(s: &str) -> Date {
        Date::parse(s, &time::format_description::well_known::Iso8601::DATE).unwrap()
    }

    /// The server marks a pushed node's findings, stores them, and its report applies the
    /// waivers again: the second application must judge by the waivers as of the report, not
    /// keep a mark made while a waiver, since expired or removed, was in force.
    #[test]
    fn applying_waivers_twice_is_applying_them_once() {
        let text = "version: 1\nwaivers:\n  - id: W-1\n    codes: [series-behind]\n    select: {names: [nova]}\n    reason: upgrade scheduled\n    owner: ops\n    expires: 2026-06-30\n";
        let policy = crate::policy::parse(text, "w.yaml").unwrap();
        let mut stored = vec![finding("nova"), finding("glance")];
        let before = apply_waivers(&mut stored, &[], &policy, day("2026-06-01"));
        assert!(before.is_empty(), "{before:#?}");
        assert_eq!(
            stored[0].waived_by.as_ref().map(|w| w.id.as_str()),
            Some("W-1")
        );
        assert!(stored[1].waived_by.is_none());
        // Once more on the same day: nothing changes.
        let again = stored.clone();
        apply_waivers(&mut stored, &[], &policy, day("2026-06-01"));
        assert_eq!(stored, again);
        // After the waiver expired, the stored mark does not survive the report's application.
        let mut fresh = vec![finding("nova"), finding("glance")];
        let once = apply_waivers(&mut fresh, &[], &policy, day("2026-07-15"));
        let twice = apply_waivers(&mut stored, &[], &policy, day("2026-07-15"));
        assert_eq!(stored, fresh);
        assert_eq!(twice, once);
        assert!(stored.iter().all(|f| f.waived_by.is_none()), "{stored:#?}");
        assert_eq!(once.len(), 1);
        assert_eq!(once[0].code, FindingCode::WaiverExpired);
        // A policy without the waiver any more opens the finding as well.
        let mut marked = again;
        let none = crate::policy::parse("version: 1\n", "w.yaml").unwrap();
        apply_waivers(&mut marked, &[], &none, day("2026-06-01"));
        assert!(marked.iter().all(|f| f.waived_by.is_none()));
    }
}
