//! Start a real `ringside-server` on a free port with its own data directory and config.

#[path = "../support/http_file.rs"]
pub mod http_file;

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
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.toml"), config).unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir).await;
        s._tmp = Some(tmp);
        s
    }

    /// Start (or restart) a server on the data directory and config in `dir`.
    pub async fn start_in(dir: &Path) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env("RINGSIDE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn hook_url(&self, provider: &str) -> String {
        format!("{}/hooks/{provider}/{}", self.url, hook_token(provider))
    }

    /// POST `body` to `provider`'s webhook; returns the status.
    pub async fn post(&self, provider: &str, content_type: &str, body: impl Into<Vec<u8>>) -> u16 {
        self.http
            .post(self.hook_url(provider))
            .header("content-type", content_type)
            .body(body.into())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
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
        req.send().await.unwrap().status().as_u16()
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
    /// The next call frame for call `id` (other calls' frames are passed over), within 10 s.
    pub async fn next_for(&mut self, id: &str) -> Value {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .unwrap_or_else(|_| panic!("no frame for {id} in time"))
                .expect("stream open")
                .expect("valid frame");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["call"]["id"] == id {
                    return v["call"].clone();
                }
            }
        }
    }

    /// Whether a frame for `id` comes within `wait`.
    pub async fn quiet_for(&mut self, id: &str, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.next_for(id)).await.is_err()
    }
}
