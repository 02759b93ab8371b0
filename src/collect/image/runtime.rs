//! Container runtimes: the Docker Engine API and Podman's Docker-compatible API, over their unix
//! sockets (`/var/run/docker.sock`, `/run/podman/podman.sock`), with a small blocking HTTP/1.1
//! client (GET only; `Content-Length`, chunked or close-delimited bodies).
//!
//! `GET /containers/json` lists the containers (running ones, or all), `GET /images/json` gives
//! each image's tags and registry digests, and `GET /images/{id}/get` exports each distinct
//! image once as a `docker save` stream, which is read by the same single-pass reader as an
//! archive file, never stored.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::Value;

use super::{collect_loaded, load_reader, CollectedImage, ImageError, ImageOptions};

/// API version requested (Docker 20.10+, Podman 3+).
const API: &str = "/v1.41";

/// Largest JSON answer accepted.
const MAX_JSON: u64 = 64 << 20;

/// Image id → (repository tags, registry digests).
pub(crate) type ImageNames = BTreeMap<String, (Vec<String>, Vec<String>)>;

/// A container as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Full id.
    pub id: String,
    /// Name (without the leading `/`).
    pub name: String,
    /// Image as the container was created from (`kolla/nova-api:2024.1-ubuntu-jammy`).
    pub image: String,
    /// Image id (`sha256:…`).
    pub image_id: String,
    /// `running`, `exited`, `created` …
    pub state: String,
}

/// An HTTP response whose body is read as a stream.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    body: Body,
}

enum Body {
    Length(io::Take<BufReader<UnixStream>>),
    Chunked(Chunked),
    Close(BufReader<UnixStream>),
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Body::Length(r) => r.read(buf),
            Body::Chunked(r) => r.read(buf),
            Body::Close(r) => r.read(buf),
        }
    }
}

/// `Transfer-Encoding: chunked`.
struct Chunked {
    inner: BufReader<UnixStream>,
    left: u64,
    done: bool,
}

fn line(r: &mut impl BufRead) -> io::Result<String> {
    let mut v = Vec::new();
    r.take(8192).read_until(b'\n', &mut v)?;
    if !v.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "HTTP line too long or connection closed",
        ));
    }
    Ok(String::from_utf8_lossy(&v).trim_end().to_owned())
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let l = line(&mut self.inner)?;
            let size = l.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size line `{l}`"),
                )
            })?;
            if self.left == 0 {
                // Trailers up to the empty line.
                while !line(&mut self.inner)?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 {
            let end = line(&mut self.inner)?;
            if !end.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk not followed by CRLF",
                ));
            }
        }
        Ok(n)
    }
}

/// A client for one API socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: String,
    /// Read timeout per read.
    pub timeout: Duration,
}

fn pct(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            o.push(char::from(b));
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

impl Client {
    /// A client for the API at `socket`.
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            timeout: Duration::from_secs(300),
        }
    }

    fn err(&self, m: impl Into<String>) -> ImageError {
        ImageError::Runtime {
            socket: self.socket.clone(),
            message: m.into(),
        }
    }

    /// `GET path`, the body left to read.
    pub fn get(&self, path: &str) -> Result<Response, ImageError> {
        let stream =
            UnixStream::connect(&self.socket).map_err(|e| self.err(format!("connect: {e}")))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(|e| self.err(e.to_string()))?;
        let mut w = &stream;
        write!(
            w,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nminus/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )
        .map_err(|e| self.err(format!("GET {path}: {e}")))?;
        let mut r = BufReader::with_capacity(256 * 1024, stream);
        let bad = |e: io::Error| self.err(format!("GET {path}: {e}"));
        let status_line = line(&mut r).map_err(bad)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.err(format!("GET {path}: bad status line `{status_line}`")))?;
        let mut headers = BTreeMap::new();
        for _ in 0..200 {
            let h = line(&mut r).map_err(bad)?;
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let chunked = headers
            .get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            Body::Chunked(Chunked {
                inner: r,
                left: 0,
                done: false,
            })
        } else if let Some(len) = headers.get("content-length").and_then(|v| v.parse().ok()) {
            Body::Length(r.take(len))
        } else {
            Body::Close(r)
        };
        let mut resp = Response {
            status,
            headers,
            body,
        };
        if !(200..300).contains(&status) {
            let mut msg = Vec::new();
            let _ = (&mut resp).take(64 * 1024).read_to_end(&mut msg);
            let text = String::from_utf8_lossy(&msg);
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| text.trim().to_owned());
            return Err(self.err(format!("GET {path}: HTTP {status}: {detail}")));
        }
        Ok(resp)
    }

    fn get_json(&self, path: &str) -> Result<Value, ImageError> {
        let resp = self.get(path)?;
        let mut v = Vec::new();
        resp.take(MAX_JSON + 1)
            .read_to_end(&mut v)
            .map_err(|e| self.err(format!("GET {path}: {e}")))?;
        if v.len() as u64 > MAX_JSON {
            return Err(self.err(format!("GET {path}: answer larger than {MAX_JSON} bytes")));
        }
        serde_json::from_slice(&v).map_err(|e| self.err(format!("GET {path}: not JSON: {e}")))
    }

    /// The containers: running ones, or all with `all`.
    pub fn containers(&self, all: bool) -> Result<Vec<Container>, ImageError> {
        let v = self.get_json(&format!("{API}/containers/json?all={all}"))?;
        let s = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(|c| Container {
                id: s(c, "Id"),
                name: c
                    .get("Names")
                    .and_then(Value::as_array)
                    .and_then(|n| n.first())
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_owned(),
                image: s(c, "Image"),
                image_id: s(c, "ImageID"),
                state: s(c, "State"),
            })
            .collect())
    }

    /// Tags and registry digests of every image, by image id.
    pub fn image_names(&self) -> Result<ImageNames, ImageError> {
        let v = self.get_json(&format!("{API}/images/json"))?;
        let list = |i: &Value, k: &str| -> Vec<String> {
            i.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .filter(|t| t != "<none>:<none>" && t != "<none>@<none>")
                .collect()
        };
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let id = i.get("Id").and_then(Value::as_str)?.to_owned();
                Some((id, (list(i, "RepoTags"), list(i, "RepoDigests"))))
            })
            .collect())
    }

    /// Export an image (`docker save`) as a stream.
    pub fn export(&self, image: &str) -> Result<Response, ImageError> {
        self.get(&format!("{API}/images/{}/get", pct(image)))
    }
}

