//! Git's smart HTTP protocol (the `git-upload-pack` service, protocol version 0 in stateless-RPC
//! form, as `git-http-backend` and every public forge serve it), over nminus's own HTTP client.
//!
//! `nminus sync` fetches git feeds from `http://` and `https://` URLs through this module and
//! from `file://` URLs and local paths through libgit2. The reason is the process, not the
//! protocol: libgit2's HTTPS transport links OpenSSL, whose loading and start-up CPU probing cost
//! every nminus process (a lockfile scan included) over a millisecond and more than a MiB of
//! resident memory, for a transport only `sync` uses. Here the TLS stack is the one archive
//! downloads already use (rustls through reqwest), with the same proxy settings and timeouts.
//!
//! # What is fetched
//!
//! One ref (`HEAD` or `refs/heads/<branch>`) is asked for with `want`; the commit the bare
//! repository already has for it (when any) is offered with `have`, so a sync after the first
//! one downloads only the new objects. The capabilities asked for are `side-band-64k` (or
//! `side-band`) and `ofs-delta`, never `thin-pack`: the pack the server sends is complete in
//! itself and goes straight into libgit2's pack writer, which indexes and checks it. A server
//! that does not speak the smart protocol, an error band from the server, a pack over the size
//! limit or a response that ends early is an error naming the URL; nothing half-written is
//! referenced (the ref is only moved once the pack is stored).

use std::fmt;
use std::io::Read;

/// A smart-HTTP fetch that failed: the request or document it was reading (`GET <url>`,
/// `POST <url>`, the repository URL) and what went wrong there.
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
    /// Reading the body failed.
    #[error("{0}")]
    Read(std::io::Error),
    /// The body ended inside a pkt-line.
    #[error("the response ended early ({0})")]
    EndedEarly(std::io::Error),
    /// A pkt-line length that is not four hex digits.
    #[error("not a pkt-line")]
    NotPktLine,
    /// A pkt-line length that is not a number.
    #[error("bad pkt-line length `{0}`")]
    BadLength(String),
    /// The reserved pkt-line length 3.
    #[error("bad pkt-line length 3")]
    LengthThree,
    /// No line at all.
    #[error("empty advertisement")]
    EmptyAdvertisement,
    /// The first line is not the service line.
    #[error("not a smart HTTP git server (no `# service=git-upload-pack` line)")]
    NotSmart,
    /// The service line is not followed by a flush.
    #[error("no flush after the service line")]
    NoFlush,
    /// A ref line that is not UTF-8.
    #[error("a ref line is not UTF-8")]
    RefNotUtf8,
    /// A ref line without `<id> <name>`.
    #[error("bad ref line `{0}`")]
    BadRefLine(String),
    /// A ref line whose id is not 40 hex digits.
    #[error("bad object id in `{0}`")]
    BadObjectId(String),
    /// The ref asked for is not advertised.
    #[error("has no `{0}`")]
    NoRef(String),
    /// The server cannot multiplex progress and pack.
    #[error("the server offers no side-band: not supported")]
    NoSideBand,
    /// The response has no acknowledgement line.
    #[error("no pack in the response")]
    NoPack,
    /// Something else than `NAK` / `ACK` before the pack.
    #[error("unexpected line `{0}` before the pack")]
    UnexpectedLine(String),
    /// An `ERR` line or the error band.
    #[error("the server says: {0}")]
    ServerSays(String),
    /// The pack exceeds the size limit.
    #[error("the pack is larger than the {0} bytes allowed")]
    TooLarge(u64),
    /// Writing the pack into the object database failed.
    #[error("storing the pack: {0}")]
    Store(std::io::Error),
    /// A side-band other than 1, 2 and 3.
    #[error("unknown side-band {0}")]
    UnknownBand(u8),
    /// libgit2 refused the pack.
    #[error("the pack does not index: {}", .0.message())]
    Index(git2::Error),
    /// The pack does not hold the commit the ref names.
    #[error("the pack does not hold the commit {want} that `{src}` names")]
    MissingCommit {
        /// The commit asked for.
        want: String,
        /// The ref that names it.
        src: String,
    },
    /// A push (`git-receive-pack`): nminus only fetches.
    #[error("pushing is not supported: nminus only fetches")]
    PushRefused,
    /// The transport could not be registered with libgit2.
    #[error("{0}")]
    Register(String),
    /// libgit2 failed (object database, object id).
    #[error("{}", .0.message())]
    Git(git2::Error),
}

