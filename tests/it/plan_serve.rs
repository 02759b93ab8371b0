//! Scenarios 1 and 2 end to end through the central analyzer: `nminus serve` on loopback over a
//! SQLite file (with an API token), one `nminus agent` process per fixture node pushing its
//! inventories in collection order (history included), then `nminus plan … --server` (and
//! `--db`) must plan what `nminus plan … --inventories` plans from the same files. Also the
//! store side: each history entry keeps its own collection time, pages and `latest`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use nminus::model::{Action, LimitCode, Plan};
use nminus::{stored_inventories, InventoryCursor, InventoryQuery};
use nminus::{Millis, Store};

use crate::plan::{fleet_dir, list_files, validate, NOW};
use crate::serve::{run_ok, Env, Server};
use crate::store::{inventory, package, push, sqlite_url, PgCluster};
use crate::support::{nminus, shared_data};

pub(crate) const TOKEN: &str = "planner-r3ad";
const AS_OF: &str = "2026-08-21";

/// A server holding a fixture fleet, pushed by agents.
pub(crate) struct Fleet {
    pub(crate) srv: Server,
    pub(crate) db: String,
    /// Per node, what each agent run answered (`stored`, `unchanged`), in push order.
    pushes: BTreeMap<String, Vec<String>>,
    /// Dropped after the server.
    _env: Env,
}

impl Fleet {
    /// Start `nminus serve` on a fresh SQLite file, enroll one agent per node found in `dir`
    /// and push every inventory of the node, oldest first, with `nminus agent --once --inventory`.
    pub(crate) fn start(dir: &Path) -> Self {
        let env = Env::new();
        let token_file = env.path("api-token");
        fs_err::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let db = format!("sqlite://{}", env.path("fleet.db").display());
        let srv = Server::start(
            &db,
            &shared_data(""),
            &env.secret(),
            &["--api-token-file", token_file.to_str().unwrap()],
            &env.cache(),
        );
        let mut by_node: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
        for rel in list_files(dir) {
            let path = dir.join(rel);
            let v: Value = serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
            by_node
                .entry(v["node"]["id"].as_str().unwrap().to_owned())
                .or_default()
                .push((v["collected_at"].as_str().unwrap().to_owned(), path));
        }
        let mut pushes = BTreeMap::new();
        for (node, mut files) in by_node {
            files.sort();
            let state = env.path(&format!("agent-{node}"));
            let mut e = nminus();
            e.args(["agent", "enroll", "--server", &srv.url, "--token-file"])
                .arg(env.secret())
                .args(["--node-id", &node, "--state-dir"])
                .arg(&state);
            run_ok(e);
            let mut got = Vec::new();
            for (_, f) in files {
                let mut a = nminus();
                a.args(["agent", "--once", "--retries", "0", "--state-dir"])
                    .arg(&state)
                    .arg("--inventory")
                    .arg(&f)
                    .env_remove("NMINUS_SERVER");
                let out = run_ok(a);
                let status = out
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{node}: ")))
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap_or_else(|| panic!("{node}: no status in:\n{out}"))
                    .to_owned();
                got.push(status);
            }
            pushes.insert(node, got);
        }
        Self {
            srv,
            db,
            pushes,
            _env: env,
        }
    }

    /// `GET /v1/inventories` with the token.
    fn inventories(&self, query: &[(&str, &str)]) -> Value {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/v1/inventories", self.srv.url))
            .query(query)
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        serde_json::from_slice(&r.bytes().unwrap()).unwrap()
    }
}

/// `nminus plan ARGS` with the shared openstack/releases data, as of `as_of`, at a fixed time.
fn plan_cmd(args: &[&str], as_of: &str) -> Command {
    let data = shared_data("openstack-releases");
    let data = data.parent().unwrap().to_str().unwrap().to_owned();
    let mut c = nminus();
    c.arg("plan")
        .args(args)
        .args(["--data", &data, "--as-of", as_of])
        .env("NMINUS_NOW", NOW)
        .env_remove("NMINUS_DATA")
        .env_remove("NMINUS_API_TOKEN");
    c
}

