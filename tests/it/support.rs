//! Shared helpers: the shared data directory, the binary, vector files, a tiny PRNG.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A path under `../shared/data`; panics with a clear message when the directory is missing
/// (tests never silently skip).
pub fn shared_data(rel: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        base.is_dir(),
        "shared data not found at {}: clone the repository with ../shared beside it",
        base.display()
    );
    let p = base.join(rel);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// The `nminus` binary under test.
pub fn nminus() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nminus"))
}

/// Run a command with `stdin` and return its output; panics if it cannot start.
pub fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        input.write_all(&data).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// One line of a comparison vector file: `a OP b`.
#[derive(Debug, Clone)]
pub struct Vector {
    pub file: String,
    pub line: usize,
    pub a: String,
    pub op: String,
    pub b: String,
}

/// Read `a OP b` lines (OP in `<`, `=`, `==`, `>`), skipping blanks and `#` / `//` comments.
pub fn read_vectors(rel: &str) -> Vec<Vector> {
    let path = shared_data(rel);
    let text = fs_err::read_to_string(&path).unwrap();
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        let parts: Vec<&str> = t.split_whitespace().collect();
        assert_eq!(
            parts.len(),
            3,
            "{rel}:{}: expected `a OP b`, found `{t}`",
            i + 1
        );
        let op = match parts[1] {
            "==" => "=",
            o => o,
        };
        assert!(
            matches!(op, "<" | "=" | ">"),
            "{rel}:{}: bad operator {op}",
            i + 1
        );
        v.push(Vector {
            file: rel.to_owned(),
            line: i + 1,
            a: parts[0].to_owned(),
            op: op.to_owned(),
            b: parts[2].to_owned(),
        });
    }
    v
}

/// A small deterministic PRNG (xorshift64*), so generated pairs are reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Run `nminus version cmp --scheme S --batch` over pairs.
pub fn nminus_batch(scheme: &str, pairs: &[(String, String)]) -> Vec<String> {
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let mut cmd = nminus();
    cmd.args(["version", "cmp", "--scheme", scheme, "--batch"]);
    let out = run_with_stdin(cmd, input.as_bytes());
    assert!(
        out.status.success(),
        "batch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines.len(),
        pairs.len(),
        "batch must write exactly one line per pair"
    );
    lines
}
