//! Git's smart HTTP protocol for libgit2, over nminus's own HTTP client: a
//! [`SmartSubtransport`](git2::transport::SmartSubtransport) registered for `http://` and
//! `https://` ([`register`]), so that libgit2 speaks the protocol (the ref advertisement,
//! negotiation with `have`s, pkt-lines, side-band, the pack, which its indexer checks and
//! stores) and this module only moves bytes: `UploadPackLs` is
//! `GET <url>/info/refs?service=git-upload-pack`, `UploadPack` one
//! `POST <url>/git-upload-pack` per stateless-RPC round; pushes are refused.
//!
//! The reason is the process, not the protocol: libgit2's own HTTPS transport links OpenSSL,
//! whose loading and start-up CPU probing cost every nminus process (a lockfile scan included)
//! over a millisecond and more than a MiB of resident memory, for a transport only `sync` uses.
//! Here the TLS stack is the one archive downloads already use (rustls through reqwest), with
//! the same client: proxies from the environment, its timeouts (30 s to connect, 6 h in all),
//! reqwest's redirect policy and the web PKI roots. No credentials are sent. A server that does
//! not answer with git's advertisement (HTTP status, content type) is an error naming the
//! request; the advertisement is held to 64 MiB; the pack to the sync's byte limit (the
//! fetch's transfer-progress callback, `sync::git`).

use std::io::Read;

/// A smart-HTTP exchange that failed: the request (`GET <url>`, `POST <url>`) or repository
/// URL, and what went wrong there.
#[derive(Debug)]
pub(crate) struct GitHttpError {
    /// The request, or the repository URL.
    pub what: String,
    /// What went wrong.
    pub problem: WireProblem,
}

/// What went wrong in a smart-HTTP exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum WireProblem {
    /// The connection or the request failed.
    #[error("{}", crate::util::error_chain(.0))]
    Transport(reqwest::Error),
    /// The server answered with an error status.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// The advertisement is not git's (`application/x-git-upload-pack-advertisement`).
    #[error("not a smart HTTP git server (content type `{0}`)")]
    ContentType(String),
    /// A push (`git-receive-pack`): nminus only fetches.
    #[error("pushing is not supported: nminus only fetches")]
    PushRefused,
    /// The transport could not be registered with libgit2.
    #[error("{0}")]
    Register(String),
}

impl std::fmt::Display for GitHttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.problem)
    }
}

impl std::error::Error for GitHttpError {}

/// The error `problem` at `what`.
fn fail(what: &str, problem: WireProblem) -> GitHttpError {
    GitHttpError {
        what: what.to_owned(),
        problem,
    }
}

/// The most an advertisement (`GET …/info/refs`) may hold: far more than the refs of any feed.
const ADVERTISEMENT_MAX: u64 = 64 << 20;

/// libgit2's smart subtransport over nminus's HTTP client: libgit2 speaks the protocol
/// (negotiation, pkt-lines, side-band, the pack and its index); this only moves bytes.
struct Subtransport {
    client: reqwest::blocking::Client,
}

/// A failure of the subtransport, as libgit2 reports it (a network error with our message).
fn net_error(what: &str, problem: WireProblem) -> git2::Error {
    git2::Error::new(
        git2::ErrorCode::GenericError,
        git2::ErrorClass::Net,
        fail(what, problem).to_string(),
    )
}

impl git2::transport::SmartSubtransport for Subtransport {
    fn action(
        &self,
        url: &str,
        action: git2::transport::Service,
    ) -> Result<Box<dyn git2::transport::SmartSubtransportStream>, git2::Error> {
        use git2::transport::Service;
        let base = url.trim_end_matches('/');
        match action {
            Service::UploadPackLs => {
                let refs_url = format!("{base}/info/refs?service=git-upload-pack");
                let get = format!("GET {refs_url}");
                let resp = self
                    .client
                    .get(&refs_url)
                    .send()
                    .map_err(|e| net_error(&get, WireProblem::Transport(e)))?;
                if !resp.status().is_success() {
                    return Err(net_error(&get, WireProblem::Status(resp.status())));
                }
                let ctype = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                // The media type, parameters (`; charset=…`) aside.
                if ctype.split(';').next().map(str::trim)
                    != Some("application/x-git-upload-pack-advertisement")
                {
                    let ctype = ctype.to_owned();
                    return Err(net_error(&get, WireProblem::ContentType(ctype)));
                }
                Ok(Box::new(Exchange::Receiving(Capped {
                    inner: resp,
                    left: ADVERTISEMENT_MAX,
                    max: ADVERTISEMENT_MAX,
                    what: get,
                })))
            }
            Service::UploadPack => Ok(Box::new(Exchange::Request {
                client: self.client.clone(),
                url: format!("{base}/git-upload-pack"),
                body: Vec::new(),
            })),
            Service::ReceivePackLs | Service::ReceivePack => {
                Err(net_error(base, WireProblem::PushRefused))
            }
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// A response body that fails, rather than ends, past `max` bytes.
struct Capped {
    inner: reqwest::blocking::Response,
    left: u64,
    max: u64,
    what: String,
}

impl Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            std::io::Error::other(format!("{}: {}", self.what, crate::util::error_chain(&e)))
        })?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "{}: the response is larger than the {} bytes allowed",
                self.what, self.max
            ))
        })?;
        Ok(n)
    }
}

