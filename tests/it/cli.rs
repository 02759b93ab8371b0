//! The command line as operators use it: exit codes, messages, batch mode, docs.

use crate::support::{nminus, run_with_stdin};

#[test]
fn cmp_prints_symbol_and_exits_zero() {
    let out = nminus()
        .args([
            "version",
            "cmp",
            "--scheme",
            "deb",
            "2:26.2.2-1~deb12u5",
            "2:26.2.2-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "<\n");
}

#[test]
fn cmp_invalid_exits_two_with_reason() {
    let out = nminus()
        .args(["version", "cmp", "--scheme", "semver", "v1.0", "1.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("v1.0") && err.contains("expected"), "{err}");
}

#[test]
fn unknown_scheme_is_a_usage_error() {
    let out = nminus()
        .args(["version", "cmp", "--scheme", "maven", "1", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown version scheme `maven`"));
}

#[test]
fn batch_one_line_per_pair_no_trimming() {
    let mut cmd = nminus();
    cmd.args(["version", "cmp", "--scheme", "pep440", "--batch"]);
    let out = run_with_stdin(
        cmd,
        b"1.0\t1.0.0\n31.0.1.dev12\t31.0.1\nno-tab\n1.0 \t1.0\n\t\n2\t1\n",
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0], "=");
    assert_eq!(lines[1], "<");
    assert!(
        lines[2].starts_with("! expected two versions separated by a tab"),
        "{}",
        lines[2]
    );
    assert_eq!(&lines[4][..2], "! ");
    assert_eq!(lines[5], ">");
}

#[test]
fn parse_prints_json_components() {
    let out = nminus()
        .args(["version", "parse", "--scheme", "deb", "1:2.3~rc1-4"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scheme"], "deb");
    assert_eq!(v["components"]["epoch"], 1);
    assert_eq!(v["components"]["upstream"], "2.3~rc1");
    assert_eq!(v["components"]["revision"], "4");
}

#[test]
fn completions_and_man_pages_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = nminus().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("collect"),
            "{shell}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = nminus()
        .args(["man", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = fs_err::read_to_string(dir.path().join("nminus-collect.1")).unwrap();
    assert!(
        page.contains(".TH") && page.contains("\\-\\-root"),
        "{page}"
    );
    assert!(dir.path().join("nminus-version-cmp.1").exists());
    // man(1) renders it (scripts/test.sh installs man-db).
    let out = std::process::Command::new("man")
        .arg("-l")
        .arg(dir.path().join("nminus.1"))
        .env("MANWIDTH", "80")
        .output()
        .expect("man is required: apt-get install man-db");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nminus"));
}

#[test]
fn help_teaches_exit_codes() {
    let out = nminus().arg("--help").output().unwrap();
    let h = String::from_utf8_lossy(&out.stdout);
    assert!(h.contains("Exit codes:") && h.contains("Examples:"), "{h}");
}

/// Run `nminus args` with its stdout a real pipe whose reading end is closed before the process
/// starts: every write fails with `EPIPE`, deterministically.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    let out = nminus()
        .args(args)
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    out
}

#[test]
fn a_closed_pipe_ends_completions_quietly() {
    for shell in ["zsh", "bash"] {
        let out = run_into_closed_pipe(&["completions", shell]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.is_empty(), "{shell}: {err}");
        assert_eq!(out.status.code(), Some(0), "{shell}: {err}");
    }
}

#[test]
fn a_closed_pipe_ends_println_output_quietly() {
    // `version cmp` prints with `println!`, which panics on a write error; the panic is turned
    // into a quiet end, other panics are not touched.
    let out = run_into_closed_pipe(&["version", "cmp", "--scheme", "deb", "1.0", "2.0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

fn files_under(dir: &std::path::Path) -> usize {
    fs_err::read_dir(dir).map_or(0, |rd| {
        rd.map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p)
            } else {
                1
            }
        })
        .sum()
    })
}

#[test]
fn serve_keeps_its_feed_cache_in_cache_dir() {
    use crate::serve::{Env, Server};
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let chosen = env.path("chosen-cache");
    let from_env = env.cache();
    fs_err::create_dir_all(&from_env).unwrap();
    let chosen_arg = chosen.display().to_string();
    let srv = Server::start(
        &db,
        &crate::support::shared_data(""),
        &env.secret(),
        &["--feed", "rustsec", "--cache-dir", &chosen_arg],
        &from_env,
    );
    // The analyzer is loaded before the server listens: its cache is written by now.
    assert!(
        files_under(&chosen) > 0,
        "nothing cached in --cache-dir:\n{}",
        srv.log()
    );
    assert_eq!(files_under(&from_env), 0, "NMINUS_CACHE used instead");
}
