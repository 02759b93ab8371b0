//! An inventory over the server's body limit is trimmed to fit, never refused forever: the
//! packages the analyzer can least do without are kept (the host's OS packages, then the host's
//! language packages, then those in container images), the rest are left out, and a problem
//! in the inventory says how many, so the operator sees the node as incomplete.

use crate::model::{Ecosystem, Inventory, Location, Problem, ProblemKind};

/// Room kept under the limit for the problem that says what was left out.
const MARGIN: usize = 4096;
/// Problems kept when even the packages alone are too many.
const PROBLEMS_KEPT: usize = 100;

fn json_len(inv: &Inventory) -> usize {
    serde_json::to_vec(inv).map_or(usize::MAX, |v| v.len())
}

/// `inv` trimmed to serialise to at most `limit` bytes, with a problem naming what was left
/// out; `None` when it fits as it is. Deterministic: the same inventory and limit give the same
/// result (and content hash) on every run.
pub(crate) fn trim_to_fit(inv: &Inventory, limit: usize) -> Option<(Inventory, String)> {
    let full = json_len(inv);
    if full <= limit {
        return None;
    }
    let target = limit.saturating_sub(MARGIN);
    let mut t = inv.clone();
    for p in &mut t.packages {
        p.extra.clear();
    }
    let problems = t.problems.len();
    t.problems.truncate(PROBLEMS_KEPT);
    // Indices in the order they are kept.
    let rank = |i: usize| {
        let p = &inv.packages[i];
        let in_image = p.location.in_an_image();
        let os = matches!(
            p.ecosystem,
            Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk
        );
        (u8::from(in_image), u8::from(!os))
    };
    let mut order: Vec<usize> = (0..inv.packages.len()).collect();
    order.sort_by_key(|&i| rank(i));
    let all = std::mem::take(&mut t.packages);
    let with_first = |t: &Inventory, k: usize| {
        let mut keep: Vec<usize> = order[..k].to_vec();
        keep.sort_unstable();
        let mut x = t.clone();
        x.packages = keep.iter().map(|&i| all[i].clone()).collect();
        x
    };
    // The largest k whose inventory fits (k = 0 always tried).
    let (mut lo, mut hi) = (0usize, order.len());
    if json_len(&with_first(&t, 0)) > target {
        t.problems.truncate(1);
        t.services.clear();
        t.images.clear();
    }
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if json_len(&with_first(&t, mid)) <= target {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut out = with_first(&t, lo);
    let left = inv.packages.len() - lo;
    let mut what = format!("{left} of {} packages left out", inv.packages.len());
    if out.problems.len() < problems {
        what.push_str(&format!(
            ", {} of {problems} problems",
            problems - out.problems.len()
        ));
    }
    if out.images.len() < inv.images.len() {
        what.push_str(&format!(", {} images", inv.images.len()));
    }
    if out.services.len() < inv.services.len() {
        what.push_str(&format!(", {} services", inv.services.len()));
    }
    let message = format!(
        "inventory trimmed to the server's body limit of {limit} bytes ({full} bytes collected): \
         {what}; raise `nminus serve --body-limit`"
    );
    out.problems.push(Problem::new(
        Location::path("inventory").field("packages"),
        ProblemKind::Unreadable,
        message.clone(),
    ));
    Some((out, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Package, PackageMeta};

    fn pkg(eco: Ecosystem, name: &str, path: &str) -> Package {
        Package {
            ecosystem: eco,
            name: name.into(),
            version: "1.0".into(),
            source: None,
            purl: format!("pkg:x/{name}@1.0"),
            found_by: "test".into(),
            location: Location::path(path),
            meta: PackageMeta::Deb {
                arch: None,
                held: false,
                maintainer: None,
            },
            extra: [("k".to_owned(), "v".repeat(50))].into(),
        }
    }

    #[test]
    fn keeps_host_os_packages_first_and_says_what_it_left_out() {
        let mut inv: Inventory = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "node": {"id": "n1"}, "collected_at": "2026-01-01T00:00:00Z",
            "agent": {"name": "nminus", "version": "0"}, "root": "/", "packages": []
        }))
        .unwrap();
        for i in 0..300 {
            inv.packages.push(pkg(
                Ecosystem::Pypi,
                &format!("py{i:03}"),
                "/usr/lib/python3",
            ));
            inv.packages.push(pkg(
                Ecosystem::Deb,
                &format!("deb{i:03}"),
                "/var/lib/dpkg/status",
            ));
            let mut img = pkg(
                Ecosystem::Deb,
                &format!("img{i:03}"),
                "/var/lib/dpkg/status",
            );
            img.location = Location::in_image("nova:latest", img.location);
            inv.packages.push(img);
        }
        let full = json_len(&inv);
        assert!(trim_to_fit(&inv, full).is_none());
        let limit = full / 3;
        let (t, msg) = trim_to_fit(&inv, limit).unwrap();
        assert!(json_len(&t) <= limit);
        let debs = t
            .packages
            .iter()
            .filter(|p| p.name.starts_with("deb"))
            .count();
        assert_eq!(debs, 300, "every host OS package kept");
        assert!(!t.packages.iter().any(|p| p.name.starts_with("img")));
        assert!(msg.contains("packages left out"), "{msg}");
        let p = t.problems.last().unwrap();
        assert!(p.leaves_incomplete());
        let again = trim_to_fit(&inv, limit).unwrap().0;
        assert_eq!(
            serde_json::to_vec(&again).unwrap(),
            serde_json::to_vec(&t).unwrap(),
            "deterministic"
        );
        // Sorted as collected.
        assert!(t.packages.windows(2).all(|w| {
            let pos = |n: &str| inv.packages.iter().position(|p| p.name == n).unwrap();
            pos(&w[0].name) < pos(&w[1].name)
        }));
    }
}
