//! The one client of the analyzer's API (agent, plan, query) against a real `nminus serve` on
//! loopback: a refused secret (401) says, in every caller, which secret to give and where; a
//! server with a certificate of a private CA is reached through `--ca-file` by each caller,
//! and by none without it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::exposure::{empty_data, Pki};
use crate::plan::{fleet_dir, list_files, NOW};
use crate::serve::{run_ok, Env, Server};
use crate::store::{inventory, package};
use crate::support::{nminus, shared_data};

const READER: &str = "reader-t0ken";
const AS_OF: &str = "2026-08-21";

/// A tokens file granting `READER` the read role.
fn tokens_file(env: &Env) -> String {
    let f = env.path("api-tokens");
    fs_err::write(&f, format!("read {} planner\n", nminus::token_hash(READER))).unwrap();
    f.display().to_string()
}

/// `nminus ARGS` without any of the environment's secrets or servers.
fn cmd(args: &[&str]) -> Command {
    let mut c = nminus();
    c.args(args)
        .env_remove("NMINUS_API_TOKEN")
        .env_remove("NMINUS_ENROLL_TOKEN")
        .env_remove("NMINUS_SERVER")
        .env_remove("NMINUS_CA_FILE")
        .env_remove("NMINUS_DATA")
        .env("NMINUS_NOW", NOW);
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Refused with exit code 2 and a 401 whose message names each of `names`.
fn assert_refused(o: &Output, what: &str, names: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains("401"), "{what}: no 401 in: {err}");
    for n in names {
        assert!(err.contains(n), "{what}: `{n}` not named in: {err}");
    }
}

/// The `--data` directory holding the shared openstack/releases checkout.
fn releases_data() -> String {
    let d = shared_data("openstack-releases");
    d.parent().unwrap().display().to_string()
}

