//! The control-plane inventory: `serve --discover-cloud` against a real Keystone (see
//! discover.rs) with an agent's real inventory behind one region, rounds stored with history,
//! a service added through Keystone's API between rounds and seen on the next one without a
//! restart, the fleet findings checked against what the agent's packages say; and the store's
//! rounds on SQLite and on a real PostgreSQL.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::discover::{sample, wait_for, Keystone, Samples};
use crate::serve::{get_json, http, run_ok, Env, Server};
use crate::store::{sqlite_url, PgCluster};
use crate::support::{nminus, shared_data};

fn findings(d: &Value) -> Vec<Value> {
    d["findings"].as_array().cloned().unwrap_or_default()
}

fn has(d: &Value, code: &str, service_type: &str, region: &str) -> bool {
    findings(d)
        .iter()
        .any(|f| f["code"] == code && f["service_type"] == service_type && f["region"] == region)
}

/// The newest round, once there is one.
fn latest(base: &str) -> Option<Value> {
    let r = http().get(format!("{base}/v1/controlplane")).send().ok()?;
    r.status()
        .is_success()
        .then(|| serde_json::from_slice(&r.bytes().ok()?).ok())
        .flatten()
}

fn newest_id(base: &str) -> i64 {
    get_json(&format!("{base}/v1/controlplane/history?limit=1"))[0]["id"]
        .as_i64()
        .unwrap_or(0)
}

/// Wait for a round stored after round `after` in which Keystone answered, and return it (a
/// round whose authentication timed out on a loaded machine is stored too, and skipped here).
fn round_after(base: &str, after: i64) -> Value {
    let mut found = None;
    wait_for(
        "a newer control-plane round",
        Duration::from_secs(120),
        || {
            if newest_id(base) <= after {
                return false;
            }
            found = latest(base).filter(|d| d["keystone"]["error"].is_null());
            found.is_some()
        },
    );
    found.unwrap()
}

/// Series of `deliverable` on `node`, from the fleet report (the server's own currency rows).
fn package_series(base: &str, node: &str, deliverable: &str) -> (bool, BTreeSet<String>) {
    let r = get_json(&format!("{base}/v1/report.json"));
    let rows: Vec<&Value> = r["openstack"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["node"] == node && o["deliverable"] == deliverable)
        .collect();
    (
        !rows.is_empty(),
        rows.iter()
            .filter_map(|o| o["series"].as_str().map(str::to_owned))
            .collect(),
    )
}

