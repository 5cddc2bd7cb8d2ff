//! A fake Xelion PBX in the test process: the REST calls the client uses (`me/login`,
//! `me/renew`, `me/websocket`) and the websocket with its subscription, as the reference
//! describes them. The test drives it: push frames, drop or stall connections, expire tokens,
//! refuse websockets, restart. It counts what the client does.
//!
//! Model: one session per user space; logging in again while it lives is refused with 401
//! code 10005. A token is good until it is renewed (a new one replaces it) or expired. A
//! websocket URL is good once. The subscription is answered with one entry per requested type;
//! for a non-admin account the admin-only ones come back `toggle: false` with an error (what
//! Ringside assumes Xelion does).

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const USER: &str = "ringside";
pub const PASSWORD: &str = "xelion-password";
pub const USER_SPACE: &str = "ringside-test";

enum Cmd {
    Push(String),
    Drop,
    Stall,
}

struct Space {
    auth: String,
    renewal: String,
}

#[derive(Default)]
struct St {
    admin: bool,
    validity: Option<chrono::Duration>,
    refuse_ws: bool,
    spaces: HashMap<String, Space>,
    ws_keys: HashSet<String>,
    conns: Vec<mpsc::UnboundedSender<Cmd>>,
    next: u64,
    /// Every session token, renewal token and websocket key handed out.
    issued: Vec<String>,
    // What the client did.
    logins: u32,
    refused_logins: Vec<Instant>,
    renewals: u32,
    url_requests: Vec<Instant>,
    ws_attempts: Vec<Instant>,
    subscriptions: Vec<Value>,
    subscribed_at: Vec<Instant>,
    echoes: u32,
    /// Bumped by a restart: requests on connections from before it are answered 503.
    generation: u64,
}

/// One run of the server: the fake and the generation it serves.
#[derive(Clone)]
struct Srv {
    f: FakeXelion,
    generation: u64,
}

impl Srv {
    /// A request on a keep-alive connection that outlived a restart: the PBX that accepted it
    /// is gone.
    fn stale(&self) -> Option<Response> {
        (self.f.st().generation != self.generation)
            .then(|| (StatusCode::SERVICE_UNAVAILABLE, [("connection", "close")]).into_response())
    }
}