/// One stateless-RPC exchange: libgit2 writes the request, then reads the response; the
/// request goes out (one `POST`) at the first read.
enum Exchange {
    Request {
        client: reqwest::blocking::Client,
        url: String,
        body: Vec<u8>,
    },
    Receiving(Capped),
}

impl Exchange {
    fn send(
        client: &reqwest::blocking::Client,
        url: &str,
        body: Vec<u8>,
    ) -> std::io::Result<Capped> {
        let what = format!("POST {url}");
        let resp = client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-git-upload-pack-request",
            )
            .header(
                reqwest::header::ACCEPT,
                "application/x-git-upload-pack-result",
            )
            .body(body)
            .send()
            .map_err(|e| std::io::Error::other(fail(&what, WireProblem::Transport(e))))?;
        if !resp.status().is_success() {
            let problem = WireProblem::Status(resp.status());
            return Err(std::io::Error::other(fail(&what, problem)));
        }
        // The pack's bound is the fetch's (its transfer-progress callback); this one only keeps
        // a response from growing without end.
        Ok(Capped {
            inner: resp,
            left: u64::MAX,
            max: u64::MAX,
            what,
        })
    }
}

impl Read for Exchange {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Self::Request { client, url, body } = self {
            let resp = Self::send(client, url, std::mem::take(body))?;
            *self = Self::Receiving(resp);
        }
        match self {
            Self::Receiving(r) => r.read(buf),
            Self::Request { .. } => Ok(0),
        }
    }
}

impl std::io::Write for Exchange {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Request { body, .. } => {
                body.extend_from_slice(buf);
                Ok(buf.len())
            }
            Self::Receiving(r) => Err(std::io::Error::other(format!(
                "{}: a write after the response started",
                r.what
            ))),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the subtransport is registered (or why it could not be).
static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();

/// Make libgit2 fetch `http://` and `https://` URLs through [`Subtransport`] over the client
/// `client` builds (called once per process). Every libgit2 fetch in nminus calls this first.
pub(crate) fn register<E: std::fmt::Display>(
    client: impl FnOnce() -> Result<reqwest::blocking::Client, E>,
) -> Result<(), GitHttpError> {
    REGISTERED
        .get_or_init(|| {
            let client = client().map_err(|e| e.to_string())?;
            for scheme in ["http", "https"] {
                let client = client.clone();
                let factory = move |remote: &git2::Remote<'_>| {
                    let sub = Subtransport {
                        client: client.clone(),
                    };
                    git2::transport::Transport::smart(remote, true, sub)
                };
                // SAFETY: `git2::transport::register` must not race with libgit2 creating a
                // transport (its list of custom transports has no lock). It runs inside this
                // `OnceLock`, so at most once per process, and every libgit2 fetch nminus makes
                // (`sync`'s git feeds, the only code that creates a remote) calls `register`
                // first and waits here until it is done; nothing else in the process creates
                // a libgit2 transport. The factory and the client it holds live for the rest
                // of the process, as libgit2 requires.
                #[allow(unsafe_code)]
                unsafe { git2::transport::register(scheme, factory) }
                    .map_err(|e| format!("{scheme}: {}", e.message()))?;
            }
            Ok(())
        })
        .clone()
        .map_err(|e| {
            fail(
                "registering the git HTTP transport",
                WireProblem::Register(e),
            )
        })
}
