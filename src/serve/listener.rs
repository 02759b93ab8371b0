//! The accept loop: HTTP/1.1 over TCP or TLS, with the limits that keep the service answering
//! when clients are slow, idle or too many.
//!
//! - A request's head must arrive within the header timeout, counted from the connection's
//!   start or its previous response: a slow-header client and an idle keep-alive connection are
//!   closed after it. (The TLS handshake has the same bound.)
//! - A response write that makes no progress for the write timeout closes the connection.
//! - At most `max_connections` connections are open. When a new one arrives at the cap, the
//!   oldest connection with no request in progress is closed to make room; when every one is
//!   busy, the new connection is closed at once. So a flood of idle connections never keeps
//!   `/healthz` or an agent out, and the process never runs out of file descriptors (the cap
//!   stays [`super::limits::FD_RESERVE`] below the open-file limit).

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// What the listener knows about a request's connection (a request extension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The connection is TLS.
    pub tls: bool,
    /// The client presented a certificate that chains to `--tls-client-ca`.
    pub client_cert: bool,
}

/// Settings of one listener.
#[derive(Clone)]
pub(crate) struct ListenerConfig {
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

struct Conn {
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

/// Open connections, oldest first.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Conn>>,
    closed: Notify,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Conn>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Close the oldest connection with no request in progress; `false` when every one is
    /// busy.
    fn evict_idle(&self) -> bool {
        let mut open = self.lock();
        let idle = open
            .iter()
            .find(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match idle.and_then(|id| open.remove(&id)) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn add(&self) -> (u64, Arc<AtomicUsize>, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let busy = Arc::new(AtomicUsize::new(0));
        let close = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Conn {
                busy: Arc::clone(&busy),
                close: Arc::clone(&close),
            },
        );
        (id, busy, close)
    }

    fn remove(&self, id: u64) {
        let mut open = self.lock();
        open.remove(&id);
        if open.is_empty() {
            self.closed.notify_waiters();
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Serve `router` on `listener` until `shutdown` turns true; then finish the requests in
/// progress (for at most 30 s) and return.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    cfg: ListenerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let reg = Arc::new(Registry::default());
    // One slot per open connection, given back when its socket is closed (not when it is
    // told to close): descriptors never exceed the cap, however fast connections arrive.
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections));
    let mut last_full_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let (tcp, _) = match accepted {
            Ok(c) => c,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (the cap should prevent it) or memory: wait, go on.
                tracing::error!("accept error: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(s) => Some(s),
            Err(_) if reg.evict_idle() => {
                tokio::time::timeout(Duration::from_secs(1), Arc::clone(&slots).acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(slot) = slot else {
            let now = tokio::time::Instant::now();
            if last_full_warning.is_none_or(|t| now.duration_since(t) > Duration::from_secs(10)) {
                tracing::warn!(
                    "{} connections, every one busy: refusing new connections (--max-connections)",
                    cfg.max_connections
                );
                last_full_warning = Some(now);
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (id, busy, close) = reg.add();
        let reg = Arc::clone(&reg);
        let router = router.clone();
        let cfg = cfg.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection(tcp, router, &cfg, busy, close, shutdown).await;
            reg.remove(id);
            drop(slot);
        });
    }
    drop(listener);
    let drained = async {
        while reg.len() > 0 {
            let waiting = reg.closed.notified();
            if reg.len() == 0 {
                break;
            }
            waiting.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), drained).await;
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Decrements the busy count of a connection when a request ends.
struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    router: Router,
    cfg: &ListenerConfig,
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) {
    let io = WriteTimeout::new(tcp, cfg.write_timeout);
    match &cfg.tls {
        None => {
            serve_http(
                TokioIo::new(io),
                Peer::default(),
                router,
                cfg,
                busy,
                close,
                shutdown,
            )
            .await;
        }
        Some(acceptor) => {
            let hs = tokio::select! {
                r = tokio::time::timeout(cfg.header_timeout, acceptor.accept(io)) => r,
                () = close.notified() => return,
            };
            let Ok(Ok(tls)) = hs else {
                return;
            };
            let peer = Peer {
                tls: true,
                client_cert: tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .is_some_and(|c| !c.is_empty()),
            };
            serve_http(TokioIo::new(tls), peer, router, cfg, busy, close, shutdown).await;
        }
    }
}

async fn serve_http<I>(
    io: TokioIo<I>,
    peer: Peer,
    router: Router,
    cfg: &ListenerConfig,
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        busy.fetch_add(1, Ordering::AcqRel);
        let guard = BusyGuard(Arc::clone(&busy));
        req.extensions_mut().insert(peer);
        let mut router = router.clone();
        async move {
            let r = tower_service::Service::call(&mut router, req).await;
            drop(guard);
            r
        }
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout)
        .keep_alive(true);
    let conn = b.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut graceful = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            () = close.notified() => return,
            r = shutdown.wait_for(|s| *s), if !graceful => {
                graceful = true;
                if r.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A stream whose writes fail with `TimedOut` when they make no progress for `timeout`.
struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteTimeout<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
        }
    }

    fn progress<R>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        use std::future::Future;
        if p.is_ready() {
            self.stalled = None;
            return p;
        }
        let timeout = self.timeout;
        let s = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if s.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(cx, p)
    }
}

/// TLS settings of `serve`.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    /// PEM certificate chain, the server's first.
    pub cert: std::path::PathBuf,
    /// PEM private key.
    pub key: std::path::PathBuf,
    /// PEM CA certificates that sign agents' client certificates (then required on enroll and
    /// push).
    pub client_ca: Option<std::path::PathBuf>,
}

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// Unreadable or not PEM.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The TLS acceptor for `files` (HTTP/1.1 only, TLS 1.2 and 1.3).
pub(crate) fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let file_err = |p: &std::path::Path, m: String| TlsError::File {
        path: p.display().to_string(),
        message: m,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| file_err(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(&files.cert, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_err(&files.key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| file_err(ca, format!("not PEM CA certificates: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(cas);
            if added == 0 {
                return Err(file_err(ca, "holds no usable CA certificate".into()));
            }
            // Optional at the TLS layer (readers use API tokens); required by the agent routes.
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}
