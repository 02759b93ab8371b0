//! The central analyzer: routing and errors in process (`oneshot`), then the real binary on
//! loopback: enrollment and three agents on three fixture roots in three sites, queries and the
//! HTML report, the agent's spool, two replicas on one PostgreSQL, durability under `kill -9`,
//! and `/metrics` and the alert rules through `promtool`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use nminus::content_hash;
use nminus::model::{Inventory, NodeInfo};
use nminus::{app, Access, ApiTokens, AppState, Role, ServeOptions};
use nminus::{collect_root, CollectOptions, Root};
use nminus::{load_all, FeedsConfig};
use nminus::{match_inventory, AdvisoryIndex, Analyzer, Catalogs};

use crate::store::{inventory, package, sqlite_url, PgCluster};
use crate::support::{nminus, shared_data};

// ---------------------------------------------------------------------------------------------
// In process.

fn empty_analyzer() -> Analyzer {
    Analyzer::from_parts(
        AdvisoryIndex::build(Vec::new()),
        Catalogs::default(),
        nminus::load_policy("default").unwrap(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        "test".into(),
    )
}

struct InProcess {
    _dir: tempfile::TempDir,
    state: AppState,
}

impl InProcess {
    async fn new(body_limit: usize) -> Self {
        let (dir, url) = sqlite_url();
        let store = nminus::open_store(&url).await.unwrap();
        let state = AppState::new(
            store,
            empty_analyzer(),
            ServeOptions {
                enroll_secret: Some("enroll-me".into()),
                body_limit,
                access: Access::Open,
                ..ServeOptions::default()
            },
        );
        Self { _dir: dir, state }
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        });
        (status, v)
    }

    async fn enroll(&self, node: &str) -> String {
        let (s, v) = self
            .call(
                Request::post("/v1/enroll")
                    .header(header::AUTHORIZATION, "Bearer enroll-me")
                    .body(Body::from(format!(r#"{{"node":"{node}"}}"#)))
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }
}

fn push_req(token: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/v1/inventories")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_auth_and_errors() {
    let t = InProcess::new(64 * 1024).await;
    let inv = inventory("n1", "par1", "c1", vec![package("nova", "29.0.0")]);
    let body = serde_json::to_vec(&inv).unwrap();

    // Health, readiness, unknown routes.
    assert_eq!(
        t.call(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::OK
    );
    let (s, v) = t
        .call(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!((s, v["backend"].as_str()), (StatusCode::OK, Some("sqlite")));
    assert_eq!(
        t.call(Request::get("/v1/nope").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Enrollment needs the secret.
    let (s, v) = t
        .call(
            Request::post("/v1/enroll")
                .header(header::AUTHORIZATION, "Bearer wrong")
                .body(Body::from(r#"{"node":"n1"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (s, v) = t
        .call(
            Request::post("/v1/enroll")
                .header(header::AUTHORIZATION, "Bearer enroll-me")
                .body(Body::from(r#"{"node":"bad id/x"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("node"))
    );
    let token = t.enroll("n1").await;
    assert_eq!(token.len(), 64);
    let other = t.enroll("n2").await;

    // Pushes need a node token.
    assert_eq!(
        t.call(push_req("nonsense", body.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    let r = Request::post("/v1/inventories")
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(t.call(r).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.call(push_req("enroll-me", body.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A node cannot push another's inventory.
    let (s, v) = t.call(push_req(&other, body.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // Malformed inventories: 422 naming the field; nothing stored.
    let mut bad = serde_json::to_value(&inv).unwrap();
    bad["packages"][0]["ecosystem"] = serde_json::json!("nuget");
    let (s, v) = t
        .call(push_req(&token, serde_json::to_vec(&bad).unwrap()))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid-inventory"))
    );
    assert_eq!(v["field"].as_str(), Some("packages[0].ecosystem"), "{v}");
    let mut bad = serde_json::to_value(&inv).unwrap();
    bad["schema_version"] = serde_json::json!("one");
    let (s, v) = t
        .call(push_req(&token, serde_json::to_vec(&bad).unwrap()))
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("schema_version"))
    );
    let mut bad = serde_json::to_value(&inv).unwrap();
    bad["schema_version"] = serde_json::json!(99);
    let (s, v) = t
        .call(push_req(&token, serde_json::to_vec(&bad).unwrap()))
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("schema_version"))
    );
    // Names and package strings the planner would put into playbooks and shell lines.
    for (field, edit) in [
        (
            "node.site",
            serde_json::json!({"node": {"site": "par1\ntouch /tmp/x"}}),
        ),
        (
            "node.labels.aggregate",
            serde_json::json!({"node": {"labels": {"aggregate": "a$(id)"}}}),
        ),
        (
            "packages[0].version",
            serde_json::json!({"packages": [{"version": "1{{ lookup('pipe','id') }}"}]}),
        ),
    ] {
        let mut bad = serde_json::to_value(&inv).unwrap();
        match field {
            "node.site" => bad["node"]["site"] = edit["node"]["site"].clone(),
            "node.labels.aggregate" => {
                bad["node"]["labels"]["aggregate"] = edit["node"]["labels"]["aggregate"].clone();
            }
            _ => bad["packages"][0]["version"] = edit["packages"][0]["version"].clone(),
        }
        let (s, v) = t
            .call(push_req(&token, serde_json::to_vec(&bad).unwrap()))
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{v}"
        );
    }
    let (s, _) = t
        .call(push_req(&token, &b"{\"schema_version\": 1, "[..]))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let n1 = t.state.store().node("n1").await.unwrap().unwrap();
    assert_eq!(
        (n1.last_seen, n1.current_hash),
        (None, None),
        "rejected pushes store nothing"
    );

    // Over the limit: 413, plain or as a gzip bomb.
    let big = vec![b' '; 65 * 1024];
    let (s, v) = t.call(push_req(&token, big.clone())).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too-large"))
    );
    let mut r = push_req(&token, gzip(&big));
    r.headers_mut()
        .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
    assert_eq!(t.call(r).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let mut r = push_req(&token, body.clone());
    r.headers_mut()
        .insert(header::CONTENT_ENCODING, "br".parse().unwrap());
    assert_eq!(t.call(r).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A gzipped push is stored and judged; the same again is unchanged.
    let mut r = push_req(&token, gzip(&body));
    r.headers_mut()
        .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
    let (s, v) = t.call(r).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::CREATED, Some("stored")),
        "{v}"
    );
    let hash = content_hash(&inv);
    assert_eq!(v["hash"].as_str(), Some(hash.as_str()));
    let (s, v) = t.call(push_req(&token, body.clone())).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );

    // Heartbeats, by body or by If-None-Match (then the body is not even read).
    let hb = format!(r#"{{"heartbeat":"{hash}"}}"#);
    let (s, v) = t.call(push_req(&token, hb)).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );
    let (s, v) = t.call(push_req(&token, r#"{"heartbeat":"0000"}"#)).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("inventory-required"))
    );
    let mut r = push_req(&token, "this is not even JSON");
    r.headers_mut().insert(
        header::IF_NONE_MATCH,
        format!("\"{hash}\"").parse().unwrap(),
    );
    assert_eq!(t.call(r).await.0, StatusCode::OK);

    // Reads.
    let (s, v) = t
        .call(Request::get("/v1/nodes").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    let statuses: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("n1", "active"), ("n2", "enrolled")]);
    let (s, v) = t
        .call(Request::get("/v1/nodes/n1").body(Body::empty()).unwrap())
        .await;
    assert_eq!((s, v["site"].as_str()), (StatusCode::OK, Some("par1")));
    assert_eq!(
        t.call(Request::get("/v1/nodes/zz").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, v) = t
        .call(
            Request::get("/v1/nodes/n1/history")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (s, _) = t
        .call(
            Request::get("/v1/findings?severity=urgent")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A mistyped filter is refused, never ignored (which would answer with everything).
    for q in [
        "/v1/findings?sevrity=high",
        "/v1/nodes?bogus=1",
        "/v1/where?pkg=nova",
    ] {
        let (s, _) = t.call(Request::get(q).body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
    }
    let (s, v) = t
        .call(
            Request::get("/v1/where?package=nova&version=29.0.0")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((s, v[0]["node"].as_str()), (StatusCode::OK, Some("n1")));
    let (s, v) = t
        .call(
            Request::get("/v1/diff?target=par1&since=2000-01-01")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, v[0]["added"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (s, v) = t
        .call(Request::get("/v1/report.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (s, v["summary"]["nodes"].as_u64()),
        (StatusCode::OK, Some(1))
    );

    // Revoked: the token stops working.
    assert!(t.state.store().revoke("n1").await.unwrap());
    assert_eq!(
        t.call(push_req(&token, body)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Issue 15 item 5: a gzip body is never decoded past the size its trailer declares (what the
/// push was charged for), nor past the body limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_held_to_their_trailer() {
    let t = InProcess::new(1 << 20).await;
    let token = t.enroll("n1").await;
    let gz_req = |gz: Vec<u8>| {
        Request::post("/v1/inventories")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_ENCODING, "gzip")
            .body(Body::from(gz))
            .unwrap()
    };
    // 64 MiB of zeros in ~64 KiB: over the limit by its trailer, refused before decoding.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let (s, v) = t.call(gz_req(bomb.clone())).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too-large"))
    );
    assert_eq!(v["limit"].as_u64(), Some(1 << 20), "{v}");
    // The same bomb with a trailer that lies (1,000 bytes): decoding stops there.
    let mut liar = bomb;
    let n = liar.len();
    liar[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
    let (s, v) = t.call(gz_req(liar)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("longer than its trailer"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_guards_reads() {
    let (_dir, url) = sqlite_url();
    let state = AppState::new(
        nminus::open_store(&url).await.unwrap(),
        empty_analyzer(),
        ServeOptions {
            access: Access::Tokens(ApiTokens::new().with_token("reader", Role::Read, "reader")),
            ..ServeOptions::default()
        },
    );
    let get = |path: &str, auth: Option<&str>| {
        let mut r = Request::get(path);
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, format!("Bearer {a}"));
        }
        r.body(Body::empty()).unwrap()
    };
    let a = app(state);
    assert_eq!(
        a.clone()
            .oneshot(get("/v1/nodes", None))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.clone()
            .oneshot(get("/v1/nodes", Some("x")))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.clone()
            .oneshot(get("/v1/nodes", Some("reader")))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        a.clone()
            .oneshot(get("/healthz", None))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Readiness answers everyone, but its details only readers.
    let ready = |auth: Option<&'static str>| {
        let a = a.clone();
        async move {
            let r = a.oneshot(get("/readyz", auth)).await.unwrap();
            let status = r.status();
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let (s, v) = ready(None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, serde_json::json!({"status": "ready"}));
    let (s, v) = ready(Some("reader")).await;
    assert_eq!((s, v["backend"].as_str()), (StatusCode::OK, Some("sqlite")));
    let r = Request::post("/v1/enroll")
        .body(Body::from(r#"{"node":"a"}"#))
        .unwrap();
    assert_eq!(
        a.oneshot(r).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "no secret: enrollment disabled"
    );
}

/// The fleet judgement (each distinct package matched once) equals per-node matching on real
/// inventories and feeds.
#[test]
fn fleet_judgement_equals_per_node_matching_on_real_data() {
    let cfg = FeedsConfig::builtin()
        .select(&[
            "pypa".to_owned(),
            "ossa".to_owned(),
            "debian-tracker".to_owned(),
        ])
        .unwrap();
    let loaded = load_all(&cfg, &shared_data(""), None, None);
    let index = AdvisoryIndex::from_feeds(loaded.advisories);
    let dpkg = tempfile::tempdir().unwrap();
    dpkg_root(dpkg.path(), "deb1");
    let roots = [
        shared_data("fixtures/python/openstack-site-packages/2025.2-flamingo"),
        shared_data("fixtures/python/openstack-site-packages/2022.1-yoga"),
        shared_data("fixtures/python/openstack-site-packages/2026.1-gazpacho"),
        dpkg.path().to_path_buf(),
    ];
    let invs: Vec<Inventory> = roots
        .iter()
        .enumerate()
        .map(|(i, r)| {
            collect_root(
                &Root::new(r),
                &CollectOptions {
                    node: NodeInfo {
                        id: format!("node{i}"),
                        ..NodeInfo::default()
                    },
                    collected_at: String::new(),
                },
            )
        })
        .collect();
    let want: Vec<_> = invs.iter().map(|i| match_inventory(i, &index)).collect();
    assert!(
        want.iter().filter(|f| !f.is_empty()).count() >= 2,
        "the fixtures have findings"
    );
    let mut policy = nminus::load_policy("default").unwrap();
    policy.waivers.clear();
    let an = Analyzer::from_parts(
        index,
        Catalogs::default(),
        policy,
        Vec::new(),
        Vec::new(),
        Vec::new(),
        String::new(),
    );
    let refs: Vec<&Inventory> = invs.iter().collect();
    let today = time::macros::date!(2026 - 01 - 01);
    assert_eq!(an.judge_fleet(&refs, today), want);
    // Again, from the memo.
    assert_eq!(an.judge_fleet(&refs, today), want);
    assert_eq!(an.judge(&invs[3], today), want[3]);
}

// ---------------------------------------------------------------------------------------------
// The binary on loopback.

/// A Debian 12 root with this machine's shared dpkg status.
fn dpkg_root(root: &Path, host: &str) {
    fs_err::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::copy(
        shared_data("fixtures/dpkg/this-debian12/status"),
        root.join("var/lib/dpkg/status"),
    )
    .unwrap();
    fs_err::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
    )
    .unwrap();
    fs_err::write(root.join("etc/hostname"), format!("{host}\n")).unwrap();
}

/// `nminus serve` as a child process; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(db: &str, data: &Path, secret_file: &Path, extra: &[&str], cache: &Path) -> Self {
        Self::start_with(nminus(), db, data, secret_file, extra, cache)
    }

    /// [`Server::start`] with a command of the caller's (a wrapper such as `prlimit`).
    pub fn start_with(
        mut cmd: Command,
        db: &str,
        data: &Path,
        secret_file: &Path,
        extra: &[&str],
        cache: &Path,
    ) -> Self {
        cmd.args(["serve", "--db", db, "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--enroll-secret-file")
            .arg(secret_file)
            .args(extra)
            // Reads without tokens, as the tests read, unless the test gives tokens.
            .args(
                (!extra.iter().any(|a| a.starts_with("--api-token")))
                    .then_some("--insecure-no-auth"),
            )
            .env("NMINUS_CACHE", cache)
            .env("NMINUS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start nminus serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(url);
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(180)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nminus serve did not start:\n{}", log.lock().unwrap());
        };
        Self { child, url, log }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn get_json(url: &str) -> serde_json::Value {
    let r = http()
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    serde_json::from_slice(&r.bytes().unwrap()).unwrap()
}

pub fn enroll_http(base: &str, node: &str) -> String {
    let r = http()
        .post(format!("{base}/v1/enroll"))
        .bearer_auth("s3cret")
        .body(format!(r#"{{"node":"{node}"}}"#))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

pub struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("secret"), "s3cret\n").unwrap();
        Self { dir }
    }
    pub fn secret(&self) -> PathBuf {
        self.dir.path().join("secret")
    }
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

pub fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{err}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &err
}

fn query_json(args: &[&str]) -> serde_json::Value {
    let mut cmd = nminus();
    cmd.arg("query").args(args).args(["--format", "json"]);
    serde_json::from_str(&run_ok_stdout(cmd)).unwrap()
}

fn run_ok_stdout(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn promtool() -> PathBuf {
    let p = PathBuf::from("/usr/bin/promtool");
    assert!(
        p.exists(),
        "promtool is missing: install Debian's `prometheus` package (scripts/test.sh does)"
    );
    p
}

/// Serve, enroll and run three agents on three fixture roots in three sites, then query, read
/// the HTML report, check `/metrics` with promtool, revoke a node.
#[test]
fn loopback_three_agents_three_sites() {
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = Server::start(&db, &shared_data(""), &env.secret(), &[], &env.cache());
    let deb = env.path("deb-root");
    dpkg_root(&deb, "compute-fra1");
    let agents = [
        (
            "ctl-par1",
            shared_data("fixtures/python/openstack-site-packages/2025.2-flamingo"),
            "par1",
            "control",
        ),
        (
            "ctl-ams1",
            shared_data("fixtures/python/openstack-site-packages/2022.1-yoga"),
            "ams1",
            "control",
        ),
        ("cmp-fra1", deb.clone(), "fra1", "compute"),
    ];
    for (id, root, site, role) in &agents {
        let state = env.path(&format!("agent-{id}"));
        let mut e = nminus();
        e.args(["agent", "enroll", "--server", &srv.url, "--token-file"])
            .arg(env.secret())
            .args(["--node-id", id, "--state-dir"])
            .arg(&state);
        run_ok(e);
        let run = |expect: &str| {
            let mut a = nminus();
            a.args(["agent", "--once", "--state-dir"])
                .arg(&state)
                .arg("--root")
                .arg(root)
                .args([
                    "--site",
                    site,
                    "--cell",
                    &format!("{site}-c1"),
                    "--label",
                    &format!("role={role}"),
                ]);
            let out = run_ok(a);
            assert!(out.contains(expect), "{id}: expected `{expect}` in:\n{out}");
        };
        run("stored");
        run("unchanged");
    }

    // Queries against the server.
    let nodes = query_json(&["--server", &srv.url, "nodes"]);
    let got: Vec<(String, String, String)> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().into(),
                n["site"].as_str().unwrap().into(),
                n["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("cmp-fra1".into(), "fra1".into(), "active".into()),
            ("ctl-ams1".into(), "ams1".into(), "active".into()),
            ("ctl-par1".into(), "par1".into(), "active".into())
        ]
    );
    let f = query_json(&["--server", &srv.url, "findings", "--site", "par1"]);
    let f = f.as_array().unwrap();
    assert!(!f.is_empty());
    assert!(f.iter().all(|x| x["node"] == "ctl-par1"));
    let fra = query_json(&["--server", &srv.url, "findings", "--site", "fra1"]);
    // Debian 12 is in LTS (after its regular end, before its LTS end): neither the release nor
    // what it packages is end of life.
    assert!(
        !fra.as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "eol" && x["subject"]["name"] == "debian"),
        "{fra}"
    );
    assert!(fra
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["node"] == "cmp-fra1"));
    let w = query_json(&["--server", &srv.url, "where", "nova"]);
    let mut holders: Vec<&str> = w
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap())
        .collect();
    holders.dedup();
    assert_eq!(holders, ["ctl-ams1", "ctl-par1"]);
    let d = query_json(&[
        "--server",
        &srv.url,
        "diff",
        "fra1",
        "--since",
        "2000-01-01",
    ]);
    assert_eq!(d[0]["node"], "cmp-fra1");
    assert!(d[0]["since_hash"].is_null());
    assert!(d[0]["added"].as_array().unwrap().len() > 500);
    let table = run_ok_stdout({
        let mut c = nminus();
        c.args(["query", "--server", &srv.url, "nodes"]);
        c
    });
    assert!(
        table.contains("cmp-fra1") && table.contains("3 node(s)"),
        "{table}"
    );

    // The OpenStack currency of every deliverable, from the server's fleet report and from the
    // database with the release data.
    let os = query_json(&["--server", &srv.url, "openstack", "--site", "par1"]);
    let os = os.as_array().unwrap();
    assert!(os.iter().all(|x| x["node"] == "ctl-par1"), "{os:?}");
    let nova = os.iter().find(|x| x["deliverable"] == "nova").unwrap();
    assert_eq!(
        (&nova["series"], &nova["release_id"]),
        (&serde_json::json!("flamingo"), &serde_json::json!("2025.2"))
    );
    let data_dir = shared_data("");
    let osdb = query_json(&[
        "--db",
        &db,
        "openstack",
        "--data",
        data_dir.to_str().unwrap(),
    ]);
    let yoga = osdb
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["node"] == "ctl-ams1" && x["deliverable"] == "nova")
        .unwrap();
    assert_eq!(yoga["series"], "yoga");
    assert!(yoga["lag"].as_u64().unwrap() >= 6, "{yoga}");

    // The same answers from the database directly.
    let local = query_json(&["--db", &db, "nodes"]);
    assert_eq!(local, nodes);

    // The HTML report.
    let r = http()
        .get(format!("{}/v1/report.html", srv.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    assert!(html.contains("<html"));
    for (id, ..) in &agents {
        assert!(html.contains(id), "report lacks {id}");
    }
    let report = get_json(&format!("{}/v1/report.json", srv.url));
    assert_eq!(report["summary"]["nodes"], 3);

    // Fleet re-analysis without touching nodes.
    let r = http()
        .post(format!("{}/v1/reanalyze", srv.url))
        .bearer_auth("s3cret")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let run: serde_json::Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    assert_eq!(run["nodes"], 3);
    assert_eq!(
        query_json(&["--server", &srv.url, "findings", "--site", "par1"])
            .as_array()
            .unwrap()
            .len(),
        f.len()
    );

    // /metrics passes promtool.
    let metrics = http()
        .get(format!("{}/metrics", srv.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("nminus_nodes{site=\"par1\",status=\"active\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("nminus_ingest_duration_seconds_bucket"));
    assert!(metrics.contains("nminus_analysis_duration_seconds_bucket{kind=\"fleet\""));
    let mut p = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Revocation through the CLI: the node's agent is refused.
    let mut c = nminus();
    c.args(["node", "revoke", "ctl-ams1", "--db", &db]);
    run_ok(c);
    let mut a = nminus();
    a.args(["agent", "--once", "--retries", "0", "--state-dir"])
        .arg(env.path("agent-ctl-ams1"))
        .arg("--root")
        .arg(&agents[1].1);
    let out = a.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(srv);
}

#[test]
fn alert_rules_pass_promtool() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/prometheus/alerts.yml");
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nminus agent enroll` of node `n1` with the test's enrollment secret, its state in `state`.
fn enroll_agent(url: &str, state: &Path) {
    let mut e = nminus();
    e.args([
        "agent",
        "enroll",
        "--server",
        url,
        "--token",
        "s3cret",
        "--node-id",
        "n1",
        "--state-dir",
    ])
    .arg(state);
    run_ok(e);
}

/// One `nminus agent --once` run of `root` (one retry, 10 ms apart).
fn agent_once(state: &Path, server: &str, root: &Path) -> std::process::Output {
    let mut a = nminus();
    a.args([
        "agent",
        "--once",
        "--retries",
        "1",
        "--retry-delay",
        "10ms",
        "--server",
        server,
        "--state-dir",
    ])
    .arg(state)
    .arg("--root")
    .arg(root);
    a.output().unwrap()
}

/// A SQLite server without feeds where node `n1` enrolls (state in `agent/`), then killed: the
/// database URL, the empty data directory, the agent's state and the dead server (its URL).
fn enrolled_then_away(env: &Env) -> (String, PathBuf, PathBuf, Server) {
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let empty = env.path("no-data");
    fs_err::create_dir_all(&empty).unwrap();
    let mut srv = Server::start(&db, &empty, &env.secret(), &[], &env.cache());
    let state = env.path("agent");
    enroll_agent(&srv.url, &state);
    srv.kill9();
    (db, empty, state, srv)
}

/// A spooled inventory met by a refused credential stays in the spool: the inventory is not at
/// fault, and it is delivered once the node is enrolled again.
#[test]
fn a_spool_met_by_a_revoked_token_is_kept_for_the_next_enrollment() {
    let env = Env::new();
    let (db, empty, state, srv) = enrolled_then_away(&env);
    let yoga = shared_data("fixtures/python/openstack-site-packages/2022.1-yoga");
    let out = agent_once(&state, &srv.url, &yoga);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fs_err::read_dir(state.join("spool")).unwrap().count(), 1);

    let mut c = nminus();
    c.args(["node", "revoke", "n1", "--db", &db]);
    run_ok(c);
    let srv = Server::start(&db, &empty, &env.secret(), &[], &env.cache());
    let out = agent_once(&state, &srv.url, &yoga);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("401") || err.contains("403"), "{err}");
    assert_eq!(
        fs_err::read_dir(state.join("spool")).unwrap().count(),
        1,
        "the spooled inventory was dropped: {err}"
    );
    assert!(!state.join("rejected").exists(), "{err}");
}

/// While the server is away the agent spools; once it is back, the spool is delivered in order.
#[test]
fn agent_spools_while_the_server_is_away() {
    let env = Env::new();
    let (db, empty, state, srv) = enrolled_then_away(&env);

    let yoga = shared_data("fixtures/python/openstack-site-packages/2022.1-yoga");
    let flamingo = shared_data("fixtures/python/openstack-site-packages/2025.2-flamingo");
    let out = agent_once(&state, &srv.url, &yoga);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("spooled"));
    std::thread::sleep(Duration::from_millis(5));
    let out = agent_once(&state, &srv.url, &flamingo);
    assert_eq!(out.status.code(), Some(2));
    let spooled: Vec<_> = fs_err::read_dir(state.join("spool")).unwrap().collect();
    assert_eq!(spooled.len(), 2);

    let srv = Server::start(&db, &empty, &env.secret(), &[], &env.cache());
    let out = agent_once(&state, &srv.url, &flamingo);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("unchanged") && err.contains("2 spooled inventories delivered"),
        "{err}"
    );
    assert_eq!(fs_err::read_dir(state.join("spool")).unwrap().count(), 0);
    let history = get_json(&format!("{}/v1/nodes/n1/history", srv.url));
    let hashes: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes.len(), 2);
    // Newest first: flamingo was delivered after yoga.
    let inv = |root: &Path| {
        collect_root(
            &Root::new(root),
            &CollectOptions {
                node: NodeInfo {
                    id: "n1".into(),
                    ..NodeInfo::default()
                },
                collected_at: String::new(),
            },
        )
    };
    assert_eq!(
        hashes,
        [content_hash(&inv(&flamingo)), content_hash(&inv(&yoga))]
    );
}

/// Two replicas on one PostgreSQL answer alike, and only one runs a fleet re-analysis at once.
#[test]
fn two_replicas_on_one_postgres_answer_consistently() {
    let pg = PgCluster::start();
    let db = pg.database("replicas");
    let env = Env::new();
    let a = Server::start(
        &db,
        &shared_data(""),
        &env.secret(),
        &["--feed", "ossa", "--feed", "pypa"],
        &env.cache(),
    );
    let b = Server::start(
        &db,
        &shared_data(""),
        &env.secret(),
        &["--feed", "ossa", "--feed", "pypa"],
        &env.cache(),
    );
    let roots = [
        shared_data("fixtures/python/openstack-site-packages/2025.2-flamingo"),
        shared_data("fixtures/python/openstack-site-packages/2022.1-yoga"),
        shared_data("fixtures/python/openstack-site-packages/2026.1-gazpacho"),
    ];
    for (i, root) in roots.iter().enumerate() {
        let id = format!("node{i}");
        // Enroll through one replica, push through the other.
        let (enr, push) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let token = enroll_http(&enr.url, &id);
        let mut inv = collect_root(
            &Root::new(root),
            &CollectOptions {
                node: NodeInfo {
                    id: id.clone(),
                    site: Some(format!("site{i}")),
                    ..NodeInfo::default()
                },
                collected_at: "2026-01-01T00:00:00Z".into(),
            },
        );
        inv.node.id = id;
        let r = http()
            .post(format!("{}/v1/inventories", push.url))
            .bearer_auth(&token)
            .body(serde_json::to_vec(&inv).unwrap())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    }
    let same = |path: &str| {
        let x = get_json(&format!("{}{path}", a.url));
        let y = get_json(&format!("{}{path}", b.url));
        assert_eq!(x, y, "replicas disagree on {path}");
        x
    };
    assert_eq!(same("/v1/nodes").as_array().unwrap().len(), 3);
    assert!(!same("/v1/findings").as_array().unwrap().is_empty());
    same("/v1/findings?site=site1&severity=low");
    same("/v1/where?package=nova");
    same("/v1/nodes/node1/history");

    // Concurrent re-analysis on both: never two at once.
    let go = |url: String| {
        std::thread::spawn(move || {
            let r = http()
                .post(format!("{url}/v1/reanalyze"))
                .bearer_auth("s3cret")
                .send()
                .unwrap();
            r.status().as_u16()
        })
    };
    let (ha, hb) = (go(a.url.clone()), go(b.url.clone()));
    let mut codes = [ha.join().unwrap(), hb.join().unwrap()];
    codes.sort_unstable();
    assert!(codes == [200, 200] || codes == [200, 409], "{codes:?}");
    let fa = same("/v1/findings");
    let ra = get_json(&format!("{}/v1/report.json", a.url));
    let rb = get_json(&format!("{}/v1/report.json", b.url));
    assert_eq!(ra["findings"], rb["findings"]);
    assert_eq!(ra["nodes"], rb["nodes"]);
    assert_eq!(
        ra["findings"].as_array().unwrap().len(),
        fa.as_array().unwrap().len()
    );
    drop((a, b));
}

/// kill -9 during a burst of pushes loses no acknowledged inventory.
fn durability(db: &str) {
    let env = Env::new();
    let empty = env.path("no-data");
    fs_err::create_dir_all(&empty).unwrap();
    let mut srv = Server::start(db, &empty, &env.secret(), &[], &env.cache());
    const NODES: usize = 8;
    let tokens: Vec<String> = (0..NODES)
        .map(|i| enroll_http(&srv.url, &format!("d{i}")))
        .collect();
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (url, acked, count, stop) = (
                srv.url.clone(),
                Arc::clone(&acked),
                Arc::clone(&count),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let c = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let node = format!("d{i}");
                let deadline = Instant::now() + Duration::from_secs(60);
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let pk: Vec<_> = (0..50)
                        .map(|k| package(&format!("pkg{k}"), &format!("1.{n}.{k}")))
                        .collect();
                    let inv = inventory(&node, "par1", "c1", pk);
                    let body = serde_json::to_vec(&inv).unwrap();
                    match c
                        .post(format!("{url}/v1/inventories"))
                        .bearer_auth(&token)
                        .body(body)
                        .send()
                    {
                        Ok(r) if r.status().is_success() => {
                            let v: serde_json::Value =
                                serde_json::from_slice(&r.bytes().unwrap_or_default())
                                    .unwrap_or_default();
                            if let Some(h) = v["hash"].as_str() {
                                acked.lock().unwrap().push((node.clone(), h.to_owned()));
                                count.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Ok(r) => panic!("push failed: {}", r.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    while count.load(Ordering::SeqCst) < 60 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.kill9();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 60,
        "the burst was too slow: {} acknowledged pushes\n{}",
        acked.len(),
        srv.log()
    );

    let srv = Server::start(db, &empty, &env.secret(), &[], &env.cache());
    for i in 0..NODES {
        let node = format!("d{i}");
        let history = get_json(&format!("{}/v1/nodes/{node}/history", srv.url));
        let stored: std::collections::BTreeSet<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hash"].as_str().unwrap())
            .collect();
        for (n, h) in acked.iter().filter(|(n, _)| *n == node) {
            assert!(
                stored.contains(h.as_str()),
                "acknowledged push {h} of {n} lost after kill -9"
            );
        }
        let current = get_json(&format!("{}/v1/nodes/{node}", srv.url));
        if let Some(c) = current["current_hash"].as_str() {
            assert!(stored.contains(c), "current inventory without history");
        }
    }
}

#[test]
fn kill_9_loses_no_acknowledged_push_sqlite() {
    let (_dir, url) = sqlite_url();
    durability(&url);
}

#[test]
fn kill_9_loses_no_acknowledged_push_postgres() {
    let pg = PgCluster::start();
    durability(&pg.database("durable"));
}
