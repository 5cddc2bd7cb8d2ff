//! The Xelion websocket client against a fake Xelion (`fake_xelion.rs`), through the real
//! binary's API: scripted calls, dropped, stalled and refused connections, expired tokens,
//! PBX and Ringside restarts, non-admin accounts, wrong passwords, and no busy loops.
//! Keep-alive and backoff are shortened by config (`ping_s = 0.5`, `backoff_max_s = 0.2`).

use crate::fake_xelion::*;
use crate::support::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const LACKS_ADMIN: &str = "account lacks admin rights: only missed calls are received";

fn config(fake: &FakeXelion, password: &str, extra: &str) -> String {
    fake.ringside_config(password, 0.5, extra)
}

async fn start(fake: &FakeXelion) -> Server {
    Server::start_with(&config(fake, PASSWORD, "")).await
}

/// The `xelion` entry of `GET /api/status`.
async fn status(s: &Server) -> Value {
    let (code, v) = s.api("/api/status").await;
    assert_eq!(code, 200, "{v}");
    assert!(v["version"].is_string(), "{v}");
    v["sources"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "xelion").cloned())
        .unwrap_or(Value::Null)
}

async fn until_state(s: &Server, state: &str, within: Duration) -> Value {
    eventually(&format!("xelion {state}"), within, || async {
        let st = status(s).await;
        (st["state"] == state).then_some(st)
    })
    .await
}

/// The call `id` once `pred` holds for it.
async fn call_when(s: &Server, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(id, Duration::from_secs(20), || async {
        let (code, c) = s.api(&format!("/api/calls/{id}")).await;
        (code == 200 && pred(&c)).then_some(c)
    })
    .await
}

fn fixture(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixtures_dir().join("xelion").join(format!("{name}.jsonl")))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A notification as the fake PBX sends it, dated now.
fn frame(kind: &str, fields: Value) -> String {
    let mut object = json!({"date": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
                            "initiation": "incoming"});
    if let (Some(o), Some(f)) = (object.as_object_mut(), fields.as_object()) {
        o.extend(f.clone());
    }
    json!({"messageType": "notification", "notificationType": kind, "object": object}).to_string()
}

fn leg(call_id: &str, flow: &str) -> Value {
    json!({"callId": call_id, "callerFlowId": flow, "calleeFlowId": format!("{flow}-a"),
           "callerPhoneNumber": "+31201234567", "calleePhoneNumber": "+31858889999",
           "calleeUser": "user-a"})
}

fn timeline_of(c: &Value) -> Vec<String> {
    timeline(c)
}

