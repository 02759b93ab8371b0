//! The fleet HTML pages at 10,000 nodes (a report built from three real inventories judged by
//! the real analyzer, spread over sites), opened in headless Chromium: the summary loads with
//! the right counts and a bounded size, and a node page is reachable from it.

use std::collections::BTreeMap;

use nminus::model::{Inventory, Report};

use crate::fleet_api::{python_node, real_analyzer};
use crate::reports::{dom_number, run_chromium};

const NODES: usize = 10_000;
/// Sites, one of them hostile (markup and a path in its name).
const SITES: [&str; 5] = ["par1", "fra1", "ams1", "lon1", "<b>x</b>/../../etc"];

fn fleet_report() -> Report {
    let invs: Vec<Inventory> = ["2022.1-yoga", "2025.2-flamingo", "2026.1-gazpacho"]
        .iter()
        .enumerate()
        .map(|(i, s)| python_node(s, &format!("t{i}"), "t"))
        .collect();
    let an = real_analyzer();
    let today = time::macros::date!(2026 - 01 - 01);
    let refs: Vec<&Inventory> = invs.iter().collect();
    let judged = an.judge_fleet(&refs, today);
    let base = an.report(
        invs.iter().zip(judged).collect(),
        Vec::new(),
        "2026-01-01T00:00:00Z".into(),
        today,
    );
    let mut r = base.clone();
    r.inventory.clear();
    r.nodes.clear();
    r.findings.clear();
    r.waived.clear();
    for i in 0..NODES {
        let t = &base.nodes[i % base.nodes.len()];
        let id = format!("node{i:05}");
        let mut n = t.clone();
        n.id.clone_from(&id);
        n.site = Some(SITES[i % SITES.len()].to_owned());
        r.nodes.push(n);
        for (src, dst) in [
            (&base.findings, &mut r.findings),
            (&base.waived, &mut r.waived),
        ] {
            dst.extend(src.iter().filter(|f| f.node == t.id).map(|f| {
                let mut f = f.clone();
                f.node.clone_from(&id);
                f
            }));
        }
    }
    r
}

#[test]
fn fleet_pages_open_at_10000_nodes_in_chromium() {
    let r = fleet_report();
    assert!(r.findings.len() > NODES, "{} findings", r.findings.len());
    let dir = tempfile::tempdir().unwrap();
    let pages = nminus::write_fleet_pages(&r, dir.path()).unwrap();
    assert_eq!(pages.node_pages, NODES);
    assert_eq!(
        pages.site_pages,
        SITES.len() * (NODES / SITES.len()).div_ceil(nminus::SITE_PAGE)
    );

    // Sizes: the summary follows sites and the worst-node list, not nodes.
    let index = fs_err::read_to_string(&pages.index).unwrap();
    assert!(index.len() < 128 * 1024, "summary of {} bytes", index.len());
    for e in fs_err::read_dir(dir.path().join("sites")).unwrap() {
        let len = e.unwrap().metadata().unwrap().len();
        assert!(len < 1024 * 1024, "a site page of {len} bytes");
    }
    // The hostile site name stays inside `sites/` and escaped.
    assert!(!index.contains("<b>x</b>"));
    assert!(dir.path().join("sites").read_dir().unwrap().all(|e| {
        let name = e.unwrap().file_name().into_string().unwrap();
        !name.contains('/') && !name.starts_with("..")
    }));

    let url = format!("file://{}", pages.index.canonicalize().unwrap().display());
    let (dom, log) = run_chromium(&["--dump-dom".to_owned()], &url);
    assert!(dom.contains("data-verdict=\"NOT COMPLIANT"), "{log}");
    assert_eq!(dom_number(&dom, "data-summary=\"nodes\""), NODES);
    assert_eq!(
        dom_number(&dom, "data-summary=\"findings\""),
        r.findings.len()
    );
    let compliant = r.nodes.iter().filter(|n| n.compliant).count();
    assert_eq!(dom_number(&dom, "data-summary=\"compliant\""), compliant);
    let site_of: BTreeMap<&str, &str> = r
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.site.as_deref().unwrap()))
        .collect();
    let mut want: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for f in &r.findings {
        *want
            .entry((site_of[f.node.as_str()], f.severity.as_str()))
            .or_default() += 1;
        *want.entry(("*", f.severity.as_str())).or_default() += 1;
    }
    for ((site, sev), n) in &want {
        if site.contains('<') {
            continue;
        }
        assert_eq!(
            dom_number(&dom, &format!("data-count=\"{site}/{sev}\"")),
            *n,
            "{site}/{sev}"
        );
    }
    assert_eq!(
        dom_number(&dom, "data-site-nodes=\"par1\""),
        NODES / SITES.len()
    );

    // The worst node's page, by the summary's link.
    let at = dom.find("href=\"nodes/").expect("a link to a node page") + 6;
    let href = &dom[at..at + dom[at..].find('"').unwrap()];
    let node_page = dir.path().join(href);
    let (page, log) = run_chromium(
        &["--dump-dom".to_owned()],
        &format!("file://{}", node_page.canonicalize().unwrap().display()),
    );
    let id = href.trim_start_matches("nodes/").trim_end_matches(".html");
    let open = r.findings.iter().filter(|f| f.node == id).count();
    assert!(open > 0, "the worst node has findings");
    assert_eq!(dom_number(&page, "data-node-findings=\"1\""), open, "{log}");
    assert!(page.contains("data-node-compliant=\"false\""));
}