/// Issue 19: "a 401 from `query` names `NMINUS_API_TOKEN`", and so does every other caller of
/// the client: the planner's `--server` input, and the agent (whose enrollment takes an admin
/// API token in place of the secret, and whose refused node token needs a new enrollment).
#[test]
fn a_refused_secret_names_the_secret_to_give_in_every_caller() {
    let env = Env::new();
    let tokens = tokens_file(&env);
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = Server::start(
        &db,
        &empty_data(&env),
        &env.secret(),
        &["--api-tokens-file", &tokens],
        &env.cache(),
    );
    let state = env.path("agent");
    let state = state.to_str().unwrap();

    // agent enroll with a wrong secret.
    let o = run(&[
        "agent",
        "enroll",
        "--server",
        &srv.url,
        "--token",
        "wrong",
        "--node-id",
        "node1",
        "--state-dir",
        state,
    ]);
    assert_refused(
        &o,
        "agent enroll",
        &["/v1/enroll", "NMINUS_ENROLL_TOKEN", "NMINUS_API_TOKEN"],
    );
    assert!(!env.path("agent/agent.json").exists(), "no state written");

    // agent run with a node token the server no longer accepts.
    let o = run(&[
        "agent",
        "enroll",
        "--server",
        &srv.url,
        "--token",
        "s3cret",
        "--node-id",
        "node1",
        "--state-dir",
        state,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inv = env.path("node1.json");
    fs_err::write(
        &inv,
        serde_json::to_vec(&inventory(
            "node1",
            "par1",
            "c1",
            vec![package("zlib", "1.3")],
        ))
        .unwrap(),
    )
    .unwrap();
    let push = || {
        run(&[
            "agent",
            "--once",
            "--retries",
            "0",
            "--state-dir",
            state,
            "--inventory",
            inv.to_str().unwrap(),
        ])
    };
    let o = push();
    assert!(o.status.success(), "{}", stderr(&o));
    run_ok(cmd(&["node", "revoke", "node1", "--db", &db]));
    let o = push();
    assert_refused(
        &o,
        "agent run",
        &["/v1/inventories", "enroll again", "NMINUS_API_TOKEN"],
    );

    // query, without a token and with a wrong one; then with the right one.
    for token in [None, Some("wrong")] {
        let mut a = vec!["query", "--server", &srv.url, "nodes"];
        if let Some(t) = token {
            a.extend(["--token", t]);
        }
        assert_refused(
            &run(&a),
            &format!("query with {token:?}"),
            &["/v1/nodes", "--token", "NMINUS_API_TOKEN"],
        );
    }
    let o = cmd(&["query", "--server", &srv.url, "nodes", "--format", "json"])
        .env("NMINUS_API_TOKEN", READER)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let nodes: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(nodes[0]["id"], "node1", "{nodes}");

    // plan --server, without a token.
    let data = releases_data();
    let o = run(&[
        "plan", "upgrade", "--server", &srv.url, "--to", "2025.1", "--data", &data, "--as-of",
        AS_OF,
    ]);
    assert_refused(
        &o,
        "plan --server",
        &["/v1/inventories", "--token", "NMINUS_API_TOKEN"],
    );
}

/// Enroll and push every inventory of `dir` (oldest first per node) through `srv`, trusting
/// `ca` (kept in each agent's state at enrollment).
fn push_fleet(env: &Env, srv: &Server, ca: &str, dir: &Path) {
    let mut by_node: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for rel in list_files(dir) {
        let path = dir.join(rel);
        let v: Value = serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
        by_node
            .entry(v["node"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                v["collected_at"].as_str().unwrap().to_owned(),
                path.display().to_string(),
            ));
    }
    for (node, mut files) in by_node {
        files.sort();
        let state = env.path(&format!("agent-{node}")).display().to_string();
        run_ok(cmd(&[
            "agent",
            "enroll",
            "--server",
            &srv.url,
            "--token",
            "s3cret",
            "--node-id",
            &node,
            "--state-dir",
            &state,
            "--ca-file",
            ca,
        ]));
        for (_, f) in files {
            run_ok(cmd(&[
                "agent",
                "--once",
                "--retries",
                "0",
                "--state-dir",
                &state,
                "--inventory",
                &f,
            ]));
        }
    }
}

/// A server whose certificate comes from a private CA: with `--ca-file` (that CA only), the
/// agent, `query` and `plan --server` reach it, and the plan is the plan of the same files;
/// without it, or with another CA, none of them does.
#[test]
fn a_ca_pinned_tls_server_serves_every_caller() {
    let env = Env::new();
    let pki = Pki::new();
    let tokens = tokens_file(&env);
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server-key.pem"),
        pki.path("ca.pem"),
    );
    let srv = Server::start(
        &db,
        &empty_data(&env),
        &env.secret(),
        &[
            "--api-tokens-file",
            &tokens,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &env.cache(),
    );
    assert!(srv.url.starts_with("https://127.0.0.1:"), "{}", srv.url);

    // The agent: without the CA, nothing; with it, the whole fleet.
    let o = run(&[
        "agent",
        "enroll",
        "--server",
        &srv.url,
        "--token",
        "s3cret",
        "--node-id",
        "n0",
        "--state-dir",
        env.path("agent-n0").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    let three = fleet_dir("three-sites");
    push_fleet(&env, &srv, &ca, &three);

    // query: pinned to the CA, to another one, to none.
    let query = |extra: &[&str]| {
        let mut a = vec!["query", "--server", &srv.url, "--token", READER, "nodes"];
        a.extend_from_slice(extra);
        a.extend(["--format", "json"]);
        run(&a)
    };
    let o = query(&["--ca-file", &ca]);
    assert!(o.status.success(), "{}", stderr(&o));
    let nodes: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(nodes.as_array().map(Vec::len), Some(15), "{nodes}");
    for other in [vec![], vec!["--ca-file", &pki.path("stranger.pem")]] {
        let o = query(&other);
        assert_eq!(o.status.code(), Some(2), "{other:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    }
    let o = query(&["--ca-file", &pki.path("server-key.pem")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("server-key.pem") && stderr(&o).contains("no PEM certificate"),
        "a CA file without a certificate is named: {}",
        stderr(&o)
    );

    // plan --server over the pinned TLS: the plan of the same files, byte for byte.
    let data = releases_data();
    let plan = |source: &[&str]| {
        let mut a = vec!["plan", "replicate", "--from", "par1", "--to", "ber1"];
        a.extend_from_slice(source);
        a.extend(["--data", &data, "--as-of", AS_OF]);
        run(&a)
    };
    let files = plan(&["--inventories", three.to_str().unwrap()]);
    assert!(files.status.success(), "{}", stderr(&files));
    let served = plan(&["--server", &srv.url, "--token", READER, "--ca-file", &ca]);
    assert!(served.status.success(), "{}", stderr(&served));
    assert!(
        files.stdout == served.stdout,
        "the plan from the server over TLS is the plan from the files"
    );
    let o = plan(&["--server", &srv.url, "--token", READER]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}