#[tokio::test]
async fn scripted_calls_arrive_as_calls() {
    let fake = FakeXelion::start(true).await;
    let s = start(&fake).await;
    let st = until_state(&s, "connected", Duration::from_secs(10)).await;
    assert!(st["since"].is_string() && st["message"].is_null(), "{st}");
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
    let sub = fake.last_subscription();
    let names: Vec<&str> = sub["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["notificationType"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "newCallEvent",
            "callConnectedEvent",
            "callHungUpEvent",
            "missedCallEvent",
            "channelHungUpEvent"
        ]
    );

    // Ringing, answered, hung up.
    let answered = fixture("answered");
    fake.push(&answered[0]);
    let c = call_when(&s, "xelion:flow-c-1001", |c| c["state"] == "ringing").await;
    assert_eq!(
        c["legs"][0]["agent"], "user-a",
        "the callee user is the agent"
    );
    assert_eq!(c["from"], "+31201234567");
    for f in &answered[1..] {
        fake.push(f);
    }
    let c = call_when(&s, "xelion:flow-c-1001", |c| c["state"] == "ended").await;
    assert_eq!(c["answered_by"], "user-a");
    assert_eq!(c["duration_s"], 95);

    // Missed (the hangup after it changes nothing).
    for f in fixture("missed") {
        fake.push(&f);
    }
    let c = call_when(&s, "xelion:flow-c-2001", |c| c["state"] == "missed").await;
    assert_eq!(c["end_reason"], "no_answer");

    // Hunt group: A's channel hangs up while B still rings; the call goes on.
    let hunt = fixture("hunt_group");
    for i in [0, 1, 3] {
        fake.push(&hunt[i]);
    }
    let c = call_when(&s, "xelion:flow-c-4001", |c| {
        c["legs"]
            .as_array()
            .is_some_and(|l| l.len() == 2 && l[0]["state"] == "stopped")
    })
    .await;
    assert_eq!(
        c["state"], "ringing",
        "a channel hang-up does not end the call"
    );
    assert_eq!(c["legs"][0]["agent"], "user-a");
    assert_eq!(c["legs"][1]["state"], "ringing");
    for i in [2, 4] {
        fake.push(&hunt[i]);
    }
    let c = call_when(&s, "xelion:flow-c-4001", |c| c["state"] == "ended").await;
    assert_eq!(c["answered_by"], "user-b");

    // Attended transfer with the duplicate hangup: one customer call, now B's.
    for f in fixture("attended_transfer") {
        fake.push(&f);
    }
    let c = call_when(&s, "xelion:flow-c-3001", |c| c["state"] == "ended").await;
    assert_eq!(c["answered_by"], "user-b");
    assert_eq!(
        c["duration_s"], 140,
        "ended by the C -> B hangup, not C -> A"
    );
    assert_eq!(
        timeline_of(&c),
        ["ringing", "leg_ringing", "answered", "transferred", "ended"]
    );
    let consult = call_when(&s, "xelion:flow-a-3002", |c| c["state"] == "ended").await;
    assert_eq!(consult["duration_s"], 20);
    assert_eq!(
        timeline_of(&consult)
            .iter()
            .filter(|w| *w == "ended")
            .count(),
        1
    );
    assert_eq!(s.calls().await.len(), 5);

    // Frames that are no call events are skipped; the connection lives on.
    fake.push("not json at all");
    fake.push(r#"{"notificationType":"parkedCallEvent","object":{"callId":"x"}}"#);
    fake.push(r#"[]"#);
    fake.push(&frame("newCallEvent", leg("c-after", "flow-after")));
    call_when(&s, "xelion:flow-after", |c| c["state"] == "ringing").await;
    fake.until(
        "the keep-alive test message",
        Duration::from_secs(10),
        |f| f.echoes() >= 1,
    )
    .await;
    assert_eq!(fake.subscriptions(), 1, "never reconnected");
}

/// Whether the call `c` (as the API serves it) pops for an agent who is `identity`, on the
/// default settings (pop on ringing), with nothing on screen for it yet.
fn pops_for(c: &Value, identity: &str) -> bool {
    let call: ringside_core::Call = serde_json::from_value(c.clone()).unwrap();
    let region = ringside_core::phone::DefaultRegion::parse("NL").unwrap();
    let settings = ringside_core::screenpop::PopSettings {
        me: ringside_core::me::Me::new(&[identity.to_string()], region, false),
        modes: Default::default(),
        region,
        crm_template: false,
        crm_open: Default::default(),
        phrases: Default::default(),
    };
    let shown = ringside_core::screenpop::Shown::default();
    matches!(
        ringside_core::screenpop::decide(&shown, &call, &settings).pop,
        ringside_core::screenpop::PopAction::Show(_)
    )
}

/// The seed's rows that need state across frames, each from a fixture of its own: a user who
/// missed a call another answered, a blind transfer, an outgoing call without a recognised
/// `initiation`, a channel hangup that names only its leg, a missed call alone.
#[tokio::test]
async fn seed_shaped_calls_keep_their_state_parties_and_pops() {
    let fake = FakeXelion::start(true).await;
    let s = start(&fake).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;

    // A missedCallEvent for user A does not make the call B answered a missed one.
    for f in fixture("missed_by_one") {
        fake.push(&f);
    }
    let c = call_when(&s, "xelion:flow-c-7001", |c| c["state"] == "ended").await;
    assert_eq!(c["answered_by"], "user-b");
    assert_eq!(c["duration_s"], 75);
    assert!(!timeline_of(&c).contains(&"missed".to_string()), "{c}");

    // Blind transfer: C -> A hangs up and C's flow rings B. The call stays open, B's leg
    // rings and pops for B, and B's answer takes the call over.
    let blind = fixture("blind_transfer");
    for f in &blind[..4] {
        fake.push(f);
    }
    let c = call_when(&s, "xelion:flow-c-6001", |c| {
        c["legs"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["agent"] == "user-b"))
    })
    .await;
    assert_eq!(c["state"], "answered", "{c}");
    assert!(pops_for(&c, "user-b"), "the transfer target's pop: {c}");
    assert!(!pops_for(&c, "user-c"));
    for f in &blind[4..] {
        fake.push(f);
    }
    let c = call_when(&s, "xelion:flow-c-6001", |c| c["state"] == "ended").await;
    assert_eq!(c["answered_by"], "user-b");
    assert_eq!(
        timeline_of(&c),
        [
            "ringing",
            "leg_ringing",
            "answered",
            "transferred",
            "leg_ringing",
            "transferred",
            "ended"
        ]
    );

    // No `initiation`: a caller user and no callee user is an agent calling out.
    for f in fixture("outgoing_without_initiation") {
        fake.push(&f);
    }
    let c = call_when(&s, "xelion:flow-x-8001", |c| c["state"] == "ended").await;
    assert_eq!(c["direction"], "outbound");
    assert_eq!(c["from"], "201");
    assert_eq!(c["to"], "+31612345678");
    assert_eq!(c["duration_s"], 41);

    // The seed's channel hangup fills only the callee's side: it stops A's leg (and pop)
    // of the customer's call, which goes on.
    let hunt = fixture("hunt_group");
    for f in &hunt[..2] {
        fake.push(f);
    }
    let c = call_when(&s, "xelion:flow-c-4001", |c| {
        c["legs"].as_array().is_some_and(|l| l.len() == 2)
    })
    .await;
    assert!(pops_for(&c, "user-a"));
    fake.push(&hunt[3]);
    let c = call_when(&s, "xelion:flow-c-4001", |c| {
        c["legs"][0]["state"] == "stopped"
    })
    .await;
    assert_eq!(c["state"], "ringing");
    assert!(!pops_for(&c, "user-a"), "A's pop goes: {c}");
    assert!(pops_for(&c, "user-b"));

    // A missedCallEvent that is all Ringside hears of a call: missed.
    for f in fixture("missed_only") {
        fake.push(&f);
    }
    let c = call_when(&s, "xelion:flow-c-9001", |c| c["state"] == "missed").await;
    assert_eq!(c["from"], "+31201234567");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Every `/api/live` frame for `id` until `last` state is seen, and any for 300 ms more.
async fn live_states(ws: &mut Ws, id: &str, last: &str) -> Vec<String> {
    let mut states = Vec::new();
    let mut deadline = Instant::now() + Duration::from_secs(10);
    let mut done = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(other) => panic!("live stream ended: {other:?}"),
            Err(_) if done => return states,
            Err(_) => panic!("no `{last}` frame for {id}; saw {states:?}"),
        };
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["call"]["id"] == id {
            let state = v["call"]["state"].as_str().unwrap().to_string();
            if state == last && !done {
                done = true;
                deadline = Instant::now() + Duration::from_millis(300);
            }
            states.push(state);
        }
    }
}

