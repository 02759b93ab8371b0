//! What the HTTP load benchmarks share: the shared data, gzip, `nminus serve` as a child
//! process, an ephemeral PostgreSQL cluster.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "missing shared data {}: clone ../shared beside the repository",
        p.display()
    );
    p
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(db: &str, data: &Path, secret: &Path, cache: &Path) -> Self {
        Self::start_bin(
            Path::new(env!("CARGO_BIN_EXE_nminus")),
            db,
            data,
            secret,
            cache,
        )
    }

    /// [`Server::start`] with another build of `nminus` (a peer binary).
    pub fn start_bin(bin: &Path, db: &str, data: &Path, secret: &Path, cache: &Path) -> Self {
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--insecure-no-auth",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(data)
            .arg("--enroll-secret-file")
            .arg(secret)
            .env("NMINUS_CACHE", cache)
            .env("NMINUS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nminus serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                } else {
                    eprintln!("server: {line}");
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(300))
            .expect("nminus serve did not start");
        Self { child, url }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server has used so far (user and system, all threads), from
    /// `/proc/PID/stat` in Linux's clock ticks of 10 ms.
    pub fn cpu_secs(&self) -> f64 {
        let s =
            fs_err::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command's closing parenthesis: state is the first, utime
        // the 12th and stime the 13th.
        let f: Vec<&str> = s
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (ticks(11) + ticks(12)) as f64 / 100.0
    }

    pub fn peak_rss_kib(&self) -> u64 {
        let s =
            fs_err::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ephemeral PostgreSQL 15 cluster (as the integration tests start it), default durability.
pub struct Pg {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl Pg {
    pub fn start() -> Self {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "PostgreSQL 15 is not installed (apt-get install postgresql)"
        );
        let dir = tempfile::Builder::new()
            .prefix("nminus-pgb")
            .tempdir_in("/tmp")
            .unwrap();
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if as_postgres {
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            dir,
            port,
            as_postgres,
        };
        let data = pg.dir.path().join("data");
        pg.run(
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
        let opts = format!(
            "-k {} -p {} -c listen_addresses='' -c max_connections=200 -c shared_buffers=256MB",
            pg.dir.path().display(),
            pg.port
        );
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &pg.dir.path().join("log").to_string_lossy(),
                "-w",
                "start",
            ],
        );
        pg
    }

    fn run(&self, bin: &str, args: &[&str]) {
        let path = Path::new(PG_BIN).join(bin);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = c.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{bin} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost/postgres?host={}&port={}",
            self.dir.path().display(),
            self.port
        )
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").to_string_lossy().into_owned();
        let path = Path::new(PG_BIN).join("pg_ctl");
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = c
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