fn candidates(d: &Value, service_type: &str, region: &str) -> BTreeSet<String> {
    d["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service_type"] == service_type && e["region"] == region)
        .and_then(|e| e["series"]["candidates"].as_array())
        .map(|c| {
            c.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What the fleet findings of `service_type` in RegionOne (site par1) must be, from the
/// agent's packages and the endpoint's implied series.
fn check_fleet_findings(base: &str, d: &Value, service_type: &str, deliverable: &str) {
    let (present, series) = package_series(base, "ctl-par1", deliverable);
    let undiscovered = has(d, "undiscovered-service", service_type, "RegionOne");
    assert_eq!(
        undiscovered, !present,
        "{service_type}: packages of {deliverable} on ctl-par1: {present}; round: {d:#}"
    );
    let c = candidates(d, service_type, "RegionOne");
    let disagree = present && !series.is_empty() && !c.is_empty() && c.is_disjoint(&series);
    assert_eq!(
        has(
            d,
            "series-disagrees-with-packages",
            service_type,
            "RegionOne"
        ),
        disagree,
        "{service_type}: API series {c:?}, package series {series:?}: {:#}",
        d["findings"]
    );
}

/// `nminus serve` on the store `db`, discovering the cloud `test` of `ks` (its password
/// `secret`, from a clouds.yaml and secure.yaml in the Keystone's directory) every second,
/// with `extra` arguments.
pub(crate) fn serve_discovering(ks: &Keystone, env: &Env, db: &str, extra: &[&str]) -> Server {
    let clouds = ks.clouds_yaml("secret").display().to_string();
    let mut cmd = nminus();
    cmd.env("HOME", ks.dir.path())
        .env("OS_CLIENT_SECURE_FILE", ks.dir.path().join("secure.yaml"));
    let mut args = vec![
        "--discover-cloud",
        "test",
        "--clouds-yaml",
        &clouds,
        "--discover-interval",
        "1s",
        "--discover-timeout",
        "10",
    ];
    args.extend_from_slice(extra);
    Server::start_with(
        cmd,
        db,
        &shared_data(""),
        &env.secret(),
        &args,
        &env.cache(),
    )
}

#[test]
fn serve_discovers_stores_rounds_and_sees_a_new_service_without_restart() {
    let ks = Keystone::start();
    ks.region("RegionTwo");
    let nova = || {
        Samples::start(vec![
            ("/", sample("nova/versions-get-resp.json")),
            ("/v2.1", sample("nova/v21-version-get-resp.json")),
        ])
    };
    let (nova1, nova2) = (nova(), nova());
    let compute = ks.service("compute", "nova");
    ks.endpoint(&compute, "public", "RegionOne", &nova1.url("/v2.1"));
    ks.endpoint(&compute, "public", "RegionTwo", &nova2.url("/v2.1"));
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = serve_discovering(
        &ks,
        &env,
        &db,
        &[
            "--probe-interval",
            "1s",
            "--discover-site",
            "RegionOne=par1",
        ],
    );
    let base = srv.url.clone();
    wait_for("the first round", Duration::from_secs(60), || {
        latest(&base).is_some()
    });

    // A control node of site par1 (RegionOne), with real OpenStack packages.
    let state = env.path("agent-ctl-par1");
    let mut e = nminus();
    e.args(["agent", "enroll", "--server", &base, "--token-file"])
        .arg(env.secret())
        .args(["--node-id", "ctl-par1", "--state-dir"])
        .arg(&state);
    run_ok(e);
    let mut a = nminus();
    a.args(["agent", "--once", "--state-dir"])
        .arg(&state)
        .arg("--root")
        .arg(shared_data(
            "fixtures/python/openstack-site-packages/2025.2-flamingo",
        ))
        .args(["--site", "par1"]);
    run_ok(a);

    let d = round_after(&base, newest_id(&base));
    assert_eq!(d["schema"], "nminus-discovery/1");
    // RegionTwo has no enrolled node: the whole region is unseen by agents.
    assert!(has(&d, "undiscovered-service", "", "RegionTwo"), "{d:#}");
    assert!(!has(&d, "undiscovered-service", "", "RegionOne"), "{d:#}");
    check_fleet_findings(&base, &d, "compute", "nova");
    assert!(!has(&d, "new-service", "compute", "RegionOne"), "{d:#}");

    // A new service through Keystone's API while serve runs: seen on the next round.
    let before = newest_id(&base);
    let placement = Samples::start(vec![("/", sample("placement/get-root.json"))]);
    let p = ks.service("placement", "placement");
    ks.endpoint(&p, "public", "RegionOne", &placement.url(""));
    // The round under way may have read the catalog before the endpoint was added.
    let mut d = round_after(&base, before);
    for _ in 0..3 {
        if has(&d, "new-service", "placement", "RegionOne") {
            break;
        }
        d = round_after(&base, newest_id(&base));
    }
    assert!(has(&d, "new-service", "placement", "RegionOne"), "{d:#}");
    assert!(has(&d, "new-endpoint", "placement", "RegionOne"), "{d:#}");
    check_fleet_findings(&base, &d, "placement", "placement");
    // Judged against the previous round: not new again on the next one.
    let next = round_after(&base, newest_id(&base));
    assert!(
        !has(&next, "new-service", "placement", "RegionOne"),
        "{next:#}"
    );

    // The probes' metrics on serve's own /metrics, beside serve's.
    let metrics = || {
        http()
            .get(format!("{base}/metrics"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    wait_for("placement probed", Duration::from_secs(30), || {
        metrics().contains("nminus_openstack_endpoint_up{service_type=\"placement\"")
    });
    let m = metrics();
    assert!(m.contains("nminus_openstack_discoveries_total"), "{m}");
    assert!(m.contains("nminus_build_info"), "{m}");

    // History: every round stored, newest first.
    let h = get_json(&format!("{base}/v1/controlplane/history"));
    let ids: Vec<i64> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 4, "{h:#}");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let first = *ids.last().unwrap();
    let old = get_json(&format!("{base}/v1/controlplane?id={first}"));
    assert!(
        old["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["service_type"] != "placement"),
        "{old:#}"
    );

    // query, from the server and from the database.
    let mut q = nminus();
    q.args([
        "query",
        "--server",
        &base,
        "--format",
        "json",
        "controlplane",
    ]);
    let v: Value = serde_json::from_str(&stdout_ok(q)).unwrap();
    assert!(v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["service_type"] == "placement"));
    let mut q = nminus();
    q.args(["query", "--db", &db, "controlplane", "--history"]);
    let table = stdout_ok(q);
    assert!(table.starts_with("ID  CLOUD"), "{table}");
    assert!(table.lines().count() > 4, "{table}");
    let mut q = nminus();
    q.args(["query", "--server", &base, "controlplane"]);
    let table = stdout_ok(q);
    assert!(table.contains("undiscovered-service"), "{table}");

    // The reports carry the newest round: JSON, Markdown, and HTML read in headless Chromium.
    let r = get_json(&format!("{base}/v1/report.json"));
    let cp = &r["control_plane"];
    assert_eq!(cp["cloud"], "test", "{cp:#}");
    assert!(cp["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["service_type"] == "placement" && e["status"] == "ok"));
    assert!(cp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| { f["code"] == "undiscovered-service" && f["region"] == "RegionTwo" }));
    let json = env.path("report.json");
    fs_err::write(&json, serde_json::to_vec(&r).unwrap()).unwrap();
    let mut md = nminus();
    md.args(["report", "--format", "markdown", "--input"])
        .arg(&json);
    let md = String::from_utf8(md.output().unwrap().stdout).unwrap();
    assert!(md.contains("### Control plane (test, discovered"), "{md}");
    assert!(md.contains("| warning | undiscovered-service |"), "{md}");
    let html = http()
        .get(format!("{base}/v1/report.html"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let page = env.path("report.html");
    fs_err::write(&page, &html).unwrap();
    let (dom, log) = crate::reports::run_chromium(
        &["--dump-dom".to_owned()],
        &format!("file://{}", page.display()),
    );
    let section = dom
        .split("<section id=\"controlplane\">")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_else(|| panic!("no control-plane section in the DOM:\n{dom}\n{log}"));
    assert!(section.contains("data-service=\"placement\""), "{section}");
    assert!(
        section.contains("data-code=\"undiscovered-service\""),
        "{section}"
    );
    assert!(
        dom.contains("href=\"#controlplane\""),
        "no link to the section"
    );
}

fn stdout_ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn rounds_behave(s: std::sync::Arc<dyn nminus::Store>) {
    use nminus::Millis;
    use nminus::NewControlPlaneRound;
    // A real upstream document as the body: the store keeps whatever JSON it is given.
    let text = fs_err::read_to_string(shared_data(
        "openstack-api/keystone/auth-password-project-scoped-response.json",
    ))
    .unwrap();
    let body = serde_json::value::RawValue::from_string(text.clone()).unwrap();
    let day = 86_400_000;
    let mut ids = Vec::new();
    for (cloud, at) in [("a", 1), ("b", 2), ("a", 3), ("a", 40)] {
        ids.push(
            s.record_control_plane(NewControlPlaneRound {
                cloud,
                discovered_at: Millis(at * day),
                endpoints: at,
                findings: 1,
                problems: 0,
                body: &body,
            })
            .await
            .unwrap(),
        );
    }
    let all = s.control_plane_rounds(None, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.endpoints).collect::<Vec<_>>(),
        [40, 3, 2, 1]
    );
    let a = s.control_plane_rounds(Some("a"), 2).await.unwrap();
    assert_eq!(a.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[3], ids[2]]);
    let (r, v) = s
        .control_plane_round(None, Some("b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.id, ids[1]);
    assert_eq!(v, serde_json::from_str::<Value>(&text).unwrap());
    let (r, _) = s
        .control_plane_round(Some(ids[0]), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.discovered_at, Millis(day));
    assert!(s
        .control_plane_round(Some(ids[0]), Some("b"))
        .await
        .unwrap()
        .is_none());
    // Older than day 10 goes, but each cloud's newest stays (b's only round).
    assert_eq!(s.prune_control_plane(Millis(10 * day)).await.unwrap(), 2);
    let left = s.control_plane_rounds(None, 100).await.unwrap();
    assert_eq!(
        left.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[3], ids[1]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_rounds_sqlite_and_postgres() {
    let (_dir, url) = sqlite_url();
    rounds_behave(nminus::open_store(&url).await.unwrap()).await;
    let pg = PgCluster::start();
    let url = pg.database("controlplane");
    rounds_behave(nminus::open_store(&url).await.unwrap()).await;
}