#[tokio::test]
async fn twenty_forced_disconnects_leave_it_connected_without_duplicates_or_a_busy_loop() {
    let fake = FakeXelion::start(true).await;
    let s = start(&fake).await;
    until_state(&s, "connected", Duration::from_secs(10)).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
    let ws_url = format!(
        "{}/api/live?token={API_TOKEN}",
        s.url.replace("http://", "ws://")
    );
    let (mut live, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();

    let ring = frame("newCallEvent", leg("dc-1", "flow-dc"));
    fake.push(&ring);
    call_when(&s, "xelion:flow-dc", |c| c["state"] == "ringing").await;
    let started = Instant::now();
    for i in 1..=20 {
        fake.drop_connections();
        fake.until(
            &format!("resubscribed after drop {i}"),
            Duration::from_secs(20),
            |f| f.subscriptions() == i + 1,
        )
        .await;
        // The PBX sends the ringing again after the reconnect: the same event, dropped.
        fake.push(&ring);
    }
    let took = started.elapsed();
    fake.push(&frame("callConnectedEvent", leg("dc-1", "flow-dc")));
    let states = live_states(&mut live, "xelion:flow-dc", "answered").await;
    assert_eq!(states, ["ringing", "answered"], "one pop, no duplicates");

    let st = until_state(&s, "connected", Duration::from_secs(20)).await;
    assert!(st["message"].is_null(), "{st}");
    assert_eq!(fake.subscriptions(), 21, "resubscribed on every connection");
    assert_eq!(fake.logins(), 1, "the session outlives the connections");
    assert_eq!(s.calls().await.len(), 1);
    let per_second = max_per_second(&fake.url_requests());
    assert!(
        per_second <= 11,
        "{per_second} connection attempts in one second: a busy loop (20 took {took:?})"
    );
    assert!(
        took < Duration::from_secs(15),
        "20 reconnects took {took:?}"
    );
}

#[tokio::test]
async fn a_stalled_connection_is_found_dead_within_two_ping_intervals() {
    let fake = FakeXelion::start(true).await;
    let s = start(&fake).await;
    until_state(&s, "connected", Duration::from_secs(10)).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
    let stalled = Instant::now();
    fake.stall();
    fake.until("reconnected", Duration::from_secs(20), |f| {
        f.subscriptions() == 2
    })
    .await;
    let took = fake.subscribed_at()[1] - stalled;
    assert!(
        took >= Duration::from_millis(400) && took <= Duration::from_secs(3),
        "a stall with ping_s = 0.5 was noticed after {took:?}"
    );
    until_state(&s, "connected", Duration::from_secs(20)).await;
    fake.push(&frame("newCallEvent", leg("st-1", "flow-st")));
    call_when(&s, "xelion:flow-st", |c| c["state"] == "ringing").await;
}

#[tokio::test]
async fn an_expired_token_means_a_new_login() {
    let fake = FakeXelion::start(true).await;
    let s = start(&fake).await;
    until_state(&s, "connected", Duration::from_secs(10)).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
    fake.expire_tokens();
    fake.until("resubscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 2
    })
    .await;
    assert_eq!(fake.logins(), 2);
    assert!(fake.refused_logins().is_empty());
    until_state(&s, "connected", Duration::from_secs(20)).await;
    fake.push(&frame("missedCallEvent", leg("ex-1", "flow-ex")));
    call_when(&s, "xelion:flow-ex", |c| c["state"] == "missed").await;
}

