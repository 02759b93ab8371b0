//! The store's behaviour, one suite run against SQLite (a temporary file) and against a real
//! PostgreSQL 15 (an ephemeral cluster in a temporary directory, started with Debian's binaries).
//! Neither is skipped: when PostgreSQL cannot start, the test fails and says why.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use nminus::model::{
    AgentInfo, Evidence, Finding, FindingCode, Inventory, Location, NodeInfo, OsRelease, Package,
    PackageMeta, Severity, Subject, WaiverRef,
};
use nminus::{FindingFilter, FleetEntry, Judged, Millis, NewInventory, Store, StoreError};

/// An ephemeral PostgreSQL cluster, listening only on a Unix socket in its directory; stopped
/// (immediately) when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    /// initdb + pg_ctl start; panics with the reason when it cannot.
    pub fn start() -> Self {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): install the `postgresql` package (scripts/test.sh does)"
        );
        {
            use std::os::unix::fs::FileTypeExt;
            let null = fs_err::metadata("/dev/null").map(|m| m.file_type().is_char_device());
            assert!(
                matches!(null, Ok(true)),
                "/dev/null is not the null device (something replaced it with a file: `rm /dev/null; mknod -m 666 /dev/null c 1 3`); initdb needs it"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("nminus-pg")
            .tempdir_in("/tmp")
            .expect("temporary directory");
        // initdb refuses to run as root: run the server binaries as `postgres` then.
        let as_postgres = is_root();
        if as_postgres {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                st.success(),
                "cannot chown {} to postgres",
                dir.path().display()
            );
        }
        let port = free_port();
        let c = Self {
            dir,
            port,
            as_postgres,
        };
        let data = c.data();
        c.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        c.start_server();
        c
    }

    /// `pg_ctl start` on the cluster's data directory.
    pub fn start_server(&self) {
        let opts = format!(
            "-k {} -p {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.dir.path().display(),
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &self.dir.path().join("log").to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// `pg_ctl stop` in `mode` (`fast`, or `immediate`: a crash, recovered at the next start).
    pub fn stop_server(&self, mode: &str) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                mode,
                "-w",
                "stop",
            ],
        );
    }

    /// The data directory.
    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Whether the server runs as the `postgres` user (the tests run as root).
    pub fn runs_as_postgres(&self) -> bool {
        self.as_postgres
    }

    /// Run `sql` in database `db` with psql; panics with psql's error when it fails.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-h"])
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
            ])
            .arg(sql)
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run(&self, bin: &str, args: &[&str]) {
        let path = Path::new(PG_BIN).join(bin);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        if !out.status.success() {
            let log = fs_err::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            panic!(
                "PostgreSQL could not start: `{bin} {}` failed: {}\n{}\n{}\nserver log:\n{log}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The URL of database `db` (created on first use by [`PgCluster::database`]).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@localhost/{db}?host={}&port={}",
            self.dir.path().display(),
            self.port
        )
    }

    /// Create a fresh database and return its URL.
    pub fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let path = Path::new(PG_BIN).join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args([
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}

/// A TCP port nobody listens on now (PostgreSQL only uses it to name its socket).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A temporary SQLite store URL (the directory lives as long as the returned guard).
pub fn sqlite_url() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", d.path().join("fleet.db").display());
    (d, url)
}

pub fn package(name: &str, version: &str) -> Package {
    Package {
        ecosystem: nminus::Ecosystem::Pypi,
        name: name.into(),
        version: version.into(),
        source: None,
        purl: format!("pkg:pypi/{name}@{version}"),
        found_by: "test".into(),
        location: Location::path("/usr/lib/python3/site-packages"),
        meta: PackageMeta::Python {
            display_name: name.into(),
            os_owner: None,
            environment: None,
        },
        extra: BTreeMap::new(),
    }
}

pub fn inventory(node: &str, site: &str, cell: &str, packages: Vec<Package>) -> Inventory {
    Inventory {
        schema_version: 1,
        node: NodeInfo {
            id: node.into(),
            hostname: Some(node.into()),
            site: Some(site.into()),
            cell: Some(cell.into()),
            labels: [("role".to_owned(), "compute".to_owned())].into(),
        },
        collected_at: "2026-01-01T00:00:00Z".into(),
        agent: AgentInfo::default(),
        root: "/".into(),
        os: Some(OsRelease {
            id: "debian".into(),
            version_id: Some("12".into()),
            source_file: "/etc/os-release".into(),
            ..OsRelease::default()
        }),
        packages,
        images: Vec::new(),
        services: Vec::new(),
        problems: Vec::new(),
    }
}

pub fn finding(node: &str, name: &str, version: &str, code: FindingCode, sev: Severity) -> Finding {
    let mut f = Finding {
        code,
        severity: sev,
        node: node.into(),
        subject: Subject {
            ecosystem: nminus::model::Ecosystem::Pypi.into(),
            name: name.into(),
            version: version.into(),
            purl: None,
            location: None,
        },
        advisory: None,
        fixed_in: Vec::new(),
        evidence: Evidence::default(),
        waived_by: None,
        fingerprint: String::new(),
    };
    f.fingerprint = f.compute_fingerprint();
    f
}

fn judged(findings: Vec<Finding>) -> Judged {
    let compliant = findings.iter().all(|f| f.severity < Severity::High);
    Judged {
        findings,
        compliant,
    }
}

pub async fn push(
    s: &dyn Store,
    inv: &Inventory,
    findings: Vec<Finding>,
    at: i64,
) -> Result<nminus::PushOutcome, StoreError> {
    let hash = nminus::content_hash(inv);
    let j = judged(findings);
    let body = serde_json::value::to_raw_value(inv).unwrap();
    s.push(NewInventory {
        node: &inv.node,
        inventory: inv,
        body: &body,
        hash: &hash,
        received_at: Millis(at),
        judged: &j,
        analysis_started: Millis(at),
        revision: "rev1",
    })
    .await
}

/// The behaviour every backend must have.
pub async fn behaviour(s: Arc<dyn Store>) {
    let s = s.as_ref();
    s.ping().await.unwrap();

    // Enrollment and tokens.
    s.enroll("n1", "hash-a", Millis(1_000)).await.unwrap();
    assert_eq!(
        s.authenticate("hash-a")
            .await
            .unwrap()
            .map(|o| o.node)
            .as_deref(),
        Some("n1")
    );
    s.enroll("n1", "hash-b", Millis(2_000)).await.unwrap();
    assert_eq!(
        s.authenticate("hash-a").await.unwrap(),
        None,
        "re-enrolling replaces the token"
    );
    assert_eq!(
        s.authenticate("hash-b")
            .await
            .unwrap()
            .map(|o| o.node)
            .as_deref(),
        Some("n1")
    );
    s.enroll("n2", "hash-c", Millis(2_000)).await.unwrap();
    s.enroll("n3", "hash-d", Millis(2_000)).await.unwrap();
    let n1 = s.node("n1").await.unwrap().unwrap();
    assert_eq!(
        (n1.last_seen, n1.current_hash.as_deref(), n1.revoked),
        (None, None, false)
    );

    // A push registers the node with site, cell, labels.
    let a = inventory(
        "n1",
        "par1",
        "c1",
        vec![package("nova", "29.0.0"), package("oslo_config", "9.0.0")],
    );
    let ha = nminus::content_hash(&a);
    let fa = vec![
        finding(
            "n1",
            "nova",
            "29.0.0",
            FindingCode::Vulnerable,
            Severity::High,
        ),
        finding(
            "n1",
            "oslo_config",
            "9.0.0",
            FindingCode::SeriesBehind,
            Severity::Medium,
        ),
    ];
    let o = push(s, &a, fa.clone(), 10_000).await.unwrap();
    assert!(o.changed);
    let n1 = s.node("n1").await.unwrap().unwrap();
    assert_eq!(n1.site.as_deref(), Some("par1"));
    assert_eq!(n1.cell.as_deref(), Some("c1"));
    assert_eq!(n1.labels.get("role").map(String::as_str), Some("compute"));
    assert_eq!(n1.registered_at, Some(Millis(10_000)));
    assert_eq!(n1.last_seen, Some(Millis(10_000)));
    assert_eq!(n1.current_hash.as_deref(), Some(ha.as_str()));
    assert_eq!((n1.open_findings, n1.compliant), (2, Some(false)));
    assert_eq!(
        s.inventory("n1", &ha)
            .await
            .unwrap()
            .unwrap()
            .packages
            .len(),
        2
    );

    // Heartbeats: only for the current hash.
    assert!(s.heartbeat("n1", &ha, Millis(20_000)).await.unwrap());
    assert!(!s.heartbeat("n1", "other", Millis(21_000)).await.unwrap());
    assert_eq!(
        s.node("n1").await.unwrap().unwrap().last_seen,
        Some(Millis(20_000))
    );
    let owner = s.authenticate("hash-b").await.unwrap().unwrap();
    assert_eq!(owner.current_hash.as_deref(), Some(ha.as_str()));
    assert!(
        !s.heartbeat("n2", &ha, Millis(21_000)).await.unwrap(),
        "n2 has no inventory"
    );

    // The same inventory again: deduplicated, no new history entry.
    let o = push(s, &a, fa.clone(), 30_000).await.unwrap();
    assert!(!o.changed);
    assert_eq!(s.history("n1").await.unwrap().len(), 1);

    // A changed inventory: history, history_at, current findings replaced.
    let b = inventory(
        "n1",
        "par1",
        "c1",
        vec![package("nova", "29.2.1"), package("oslo_config", "9.0.0")],
    );
    let hb = nminus::content_hash(&b);
    let fb = vec![finding(
        "n1",
        "oslo_config",
        "9.0.0",
        FindingCode::SeriesBehind,
        Severity::Medium,
    )];
    assert!(push(s, &b, fb, 40_000).await.unwrap().changed);
    let h = s.history("n1").await.unwrap();
    assert_eq!(
        h.iter().map(|e| e.hash.as_str()).collect::<Vec<_>>(),
        [hb.as_str(), ha.as_str()]
    );
    assert_eq!(h[0].collected_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(
        s.history_at("n1", Millis(35_000))
            .await
            .unwrap()
            .unwrap()
            .hash,
        ha
    );
    assert_eq!(
        s.history_at("n1", Millis(40_000))
            .await
            .unwrap()
            .unwrap()
            .hash,
        hb
    );
    assert!(s.history_at("n1", Millis(5_000)).await.unwrap().is_none());
    let n1 = s.node("n1").await.unwrap().unwrap();
    assert_eq!((n1.open_findings, n1.compliant), (1, Some(true)));

    // Other nodes, other sites; a waived finding.
    let c = inventory(
        "n2",
        "ams1",
        "c9",
        vec![package("nova", "29.0.0"), package("py_yaml", "6.0")],
    );
    let mut waived = finding(
        "n2",
        "py_yaml",
        "6.0",
        FindingCode::Vulnerable,
        Severity::Critical,
    );
    waived.waived_by = Some(WaiverRef {
        id: "w1".into(),
        reason: "r".into(),
        owner: "o".into(),
        expires: "2099-01-01".into(),
    });
    push(
        s,
        &c,
        vec![
            finding(
                "n2",
                "nova",
                "29.0.0",
                FindingCode::Vulnerable,
                Severity::High,
            ),
            waived,
        ],
        50_000,
    )
    .await
    .unwrap();

    // Findings and their filters (current run only).
    let all = s.findings(&FindingFilter::default()).await.unwrap();
    let key = |f: &Finding| format!("{}:{}:{}", f.node, f.subject.name, f.code);
    assert_eq!(
        all.iter().map(key).collect::<Vec<_>>(),
        ["n1:oslo_config:series-behind", "n2:nova:vulnerable"]
    );
    let q = |f: FindingFilter| async move {
        s.findings(&f)
            .await
            .unwrap()
            .iter()
            .map(key)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        q(FindingFilter {
            site: Some("ams1".into()),
            ..Default::default()
        })
        .await,
        ["n2:nova:vulnerable"]
    );
    assert_eq!(
        q(FindingFilter {
            cell: Some("c1".into()),
            ..Default::default()
        })
        .await,
        ["n1:oslo_config:series-behind"]
    );
    assert_eq!(
        q(FindingFilter {
            node: Some("n2".into()),
            ..Default::default()
        })
        .await,
        ["n2:nova:vulnerable"]
    );
    assert_eq!(
        q(FindingFilter {
            code: Some(FindingCode::SeriesBehind),
            ..Default::default()
        })
        .await,
        ["n1:oslo_config:series-behind"]
    );
    assert_eq!(
        q(FindingFilter {
            severity: Some(Severity::High),
            ..Default::default()
        })
        .await,
        ["n2:nova:vulnerable"]
    );
    assert_eq!(
        q(FindingFilter {
            package: Some("nova".into()),
            ..Default::default()
        })
        .await,
        ["n2:nova:vulnerable"]
    );
    assert_eq!(
        q(FindingFilter {
            waived: true,
            node: Some("n2".into()),
            ..Default::default()
        })
        .await,
        ["n2:nova:vulnerable", "n2:py_yaml:vulnerable"]
    );
    let counts = s.finding_counts().await.unwrap();
    assert_eq!(
        counts
            .iter()
            .map(|c| (
                c.site.as_str(),
                c.code.as_str(),
                c.severity.as_str(),
                c.count
            ))
            .collect::<Vec<_>>(),
        [
            ("ams1", "vulnerable", "high", 1),
            ("par1", "series-behind", "medium", 1)
        ]
    );

    // Package holders; `_` is not a wildcard.
    let w = s.package_holders("nova", None).await.unwrap();
    assert_eq!(
        w.iter()
            .map(|h| (h.node.as_str(), h.version.as_str()))
            .collect::<Vec<_>>(),
        [("n1", "29.2.1"), ("n2", "29.0.0")]
    );
    let w = s.package_holders("nova", Some("29.0.0")).await.unwrap();
    assert_eq!(
        w.iter().map(|h| h.node.as_str()).collect::<Vec<_>>(),
        ["n2"]
    );
    assert!(s
        .package_holders("oslo-config", None)
        .await
        .unwrap()
        .is_empty());
    assert!(s.package_holders("py_yam", None).await.unwrap().is_empty());
    assert!(s.package_holders("py%", None).await.unwrap().is_empty());
    assert_eq!(s.package_holders("py_yaml", None).await.unwrap().len(), 1);

    // Nothing partially stored: a push whose findings cannot be stored leaves no trace.
    let before = s.node("n3").await.unwrap().unwrap();
    let d = inventory("n3", "fra1", "c2", vec![package("nova", "30.0.0")]);
    let mut bad = finding(
        "n3",
        "nova",
        "30.0.0",
        FindingCode::Vulnerable,
        Severity::High,
    );
    bad.fingerprint = String::new();
    let good = finding(
        "n3",
        "nova",
        "30.0.0",
        FindingCode::SeriesBehind,
        Severity::Low,
    );
    assert!(push(s, &d, vec![good, bad], 60_000).await.is_err());
    assert_eq!(s.node("n3").await.unwrap().unwrap(), before);
    assert!(s.history("n3").await.unwrap().is_empty());
    let hd = nminus::content_hash(&d);
    assert!(s.inventory("n3", &hd).await.unwrap().is_none());
    assert!(s
        .findings(&FindingFilter {
            node: Some("n3".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());

    // Unknown and revoked nodes cannot push; a revoked node cannot enroll again.
    let x = inventory("nobody", "par1", "c1", vec![]);
    assert!(matches!(
        push(s, &x, vec![], 70_000).await,
        Err(StoreError::NotEnrolled(_))
    ));
    assert!(s.revoke("n3").await.unwrap());
    assert!(!s.revoke("nobody").await.unwrap());
    assert_eq!(s.authenticate("hash-d").await.unwrap(), None);
    assert!(matches!(
        s.enroll("n3", "hash-e", Millis(80_000)).await,
        Err(StoreError::Revoked(_))
    ));
    assert!(matches!(
        push(s, &d, vec![], 80_000).await,
        Err(StoreError::NotEnrolled(_))
    ));
    assert!(s.node("n3").await.unwrap().unwrap().revoked);

    // The fleet lock: one holder at a time.
    let l = s.try_lock_analysis().await.unwrap().expect("lock free");
    assert!(
        s.try_lock_analysis().await.unwrap().is_none(),
        "lock is exclusive"
    );
    l.release().await;
    let l = s.try_lock_analysis().await.unwrap().expect("lock released");
    l.release().await;

    // A fleet run: current inventories in pages; an entry for a node that moved on is skipped.
    let page = s.current_inventories("", 1).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.node.as_str()).collect::<Vec<_>>(),
        ["n1"]
    );
    let page = s.current_inventories("n1", 10).await.unwrap();
    assert_eq!(
        page.iter()
            .map(|c| (c.node.as_str(), c.inventory.packages.len()))
            .collect::<Vec<_>>(),
        [("n2", 2)]
    );
    let run = s.begin_run("fleet", Millis(90_000), "rev2").await.unwrap();
    let stored = s
        .record_run(
            run,
            &[
                FleetEntry {
                    node: "n1".into(),
                    hash: hb.clone(),
                    judged: judged(vec![finding(
                        "n1",
                        "nova",
                        "29.2.1",
                        FindingCode::PatchBehind,
                        Severity::Low,
                    )]),
                },
                FleetEntry {
                    node: "n2".into(),
                    hash: ha.clone(), // not n2's current inventory
                    judged: judged(vec![]),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(stored, 1);
    assert!(
        s.latest_run("fleet").await.unwrap().is_none(),
        "unfinished runs are not reported"
    );
    s.finish_run(run, Millis(95_000), 1, 1).await.unwrap();
    let r = s.latest_run("fleet").await.unwrap().unwrap();
    assert_eq!(
        (r.id, r.revision.as_str(), r.nodes, r.finished_at),
        (run, "rev2", 1, Some(Millis(95_000)))
    );
    assert_eq!(
        q(FindingFilter {
            node: Some("n1".into()),
            ..Default::default()
        })
        .await,
        ["n1:nova:patch-behind"]
    );
    assert_eq!(
        q(FindingFilter {
            node: Some("n2".into()),
            ..Default::default()
        })
        .await,
        ["n2:nova:vulnerable"]
    );
    assert_eq!(s.node("n1").await.unwrap().unwrap().findings_run, Some(run));

    // Pruning keeps current runs.
    s.prune(Millis(1_000_000)).await.unwrap();
    assert_eq!(
        s.findings(&FindingFilter {
            waived: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        3
    );

    let nodes = s.nodes().await.unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["n1", "n2", "n3"]
    );
    s.maintain(Millis(100_000)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_behaves() {
    let (_dir, url) = sqlite_url();
    behaviour(nminus::open_store(&url).await.unwrap()).await;
    // Reopening applies no migration twice and keeps the data.
    let s = nminus::open_store(&url).await.unwrap();
    assert_eq!(s.nodes().await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_behaves() {
    let pg = PgCluster::start();
    let url = pg.database("suite");
    behaviour(nminus::open_store(&url).await.unwrap()).await;
    let s = nminus::open_store(&url).await.unwrap();
    assert_eq!(s.nodes().await.unwrap().len(), 3);
    assert_eq!(s.backend(), "postgres");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fleet_lock_is_shared_between_replicas() {
    let pg = PgCluster::start();
    let url = pg.database("locks");
    let a = nminus::open_store(&url).await.unwrap();
    let b = nminus::open_store(&url).await.unwrap();
    let held = a.try_lock_analysis().await.unwrap().expect("free");
    assert!(
        b.try_lock_analysis().await.unwrap().is_none(),
        "another replica holds it"
    );
    drop(held); // dropping without release ends the session, which frees the lock
    let mut got = None;
    for _ in 0..50 {
        got = b.try_lock_analysis().await.unwrap();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    got.expect("the lock is free once its holder's session ended")
        .release()
        .await;
}

/// Rows in `packages` and `package_lists`.
async fn package_rows(url: &str) -> (i64, i64) {
    let q = "SELECT (SELECT COUNT(*) FROM packages), (SELECT COUNT(*) FROM package_lists)";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_as(q).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_as(q).fetch_one(&pool).await.unwrap()
    }
}

/// Packages and lists are stored once by content and shared between nodes and history
/// entries: a changed push adds its changed packages and one list; every inventory reads back
/// whole.
async fn lists_are_shared(s: Arc<dyn Store>, url: &str) {
    s.enroll("a", "ta", Millis(1)).await.unwrap();
    s.enroll("b", "tb", Millis(1)).await.unwrap();
    let pkgs: Vec<Package> = (0..40).map(|i| package(&format!("p{i}"), "1.0")).collect();
    let a = inventory("a", "s1", "c1", pkgs.clone());
    let b = inventory("b", "s1", "c1", pkgs.clone());
    push(&*s, &a, Vec::new(), 10).await.unwrap();
    push(&*s, &b, Vec::new(), 11).await.unwrap();
    assert_eq!(
        package_rows(url).await,
        (40, 1),
        "one list, shared by two nodes"
    );
    let mut changed = pkgs.clone();
    changed[7] = package("p7", "2.0");
    let b2 = inventory("b", "s1", "c1", changed);
    push(&*s, &b2, Vec::new(), 12).await.unwrap();
    assert_eq!(
        package_rows(url).await,
        (41, 2),
        "the changed push added one package"
    );
    // Back to the first list: a history entry referencing what is stored, nothing new.
    push(&*s, &b, Vec::new(), 13).await.unwrap();
    assert_eq!(package_rows(url).await, (41, 2));
    assert_eq!(s.history("b").await.unwrap().len(), 3);
    for inv in [&a, &b, &b2] {
        let hash = nminus::content_hash(inv);
        let back = s
            .inventory(&inv.node.id, &hash)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(inv).unwrap()
        );
    }
    let current = s.current_inventories("", 10).await.unwrap();
    assert_eq!(current.len(), 2);
    assert_eq!(current[1].inventory.packages[7].version, "1.0");
    let holders = s.package_holders("p7", None).await.unwrap();
    assert_eq!(holders.len(), 2, "{holders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_package_lists_are_shared() {
    let (_dir, url) = sqlite_url();
    lists_are_shared(nminus::open_store(&url).await.unwrap(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_package_lists_are_shared() {
    let pg = PgCluster::start();
    let url = pg.database("lists");
    lists_are_shared(nminus::open_store(&url).await.unwrap(), &url).await;
}

/// `last_seen` of `node`.
async fn last_seen(s: &dyn Store, node: &str) -> Option<Millis> {
    s.node(node).await.unwrap().unwrap().last_seen
}

/// A batch of heartbeats is written in few statements and answers, beat by beat, what one
/// statement per beat would have: recorded only with the node's current hash and token and
/// while it is not revoked, duplicates answered alike, `last_seen` the last recorded beat's.
async fn mixed_heartbeats(s: Arc<dyn Store>) {
    let s = s.as_ref();
    let mut hashes = Vec::new();
    for (node, token) in [("n1", "ta"), ("n2", "tb"), ("n3", "tc")] {
        s.enroll(node, token, Millis(1)).await.unwrap();
        let inv = inventory(node, "s1", "c1", vec![package(node, "1.0")]);
        push(s, &inv, Vec::new(), 10).await.unwrap();
        hashes.push(nminus::content_hash(&inv));
    }
    assert!(s.revoke("n3").await.unwrap());
    let (h1, h2, h3) = (hashes[0].as_str(), hashes[1].as_str(), hashes[2].as_str());
    let beat = |node, hash, token_hash, at| nminus::Beat {
        node,
        token_hash,
        hash,
        at: Millis(at),
    };
    let beats = [
        beat("n1", h1, "ta", 100),
        beat("n1", h1, "wrong", 101),
        beat("n3", h3, "tc", 102),
        beat("n2", h1, "tb", 103),
        beat("n1", h1, "ta", 104),
        beat("n2", h2, "tb", 105),
        beat("nobody", h1, "ta", 106),
        beat("n1", h1, "wrong", 107),
        beat("n2", h2, "tb", 108),
        beat("n2", h2, "ta", 109),
    ];
    assert_eq!(
        s.heartbeats(&beats).await.unwrap(),
        [true, false, false, false, true, true, false, false, true, false]
    );
    assert_eq!(last_seen(s, "n1").await, Some(Millis(104)));
    assert_eq!(last_seen(s, "n2").await, Some(Millis(108)));
    assert_eq!(last_seen(s, "n3").await, Some(Millis(10)), "revoked");
    assert!(s.heartbeats(&[]).await.unwrap().is_empty());
    // Three distinct beats make a statement of four rows, the last (a recorded one) repeated.
    let beats = [
        beat("n1", h1, "wrong", 150),
        beat("n1", h1, "ta", 151),
        beat("n2", h2, "tb", 152),
    ];
    assert_eq!(s.heartbeats(&beats).await.unwrap(), [false, true, true]);
    assert_eq!(last_seen(s, "n2").await, Some(Millis(152)));

    // More distinct beats than one statement takes: the answers stay in order.
    let wrong: Vec<String> = (0..1_300).map(|i| format!("other-{i}")).collect();
    let mut beats: Vec<nminus::Beat<'_>> = wrong
        .iter()
        .enumerate()
        .map(|(i, h)| beat(if i % 2 == 0 { "n1" } else { "n2" }, h, "ta", 200))
        .collect();
    beats.insert(0, beat("n2", h2, "tb", 300));
    beats.insert(700, beat("n1", h1, "ta", 301));
    beats.push(beat("n1", h1, "ta", 302));
    let got = s.heartbeats(&beats).await.unwrap();
    let want: Vec<usize> = vec![0, 700, beats.len() - 1];
    assert_eq!(
        got.iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| i)
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(last_seen(s, "n1").await, Some(Millis(302)));
    assert_eq!(last_seen(s, "n2").await, Some(Millis(300)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_heartbeat_batches_answer_beat_by_beat() {
    let (_dir, url) = sqlite_url();
    mixed_heartbeats(nminus::open_store(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_heartbeat_batches_answer_beat_by_beat() {
    let pg = PgCluster::start();
    let url = pg.database("beats");
    mixed_heartbeats(nminus::open_store(&url).await.unwrap()).await;
}
