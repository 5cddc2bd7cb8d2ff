//! The Xelion websocket client: Ringside logs in to the PBX, opens a websocket and receives
//! CallEvent notifications, for as long as `[providers.xelion]` is configured and enabled.
//!
//! One connection, again and again:
//! 1. A session: the one saved from the last run, else `me/login`. It is renewed (`me/renew`)
//!    before `validUntil` (see [`timing::renew_delay`]); a rejected token or renewal leads to a
//!    fresh login, once per attempt.
//! 2. A fresh websocket URL from `me/websocket` for every connection.
//! 3. Connect, then subscribe with `multiNotificationRequest` to the configured notifications.
//!    Xelion's answer says which it refused: an account without admin rights gets missed calls
//!    only, and the status and log say so.
//! 4. Keep-alive: a websocket ping and the echoed `{"messageType":"test"}` every `ping_s`; a
//!    connection that shows no sign of life for `2 * ping_s` is dead and is dropped.
//! 5. Every text frame goes through [`ringside_core::providers::xelion::notices`] and the
//!    attended-transfer tracker into [`Engine::store`], one delivery per notification, keyed
//!    by a hash of its CallEvent and type: a redelivery after a reconnect is dropped exactly
//!    like a webhook's. Frames that are no call events are logged and skipped; none ends the
//!    connection.
//! 6. When the connection ends, wait (exponential backoff with jitter, capped at
//!    `backoff_max_s`, starting over only after a connection that lasted) and go to 1.
//!
//! The state ([`crate::status`]) is `connecting`, then `connected`, `reconnecting` (since the
//! first failure, with the reason) or `auth_failed`. The client follows the settings: saving
//! new Xelion settings restarts it, removing them stops it.

pub mod rest;
pub mod timing;

use crate::backoff::{jitter, Backoff};
use crate::clock::Clock;
use crate::ringside::Ringside;
use crate::settings::FollowSettings;
use crate::status::{SourceState, Sources};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use rest::{Account, RestError, Session};
use ringside_core::engine::{Engine, Receipt};
use ringside_core::ingest;
use ringside_core::phone::DefaultRegion;
use ringside_core::providers::xelion::{self as wire, Subscription, Transfers, Xelion};
use ringside_core::store::Delivery;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The source's name in `GET /api/status`.
pub const SOURCE: &str = "xelion";
/// The status message for an account whose admin-only subscriptions were refused.
pub const LACKS_ADMIN: &str = "account lacks admin rights: only missed calls are received";
/// REST calls and the websocket handshake give up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Run the Xelion client whenever the settings in force configure it: started now if they do,
/// restarted when they change, stopped when they go. Call once, at start-up.
pub fn spawn(state: &Ringside, data_dir: &Path) {
    let state = state.clone();
    let data_dir = data_dir.to_path_buf();
    tokio::spawn(async move { supervise(state, data_dir).await });
}

/// The Xelion settings and the region its numbers are read in: what a client runs with.
type Wanted = (Xelion, String);

async fn supervise(state: Ringside, data_dir: PathBuf) {
    let mut follow = FollowSettings::new(state.shared_settings());
    // The running client (none when disabled or not configured).
    let mut client: Option<JoinHandle<()>> = None;
    loop {
        let want: Option<Wanted> = follow
            .changed(|config| {
                config.providers.xelion.clone().map(|x| {
                    let region = x
                        .region
                        .clone()
                        .unwrap_or_else(|| config.agent.region.clone());
                    (x, region)
                })
            })
            .await;
        if let Some(task) = client.take() {
            tracing::info!("xelion: settings changed; closing the connection");
            task.abort();
        }
        client = match want {
            None => {
                state.sources.remove(SOURCE);
                None
            }
            Some((x, _)) if !x.enabled => {
                tracing::info!("xelion: disabled in the settings");
                state
                    .sources
                    .set(SOURCE, SourceState::Disabled, None, (state.clock)());
                None
            }
            Some((x, region)) => match Client::new(&x, &region, &state, &data_dir) {
                Ok(c) => Some(tokio::spawn(c.run())),
                Err(e) => {
                    tracing::error!("xelion: cannot start: {e:#}");
                    state.sources.set(
                        SOURCE,
                        SourceState::Reconnecting,
                        Some(format!("{e:#}")),
                        (state.clock)(),
                    );
                    None
                }
            },
        };
    }
}