impl fmt::Display for GitHttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            // libgit2's own message says what failed.
            WireProblem::Git(_) => write!(f, "{}", self.problem),
            WireProblem::NoRef(_) => write!(f, "{} {}", self.what, self.problem),
            p => write!(f, "{}: {p}", self.what),
        }
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

/// What [`fetch`] brought.
#[derive(Debug)]
pub(crate) struct Fetch {
    /// The commit the ref points at upstream.
    pub oid: git2::Oid,
}

/// One pkt-line: its payload, or `None` for a flush (`0000`) or delimiter packet.
fn read_pkt(r: &mut impl Read, what: &str) -> Result<Option<Vec<u8>>, GitHttpError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)
        .map_err(|e| fail(what, WireProblem::EndedEarly(e)))?;
    let text = std::str::from_utf8(&len).map_err(|_| fail(what, WireProblem::NotPktLine))?;
    let n = usize::from_str_radix(text, 16)
        .map_err(|_| fail(what, WireProblem::BadLength(text.to_owned())))?;
    match n {
        0..=2 => Ok(None),
        3 => Err(fail(what, WireProblem::LengthThree)),
        _ => {
            let mut buf = vec![0u8; n - 4];
            r.read_exact(&mut buf)
                .map_err(|e| fail(what, WireProblem::EndedEarly(e)))?;
            Ok(Some(buf))
        }
    }
}

/// Append `payload` as one pkt-line.
fn pkt(out: &mut Vec<u8>, payload: &str) {
    out.extend_from_slice(format!("{:04x}", payload.len() + 4).as_bytes());
    out.extend_from_slice(payload.as_bytes());
}

/// The refs and capabilities of a `git-upload-pack` advertisement (the body of
/// `GET <url>/info/refs?service=git-upload-pack`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Advertisement {
    /// (ref name, object id), in the server's order; `HEAD` included when the server has one.
    pub refs: Vec<(String, String)>,
    /// Capabilities of the first line.
    pub caps: Vec<String>,
}

impl Advertisement {
    /// Parse an advertisement body. `what` names it in errors.
    pub(crate) fn parse(body: &[u8], what: &str) -> Result<Self, GitHttpError> {
        let mut r = body;
        let first =
            read_pkt(&mut r, what)?.ok_or_else(|| fail(what, WireProblem::EmptyAdvertisement))?;
        if first.strip_suffix(b"\n").unwrap_or(&first) != b"# service=git-upload-pack" {
            return Err(fail(what, WireProblem::NotSmart));
        }
        // The service line is followed by a flush, then the refs, then a flush.
        if read_pkt(&mut r, what)?.is_some() {
            return Err(fail(what, WireProblem::NoFlush));
        }
        let mut adv = Self::default();
        while let Some(line) = read_pkt(&mut r, what)? {
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let (refpart, caps) = match line.iter().position(|b| *b == 0) {
                Some(i) => (&line[..i], Some(&line[i + 1..])),
                None => (line, None),
            };
            if let Some(caps) = caps {
                adv.caps = String::from_utf8_lossy(caps)
                    .split(' ')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            let refpart =
                std::str::from_utf8(refpart).map_err(|_| fail(what, WireProblem::RefNotUtf8))?;
            let (oid, name) = refpart
                .split_once(' ')
                .ok_or_else(|| fail(what, WireProblem::BadRefLine(refpart.to_owned())))?;
            if oid.len() != 40 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fail(what, WireProblem::BadObjectId(refpart.to_owned())));
            }
            // An empty repository advertises `capabilities^{}` with the zero id.
            if name != "capabilities^{}" {
                adv.refs.push((name.to_owned(), oid.to_owned()));
            }
        }
        Ok(adv)
    }

    /// The object id of `name` (`HEAD` or a full ref name).
    pub(crate) fn lookup(&self, name: &str) -> Option<&str> {
        self.refs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.as_str())
    }

    fn has(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c == cap)
    }
}

