//! The HTTP listener, with the limits that keep a slow, stuck or hostile client from starving
//! the others (`axum::serve` has none of them):
//!
//! - a request's head (request line and headers) must arrive within `header_timeout`, be at
//!   most [`MAX_HEAD`] bytes and hold at most [`MAX_HEADERS`] headers (431 beyond); the same
//!   timeout closes a connection idle between requests (slow headers, idle sockets);
//! - its body must arrive within `body_timeout` of the head, plus a second for every
//!   [`BODY_RATE`] bytes received (a large upload may take longer, as long as it keeps
//!   coming), and the whole request within `request_timeout`: 408 after either (slow bodies).
//!   Answering is not bounded here: each operation bounds its own work, and a request that
//!   was received is answered with what happened, never 408;
//! - at most `max_connections` are open: the next one closes the connection idle the longest
//!   (one that sent no request, or is between requests), else the one whose request body has
//!   been arriving the longest (a slow body is dropped before anything was acknowledged), and
//!   is refused only when every connection is busy answering. The process raises its own
//!   open-file limit to make room.
//!
//! Routes read a body only once the request is authenticated (see `hooks` and `auth`), so a
//! client without a token can hold a connection no longer than it takes to refuse it.
//!
//! HTTP/1.1 only (what providers, browsers and the desktop window speak to a plain-HTTP
//! listener behind a proxy), with upgrades for `/api/live`. A websocket leaves the count once
//! upgraded: it is authenticated and answers pings.

use crate::error::{HttpError, HttpErrorCode};
use axum::body::Body;
use axum::response::IntoResponse;
use axum::Router;
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

/// Largest request head (request line and headers) accepted; 431 beyond.
pub const MAX_HEAD: usize = 16 * 1024;

/// Most headers a request may carry; 431 beyond. Providers send about a dozen, browsers
/// about twenty, a proxy adds a few.
pub const MAX_HEADERS: usize = 100;

/// Bytes a body may take per second beyond `body_timeout` (see the module's doc).
pub const BODY_RATE: u64 = 64 * 1024;

/// How long shutting down waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A request's head must arrive within this; a connection idle this long is closed.
    pub header_timeout: Duration,
    /// A request's body must arrive within this after its head (plus a second per
    /// [`BODY_RATE`] bytes received).
    pub body_timeout: Duration,
    /// A request, head and body, must be received within this.
    pub request_timeout: Duration,
    /// Connections open at once, at most.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Connections the kernel completes and queues for `accept` (capped by `net.core.somaxconn`).
/// Tokio's default, 1024, overflows under a burst of connections: the overflowing clients see
/// a connection that the server never accepts.
const BACKLOG: u32 = 4096;

/// Listen on `addr` with a deep accept queue.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As tokio's own `bind` does: a restarted server can listen again at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serve `router` on `listener` within `limits` until `shutdown` completes, then let requests
/// in flight finish (for up to 10 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    raise_open_file_limit();
    let conns = Arc::new(Registry::default());
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused_since_log = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e, &conns).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if conns.open() >= limits.max_connections && !conns.close_one() {
            // Every connection is busy with a request: this one waits for nothing.
            refused_since_log += 1;
            if refused_since_log == 1 || refused_since_log.is_power_of_two() {
                tracing::warn!(
                    "{} connections open, all busy: refused {refused_since_log} so far",
                    limits.max_connections
                );
            }
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn = conns.add();
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            conn,
            conns.clone(),
            stopping.clone(),
        ));
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(DRAIN, conns.drained()).await;
    Ok(())
}