#[tokio::test]
async fn the_session_is_renewed_before_it_expires() {
    let fake = FakeXelion::start(true).await;
    fake.set_validity(chrono::Duration::seconds(3));
    let s = Server::start_with(&config(&fake, PASSWORD, "renew_s = 1")).await;
    until_state(&s, "connected", Duration::from_secs(10)).await;
    fake.until("renewed twice", Duration::from_secs(20), |f| {
        f.renewals() >= 2
    })
    .await;
    // The next connection uses the renewed token: no new login.
    let subs = fake.subscriptions();
    fake.drop_connections();
    fake.until("resubscribed", Duration::from_secs(20), |f| {
        f.subscriptions() > subs
    })
    .await;
    assert_eq!(fake.logins(), 1);
    until_state(&s, "connected", Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_pbx_restart_shows_reconnecting_then_connects_again() {
    let fake = FakeXelion::start(true).await;
    let s = start(&fake).await;
    until_state(&s, "connected", Duration::from_secs(10)).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
    let restart = {
        let fake = fake.clone();
        tokio::spawn(async move { fake.restart(Duration::from_millis(1500)).await })
    };
    let st = until_state(&s, "reconnecting", Duration::from_secs(3)).await;
    assert!(st["since"].is_string(), "{st}");
    assert!(st["message"].is_string(), "the reason is shown: {st}");
    restart.await.unwrap();
    fake.until("resubscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 2
    })
    .await;
    until_state(&s, "connected", Duration::from_secs(20)).await;
    assert_eq!(fake.logins(), 2, "the restarted PBX forgot the session");
    fake.push(&frame("newCallEvent", leg("rs-1", "flow-rs")));
    call_when(&s, "xelion:flow-rs", |c| c["state"] == "ringing").await;
}

#[tokio::test]
async fn a_restarted_ringside_goes_on_with_its_saved_session() {
    let fake = FakeXelion::start(true).await;
    let mut first = start(&fake).await;
    until_state(&first, "connected", Duration::from_secs(10)).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
    let dir = first.take_dir().unwrap();
    first.kill();
    // Xelion still holds the session for this user space: a new login would get 10005.
    let second = Server::start_in(dir.path()).await;
    until_state(&second, "connected", Duration::from_secs(10)).await;
    fake.until("resubscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 2
    })
    .await;
    assert_eq!(fake.logins(), 1);
    assert!(fake.refused_logins().is_empty());
}