/// The upload-pack request: `want` with the capabilities both sides speak, `have` for each
/// commit the repository already has, `done`.
fn request(adv: &Advertisement, want: &str, haves: &[String]) -> Result<Vec<u8>, WireProblem> {
    let band = if adv.has("side-band-64k") {
        "side-band-64k"
    } else if adv.has("side-band") {
        "side-band"
    } else {
        return Err(WireProblem::NoSideBand);
    };
    let mut caps = vec![band];
    if adv.has("ofs-delta") {
        caps.push("ofs-delta");
    }
    let agent = concat!("agent=nminus/", env!("CARGO_PKG_VERSION"));
    caps.push(agent);
    let mut body = Vec::new();
    pkt(&mut body, &format!("want {want} {}\n", caps.join(" ")));
    body.extend_from_slice(b"0000");
    for h in haves {
        pkt(&mut body, &format!("have {h}\n"));
    }
    pkt(&mut body, "done\n");
    Ok(body)
}

/// Read an upload-pack response: the `NAK` / `ACK` lines, then the side-band stream; band 1
/// (the pack) goes to `pack`, band 2 (progress) to `progress`, band 3 is the server's error.
/// At most `max` bytes of pack.
pub(crate) fn read_response(
    r: &mut impl Read,
    pack: &mut impl std::io::Write,
    mut progress: impl FnMut(&str),
    max: u64,
    what: &str,
) -> Result<u64, GitHttpError> {
    // Acknowledgements: with `done` and without multi_ack, one `NAK` or `ACK <id>` line.
    let line = read_pkt(r, what)?.ok_or_else(|| fail(what, WireProblem::NoPack))?;
    if let Some(msg) = line.strip_prefix(b"ERR ") {
        let msg = String::from_utf8_lossy(msg).trim().to_owned();
        return Err(fail(what, WireProblem::ServerSays(msg)));
    }
    if !(line.starts_with(b"NAK") || line.starts_with(b"ACK ")) {
        let line = String::from_utf8_lossy(&line).trim().to_owned();
        return Err(fail(what, WireProblem::UnexpectedLine(line)));
    }
    let mut total = 0u64;
    while let Some(p) = read_pkt(r, what)? {
        let Some((&band, data)) = p.split_first() else {
            continue;
        };
        match band {
            1 => {
                total += data.len() as u64;
                if total > max {
                    return Err(fail(what, WireProblem::TooLarge(max)));
                }
                pack.write_all(data)
                    .map_err(|e| fail(what, WireProblem::Store(e)))?;
            }
            2 => {
                let text = String::from_utf8_lossy(data);
                if let Some(last) = text.split(['\r', '\n']).rfind(|s| !s.trim().is_empty()) {
                    progress(last.trim());
                }
            }
            3 => {
                let msg = String::from_utf8_lossy(data).trim().to_owned();
                return Err(fail(what, WireProblem::ServerSays(msg)));
            }
            b => return Err(fail(what, WireProblem::UnknownBand(b))),
        }
    }
    Ok(total)
}

/// A writer that counts what goes through it and tells `tick` the running total.
struct Counting<W, F> {
    inner: W,
    bytes: u64,
    tick: F,
}