fn plan_out(args: &[&str], as_of: &str) -> Output {
    plan_cmd(args, as_of).output().unwrap()
}

/// The plan's standard output, which must be a success.
fn plan_ok(args: &[&str], as_of: &str) -> Vec<u8> {
    let o = plan_out(args, as_of);
    assert!(
        o.status.success(),
        "nminus plan {args:?} ({}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn parse_plan(bytes: &[u8]) -> Plan {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    validate(&v);
    serde_json::from_value(v).unwrap()
}

/// `args` (the subcommand first) with the input options `source` after the subcommand.
fn with<'a>(source: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![args[0]];
    v.extend_from_slice(source);
    v.extend_from_slice(&args[1..]);
    v
}

/// `args` with `--inventories DIR` and with `--server URL --token T`: the same bytes.
fn same_from_files_and_server(fleet: &Fleet, files: &Path, args: &[&str], as_of: &str) -> Vec<u8> {
    let a = plan_ok(
        &with(&["--inventories", files.to_str().unwrap()], args),
        as_of,
    );
    let b = plan_ok(
        &with(&["--server", &fleet.srv.url, "--token", TOKEN], args),
        as_of,
    );
    assert!(
        a == b,
        "plan {args:?}: files and server differ\n--- files\n{}\n--- server\n{}",
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b)
    );
    b
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    list_files(dir)
        .into_iter()
        .map(|rel| {
            let bytes = fs_err::read(dir.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect()
}

#[test]
fn scenario_1_replicate_a_site_through_serve_and_agents() {
    let three = fleet_dir("three-sites");
    let fleet = Fleet::start(&three);
    assert_eq!(fleet.pushes.len(), 15, "{:?}", fleet.pushes);
    assert!(
        fleet.pushes.values().all(|p| p == &["stored"]),
        "{:?}",
        fleet.pushes
    );

    // Reads need the API token: the planner says so.
    let o = plan_out(
        &[
            "replicate",
            "--server",
            &fleet.srv.url,
            "--from",
            "par1",
            "--to",
            "ber1",
        ],
        AS_OF,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("401") && err.contains("--token"),
        "a refused read names the token: {err}"
    );

    // The plan from the server is the plan from the files, byte for byte, in every format.
    let args = [
        "replicate",
        "--from",
        "par1",
        "--to",
        "ber1",
        "--footprint",
        "small",
    ];
    let json = same_from_files_and_server(&fleet, &three, &args, AS_OF);
    let p = parse_plan(&json);
    assert_eq!((p.inputs.inventories, p.inputs.nodes), (15, 15));
    let m = p.manifest.unwrap();
    assert_eq!(
        (m.source_site.as_str(), m.target_site.as_str()),
        ("par1", "ber1")
    );
    let hosts: usize = m.roles.iter().map(|r| r.hosts.len()).sum();
    let source: usize = m.roles.iter().map(|r| r.source_nodes.len()).sum();
    assert!(hosts < source, "{hosts} < {source}");
    assert!(!m.services.is_empty() && !m.images.is_empty());
    for fmt in ["markdown", "ansible"] {
        let mut a = args.to_vec();
        a.extend(["--format", fmt]);
        let out = same_from_files_and_server(&fleet, &three, &a, AS_OF);
        if fmt == "markdown" {
            assert!(String::from_utf8_lossy(&out).contains("## Bill of materials: par1 → ber1"));
        }
    }
    // kolla-ansible directories: the same files, images pinned by digest.
    let out = tempfile::tempdir().unwrap();
    let (df, ds) = (out.path().join("files"), out.path().join("server"));
    let mut a = with(&["--inventories", three.to_str().unwrap()], &args);
    a.extend(["--format", "kolla", "-o", df.to_str().unwrap()]);
    plan_ok(&a, AS_OF);
    let mut b = with(&["--server", &fleet.srv.url], &args);
    b.extend(["--format", "kolla", "-o", ds.to_str().unwrap()]);
    let o = plan_cmd(&b, AS_OF)
        .env("NMINUS_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (tf, ts) = (tree(&df), tree(&ds));
    assert!(tf.contains_key("kolla/ber1/globals.yml"), "{:?}", tf.keys());
    assert_eq!(tf, ts, "kolla output from files and from the server");
    let hv = String::from_utf8_lossy(&ts["kolla/ber1/inventory/host_vars/ber1-compute-02.yml"])
        .into_owned();
    assert!(
        hv.contains(
            "nova_compute_image_full: !unsafe \"quay.io/openstack.kolla/nova-compute@sha256:"
        ),
        "{hv}"
    );

    // Straight from the analyzer's database, too.
    assert!(
        plan_ok(&with(&["--db", &fleet.db], &args), AS_OF) == json,
        "--db plans what --server plans"
    );
}

#[test]
fn scenario_2_roll_back_one_tenant_through_serve_and_agents() {
    let hist = fleet_dir("tenant-rollback");
    let fleet = Fleet::start(&hist);
    // Each node pushed its inventory of 2026-05-01, then of 2026-08-01; acme's hold-back host
    // kept 2024.1, so its second run was only a heartbeat.
    assert_eq!(fleet.pushes.len(), 9);
    for (node, p) in &fleet.pushes {
        let want: &[&str] = if node == "par1-cmp-h1" {
            &["stored", "unchanged"]
        } else {
            &["stored", "stored"]
        };
        assert_eq!(p, want, "{node}");
    }

    // The server keeps every change with its collection time, a node's history in order.
    let all = fleet.inventories(&[]);
    let entries = all["inventories"].as_array().unwrap();
    assert!(all.get("next").is_none());
    let got: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["node"].as_str().unwrap().to_owned(),
                e["inventory"]["collected_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut want = Vec::new();
    for node in fleet.pushes.keys() {
        want.push((node.clone(), "2026-05-01T06:00:00Z".to_owned()));
        if node != "par1-cmp-h1" {
            want.push((node.clone(), "2026-08-01T06:00:00Z".to_owned()));
        }
    }
    assert_eq!(got, want);
    // Pages of 4 hold the same entries; `latest` and `until` pick each node's state by then.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let p = fleet.inventories(&[("limit", "4"), ("after", &after)]);
        let items = p["inventories"].as_array().unwrap();
        assert!(items.len() <= 4);
        paged.extend(items.iter().cloned());
        match p["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(&paged, entries);
    let latest = fleet.inventories(&[("latest", "true"), ("until", "2026-06-30")]);
    let latest = latest["inventories"].as_array().unwrap();
    assert_eq!(latest.len(), 9);
    assert!(latest
        .iter()
        .all(|e| e["inventory"]["collected_at"] == "2026-05-01T06:00:00Z"));
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/v1/inventories", fleet.srv.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "reads need the API token");
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/v1/inventories?after=nonsense", fleet.srv.url))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // Planned before the upgrade (as of 2026-05-01): acme's hold-back aggregate stays at N-1.
    let before = hist.join("2026-05-01");
    let up = same_from_files_and_server(
        &fleet,
        &before,
        &[
            "upgrade",
            "--scope",
            "site=par1",
            "--to",
            "2025.1",
            "--hold-back",
            "aggregate=agg-acme-hold",
        ],
        "2026-05-01",
    );
    let up = parse_plan(&up);
    assert!(up.steps.iter().any(|s| s.action == Action::Hold));
    assert!(up.rollback.iter().any(|s| s.action == Action::ColdMigrate));

    // After the upgrade acme breaks: roll acme back from the stored history; globex keeps N.
    let args = ["rollback", "--scope", "tenant=acme"];
    let from_files = plan_ok(
        &with(&["--inventories", hist.to_str().unwrap()], &args),
        AS_OF,
    );
    let from_server = plan_ok(
        &with(&["--server", &fleet.srv.url, "--token", TOKEN], &args),
        AS_OF,
    );
    let (f, s) = (parse_plan(&from_files), parse_plan(&from_server));
    // The files hold acme's unchanged hold-back host twice; the server once (its second run was
    // a heartbeat). So the server's plan read one inventory less and, with a single entry for
    // that host, states that it has nothing to roll back to (`no-history`) where the files
    // showed it unchanged. Everything else (and so the plan id, but for those) is the same.
    assert_eq!((f.inputs.inventories, s.inputs.inventories), (18, 17));
    assert_eq!(f.inputs.nodes, s.inputs.nodes);
    let strip = |p: &Plan| {
        let mut p = p.clone();
        let no_history =
            |l: &nminus::model::Limit| l.code == LimitCode::NoHistory && l.nodes == ["par1-cmp-h1"];
        let held = p.limits.iter().filter(|l| no_history(l)).count();
        p.limits.retain(|l| !no_history(l));
        let mut v = serde_json::to_value(&p).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("inputs");
        o.remove("id");
        (v, held)
    };
    let ((fv, f_held), (sv, s_held)) = (strip(&f), strip(&s));
    assert_eq!((f_held, s_held), (0, 1), "{:?}", s.limits);
    assert!(fv == sv, "rollback from files and from the server differ");
    let touched: Vec<&str> = s
        .steps
        .iter()
        .flat_map(|st| st.targets.iter().filter_map(|t| t.node.as_deref()))
        .collect();
    assert!(!touched.is_empty());
    assert!(
        touched
            .iter()
            .all(|n| ["par1-cmp-a1", "par1-cmp-a2", "par1-cmp-h1"].contains(n)),
        "globex and the control plane keep N: {touched:?}"
    );
    assert_eq!(s.steps[0].action, Action::ConfigureAggregate);
    assert!(s.steps[0].title.contains("agg-acme-hold"));
    assert_eq!(s.steps[1].action, Action::ColdMigrate);
    let codes: Vec<LimitCode> = s.limits.iter().map(|l| l.code).collect();
    assert!(
        codes.contains(&LimitCode::SharedControlPlane)
            && codes.contains(&LimitCode::NoLiveMigrationToOlder),
        "{codes:?}"
    );
    let nc = s
        .steps
        .iter()
        .find(|st| {
            st.component.as_deref() == Some("nova-compute") && st.action == Action::Downgrade
        })
        .unwrap();
    assert!(nc.blocked_by.is_empty(), "{:?}", nc.blocked_by);

    // Back to a date, and rendered for kolla-ansible: the same from the server.
    let (f_id, s_id) = (f.id.clone(), s.id.clone());
    for extra in [&["--to", "2026-05-01"][..], &["--format", "kolla"][..]] {
        let f = plan_ok(
            &with(
                &["--inventories", hist.to_str().unwrap()],
                &[&args[..], extra].concat(),
            ),
            AS_OF,
        );
        let s = plan_ok(
            &with(
                &["--server", &fleet.srv.url, "--token", TOKEN],
                &[&args[..], extra].concat(),
            ),
            AS_OF,
        );
        if extra[0] == "--format" {
            // The files name the plan they come from: its id differs, as above.
            let ft = String::from_utf8_lossy(&f).replace(&f_id, "plan-ID");
            let text = String::from_utf8_lossy(&s).replace(&s_id, "plan-ID");
            assert!(
                ft == text,
                "kolla files from files and from the server:\n{ft}\n{text}"
            );
            assert!(text.contains("# ==> kolla/par1/inventory/host_vars/par1-cmp-a1.yml <=="));
            assert!(text.contains("nova_compute_tag: !unsafe \"2024.1-ubuntu-jammy\""));
        } else {
            let ((fv, _), (sv, _)) = (strip(&parse_plan(&f)), strip(&parse_plan(&s)));
            assert!(
                fv == sv,
                "rollback --to 2026-05-01 from files and from the server"
            );
        }
    }

    // Straight from the analyzer's database: what the server answers.
    let from_db = plan_ok(&with(&["--db", &fleet.db], &args), AS_OF);
    assert!(from_db == from_server, "--db plans what --server plans");
}

/// A node that goes A → B → A: the inventory A is stored once, but each history entry keeps
/// its collection time, so the latest state is A again.
async fn history_entries_keep_their_collection_time(s: &dyn Store) {
    let at = |inv: &nminus::model::Inventory, t: &str| {
        let mut i = inv.clone();
        i.collected_at = t.to_owned();
        i
    };
    let a = inventory("n1", "par1", "c1", vec![package("nova", "29.0.0")]);
    let b = inventory("n1", "par1", "c1", vec![package("nova", "30.0.0")]);
    let (t1, t2, t3) = (
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    );
    s.enroll("n1", "tok-1", Millis(1_000)).await.unwrap();
    for (inv, t, recv) in [(&a, t1, 10_000), (&b, t2, 20_000), (&a, t3, 30_000)] {
        assert!(
            push(s, &at(inv, t), Vec::new(), recv)
                .await
                .unwrap()
                .changed
        );
    }
    // A revoked node is no longer part of the fleet.
    let c = inventory("n2", "par1", "c1", vec![package("nova", "29.0.0")]);
    s.enroll("n2", "tok-2", Millis(1_000)).await.unwrap();
    push(s, &c, Vec::new(), 11_000).await.unwrap();
    assert!(s.revoke("n2").await.unwrap());

    let h: Vec<Option<String>> = s
        .history("n1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.collected_at)
        .collect();
    assert_eq!(h, [Some(t3.into()), Some(t2.into()), Some(t1.into())]);

    let read = |q: InventoryQuery| async move {
        let p = stored_inventories(s, &q).await.unwrap();
        let got: Vec<(String, String)> = p
            .inventories
            .iter()
            .map(|e| {
                (
                    e.inventory.collected_at.clone(),
                    e.inventory.packages[0].version.clone(),
                )
            })
            .collect();
        (got, p.next)
    };
    let pair = |t: &str, v: &str| (t.to_owned(), v.to_owned());
    let (all, next) = read(InventoryQuery::default()).await;
    assert_eq!(
        all,
        [pair(t1, "29.0.0"), pair(t2, "30.0.0"), pair(t3, "29.0.0")]
    );
    assert!(next.is_none());
    let (latest, _) = read(InventoryQuery {
        latest: true,
        ..InventoryQuery::default()
    })
    .await;
    assert_eq!(latest, [pair(t3, "29.0.0")]);
    let (until, _) = read(InventoryQuery {
        latest: true,
        until: Some("2026-02-15T23:59:59Z".into()),
        ..InventoryQuery::default()
    })
    .await;
    assert_eq!(until, [pair(t2, "30.0.0")]);
    // One entry per page (by count, then by size), resumed from each page's `next`.
    for (limit, max_bytes) in [(1, usize::MAX), (100, 1)] {
        let mut after = None;
        let mut pages = Vec::new();
        loop {
            let (got, next) = read(InventoryQuery {
                after: after.take(),
                limit,
                max_bytes,
                ..InventoryQuery::default()
            })
            .await;
            pages.push(got);
            match next {
                Some(n) => after = Some(InventoryCursor::parse(&n).unwrap()),
                None => break,
            }
        }
        assert_eq!(
            pages,
            [
                vec![pair(t1, "29.0.0")],
                vec![pair(t2, "30.0.0")],
                vec![pair(t3, "29.0.0")]
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_history_keeps_each_collection_time() {
    let (_dir, url) = sqlite_url();
    history_entries_keep_their_collection_time(nminus::open_store(&url).await.unwrap().as_ref())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_keeps_each_collection_time() {
    let pg = PgCluster::start();
    let url = pg.database("history");
    history_entries_keep_their_collection_time(nminus::open_store(&url).await.unwrap().as_ref())
        .await;
}
