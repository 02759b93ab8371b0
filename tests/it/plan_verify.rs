//! Plans use the control plane: a real Keystone (see discover.rs) with a catalog in three
//! regions, each mapped to a site of the `three-sites` fixture fleet, the other services'
//! version documents served from upstream's samples; `nminus discover` writes the discovery,
//! then `nminus plan upgrade --discovery FILE` (and `--db` / `--server` once the round is stored)
//! must name, per step, exactly the catalog endpoints of the service it moves in that site,
//! the maximum upstream's data gives for the hop's target series (read here from the TSVs,
//! for every hop of every site), what was observed, and the PromQL; the renderings carry it
//! (Ansible through `ansible-playbook --syntax-check`, the command sequences through `bash -n`);
//! `plan replicate` lists the catalog entries the new site needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::discover::{sample, Keystone, Samples};
use crate::plan::{fleet_dir, validate, NOW};
use crate::plan_serve::{Fleet, TOKEN};
use crate::support::{nminus, shared_data};

const AS_OF: &str = "2026-08-21";

/// `nminus plan ARGS` on the shared data, at a fixed time.
fn plan(args: &[&str]) -> Command {
    let mut c = nminus();
    c.arg("plan")
        .args(args)
        .arg("--data")
        .arg(shared_data(""))
        .args(["--as-of", AS_OF])
        .env("NMINUS_NOW", NOW)
        .env_remove("NMINUS_DATA")
        .env_remove("NMINUS_API_TOKEN");
    c
}

fn ok(mut c: Command) -> Vec<u8> {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?} ({}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn plan_json(args: &[&str]) -> Value {
    let v: Value = serde_json::from_slice(&ok(plan(args))).unwrap();
    validate(&v);
    v
}

/// Upstream's maximum of `project` for `series` (codename), from the TSVs themselves: the
/// microversion table or the version-id table.
fn upstream_max(project: &str, series: &str, micro: bool) -> Option<String> {
    let file = if micro {
        "openstack-api/max-per-series-code.tsv"
    } else {
        "openstack-api/version-ids-per-series-code.tsv"
    };
    fs_err::read_to_string(shared_data(file))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f[0] == project && f[1] == series)
        .map(|f| f[2].trim_start_matches('v').to_owned())
}

/// The test cloud: three regions, real samples.
struct Cloud {
    ks: Keystone,
    _services: Vec<Samples>,
}

fn cloud() -> Cloud {
    let ks = Keystone::start();
    ks.region("RegionTwo");
    ks.region("RegionThree");
    let nova = || {
        Samples::start(vec![
            ("/", sample("nova/versions-get-resp.json")),
            ("/v2.1", sample("nova/v21-version-get-resp.json")),
        ])
    };
    let placement = || Samples::start(vec![("/", sample("placement/get-root.json"))]);
    let glance = || Samples::start(vec![("/", sample("glance/image-versions-response.json"))]);
    let cinder = || {
        Samples::start(vec![
            ("/", sample("cinder/versions-response.json")),
            ("/v3", sample("cinder/version-show-response.json")),
        ])
    };
    let ironic = Samples::start(vec![
        ("/", sample("ironic/api-root-response.json")),
        ("/v1", sample("ironic/api-v1-root-response.json")),
    ]);
    let (n1, n2, n3) = (nova(), nova(), nova());
    let (p1, p3) = (placement(), placement());
    let (g1, g2) = (glance(), glance());
    let (c1, c2) = (cinder(), cinder());
    let compute = ks.service("compute", "nova");
    for i in ["public", "internal"] {
        ks.endpoint(&compute, i, "RegionOne", &n1.url("/v2.1"));
    }
    ks.endpoint(&compute, "public", "RegionTwo", &n2.url("/v2.1"));
    ks.endpoint(&compute, "public", "RegionThree", &n3.url("/v2.1"));
    let p = ks.service("placement", "placement");
    ks.endpoint(&p, "public", "RegionOne", &p1.url(""));
    ks.endpoint(&p, "public", "RegionThree", &p3.url(""));
    let g = ks.service("image", "glance");
    ks.endpoint(&g, "public", "RegionOne", &g1.url(""));
    ks.endpoint(&g, "public", "RegionTwo", &g2.url(""));
    let c = ks.service("volumev3", "cinderv3");
    ks.endpoint(&c, "public", "RegionOne", &c1.url("/v3/%(project_id)s"));
    ks.endpoint(&c, "public", "RegionTwo", &c2.url("/v3/%(project_id)s"));
    let b = ks.service("baremetal", "ironic");
    ks.endpoint(&b, "public", "RegionOne", &ironic.url(""));
    Cloud {
        ks,
        _services: vec![n1, n2, n3, p1, p3, g1, g2, c1, c2, ironic],
    }
}

