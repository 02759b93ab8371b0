//! The fleet-scale edges of the central analyzer over real HTTP on loopback: the maintained
//! findings gauge of `/metrics` against a full aggregate of the store, and paged, filtered
//! `/v1/findings` and `/v1/nodes`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nminus::model::{Inventory, NodeInfo};
use nminus::Store;
use nminus::{app, Access, AppState, ServeOptions};
use nminus::{collect_root, CollectOptions, Root};
use nminus::{load_all, FeedsConfig};
use nminus::{AdvisoryIndex, Analyzer, Catalogs};

use crate::store::sqlite_url;
use crate::support::shared_data;

/// The analyzer over the shared data's PyPA and OSSA advisories, waivers cleared.
pub fn real_analyzer() -> Analyzer {
    real_analyzer_aged(None)
}

/// The same, with a maximum inventory age.
fn real_analyzer_aged(max_age_hours: Option<u32>) -> Analyzer {
    let cfg = FeedsConfig::builtin()
        .select(&["pypa".to_owned(), "ossa".to_owned()])
        .unwrap();
    let loaded = load_all(&cfg, &shared_data(""), None, None);
    analyzer(
        AdvisoryIndex::from_feeds(loaded.advisories),
        "feeds",
        max_age_hours,
    )
}

fn analyzer(index: AdvisoryIndex, revision: &str, max_age_hours: Option<u32>) -> Analyzer {
    let mut policy = nminus::load_policy("default").unwrap();
    policy.waivers.clear();
    policy.max_inventory_age_hours = max_age_hours;
    Analyzer::from_parts(
        index,
        Catalogs::default(),
        policy,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        revision.into(),
    )
}

/// The inventory of one of the shared data's OpenStack site-packages fixtures as a node.
pub fn python_node(series: &str, id: &str, site: &str) -> Inventory {
    let root = shared_data(&format!("fixtures/python/openstack-site-packages/{series}"));
    collect_root(
        &Root::new(Path::new(&root)),
        &CollectOptions {
            node: NodeInfo {
                id: id.into(),
                hostname: Some(id.into()),
                site: Some(site.into()),
                cell: Some("c1".into()),
                ..NodeInfo::default()
            },
            collected_at: "2026-01-01T00:00:00Z".into(),
        },
    )
}

/// The router served on a loopback port by this process.
pub struct Loopback {
    _dir: tempfile::TempDir,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub url: String,
}