/// One connection: HTTP/1.1 with upgrades, until the client closes it, a timeout does, it is
/// evicted while idle, or the server shuts down.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    limits: Limits,
    conn: Arc<Conn>,
    conns: Arc<Registry>,
    mut stopping: watch::Receiver<bool>,
) {
    let _registered = Registered {
        conn: conn.clone(),
        conns: conns.clone(),
    };
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let busy = Busy::start(conn.clone(), conns.clone());
            let router = router.clone();
            // Who is on the other end, for the handlers (as `axum::serve` gives it).
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let timed_out = Arc::new(AtomicBool::new(false));
            let pending = Arc::new(AtomicBool::new(false));
            let req = req.map(|body| {
                Body::new(Receiving::new(
                    body,
                    limits,
                    conn.clone(),
                    conns.clone(),
                    timed_out.clone(),
                    pending.clone(),
                ))
            });
            async move {
                let res = match router.oneshot(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                };
                // However the route took the failed read of its body, the answer is 408.
                let mut res = if timed_out.load(Ordering::SeqCst) {
                    timed_out_response(limits)
                } else {
                    res
                };
                if pending.load(Ordering::SeqCst) {
                    // Answered (refused) before its body came: the connection ends with the
                    // answer, rather than wait for a body nobody will read.
                    res.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                // Busy until the response's body is sent.
                Ok::<_, Infallible>(res.map(|body| Body::new(Sending { body, _busy: busy })))
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS);
    let served = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut served = std::pin::pin!(served);
    let mut closing = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            () = conn.evict.notified() => {
                if conn.evictable() {
                    // Idle, or still receiving its request: nothing was acknowledged, nothing
                    // is lost by dropping it.
                    return;
                }
                conn.evicting.store(false, Ordering::SeqCst);
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    closing = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The answer to a request that did not arrive in time.
fn timed_out_response(limits: Limits) -> Response<Body> {
    let mut res = HttpError::new(
        StatusCode::REQUEST_TIMEOUT,
        HttpErrorCode::RequestTimeout,
        format!(
            "the request was not received in time (its body within {} s of its head, the \
             whole request within {} s)",
            limits.body_timeout.as_secs_f64(),
            limits.request_timeout.as_secs_f64()
        ),
    )
    .into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

async fn accept_failed(e: &std::io::Error, conns: &Registry) {
    use std::io::ErrorKind::*;
    match e.kind() {
        // The client gave up before we got to it: nothing to do.
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock => {}
        _ => {
            // Out of file descriptors (EMFILE/ENFILE) or worse: make room and breathe.
            tracing::warn!("accepting a connection failed: {e}");
            conns.close_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The open connections.
struct Registry {
    start: Instant,
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    empty: Notify,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            start: Instant::now(),
            next: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            empty: Notify::new(),
        }
    }
}

struct Conn {
    id: u64,
    /// Requests being answered or whose response is being sent.
    busy: AtomicUsize,
    /// Of those, the ones whose body is still arriving.
    receiving: AtomicUsize,
    /// When it last became idle, in ms since the registry started.
    idle_since: AtomicU64,
    /// When its request's body began to arrive, in ms since the registry started.
    receiving_since: AtomicU64,
    /// Asked to close (it does if still idle or receiving when it wakes).
    evicting: AtomicBool,
    evict: Notify,
}

impl Conn {
    fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    /// Nothing was acknowledged on it and no answer is being worked on: idle, or every
    /// request on it still receiving its body.
    fn evictable(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == self.receiving.load(Ordering::SeqCst)
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn add(&self) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            busy: AtomicUsize::new(0),
            receiving: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now_ms()),
            receiving_since: AtomicU64::new(0),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        });
        self.lock().insert(conn.id, conn.clone());
        conn
    }

    /// Connections open and not on their way out.
    fn open(&self) -> usize {
        self.lock()
            .values()
            .filter(|c| !c.evicting.load(Ordering::SeqCst))
            .count()
    }

    /// Ask one connection to close: the one idle the longest, else the one whose request
    /// body has been arriving the longest; `false` when every connection is busy answering.
    fn close_one(&self) -> bool {
        let conns = self.lock();
        let open = || {
            conns
                .values()
                .filter(|c| !c.evicting.load(Ordering::SeqCst))
        };
        let victim = open()
            .filter(|c| c.idle())
            .min_by_key(|c| c.idle_since.load(Ordering::SeqCst))
            .or_else(|| {
                open()
                    .filter(|c| c.evictable())
                    .min_by_key(|c| c.receiving_since.load(Ordering::SeqCst))
            });
        match victim {
            Some(c) => {
                c.evicting.store(true, Ordering::SeqCst);
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }

    /// Completes once no connection is open.
    async fn drained(&self) {
        loop {
            let empty = self.empty.notified();
            if self.lock().is_empty() {
                return;
            }
            empty.await;
        }
    }
}

/// Removes its connection from the registry when the connection's task ends.
struct Registered {
    conn: Arc<Conn>,
    conns: Arc<Registry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut conns = self.conns.lock();
        conns.remove(&self.conn.id);
        if conns.is_empty() {
            self.conns.empty.notify_waiters();
        }
    }
}

/// Marks its connection busy while a request is answered and its response sent.
struct Busy {
    conn: Arc<Conn>,
    conns: Arc<Registry>,
}

impl Busy {
    fn start(conn: Arc<Conn>, conns: Arc<Registry>) -> Busy {
        conn.busy.fetch_add(1, Ordering::SeqCst);
        Busy { conn, conns }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn
            .idle_since
            .store(self.conns.now_ms(), Ordering::SeqCst);
        self.conn.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request body as it arrives: its connection counts as receiving (the first to go when
/// connections run out) until it has all come, and it must come in time (see [`Limits`]).
/// Past its deadline it fails, and the request is answered 408.
struct Receiving {
    body: Incoming,
    /// Set while the body is still arriving.
    conn: Option<Arc<Conn>>,
    /// True while the body is still arriving (for the answer: see `connection`).
    pending: Arc<AtomicBool>,
    head_at: tokio::time::Instant,
    received: u64,
    limits: Limits,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl Receiving {
    fn new(
        body: Incoming,
        limits: Limits,
        conn: Arc<Conn>,
        conns: Arc<Registry>,
        timed_out: Arc<AtomicBool>,
        pending: Arc<AtomicBool>,
    ) -> Receiving {
        use http_body::Body as _;
        let head_at = tokio::time::Instant::now();
        pending.store(!body.is_end_stream(), Ordering::SeqCst);
        let conn = (!body.is_end_stream()).then(|| {
            conn.receiving_since.store(conns.now_ms(), Ordering::SeqCst);
            conn.receiving.fetch_add(1, Ordering::SeqCst);
            conn
        });
        Receiving {
            body,
            conn,
            pending,
            head_at,
            received: 0,
            limits,
            deadline: Box::pin(tokio::time::sleep_until(
                head_at + limits.body_timeout.min(limits.request_timeout),
            )),
            timed_out,
        }
    }

    /// When the rest of the body must have come, given what came so far.
    fn deadline(&self) -> tokio::time::Instant {
        let allowed = self.limits.body_timeout
            + Duration::from_secs_f64(self.received as f64 / BODY_RATE as f64);
        self.head_at + allowed.min(self.limits.request_timeout)
    }

    fn arrived(&mut self) {
        self.pending.store(false, Ordering::SeqCst);
        self.no_longer_receiving();
    }

    fn no_longer_receiving(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.receiving.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Receiving {
    fn drop(&mut self) {
        // Dropped unread: the connection no longer counts as receiving, but the body is still
        // pending (the answer closes the connection).
        self.no_longer_receiving();
    }
}

impl http_body::Body for Receiving {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.conn.is_none() {
            // All of it came (or none was announced).
            return Pin::new(&mut self.body)
                .poll_frame(cx)
                .map_err(axum::Error::new);
        }
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    let deadline = self.deadline();
                    self.deadline.as_mut().reset(deadline);
                }
                if self.body.is_end_stream() {
                    self.arrived();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                self.arrived();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.no_longer_receiving();
                Poll::Ready(Some(Err(axum::Error::new(e))))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.timed_out.store(true, Ordering::SeqCst);
                    self.no_longer_receiving();
                    Poll::Ready(Some(Err(axum::Error::new(
                        "the body did not arrive in time",
                    ))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A response body that keeps its connection busy until it is sent (or dropped).
struct Sending {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Sending {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Let this process keep as many files (sockets) open as the system allows it, up to 65536:
/// the default soft limit (often 1024) would refuse connections long before `max_connections`
/// matters.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        const WANTED: libc::rlim_t = 65536;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return;
            }
            let target = limit.rlim_max.min(WANTED);
            if limit.rlim_cur < target {
                limit.rlim_cur = target;
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    tracing::debug!("could not raise the open-file limit");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_connections_go_first_then_slow_bodies_and_busy_ones_never() {
        let reg = Arc::new(Registry::default());
        let a = reg.add();
        let b = reg.add();
        let c = reg.add();
        let d = reg.add();
        a.idle_since.store(5, Ordering::SeqCst);
        b.idle_since.store(1, Ordering::SeqCst);
        c.idle_since.store(0, Ordering::SeqCst);
        let busy = Busy::start(c.clone(), reg.clone());
        // d's request is still receiving its body, since 7.
        let receiving = Busy::start(d.clone(), reg.clone());
        d.receiving.fetch_add(1, Ordering::SeqCst);
        d.receiving_since.store(7, Ordering::SeqCst);
        assert_eq!(reg.open(), 4);
        assert!(reg.close_one());
        assert!(b.evicting.load(Ordering::SeqCst), "b is idle the longest");
        assert_eq!(reg.open(), 3);
        assert!(reg.close_one());
        assert!(a.evicting.load(Ordering::SeqCst));
        assert!(reg.close_one(), "d is only receiving a body");
        assert!(d.evicting.load(Ordering::SeqCst));
        assert!(!reg.close_one(), "c is busy answering");
        drop(busy);
        assert!(reg.close_one(), "c is idle again");
        drop(receiving);
    }
}