/// The deliverable whose API a component serves, as the planner's DAG names them.
fn project_of(component: &str) -> Option<&'static str> {
    Some(match component {
        "nova-api" => "nova",
        "cinder-api" => "cinder",
        "placement" => "placement",
        "glance" => "glance",
        "keystone" => "keystone",
        "ironic" => "ironic",
        "heat" => "heat",
        "octavia" => "octavia",
        "neutron-server" => "neutron",
        "manila" => "manila",
        "barbican" => "barbican",
        "designate" => "designate",
        "swift" => "swift",
        "horizon" => "horizon",
        _ => return None,
    })
}

type Key = (String, String, String, String);

fn key(v: &Value) -> Key {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    (s("region"), s("interface"), s("url"), s("endpoint_id"))
}

/// Check every step's verification of `plan` against the discovery `d` and upstream's data;
/// returns the (project, series) pairs whose expected maximum was cross-checked.
fn check_plan(plan: &Value, d: &Value) -> BTreeSet<(String, String)> {
    let endpoints = d["endpoints"].as_array().unwrap();
    let mut crossed = BTreeSet::new();
    let mut verified_steps = 0;
    for s in plan["steps"].as_array().unwrap() {
        let Some(checks) = s["verification"].as_array() else {
            continue;
        };
        verified_steps += 1;
        let site = s["site"].as_str().unwrap();
        let hop = s["hop"].as_u64().unwrap();
        let series = plan["paths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["site"] == site)
            .and_then(|p| {
                p["hops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|h| h["index"] == hop)
            })
            .map(|h| h["to"]["name"].as_str().unwrap().to_ascii_lowercase())
            .unwrap();
        let whole = s["action"] == "verify";
        let project = s["component"].as_str().and_then(project_of);
        assert!(whole || project.is_some(), "{s:#}");
        let want: BTreeSet<Key> = endpoints
            .iter()
            .filter(|e| e["site"] == site)
            .filter(|e| whole || e["project"].as_str() == project)
            .map(key)
            .collect();
        let have: BTreeSet<Key> = checks.iter().map(key).collect();
        assert_eq!(have, want, "{}: endpoints", s["id"]);
        for c in checks {
            let e = endpoints.iter().find(|e| key(e) == key(c)).unwrap();
            let p = e["project"].as_str().unwrap();
            let micro = e.get("max_microversion").is_some();
            let observed = e["max_microversion"]
                .as_str()
                .or(e["max_version_id"].as_str());
            assert_eq!(c["observed"]["value"].as_str(), observed, "{c:#}");
            let upstream = upstream_max(p, &series, micro);
            assert_eq!(
                c["expected"]["value"].as_str(),
                upstream.as_deref(),
                "{} {p} {series}: {c:#}",
                s["id"]
            );
            let queries: Vec<&str> = c["promql"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["expr"].as_str().unwrap())
                .collect();
            assert!(
                queries[0].starts_with("nminus_openstack_endpoint_up{")
                    && queries[0].contains(&format!("url=\"{}\"", e["url"].as_str().unwrap())),
                "{queries:?}"
            );
            if let Some(v) = upstream {
                crossed.insert((p.to_owned(), series.clone()));
                let label = if micro {
                    "max_microversion"
                } else {
                    "version_id"
                };
                assert!(
                    queries[1].starts_with("nminus_openstack_endpoint_api_info{")
                        && queries[1].contains(&format!("{label}=\"{v}\"")),
                    "{queries:?}"
                );
                assert!(c["expected"]["source"]
                    .as_str()
                    .unwrap()
                    .contains("per-series-code.tsv:"));
            }
            assert!(queries
                .last()
                .unwrap()
                .starts_with("nminus:openstack_endpoint_latency_seconds:p95_5m{"));
        }
    }
    assert!(verified_steps > 0, "no step verified");
    crossed
}

fn rendered(dir: &Path, args: &[&str], format: &str) -> BTreeMap<String, String> {
    let out = dir.join(format);
    let mut a = args.to_vec();
    a.extend(["--format", format, "-o"]);
    let o = out.to_str().unwrap().to_owned() + "/";
    a.push(&o);
    ok(plan(&a));
    let mut files = BTreeMap::new();
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&out).unwrap().display().to_string();
                files.insert(rel, fs_err::read_to_string(&p).unwrap());
            }
        }
    }
    files
}