impl Loopback {
    pub async fn start(an: Analyzer) -> Self {
        let (dir, url) = sqlite_url();
        let store = nminus::open_store(&url).await.unwrap();
        let state = AppState::new(
            Arc::clone(&store),
            an,
            ServeOptions {
                enroll_secret: Some("enroll-me".into()),
                access: Access::Open,
                ..ServeOptions::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = app(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            _dir: dir,
            state,
            store,
            url,
        }
    }

    /// `method path` with an optional JSON body, on a blocking thread: (status, body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Vec<u8>>,
    ) -> (u16, String) {
        let url = format!("{}{path}", self.url);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let token = token.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut req = crate::serve::http().request(method, url).bearer_auth(token);
            if let Some(b) = body {
                req = req.header("content-type", "application/json").body(b);
            }
            let r = req.send().unwrap();
            (r.status().as_u16(), r.text().unwrap())
        })
        .await
        .unwrap()
    }

    pub async fn enroll(&self, node: &str) -> String {
        let body = format!(r#"{{"node":"{node}"}}"#).into_bytes();
        let (s, b) = self
            .call("POST", "/v1/enroll", "enroll-me", Some(body))
            .await;
        assert_eq!(s, 201, "{b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn push(&self, token: &str, inv: &Inventory) {
        let body = serde_json::to_vec(inv).unwrap();
        let (s, b) = self
            .call("POST", "/v1/inventories", token, Some(body))
            .await;
        assert!(s == 201 || s == 200, "{s} {b}");
    }
}

/// The `nminus_findings` samples of a scrape.
async fn scraped(t: &Loopback) -> BTreeMap<(String, String, String), i64> {
    let (s, body) = t.call("GET", "/metrics", "", None).await;
    assert_eq!(s, 200, "{body}");
    let mut out = BTreeMap::new();
    for line in body.lines().filter(|l| l.starts_with("nminus_findings{")) {
        let (labels, v) = line.rsplit_once(' ').unwrap();
        let label = |k: &str| {
            let start = labels.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
            labels[start..start + labels[start..].find('"').unwrap()].to_owned()
        };
        out.insert(
            (label("site"), label("code"), label("severity")),
            v.parse().unwrap(),
        );
    }
    out
}

/// The same counts by a full aggregate over the store.
async fn aggregated(t: &Loopback) -> BTreeMap<(String, String, String), i64> {
    t.store
        .finding_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| ((c.site, c.code, c.severity), c.count))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_findings_are_maintained_and_equal_a_full_aggregate() {
    let t = Loopback::start(real_analyzer()).await;
    // Seeded from the empty store by the first scrape.
    assert!(scraped(&t).await.is_empty());
    let nodes = [
        ("2022.1-yoga", "n0", "par1"),
        ("2022.1-yoga", "n1", "fra1"),
        ("2025.2-flamingo", "n2", "fra1"),
    ];
    let mut tokens = Vec::new();
    for (series, id, site) in nodes {
        let tok = t.enroll(id).await;
        t.push(&tok, &python_node(series, id, site)).await;
        tokens.push(tok);
    }
    let after_pushes = scraped(&t).await;
    assert!(
        after_pushes.values().sum::<i64>() > 10,
        "the yoga fixtures have advisories: {after_pushes:?}"
    );
    assert_eq!(after_pushes, aggregated(&t).await);

    // n0 moves to another series and site: its old counts leave par1.
    t.push(&tokens[0], &python_node("2026.1-gazpacho", "n0", "ams1"))
        .await;
    let moved = scraped(&t).await;
    assert!(
        !moved.keys().any(|(site, _, _)| site == "par1"),
        "{moved:?}"
    );
    assert_ne!(moved, after_pushes);
    assert_eq!(moved, aggregated(&t).await);

    // A re-analysis without the advisories (only currency and lifecycle findings remain).
    t.state
        .set_analyzer(analyzer(AdvisoryIndex::build(Vec::new()), "none", None));
    let (s, b) = t.call("POST", "/v1/reanalyze", "", None).await;
    assert_eq!(s, 200, "{b}");
    let reanalyzed = scraped(&t).await;
    assert!(reanalyzed.values().sum::<i64>() < moved.values().sum::<i64>());
    assert_eq!(reanalyzed, aggregated(&t).await);
}

/// Follow `next` from `first` (a path with `limit`) to the end: every item, and the pages' sizes.
async fn all_pages(t: &Loopback, first: &str) -> (Vec<serde_json::Value>, Vec<usize>) {
    let (mut items, mut sizes) = (Vec::new(), Vec::new());
    let mut path = first.to_owned();
    loop {
        let (s, b) = t.call("GET", &path, "", None).await;
        assert_eq!(s, 200, "{path}: {b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        let page = v["items"].as_array().unwrap().clone();
        sizes.push(page.len());
        items.extend(page);
        match v["next"].as_str() {
            Some(n) => path = format!("{first}&cursor={n}"),
            None => return (items, sizes),
        }
        assert!(sizes.len() < 10_000, "pages never end");
    }
}

async fn unpaged(t: &Loopback, path: &str) -> Vec<serde_json::Value> {
    let (s, b) = t.call("GET", path, "", None).await;
    assert_eq!(s, 200, "{path}: {b}");
    serde_json::from_str(&b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_and_nodes_page_with_filters_over_http() {
    // Every node is silent past a zero maximum age: `inventory-stale` findings follow the
    // stored ones in the paged stream.
    let t = Loopback::start(real_analyzer_aged(Some(0))).await;
    let fleet = [
        ("2022.1-yoga", "n3", "fra1"),
        ("2025.2-flamingo", "n1", "par1"),
        ("2022.1-yoga", "n0", "par1"),
        ("2026.1-gazpacho", "n4", "fra1"),
        ("2022.1-yoga", "n2", "fra1"),
    ];
    for (series, id, site) in fleet {
        let tok = t.enroll(id).await;
        t.push(&tok, &python_node(series, id, site)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let all = unpaged(&t, "/v1/findings").await;
    let stale = all
        .iter()
        .filter(|f| f["code"] == "inventory-stale")
        .count();
    assert_eq!(stale, fleet.len(), "one stale finding per node");
    assert!(all.len() > 30, "{}", all.len());
    let (paged, sizes) = all_pages(&t, "/v1/findings?limit=7").await;
    assert_eq!(paged, all, "pages in order, nothing lost or repeated");
    assert!(sizes.iter().all(|s| *s <= 7) && sizes.len() >= all.len() / 7);

    // Filters, paged and not, agree and hold.
    let package = all[0]["subject"]["name"].as_str().unwrap().to_owned();
    for filter in [
        "site=fra1&severity=high".to_owned(),
        "kind=inventory-stale".to_owned(),
        format!("package={package}"),
        "node=n2&site=fra1".to_owned(),
    ] {
        let want = unpaged(&t, &format!("/v1/findings?{filter}")).await;
        assert!(!want.is_empty(), "{filter}");
        let (got, _) = all_pages(&t, &format!("/v1/findings?{filter}&limit=3")).await;
        assert_eq!(got, want, "{filter}");
        assert!(want.len() < all.len(), "{filter} filters");
    }
    let by_site = unpaged(&t, "/v1/findings?site=fra1&severity=high").await;
    assert!(by_site
        .iter()
        .all(|f| ["n2", "n3", "n4"].contains(&f["node"].as_str().unwrap())));

    // Nodes by id.
    let nodes = unpaged(&t, "/v1/nodes").await;
    let (paged, sizes) = all_pages(&t, "/v1/nodes?limit=2").await;
    let ids: Vec<_> = paged.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["n0", "n1", "n2", "n3", "n4"]);
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(paged.len(), nodes.len());
    let (fra, _) = all_pages(&t, "/v1/nodes?site=fra1&limit=1").await;
    assert_eq!(fra.len(), 3);

    // A cursor that no page gave.
    let (s, b) = t
        .call("GET", "/v1/findings?limit=2&cursor=zz", "", None)
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("cursor"), "{b}");
}