/// How one connection attempt ended.
#[derive(Debug)]
enum Ended {
    /// It was up for `lived`, then ended.
    Lost { lived: Duration, why: String },
    /// It never came up.
    Failed(String),
    /// The PBX refused the credentials, or there is no password to give it.
    AuthFailed(String),
}

struct Client {
    cfg: Xelion,
    region: DefaultRegion,
    account: Account,
    engine: Engine,
    sources: Sources,
    clock: Clock,
    session_path: PathBuf,
    session: Option<Session>,
    renew_at: Option<Instant>,
    transfers: Transfers,
    /// What the last subscription answer said about the account's rights.
    rights: Option<String>,
    ping: Duration,
    renew_max: Duration,
}

impl Client {
    fn new(
        cfg: &Xelion,
        region: &str,
        state: &Ringside,
        data_dir: &Path,
    ) -> anyhow::Result<Client> {
        let user_space = cfg.user_space.clone().unwrap_or_else(default_user_space);
        let account = Account::new(
            &cfg.base_url,
            &cfg.username,
            &user_space,
            cfg.app_key.clone(),
            REQUEST_TIMEOUT,
        )?;
        let session_path = rest::session_file(data_dir);
        let session = rest::load_session(&session_path, &account);
        Ok(Client {
            region: DefaultRegion::parse(region).unwrap_or_default(),
            ping: Duration::from_secs_f64(cfg.ping_s),
            renew_max: Duration::from_secs_f64(cfg.renew_s),
            cfg: cfg.clone(),
            account,
            engine: state.engine.clone(),
            sources: state.sources.clone(),
            clock: state.clock.clone(),
            session_path,
            renew_at: session.as_ref().map(|_| Instant::now()),
            session,
            transfers: Transfers::new(),
            rights: None,
        })
    }

    fn set(&self, state: SourceState, message: Option<String>) {
        self.sources.report(SOURCE, state, message, (self.clock)());
    }

