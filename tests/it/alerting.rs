//! The shipped OpenStack API rules: `promtool check rules` and `promtool test rules`, and the
//! alert path end to end: a real Keystone's endpoint probed by `nminus discover`, scraped by
//! Debian's Prometheus on loopback, the shipped rule (its `for:` shortened in a test copy)
//! firing, and Alertmanager delivering to a webhook receiver in the test.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::discover::{free_port, sample, tool, wait_for, Keystone, Kill, Samples};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/prometheus")
}

#[test]
fn shipped_openstack_rules_check_and_unit_tests_pass() {
    let dir = rules_dir();
    let out = Command::new(tool("promtool"))
        .args(["check", "rules", "openstack-api.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new(tool("promtool"))
        .args(["test", "rules", "openstack-api.test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(tool("amtool"))
        .args(["check-config", "alertmanager.example.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Records every POST body it receives (Alertmanager's webhook).
struct Webhook {
    port: u16,
    bodies: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Webhook {
    fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let bodies: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bodies.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                c.set_nonblocking(false).unwrap();
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len.min(1 << 20)];
                if std::io::Read::read_exact(&mut r, &mut body).is_ok() {
                    b.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                }
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self { port, bodies, stop }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// End to end: probes exported by `nminus discover --listen`, scraped by a real Prometheus with
/// the shipped rules, an endpoint goes down, the rule fires and a real Alertmanager delivers
/// it to a webhook receiver of the test. The only change to the shipped rules is the
/// `for:` of OpenStackEndpointDown (2m → 3s), so that the test does not wait two minutes.
#[test]
fn endpoint_down_alert_reaches_the_webhook_through_prometheus_and_alertmanager() {
    // Debian's binaries are a requirement of the suite (.ci/run installs them): their absence
    // fails the test, it never passes silently.
    let missing: Vec<&str> = ["prometheus", "prometheus-alertmanager"]
        .into_iter()
        .filter(|b| !Path::new("/usr/bin").join(b).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "/usr/bin/{} missing: install Debian's prometheus and prometheus-alertmanager",
        missing.join(", /usr/bin/")
    );
    let ks = Keystone::start();
    let nova = Samples::start(vec![
        ("/", sample("nova/versions-get-resp.json")),
        ("/v2.1", sample("nova/v21-version-get-resp.json")),
    ]);
    let compute = ks.service("compute", "nova");
    ks.endpoint(&compute, "public", "RegionOne", &nova.url("/v2.1"));
    let clouds = ks.clouds_yaml("secret");
    let probe_port = free_port();
    let _discover = Kill(
        ks.discover(&clouds)
            .args([
                "--interval",
                "60",
                "--probe-interval",
                "1",
                "--timeout",
                "2",
            ])
            .arg("--listen")
            .arg(format!("127.0.0.1:{probe_port}"))
            .arg("-o")
            .arg(ks.dir.path().join("d.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let hook = Webhook::start();
    let d = ks.dir.path();
    let shipped = fs_err::read_to_string(rules_dir().join("openstack-api.yml")).unwrap();
    let marker = "expr: nminus_openstack_endpoint_up == 0\n        for: 2m";
    assert!(
        shipped.contains(marker),
        "the shipped OpenStackEndpointDown rule changed: update this test"
    );
    fs_err::write(
        d.join("rules.yml"),
        shipped.replace(
            marker,
            "expr: nminus_openstack_endpoint_up == 0\n        for: 3s",
        ),
    )
    .unwrap();
    let (am_port, prom_port) = (free_port(), free_port());
    fs_err::write(
        d.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{}/alert\n",
            hook.port
        ),
    )
    .unwrap();
    fs_err::write(
        d.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\nalerting:\n  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]\nscrape_configs:\n  - job_name: nminus-openstack\n    static_configs: [{{targets: ['127.0.0.1:{probe_port}']}}]\n",
            d.join("rules.yml").display()
        ),
    )
    .unwrap();
    let log = |n: &str| fs_err::File::create(d.join(n)).unwrap().into_parts().0;
    let _am = Kill(
        Command::new(tool("prometheus-alertmanager"))
            .arg(format!(
                "--config.file={}",
                d.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", d.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log("alertmanager.log"))
            .spawn()
            .unwrap(),
    );
    let _prom = Kill(
        Command::new(tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                d.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                d.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(log("prometheus.log"))
            .spawn()
            .unwrap(),
    );
    let query = |q: &str| -> Value {
        reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{prom_port}/api/v1/query"))
            .query(&[("query", q)])
            .send()
            .and_then(|r| r.text())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    wait_for(
        "Prometheus scraping compute up = 1",
        Duration::from_secs(60),
        || {
            query("nminus_openstack_endpoint_up{service_type=\"compute\"} == 1")["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        },
    );
    assert!(
        hook.bodies.lock().unwrap().is_empty(),
        "an alert before the endpoint went down"
    );
    drop(nova);
    wait_for("the alert at the webhook", Duration::from_secs(90), || {
        hook.bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("OpenStackEndpointDown"))
    });
    let bodies = hook.bodies.lock().unwrap();
    let b = bodies
        .iter()
        .find(|b| b.contains("OpenStackEndpointDown"))
        .unwrap();
    let v: Value = serde_json::from_str(b).unwrap();
    let alert = &v["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["service_type"], "compute");
    assert_eq!(alert["labels"]["region"], "RegionOne");
    assert_eq!(alert["labels"]["severity"], "critical");
}
