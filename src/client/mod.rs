//! The one HTTP client of the central analyzer's API, for the agent (enroll, push, heartbeat),
//! the planner's `--server` input (inventory pages) and `query` (nodes, findings, reports, the
//! control plane). Uses only model, version and util: the wire types live here ([`wire`]) and
//! `serve` answers with them.
//!
//! One builder for every caller ([`ClientOptions`]): a timeout over the whole request, the
//! answer included; a CA file that replaces the built-in roots (a server with a private CA);
//! a client certificate; no redirects (a token is never sent on to another URL). Every answer
//! is read with a bound on its size, so a hostile server (or anyone on the path of plain HTTP)
//! cannot grow the caller's memory. Errors are typed ([`ClientError`]) and name the URL and the
//! status; a 401 says where to give the right secret for the credential the caller sent.

mod error;
mod pages;
pub(crate) mod wire;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub(crate) use error::{ClientError, Credential};
pub use wire::{content_hash, hash_and_body};
pub(crate) use wire::{
    EnrollRequest, EnrollResponse, ErrorBody, Heartbeat, InventoryPage, Page, PushResponse,
    StoredInventory,
};

/// The largest answer to an enrollment or a push (they are a few hundred bytes), and to an
/// error.
pub(crate) const SMALL_REPLY: u64 = 1 << 20;
/// The largest page read (`/v1/inventories` pages hold about 32 MiB, or one larger inventory
/// alone, which the server's body limit bounds; findings and nodes pages far less).
pub(crate) const PAGE_REPLY: u64 = 256 << 20;
/// The largest whole answer read (`/v1/report.json`, a control-plane round).
pub(crate) const LARGE_REPLY: u64 = 1 << 30;

/// How the client talks TLS to the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TlsOptions {
    /// PEM CA certificates to trust for the server (instead of the built-in roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (for a server with `--tls-client-ca`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
}

impl TlsOptions {
    /// These settings, each one missing taken from `other`.
    #[must_use]
    pub(crate) fn or(self, other: &Self) -> Self {
        Self {
            ca_file: self.ca_file.or_else(|| other.ca_file.clone()),
            client_cert: self.client_cert.or_else(|| other.client_cert.clone()),
            client_key: self.client_key.or_else(|| other.client_key.clone()),
        }
    }
}

/// How to build a client.
#[derive(Debug, Clone)]
pub(crate) struct ClientOptions {
    /// Bounds a whole request, the answer's body included (connecting: at most 10 s of it).
    pub timeout: Duration,
    /// CA, client certificate.
    pub tls: TlsOptions,
    /// `User-Agent`.
    pub user_agent: &'static str,
}

impl ClientOptions {
    /// `timeout`, the built-in roots, `nminus/<version>`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            tls: TlsOptions::default(),
            user_agent: concat!("nminus/", env!("CARGO_PKG_VERSION")),
        }
    }

    /// With a CA file (PEM) in place of the built-in roots.
    #[must_use]
    pub(crate) fn ca_file(mut self, ca: Option<&Path>) -> Self {
        self.tls.ca_file = ca.map(Path::to_path_buf);
        self
    }
}

/// A client of one analyzer (its base URL) with one credential.
#[derive(Debug, Clone)]
pub(crate) struct ApiClient {
    base: String,
    http: reqwest::blocking::Client,
    token: Option<String>,
    credential: Credential,
}

/// What a push or a heartbeat got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// A new inventory, stored and judged.
    Stored(PushResponse),
    /// The server holds this inventory already.
    Unchanged(PushResponse),
    /// A heartbeat for an inventory the server does not hold (409): send the inventory.
    NeedInventory,
}

fn setup_error(file: &Path, e: &dyn std::fmt::Display) -> ClientError {
    ClientError::Setup {
        file: Some(file.to_path_buf()),
        message: e.to_string(),
    }
}