    async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_secs_f64(self.cfg.backoff_max_s));
        self.set(SourceState::Connecting, None);
        loop {
            match self.connect_and_serve().await {
                Ended::Lost { lived, why } => {
                    if lived >= timing::STABLE {
                        backoff.reset();
                    }
                    self.set(SourceState::Reconnecting, Some(why));
                }
                Ended::Failed(why) => self.set(SourceState::Reconnecting, Some(why)),
                Ended::AuthFailed(why) => self.set(SourceState::AuthFailed, Some(why)),
            }
            let delay = backoff.next_delay(jitter());
            tracing::debug!("xelion: next attempt in {delay:?}");
            self.pause(delay).await;
        }
    }

    /// Wait `delay`, storing held transfer hangups that fall due meanwhile.
    async fn pause(&mut self, delay: Duration) {
        let until = Instant::now() + delay;
        loop {
            let due = self.transfer_due();
            if due >= until {
                tokio::time::sleep_until(until).await;
                return;
            }
            tokio::time::sleep_until(due).await;
            self.store_due().await;
        }
    }

    async fn connect_and_serve(&mut self) -> Ended {
        let url = match self.websocket_url().await {
            Ok(url) => url,
            Err(ended) => return ended,
        };
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let mut ws = match tokio::time::timeout(REQUEST_TIMEOUT, connect).await {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return Ended::Failed(format!("opening the websocket: {e}")),
            Err(_) => return Ended::Failed("opening the websocket timed out".into()),
        };
        let request = subscription_request(&self.cfg.notifications);
        if let Err(e) = ws.send(Message::text(request)).await {
            return Ended::Failed(format!("subscribing: {e}"));
        }
        let up = Instant::now();
        self.set(SourceState::Connected, self.rights.clone());
        tracing::info!(
            "xelion: connected to {} as {}; subscribed to {}",
            self.account.base(),
            self.account.username,
            self.cfg.notifications.join(", ")
        );
        match self.serve(ws).await {
            Ok(why) => Ended::Lost {
                lived: up.elapsed(),
                why,
            },
            Err(ended) => ended,
        }
    }

    /// A websocket URL, logging in (or renewing) as needed; a rejected token gets one fresh
    /// session and one more try.
    async fn websocket_url(&mut self) -> Result<String, Ended> {
        let session = self.session().await?;
        match self.account.websocket_url(&session).await {
            Ok(url) => return Ok(url),
            Err(RestError::Rejected { .. }) => {
                tracing::info!("xelion: the session token was refused; getting a new session");
            }
            Err(RestError::Failed(e)) => return Err(Ended::Failed(format!("me/websocket: {e:#}"))),
        }
        self.recover(&session).await;
        let session = self.session().await?;
        self.account
            .websocket_url(&session)
            .await
            .map_err(|e| match e {
                RestError::Rejected { .. } => Ended::AuthFailed(format!("me/websocket {e}")),
                RestError::Failed(e) => Ended::Failed(format!("me/websocket: {e:#}")),
            })
    }

    /// The session to use now: renewed if due, else logged in if there is none.
    async fn session(&mut self) -> Result<Session, Ended> {
        if let Some(s) = self.session.clone() {
            if self.renew_at.is_some_and(|t| Instant::now() >= t) {
                self.renew(&s).await;
            }
        }
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        let password = self.password().await.map_err(Ended::AuthFailed)?;
        match self.account.login(&password).await {
            Ok(s) => {
                tracing::info!("xelion: logged in as {}", self.account.username);
                self.adopt(Some(s.clone()));
                Ok(s)
            }
            Err(RestError::Rejected {
                code: Some(10005), ..
            }) => Err(Ended::AuthFailed(format!(
                "Xelion still has a session for user space `{}` (code 10005); it is free again \
                 when that session expires, or set another providers.xelion.user_space",
                self.account.user_space
            ))),
            Err(e @ RestError::Rejected { .. }) => Err(Ended::AuthFailed(format!("login {e}"))),
            Err(RestError::Failed(e)) => Err(Ended::Failed(format!("login: {e:#}"))),
        }
    }

    /// Renew `s`. A refusal drops the session (the next [`Client::session`] logs in); a
    /// failure keeps it and tries again later.
    async fn renew(&mut self, s: &Session) {
        match self.account.renew(s).await {
            Ok(new) => {
                tracing::debug!("xelion: session renewed");
                self.adopt(Some(new));
            }
            Err(RestError::Rejected { .. }) => {
                tracing::info!("xelion: renewal refused; logging in again");
                self.adopt(None);
            }
            Err(RestError::Failed(e)) => {
                // The session may well still be good: try again in a minute (or sooner if
                // renew_s is shorter), not in a loop.
                tracing::warn!("xelion: renewing the session failed: {e:#}");
                self.renew_at = Some(Instant::now() + self.renew_max.min(Duration::from_secs(60)));
            }
        }
    }

    /// After a refused token: renew with the renewal token if there is one, else start over.
    async fn recover(&mut self, s: &Session) {
        if s.renewal_token.is_some() {
            if let Ok(new) = self.account.renew(s).await {
                tracing::info!("xelion: session renewed after a refused token");
                self.adopt(Some(new));
                return;
            }
        }
        self.adopt(None);
    }

    /// Use `session` from now on (and for the next run); schedule its renewal.
    fn adopt(&mut self, session: Option<Session>) {
        self.renew_at = session.as_ref().map(|s| {
            Instant::now() + timing::renew_delay(s.valid_until(), (self.clock)(), self.renew_max)
        });
        if let Err(e) = rest::save_session(&self.session_path, &self.account, session.as_ref()) {
            tracing::warn!("xelion: cannot save the session for the next run: {e:#}");
        }
        self.session = session;
    }

    async fn password(&self) -> Result<String, String> {
        crate::secrets::password(
            self.cfg.password.as_deref(),
            self.cfg.password_keyring.as_deref(),
            "providers.xelion.password_keyring",
        )
        .await
    }

    /// Read frames until the connection ends; `Ok(why)` when it is lost, `Err` when the
    /// session can no longer be kept.
    async fn serve<S>(&mut self, ws: tokio_tungstenite::WebSocketStream<S>) -> Result<String, Ended>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut tx, mut rx) = ws.split();
        let dead_after = timing::dead_after(self.ping);
        let mut ping = tokio::time::interval_at(Instant::now() + self.ping, self.ping);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rx = Instant::now();
        loop {
            let renew_at = self.renew_at.unwrap_or_else(far_future);
            let due_at = self.transfer_due();
            tokio::select! {
                msg = rx.next() => {
                    let msg = match msg {
                        None => return Ok("the server closed the connection".into()),
                        Some(Err(e)) => return Ok(format!("connection error: {e}")),
                        Some(Ok(m)) => m,
                    };
                    last_rx = Instant::now();
                    match msg {
                        Message::Text(text) => self.on_text(text.as_bytes()).await,
                        Message::Close(frame) => {
                            let why = frame
                                .map(|f| format!(" ({} {})", u16::from(f.code), f.reason))
                                .unwrap_or_default();
                            return Ok(format!("the server closed the connection{why}"));
                        }
                        Message::Binary(_) => tracing::debug!("xelion: skipping a binary frame"),
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
                _ = ping.tick() => {
                    let sent = async {
                        tx.send(Message::Ping(b"ringside".to_vec().into())).await?;
                        tx.send(Message::text(r#"{"messageType":"test"}"#)).await
                    };
                    if let Err(e) = sent.await {
                        return Ok(format!("sending the keep-alive failed: {e}"));
                    }
                }
                _ = tokio::time::sleep_until(last_rx + dead_after) => {
                    return Ok(format!(
                        "no sign of life for {:.1} s: the connection is dead",
                        dead_after.as_secs_f64()
                    ));
                }
                _ = tokio::time::sleep_until(renew_at) => {
                    if let Some(s) = self.session.clone() {
                        self.renew(&s).await;
                    }
                    if self.session.is_none() {
                        // Refused: log in again now, so the next connection has a session.
                        self.session().await?;
                    }
                }
                _ = tokio::time::sleep_until(due_at) => self.store_due().await,
            }
        }
    }

    async fn on_text(&mut self, frame: &[u8]) {
        let now = (self.clock)();
        match read_frame(frame, &mut self.transfers, self.region, now) {
            Frame::Deliveries(deliveries) => {
                for d in deliveries {
                    self.store(d).await;
                }
            }
            Frame::Subscription(answer) => self.on_subscription(&answer),
            Frame::Other => tracing::debug!("xelion: not a call event: {}", preview(frame)),
            Frame::Unreadable(e) => {
                tracing::warn!("xelion: skipping a frame ({e}): {}", preview(frame))
            }
        }
    }

    fn on_subscription(&mut self, answer: &Subscription) {
        let rights = if answer.lacks_admin_rights() {
            tracing::warn!(
                "xelion: {LACKS_ADMIN} (Xelion refused {}{})",
                names(&answer.refused),
                answer
                    .reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            Some(LACKS_ADMIN.to_string())
        } else if !answer.refused.is_empty() {
            Some(format!("Xelion refused {}", names(&answer.refused)))
        } else {
            tracing::info!("xelion: subscribed to {}", names(&answer.granted));
            None
        };
        self.rights = rights;
        self.set(SourceState::Connected, self.rights.clone());
    }

    async fn store(&self, delivery: Delivery) {
        match self.engine.store(delivery).await {
            Ok(Receipt::Stored { calls, .. }) => {
                for c in calls {
                    tracing::debug!("xelion: call {} is {}", c.id, c.state.as_str());
                }
            }
            Ok(Receipt::Duplicate) => tracing::debug!("xelion: a redelivered event; dropped"),
            Err(e) => tracing::error!("xelion: storing an event failed, it is lost: {e:#}"),
        }
    }

    /// When the transfer tracker next has a held hangup due, as an instant.
    fn transfer_due(&self) -> Instant {
        match self.transfers.next_due() {
            Some(due) => {
                let wait = (due - (self.clock)()).to_std().unwrap_or_default();
                Instant::now() + wait
            }
            None => far_future(),
        }
    }

    async fn store_due(&mut self) {
        let now = (self.clock)();
        for notice in self.transfers.due(now) {
            tracing::debug!("xelion: a hangup held for a transfer is due: no transfer");
            if let Some(d) = ingest::xelion(notice, b"", self.region, now) {
                self.store(d).await;
            }
        }
    }
}

/// What one text frame is.
#[derive(Debug)]
enum Frame {
    /// Call events to store, one delivery per notification.
    Deliveries(Vec<Delivery>),
    /// The answer to the subscription.
    Subscription(Subscription),
    /// Anything else that is JSON (the `test` echo): skipped.
    Other,
    /// Not JSON: logged and skipped.
    Unreadable(String),
}

/// Read one frame at `now`: its notifications through the transfer tracker into deliveries.
fn read_frame(
    frame: &[u8],
    transfers: &mut Transfers,
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Frame {
    match wire::notices(frame) {
        Ok(notices) if notices.is_empty() => match wire::subscription_answer(frame) {
            Some(answer) => Frame::Subscription(answer),
            None => Frame::Other,
        },
        Ok(notices) => Frame::Deliveries(
            notices
                .into_iter()
                .flat_map(|n| transfers.track(n, now))
                .filter_map(|n| ingest::xelion(n, frame, region, now))
                .collect(),
        ),
        Err(e) => Frame::Unreadable(e.to_string()),
    }
}

/// `multiNotificationRequest` for `names` (as configured; spelled as Xelion spells them).
pub fn subscription_request(names: &[String]) -> String {
    let notifications: Vec<serde_json::Value> = names
        .iter()
        .map(|n| {
            let name = wire::Notification::from_wire(n).map_or(n.as_str(), |k| k.wire());
            serde_json::json!({"notificationType": name, "toggle": true, "oid": null})
        })
        .collect();
    serde_json::json!({"messageType": "multiNotificationRequest", "notifications": notifications})
        .to_string()
}

/// `ringside-<hostname>`: stable for this machine, as Xelion wants a user space to be.
pub fn default_user_space() -> String {
    let host = gethostname::gethostname().to_string_lossy().to_string();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(60)
        .collect();
    if host.is_empty() {
        "ringside".into()
    } else {
        format!("ringside-{host}")
    }
}

fn names(list: &[wire::Notification]) -> String {
    list.iter().map(|n| n.wire()).collect::<Vec<_>>().join(", ")
}

fn preview(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(&frame[..frame.len().min(300)]);
    text.replace(['\n', '\r'], " ")
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ringside_core::providers::xelion::Notice;
    use ringside_core::{EventKind, Provider};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
    }

    fn region() -> DefaultRegion {
        DefaultRegion::parse("NL").unwrap()
    }

    #[test]
    fn the_subscription_names_every_configured_notification() {
        let names: Vec<String> = vec!["newcallevent".into(), "missedCallEvent".into()];
        let v: serde_json::Value = serde_json::from_str(&subscription_request(&names)).unwrap();
        assert_eq!(v["messageType"], "multiNotificationRequest");
        assert_eq!(v["notifications"][0]["notificationType"], "newCallEvent");
        assert_eq!(v["notifications"][0]["toggle"], true);
        assert!(v["notifications"][1]["oid"].is_null());
    }

    #[test]
    fn frames_become_deliveries_answers_or_are_skipped() {
        let mut t = Transfers::new();
        let ring = br#"{"notificationType":"newCallEvent","object":{"callId":"c1","initiation":"incoming","callerFlowId":"f1","callerPhoneNumber":"020 123 4567","calleeUser":"user-a"}}"#;
        let Frame::Deliveries(d) = read_frame(ring, &mut t, region(), now()) else {
            panic!("a call event")
        };
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].source, Provider::Xelion);
        assert_eq!(d[0].received_at, now());
        assert!(d[0].dedupe_key.starts_with("xelion:sha256:"));
        assert_eq!(d[0].raw, ring.to_vec());
        assert_eq!(d[0].events[0].provider_call_id, "f1");
        assert_eq!(
            d[0].events[0].facts.from.as_deref(),
            Some("+31201234567"),
            "numbers normalized with the region"
        );
        // The same event again has the same key: the store drops it.
        let Frame::Deliveries(again) = read_frame(ring, &mut t, region(), now()) else {
            panic!()
        };
        assert_eq!(again[0].dedupe_key, d[0].dedupe_key);

        let answer = br#"{"messageType":"multiNotificationResponse","notifications":[{"notificationType":"newCallEvent","toggle":false},{"notificationType":"missedCallEvent","toggle":true}]}"#;
        match read_frame(answer, &mut t, region(), now()) {
            Frame::Subscription(a) => assert!(a.lacks_admin_rights()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_frame(br#"{"messageType":"test"}"#, &mut t, region(), now()),
            Frame::Other
        ));
        for bad in [&b"not json"[..], b"", &[0xff, 0xfe][..]] {
            assert!(matches!(
                read_frame(bad, &mut t, region(), now()),
                Frame::Unreadable(_)
            ));
        }
        // A CallEvent under a notification type Ringside does not read, and a channel hang-up
        // of a leg it never saw ring: journaled with a note, no event.
        for unread in [
            &br#"{"notificationType":"parkedCallEvent","object":{"callId":"x"}}"#[..],
            br#"{"notificationType":"channelHungUpEvent","object":{"callId":"c9","calleeUser":"user-b"}}"#,
        ] {
            let Frame::Deliveries(d) = read_frame(unread, &mut t, region(), now()) else {
                panic!("journaled")
            };
            assert!(d.len() == 1 && d[0].events.is_empty() && !d[0].notes.is_empty());
        }
    }

    #[test]
    fn an_attended_transfer_is_stored_as_a_transfer_then_the_held_hangup_is_not_needed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/xelion/attended_transfer.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let mut t = Transfers::new();
        let mut kinds = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Frame::Deliveries(d) = read_frame(line.as_bytes(), &mut t, region(), now()) {
                kinds.extend(d.into_iter().flat_map(|d| d.events).map(|e| e.kind));
            }
        }
        assert_eq!(
            kinds[4],
            EventKind::Transferred {
                to: Some("user-b".into())
            }
        );
        // Only the consult call's hangup is still held (3 s): no transfer follows it.
        let held: Vec<Notice> = t.due(now() + chrono::Duration::hours(1));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].events[0].provider_call_id, "flow-a-3002");
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn the_default_user_space_names_this_machine() {
        let u = default_user_space();
        assert!(u.starts_with("ringside"));
        assert!(u.len() <= 70);
    }

    #[tokio::test]
    async fn wss_urls_use_tls_without_panicking() {
        // A TCP listener that is no TLS server: the handshake fails cleanly, which shows the
        // TLS stack (rustls, webpki roots, crypto provider) is there.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let url = format!("wss://127.0.0.1:{port}/ws");
        let r = tokio_tungstenite::connect_async(url.as_str()).await;
        assert!(r.is_err());
        let account = Account::new(
            &format!("https://127.0.0.1:{port}/api/v1/master/"),
            "u",
            "s",
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(matches!(
            account.login("p").await,
            Err(RestError::Failed(_))
        ));
    }
}
