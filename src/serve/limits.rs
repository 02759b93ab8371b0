//! What keeps the service answering under slow, idle, flooding or oversized clients: the
//! timeouts and the connection cap of the listener ([`super::listener`]), a budget of memory
//! for the pushes being read and judged at once, and a per-node push rate.
//!
//! The push budget is counted in KiB permits of a semaphore. A push is charged its size on the
//! wire before its body is read (`Content-Length`, or the body limit when it has none), then twelve
//! times its decoded size once that is known (the decoded JSON, the parsed inventory and the
//! body kept for the store); a gzip body declares its decoded size in its trailer and is never
//! decoded past it. A push that would need more than the whole budget is charged the whole
//! budget and runs alone. A push that cannot be admitted within the body timeout is answered
//! `503` with `Retry-After`: the agent retries it later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;

/// Default time a client has to send a request's head, counted from the connection's start or
/// from its previous response (so it is also how long an idle keep-alive connection stays).
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a whole request body.
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a response write may make no progress before the connection is closed.
pub(crate) const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default memory for pushes being read, parsed and judged at once.
pub(crate) const DEFAULT_PUSH_MEMORY: usize = 512 * 1024 * 1024;
/// Default pushes a node may make per minute (after [`PUSH_BURST`]).
pub(crate) const DEFAULT_PUSH_RATE: u32 = 60;
/// Pushes a node may make at once before its rate applies: more than an agent's spool holds.
pub(crate) const PUSH_BURST: u32 = 200;
/// File descriptors kept out of the connection cap: the database, feed files, the metrics
/// listener, logs.
pub(crate) const FD_RESERVE: u64 = 128;
/// The connection cap when the open-file limit is high.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// The decoded bytes of a push are charged this many times: a 19 MB inventory of 60,000
/// packages took a debug server from 33 to 288 MB (the JSON, the parsed inventory, the stored
/// body, the judgement, the statements binding it).
const DECODED_FACTOR: usize = 12;

/// The limits of the service.
#[derive(Debug, Clone)]
pub struct Limits {
    /// See [`DEFAULT_HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`DEFAULT_BODY_TIMEOUT`].
    pub body_timeout: Duration,
    /// See [`DEFAULT_WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// Connections served at once (`None`: from the open-file limit, see [`connection_cap`]).
    pub max_connections: Option<usize>,
    /// See [`DEFAULT_PUSH_MEMORY`].
    pub push_memory: usize,
    /// Pushes per node per minute after a burst of [`PUSH_BURST`] (`0`: no limit).
    pub push_rate: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: None,
            push_memory: DEFAULT_PUSH_MEMORY,
            push_rate: DEFAULT_PUSH_RATE,
        }
    }
}

/// Raise the soft open-file limit to the hard one; returns the limit in force.
pub(crate) fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    if let Some(hard) = l.maximum {
        if l.current.is_some_and(|c| c < hard) {
            l.current = Some(hard);
            if let Err(e) = setrlimit(Resource::Nofile, l) {
                tracing::warn!("cannot raise the open-file limit to {hard}: {e}");
            }
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The connection cap for an open-file limit: `wanted` (default [`DEFAULT_MAX_CONNECTIONS`]),
/// but never closer than [`FD_RESERVE`] to the limit, and at least 16.
pub(crate) fn connection_cap(wanted: Option<usize>, fd_limit: u64) -> usize {
    let room = usize::try_from(fd_limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
    wanted.unwrap_or(DEFAULT_MAX_CONNECTIONS).min(room).max(16)
}

/// The push memory budget.
#[derive(Debug)]
pub(crate) struct PushBudget {
    sem: Arc<Semaphore>,
    kib: u32,
}

/// Memory held by one push; given back when dropped.
#[derive(Debug)]
pub(crate) struct PushCharge {
    permits: Vec<OwnedSemaphorePermit>,
}

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .max(1)
}

impl PushBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        let kib = kib(bytes).min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Self {
            sem: Arc::new(Semaphore::new(kib as usize)),
            kib,
        }
    }

    async fn take(
        &self,
        bytes: usize,
        already: u32,
        wait: Duration,
    ) -> Result<OwnedSemaphorePermit, ApiError> {
        let n = kib(bytes).min(self.kib.saturating_sub(already)).max(1);
        match tokio::time::timeout(wait, Arc::clone(&self.sem).acquire_many_owned(n)).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(ApiError::internal("the push budget is closed")),
            Err(_) => Err(ApiError::Busy(
                "the server is busy with other pushes: retry later".into(),
            )),
        }
    }

    /// Admit a push before its body is read: its size on the wire.
    pub(crate) async fn admit_wire(
        &self,
        headers: &HeaderMap,
        limit: usize,
        wait: Duration,
    ) -> Result<PushCharge, ApiError> {
        let wire = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        if wire.is_some_and(|w| w > limit) {
            return Err(ApiError::TooLarge(limit));
        }
        let p = self.take(wire.unwrap_or(limit), 0, wait).await?;
        Ok(PushCharge { permits: vec![p] })
    }

    /// Charge a push its decoded size once its body is read (`decoded`: see [`decoded_size`]).
    pub(crate) async fn admit_decoded(
        &self,
        charge: &mut PushCharge,
        raw: usize,
        decoded: usize,
        wait: Duration,
    ) -> Result<(), ApiError> {
        let held: u32 = charge.permits.iter().map(|p| p.num_permits() as u32).sum();
        // A body without Content-Length was charged the limit: give back what it did not use.
        let wire = kib(raw);
        if held > wire && charge.permits.len() == 1 {
            if let Some(first) = charge.permits.first_mut() {
                drop(first.split((held - wire) as usize));
            }
        }
        let held: u32 = charge.permits.iter().map(|p| p.num_permits() as u32).sum();
        let more = decoded.saturating_mul(DECODED_FACTOR);
        let p = self.take(more, held, wait).await?;
        charge.permits.push(p);
        Ok(())
    }
}

