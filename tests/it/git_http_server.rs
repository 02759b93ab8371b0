//! A loopback smart-HTTP git server for the tests and the `githttp` bench: each request is
//! handed to `git http-backend` (the CGI program git ships). Std only, so that a bench can
//! include it with `#[path]`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A loopback smart-HTTP git server: each request is handed to `git http-backend` (the CGI
/// program git ships) with `root` as its project root. Serves until the test ends; records
/// each request line and whether its body offered a `have`.
pub(crate) fn git_http_server(root: &Path) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut request = String::new();
            r.read_line(&mut request).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let header = |k: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let len: usize = header("content-length").parse().unwrap_or(0);
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let mut parts = request.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let target = parts.next().unwrap_or("").to_owned();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let has_have = String::from_utf8_lossy(&body).contains("have ");
            seen2
                .lock()
                .unwrap()
                .push(format!("{method} {target} have={has_have}"));
            let mut child = std::process::Command::new("git")
                .arg("http-backend")
                .env("GIT_PROJECT_ROOT", &root)
                .env("GIT_HTTP_EXPORT_ALL", "1")
                .env("REQUEST_METHOD", &method)
                .env("PATH_INFO", path)
                .env("QUERY_STRING", query)
                .env("CONTENT_TYPE", header("content-type"))
                .env("CONTENT_LENGTH", len.to_string())
                .env("REMOTE_ADDR", "127.0.0.1")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("`git http-backend` must be installed (Debian package `git`)");
            child.stdin.take().unwrap().write_all(&body).unwrap();
            let out = child.wait_with_output().unwrap();
            let split = out
                .stdout
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|i| (i, 4))
                .or_else(|| {
                    out.stdout
                        .windows(2)
                        .position(|w| w == b"\n\n")
                        .map(|i| (i, 2))
                })
                .unwrap_or((out.stdout.len(), 0));
            let cgi_head = String::from_utf8_lossy(&out.stdout[..split.0]).into_owned();
            let cgi_body = &out.stdout[(split.0 + split.1).min(out.stdout.len())..];
            let mut status = "200 OK".to_owned();
            let mut resp = String::new();
            for line in cgi_head.lines() {
                match line.split_once(':') {
                    Some((k, v)) if k.eq_ignore_ascii_case("status") => {
                        status = v.trim().to_owned();
                    }
                    Some(_) => {
                        resp.push_str(line.trim_end());
                        resp.push_str("\r\n");
                    }
                    None => {}
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\n{resp}Content-Length: {}\r\nConnection: close\r\n\r\n",
                cgi_body.len()
            );
            let _ = s.write_all(cgi_body);
        }
    });
    (base, seen)
}
