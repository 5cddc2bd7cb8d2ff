//! An agent's app of a team hub (`[team]`, or `ringside --hub URL --token TOKEN`): the app keeps
//! a local copy of the agent's calls, fed by the hub's live stream, so history and missed
//! calls read offline and the window and the pops work as they do standalone; what the agent
//! does to a call (done, claim) goes to the hub. The connection resumes after the last change
//! it has (kept across restarts), and reconnects with capped, jittered backoff; `GET
//! /api/status` shows it as source `team`: connected, or reconnecting since when and why.

use crate::agents::MeView;
use crate::backoff::{jitter, Backoff};
use crate::call_view::CallView;
use crate::error::{Error, ErrorBody, ErrorCode, Invalid};
use crate::ringside::Ringside;
use crate::settings::FollowSettings;
use crate::status::SourceState;
use futures_util::StreamExt;
use ringside_core::me::Me;
use ringside_core::phone::DefaultRegion;
use ringside_core::store::Queries;
use ringside_core::team::TeamLink;
use ringside_core::Call;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The source's name in `GET /api/status`.
pub const SOURCE: &str = "team";
/// Where the hub's last change this app has is kept.
const LAST_SEQ: &str = "team.last_seq";
/// Requests to the hub give up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest wait between two connection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A connection that lasted this long was healthy: the backoff starts over.
const STABLE: Duration = Duration::from_secs(60);
/// What a reload after a `resync` fetches.
const RELOAD_RECENT: usize = 500;

/// The link to the hub, while there is one (the app is connected, or was).
#[derive(Debug, Clone, Default)]
pub struct Team(Arc<RwLock<Option<Link>>>);

#[derive(Debug, Clone)]
pub struct Link {
    pub hub: HubApi,
    /// Who this app's agent is, as the hub says.
    pub me: MeView,
}

impl Team {
    pub fn link(&self) -> Option<Link> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, link: Option<Link>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = link;
    }

    /// The agent as the hub now says (after a change made there).
    pub fn set_me(&self, me: MeView) {
        if let Some(link) = self.0.write().unwrap_or_else(|p| p.into_inner()).as_mut() {
            link.me = me;
        }
    }
}

impl Link {
    /// Who "I" am: the agent the hub knows.
    pub fn me(&self, region: DefaultRegion) -> Me {
        Me::new(&self.me.identities, region, self.me.supervisor).with_lines(&self.me.lines, region)
    }
}

/// The hub's API, with the agent's token.
#[derive(Debug, Clone)]
pub struct HubApi {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl HubApi {
    pub fn new(url: &str, token: &str) -> anyhow::Result<HubApi> {
        Ok(HubApi {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
        })
    }

    /// The hub's URL, as configured.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `method path` with `body`; the hub's refusal as the application's error (with the
    /// hub's code), or [`ErrorCode::Internal`] when the hub cannot be reached.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "the team hub at {} is not reachable: {e}",
                self.url
            ))
        })?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| Error::Internal(anyhow::anyhow!("the hub's answer: {e}")));
        }
        #[derive(Deserialize)]
        struct Refusal {
            error: ErrorBody,
        }
        let message = match serde_json::from_str::<Refusal>(&text) {
            Ok(r) => return Err(from_hub(r.error)),
            Err(_) => format!("the team hub answered {status}"),
        };
        Err(Error::Internal(anyhow::anyhow!(message)))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// The hub's live stream, from after change `after`.
    async fn live(
        &self,
        after: u64,
    ) -> anyhow::Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    > {
        let ws = self
            .url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        let mut req = format!("{ws}/api/live?after={after}").into_client_request()?;
        req.headers_mut()
            .insert("authorization", format!("Bearer {}", self.token).parse()?);
        let (stream, _) =
            tokio::time::timeout(REQUEST_TIMEOUT, tokio_tungstenite::connect_async(req))
                .await
                .map_err(|_| anyhow::anyhow!("opening the live stream timed out"))??;
        Ok(stream)
    }
}

/// The hub's refusal, as this app's error.
fn from_hub(b: ErrorBody) -> Error {
    match b.code {
        ErrorCode::NotFound => Error::NotFound(b.message),
        ErrorCode::ReadOnly => Error::ReadOnly(b.message),
        ErrorCode::NotCallable => Error::NotCallable(b.message),
        ErrorCode::Conflict => Error::Conflict(b.message),
        ErrorCode::Forbidden => Error::Forbidden(b.message),
        ErrorCode::DialFailed => Error::DialFailed(b.message),
        ErrorCode::Internal => Error::Internal(anyhow::anyhow!("the team hub: {}", b.message)),
        ErrorCode::InvalidContact
        | ErrorCode::InvalidFile
        | ErrorCode::InvalidMapping
        | ErrorCode::InvalidSettings
        | ErrorCode::InvalidRequest => Error::Invalid {
            what: Invalid::Request,
            message: b.message,
            field: b.field,
        },
    }
}

/// Keep `view` (a call as the hub sees it) here, so it shows and pops like one of this app's.
pub async fn keep(r: &Ringside, view: CallView) -> anyhow::Result<()> {
    let call: Call = view.call;
    r.engine
        .write(move |w| {
            let kept = w.mirror(call)?;
            Ok(((), kept.into_iter().collect()))
        })
        .await
}

