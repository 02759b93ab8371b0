//! Waivers: a matching, unexpired waiver marks a finding waived (it stays in the report with its
//! waiver, out of the gate). An expired waiver that still matches is a `waiver-expired` finding
//! (and the findings it covered are open again); a waiver that matched nothing is
//! `waiver-unused`: stale waivers must not pile up silently.

use std::collections::HashMap;

use time::Date;

use crate::model::{
    Evidence, Finding, FindingCode, Inventory, Location, Severity, Subject, WaiverRef,
};
use crate::policy::{Policy, SubjectFacts, SubjectKind, Waiver};

fn kind_of(f: &Finding) -> SubjectKind {
    match f.subject.ecosystem.as_str() {
        "openstack" => SubjectKind::Openstack,
        "product" => SubjectKind::Product,
        _ => SubjectKind::Package,
    }
}

fn matches(w: &Waiver, f: &Finding, inv: Option<&Inventory>) -> bool {
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
        ecosystem: &f.subject.ecosystem,
        name: &f.subject.name,
        deliverable_type: None,
        purl: f.subject.purl.as_deref(),
        node: &f.node,
        site: inv.and_then(|i| i.node.site.as_deref()),
        cell: inv.and_then(|i| i.node.cell.as_deref()),
        labels: inv.map(|i| &i.node.labels),
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
            ecosystem: "policy".into(),
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

/// Mark the findings a waiver in force covers (`waived_by`, the first matching waiver);
/// returns how many findings each waiver matched, expired ones included.
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
