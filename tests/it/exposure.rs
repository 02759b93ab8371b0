//! The analyzer exposed to hostile clients (issue 15), on the real binary over loopback: slow
//! and idle clients are cut off and a connection flood past the open-file limit does not stop
//! `/healthz`; concurrent large pushes stay under a memory bound; a node over its push rate
//! gets 429; the agent bounds what a hostile server sends back and trims an inventory over the
//! server's body limit; `serve` refuses to start open; tokens with roles; TLS with client
//! certificates generated here.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::serve::{enroll_http, http, Env, Server};
use crate::store::{inventory, package};

/// Raise this process's open-file limit to its hard limit; returns the limit in force.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    l.current = l.maximum;
    let _ = setrlimit(Resource::Nofile, l);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// A `/proc/PID/status` value in KiB (`VmHWM`, `VmRSS`).
fn proc_kib(pid: u32, key: &str) -> u64 {
    let s = fs_err::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

fn host(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned()
}

/// Send `request` on a new connection and read the answer until the server closes or
/// `timeout` passes; `None` when nothing came back.
fn raw(addr: &str, request: &[u8], timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    s.write_all(request).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"\n") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
}

/// `/healthz` answers 200 within 5 s on a new connection.
fn healthz(addr: &str) -> bool {
    raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
}

/// Whether the server closes `s` within `bound` (EOF or reset; an answer before it is fine).
fn closed_within(s: &mut TcpStream, bound: Duration) -> bool {
    s.set_read_timeout(Some(bound)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

pub fn empty_data(env: &Env) -> std::path::PathBuf {
    let d = env.path("data");
    fs_err::create_dir_all(&d).unwrap();
    d
}

/// Issue 15 item 2: 50 slow-header clients and a slow body are cut off; 1,150 idle connections
/// against a server whose open-file limit is 1,024 do not stop `/healthz`, enrollment or a
/// push, and the server never runs out of descriptors.
#[test]
fn slow_and_idle_clients_do_not_stop_the_server() {
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=1024:1024")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_nminus"));
    // A header timeout longer than the flood phase: the cap, not the timeout, must keep
    // `/healthz` answering.
    let srv = Server::start_with(
        cmd,
        &db,
        &empty_data(&env),
        &env.secret(),
        &["--header-timeout", "20s", "--body-timeout", "3s"],
        &env.cache(),
    );
    let addr = host(&srv.url);
    let token = enroll_http(&srv.url, "n1");

    // 50 clients send part of a request head and stall: each is disconnected.
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /v1/nodes HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    assert!(healthz(&addr), "/healthz with 50 slow-header clients");
    // A push whose body stalls after 10 of its 100,000 bytes: 408, then closed.
    let r = raw(
        &addr,
        format!(
            "POST /v1/inventories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"schema_v"
        )
        .as_bytes(),
        Duration::from_secs(30),
    )
    .expect("an answer to a stalled body");
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    assert!(r.contains("\"code\":\"timeout\""), "{r}");
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(60)),
            "slow-header client {i} still connected"
        );
    }
    drop(slow);

    // A flood of idle connections, more than the server's file limit.
    let flood = 1150;
    let own = raise_fd_limit();
    assert!(
        own > flood + 200,
        "this test needs an open-file hard limit above {} (it is {own})",
        flood + 200
    );
    let idle: Vec<TcpStream> = (0..flood)
        .map(|i| TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    for i in 0..5 {
        assert!(healthz(&addr), "/healthz during the flood (try {i})");
    }
    // An agent still gets through.
    let inv = inventory("n1", "par1", "c1", vec![package("nova", "29.0.0")]);
    let r = http()
        .post(format!("{}/v1/inventories", srv.url))
        .bearer_auth(&token)
        .body(serde_json::to_vec(&inv).unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "push during the flood");
    let fds = fs_err::read_dir(format!("/proc/{}/fd", srv.pid()))
        .unwrap()
        .count();
    assert!(fds < 1024, "the server holds {fds} descriptors");
    drop(idle);
    let log = srv.log();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(healthz(&addr));
}