/// The size `raw` decodes to with content encoding `enc`, as its gzip trailer declares it
/// (ISIZE, the size modulo 2^32; a decoder must not produce more).
pub(crate) fn decoded_size(raw: &[u8], enc: Option<&str>) -> usize {
    match enc {
        Some("gzip" | "x-gzip") if raw.len() >= 18 => {
            let t = &raw[raw.len() - 4..];
            u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
        }
        Some("gzip" | "x-gzip") => 0,
        _ => raw.len(),
    }
}

/// Per-node token buckets.
#[derive(Debug)]
pub(crate) struct PushRate {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl PushRate {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one push from `node`'s bucket, or say when to come back.
    pub(crate) fn check(&self, node: &str) -> Result<(), ApiError> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(PUSH_BURST.max(self.per_minute));
        let now = Instant::now();
        let mut b = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if b.len() > 100_000 {
            // Full buckets carry no state: forget them.
            b.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = b.entry(node.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - *tokens) / rate).ceil().max(1.0);
        Err(ApiError::TooManyRequests {
            message: format!(
                "node `{node}` pushes more than {} times a minute: retry later",
                self.per_minute
            ),
            retry_after: Duration::from_secs_f64(wait),
        })
    }
}

/// The request body with a deadline for the whole of it, counted from its first read.
pub(crate) struct DeadlineBody {
    inner: axum::body::Body,
    timeout: Duration,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

/// The error a body read past its deadline ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub(crate) struct BodyTimeout(pub(crate) Duration);

impl DeadlineBody {
    pub(crate) fn new(inner: axum::body::Body, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let timeout = self.timeout;
        let d = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if d.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))));
        }
        std::pin::Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: every request body gets the body deadline.
pub(crate) async fn body_deadline(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let req = req.map(|b| axum::body::Body::new(DeadlineBody::new(b, timeout)));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_stay_below_the_file_limit() {
        assert_eq!(connection_cap(None, 1024), 896);
        assert_eq!(connection_cap(Some(100), 1024), 100);
        assert_eq!(connection_cap(None, 1 << 20), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(connection_cap(None, 64), 16);
    }

    #[test]
    fn a_node_over_its_rate_waits() {
        let r = PushRate::new(60);
        for _ in 0..PUSH_BURST {
            r.check("n1").unwrap();
        }
        match r.check("n1") {
            Err(ApiError::TooManyRequests { retry_after, .. }) => {
                assert!(retry_after >= Duration::from_secs(1));
            }
            other => panic!("{other:?}"),
        }
        r.check("n2").unwrap();
        assert!(PushRate::new(0).check("n1").is_ok());
    }

    #[test]
    fn gzip_trailer_declares_the_size() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&[b'x'; 100_000]).unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(decoded_size(&gz, Some("gzip")), 100_000);
        assert_eq!(decoded_size(b"{}", None), 2);
    }

    #[tokio::test]
    async fn the_budget_is_shared_and_given_back() {
        let b = PushBudget::new(1 << 20);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "200000".parse().unwrap());
        let mut c = b
            .admit_wire(&h, 1 << 30, Duration::from_secs(1))
            .await
            .unwrap();
        b.admit_decoded(&mut c, 200_000, 200_000, Duration::from_secs(1))
            .await
            .unwrap();
        // 196 KiB + 782 KiB held of 1024: a second push of the same size must wait.
        let e = b.admit_wire(&h, 1 << 30, Duration::from_millis(50)).await;
        assert!(matches!(e, Err(ApiError::Busy(_))), "{e:?}");
        drop(c);
        let mut c2 = b
            .admit_wire(&h, 1 << 30, Duration::from_secs(1))
            .await
            .unwrap();
        b.admit_decoded(&mut c2, 200_000, 200_000, Duration::from_secs(1))
            .await
            .unwrap();
        // Larger than the whole budget: charged the whole budget, runs alone.
        drop(c2);
        let mut c3 = b
            .admit_wire(&h, 1 << 30, Duration::from_secs(1))
            .await
            .unwrap();
        b.admit_decoded(&mut c3, 200_000, 10 << 20, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(b.sem.available_permits(), 0);
        drop(c3);
        assert_eq!(b.sem.available_permits(), 1024);
        h.insert(header::CONTENT_LENGTH, "2000".parse().unwrap());
        assert!(matches!(
            b.admit_wire(&h, 1000, Duration::from_secs(1)).await,
            Err(ApiError::TooLarge(1000))
        ));
    }
}
