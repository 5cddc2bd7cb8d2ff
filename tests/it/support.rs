//! Start a real `ringside-server` on a free port with its own data directory and config.

#[path = "../support/http_file.rs"]
pub mod http_file;
#[path = "../support/mutate.rs"]
pub mod mutate;
#[path = "../support/parse_check.rs"]
pub mod parse_check;

use ringside_core::store::Queries;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const API_TOKEN: &str = "test-api-token-0123456789";

/// The config every test server gets unless it asks for another: all webhook providers on.
pub fn default_config() -> String {
    format!(
        r#"
[api]
token = "{API_TOKEN}"

[agent]
region = "US"
identities = ["201", "202"]

[providers.voiceshot]
token = "voiceshot-token-0123456789"
username = "voiceshot"
password = "voiceshot-password-123"

[providers.whippy]
token = "whippy-token-0123456789"

[providers.teltel]
token = "teltel-token-0123456789"

[providers.exotel]
token = "exotel-token-0123456789"

[providers.generic]
token = "generic-token-0123456789"
"#
    )
}

pub fn hook_token(provider: &str) -> String {
    format!("{provider}-token-0123456789")
}

pub struct Server {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ringside-server")
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(&default_config()).await
    }

    pub async fn start_with(config: &str) -> Server {
        Self::start_with_args(config, &[]).await
    }

    /// A server with `config` and extra `serve` arguments (`--header-timeout 1`, ...).
    pub async fn start_with_args(config: &str, args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.toml"), config).unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in_with(&dir, args).await;
        s._tmp = Some(tmp);
        s
    }

    /// Start (or restart) a server on the data directory and config in `dir`.
    pub async fn start_in(dir: &Path) -> Server {
        Self::start_in_with(dir, &[]).await
    }

    pub async fn start_in_with(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("config.toml"))
            .args(args)
            .env(
                "RINGSIDE_LOG",
                std::env::var("RINGSIDE_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("RINGSIDE_TEST_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start ringside-server");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            line
        });
        let line = tokio::time::timeout(Duration::from_secs(20), line)
            .await
            .expect("server printed its URL in time")
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            url,
            dir: dir.to_path_buf(),
            _tmp: None,
            http: reqwest::Client::new(),
        }
    }

    /// Keep the data directory alive past this server (for a restart).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The store's file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("data").join("ringside.db")
    }

    /// How many deliveries the journal holds (read beside the running server).
    pub fn journal_len(&self) -> i64 {
        ringside_core::store::Reader::open(&self.db_path())
            .and_then(|s| s.journal_len())
            .unwrap()
    }

    /// `host:port` of the listener.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn hook_url(&self, provider: &str) -> String {
        format!("{}/hooks/{provider}/{}", self.url, hook_token(provider))
    }

    /// POST `body` to `provider`'s webhook; returns the status.
    pub async fn post(&self, provider: &str, content_type: &str, body: impl Into<Vec<u8>>) -> u16 {
        self.post_text(provider, content_type, body).await.0
    }

    /// POST `body` to `provider`'s webhook; returns the status and the answer's text.
    pub async fn post_text(
        &self,
        provider: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> (u16, String) {
        let res = self
            .http
            .post(self.hook_url(provider))
            .header("content-type", content_type)
            .body(body.into())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub async fn post_json(&self, provider: &str, body: &Value) -> u16 {
        self.post(provider, "application/json", body.to_string())
            .await
    }

    pub async fn get_hook(&self, provider: &str, query: &str) -> u16 {
        self.http
            .get(format!("{}?{query}", self.hook_url(provider)))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Send a `.http` fixture to its provider's webhook; returns the status.
    pub async fn send_fixture(&self, provider: &str, path: &Path) -> u16 {
        self.send_fixture_answer(provider, path).await.0
    }

    /// Send a `.http` fixture to its provider's webhook; returns the status and the answer
    /// (JSON, Null when it is not).
    pub async fn send_fixture_answer(&self, provider: &str, path: &Path) -> (u16, Value) {
        let f = http_file::HttpFile::read(path);
        let mut url = self.hook_url(provider);
        if let Some(q) = &f.query {
            url = format!("{url}?{q}");
        }
        let mut req = self
            .http
            .request(f.method.parse().unwrap(), url)
            .body(f.body.clone());
        for (k, v) in &f.headers {
            req = req.header(k, v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// GET an API path with the token; returns (status, JSON body or Null).
    pub async fn api(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Send `method` to an API path with the token (and `body` as JSON); returns (status, JSON
    /// body or Null).
    pub async fn api_send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(API_TOKEN);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Send `method` to an API path as `token` (and `body` as JSON); returns (status, JSON body
    /// or Null).
    pub async fn api_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The live stream as `token` (a Bearer header), from after change `after` if given.
    pub async fn live_as(&self, token: &str, after: Option<u64>) -> Live {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let after = after.map(|a| format!("?after={a}")).unwrap_or_default();
        let url = format!("{}/api/live{after}", self.url.replace("http://", "ws://"));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Live(ws)
    }

    /// Run `ringside-server` with `args` on this server's data directory and config; its
    /// stdout, or what went wrong.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// The live stream (`/api/live`), connected.
    pub async fn live(&self) -> Live {
        let url = format!(
            "{}/api/live?token={API_TOKEN}",
            self.url.replace("http://", "ws://")
        );
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Live(ws)
    }

    pub async fn calls(&self) -> Vec<Value> {
        let (status, v) = self.api("/api/calls?limit=1000").await;
        assert_eq!(status, 200, "{v}");
        v.as_array().unwrap().clone()
    }

    /// Every call, paging through the API.
    pub async fn calls_all(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before = String::new();
        loop {
            let (status, page) = self.api(&format!("/api/calls?limit=1000{before}")).await;
            assert_eq!(status, 200, "{page}");
            let page = page.as_array().unwrap().clone();
            let Some(last) = page.last() else { return all };
            before = format!(
                "&before={}&before_id={}",
                last["started_at"].as_str().unwrap(),
                last["id"].as_str().unwrap()
            );
            let n = page.len();
            all.extend(page);
            if n < 1000 {
                return all;
            }
        }
    }

    pub async fn call(&self, id: &str) -> Value {
        let (status, v) = self.api(&format!("/api/calls/{id}")).await;
        assert_eq!(status, 200, "{id}: {v}");
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `what` of every timeline record of a call.
pub fn timeline(call: &Value) -> Vec<String> {
    call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap().to_string())
        .collect()
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A client of `/api/live`.
pub struct Live(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Live {
    /// The next frame of any kind, within 10 s (`None`: the server closed the stream).
    pub async fn next_frame(&mut self) -> Option<Value> {
        use futures_util::StreamExt;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("a frame in time")?;
            match msg {
                Ok(tokio_tungstenite::tungstenite::Message::Text(t)) => {
                    return Some(serde_json::from_str(&t).unwrap())
                }
                Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next call frame for call `id` (other calls' frames are passed over), within 10 s.
    pub async fn next_for(&mut self, id: &str) -> Value {
        self.next_of(&[id]).await
    }

    /// The next call frame for any of `ids` (other calls' frames are passed over), within
    /// 10 s. A negative check waits on a positive signal with it: send a marker call after
    /// what must not change `id`, and the next frame of the two is the marker's.
    pub async fn next_of(&mut self, ids: &[&str]) -> Value {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .unwrap_or_else(|_| panic!("no frame for {ids:?} in time"))
                .expect("stream open")
                .expect("valid frame");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                if ids.iter().any(|id| v["call"]["id"] == *id) {
                    return v["call"].clone();
                }
            }
        }
    }
}
/// Send `request` as raw bytes on a new connection and read until the server closes it or
/// `within` passes; returns the status (None when no response came) and everything read.
pub async fn raw_exchange(addr: &str, request: &[u8], within: Duration) -> (Option<u16>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before taking everything (431, 413): not an error.
    let _ = stream.write_all(request).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (status_of(&got), got)
}

/// The status code of a raw HTTP/1.x response.
pub fn status_of(response: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(response.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// A raw POST to `path` with `body` and extra header lines (each ending in CRLF).
pub fn raw_post(addr: &str, path: &str, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// Send one request of a built-in scenario (`ringside_core::providers::scenario`) to `provider`'s
/// webhook; returns the status and the body.
pub async fn send_wire(
    http: &reqwest::Client,
    hook_url: &str,
    req: &ringside_core::providers::scenario::WireRequest,
) -> Result<(u16, String), reqwest::Error> {
    let method: reqwest::Method = req.method.parse().unwrap();
    let mut r = http
        .request(method, format!("{hook_url}{}", req.query))
        .body(req.body.clone());
    if let Some(ct) = &req.content_type {
        r = r.header("content-type", ct);
    }
    let res = r.send().await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}

/// A small seeded random number generator (SplitMix64): the tests that shuffle print their
/// seed, and `RINGSIDE_SEED=<seed>` replays a run exactly.
pub struct Rng(u64);

impl Rng {
    /// The seed from `RINGSIDE_SEED`, else a fresh one; printed so a failure can be replayed.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("RINGSIDE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            });
        eprintln!("{test}: seed {seed} (RINGSIDE_SEED={seed} repeats this run)");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Whether the heavy tests run in full (`RINGSIDE_FULL=1`) rather than their quick CI size.
pub fn full_mode() -> bool {
    std::env::var_os("RINGSIDE_FULL").is_some_and(|v| v != "0")
}