/// The HTTP client `opts` describe.
fn build(opts: &ClientOptions) -> Result<reqwest::blocking::Client, ClientError> {
    let mut b = reqwest::blocking::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(Duration::from_secs(10).min(opts.timeout))
        .user_agent(opts.user_agent)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &opts.tls.ca_file {
        let pem = fs_err::read(ca).map_err(|e| setup_error(ca, &e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| setup_error(ca, &e))?;
        if certs.is_empty() {
            return Err(setup_error(ca, &"holds no PEM certificate"));
        }
        // The given CA only: a server certificate from any public CA is not this server.
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    match (&opts.tls.client_cert, &opts.tls.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = fs_err::read(cert).map_err(|e| setup_error(cert, &e))?;
            pem.push(b'\n');
            pem.extend(fs_err::read(key).map_err(|e| setup_error(key, &e))?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| setup_error(cert, &e))?;
            b = b.identity(id);
        }
        (None, None) => {}
        _ => {
            return Err(ClientError::Setup {
                file: None,
                message: "--client-cert and --client-key go together".into(),
            })
        }
    }
    b.build().map_err(|e| ClientError::Setup {
        file: None,
        message: crate::util::error_chain(&e),
    })
}

/// A server's text for a terminal or a log: controls shown as `?`.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// At most `limit` bytes of `r` (after decompression); more is an error, not a truncation.
fn read_bounded(r: impl Read, limit: u64, url: &str) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| ClientError::Unreachable {
            url: url.to_owned(),
            message: format!("reading the answer: {}", crate::util::error_chain(&e)),
        })?;
    if out.len() as u64 > limit {
        return Err(ClientError::TooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    Ok(out)
}

/// The message of an error answer: the error body's `error` (and `field`), else its text.
fn refusal_message(status: reqwest::StatusCode, bytes: &[u8]) -> (String, Option<Box<ErrorBody>>) {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => {
            let m = match &b.field {
                Some(f) if !f.is_empty() => format!("{} (field `{f}`)", b.error),
                _ => b.error.clone(),
            };
            (printable(&m), Some(Box::new(b)))
        }
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            if text.trim().is_empty() {
                (status.canonical_reason().unwrap_or("").to_owned(), None)
            } else {
                (printable(&text.chars().take(500).collect::<String>()), None)
            }
        }
    }
}

impl ApiClient {
    /// A client of the analyzer at `base` (its base URL), sending `token` (when given) as the
    /// bearer; `credential` says what the token is.
    pub(crate) fn new(
        base: &str,
        token: Option<&str>,
        credential: Credential,
        opts: &ClientOptions,
    ) -> Result<Self, ClientError> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl {
                url: base.to_owned(),
            });
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http: build(opts)?,
            token: token.map(str::to_owned),
            credential,
        })
    }

    /// The server's base URL (without a trailing `/`).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(
        &self,
        rq: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(t) => rq.bearer_auth(t),
            None => rq,
        }
    }

    /// Send `rq` (to `url`) and read its answer: a success's body (at most `limit` bytes) as
    /// JSON, anything else as a typed error.
    fn call<T: DeserializeOwned>(
        &self,
        url: &str,
        rq: reqwest::blocking::RequestBuilder,
        limit: u64,
    ) -> Result<T, ClientError> {
        let resp = self
            .authorized(rq)
            .send()
            .map_err(|e| ClientError::Unreachable {
                url: url.to_owned(),
                message: crate::util::error_chain(&e),
            })?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = read_bounded(resp, SMALL_REPLY, url)?;
            let (message, body) = refusal_message(status, &bytes);
            return Err(if status == reqwest::StatusCode::UNAUTHORIZED {
                ClientError::Unauthorized {
                    url: url.to_owned(),
                    message,
                    credential: self.credential,
                }
            } else {
                ClientError::Status {
                    url: url.to_owned(),
                    status,
                    message,
                    body,
                }
            });
        }
        let bytes = read_bounded(resp, limit, url)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
            url: url.to_owned(),
            message: e.to_string(),
        })
    }

    /// `GET path?query` as JSON, at most `limit` bytes.
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        limit: u64,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        let rq = self.http.get(&url).query(query);
        self.call(&url, rq, limit)
    }

    /// `POST /v1/enroll` as node `node` (the client's token is the enrollment secret).
    pub(crate) fn enroll(&self, node: &str) -> Result<EnrollResponse, ClientError> {
        let url = self.url("/v1/enroll");
        let body = serde_json::to_vec(&EnrollRequest {
            node: node.to_owned(),
        })
        .map_err(|e| ClientError::Unexpected {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let rq = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.call(&url, rq, SMALL_REPLY)
    }

    /// `POST /v1/inventories` with a heartbeat: "my inventory is still the one of `hash`".
    pub(crate) fn heartbeat(&self, hash: &str) -> Result<Pushed, ClientError> {
        let url = self.url("/v1/inventories");
        let body = serde_json::to_vec(&Heartbeat {
            heartbeat: hash.to_owned(),
        })
        .map_err(|e| ClientError::Unexpected {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let rq = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        match self.call(&url, rq, SMALL_REPLY) {
            Ok(p) => Ok(pushed(p)),
            Err(e) if e.status() == Some(409) => Ok(Pushed::NeedInventory),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/inventories` with a gzipped inventory; with its `hash`, `If-None-Match` lets a
    /// server that holds it already answer without reading it.
    pub(crate) fn push_inventory(
        &self,
        gz: &[u8],
        hash: Option<&str>,
    ) -> Result<Pushed, ClientError> {
        let url = self.url("/v1/inventories");
        let mut rq = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip");
        if let Some(h) = hash {
            rq = rq.header(reqwest::header::IF_NONE_MATCH, format!("\"{h}\""));
        }
        self.call(&url, rq.body(gz.to_vec()), SMALL_REPLY)
            .map(pushed)
    }
}

fn pushed(p: PushResponse) -> Pushed {
    if p.status == "stored" {
        Pushed::Stored(p)
    } else {
        Pushed::Unchanged(p)
    }
}

#[cfg(test)]
mod tests;
