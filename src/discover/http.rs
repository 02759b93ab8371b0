//! Bounded HTTP: one client with connect and total timeouts, a redirect limit, a body-size
//! limit read chunk by chunk, and errors sorted into kinds an operator can act on.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Limits of every request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Body bytes read at most.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_redirects: 5,
            max_body: 1 << 20,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FailKind {
    /// Connection refused, DNS, reset.
    Connect,
    /// TLS handshake or certificate.
    Tls,
    /// No answer in time.
    Timeout,
    /// More redirects than allowed (or a loop).
    Redirects,
    /// The body is larger than allowed.
    TooLarge,
    /// An HTTP error status.
    HttpStatus,
    /// The body is not what was expected.
    Garbage,
    /// Keystone refused the credentials.
    Unauthorized,
    /// Anything else.
    Other,
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Failure {
    /// Kind.
    pub kind: FailKind,
    /// Message naming the URL and the cause.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A response read within the limits.
#[derive(Debug)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers wanted later (`x-subject-token`).
    pub subject_token: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// Time to the whole body.
    pub elapsed: Duration,
}

/// Build the client: rustls with the system's roots, or `cacert`'s (PEM) in addition.
pub(crate) fn client(
    limits: Limits,
    cacert: Option<&Path>,
    insecure: bool,
) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .redirect(if limits.max_redirects == 0 {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(limits.max_redirects)
        })
        .user_agent(concat!("nminus/", env!("CARGO_PKG_VERSION"), " discover"))
        .https_only(false);
    if let Some(p) = cacert {
        let pem = fs_err::read(p).map_err(|e| anyhow::anyhow!("cacert {}: {e}", p.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            anyhow::anyhow!("cacert {}: not a PEM certificate bundle: {e}", p.display())
        })?;
        if certs.is_empty() {
            anyhow::bail!("cacert {}: no certificate in the file", p.display());
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    Ok(b.build()?)
}

fn classify(url: &str, e: &reqwest::Error) -> Failure {
    // The whole chain: rustls' certificate errors sit a few sources down.
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !chain.contains(&t) {
            chain.push_str(": ");
            chain.push_str(&t);
        }
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let kind = if e.is_redirect() {
        FailKind::Redirects
    } else if e.is_timeout() {
        FailKind::Timeout
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
    {
        FailKind::Tls
    } else if e.is_connect() {
        FailKind::Connect
    } else {
        FailKind::Other
    };
    let what = match kind {
        FailKind::Redirects => "too many redirects (a loop?)",
        FailKind::Timeout => "no answer in time",
        FailKind::Tls => "TLS failure",
        FailKind::Connect => "cannot connect",
        _ => "request failed",
    };
    Failure {
        kind,
        message: format!("GET {url}: {what}: {chain}"),
    }
}

/// Send `req` and read the body up to `limits.max_body`.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    limits: Limits,
) -> Result<Answer, Failure> {
    let t = Instant::now();
    let mut resp = req.send().await.map_err(|e| classify(url, &e))?;
    let status = resp.status().as_u16();
    let subject_token = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if resp
        .content_length()
        .is_some_and(|n| n > limits.max_body as u64)
    {
        return Err(Failure {
            kind: FailKind::TooLarge,
            message: format!(
                "GET {url}: body of {} bytes is over the {} byte limit",
                resp.content_length().unwrap_or_default(),
                limits.max_body
            ),
        });
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > limits.max_body {
                    return Err(Failure {
                        kind: FailKind::TooLarge,
                        message: format!("GET {url}: body over the {} byte limit", limits.max_body),
                    });
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(e) => return Err(classify(url, &e)),
        }
    }
    Ok(Answer {
        status,
        subject_token,
        body,
        elapsed: t.elapsed(),
    })
}