/// Issue 15 item 5: 12 concurrent 9 MB pushes take the server's peak memory no further than
/// its push budget allows; every push is stored in the end (503 `busy` answers, and a
/// connection closed under an upload the server answered early, are retried, as by the agent).
/// Measured on a debug build with 8 pushes of 6 MB: from ~33 MB, a peak of ~505 MB without a
/// budget (8 GiB) and of ~285 MB with 128 MiB.
#[test]
fn concurrent_large_pushes_stay_under_a_memory_bound() {
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = Server::start(
        &db,
        &empty_data(&env),
        &env.secret(),
        &["--push-memory", "128MiB", "--body-timeout", "600s"],
        &env.cache(),
    );
    let pid = srv.pid();
    let before = proc_kib(pid, "VmRSS");
    let nodes = 12;
    let bodies: Vec<(String, Vec<u8>)> = (0..nodes)
        .map(|i| {
            let node = format!("big{i}");
            let pkgs = (0..20_000)
                .map(|p| package(&format!("pkg-{i}-{p}-{}", "x".repeat(80)), "1.0.0"))
                .collect();
            let inv = inventory(&node, "par1", "c1", pkgs);
            (node, serde_json::to_vec(&inv).unwrap())
        })
        .collect();
    let size = bodies[0].1.len();
    assert!(size > 6_000_000, "{size}");
    let tokens: Vec<String> = bodies
        .iter()
        .map(|(n, _)| enroll_http(&srv.url, n))
        .collect();
    let handles: Vec<_> = bodies
        .into_iter()
        .zip(tokens)
        .map(|((node, body), token)| {
            let url = format!("{}/v1/inventories", srv.url);
            std::thread::spawn(move || {
                let gz = crate::serve::gzip(&body);
                drop(body);
                for _ in 0..600 {
                    let r = http()
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Content-Encoding", "gzip")
                        .body(gz.clone())
                        .send();
                    // A `busy` answer comes before the body is read: the server may close
                    // the connection under the upload. Both are retried, as by the agent.
                    let Ok(r) = r else {
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    };
                    match r.status().as_u16() {
                        201 => return,
                        503 => std::thread::sleep(Duration::from_secs(1)),
                        s => panic!("{node}: {s} {}", r.text().unwrap_or_default()),
                    }
                }
                panic!("{node}: never stored");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let hwm = proc_kib(pid, "VmHWM");
    let nodes_stored = crate::serve::get_json(&format!("{}/v1/nodes", srv.url));
    assert_eq!(nodes_stored.as_array().unwrap().len(), nodes);
    eprintln!("{nodes} pushes of {size} bytes: VmRSS before {before} KiB, VmHWM after {hwm} KiB");
    // One push of this size takes ~120 MB at its peak: all 12 at once would be ~1.4 GB. With
    // the budget they are judged about one at a time; what the allocator keeps of each
    // finished push on its thread comes on top (measured: ~540 MB above the start).
    assert!(
        hwm < before + 700 * 1024,
        "peak {hwm} KiB from {before} KiB: over the bound"
    );
}

/// Issue 15 item 2: a node pushing more often than `--push-rate-limit` gets 429 with
/// `Retry-After` once its burst is spent; another node is not affected.
#[test]
fn a_node_over_its_push_rate_gets_429() {
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = Server::start(
        &db,
        &empty_data(&env),
        &env.secret(),
        &["--push-rate-limit", "1"],
        &env.cache(),
    );
    let (a, b) = (enroll_http(&srv.url, "a"), enroll_http(&srv.url, "b"));
    let push = |token: &str, node: &str| {
        let inv = inventory(node, "par1", "c1", vec![package("nova", "29.0.0")]);
        http()
            .post(format!("{}/v1/inventories", srv.url))
            .bearer_auth(token)
            .body(serde_json::to_vec(&inv).unwrap())
            .send()
            .unwrap()
    };
    let mut codes = Vec::new();
    for _ in 0..200 {
        codes.push(push(&a, "a").status().as_u16());
    }
    assert!(codes.iter().all(|c| *c == 201 || *c == 200), "{codes:?}");
    let r = push(&a, "a");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(push(&b, "b").status(), 201);
}

/// An enrolled agent state pointing at `server` (no enrollment needed against a fake server).
fn agent_state(dir: &Path, server: &str, node: &str) {
    fs_err::create_dir_all(dir).unwrap();
    fs_err::write(
        dir.join("agent.json"),
        serde_json::json!({"server": server, "node": node, "token": "t".repeat(64)}).to_string(),
    )
    .unwrap();
}

fn inventory_file(dir: &Path, node: &str, packages: usize) -> std::path::PathBuf {
    let pkgs = (0..packages)
        .map(|p| package(&format!("pkg-{p}-{}", "y".repeat(60)), "1.0.0"))
        .collect();
    let f = dir.join(format!("{node}.json"));
    fs_err::write(
        &f,
        serde_json::to_vec(&inventory(node, "par1", "c1", pkgs)).unwrap(),
    )
    .unwrap();
    f
}

/// Issue 15 item 5: a hostile server answers a push with a body of gigabytes (and then an error
/// with one): the agent reads at most 1 MiB of it, says so, and exits 2, under a 1 GiB
/// address-space limit (the old agent read it whole).
#[test]
fn the_agent_bounds_a_hostile_servers_reply() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let served2 = std::sync::Arc::clone(&served);
    std::thread::spawn(move || {
        for (i, s) in listener.incoming().enumerate() {
            let Ok(mut s) = s else { continue };
            let served = std::sync::Arc::clone(&served2);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || buf[..n].ends_with(b"\r\n\r\n") {
                        break;
                    }
                }
                let status = if i % 2 == 0 {
                    "201 Created"
                } else {
                    "400 Bad Request"
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: 8000000000\r\n\r\n{{\"error\":\""
                );
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'A'; 1 << 20];
                while s.write_all(&chunk).is_ok() {
                    served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    agent_state(&state, &url, "n1");
    let inv = inventory_file(dir.path(), "n1", 10);
    for _ in 0..2 {
        let out = Command::new("prlimit")
            .arg("--as=1073741824")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_nminus"))
            .args(["agent", "--once", "--retries", "0", "--timeout", "120s"])
            .arg("--state-dir")
            .arg(&state)
            .arg("--inventory")
            .arg(&inv)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("larger than 1024 KiB"), "{err}");
    }
    // It stopped reading: far less than the 8 GB offered went out.
    assert!(
        served.load(std::sync::atomic::Ordering::Relaxed) < 200,
        "{} MiB sent",
        served.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// Issue 15 item 9: an inventory over the server's body limit is trimmed to fit and stored
/// with a problem saying what was left out; the agent says so and exits 2; the next run
/// trims before sending.
#[test]
fn an_inventory_over_the_body_limit_is_trimmed_not_refused_forever() {
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = Server::start(
        &db,
        &empty_data(&env),
        &env.secret(),
        &["--body-limit", "200k"],
        &env.cache(),
    );
    let state = env.path("agent");
    let run = |args: &[&str]| {
        let out = crate::support::nminus()
            .arg("agent")
            .args(args)
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[
        "enroll",
        "--server",
        &srv.url,
        "--token",
        "s3cret",
        "--node-id",
        "big1",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let inv = inventory_file(&env.path(""), "big1", 3000);
    assert!(fs_err::metadata(&inv).unwrap().len() > 600_000);
    let inv = inv.to_str().unwrap().to_owned();
    let (code, err) = run(&["--once", "--retries", "0", "--inventory", &inv]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: big1: inventory trimmed to the server's body limit of 204800 bytes"),
        "{err}"
    );
    assert!(err.contains("big1: stored"), "{err}");
    let page = crate::serve::get_json(&format!("{}/v1/inventories?latest=true", srv.url));
    let text = page.to_string();
    assert!(text.contains("packages left out"), "{text:.2000}");
    // The next run knows the limit: no refused upload, the same trimmed inventory.
    let (code, err) = run(&["--once", "--retries", "0", "--inventory", &inv]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("big1: unchanged"), "{err}");
    assert!(!err.contains("trimming the inventory"), "{err}");
}

/// `serve` refuses to start open: without API tokens it names both ways out, and
/// `--insecure-no-auth` is refused off loopback.
#[test]
fn serve_refuses_to_start_without_tokens() {
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let serve = |extra: &[&str]| {
        let out = crate::support::nminus()
            .args(["serve", "--db", &db, "--data"])
            .arg(empty_data(&env))
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = serve(&["--listen", "0.0.0.0:0"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("refusing to serve without API tokens"),
        "{err}"
    );
    assert!(
        err.contains("--api-tokens-file") && err.contains("--insecure-no-auth"),
        "{err}"
    );
    let (code, err) = serve(&["--listen", "0.0.0.0:0", "--insecure-no-auth"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("only on a loopback --listen"), "{err}");
    let tokens = env.path("tokens");
    fs_err::write(&tokens, "read my-token-in-clear\n").unwrap();
    let (code, err) = serve(&["--api-tokens-file", tokens.to_str().unwrap()]);
    assert_ne!(code, Some(0));
    assert!(err.contains(":1: expected the token's sha256"), "{err}");
    assert!(!err.contains("my-token-in-clear"), "{err}");
    assert!(!env.path("fleet.db").exists(), "nothing created");
}

pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, in PEM files.
    pub fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        };
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, pem: String| fs_err::write(dir.path().join(name), pem).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "nminus test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        w("ca.pem", ca.pem());
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, file: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
            w(&format!("{file}.pem"), cert.pem());
            w(&format!("{file}-key.pem"), key.serialize_pem());
        };
        leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "server",
        );
        leaf(
            vec!["node1".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            "client",
        );
        // A client certificate from a CA the server does not know.
        let other_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["node1".into()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let other = p.self_signed(&other_key).unwrap();
        w("stranger.pem", other.pem());
        w("stranger-key.pem", other_key.serialize_pem());
        Self { dir }
    }

    pub fn path(&self, f: &str) -> String {
        self.dir.path().join(f).display().to_string()
    }
}

/// Issue 15 item 8 over real loopback TLS: HTTPS with a certificate of a private CA; agents
/// need a client certificate of the client CA to enroll and push (and trust the CA file);
/// readers need a token of the right role; `/metrics` needs a metrics token on the API port
/// and none on `--metrics-listen`; plain HTTP gets nothing; the database is 0600.
#[test]
fn tls_client_certificates_and_token_roles() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let pki = Pki::new();
    let db_path = env.path("fleet.db");
    let db = format!("sqlite://{}", db_path.display());
    let tokens = env.path("api-tokens");
    let hash = |t: &str| nminus::token_hash(t);
    fs_err::write(
        &tokens,
        format!(
            "# role sha256 name\nread {} grafana\noperate {} ops\nmetrics {} prometheus\n",
            hash("reader-token"),
            hash("operator-token"),
            hash("metrics-token")
        ),
    )
    .unwrap();
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
            tokens.to_str().unwrap(),
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &env.cache(),
    );
    assert!(srv.url.starts_with("https://127.0.0.1:"), "{}", srv.url);
    let mode = fs_err::metadata(&db_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "database mode {mode:o}");
    for side in ["-wal", "-shm"] {
        let p = format!("{}{side}", db_path.display());
        if let Ok(m) = fs_err::metadata(&p) {
            assert_eq!(m.permissions().mode() & 0o077, 0, "{p}");
        }
    }

    // Agents: a client certificate of the client CA is required to enroll.
    let state = env.path("agent");
    let agent = |args: &[&str]| {
        let out = crate::support::nminus()
            .arg("agent")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let enroll = |extra: &[&str]| {
        let mut a = vec![
            "enroll",
            "--server",
            &srv.url,
            "--token",
            "s3cret",
            "--node-id",
            "node1",
            "--state-dir",
            state.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        agent(&a)
    };
    let (code, err) = enroll(&[]);
    assert_eq!(code, Some(2), "untrusted server certificate: {err}");
    let (code, err) = enroll(&["--ca-file", &ca]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("client certificate"), "{err}");
    let (code, err) = enroll(&[
        "--ca-file",
        &ca,
        "--client-cert",
        &pki.path("stranger.pem"),
        "--client-key",
        &pki.path("stranger-key.pem"),
    ]);
    assert_eq!(code, Some(2), "a certificate of another CA: {err}");
    let (code, err) = enroll(&[
        "--ca-file",
        &ca,
        "--client-cert",
        &pki.path("client.pem"),
        "--client-key",
        &pki.path("client-key.pem"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    // The run uses the TLS files kept at enrollment.
    let inv = inventory_file(&env.path(""), "node1", 3);
    let (code, err) = agent(&[
        "--once",
        "--retries",
        "0",
        "--state-dir",
        state.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("node1: stored"), "{err}");

    // Readers: roles.
    let pem = fs_err::read(&ca).unwrap();
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let status = |method: &str, path: &str, token: Option<&str>| {
        let mut rq = match method {
            "GET" => client.get(format!("{}{path}", srv.url)),
            _ => client.post(format!("{}{path}", srv.url)),
        };
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        rq.send().unwrap().status().as_u16()
    };
    assert_eq!(status("GET", "/v1/nodes", None), 401);
    assert_eq!(status("GET", "/v1/nodes", Some("wrong")), 401);
    assert_eq!(status("GET", "/v1/nodes", Some("metrics-token")), 403);
    assert_eq!(status("GET", "/v1/nodes", Some("reader-token")), 200);
    assert_eq!(status("GET", "/v1/inventories", Some("reader-token")), 200);
    assert_eq!(status("GET", "/v1/nodes/node1", None), 401);
    assert_eq!(status("POST", "/v1/reanalyze", None), 401);
    assert_eq!(status("POST", "/v1/reanalyze", Some("s3cret")), 401);
    assert_eq!(status("POST", "/v1/reanalyze", Some("reader-token")), 403);
    assert_eq!(status("POST", "/v1/reanalyze", Some("operator-token")), 200);
    assert_eq!(status("GET", "/metrics", None), 401);
    assert_eq!(status("GET", "/metrics", Some("metrics-token")), 200);
    assert_eq!(status("GET", "/metrics", Some("reader-token")), 200);
    assert_eq!(status("GET", "/healthz", None), 200);
    // `query` trusts the private CA when told to (--ca-file), and only then.
    let query = |extra: &[&str]| {
        let out = crate::support::nminus()
            .args([
                "query",
                "--server",
                &srv.url,
                "--token",
                "reader-token",
                "--format",
                "json",
            ])
            .args(extra)
            .arg("nodes")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = query(&[]);
    assert!(!ok, "a private CA must not be trusted by default: {err}");
    let (ok, out, err) = query(&["--ca-file", &ca]);
    assert!(ok && out.contains("\"node1\""), "{err}\n{out}");
    // A reader cannot enroll; enrollment needs the secret (or an admin token).
    let r = client
        .post(format!("{}/v1/enroll", srv.url))
        .bearer_auth("operator-token")
        .body(r#"{"node":"x"}"#)
        .send()
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 403), "{}", r.status());

    // /metrics on its own listener: no token.
    let log = srv.log();
    let murl = log
        .split("metrics on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no metrics address in\n{log}"))
        .to_owned();
    let r = http().get(&murl).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("nminus_"));
    let r = http()
        .get(murl.replace("/metrics", "/v1/nodes"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404, "the metrics listener serves only /metrics");

    // Plain HTTP on the TLS port gets no answer.
    let plain = raw(
        &host(&srv.url),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(15),
    );
    assert!(
        plain
            .as_deref()
            .is_none_or(|r| !r.starts_with("HTTP/1.1 200")),
        "{plain:?}"
    );
}