/// Follow `[team]`: connected while it is set, reconnecting when its settings change. Call
/// once, at start-up.
pub fn spawn(r: &Ringside) {
    let r = r.clone();
    tokio::spawn(async move {
        let mut follow = FollowSettings::new(r.shared_settings());
        let mut running: Option<JoinHandle<()>> = None;
        loop {
            let want = follow.changed(|c| c.team.clone()).await;
            if let Some(task) = running.take() {
                task.abort();
            }
            r.team.set(None);
            running = match want {
                None => {
                    r.sources.remove(SOURCE);
                    None
                }
                Some(cfg) => Some(tokio::spawn(run(r.clone(), cfg))),
            };
        }
    });
}

async fn run(r: Ringside, cfg: TeamLink) {
    let mut backoff = Backoff::new(BACKOFF_MAX);
    r.sources.report(
        SOURCE,
        SourceState::Connecting,
        Some(cfg.hub_url.clone()),
        r.now(),
    );
    loop {
        let started = tokio::time::Instant::now();
        let (state, why) = match connect(&r, &cfg).await {
            Ok(why) => (SourceState::Reconnecting, why),
            Err(Ended::Auth(why)) => (SourceState::AuthFailed, why),
            Err(Ended::Failed(why)) => (SourceState::Reconnecting, why),
        };
        if started.elapsed() >= STABLE {
            backoff.reset();
        }
        r.sources.report(SOURCE, state, Some(why), r.now());
        tokio::time::sleep(backoff.next_delay(jitter())).await;
    }
}

enum Ended {
    Auth(String),
    Failed(String),
}

/// One connection: who I am, then the changes since the last one I have, then live ones;
/// `Ok(why)` when it ended.
async fn connect(r: &Ringside, cfg: &TeamLink) -> Result<String, Ended> {
    let token = crate::secrets::password(
        cfg.token.as_deref(),
        cfg.token_keyring.as_deref(),
        "team.token_keyring",
    )
    .await
    .map_err(Ended::Auth)?;
    let hub = HubApi::new(&cfg.hub_url, &token).map_err(|e| Ended::Failed(format!("{e:#}")))?;
    let me: MeView = hub.get("/api/me").await.map_err(|e| match e.code() {
        ErrorCode::Internal => Ended::Failed(e.to_string()),
        _ => Ended::Auth(e.to_string()),
    })?;
    if me.admin {
        return Err(Ended::Auth(
            "that is the hub's admin token: connect with an agent's token".into(),
        ));
    }
    let after: u64 = r
        .read(|s| s.meta(LAST_SEQ))
        .await
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut stream = hub
        .live(after)
        .await
        .map_err(|e| Ended::Failed(format!("{e:#}")))?;
    let name = me.name.clone().unwrap_or_default();
    r.team.set(Some(Link {
        hub: hub.clone(),
        me,
    }));
    r.sources.report(
        SOURCE,
        SourceState::Connected,
        Some(format!("{} as {name}", cfg.hub_url)),
        r.now(),
    );
    if after == 0 {
        reload(r, &hub)
            .await
            .map_err(|e| Ended::Failed(format!("{e:#}")))?;
    }
    while let Some(msg) = stream.next().await {
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(frame)) => {
                return match frame {
                    Some(f) if u16::from(f.code) == 4001 => {
                        Err(Ended::Auth("the hub revoked this app's token".into()))
                    }
                    _ => Ok("the hub closed the connection".into()),
                }
            }
            Ok(_) => continue,
            Err(e) => return Ok(format!("connection error: {e}")),
        };
        let frame: LiveFrameIn = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("team: skipping a frame the hub sent ({e})");
                continue;
            }
        };
        let seq = frame.seq();
        let kept = match frame {
            LiveFrameIn::Call { call, .. } => keep(r, *call).await,
            LiveFrameIn::Resync { .. } => reload(r, &hub).await,
        };
        if let Err(e) = kept {
            return Ok(format!("keeping the hub's calls: {e:#}"));
        }
        let _ = r
            .engine
            .write(move |w| Ok((w.set_meta(LAST_SEQ, &seq.to_string())?, Vec::new())))
            .await;
    }
    Ok("the hub closed the connection".into())
}

/// A frame as the hub sends it (the shape of [`crate::live::LiveFrame`]).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LiveFrameIn {
    Call { seq: u64, call: Box<CallView> },
    Resync { seq: u64 },
}

impl LiveFrameIn {
    fn seq(&self) -> u64 {
        match self {
            LiveFrameIn::Call { seq, .. } | LiveFrameIn::Resync { seq } => *seq,
        }
    }
}

/// Fetch what is open, missed and recent from the hub again (after a resync, or the first
/// time).
async fn reload(r: &Ringside, hub: &HubApi) -> anyhow::Result<()> {
    let mut views: Vec<CallView> = Vec::new();
    for path in [
        "/api/calls?state=ringing&limit=1000".to_string(),
        "/api/calls?state=answered&limit=1000".to_string(),
        "/api/missed".to_string(),
        format!("/api/calls?limit={RELOAD_RECENT}"),
    ] {
        views.extend(hub.get::<Vec<CallView>>(&path).await?);
    }
    for v in views {
        keep(r, v).await?;
    }
    Ok(())
}
