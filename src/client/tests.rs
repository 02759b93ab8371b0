//! The client's pieces, over real HTTP on loopback: a small server thread answers each request
//! with the next of a list of canned answers and records what it was asked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// A loopback server answering the `answers` in turn (`(status line, body)`), one request per
/// connection; the requests' first lines and headers are kept.
struct Scripted {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn start(answers: Vec<(&'static str, String)>) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}",
            l.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((s, _)) = l.accept() else { return };
                let mut r = BufReader::new(s);
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut b = vec![0; len];
                let _ = r.read_exact(&mut b);
                seen2.lock().unwrap_or_else(|e| e.into_inner()).push(head);
                let mut s = r.into_inner();
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn client(url: &str, token: Option<&str>, credential: Credential) -> ApiClient {
    ApiClient::new(
        url,
        token,
        credential,
        &ClientOptions::new(Duration::from_secs(30)),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn error_body(error: &str, code: &str) -> String {
    serde_json::json!({"error": error, "code": code}).to_string()
}

#[test]
fn a_401_names_the_secret_of_its_caller_and_the_url() {
    for (credential, names) in [
        (Credential::ApiToken, &["--token", "NMINUS_API_TOKEN"][..]),
        (
            Credential::EnrollSecret,
            &["--token", "NMINUS_ENROLL_TOKEN", "NMINUS_API_TOKEN"][..],
        ),
        (
            Credential::NodeToken,
            &["enroll again", "NMINUS_API_TOKEN"][..],
        ),
    ] {
        let srv = Scripted::start(vec![(
            "401 Unauthorized",
            error_body("a token is required", "unauthorized"),
        )]);
        let e = client(&srv.url, None, credential)
            .findings(&[])
            .err()
            .unwrap_or_else(|| panic!("a 401 is an error"));
        assert!(matches!(e, ClientError::Unauthorized { .. }), "{e:?}");
        assert_eq!(e.status(), Some(401));
        assert!(!e.is_transient());
        let text = e.to_string();
        assert!(text.contains(&format!("{}/v1/findings", srv.url)), "{text}");
        assert!(text.contains("a token is required"), "{text}");
        for n in names {
            assert!(text.contains(n), "{credential:?}: `{n}` in {text}");
        }
    }
}

#[test]
fn pages_are_followed_with_the_token_until_the_last() {
    let srv = Scripted::start(vec![
        (
            "200 OK",
            serde_json::json!({"items": [{"id": "a"}, {"id": "b"}], "next": "b"}).to_string(),
        ),
        (
            "200 OK",
            serde_json::json!({"items": [{"id": "c"}]}).to_string(),
        ),
    ]);
    let c = client(&srv.url, Some("t0ken"), Credential::ApiToken);
    let got: Vec<serde_json::Value> = c
        .nodes(&[("site", "par1".to_owned())])
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = got.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let seen = srv.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("GET /v1/nodes?site=par1&limit=1000 "),
        "{seen:?}"
    );
    assert!(seen[1].contains("cursor=b"), "{seen:?}");
    assert!(
        seen.iter().all(|h| h
            .to_ascii_lowercase()
            .contains("authorization: bearer t0ken")),
        "{seen:?}"
    );
}

#[test]
fn the_same_page_twice_is_an_error_not_a_loop() {
    let page = serde_json::json!({"items": [], "next": "x"}).to_string();
    let srv = Scripted::start(vec![("200 OK", page.clone()), ("200 OK", page)]);
    let e = client(&srv.url, None, Credential::ApiToken)
        .findings(&[])
        .err()
        .unwrap_or_else(|| panic!("a repeated page is an error"));
    assert!(e.to_string().contains("the same page twice"), "{e}");
}

#[test]
fn inventory_entries_are_read_one_by_one() {
    let inv = serde_json::json!({
        "schema_version": 1, "node": {"id": "n1"}, "collected_at": "2026-01-01T00:00:00Z",
        "agent": {"name": "nminus", "version": "0"}, "root": "/", "packages": []
    });
    let page = serde_json::json!({"inventories": [
        {"node": "n1", "hash": "0123456789abcdef", "received_at": "2026-01-01T00:00:01Z", "inventory": inv},
        {"node": "n2", "hash": "fedcba9876543210", "received_at": "2026-01-01T00:00:01Z", "inventory": {"packages": 3}},
    ]});
    let srv = Scripted::start(vec![("200 OK", page.to_string())]);
    let got = client(&srv.url, None, Credential::ApiToken)
        .inventories("2026-01-02", true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.entries.len(), 2);
    let (at, first) = &got.entries[0];
    assert!(at.ends_with("/v1/inventories (n1#0123456789ab)"), "{at}");
    assert_eq!(
        first.as_ref().map(|s| s.inventory.node.id.as_str()),
        Ok("n1")
    );
    let (at, second) = &got.entries[1];
    assert!(at.contains("(n2#fedcba987654)"), "{at}");
    let why = second.as_ref().err().cloned().unwrap_or_default();
    assert!(why.starts_with("not an nminus inventory"), "{why}");
    assert!(
        srv.seen()[0].contains("until=2026-01-02&latest=true"),
        "{:?}",
        srv.seen()
    );
}

#[test]
fn refusals_are_typed_and_retries_only_for_what_may_pass() {
    let srv = Scripted::start(vec![
        (
            "413 Payload Too Large",
            serde_json::json!({"error": "too large", "code": "too-large", "limit": 4096})
                .to_string(),
        ),
        ("503 Service Unavailable", error_body("not ready", "not-ready")),
        ("429 Too Many Requests", String::new()),
        (
            "422 Unprocessable Entity",
            serde_json::json!({"error": "bad version", "code": "invalid-inventory", "field": "packages[3].version"})
                .to_string(),
        ),
        ("409 Conflict", error_body("send it", "inventory-required")),
    ]);
    let c = client(&srv.url, Some("node"), Credential::NodeToken);
    let e = c
        .push_inventory(b"x", None)
        .err()
        .unwrap_or_else(|| panic!("413"));
    assert_eq!((e.body_limit(), e.is_transient()), (Some(4096), false));
    let e = c
        .push_inventory(b"x", None)
        .err()
        .unwrap_or_else(|| panic!("503"));
    assert!(
        e.is_transient() && e.to_string().contains("not ready"),
        "{e}"
    );
    let e = c.heartbeat("h").err().unwrap_or_else(|| panic!("429"));
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("Too Many Requests"), "{e}");
    let e = c
        .push_inventory(b"x", Some("h"))
        .err()
        .unwrap_or_else(|| panic!("422"));
    assert!(!e.is_transient());
    assert!(
        e.to_string()
            .contains("bad version (field `packages[3].version`)"),
        "{e}"
    );
    assert_eq!(c.heartbeat("h").ok(), Some(Pushed::NeedInventory));
    let seen = srv.seen();
    assert!(
        seen[3]
            .to_ascii_lowercase()
            .contains("if-none-match: \"h\""),
        "{seen:?}"
    );
    assert!(
        seen[0]
            .to_ascii_lowercase()
            .contains("content-encoding: gzip"),
        "{seen:?}"
    );
}

#[test]
fn an_answer_over_its_bound_is_not_read() {
    let big = format!(
        "\"{}\"",
        "A".repeat(usize::try_from(SMALL_REPLY).unwrap_or(0))
    );
    let srv = Scripted::start(vec![("201 Created", big.clone()), ("400 Bad Request", big)]);
    let c = client(&srv.url, Some("s"), Credential::EnrollSecret);
    for _ in 0..2 {
        let e = c.enroll("n1").err().unwrap_or_else(|| panic!("too large"));
        assert!(matches!(e, ClientError::TooLarge { .. }), "{e:?}");
        assert!(e.to_string().contains("larger than 1024 KiB"), "{e}");
    }
}

#[test]
fn a_server_text_reaches_the_terminal_without_controls() {
    let (m, body) = refusal_message(
        reqwest::StatusCode::BAD_REQUEST,
        b"{\"error\":\"bad\\u001b[31m red\",\"code\":\"x\"}",
    );
    assert_eq!(m, "bad?[31m red");
    assert!(body.is_some());
    let (m, body) = refusal_message(reqwest::StatusCode::BAD_GATEWAY, b"  ");
    assert_eq!((m.as_str(), body), ("Bad Gateway", None));
    let (m, _) = refusal_message(reqwest::StatusCode::BAD_GATEWAY, b"<html>\n</html>");
    assert_eq!(m, "<html>?</html>");
}

#[test]
fn the_builder_refuses_what_cannot_work_and_names_the_file() {
    let opts = ClientOptions::new(Duration::from_secs(1));
    let e = ApiClient::new("nminus:8080", None, Credential::ApiToken, &opts)
        .err()
        .unwrap_or_else(|| panic!("not a URL"));
    assert!(e.to_string().contains("https://nminus:8080"), "{e}");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let not_pem = dir.path().join("ca.pem");
    fs_err::write(&not_pem, "not a certificate\n").unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("missing.pem");
    for (ca, why) in [(&not_pem, "no PEM certificate"), (&missing, "missing.pem")] {
        let e = ApiClient::new(
            "https://nminus:8443",
            None,
            Credential::ApiToken,
            &opts.clone().ca_file(Some(ca.as_path())),
        )
        .err()
        .unwrap_or_else(|| panic!("{} is no CA", ca.display()));
        let text = e.to_string();
        assert!(text.contains(&ca.display().to_string()), "{text}");
        assert!(text.contains(why), "{text}");
    }
    let mut half = opts;
    half.tls.client_cert = Some(not_pem);
    let e = ApiClient::new("https://nminus:8443", None, Credential::NodeToken, &half)
        .err()
        .unwrap_or_else(|| panic!("a certificate without its key"));
    assert!(e.to_string().contains("go together"), "{e}");
}

#[test]
fn tls_options_fill_the_missing_ones_from_the_enrollment() {
    let enrolled = TlsOptions {
        ca_file: Some("/etc/nminus/ca.pem".into()),
        client_cert: Some("/etc/nminus/cert.pem".into()),
        client_key: Some("/etc/nminus/key.pem".into()),
    };
    let given = TlsOptions {
        ca_file: Some("/tmp/other-ca.pem".into()),
        ..TlsOptions::default()
    };
    let t = given.or(&enrolled);
    assert_eq!(t.ca_file, Some("/tmp/other-ca.pem".into()));
    assert_eq!(t.client_cert, enrolled.client_cert);
    assert_eq!(t.client_key, enrolled.client_key);
}