fn with_prefix(id: &str) -> String {
    if id.contains(':') {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

/// Collect the images of the containers a runtime runs (all containers with `all`): each image
/// once, its [`crate::model::ImageRef::containers`] naming the containers.
pub fn collect_runtime(
    socket: &str,
    all: bool,
    opts: &ImageOptions,
) -> Result<Vec<CollectedImage>, ImageError> {
    let client = Client::new(socket);
    let containers = client.containers(all)?;
    let names = client.image_names().unwrap_or_default();
    let mut by_image: BTreeMap<String, Vec<&Container>> = BTreeMap::new();
    for c in &containers {
        let key = if c.image_id.is_empty() {
            c.image.clone()
        } else {
            with_prefix(&c.image_id)
        };
        by_image.entry(key).or_default().push(c);
    }
    let source = format!("docker:{socket}");
    let mut out = Vec::new();
    for (image_id, cs) in by_image {
        let resp = match client.export(&image_id) {
            Ok(r) => r,
            Err(e) => {
                out.push(failed(&image_id, &cs, &e));
                continue;
            }
        };
        let loaded = match load_reader(resp, &source, &opts.limits) {
            Ok(i) => i,
            Err(e) => {
                out.push(failed(&image_id, &cs, &e));
                continue;
            }
        };
        let (tags, digests) = names
            .iter()
            .find(|(id, _)| with_prefix(id) == image_id)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        for mut img in loaded {
            if img.tags.is_empty() {
                let mut t = tags.clone();
                if t.is_empty() {
                    t = cs
                        .iter()
                        .map(|c| c.image.clone())
                        .filter(|i| !i.is_empty() && !i.starts_with("sha256:"))
                        .take(1)
                        .collect();
                }
                img.set_tags(t);
            }
            if img.digest.is_none() {
                img.digest = digests
                    .first()
                    .and_then(|d| d.split_once('@'))
                    .map(|(_, d)| d.to_owned());
            }
            let mut ci = collect_loaded(&img);
            ci.image.source = Some(source.clone());
            ci.image.containers = cs.iter().map(|c| c.name.clone()).collect();
            out.push(ci);
        }
    }
    Ok(out)
}

fn failed(image_id: &str, cs: &[&Container], e: &ImageError) -> CollectedImage {
    let mut ci = CollectedImage::default();
    ci.image.id = Some(image_id.to_owned());
    ci.image.reference = image_id.to_owned();
    ci.image.tags = cs
        .iter()
        .map(|c| c.image.clone())
        .filter(|i| !i.is_empty() && !i.starts_with("sha256:"))
        .take(1)
        .collect();
    ci.image.containers = cs.iter().map(|c| c.name.clone()).collect();
    ci.problems.push(super::error_problem(image_id, e));
    ci
}
