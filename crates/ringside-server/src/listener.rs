//! The HTTP listener, with the limits that keep a slow, stuck or hostile client from starving
//! the others (`axum::serve` has none of them):
//!
//! - a request's head (request line and headers) must arrive within `header_timeout`, and be
//!   at most [`MAX_HEAD`] bytes (431 beyond); the same timeout closes a connection idle between
//!   requests (slow headers, idle sockets);
//! - a request, body included, must be received and answered within `request_timeout` (408
//!   after it: slow bodies);
//! - at most `max_connections` are open: the next one closes the connection idle the longest
//!   (one that sent no request, or is between requests), and is refused only when none is
//!   idle. The process raises its own open-file limit to make room.
//!
//! HTTP/1.1 only (what providers, browsers and the desktop window speak to a plain-HTTP
//! loopback listener), with upgrades for `/api/live`. A websocket leaves the count once
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

/// How long shutting down waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A request's head must arrive within this; a connection idle this long is closed.
    pub header_timeout: Duration,
    /// A request, body included, must be received and answered within this.
    pub request_timeout: Duration,
    /// Connections open at once, at most.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
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
        if conns.open() >= limits.max_connections && !conns.close_longest_idle() {
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
            async move {
                let res = match tokio::time::timeout(
                    limits.request_timeout,
                    router.oneshot(req.map(Body::new)),
                )
                .await
                {
                    Ok(Ok(res)) => res,
                    Ok(Err(never)) => match never {},
                    Err(_) => timed_out(limits.request_timeout),
                };
                // Busy until the response's body is sent.
                Ok::<_, Infallible>(res.map(|body| Body::new(Sending { body, _busy: busy })))
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD);
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
                if conn.busy.load(Ordering::SeqCst) == 0 {
                    // Idle: nothing is lost by dropping it.
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

/// The answer to a request that took longer than `limit`.
fn timed_out(limit: Duration) -> Response<Body> {
    let mut res = HttpError::new(
        StatusCode::REQUEST_TIMEOUT,
        HttpErrorCode::RequestTimeout,
        format!(
            "the request was not received and answered within {} s",
            limit.as_secs_f64()
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
            conns.close_longest_idle();
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
    /// When it last became idle, in ms since the registry started.
    idle_since: AtomicU64,
    /// Asked to close (it does if still idle when it wakes).
    evicting: AtomicBool,
    evict: Notify,
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
            idle_since: AtomicU64::new(self.now_ms()),
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

    /// Ask the connection idle the longest to close; `false` when none is idle.
    fn close_longest_idle(&self) -> bool {
        let conns = self.lock();
        let victim = conns
            .values()
            .filter(|c| c.busy.load(Ordering::SeqCst) == 0 && !c.evicting.load(Ordering::SeqCst))
            .min_by_key(|c| c.idle_since.load(Ordering::SeqCst));
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
    fn the_longest_idle_connection_goes_first_and_busy_ones_never() {
        let reg = Arc::new(Registry::default());
        let a = reg.add();
        let b = reg.add();
        let c = reg.add();
        a.idle_since.store(5, Ordering::SeqCst);
        b.idle_since.store(1, Ordering::SeqCst);
        c.idle_since.store(0, Ordering::SeqCst);
        let busy = Busy::start(c.clone(), reg.clone());
        assert_eq!(reg.open(), 3);
        assert!(reg.close_longest_idle());
        assert!(b.evicting.load(Ordering::SeqCst), "b is idle the longest");
        assert_eq!(reg.open(), 2);
        assert!(reg.close_longest_idle());
        assert!(a.evicting.load(Ordering::SeqCst));
        assert!(!reg.close_longest_idle(), "c is busy");
        drop(busy);
        assert!(reg.close_longest_idle(), "c is idle again");
    }
}