impl<W: std::io::Write, F: FnMut(u64)> std::io::Write for Counting<W, F> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        (self.tick)(self.bytes);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Fetch `src` (`HEAD` or `refs/heads/<branch>`) of the repository at `url` (`http://` or
/// `https://`) into the bare `repo`, offering `have` (the commit it already holds for this feed,
/// when any). The pack is stored in `repo`'s object database; moving a ref is the caller's.
pub(crate) fn fetch(
    client: &reqwest::blocking::Client,
    repo: &git2::Repository,
    url: &str,
    src: &str,
    have: Option<git2::Oid>,
    max: u64,
    mut progress: impl FnMut(String),
) -> Result<Fetch, GitHttpError> {
    let base = url.trim_end_matches('/');
    let refs_url = format!("{base}/info/refs?service=git-upload-pack");
    let get = format!("GET {refs_url}");
    let resp = client
        .get(&refs_url)
        .send()
        .map_err(|e| fail(&get, WireProblem::Transport(e)))?;
    if !resp.status().is_success() {
        return Err(fail(&get, WireProblem::Status(resp.status())));
    }
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // The media type, parameters (`; charset=…`) aside.
    if ctype.split(';').next().map(str::trim) != Some("application/x-git-upload-pack-advertisement")
    {
        return Err(fail(&get, WireProblem::ContentType(ctype)));
    }
    let mut body = Vec::new();
    resp.take(64 << 20)
        .read_to_end(&mut body)
        .map_err(|e| fail(&get, WireProblem::Read(e)))?;
    let adv = Advertisement::parse(&body, &get)?;
    let want = adv
        .lookup(src)
        .ok_or_else(|| fail(url, WireProblem::NoRef(src.to_owned())))?
        .to_owned();
    let oid = git2::Oid::from_str(&want).map_err(|e| fail(url, WireProblem::Git(e)))?;
    if repo.find_commit(oid).is_ok() {
        return Ok(Fetch { oid });
    }
    let haves: Vec<String> = have
        .filter(|h| repo.find_commit(*h).is_ok())
        .map(|h| h.to_string())
        .into_iter()
        .collect();
    let req = request(&adv, &want, &haves).map_err(|p| fail(url, p))?;
    let pack_url = format!("{base}/git-upload-pack");
    progress(format!("fetching {url} ({src})"));
    let mut resp = client
        .post(&pack_url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-git-upload-pack-request",
        )
        .header(
            reqwest::header::ACCEPT,
            "application/x-git-upload-pack-result",
        )
        .body(req)
        .send()
        .map_err(|e| fail(&format!("POST {pack_url}"), WireProblem::Transport(e)))?;
    let what = format!("POST {pack_url}");
    if !resp.status().is_success() {
        return Err(fail(&what, WireProblem::Status(resp.status())));
    }
    let odb = repo.odb().map_err(|e| fail(&what, WireProblem::Git(e)))?;
    let writer = odb
        .packwriter()
        .map_err(|e| fail(&what, WireProblem::Git(e)))?;
    // The server's own progress lines and the bytes received, at most five times a second.
    let last = std::cell::Cell::new(std::time::Instant::now());
    let progress = std::cell::RefCell::new(progress);
    let due = || {
        let now = std::time::Instant::now();
        let due = now.duration_since(last.get()) >= std::time::Duration::from_millis(200);
        if due {
            last.set(now);
        }
        due
    };
    let mut counting = Counting {
        inner: writer,
        bytes: 0,
        tick: |n: u64| {
            if due() {
                (progress.borrow_mut())(format!("received {} KiB", n / 1024));
            }
        },
    };
    let bytes = read_response(
        &mut resp,
        &mut counting,
        |line| {
            if due() {
                (progress.borrow_mut())(line.to_owned());
            }
        },
        max,
        &what,
    )?;
    (progress.borrow_mut())(format!("indexing the pack ({} KiB)", bytes / 1024));
    counting
        .inner
        .commit()
        .map_err(|e| fail(&what, WireProblem::Index(e)))?;
    repo.find_commit(oid).map_err(|_| {
        fail(
            &what,
            WireProblem::MissingCommit {
                want: want.clone(),
                src: src.to_owned(),
            },
        )
    })?;
    Ok(Fetch { oid })
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

/// A response body that fails, rather than ends, past `left` bytes.
struct Capped {
    inner: reqwest::blocking::Response,
    left: u64,
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
                self.what, ADVERTISEMENT_MAX
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
pub(crate) fn register(
    client: impl FnOnce() -> Result<reqwest::blocking::Client, String>,
) -> Result<(), GitHttpError> {
    REGISTERED
        .get_or_init(|| {
            let client = client()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn adv_body(lines: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        pkt(&mut b, "# service=git-upload-pack\n");
        b.extend_from_slice(b"0000");
        for l in lines {
            pkt(&mut b, l);
        }
        b.extend_from_slice(b"0000");
        b
    }

    #[test]
    fn advertisement_parses_refs_and_caps() {
        let a = "1111111111111111111111111111111111111111";
        let b = "2222222222222222222222222222222222222222";
        let body = adv_body(&[
            &format!("{a} HEAD\0multi_ack side-band-64k ofs-delta symref=HEAD:refs/heads/main\n"),
            &format!("{a} refs/heads/main\n"),
            &format!("{b} refs/heads/next\n"),
        ]);
        let adv = Advertisement::parse(&body, "t").unwrap();
        assert_eq!(adv.lookup("HEAD"), Some(a));
        assert_eq!(adv.lookup("refs/heads/next"), Some(b));
        assert!(adv.has("side-band-64k") && adv.has("ofs-delta"));
        let req = String::from_utf8(request(&adv, a, &[b.to_owned()]).unwrap()).unwrap();
        assert_eq!(
            req,
            format!(
                "{:04x}want {a} side-band-64k ofs-delta agent=nminus/{}\n0000{:04x}have {b}\n0009done\n",
                4 + format!("want {a} side-band-64k ofs-delta agent=nminus/{}\n", env!("CARGO_PKG_VERSION")).len(),
                env!("CARGO_PKG_VERSION"),
                4 + 46
            )
        );
    }

    #[test]
    fn bad_advertisements_are_errors_never_panics() {
        for body in [
            &b""[..],
            b"0000",
            b"001e# service=git-receive-pack\n0000",
            b"zzzz",
            b"0003",
            b"001e# service=git-upload-pack\n",
            b"001e# service=git-upload-pack\n00000010abc HEAD\n",
            b"001e# service=git-upload-pack\n0000ffff",
        ] {
            assert!(Advertisement::parse(body, "t").is_err(), "{body:?}");
        }
        // An empty repository: no refs.
        let empty = adv_body(&[
            "0000000000000000000000000000000000000000 capabilities^{}\0side-band-64k\n",
        ]);
        let adv = Advertisement::parse(&empty, "t").unwrap();
        assert!(adv.refs.is_empty());
    }

    #[test]
    fn response_demultiplexes_bands_and_bounds_the_pack() {
        let mut r = Vec::new();
        pkt(&mut r, "NAK\n");
        let mut band = |n: u8, d: &[u8]| {
            r.extend_from_slice(format!("{:04x}", d.len() + 5).as_bytes());
            r.push(n);
            r.extend_from_slice(d);
        };
        band(2, b"Counting objects: 3\r");
        band(1, b"PACK");
        band(1, b"rest");
        r.extend_from_slice(b"0000");
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let n =
            read_response(&mut &r[..], &mut out, |l| seen.push(l.to_owned()), 100, "t").unwrap();
        assert_eq!((n, out.as_slice()), (8, &b"PACKrest"[..]));
        assert_eq!(seen, ["Counting objects: 3"]);
        let e = read_response(&mut &r[..], &mut Vec::new(), |_| {}, 5, "t").unwrap_err();
        assert!(matches!(e.problem, WireProblem::TooLarge(5)), "{e}");
        assert_eq!(
            e.to_string(),
            "t: the pack is larger than the 5 bytes allowed"
        );
        // Band 3 is the server's error; a truncated stream is an error.
        let mut bad = Vec::new();
        pkt(&mut bad, "NAK\n");
        bad.extend_from_slice(b"0009\x03oops");
        let e = read_response(&mut &bad[..], &mut Vec::new(), |_| {}, 100, "t").unwrap_err();
        assert!(
            matches!(&e.problem, WireProblem::ServerSays(m) if m == "oops"),
            "{e}"
        );
        assert_eq!(e.to_string(), "t: the server says: oops");
        let e =
            read_response(&mut &r[..r.len() - 6], &mut Vec::new(), |_| {}, 100, "t").unwrap_err();
        assert!(matches!(e.problem, WireProblem::EndedEarly(_)), "{e}");
    }
}