fn ansible_syntax(dir: &Path, playbook: &str) {
    let p = dir.join("verify-playbook.yml");
    fs_err::write(&p, playbook).unwrap();
    let home = dir.join("ansible-home");
    let o = Command::new("ansible-playbook")
        .args(["--syntax-check", "-i", "localhost,"])
        .arg(&p)
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook (Debian package `ansible`)");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Whether every check of a step's verification observed what it expects.
fn holds(step: &Value) -> bool {
    step["verification"].as_array().unwrap().iter().all(|c| {
        c["expected"]["value"].is_string() && c["expected"]["value"] == c["observed"]["value"]
    })
}

/// Run the verify plays of the keystone and nova-api steps for real (one try each) against the
/// real Keystone and the loopback samples: a play passes exactly when what the endpoints serve
/// is what upstream's data expects after the step.
fn run_verify_plays(dir: &Path, playbook: &str, plan: &Value) {
    let mut ran = 0;
    for component in ["keystone", "nova-api"] {
        let step = plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["component"] == component && s["verification"].is_array())
            .unwrap();
        let id = step["id"].as_str().unwrap();
        let head = format!("!unsafe \"{id}: verify before going on\"");
        let play = playbook
            .split("\n- name: ")
            .find(|p| p.starts_with(&head))
            .unwrap_or_else(|| panic!("no verify play for {id}"));
        let p = dir.join(format!("verify-{component}.yml"));
        fs_err::write(&p, format!("---\n- name: {play}")).unwrap();
        let home = dir.join("ansible-home");
        let o = Command::new("ansible-playbook")
            .args(["-i", "localhost,", "-c", "local"])
            .args([
                "-e",
                "nminus_verify_retries=1",
                "-e",
                "nminus_verify_delay=0",
            ])
            .arg(&p)
            .env("ANSIBLE_HOME", &home)
            .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.success(), holds(step), "{id}:\n{out}");
        ran += 1;
    }
    assert_eq!(ran, 2);
}

/// The `verify` function of a command sequence, run for each of its calls (one try): it
/// passes exactly when the endpoint's observed version is the expected one.
fn run_shell_verify(sh: &str, plan: &Value) {
    let start = sh.find("\nverify() {").unwrap();
    let end = start + sh[start..].find("\n}\n").unwrap() + 3;
    let func = &sh[start..end];
    let checks: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["verification"].as_array())
        .flatten()
        .collect();
    let mut outcomes = BTreeSet::new();
    for line in sh.lines().filter(|l| l.starts_with("verify '")) {
        let url = line.split('\'').nth(1).unwrap();
        let c = checks
            .iter()
            .find(|c| c["version_url"] == url)
            .unwrap_or_else(|| panic!("{line}"));
        let o = Command::new("bash")
            .arg("-c")
            .arg(format!("{func}\n{line}"))
            .env("NMINUS_VERIFY_TRIES", "1")
            .output()
            .unwrap();
        assert_eq!(
            o.status.success(),
            c["expected"]["value"] == c["observed"]["value"],
            "{line}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        outcomes.insert(o.status.success());
    }
    // The real Keystone serves what epoxy declares; nova's sample is newer than any release.
    assert_eq!(
        outcomes.len(),
        2,
        "both outcomes exercised: {outcomes:?}\n{sh}"
    );
}