#[derive(Clone)]
pub struct FakeXelion {
    st: Arc<Mutex<St>>,
    pub port: u16,
    server: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl FakeXelion {
    pub async fn start(admin: bool) -> FakeXelion {
        let st = Arc::new(Mutex::new(St {
            admin,
            ..St::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let fake = FakeXelion {
            st,
            port,
            server: Arc::new(Mutex::new(None)),
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/api/v1/master/me/login", post(login))
            .route("/api/v1/master/me/renew", post(renew))
            .route("/api/v1/master/me/websocket", post(websocket_url))
            .route("/ws/{key}", get(websocket))
            .with_state(Srv {
                f: self.clone(),
                generation: self.st().generation,
            });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.server.lock().unwrap() = Some(task);
    }

    fn st(&self) -> std::sync::MutexGuard<'_, St> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A Ringside config that logs in to this PBX with `password` (agent `user-a`), with a
    /// keep-alive every `ping_s` and short backoff; `extra` is appended to its Xelion section.
    pub fn ringside_config(&self, password: &str, ping_s: f64, extra: &str) -> String {
        format!(
            r#"
[api]
token = "{}"

[agent]
region = "NL"
identities = ["user-a"]

[providers.xelion]
base_url = "{}"
username = "{USER}"
password = "{password}"
user_space = "{USER_SPACE}"
ping_s = {ping_s}
backoff_max_s = 0.2
{extra}
"#,
            crate::support::API_TOKEN,
            self.base_url()
        )
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/master/", self.port)
    }

    /// Send `frame` on every open websocket.
    pub fn push(&self, frame: &str) {
        self.command(|| Cmd::Push(frame.to_string()));
    }

    /// Close every websocket abruptly (no close frame).
    pub fn drop_connections(&self) {
        self.command(|| Cmd::Drop);
        self.st().conns.clear();
    }

    /// Stop answering on every open websocket, keeping it open.
    pub fn stall(&self) {
        self.command(|| Cmd::Stall);
    }

    /// Every session ends (its token is now refused), and their websockets close.
    pub fn expire_tokens(&self) {
        self.st().spaces.clear();
        self.drop_connections();
    }

    /// Refuse (503) or accept websocket upgrades.
    pub fn refuse_websockets(&self, refuse: bool) {
        self.st().refuse_ws = refuse;
    }

    /// Sessions are valid this long (default one hour).
    pub fn set_validity(&self, d: chrono::Duration) {
        self.st().validity = Some(d);
    }

    /// The PBX goes down for `downtime` (the port refuses connections), then comes back on the
    /// same port having forgotten every session.
    pub async fn restart(&self, downtime: Duration) {
        self.drop_connections();
        let server = self.server.lock().unwrap().take();
        if let Some(task) = server {
            task.abort();
            let _ = task.await;
        }
        {
            let mut st = self.st();
            st.spaces.clear();
            st.ws_keys.clear();
            st.generation += 1;
        }
        tokio::time::sleep(downtime).await;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(format!("127.0.0.1:{}", self.port).parse().unwrap())
            .unwrap();
        self.serve(socket.listen(64).unwrap());
    }

    fn command(&self, cmd: impl Fn() -> Cmd) {
        self.st().conns.retain(|c| c.send(cmd()).is_ok());
    }

    pub fn logins(&self) -> u32 {
        self.st().logins
    }
    pub fn refused_logins(&self) -> Vec<Instant> {
        self.st().refused_logins.clone()
    }
    pub fn renewals(&self) -> u32 {
        self.st().renewals
    }
    pub fn subscriptions(&self) -> usize {
        self.st().subscriptions.len()
    }
    pub fn last_subscription(&self) -> Value {
        self.st()
            .subscriptions
            .last()
            .cloned()
            .unwrap_or(Value::Null)
    }
    pub fn subscribed_at(&self) -> Vec<Instant> {
        self.st().subscribed_at.clone()
    }
    /// Every websocket upgrade request.
    pub fn ws_attempts(&self) -> Vec<Instant> {
        self.st().ws_attempts.clone()
    }
    /// Every `me/websocket` request: one per connection attempt.
    pub fn url_requests(&self) -> Vec<Instant> {
        self.st().url_requests.clone()
    }
    pub fn echoes(&self) -> u32 {
        self.st().echoes
    }
    /// Every secret handed to the client: session and renewal tokens, websocket keys (a
    /// websocket URL is good for one connection, like a password). For `tests/harden`.
    #[allow(dead_code)]
    pub fn issued_secrets(&self) -> Vec<String> {
        self.st().issued.clone()
    }

    /// Wait until `cond` holds (checked every 20 ms), at most `within`.
    pub async fn until(&self, what: &str, within: Duration, cond: impl Fn(&FakeXelion) -> bool) {
        let start = Instant::now();
        while !cond(self) {
            assert!(start.elapsed() < within, "{what}: not within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The most events in any one-second window.
pub fn max_per_second(times: &[Instant]) -> usize {
    let mut times = times.to_vec();
    times.sort();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Poll `check` every 25 ms until it returns `Some`, at most `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn refuse(code: i64, message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

fn token(st: &mut St, prefix: &str) -> String {
    st.next += 1;
    let t = format!("{prefix}-{}-{}", st.next, uuid::Uuid::new_v4().simple());
    st.issued.push(t.clone());
    t
}

fn session_answer(st: &St, space: &Space) -> Value {
    let until = chrono::Utc::now() + st.validity.unwrap_or(chrono::Duration::hours(1));
    json!({
        "authentication": space.auth,
        "renewalToken": space.renewal,
        "validUntil": until.format("%Y-%m-%d %H:%M:%S").to_string(),
        "serverVersion": "fake-1.0",
        "version": "fake",
    })
}

async fn login(State(srv): State<Srv>, Json(body): Json<Value>) -> Response {
    if let Some(r) = srv.stale() {
        return r;
    }
    let mut st = srv.f.st();
    let (user, password, space) = (
        body["userName"].as_str().unwrap_or(""),
        body["password"].as_str().unwrap_or(""),
        body["userSpace"].as_str().unwrap_or("").to_string(),
    );
    if user != USER || password != PASSWORD {
        st.refused_logins.push(Instant::now());
        return refuse(10001, "Invalid user name or password");
    }
    if space.is_empty() || st.spaces.contains_key(&space) {
        st.refused_logins.push(Instant::now());
        return refuse(10005, "A session for this user space is still active");
    }
    let s = Space {
        auth: token(&mut st, "auth"),
        renewal: token(&mut st, "renewal"),
    };
    st.logins += 1;
    let answer = session_answer(&st, &s);
    st.spaces.insert(space, s);
    Json(answer).into_response()
}

fn authorized(st: &St, headers: &HeaderMap) -> bool {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("xelion "))
        .unwrap_or("");
    st.spaces.values().any(|s| s.auth == given)
}

async fn renew(State(srv): State<Srv>, Json(body): Json<Value>) -> Response {
    if let Some(r) = srv.stale() {
        return r;
    }
    let mut st = srv.f.st();
    let renewal = body.as_str().unwrap_or("").to_string();
    let Some(name) = st
        .spaces
        .iter()
        .find(|(_, s)| s.renewal == renewal)
        .map(|(k, _)| k.clone())
    else {
        return refuse(10003, "Unknown renewal token");
    };
    let auth = token(&mut st, "auth");
    st.renewals += 1;
    let space = st.spaces.get_mut(&name).expect("found above");
    space.auth = auth;
    let space = Space {
        auth: space.auth.clone(),
        renewal: space.renewal.clone(),
    };
    Json(session_answer(&st, &space)).into_response()
}

async fn websocket_url(State(srv): State<Srv>, headers: HeaderMap) -> Response {
    srv.f.st().url_requests.push(Instant::now());
    if let Some(r) = srv.stale() {
        return r;
    }
    let f = &srv.f;
    let mut st = f.st();
    if !authorized(&st, &headers) {
        return refuse(10002, "Authentication token expired");
    }
    let key = token(&mut st, "ws");
    st.ws_keys.insert(key.clone());
    Json(json!({"object": format!("ws://127.0.0.1:{}/ws/{key}", f.port)})).into_response()
}

async fn websocket(
    State(srv): State<Srv>,
    Path(key): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(r) = srv.stale() {
        return r;
    }
    let f = srv.f;
    {
        let mut st = f.st();
        st.ws_attempts.push(Instant::now());
        if st.refuse_ws {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        if !st.ws_keys.remove(&key) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    ws.on_upgrade(move |socket| connection(f, socket))
}

async fn connection(f: FakeXelion, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    f.st().conns.push(tx);
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                let answer = match v["messageType"].as_str() {
                    Some("multiNotificationRequest") => Some(subscription_answer(&f, &v)),
                    Some("test") => {
                        f.st().echoes += 1;
                        Some(json!({"messageType": "test"}))
                    }
                    _ => None,
                };
                if let Some(a) = answer {
                    if socket.send(Message::text(a.to_string())).await.is_err() {
                        return;
                    }
                }
            }
            cmd = rx.recv() => match cmd {
                Some(Cmd::Push(frame)) => {
                    if socket.send(Message::text(frame)).await.is_err() {
                        return;
                    }
                }
                Some(Cmd::Stall) => {
                    // Hold the socket open and never read or write again.
                    while let Some(cmd) = rx.recv().await {
                        if matches!(cmd, Cmd::Drop) {
                            return;
                        }
                    }
                    return;
                }
                Some(Cmd::Drop) | None => return,
            },
        }
    }
}

fn subscription_answer(f: &FakeXelion, request: &Value) -> Value {
    let mut st = f.st();
    st.subscriptions.push(request.clone());
    st.subscribed_at.push(Instant::now());
    let admin = st.admin;
    let entries: Vec<Value> = request["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let name = n["notificationType"].as_str().unwrap_or("");
            if admin || name == "missedCallEvent" {
                json!({"notificationType": name, "toggle": true, "oid": null})
            } else {
                json!({"notificationType": name, "toggle": false, "oid": null,
                       "error": "Only administrators can subscribe to this notification"})
            }
        })
        .collect();
    json!({"messageType": "multiNotificationResponse", "notifications": entries})
}
