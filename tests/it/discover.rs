//! `nminus discover` against a real Keystone (PyPI, SQLite, bootstrapped, on loopback; see
//! scripts/keystone-test-env.sh) whose catalog holds several services in two regions; the other
//! services' version documents are the real upstream samples of ../shared/data/openstack-api,
//! served on loopback. Hostile endpoints: garbage, a hang, a redirect loop, an oversized body,
//! TLS spoken to a plain listener, a refused port.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{nminus, shared_data};

// ---------------------------------------------------------------- Keystone

pub(crate) struct Keystone {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    token: String,
    pub(crate) user_id: String,
    pub(crate) http: reqwest::blocking::Client,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/keystone-test-env.sh")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Keystone {
    /// Start a fresh Keystone; fails the test (never skips it) when it cannot be started.
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// A fresh Keystone whose tokens expire after `secs` seconds (`[token] expiration`).
    pub(crate) fn start_expiring(secs: u32) -> Self {
        Self::start_full(None, Some(secs))
    }

    /// The same over HTTPS with `tls` = (CA, certificate, key), PEM files.
    fn start_with(tls: Option<(&Path, &Path, &Path)>) -> Self {
        Self::start_full(tls, None)
    }

    fn start_full(tls: Option<(&Path, &Path, &Path)>, expiration: Option<u32>) -> Self {
        let venv = std::env::var_os("KS_VENV").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/keystone/venv"),
            PathBuf::from,
        );
        assert!(
            venv.join("bin/keystone-manage").exists(),
            "no Keystone virtualenv at {}: run `scripts/keystone-test-env.sh install` (scripts/test.sh does)",
            venv.display()
        );
        let mut http = reqwest::blocking::Client::builder();
        let mut scheme = "http";
        if let Some((ca, _, _)) = tls {
            http = http.add_root_certificate(
                reqwest::Certificate::from_pem(&fs_err::read(ca).unwrap()).unwrap(),
            );
            scheme = "https";
        }
        // A free port can be taken by another test between our probe and gunicorn's bind:
        // that (and only that) is tried again, on another port, in a fresh directory.
        let mut attempts = 0;
        let (dir, port) = loop {
            attempts += 1;
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut up = Command::new(script());
            up.arg("up")
                .arg(dir.path())
                .arg(port.to_string())
                .env("KS_VENV", &venv);
            if let Some(secs) = expiration {
                up.env("KS_TOKEN_EXPIRATION", secs.to_string());
            }
            if let Some((_, cert, key)) = tls {
                up.env("KS_TLS_CERT", cert).env("KS_TLS_KEY", key);
            }
            let out = up.output().unwrap();
            if out.status.success() {
                break (dir, port);
            }
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                attempts < 4 && said.contains("Address already in use"),
                "Keystone could not be started: {said}"
            );
        };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let http = http.build().unwrap();
        let mut k = Self {
            dir,
            url,
            token: String::new(),
            user_id: String::new(),
            http,
        };
        let (token, body) = k.password_token("secret");
        k.token = token;
        k.user_id = body["token"]["user"]["id"].as_str().unwrap().to_owned();
        k
    }

    pub(crate) fn password_token(&self, password: &str) -> (String, Value) {
        let r = self
            .http
            .post(format!("{}/v3/auth/tokens", self.url))
            .header("content-type", "application/json")
            .body(
                json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
                .to_string(),
            )
            .send()
            .unwrap();
        assert!(r.status().is_success(), "token: {}", r.status());
        let t = r.headers()["x-subject-token"].to_str().unwrap().to_owned();
        (t, serde_json::from_str(&r.text().unwrap()).unwrap())
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let send = |token: &str| {
            self.http
                .post(format!("{}/v3/{path}", self.url))
                .header("x-auth-token", token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .unwrap()
        };
        let mut r = send(&self.token);
        if r.status() == reqwest::StatusCode::UNAUTHORIZED {
            // A Keystone whose tokens live a few seconds (start_expiring) on a loaded machine:
            // the setup token may have expired; the admin password is still the bootstrap one.
            r = send(&self.password_token("secret").0);
        }
        let status = r.status();
        let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
    }

    pub(crate) fn region(&self, id: &str) {
        self.post("regions", &json!({"region": {"id": id}}));
    }

    pub(crate) fn service(&self, kind: &str, name: &str) -> String {
        let v = self.post(
            "services",
            &json!({"service": {"type": kind, "name": name, "enabled": true}}),
        );
        v["service"]["id"].as_str().unwrap().to_owned()
    }

    pub(crate) fn endpoint(&self, service: &str, interface: &str, region: &str, url: &str) {
        self.post(
            "endpoints",
            &json!({"endpoint": {"service_id": service, "interface": interface, "region_id": region, "url": url}}),
        );
    }

    /// An application credential of admin: (id, secret).
    fn app_credential(&self) -> (String, String) {
        let v = self.post(
            &format!("users/{}/application_credentials", self.user_id),
            &json!({"application_credential": {"name": "nminus-discover"}}),
        );
        let ac = &v["application_credential"];
        (
            ac["id"].as_str().unwrap().to_owned(),
            ac["secret"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) fn clouds_yaml(&self, password: &str) -> PathBuf {
        let p = self.dir.path().join(format!("clouds-{password}.yaml"));
        fs_err::write(
            &p,
            format!(
                "clouds:\n  test:\n    auth:\n      auth_url: {}/v3\n      username: admin\n      project_name: admin\n      user_domain_id: default\n      project_domain_id: default\n    region_name: RegionOne\n",
                self.url
            ),
        )
        .unwrap();
        // The password lives in secure.yaml, as operators keep it.
        fs_err::write(
            self.dir.path().join("secure.yaml"),
            format!("clouds:\n  test:\n    auth:\n      password: {password}\n"),
        )
        .unwrap();
        p
    }

    pub(crate) fn discover(&self, clouds: &Path) -> Command {
        let mut c = nminus();
        c.arg("discover")
            .arg("--os-cloud")
            .arg("test")
            .arg("--data")
            .arg(shared_data(""))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("OS_CLIENT_CONFIG_FILE", clouds)
            .env("OS_CLIENT_SECURE_FILE", self.dir.path().join("secure.yaml"));
        c
    }
}

impl Drop for Keystone {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("down")
            .arg(self.dir.path())
            .status();
    }
}

// ---------------------------------------------------------------- loopback services

#[derive(Clone)]
pub(crate) enum Reply {
    /// 200 with a file's bytes.
    File(PathBuf),
    /// Read the request, never answer.
    Hang,
    /// 302 to itself.
    RedirectLoop,
    /// 200 and an endless JSON-looking body.
    Endless,
}

/// A loopback HTTP server answering routes (exact path) from the upstream samples.
pub(crate) struct Samples {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Samples {
    pub(crate) fn start(routes: Vec<(&'static str, Reply)>) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        l.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let routes = Arc::new(routes);
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        let (routes, s) = (routes.clone(), s.clone());
                        std::thread::spawn(move || answer(c, &routes, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self { port, stop }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Samples {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(mut c: TcpStream, routes: &[(&str, Reply)], stop: &AtomicBool) {
    c.set_nonblocking(false).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut first = String::new();
    if r.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let reply = routes
        .iter()
        .find(|(p, _)| *p == path || format!("{p}/") == path || *p == format!("{path}/"))
        .map(|(_, r)| r.clone());
    let _ = match reply {
        Some(Reply::File(f)) => {
            let body = fs_err::read(f).unwrap();
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            c.write_all(&body)
        }
        Some(Reply::Hang) => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        }
        Some(Reply::RedirectLoop) => write!(
            c,
            "HTTP/1.1 302 Found\r\nlocation: {path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        Some(Reply::Endless) => {
            let _ = write!(c, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{{\"versions\": [");
            let chunk = fs_err::read(shared_data("openstack-api/versions/nova/versions-get-resp.json")).unwrap();
            let mut sent = 0usize;
            // Bounded here too: the client must give up long before.
            while sent < 64 << 20 && !stop.load(Ordering::Relaxed) {
                if c.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
            Ok(())
        }
        None => write!(
            c,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
    };
}

pub(crate) fn sample(rel: &str) -> Reply {
    Reply::File(shared_data(&format!("openstack-api/versions/{rel}")))
}

// ---------------------------------------------------------------- expectations from the data

/// The series the code TSV gives a maximum: the first series (chronological rows) whose
/// final code declares at least `max` with the same major; `None` if beyond every row.
fn first_series_at_least(project: &str, max: &str) -> Option<String> {
    let parse = |s: &str| {
        let (a, b) = s.trim_start_matches('v').split_once('.').unwrap();
        (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())
    };
    let m = parse(max);
    let text =
        fs_err::read_to_string(shared_data("openstack-api/max-per-series-code.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0] == project)
        .find(|f| {
            let v = parse(f[2]);
            v.0 == m.0 && v >= m
        })
        .map(|f| f[1].to_owned())
}

fn sample_max(rel: &str) -> String {
    let v: Value = serde_json::from_slice(
        &fs_err::read(shared_data(&format!("openstack-api/versions/{rel}"))).unwrap(),
    )
    .unwrap();
    let list = v["versions"].as_array().cloned().unwrap_or_default();
    let e = list
        .iter()
        .find(|e| e["status"] == "CURRENT")
        .or(v.get("default_version"))
        .unwrap();
    e["max_version"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or(e["version"].as_str())
        .unwrap()
        .to_owned()
}

fn endpoint<'a>(d: &'a Value, service_type: &str, region: &str) -> &'a Value {
    d["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service_type"] == service_type && e["region"] == region)
        .unwrap_or_else(|| panic!("no {service_type} in {region}: {d:#}"))
}

fn run_json(mut c: Command) -> (i32, Value, String) {
    let out = c.arg("--format").arg("json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), v, stderr)
}

/// The catalog of the tests: real samples in two regions, and the hostile endpoints.
struct Cloud {
    ks: Keystone,
    nova1: Samples,
    _others: Vec<Samples>,
}

fn cloud() -> Cloud {
    let ks = Keystone::start();
    ks.region("RegionTwo");
    let nova = || {
        Samples::start(vec![
            ("/", sample("nova/versions-get-resp.json")),
            ("/v2.1", sample("nova/v21-version-get-resp.json")),
        ])
    };
    let (nova1, nova2) = (nova(), nova());
    let placement = Samples::start(vec![("/", sample("placement/get-root.json"))]);
    let cinder = Samples::start(vec![
        ("/", sample("cinder/versions-response.json")),
        ("/v3", sample("cinder/version-show-response.json")),
    ]);
    let ironic = Samples::start(vec![
        ("/", sample("ironic/api-root-response.json")),
        ("/v1", sample("ironic/api-v1-root-response.json")),
    ]);
    let glance = Samples::start(vec![("/", sample("glance/image-versions-response.json"))]);
    let hostile = Samples::start(vec![
        // Real upstream text that is not a version document.
        (
            "/garbage/",
            Reply::File(shared_data(
                "openstack-api/history/nova/rest_api_version_history.rst",
            )),
        ),
        ("/hang/", Reply::Hang),
        ("/loop/", Reply::RedirectLoop),
        ("/endless/", Reply::Endless),
    ]);
    let refused = free_port();

    let compute = ks.service("compute", "nova");
    for i in ["public", "internal"] {
        ks.endpoint(&compute, i, "RegionOne", &nova1.url("/v2.1"));
    }
    ks.endpoint(&compute, "public", "RegionTwo", &nova2.url("/v2.1"));
    let p = ks.service("placement", "placement");
    ks.endpoint(&p, "public", "RegionOne", &placement.url(""));
    let c = ks.service("volumev3", "cinderv3");
    ks.endpoint(&c, "public", "RegionTwo", &cinder.url("/v3/%(project_id)s"));
    let b = ks.service("baremetal", "ironic");
    ks.endpoint(&b, "public", "RegionOne", &ironic.url(""));
    let g = ks.service("image", "glance");
    ks.endpoint(&g, "public", "RegionTwo", &glance.url(""));
    let h = ks.service("orchestration", "heat");
    ks.endpoint(&h, "public", "RegionOne", &hostile.url("/garbage/"));
    let k = ks.service("key-manager", "barbican");
    ks.endpoint(&k, "public", "RegionOne", &hostile.url("/hang/"));
    let o = ks.service("load-balancer", "octavia");
    ks.endpoint(&o, "public", "RegionOne", &hostile.url("/loop/"));
    let m = ks.service("shared-file-system", "manila");
    ks.endpoint(&m, "public", "RegionOne", &hostile.url("/endless/"));
    let s = ks.service("object-store", "swift");
    ks.endpoint(
        &s,
        "public",
        "RegionOne",
        &format!("https://127.0.0.1:{}/v1", nova2.port),
    );
    let d = ks.service("dns", "designate");
    ks.endpoint(
        &d,
        "public",
        "RegionOne",
        &format!("http://127.0.0.1:{refused}/"),
    );
    Cloud {
        ks,
        nova1,
        _others: vec![nova2, placement, cinder, ironic, glance, hostile],
    }
}

#[test]
fn discover_real_keystone_two_regions_samples_and_hostile_endpoints() {
    let cl = cloud();
    let ks = &cl.ks;
    let clouds = ks.clouds_yaml("secret");
    let mut c = ks.discover(&clouds);
    c.args(["--timeout", "3", "--max-body", "65536"]);
    let t = Instant::now();
    let (code, d, stderr) = run_json(c);
    eprintln!("discovery took {:?}", t.elapsed());
    assert_eq!(code, 2, "endpoints could not be read: exit 2\n{stderr}");
    assert_eq!(d["schema"], "nminus-discovery/1");
    validate(&d);
    assert_eq!(d["regions"], json!(["RegionOne", "RegionTwo"]));

    // Identity (keystone itself, bootstrapped): three interfaces; its id implies a series.
    let idn = endpoint(&d, "identity", "RegionOne");
    assert_eq!(idn["status"], "ok", "{idn:#}");
    let vid = idn["max_version_id"].as_str().unwrap();
    assert!(vid.starts_with("3."), "{idn:#}");

    // compute in both regions, from nova's real samples.
    let nova_max = sample_max("nova/versions-get-resp.json");
    for region in ["RegionOne", "RegionTwo"] {
        let e = endpoint(&d, "compute", region);
        assert_eq!(e["status"], "ok", "{e:#}");
        assert_eq!(e["version"], "v2.1");
        assert_eq!(e["max_microversion"], nova_max.as_str());
        assert_eq!(e["min_microversion"], "2.1");
    }
    // volumev3 normalised through the service-types registry; the project template dropped.
    let cinder = endpoint(&d, "block-storage", "RegionTwo");
    assert_eq!(cinder["catalog_type"], "volumev3");
    assert_eq!(cinder["status"], "ok", "{cinder:#}");
    let cmax = sample_max("cinder/versions-response.json");
    assert_eq!(cinder["max_microversion"], cmax.as_str());
    // placement's sample is old: the series is the first whose code reaches its maximum,
    // and that is behind policy.
    let pl = endpoint(&d, "placement", "RegionOne");
    let pmax = sample_max("placement/get-root.json");
    let want = first_series_at_least("placement", &pmax).unwrap();
    assert_eq!(pl["series"]["series"], want.as_str(), "{pl:#}");
    assert!(pl["series"]["evidence"][0]
        .as_str()
        .unwrap()
        .contains("max-per-series-code.tsv"));
    let behind: Vec<&Value> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "series-behind-policy")
        .collect();
    assert!(
        behind.iter().any(|f| f["service_type"] == "placement"),
        "{:#}",
        d["findings"]
    );
    // ironic: the root's default version; release-mapping evidence.
    let ir = endpoint(&d, "baremetal", "RegionOne");
    let imax = sample_max("ironic/api-root-response.json");
    assert_eq!(ir["max_microversion"], imax.as_str());
    assert_eq!(
        ir["series"]["series"],
        first_series_at_least("ironic", &imax).unwrap().as_str()
    );
    // glance: version ids, no microversions.
    let gl = endpoint(&d, "image", "RegionTwo");
    assert_eq!(gl["status"], "ok", "{gl:#}");
    assert!(gl["max_version_id"].as_str().unwrap().starts_with("2."));

    // The hostile ones: each a clear error of its kind, none stops the rest.
    let kind = |st: &str| {
        let e = endpoint(&d, st, "RegionOne");
        let kinds: Vec<String> = e["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap().to_owned())
            .collect();
        (e["status"].as_str().unwrap().to_owned(), kinds, e.clone())
    };
    let (st, k, e) = kind("orchestration");
    assert_eq!(st, "no-version-document", "{e:#}");
    assert!(k.contains(&"garbage".to_owned()), "{e:#}");
    assert!(d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "no-version-document" && f["service_type"] == "orchestration"));
    let (st, k, e) = kind("key-manager");
    assert_eq!(
        (st.as_str(), k[0].as_str()),
        ("unreachable", "timeout"),
        "{e:#}"
    );
    let (st, k, e) = kind("load-balancer");
    assert_eq!(
        (st.as_str(), k[0].as_str()),
        ("unreachable", "redirects"),
        "{e:#}"
    );
    let (_, k, e) = kind("shared-file-system");
    assert!(k.contains(&"too-large".to_owned()), "{e:#}");
    let (st, k, e) = kind("object-store");
    assert_eq!(
        (st.as_str(), k[0].as_str()),
        ("unreachable", "tls"),
        "{e:#}"
    );
    let (st, k, e) = kind("dns");
    assert_eq!(
        (st.as_str(), k[0].as_str()),
        ("unreachable", "connect"),
        "{e:#}"
    );
    assert!(e["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));

    // The table names every endpoint and every problem.
    let out = ks
        .discover(&clouds)
        .args(["--timeout", "2"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("block-storage") && table.contains("RegionTwo"),
        "{table}"
    );
    assert!(
        table.contains("problem: load-balancer RegionOne public"),
        "{table}"
    );

    // An application credential through OS_* variables: the same catalog.
    let (id, secret) = ks.app_credential();
    let out = nminus()
        .args([
            "discover",
            "--format",
            "json",
            "--timeout",
            "2",
            "--interface",
            "internal",
        ])
        .arg("--data")
        .arg(shared_data(""))
        .env_clear()
        .env("HOME", ks.dir.path())
        .env("OS_AUTH_URL", format!("{}/v3", ks.url))
        .env("OS_AUTH_TYPE", "v3applicationcredential")
        .env("OS_APPLICATION_CREDENTIAL_ID", &id)
        .env("OS_APPLICATION_CREDENTIAL_SECRET", &secret)
        .output()
        .unwrap();
    let ac: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let internal: Vec<&str> = ac["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["service_type"].as_str().unwrap())
        .collect();
    assert_eq!(internal, ["compute", "identity"], "{ac:#}");
    assert_eq!(ac["endpoints"][0]["url"], cl.nova1.url("/v2.1"));

    // Wrong password: a clear error, exit 2, nothing discovered, nothing hidden.
    let bad = ks.clouds_yaml("wrong");
    let (code, d, stderr) = run_json(ks.discover(&bad));
    assert_eq!(code, 2);
    assert_eq!(d["keystone"]["error"]["kind"], "unauthorized");
    assert!(
        stderr.contains("wrong user name or password") && stderr.contains("HTTP 401"),
        "{stderr}"
    );
    ks.clouds_yaml("secret");

    // A revoked (as good as expired) token.
    let (tok, _) = ks.password_token("secret");
    let r = ks
        .http
        .delete(format!("{}/v3/auth/tokens", ks.url))
        .header("x-auth-token", &ks.token)
        .header("x-subject-token", &tok)
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let out = nminus()
        .args(["discover", "--format", "json"])
        .arg("--data")
        .arg(shared_data(""))
        .env_clear()
        .env("HOME", ks.dir.path())
        .env("OS_AUTH_URL", format!("{}/v3", ks.url))
        .env("OS_AUTH_TYPE", "token")
        .env("OS_TOKEN", &tok)
        .env("OS_PROJECT_NAME", "admin")
        .env("OS_PROJECT_DOMAIN_ID", "default")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expired, revoked or unknown"), "{stderr}");

    // A CA file that is no certificate.
    fs_err::write(ks.dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    fs_err::write(
        &clouds,
        format!(
            "clouds:\n  test:\n    cacert: {}\n    auth:\n      auth_url: {}/v3\n      username: admin\n      project_name: admin\n      user_domain_id: default\n      project_domain_id: default\n",
            ks.dir.path().join("ca.pem").display(),
            ks.url
        ),
    )
    .unwrap();
    let out = ks.discover(&clouds).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ca.pem") && stderr.contains("no certificate"),
        "{stderr}"
    );
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) struct Kill(pub(crate) Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn new_endpoint_appears_on_the_next_round_and_probes_export_metrics() {
    let ks = Keystone::start();
    let nova = Samples::start(vec![
        ("/", sample("nova/versions-get-resp.json")),
        ("/v2.1", sample("nova/v21-version-get-resp.json")),
    ]);
    let compute = ks.service("compute", "nova");
    ks.endpoint(&compute, "public", "RegionOne", &nova.url("/v2.1"));
    let clouds = ks.clouds_yaml("secret");
    let out = ks.dir.path().join("discovery.json");
    let port = free_port();
    let child = ks
        .discover(&clouds)
        .args([
            "--format",
            "json",
            "--interval",
            "1",
            "--probe-interval",
            "1",
            "--timeout",
            "2",
        ])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _kill = Kill(child);
    let read = || -> Option<Value> { serde_json::from_slice(&fs_err::read(&out).ok()?).ok() };
    wait_for("the first round", Duration::from_secs(30), || {
        read().is_some()
    });
    assert!(read().unwrap()["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["service_type"] != "placement"));

    // A new service in the catalog, while discovery runs.
    let placement = Samples::start(vec![("/", sample("placement/get-root.json"))]);
    let p = ks.service("placement", "placement");
    ks.endpoint(&p, "public", "RegionOne", &placement.url(""));
    wait_for(
        "placement in a later round",
        Duration::from_secs(30),
        || {
            read().is_some_and(|d| {
                d["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["code"] == "new-endpoint" && f["service_type"] == "placement")
            })
        },
    );
    let metrics = || {
        reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics"))
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    wait_for("placement probed", Duration::from_secs(30), || {
        metrics().contains("nminus_openstack_endpoint_up{service_type=\"placement\"")
    });
    let m = metrics();
    assert!(
        m.contains(
            "nminus_openstack_endpoint_probe_duration_seconds_bucket{service_type=\"compute\""
        ),
        "{m}"
    );
    // The exposition is valid for Prometheus' own linter.
    let mut lint = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(
        m.contains(&format!(
            "max_microversion=\"{}\"",
            sample_max("nova/versions-get-resp.json")
        )),
        "{m}"
    );

    // compute goes away: down in the metrics, a finding in the next round.
    drop(nova);
    wait_for("compute down", Duration::from_secs(30), || {
        metrics().lines().any(|l| {
            l.starts_with("nminus_openstack_endpoint_up{service_type=\"compute\"")
                && l.ends_with(" 0")
        })
    });
    wait_for("stopped-answering finding", Duration::from_secs(30), || {
        read().is_some_and(|d| {
            d["findings"].as_array().unwrap().iter().any(|f| {
                f["code"] == "endpoint-stopped-answering" && f["service_type"] == "compute"
            })
        })
    });
}

pub(crate) fn tool(name: &str) -> PathBuf {
    let p = Path::new("/usr/bin").join(name);
    assert!(
        p.exists(),
        "{name} is missing: install Debian's prometheus and prometheus-alertmanager packages (scripts/test.sh does)"
    );
    p
}

/// A private CA made with openssl: (dir, ca.pem, server.pem, server.key) for 127.0.0.1.
fn private_ca() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n);
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d.path())
            .output()
            .expect("openssl (Debian's openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=nminus test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    fs_err::write(
        p("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    let (ca, cert, key) = (p("ca.pem"), p("server.pem"), p("server.key"));
    (d, ca, cert, key)
}

/// Keystone over HTTPS with a private CA: trusted through clouds.yaml's `cacert`, refused
/// (a clear TLS error, exit 2) without it.
#[test]
fn keystone_over_tls_with_a_private_ca() {
    let (_d, ca, cert, key) = private_ca();
    let ks = Keystone::start_with(Some((&ca, &cert, &key)));
    assert!(ks.url.starts_with("https://"));
    let clouds = ks.dir.path().join("tls-clouds.yaml");
    let write = |cacert: Option<&Path>| {
        fs_err::write(
            &clouds,
            format!(
                "clouds:\n  test:\n{}    auth:\n      auth_url: {}/v3\n      username: admin\n      project_name: admin\n      user_domain_id: default\n      project_domain_id: default\n",
                cacert.map(|c| format!("    cacert: {}\n", c.display())).unwrap_or_default(),
                ks.url
            ),
        )
        .unwrap();
    };
    ks.clouds_yaml("secret");
    write(Some(&ca));
    let (code, d, stderr) = run_json(ks.discover(&clouds));
    assert_eq!(code, 0, "{stderr}\n{d:#}");
    let idn = endpoint(&d, "identity", "RegionOne");
    assert_eq!(idn["status"], "ok", "{idn:#}");
    assert!(idn["url"].as_str().unwrap().starts_with("https://"));

    write(None);
    let (code, d, stderr) = run_json(ks.discover(&clouds));
    assert_eq!(code, 2);
    assert_eq!(d["keystone"]["error"]["kind"], "tls", "{d:#}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

/// Bad local input fails before any request, naming the file and what is wrong.
#[test]
fn bad_local_input_is_named() {
    let d = tempfile::tempdir().unwrap();
    let clouds = d.path().join("clouds.yaml");
    fs_err::write(&clouds, "clouds:\n  prod:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n      username: u\n      password: p\n").unwrap();
    let run = |args: &[&str]| {
        let out = nminus()
            .arg("discover")
            .arg("--data")
            .arg(shared_data(""))
            .args(args)
            .env_clear()
            .env("HOME", d.path())
            .env("OS_CLIENT_CONFIG_FILE", &clouds)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, e) = run(&["--os-cloud", "staging"]);
    assert_eq!(code, Some(2));
    assert!(
        e.contains("no cloud `staging`") && e.contains("prod") && e.contains("clouds.yaml"),
        "{e}"
    );
    let (code, e) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(e.contains("OS_AUTH_URL"), "{e}");
    let (code, e) = run(&["--os-cloud", "prod", "--site", "RegionOne"]);
    assert_eq!(code, Some(2));
    assert!(e.contains("REGION=SITE"), "{e}");
    let prev = d.path().join("prev.json");
    fs_err::write(&prev, "{\"schema\": \"something-else/9\"}").unwrap();
    let (code, e) = run(&["--os-cloud", "prod", "--previous", prev.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(e.contains("prev.json"), "{e}");
    let (code, e) = run(&[
        "--os-cloud",
        "prod",
        "--api-data",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(e.contains("service-types.json"), "{e}");
    // Keystone not listening: one clear error, exit 2, the output still written.
    let (code, e) = run(&["--os-cloud", "prod", "--timeout", "2"]);
    assert_eq!(code, Some(2));
    assert!(
        e.contains("cannot connect") && e.contains("127.0.0.1:9"),
        "{e}"
    );
    // An auth URL that redirects: the password is not sent on.
    let redirector = Samples::start(vec![("/v3/auth/tokens", Reply::RedirectLoop)]);
    fs_err::write(
        &clouds,
        format!(
            "clouds:\n  prod:\n    auth:\n      auth_url: {}\n      username: u\n      password: p\n",
            redirector.url("/v3")
        ),
    )
    .unwrap();
    let (code, e) = run(&["--os-cloud", "prod", "--timeout", "2"]);
    assert_eq!(code, Some(2));
    assert!(
        e.contains("HTTP 302") && e.contains("credentials are not sent on"),
        "{e}"
    );
}

#[test]
fn discovery_schema_is_published_and_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/schema/discovery-v1.json");
    let want = serde_json::to_string_pretty(&nminus::discovery_schema()).unwrap() + "\n";
    if std::env::var_os("NMINUS_BLESS").is_some() {
        fs_err::write(&path, &want).unwrap();
    }
    let have = fs_err::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        have, want,
        "reports/schema/discovery-v1.json drifted from the types: NMINUS_BLESS=1 cargo test discovery_schema"
    );
}

/// A discovery's JSON against the published schema.
fn validate(d: &Value) {
    let schema = nminus::discovery_schema();
    let compiled = jsonschema::JSONSchema::compile(&schema).expect("schema compiles");
    let msgs: Vec<String> = match compiled.validate(d) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(10)
            .collect(),
    };
    assert!(
        msgs.is_empty(),
        "discovery does not match its schema: {msgs:#?}"
    );
}