fn bash_n(what: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.sh");
    fs_err::write(&p, text).unwrap();
    let o = Command::new("bash").arg("-n").arg(&p).output().unwrap();
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn plans_verify_steps_against_the_discovered_catalog() {
    let cl = cloud();
    let clouds = cl.ks.clouds_yaml("secret");
    let work = tempfile::tempdir().unwrap();
    let disc = work.path().join("discovery.json");
    let mut c = cl.ks.discover(&clouds);
    c.args([
        "--format",
        "json",
        "--timeout",
        "5",
        "--site",
        "RegionOne=par1",
        "--site",
        "RegionTwo=lon1",
        "--site",
        "RegionThree=fra1",
        "-o",
    ])
    .arg(&disc);
    // 1: findings (old samples are behind policy); 2 would be endpoints not read.
    let o = c.output().unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let d: Value = serde_json::from_str(&fs_err::read_to_string(&disc).unwrap()).unwrap();
    assert!(
        d["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "ok"),
        "{d:#}"
    );
    let fleet = fleet_dir("three-sites");
    let fleet = fleet.to_str().unwrap();
    let disc_s = disc.to_str().unwrap();

    // Every hop of every site: epoxy (par1), epoxy and flamingo (lon1), antelope and caracal
    // (fra1), each service's expected maximum read from upstream's TSVs here.
    let mut crossed = BTreeSet::new();
    let mut plans = BTreeMap::new();
    for (site, to) in [("par1", "2025.1"), ("lon1", "2025.2"), ("fra1", "2024.1")] {
        let scope = format!("site={site}");
        let args = [
            "upgrade",
            "--inventories",
            fleet,
            "--scope",
            &scope,
            "--to",
            to,
            "--discovery",
            disc_s,
        ];
        let p = plan_json(&args);
        assert!(
            p["inputs"]["control_plane"]
                .as_str()
                .unwrap()
                .contains(disc_s),
            "{:#}",
            p["inputs"]
        );
        crossed.extend(check_plan(&p, &d));
        plans.insert(site, p);
    }
    let series: BTreeSet<&str> = crossed.iter().map(|(_, s)| s.as_str()).collect();
    let projects: BTreeSet<&str> = crossed.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        ["epoxy", "flamingo", "antelope", "caracal"]
            .iter()
            .all(|s| series.contains(s)),
        "{crossed:?}"
    );
    assert!(
        ["nova", "placement", "cinder", "glance", "keystone"]
            .iter()
            .all(|p| projects.contains(p)),
        "{crossed:?}"
    );
    // The same inventories without a discovery: no verification, and the Markdown says so.
    let plain = plan_json(&[
        "upgrade",
        "--inventories",
        fleet,
        "--scope",
        "site=par1",
        "--to",
        "2025.1",
    ]);
    assert!(plain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.get("verification").is_none()));
    let md = String::from_utf8(ok(plan(&[
        "upgrade",
        "--inventories",
        fleet,
        "--scope",
        "site=par1",
        "--to",
        "2025.1",
        "--format",
        "markdown",
    ])))
    .unwrap();
    assert!(
        md.contains("No control-plane data: run `nminus discover`"),
        "{md}"
    );

    // Renderings: Markdown names endpoints, expected versions and PromQL; Ansible checks the
    // version documents (syntax-checked); kolla (par1) and OSA (lon1) command sequences call
    // `verify` (bash -n).
    let par1 = [
        "upgrade",
        "--inventories",
        fleet,
        "--scope",
        "site=par1",
        "--to",
        "2025.1",
        "--discovery",
        disc_s,
    ];
    let nova_epoxy = upstream_max("nova", "epoxy", true).unwrap();
    let nova_url = d["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service_type"] == "compute" && e["region"] == "RegionOne")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let md = &rendered(work.path(), &par1, "markdown")["plan.md"];
    assert!(md.contains("Verify before going on"), "{md}");
    assert!(
        md.contains(&format!("max microversion **{nova_epoxy}** (epoxy")),
        "{md}"
    );
    assert!(md.contains(&format!("`{nova_url}`")), "{md}");
    assert!(
        md.contains("```promql\nnminus_openstack_endpoint_up{"),
        "{md}"
    );
    let playbook = &rendered(work.path(), &par1, "ansible")["playbook.yml"];
    assert!(playbook.contains("ansible.builtin.uri:"), "{playbook}");
    assert!(playbook.contains(&format!("{}/", nova_url)), "{playbook}");
    ansible_syntax(work.path(), playbook);
    run_verify_plays(work.path(), playbook, &plans["par1"]);
    let kolla = rendered(work.path(), &par1, "kolla");
    let sh = kolla
        .iter()
        .find(|(p, _)| p.starts_with("kolla/par1/hop-1") && p.ends_with("commands.sh"))
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("{:?}", kolla.keys()));
    assert!(sh.contains("\nverify() {"), "{sh}");
    assert!(sh.contains(&format!("verify '{nova_url}/'")), "{sh}");
    bash_n("kolla commands.sh", sh);
    run_shell_verify(sh, &plans["par1"]);
    let lon1 = [
        "upgrade",
        "--inventories",
        fleet,
        "--scope",
        "site=lon1",
        "--to",
        "2025.2",
        "--discovery",
        disc_s,
    ];
    for (p, t) in rendered(work.path(), &lon1, "osa") {
        if p.ends_with("commands.sh") && !p.starts_with("osa/rollback") {
            assert!(t.contains("verify 'http://127.0.0.1:"), "{p}: {t}");
            bash_n(&p, &t);
        }
    }

    // Replicate par1 to a new site: its region, and every par1 endpoint but the shared
    // keystone's, host replaced by a placeholder; to lon1 (RegionTwo): what exists is skipped.
    let rep = plan_json(&[
        "replicate",
        "--inventories",
        fleet,
        "--from",
        "par1",
        "--to",
        "ber1",
        "--discovery",
        disc_s,
    ]);
    let cat = &rep["manifest"]["catalog"];
    assert_eq!(cat["regions"], serde_json::json!(["ber1"]), "{cat:#}");
    let par1_eps: BTreeSet<(String, String)> = d["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["site"] == "par1" && e["service_type"] != "identity")
        .map(|e| {
            (
                e["catalog_type"].as_str().unwrap().to_owned(),
                e["interface"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let listed: BTreeSet<(String, String)> = cat["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let url = e["url"].as_str().unwrap();
            let ph = format!(
                "BER1_{}_HOST",
                e["interface"].as_str().unwrap().to_uppercase()
            );
            assert!(url.contains(&ph) && !url.contains("127.0.0.1"), "{e:#}");
            assert_eq!(e["region"], "ber1");
            (
                e["catalog_type"].as_str().unwrap().to_owned(),
                e["interface"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, par1_eps);
    let md = String::from_utf8(ok(plan(&[
        "replicate",
        "--inventories",
        fleet,
        "--from",
        "par1",
        "--to",
        "ber1",
        "--discovery",
        disc_s,
        "--format",
        "markdown",
    ])))
    .unwrap();
    assert!(md.contains("openstack region create ber1"), "{md}");
    assert!(
        md.contains("openstack endpoint create --region ber1 nova public http://BER1_PUBLIC_HOST:"),
        "{md}"
    );
    let rep = plan_json(&[
        "replicate",
        "--inventories",
        fleet,
        "--from",
        "par1",
        "--to",
        "lon1",
        "--discovery",
        disc_s,
    ]);
    let cat = &rep["manifest"]["catalog"];
    let existing: Vec<&str> = cat["existing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(existing.contains(&"region RegionTwo"), "{cat:#}");
    assert!(
        existing.contains(&"endpoint compute public in RegionTwo"),
        "{cat:#}"
    );
    assert!(cat.get("regions").is_none(), "{cat:#}");
    let created: BTreeSet<&str> = cat["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["catalog_type"].as_str().unwrap())
        .collect();
    assert!(
        created.contains("placement") && !created.contains("image"),
        "{cat:#}"
    );
    assert!(cat["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["region"] == "RegionTwo"));

    // The round stored in the analyzer's database: --db and --server plan the same checks.
    let srv = Fleet::start(&fleet_dir("three-sites"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = nminus::open_store(&srv.db).await.unwrap();
        let body = serde_json::value::RawValue::from_string(fs_err::read_to_string(&disc).unwrap())
            .unwrap();
        store
            .record_control_plane(nminus::NewControlPlaneRound {
                cloud: d["cloud"].as_str().unwrap(),
                discovered_at: nminus::Millis::parse(d["discovered_at"].as_str().unwrap()).unwrap(),
                endpoints: 1,
                findings: 0,
                problems: 0,
                body: &body,
            })
            .await
            .unwrap();
    });
    let verification = |p: &Value| -> Vec<Value> {
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["verification"].clone())
            .collect()
    };
    let want = verification(&plans["par1"]);
    for source in [
        vec!["--db", srv.db.as_str()],
        vec!["--server", srv.srv.url.as_str(), "--token", TOKEN],
    ] {
        let mut args = vec!["upgrade"];
        args.extend(source.iter().copied());
        args.extend(["--scope", "site=par1", "--to", "2025.1"]);
        let p = plan_json(&args);
        assert_eq!(verification(&p), want, "{source:?}");
        assert!(
            !p["inputs"]["control_plane"]
                .as_str()
                .unwrap()
                .contains(disc_s),
            "{:#}",
            p["inputs"]
        );
    }
}

#[test]
fn a_discovery_that_is_none_is_refused_naming_the_file_and_field() {
    let fleet = fleet_dir("three-sites");
    // A real upstream document that is not a discovery: Keystone's token response.
    let bad = shared_data("openstack-api/keystone/auth-password-project-scoped-response.json");
    let o = plan(&[
        "upgrade",
        "--inventories",
        fleet.to_str().unwrap(),
        "--scope",
        "site=par1",
        "--to",
        "2025.1",
        "--discovery",
        bad.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "no plan is written");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(bad.to_str().unwrap()) && err.contains("not a discovery"),
        "{err}"
    );
    // A missing file names itself.
    let o = plan(&[
        "upgrade",
        "--inventories",
        fleet.to_str().unwrap(),
        "--scope",
        "site=par1",
        "--to",
        "2025.1",
        "--discovery",
        "/nonexistent/discovery.json",
    ])
    .output()
    .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/nonexistent/discovery.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