#[tokio::test]
async fn a_non_admin_account_gets_missed_calls_and_the_status_says_why_only_those() {
    let fake = FakeXelion::start(false).await;
    let s = start(&fake).await;
    let st = eventually("the rights message", Duration::from_secs(10), || async {
        let st = status(&s).await;
        (st["state"] == "connected" && st["message"] == LACKS_ADMIN).then_some(st)
    })
    .await;
    assert!(st["since"].is_string());
    let missed = frame("missedCallEvent", leg("na-1", "flow-na"));
    fake.push(&missed);
    let c = call_when(&s, "xelion:flow-na", |c| c["state"] == "missed").await;
    assert_eq!(c["from"], "+31201234567");
    // Still said after a reconnect.
    fake.drop_connections();
    fake.until("resubscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 2
    })
    .await;
    let st = until_state(&s, "connected", Duration::from_secs(20)).await;
    assert_eq!(st["message"], LACKS_ADMIN);
}

#[tokio::test]
async fn a_wrong_password_is_auth_failed_and_retried_slowly() {
    let fake = FakeXelion::start(true).await;
    let s = Server::start_with(&config(&fake, "not-the-password", "")).await;
    let st = until_state(&s, "auth_failed", Duration::from_secs(10)).await;
    let message = st["message"].as_str().unwrap_or_default();
    assert!(message.contains("Invalid user name or password"), "{st}");
    let refused = eventually("a second login", Duration::from_secs(10), || async {
        let refused = fake.refused_logins();
        (refused.len() >= 2).then_some(refused)
    })
    .await;
    let per_second = max_per_second(&refused);
    assert!(per_second <= 11, "{per_second} logins in one second");
    assert_eq!(fake.subscriptions(), 0);
    assert_eq!(status(&s).await["state"], "auth_failed");
}

#[tokio::test]
async fn refused_websockets_are_retried_with_backoff_not_in_a_busy_loop() {
    let fake = FakeXelion::start(true).await;
    fake.refuse_websockets(true);
    let s = start(&fake).await;
    let st = until_state(&s, "reconnecting", Duration::from_secs(10)).await;
    assert!(
        st["message"]
            .as_str()
            .unwrap_or_default()
            .contains("websocket"),
        "{st}"
    );
    let attempts = eventually("four attempts", Duration::from_secs(10), || async {
        let attempts = fake.url_requests();
        (attempts.len() >= 4).then_some(attempts)
    })
    .await;
    let per_second = max_per_second(&attempts);
    assert!(per_second <= 11, "{per_second} attempts in one second");
    assert!(max_per_second(&fake.ws_attempts()) <= 11);
    assert_eq!(
        fake.logins(),
        1,
        "a refused websocket is no reason to log in again"
    );
    fake.refuse_websockets(false);
    until_state(&s, "connected", Duration::from_secs(20)).await;
    fake.until("subscribed", Duration::from_secs(20), |f| {
        f.subscriptions() == 1
    })
    .await;
}
